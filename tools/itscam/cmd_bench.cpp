#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "model_options.h"

namespace itscam::cli {

namespace {

struct BenchArgs {
    ModelArgs m;
    std::string batches = "1";
    int iters = 50, warmup = 5;
    std::string json_out;
};

double peak_rss_mb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    return v[i];
}

int run_bench_model(const BenchArgs& a) {
    std::string err;
    std::vector<int> batches;
    if (!parse_int_csv(a.batches, batches, err)) return fail("--batch: " + err, 2);
    nlohmann::json results = nlohmann::json::array();
    std::printf("%-8s %-6s %-9s %7s %10s %10s %10s %10s %10s\n", "device", "prec", "threads", "batch", "p50 ms",
                "p99 ms", "min ms", "img/s", "peak MB");
    for (int b : batches) {
        if (b <= 0) return fail("--batch values must be positive", 2);
        EngineOptions eo;
        if (!to_engine_options(a.m, eo, err)) return fail(err, 2);
        eo.batch = b;
        auto e = Engine::load(a.m.model, eo);
        if (!e) return fail(e.status().to_string(), 2);
        Engine& engine = **e;
        Tensor input = Tensor::empty(DType::kF32, {b, engine.channels(), engine.input_height(), engine.input_width()});
        std::mt19937 rng(42);
        std::uniform_real_distribution<float> dist(0.f, 1.f);
        for (int64_t i = 0; i < input.numel(); ++i) input.data<float>()[i] = dist(rng);
        std::vector<Tensor> outs;
        for (int i = 0; i < a.warmup; ++i) {
            Status st = engine.run(input, outs);
            if (!st.is_ok()) return fail(st.to_string());
        }
        std::vector<double> ms;
        for (int i = 0; i < a.iters; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            Status st = engine.run(input, outs);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            if (!st.is_ok()) return fail(st.to_string());
        }
        const double p50 = percentile(ms, 0.5), p99 = percentile(ms, 0.99), mn = percentile(ms, 0.0);
        const double fps = b * 1000.0 / p50;
        std::printf("%-8s %-6s %-9d %7d %10.2f %10.2f %10.2f %10.1f %10.1f\n", a.m.device.c_str(),
                    a.m.precision.c_str(), a.m.threads, b, p50, p99, mn, fps, peak_rss_mb());
        std::fflush(stdout);
        results.push_back({{"model", a.m.model}, {"device", a.m.device}, {"precision", a.m.precision},
                           {"threads", a.m.threads}, {"batch", b}, {"iters", a.iters}, {"p50_ms", p50},
                           {"p99_ms", p99}, {"min_ms", mn}, {"fps", fps}, {"peak_rss_mb", peak_rss_mb()}});
    }
    if (!a.json_out.empty()) {
        std::ofstream f(a.json_out);
        if (!(f << results.dump(1) << "\n")) return fail("cannot write --json '" + a.json_out + "'");
    }
    return 0;
}

}  // namespace

RunFn add_bench_command(CLI::App& app) {
    app.require_subcommand(1);
    CLI::App* model = app.add_subcommand("model", "Latency and throughput of the engine on random input");
    auto a = std::make_shared<BenchArgs>();
    add_model_options(*model, a->m);
    model->add_option("--batch", a->batches, "Comma-separated batch sizes")->capture_default_str();
    model->add_option("--iters", a->iters, "Timed iterations per batch size")->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    model->add_option("--warmup", a->warmup, "Untimed warm-up iterations")->check(CLI::Range(0, 10000))
        ->capture_default_str();
    model->add_option("--json", a->json_out, "Write results as JSON");
    CLI::App* pipe = app.add_subcommand("pipeline", "Multi-camera pipeline: sustained FPS, latency, drops, pools");
    RunFn run_pipe = add_bench_pipeline_command(*pipe);
    return [a, model, pipe, run_pipe] {
        if (model->parsed()) return run_bench_model(*a);
        if (pipe->parsed()) return run_pipe();
        return fail("choose a benchmark: model | pipeline", 2);
    };
}

}  // namespace itscam::cli
