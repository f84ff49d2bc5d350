// itscam run: the multi-camera service loop. Runs until SIGINT/SIGTERM (or, with only non-looping files, until
// they end), then drains the queues and shuts down cleanly. With the service built in, it also serves the HTTP
// API (health, readiness, performance, Prometheus metrics, cameras, alerts) and evaluates the alert rules.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline_report.h"
#ifdef ITSCAM_HAVE_SERVICE
#include <nlohmann/json.hpp>

#include "service/alerts.h"
#include "service/http_service.h"
#endif

namespace itscam::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }

struct RunArgs {
    std::string config;
    bool print_config = false;
    double duration_s = 0;
    double status_interval_s = 10;
    bool check = false;
};

int run_run(const RunArgs& a) {
    const config::Env env = config::process_env();
    auto cfg = config::load_config(a.config, &env);
    if (!cfg) return fail(cfg.status().message(), 2);
    if (a.print_config) {
        std::fputs(config::to_yaml(*cfg).c_str(), stdout);
        return 0;
    }
    for (const auto& o : cfg->env_overrides) std::fprintf(stderr, "itscam: environment override %s\n", o.c_str());
    if (cfg->cameras.empty()) std::fprintf(stderr, "itscam: no cameras configured; add them through the API\n");
    std::fprintf(stderr, "itscam: building engines for %s (%s, %s)...\n", cfg->model.c_str(), cfg->device.c_str(),
                 cfg->precision.c_str());
    auto p = pipeline::Pipeline::create(*cfg);
    if (!p) return fail(p.status().to_string(), p.status().code() == StatusCode::kInvalidArgument ||
                                                        p.status().code() == StatusCode::kNotFound ||
                                                        p.status().code() == StatusCode::kIo ||
                                                        p.status().code() == StatusCode::kCorrupt ||
                                                        p.status().code() == StatusCode::kUnsupported
                                                    ? 2
                                                    : 1);
    pipeline::Pipeline& pipe = **p;
    if (a.check) {
        std::fprintf(stderr, "itscam: config and engines OK\n");
        return 0;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
#ifdef ITSCAM_HAVE_SERVICE
    service::AlertEngine alerts;
    alerts.on_transition([](const service::AlertTransition& t) {
        std::fprintf(stderr, "itscam: alert %s: %s -> %s: %s\n", t.alert.rule.c_str(), service::alert_state_name(t.from),
                     service::alert_state_name(t.to), t.alert.message.c_str());
    });
    std::unique_ptr<service::HttpService> http;
    if (cfg->server.enabled) {
        service::ServiceOptions so;
        so.host = cfg->server.host;
        so.port = cfg->server.port;
        so.api_token = cfg->server.api_token;
        so.max_body_bytes = static_cast<size_t>(cfg->server.max_body_bytes);
        so.read_timeout_s = std::max(1, static_cast<int>(cfg->server.read_timeout_s));
        so.write_timeout_s = std::max(1, static_cast<int>(cfg->server.write_timeout_s));
        http = std::make_unique<service::HttpService>(pipe, so);
        http->alerts_json = [&alerts] {
            nlohmann::json active = nlohmann::json::array(), recent = nlohmann::json::array();
            for (const auto& a : alerts.active())
                active.push_back({{"rule", a.rule},
                                  {"severity", service::alert_severity_name(a.severity)},
                                  {"state", service::alert_state_name(a.state)},
                                  {"value", a.value},
                                  {"threshold", a.threshold},
                                  {"message", a.message}});
            for (const auto& t : alerts.history(100)) recent.push_back(service::alert_transition_to_json(t));
            return nlohmann::json{{"alerts", active}, {"recent", recent}, {"baseline_p99_ms", alerts.baseline_p99_ms()}};
        };
        http->record_baseline = [&alerts, &pipe]() -> Result<nlohmann::json> {
            const auto s = pipe.snapshot();
            const auto& inf = s.stages.at("inference");
            if (inf.window == 0) return unavailable("no inference has run yet: nothing to record as the baseline");
            ITSCAM_RETURN_IF_ERROR(alerts.set_baseline(inf.p99_ms));
            return nlohmann::json{{"baseline_p99_ms", inf.p99_ms}, {"samples", inf.window}};
        };
        http->extra_metrics = [&alerts] {
            std::string out = "# HELP itscam_alert_active Alerts pending (1) or firing (2), by rule.\n"
                              "# TYPE itscam_alert_active gauge\n";
            for (const auto& a : alerts.active())
                out += "itscam_alert_active{rule=\"" + a.rule + "\",severity=\"" +
                       service::alert_severity_name(a.severity) + "\"} " +
                       (a.state == service::AlertState::kFiring ? "2" : "1") + "\n";
            return out;
        };
        if (Status st = http->start(); !st) return fail(st.to_string());
        std::fprintf(stderr, "itscam: HTTP API on http://%s:%d (health, metrics, cameras%s)\n", so.host.c_str(),
                     http->port(), so.api_token.empty() ? "; set ITSCAM_API_TOKEN to allow changes" : "");
    }
    auto evaluate_alerts = [&] {
        const auto s = pipe.snapshot();
        service::MetricsSample m;
        const auto& inf = s.stages.at("inference");
        if (inf.window > 0) {
            m.inference_latency_p99_ms = inf.p99_ms;
            m.inference_latency_p95_ms = inf.p95_ms;
        }
        m.memory_pool_efficiency = s.pool_total.hit_rate();
        bool open = false;
        for (const auto& d : s.devices) open |= d.circuit == pipeline::CircuitState::kOpen;
        m.circuit_open = open;
        const double frames = static_cast<double>(s.frames_processed + s.frames_failed);
        if (frames > 0) m.error_rate = static_cast<double>(s.frames_failed) / frames;
        m.memory_allocation_p99_ms = s.pool_total.acquire_p99_us / 1000.0;
        alerts.evaluate(m);
    };
#endif
    if (Status st = pipe.start(); !st) return fail(st.to_string());
    std::fprintf(stderr, "itscam: running %zu camera(s); Ctrl-C to stop\n", cfg->cameras.size());

    // Cameras that are all non-looping files end on their own; live ones run until a signal.
    std::atomic<bool> ended{false};
    std::thread waiter([&] {
        pipe.wait_cameras_ended();
        ended = true;
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto next_status = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(a.status_interval_s));
    [[maybe_unused]] auto next_alerts = t0;
    while (!g_signal && !ended) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto now = std::chrono::steady_clock::now();
        if (a.duration_s > 0 && std::chrono::duration<double>(now - t0).count() >= a.duration_s) break;
#ifdef ITSCAM_HAVE_SERVICE
        if (now >= next_alerts) {
            evaluate_alerts();
            next_alerts = now + std::chrono::seconds(2);
        }
#endif
        if (a.status_interval_s > 0 && now >= next_status) {
            std::fprintf(stderr, "itscam: %s\n", pipeline_status_line(pipe.snapshot()).c_str());
            next_status = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(a.status_interval_s));
        }
    }
    if (g_signal) std::fprintf(stderr, "itscam: %s received, draining...\n", g_signal == SIGINT ? "SIGINT" : "SIGTERM");
#ifdef ITSCAM_HAVE_SERVICE
    if (http) http->stop();  // before the pipeline: no request may see it half stopped
#endif
    pipe.stop(true);
    waiter.join();
    std::fprintf(stderr, "%s", pipeline_summary(pipe.snapshot()).c_str());
    return 0;
}

}  // namespace

RunFn add_run_command(CLI::App& app) {
    auto a = std::make_shared<RunArgs>();
    app.add_option("-c,--config", a->config, "YAML config file (settings + cameras; environment overrides)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_flag("--print-config", a->print_config, "Print the effective configuration (after environment) and exit");
    app.add_flag("--check", a->check, "Validate the config and build the engines, then exit");
    app.add_option("--duration", a->duration_s, "Stop after this many seconds (0: run until SIGINT/SIGTERM)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--status-interval", a->status_interval_s, "Seconds between status lines on stderr (0: none)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    return [a] { return run_run(*a); };
}

}  // namespace itscam::cli
