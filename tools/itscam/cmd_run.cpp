// itscam run: the multi-camera service loop. Runs until SIGINT/SIGTERM (or, with only non-looping files, until
// they end), then drains the queues and shuts down cleanly. With the service built in, it also serves the HTTP
// API (health, readiness, performance, Prometheus metrics, cameras, alerts) and evaluates the alert rules.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <optional>
#include <mutex>
#include <filesystem>
#include <cmath>
#include <memory>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "config/config.h"
#include "pipeline/pipeline.h"
#include "pipeline_report.h"
#ifdef ITSCAM_HAVE_SERVICE
#include <nlohmann/json.hpp>

#include "core/time_format.h"
#include "service/alerts.h"
#include "service/alerts_baseline.h"
#include "service/history.h"
#include "service/http_service.h"
#include "service/pipeline_metrics.h"
#include "service/webhook.h"
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

std::chrono::steady_clock::time_point after(std::chrono::steady_clock::time_point t, double seconds) {
    return t + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

#ifdef ITSCAM_HAVE_SERVICE
// Everything `run` adds around the pipeline when the service is built: alert rules (+ webhook), the SQLite
// history and the HTTP API.
struct ServiceSide {
    service::AlertEngine alerts;
    std::unique_ptr<service::WebhookNotifier> webhook;
    std::unique_ptr<service::History> history;
    std::unique_ptr<service::HttpService> http;
    std::shared_ptr<service::StreamHub> streams;  // live video (streaming.enabled and the HTTP API on)
    std::mutex history_mu;  // History is thread-safe; this only orders the error reporting
    std::optional<pipeline::PipelineSnapshot> prev;       // the snapshot of the previous history sample
    std::optional<pipeline::PipelineSnapshot> prev_eval;  // ... of the previous alert evaluation

    void history_error(const Status& st) {
        if (!st) std::fprintf(stderr, "itscam: history: %s\n", st.to_string().c_str());
    }

    // The `alerts:` section: rules (alert_rules_from_json) plus an optional `webhook: {url, timeout_s}`.
    Status configure_alerts(const config::Config& cfg) {
        auto it = cfg.reserved_json.sections.find("alerts");
        if (it == cfg.reserved_json.sections.end()) return Status::ok();
        nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
        if (j.is_discarded()) return invalid_argument("alerts: not valid JSON after conversion");
        if (j.is_null()) return Status::ok();
        if (!j.is_object()) return invalid_argument("alerts: expected a map");
        if (j.contains("webhook")) {
            const nlohmann::json w = j["webhook"];
            j.erase("webhook");
            service::WebhookOptions wo;
            if (!w.is_object() || !w.contains("url") || !w["url"].is_string())
                return invalid_argument("alerts.webhook: expected {url: http://host:port/path}");
            for (auto& [k, v] : w.items())
                if (k != "url" && k != "timeout_s" && k != "send_pending")
                    return invalid_argument("alerts.webhook: unknown key '" + k + "' (url, timeout_s, send_pending)");
            wo.url = w["url"].get<std::string>();
            if (w.contains("timeout_s")) {
                if (!w["timeout_s"].is_number() || w["timeout_s"].get<double>() <= 0)
                    return invalid_argument("alerts.webhook.timeout_s: expected a number > 0");
                wo.timeout_s = w["timeout_s"].get<double>();
            }
            if (w.contains("send_pending")) {
                if (!w["send_pending"].is_boolean()) return invalid_argument("alerts.webhook.send_pending: expected true/false");
                wo.send_pending = w["send_pending"].get<bool>();
            }
            auto wh = service::WebhookNotifier::create(wo);
            if (!wh) return wh.status().with_context("alerts.webhook");
            webhook = std::move(wh).value();
        }
        auto rules = service::alert_rules_from_json(j);
        if (!rules) return rules.status().with_context("alerts");
        return alerts.set_config(*rules);
    }

    Status open_history(const config::HistoryConfig& hc) {
        if (!hc.enabled) return Status::ok();
        std::error_code ec;
        const auto parent = std::filesystem::path(hc.path).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
        auto h = service::History::open(hc.path);
        if (!h) return h.status().with_context("history " + hc.path);
        history = std::move(h).value();
        history_error(history->apply_retention(static_cast<int>(std::ceil(hc.retention_days))).status());
        // A baseline recorded by an earlier run (POST /api/v1/baseline) is in force again.
        auto b = service::restore_baseline(alerts, *history);
        history_error(b.status());
        if (b.is_ok() && *b)
            std::fprintf(stderr, "itscam: regression baseline p99 %g ms (recorded %s)\n", (*b)->p99_ms,
                         iso8601_utc((*b)->timestamp).c_str());
        return Status::ok();
    }

    void hook_pipeline(pipeline::PipelineOptions& po, const config::Config& cfg) {
        if (cfg.streaming.enabled && cfg.server.enabled) {
            streams = std::make_shared<service::StreamHub>(service::StreamHubOptions::from_config(cfg));
            po.on_frame = [hub = streams](const video::Frame& f, const pipeline::DetectionRecord& r) { hub->push(f, r); };
        }
        po.on_camera_event = [this](const std::string& cam, const std::string& kind, const std::string& msg) {
            if (kind == "removed" && streams) streams->remove_camera(cam);
            if (!history) return;
            auto k = service::parse_camera_event_kind(kind);
            if (!k) {  // ended / stall / format_changed: not connection events
                if (kind == "stall") k = service::CameraEventKind::kDisconnected;
                else return;
            }
            service::CameraEvent e;
            e.timestamp = std::chrono::system_clock::now();
            e.camera_id = cam;
            e.kind = *k;
            e.message = kind == "stall" ? "stall: " + msg : msg;
            history_error(history->insert_camera_event(e));
        };
        po.on_circuit_transition = [this](const std::string& dev, const pipeline::CircuitTransition& t) {
            if (!history) return;
            service::CircuitEventRecord r;
            r.timestamp = t.when;
            r.device = dev;
            r.from_state = pipeline::circuit_state_name(t.from);
            r.to_state = pipeline::circuit_state_name(t.to);
            r.reason = t.reason;
            history_error(history->insert_circuit_transition(r));
        };
        alerts.on_transition([this](const service::AlertTransition& t) {
            std::fprintf(stderr, "itscam: alert %s: %s -> %s: %s\n", t.alert.rule.c_str(),
                         service::alert_state_name(t.from), service::alert_state_name(t.to), t.alert.message.c_str());
            if (history) history_error(history->record_alert(t));
        });
        if (webhook) webhook->attach(alerts);
    }

    Status start_http(pipeline::Pipeline& pipe, const config::ServerConfig& sc) {
        if (!sc.enabled) return Status::ok();
        service::ServiceOptions so;
        so.host = sc.host;
        so.port = sc.port;
        so.api_token = sc.api_token;
        so.max_body_bytes = static_cast<size_t>(sc.max_body_bytes);
        so.read_timeout_s = std::max(1, static_cast<int>(std::lround(sc.read_timeout_s)));
        so.write_timeout_s = std::max(1, static_cast<int>(std::lround(sc.write_timeout_s)));
        http = std::make_unique<service::HttpService>(pipe, so);
        if (streams) http->set_streams(streams);
        http->alerts_json = [this] {
            nlohmann::json active = nlohmann::json::array(), recent = nlohmann::json::array();
            for (const auto& al : alerts.active())
                active.push_back({{"rule", al.rule},
                                  {"severity", service::alert_severity_name(al.severity)},
                                  {"state", service::alert_state_name(al.state)},
                                  {"value", al.value},
                                  {"threshold", al.threshold},
                                  {"message", al.message}});
            for (const auto& t : alerts.history(100)) recent.push_back(service::alert_transition_to_json(t));
            return nlohmann::json{{"alerts", active}, {"recent", recent}, {"baseline_p99_ms", alerts.baseline_p99_ms()}};
        };
        http->record_baseline = [this, &pipe]() -> Result<nlohmann::json> {
            const auto snap = pipe.snapshot();
            const auto& inf = snap.stages.at("inference");
            if (inf.window == 0) return unavailable("no inference has run yet: nothing to record as the baseline");
            return service::record_baseline(alerts, history.get(), inf.p99_ms, static_cast<int64_t>(inf.window));
        };
        http->extra_metrics = [this] {
            std::string out = "# HELP itscam_alert_active Alerts pending (1) or firing (2), by rule.\n"
                              "# TYPE itscam_alert_active gauge\n";
            for (const auto& al : alerts.active())
                out += "itscam_alert_active{rule=\"" + al.rule + "\",severity=\"" +
                       service::alert_severity_name(al.severity) + "\"} " +
                       (al.state == service::AlertState::kFiring ? "2" : "1") + "\n";
            return out;
        };
        ITSCAM_RETURN_IF_ERROR(http->start());
        std::fprintf(stderr, "itscam: HTTP API on http://%s:%d (health, metrics, cameras%s)\n", so.host.c_str(),
                     http->port(), so.api_token.empty() ? "; set ITSCAM_API_TOKEN to allow changes" : "");
        return Status::ok();
    }

    std::optional<double> gpu_utilization() {
        if (!http) return std::nullopt;
        auto gpus = http->gpu().sample();
        if (gpus.empty()) return std::nullopt;
        double u = 0;
        for (const auto& g : gpus) u += g.utilization;
        return u / static_cast<double>(gpus.size());
    }

    void evaluate_alerts(const pipeline::PipelineSnapshot& s) {
        alerts.evaluate(service::metrics_sample_from(s, prev_eval ? &*prev_eval : nullptr, gpu_utilization()));
        prev_eval = s;
    }

    void record_sample(const pipeline::PipelineSnapshot& s) {
        if (!history) return;
        history_error(history->insert_sample(service::history_sample_from(s, prev ? &*prev : nullptr, gpu_utilization())));
        prev = s;
    }
};
#endif

int run_run(const RunArgs& a) {
    const config::Env env = config::process_env();
    auto cfg = config::load_config(a.config, &env);
    if (!cfg) return fail(cfg.status().message(), 2);
    if (a.print_config) {
        std::fputs(config::to_yaml(*cfg).c_str(), stdout);
        return 0;
    }
    for (const auto& o : cfg->env_overrides) std::fprintf(stderr, "itscam: environment override %s\n", o.c_str());
    pipeline::PipelineOptions po;
    po.defer_load = true;
#ifdef ITSCAM_HAVE_SERVICE
    ServiceSide svc;
    if (Status st = svc.configure_alerts(*cfg); !st) return fail(st.message(), 2);
    if (!a.check) {
        if (Status st = svc.open_history(cfg->history); !st) return fail(st.to_string(), exit_code_for(st));
        svc.hook_pipeline(po, *cfg);
    }
#endif
    auto p = pipeline::Pipeline::create(*cfg, po);
    if (!p) return fail(p.status().to_string(), exit_code_for(p.status()));
    pipeline::Pipeline& pipe = **p;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
#ifdef ITSCAM_HAVE_SERVICE
    // The API answers (503 "loading") while the engines build.
    if (!a.check)
        if (Status st = svc.start_http(pipe, cfg->server); !st) return fail(st.to_string(), exit_code_for(st));
#endif
    if (cfg->cameras.empty()) std::fprintf(stderr, "itscam: no cameras configured; add them through the API\n");
    std::fprintf(stderr, "itscam: building engines for %s (%s, %s)...\n", cfg->model.c_str(), cfg->device.c_str(),
                 cfg->precision.c_str());
    if (Status st = pipe.load(); !st) return fail(st.to_string(), exit_code_for(st));
    if (a.check) {
        std::fprintf(stderr, "itscam: config and engines OK\n");
        return 0;
    }
    if (g_signal) return 0;
    if (Status st = pipe.start(); !st) return fail(st.to_string());
    std::fprintf(stderr, "itscam: running %zu camera(s); Ctrl-C to stop\n", cfg->cameras.size());

    // Cameras that are all non-looping files end on their own; live ones run until a signal.
    std::atomic<bool> ended{false};
    std::thread waiter([&] {
        pipe.wait_cameras_ended();
        ended = true;
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto next_status = after(t0, a.status_interval_s);
    [[maybe_unused]] auto next_alerts = after(t0, 2.0);
    [[maybe_unused]] auto next_sample = after(t0, cfg->history.sample_interval_s);
    [[maybe_unused]] auto next_retention = after(t0, 3600.0);
    while (!g_signal && !ended) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto now = std::chrono::steady_clock::now();
        if (a.duration_s > 0 && std::chrono::duration<double>(now - t0).count() >= a.duration_s) break;
#ifdef ITSCAM_HAVE_SERVICE
        if (now >= next_alerts) {
            svc.evaluate_alerts(pipe.snapshot());
            next_alerts = after(now, 2.0);
        }
        if (now >= next_sample) {
            svc.record_sample(pipe.snapshot());
            next_sample = after(now, cfg->history.sample_interval_s);
        }
        if (svc.history && now >= next_retention) {
            svc.history_error(svc.history->apply_retention(static_cast<int>(std::ceil(cfg->history.retention_days))).status());
            next_retention = after(now, 3600.0);
        }
#endif
        if (a.status_interval_s > 0 && now >= next_status) {
            std::fprintf(stderr, "itscam: %s\n", pipeline_status_line(pipe.snapshot()).c_str());
            next_status = after(now, a.status_interval_s);
        }
    }
    if (g_signal) std::fprintf(stderr, "itscam: %s received, draining...\n", g_signal == SIGINT ? "SIGINT" : "SIGTERM");
#ifdef ITSCAM_HAVE_SERVICE
    if (svc.http) svc.http->stop();  // before the pipeline: no request may see it half stopped
#endif
    pipe.stop(true);
    waiter.join();
    const pipeline::PipelineSnapshot final_snapshot = pipe.snapshot();
#ifdef ITSCAM_HAVE_SERVICE
    svc.record_sample(final_snapshot);  // the tail since the last sample: no lost data
    if (svc.webhook) (void)svc.webhook->flush(std::chrono::milliseconds(2000));
#endif
    std::fprintf(stderr, "%s", pipeline_summary(final_snapshot).c_str());
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
