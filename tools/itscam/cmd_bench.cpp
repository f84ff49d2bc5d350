#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "device/registry.h"
#include "model_options.h"
#include "runtime/detector.h"

namespace itscam::cli {

namespace {

struct BenchArgs {
    bool e2e = false;
    int frame_w = 1920, frame_h = 1080;
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
        // The device and precision in effect (a plan brings its own when --device/--precision are not given).
        const std::string device = engine.options().device, precision = precision_name(engine.options().precision);
        std::printf("%-8s %-6s %-9d %7d %10.2f %10.2f %10.2f %10.1f %10.1f\n", device.c_str(), precision.c_str(),
                    a.m.threads, b, p50, p99, mn, fps, peak_rss_mb());
        std::fflush(stdout);
        nlohmann::json row = {{"model", a.m.model}, {"device", device}, {"precision", precision},
                              {"threads", a.m.threads}, {"batch", b}, {"iters", a.iters}, {"p50_ms", p50},
                              {"p99_ms", p99}, {"min_ms", mn}, {"fps", fps}, {"peak_rss_mb", peak_rss_mb()}};
        // GPU engines: the graph alone (GPU time per replay, events around back-to-back replays) ...
        auto gpu = engine.compiled().device_times(a.iters);
        if (gpu.is_ok()) {
            const double g50 = percentile(*gpu, 0.5), g99 = percentile(*gpu, 0.99);
            std::printf("    gpu time per replay: p50 %.3f ms  p99 %.3f ms  -> %.1f img/s\n", g50, g99, b * 1000.0 / g50);
            row["gpu_p50_ms"] = g50;
            row["gpu_p99_ms"] = g99;
            row["gpu_fps"] = b * 1000.0 / g50;
        }
        // ... and end to end: `b` uint8 BGR frames in the device's staging (pinned) memory -> GPU letterbox -> graph
        // -> GPU decode + NMS -> detections on the host.
        if (a.e2e) {
            if (!gpu) return fail("--e2e needs a GPU engine: " + gpu.status().to_string(), 2);
            DetectorOptions dopt;
            dopt.engine = eo;
            auto det = Detector::create(a.m.model, dopt);
            if (!det) return fail(det.status().to_string());
            if (!(*det)->gpu_pre_post()) return fail("--e2e: the detector has no GPU pre/post-processing path");
            const size_t frame_bytes = static_cast<size_t>(a.frame_w) * a.frame_h * 3;
            device::Device* dev = (*det)->stream().device();
            auto kind = dev->memory_kind(dev->staging_memory());
            if (!kind) return fail("--e2e: " + kind.status().to_string());
            auto pinned = dev->memory_alloc(*kind, frame_bytes * b, false);
            if (!pinned) return fail("--e2e: cannot allocate the frames: " + pinned.status().to_string());
            const auto free_frames = [dev, k = *kind](void* p) { dev->memory_free(k, p); };
            std::unique_ptr<void, decltype(free_frames)> guard(*pinned, free_frames);
            auto* px = static_cast<uint8_t*>(*pinned);
            for (size_t i = 0; i < frame_bytes * b; ++i) px[i] = static_cast<uint8_t>(rng() & 0xff);
            std::vector<ImageView> frames;
            for (int i = 0; i < b; ++i)
                frames.push_back({px + i * frame_bytes, a.frame_w, a.frame_h, static_cast<size_t>(a.frame_w) * 3});
            std::vector<double> e2e;
            for (int i = 0; i < a.warmup + a.iters; ++i) {
                const auto t0 = std::chrono::steady_clock::now();
                auto r = (*det)->detect(frames);
                const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
                if (!r) return fail(r.status().to_string());
                if (i >= a.warmup) e2e.push_back(t);
            }
            const double e50 = percentile(e2e, 0.5), e99 = percentile(e2e, 0.99);
            // direct input: the letterbox writes the graph's fp16 NHWC input itself (no conversion step replays).
            const bool direct = (*det)->direct_input();
            std::printf("    end to end (%dx%d pinned uint8 -> detections, %s input): p50 %.3f ms  p99 %.3f ms  -> "
                        "%.1f img/s\n",
                        a.frame_w, a.frame_h, direct ? "direct fp16 NHWC" : "fp32 NCHW", e50, e99, b * 1000.0 / e50);
            row["e2e_direct_input"] = direct;
            row["e2e_p50_ms"] = e50;
            row["e2e_p99_ms"] = e99;
            row["e2e_fps"] = b * 1000.0 / e50;
            row["e2e_frame"] = {a.frame_w, a.frame_h};
        }
        std::fflush(stdout);
        results.push_back(row);
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
    model->add_flag("--e2e", a->e2e,
                    "GPU engines: also time frames in pinned memory -> GPU letterbox -> engine -> GPU NMS -> detections");
    model->add_option("--frame-size", a->frame_w, "--e2e frame width (height = width * 9 / 16)")
        ->check(CLI::Range(64, 7680))
        ->each([a](const std::string&) { a->frame_h = a->frame_w * 9 / 16; });
    CLI::App* pipe = app.add_subcommand("pipeline", "Multi-camera pipeline: sustained FPS, latency, drops, pools");
    RunFn run_pipe = add_bench_pipeline_command(*pipe);
#ifdef ITSCAM_HAVE_BENCH_STREAMING
    CLI::App* strm = app.add_subcommand("streaming", "Live-video encoders on annotated clips: bits, SSIM/PSNR, latency");
    RunFn run_strm = add_bench_streaming_command(*strm);
#else
    CLI::App* strm = nullptr;
    RunFn run_strm;
#endif
    return [a, model, pipe, run_pipe, strm, run_strm] {
        if (model->parsed()) return run_bench_model(*a);
        if (pipe->parsed()) return run_pipe();
        if (strm && strm->parsed()) return run_strm();
        return fail("choose a benchmark: model | pipeline | streaming", 2);
    };
}

}  // namespace itscam::cli
