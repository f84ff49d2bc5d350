// service::Server: everything `itscam run` adds around the pipeline (docs/service.md) — the alert rules and their
// webhook, the SQLite history, the HTTP API with /metrics, the live streams, and the timers that drive them:
//   alert evaluation     every alert_interval_s (2 s): pipeline snapshot + configured GPUs (NVML: utilization,
//                        memory pressure) + the stream hub's egress -> AlertEngine (transitions are logged, stored in
//                        history and POSTed to the webhook)
//   history sampling     every history.sample_interval_s: one metrics row
//   retention            at creation and every retention_interval_s (1 h): history.retention_days
//   analytics intervals  every analytics_flush_interval_s (2 s): Pipeline::take_intervals -> the in-memory ring
//                        (GET .../counts without history), the history's analytics tables and publish_intervals;
//                        the congestion changes queued by the on_event hook -> history; finish() flushes the
//                        running intervals too (take_intervals(true)), so no interval is lost at shutdown
// The timers start when the pipeline first reports ready (engines built), so nothing is sampled while it loads.
//
// Use (tools/itscam/cmd_run.cpp, tests/service/test_pipeline_alerting.cpp):
//   auto srv = Server::create(cfg);            // alerts section, webhook, history (validate() alone for --check)
//   srv->attach(pipeline_options);             // frames -> streams, camera events / circuit transitions -> history,
//                                              // analytics events -> speed histogram, history, publish_event
//   auto pipe = Pipeline::create(cfg, pipeline_options);
//   srv->start(*pipe);                         // HTTP API (answers "loading" until ready) + timers
//   ... pipe->load(); pipe->start(); ...
//   srv->stop();                               // API first (no request sees a half-stopped pipeline), then timers
//   pipe->stop(true);
//   srv->finish(pipe->snapshot());             // the last history sample, webhook flush
//
// Ownership: the Server owns the alert engine, webhook, history, HTTP service, stream hub and GPU monitor. The
// pipeline is the caller's; it must outlive stop(). Hooks installed by attach() point at the Server, so the Server
// must outlive the pipeline created with those options (declare it first).
// Thread-safety: create/attach/start/stop/finish are for one controlling thread. The accessors may be used from any
// thread (the objects they return are thread-safe). Hooks run on pipeline threads, HTTP hooks on handler threads,
// the timers on the Server's own thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "events/mqtt_publisher.h"
#include "core/status.h"
#include "pipeline/pipeline.h"
#include "service/alerts.h"
#include "service/api_cluster.h"
#include "service/gpu_monitor.h"
#include "service/history.h"
#include "service/http_service.h"
#include "service/metrics_analytics.h"
#include "service/recent_intervals.h"
#include "service/samples.h"
#include "service/webhook.h"
#include "streaming/stream_hub.h"

namespace itscam::service {

struct ServerOptions {
    double alert_interval_s = 2.0;                // alert evaluation period
    double retention_interval_s = 3600;           // history retention period
    std::shared_ptr<GpuMonitor> gpu;              // null: NVML (libnvidia-ml.so.1); tests inject a sampler
    std::function<void(const std::string&)> log;  // one line per event (alerts, HTTP address, history errors);
                                                  // default: stderr, prefixed "itscam: "
    double analytics_flush_interval_s = 2.0;      // how often closed analytics intervals are collected
    // Analytics to a message broker (the MQTT publisher, src/events): every analytics event (on an inference
    // worker thread: hand it over, never block), and every batch of closed intervals (on the Server's timer
    // thread). Unset: not published.
    std::function<void(const analytics::AnalyticsEvent&)> publish_event;
    std::function<void(const std::vector<analytics::IntervalAggregate>&)> publish_intervals;
    // Cluster mode (docs/cluster.md): the lease check, asked with a camera's epoch, that gates every record, event
    // and interval of that camera (attach() hands it to the pipeline; intervals closed while it is false are
    // dropped and counted), and the cluster's side of the HTTP API (api_cluster.h). Unset: a stand-alone node.
    std::function<bool(int64_t epoch)> may_publish;
    std::shared_ptr<ClusterApi> cluster;
};

// The `alerts:` section: the rules (alert_rules_from_json) and an optional `webhook: {url, timeout_s,
// send_pending}`. Errors name the offending key (kInvalidArgument).
struct AlertSetup {
    AlertRulesConfig rules = AlertRulesConfig::defaults();
    std::optional<WebhookOptions> webhook;
};
Result<AlertSetup> alert_setup_from_config(const config::Config& cfg);

class Server {
  public:
    // Checks what create() would (the alerts section, the webhook URL) without opening or starting anything.
    static Status validate(const config::Config& cfg);
    // Reads the alerts section, starts the webhook sender, opens the history database (creating its folder) and
    // applies retention. The config is copied.
    static Result<std::unique_ptr<Server>> create(const config::Config& cfg, ServerOptions opt = {});
    ~Server();  // stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Installs the hooks into the pipeline's options (call before Pipeline::create): every processed frame to the
    // stream hub (when streaming and the server are enabled), camera events and circuit transitions to the history,
    // analytics events to the speed histogram, the history (congestion changes) and publish_event.
    void attach(pipeline::PipelineOptions& po);
    // Starts the HTTP API (when server.enabled; kUnavailable if the port is taken) and the timer thread.
    // kInternal when already started.
    Status start(pipeline::Pipeline& pipe);
    // Stops the API, then the timers. Idempotent; the pipeline is not touched.
    void stop();
    // After the pipeline has stopped: the last history sample (the tail since the previous one, from
    // `final_snapshot`) and the webhook queue flushed (2 s at most). Calls stop() first.
    void finish(const pipeline::PipelineSnapshot& final_snapshot);

    AlertEngine& alerts() { return alerts_; }
    History* history() { return history_.get(); }                         // null: history disabled
    WebhookNotifier* webhook() { return webhook_.get(); }                 // null: no webhook configured
    HttpService* http() { return http_.get(); }                           // null: server disabled, or not started
    std::shared_ptr<streaming::StreamHub> streams() { return streams_; }  // null: streaming off, or not attached
    GpuMonitor& gpu() { return *gpu_; }
    const RecentIntervals& recent_intervals() const { return *recent_; }
    const GpuScope& gpu_scope() const { return gpu_scope_; }

  private:
    Server(const config::Config& cfg, ServerOptions opt);
    void log(const std::string& line) const;
    void history_error(const Status& st) const;
    Status start_http(pipeline::Pipeline& pipe);
    void on_camera_event(const std::string& cam, const std::string& kind, const std::string& msg);
    void on_circuit_transition(const std::string& dev, const pipeline::CircuitTransition& t);
    void on_analytics_event(const analytics::AnalyticsEvent& e);
    // Closed intervals (all of them with flush) and queued congestion changes to the ring, history and publisher.
    void collect_analytics(bool flush);
    nlohmann::json alerts_json() const;
    Result<nlohmann::json> record_baseline();

    // Timer thread.
    void run_timers();
    ExternalInputs gpu_inputs();  // utilization and memory pressure of the configured GPUs
    void evaluate_alerts(const pipeline::PipelineSnapshot& s);
    void record_sample(const pipeline::PipelineSnapshot& s);
    void apply_retention();

    const config::Config cfg_;
    const ServerOptions opt_;
    const GpuScope gpu_scope_;
    AlertEngine alerts_;
    std::unique_ptr<WebhookNotifier> webhook_;
    std::unique_ptr<History> history_;
    // events.mqtt.enabled: analytics events and interval aggregates to the broker (docs/mqtt.md).
    // Shared with /metrics' collector.
    std::shared_ptr<events::MqttPublisher> mqtt_;
    std::shared_ptr<GpuMonitor> gpu_;
    std::shared_ptr<streaming::StreamHub> streams_;  // set by attach(), before the pipeline exists
    std::unique_ptr<HttpService> http_;
    pipeline::Pipeline* pipe_ = nullptr;  // set by start()
    std::shared_ptr<RecentIntervals> recent_ = std::make_shared<RecentIntervals>();
    std::shared_ptr<SpeedHistogram> speeds_ = std::make_shared<SpeedHistogram>();
    // Cluster mode: analytics intervals not published because may_publish() was false (/metrics).
    std::shared_ptr<std::atomic<int64_t>> fenced_intervals_ = std::make_shared<std::atomic<int64_t>>(0);
    // Congestion changes from pipeline threads, written to history by the timer thread (bounded: a stuck disk must
    // not grow it without limit; beyond it the oldest are dropped and counted).
    std::mutex events_mu_;
    std::vector<analytics::AnalyticsEvent> pending_events_;
    int64_t dropped_events_ = 0;
    static constexpr size_t kMaxPendingEvents = 10000;

    // Timer thread state: written by the timer thread only, then by finish() after it joined.
    std::optional<pipeline::PipelineSnapshot> prev_sample_;  // the snapshot of the previous history sample
    std::optional<pipeline::PipelineSnapshot> prev_eval_;    // ... of the previous alert evaluation
    std::optional<streaming::StreamEgress> prev_egress_;     // the hub's egress at the previous evaluation

    std::thread timers_;
    std::mutex timers_mu_;
    std::condition_variable timers_cv_;
    bool stopping_ = false;  // under timers_mu_
    bool started_ = false;
    bool finished_ = false;
};

}  // namespace itscam::service
