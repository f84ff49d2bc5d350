#include "service/server.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/thread_info.h"
#include "core/time_format.h"
#include "core/redact.h"
#include "service/alerts_baseline.h"
#include "service/metrics_alerts.h"
#include "service/metrics_events.h"

namespace itscam::service {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

Clock::time_point after(Clock::time_point t, double seconds) {
    return t + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

Result<WebhookOptions> webhook_options_from_json(const json& w) {
    WebhookOptions wo;
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
        if (!w["send_pending"].is_boolean())
            return invalid_argument("alerts.webhook.send_pending: expected true/false");
        wo.send_pending = w["send_pending"].get<bool>();
    }
    std::string base, path;
    if (Status st = parse_webhook_url(wo.url, &base, &path); !st) return st.with_context("alerts.webhook");
    return wo;
}

}  // namespace

Result<AlertSetup> alert_setup_from_config(const config::Config& cfg) {
    AlertSetup setup;
    auto it = cfg.reserved_json.sections.find("alerts");
    if (it == cfg.reserved_json.sections.end()) return setup;
    json j = json::parse(it->second, nullptr, false);
    if (j.is_discarded()) return invalid_argument("alerts: not valid JSON after conversion");
    if (j.is_null()) return setup;
    if (!j.is_object()) return invalid_argument("alerts: expected a map");
    if (j.contains("webhook")) {
        auto wo = webhook_options_from_json(j["webhook"]);
        if (!wo) return wo.status();
        setup.webhook = std::move(wo).value();
        j.erase("webhook");
    }
    auto rules = alert_rules_from_json(j);
    if (!rules) return rules.status().with_context("alerts");
    setup.rules = std::move(rules).value();
    return setup;
}

// ---------------------------------------------------------------- life cycle

Server::Server(const config::Config& cfg, ServerOptions opt)
    : cfg_(cfg),
      opt_(std::move(opt)),
      gpu_scope_(GpuScope::from_config(cfg)),
      gpu_(opt_.gpu ? opt_.gpu : std::make_shared<GpuMonitor>()) {}

Status Server::validate(const config::Config& cfg) {
    return alert_setup_from_config(cfg).status();
}

Result<std::unique_ptr<Server>> Server::create(const config::Config& cfg, ServerOptions opt) {
    ITSCAM_ASSIGN_OR_RETURN(AlertSetup setup, alert_setup_from_config(cfg));
    std::unique_ptr<Server> s(new Server(cfg, std::move(opt)));
    ITSCAM_RETURN_IF_ERROR(s->alerts_.set_config(setup.rules).with_context("alerts"));
    if (setup.webhook) {
        auto wh = WebhookNotifier::create(*setup.webhook);
        if (!wh) return wh.status().with_context("alerts.webhook");
        s->webhook_ = std::move(wh).value();
    }
    const config::HistoryConfig& hc = cfg.history;
    if (hc.enabled) {
        std::error_code ec;
        const auto parent = std::filesystem::path(hc.path).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
        auto h = History::open(hc.path);
        if (!h) return h.status().with_context("history " + hc.path);
        s->history_ = std::move(h).value();
        s->apply_retention();
        // A baseline recorded by an earlier run (POST /api/v1/baseline) is in force again.
        auto b = restore_baseline(s->alerts_, *s->history_);
        s->history_error(b.status());
        if (b.is_ok() && *b)
            s->log("regression baseline p99 " + std::to_string((*b)->p99_ms) + " ms (recorded " +
                   iso8601_utc((*b)->timestamp) + ")");
    }
    if (cfg.events.mqtt.enabled) {
        Server* self = s.get();
        auto m = events::MqttPublisher::create(cfg.events.mqtt, [self](const std::string& line) { self->log(line); });
        if (!m) return m.status().with_context("events.mqtt");
        s->mqtt_ = std::move(m).value();
    }
    Server* raw = s.get();
    s->alerts_.on_transition([raw](const AlertTransition& t) {
        raw->log("alert " + t.alert.rule + ": " + alert_state_name(t.from) + " -> " + alert_state_name(t.to) + ": " +
                 t.alert.message);
        if (raw->history_) raw->history_error(raw->history_->record_alert(t));
    });
    if (s->webhook_) s->webhook_->attach(s->alerts_);
    return s;
}

Server::~Server() {
    stop();
}

void Server::log(const std::string& text) const {
    const std::string line = redact(text);  // the log never shows a URL's password or a token
    if (opt_.log)
        opt_.log(line);
    else
        std::fprintf(stderr, "itscam: %s\n", line.c_str());
}

void Server::history_error(const Status& st) const {
    if (!st) log("history: " + st.to_string());
}

void Server::attach(pipeline::PipelineOptions& po) {
    if (cfg_.streaming.enabled && cfg_.server.enabled && !streams_) {
        streams_ = std::make_shared<streaming::StreamHub>(streaming::StreamHubOptions::from_config(cfg_));
        po.on_frame = [hub = streams_](const video::Frame& f, const pipeline::DetectionRecord& r) { hub->push(f, r); };
    }
    po.on_camera_event = [this](const std::string& cam, const std::string& kind, const std::string& msg) {
        on_camera_event(cam, kind, msg);
    };
    po.on_circuit_transition = [this](const std::string& dev, const pipeline::CircuitTransition& t) {
        on_circuit_transition(dev, t);
    };
    po.on_event = [this](const analytics::AnalyticsEvent& e) { on_analytics_event(e); };
    if (opt_.may_publish) po.may_publish = opt_.may_publish;
}

Status Server::start(pipeline::Pipeline& pipe) {
    if (started_) return internal_error("the server was already started (it cannot be restarted)");
    pipe_ = &pipe;
    ITSCAM_RETURN_IF_ERROR(start_http(pipe));
    started_ = true;
    timers_ = std::thread([this] {
        set_thread_name("timers");
        run_timers();
    });
    return Status::ok();
}

void Server::stop() {
    if (http_) http_->stop();  // before the pipeline stops: no request may see it half stopped
    {
        std::lock_guard<std::mutex> lk(timers_mu_);
        stopping_ = true;
    }
    timers_cv_.notify_all();
    if (timers_.joinable()) timers_.join();
}

void Server::finish(const pipeline::PipelineSnapshot& final_snapshot) {
    stop();
    if (finished_) return;
    finished_ = true;
    record_sample(final_snapshot);  // the tail since the last sample: no lost data
    if (pipe_) collect_analytics(true);  // the running intervals too: none is lost at shutdown
    if (webhook_) (void)webhook_->flush(std::chrono::milliseconds(2000));
    // What the broker has not acknowledged stays in the spool and goes out at the next start.
    if (mqtt_ && !mqtt_->flush(5.0)) log("mqtt: events still spooled at shutdown; they are sent at the next start");
}

// ---------------------------------------------------------------- pipeline hooks (pipeline threads)

void Server::on_camera_event(const std::string& cam, const std::string& kind, const std::string& msg) {
    if (kind == "removed" && streams_) streams_->remove_camera(cam);
    if (!history_) return;
    auto k = parse_camera_event_kind(kind);
    if (!k) {  // ended / stall / format_changed: not connection events
        if (kind == "stall")
            k = CameraEventKind::kDisconnected;
        else
            return;
    }
    CameraEvent e;
    e.timestamp = std::chrono::system_clock::now();
    e.camera_id = cam;
    e.kind = *k;
    e.message = kind == "stall" ? "stall: " + msg : msg;
    history_error(history_->insert_camera_event(e));
}

void Server::on_circuit_transition(const std::string& dev, const pipeline::CircuitTransition& t) {
    if (!history_) return;
    CircuitEventRecord r;
    r.timestamp = t.when;
    r.device = dev;
    r.from_state = pipeline::circuit_state_name(t.from);
    r.to_state = pipeline::circuit_state_name(t.to);
    r.reason = t.reason;
    history_error(history_->insert_circuit_transition(r));
}

// Inference worker thread: must return at once (a lock and a counter, or a copy into a queue).
void Server::on_analytics_event(const analytics::AnalyticsEvent& e) {
    speeds_->observe(e);
    if (e.kind == analytics::EventKind::kCongestionChange && history_) {
        std::lock_guard<std::mutex> lk(events_mu_);
        if (pending_events_.size() >= kMaxPendingEvents) {
            pending_events_.erase(pending_events_.begin());
            ++dropped_events_;
        }
        pending_events_.push_back(e);
    }
    if (opt_.publish_event) opt_.publish_event(e);
    // The publisher only appends to its spool here (never the network): at once, in frame order per camera.
    if (mqtt_) {
        auto topic = events::mqtt_events_topic(cfg_.events.mqtt, e.camera);
        if (topic) mqtt_->publish(*topic, analytics::event_json(e), e.id);
    }
}

// ---------------------------------------------------------------- HTTP (handler threads)

Status Server::start_http(pipeline::Pipeline& pipe) {
    const config::ServerConfig& sc = cfg_.server;
    if (!sc.enabled) return Status::ok();
    ServiceOptions so;
    so.host = sc.host;
    so.port = sc.port;
    so.api_token = sc.api_token;
    so.read_token = sc.read_token;
    so.max_body_bytes = static_cast<size_t>(sc.max_body_bytes);
    so.read_timeout_s = std::max(1, static_cast<int>(std::lround(sc.read_timeout_s)));
    so.write_timeout_s = std::max(1, static_cast<int>(std::lround(sc.write_timeout_s)));
    so.header_timeout_s = std::max(1, static_cast<int>(std::lround(sc.header_timeout_s)));
    so.max_connections = sc.max_connections;
    so.max_connections_per_client = sc.max_connections_per_client;
    so.tls_cert = sc.tls_cert;
    so.tls_key = sc.tls_key;
    so.gpu = gpu_;
    so.gpu_scope = gpu_scope_;
    auto http = std::make_unique<HttpService>(pipe, so);
    if (streams_) http->set_streams(streams_);
    http->alerts_json = [this] { return alerts_json(); };
    http->record_baseline = [this] { return record_baseline(); };
    http->add_metrics(std::make_shared<AlertCollector>(alerts_));
    http->add_metrics(speeds_);
    if (opt_.cluster) {
        http->cluster = opt_.cluster;
        http->add_metrics(std::make_shared<ClusterCollector>(pipe, fenced_intervals_));
    }
    if (mqtt_) {
        http->add_metrics(std::make_shared<PublisherCollector>(mqtt_));
        // The broker's state in /health/ready's body: a refused login or a dead broker is told there (and logged),
        // but does not make the node unready, since detections still serve and events wait in the spool.
        http->ready_details = [m = mqtt_] {
            const events::PublisherStats st = m->stats();
            json mq{{"connected", st.connected}, {"spooled", st.spooled}, {"dropped", st.dropped}};
            if (!st.connected) mq["error"] = st.last_error.empty() ? "not connected yet" : st.last_error;
            json out{{"events", {{"mqtt", mq}}}};
            if (!st.connected)
                out["warnings"] = json::array({"events.mqtt: " + mq["error"].get<std::string>() +
                                               "; events wait in the spool (" + std::to_string(st.spooled) + ")"});
            return out;
        };
    }
    if (history_)
        http->interval_history = {[h = history_.get()](const std::string& cam, SystemTime from, SystemTime to) {
                                      return h->query_intervals(from, to, cam);
                                  },
                                  "history"};
    else
        http->interval_history = {[r = recent_](const std::string& cam, SystemTime from, SystemTime to)
                                      -> Result<std::vector<analytics::IntervalAggregate>> {
                                      return r->query(cam, from, to);
                                  },
                                  "memory"};
    ITSCAM_RETURN_IF_ERROR(http->start());
    const std::string scheme = so.tls_cert.empty() ? "http" : "https";
    log("HTTP API on " + scheme + "://" + so.host + ":" + std::to_string(http->port()) + " (health, metrics, cameras" +
        (so.api_token.empty() ? "; set ITSCAM_API_TOKEN to allow changes" : "") +
        (so.read_token.empty() ? "" : "; reads need the read token") + ")");
    http_ = std::move(http);
    return Status::ok();
}

json Server::alerts_json() const {
    json active = json::array(), recent = json::array();
    for (const auto& al : alerts_.active())
        active.push_back({{"rule", al.rule},
                          {"severity", alert_severity_name(al.severity)},
                          {"state", alert_state_name(al.state)},
                          {"value", al.value},
                          {"threshold", al.threshold},
                          {"message", al.message}});
    for (const auto& t : alerts_.history(100)) recent.push_back(alert_transition_to_json(t));
    return json{{"alerts", active}, {"recent", recent}, {"baseline_p99_ms", alerts_.baseline_p99_ms()}};
}

Result<json> Server::record_baseline() {
    const auto snap = pipe_->snapshot();
    const auto it = snap.stages.find("inference");
    if (it == snap.stages.end() || it->second.window == 0)
        return unavailable("no inference has run yet: nothing to record as the baseline");
    return service::record_baseline(alerts_, history_.get(), it->second.p99_ms,
                                    static_cast<int64_t>(it->second.window));
}

// ---------------------------------------------------------------- timers (the Server's thread)

void Server::run_timers() {
    std::unique_lock<std::mutex> lk(timers_mu_);
    // Nothing to evaluate or sample while the engines build.
    while (!stopping_ && !pipe_->ready()) timers_cv_.wait_for(lk, std::chrono::milliseconds(50));
    const Clock::time_point t0 = Clock::now();
    Clock::time_point next_alerts = after(t0, opt_.alert_interval_s);
    Clock::time_point next_sample = after(t0, cfg_.history.sample_interval_s);
    Clock::time_point next_retention = after(t0, opt_.retention_interval_s);
    Clock::time_point next_analytics = after(t0, opt_.analytics_flush_interval_s);
    while (!stopping_) {
        Clock::time_point next = std::min(next_alerts, next_analytics);
        if (history_) next = std::min({next, next_sample, next_retention});
        if (timers_cv_.wait_until(lk, next, [this] { return stopping_; })) break;
        const Clock::time_point now = Clock::now();
        lk.unlock();
        if (now >= next_alerts) {
            evaluate_alerts(pipe_->snapshot());
            next_alerts = after(now, opt_.alert_interval_s);
        }
        if (history_ && now >= next_sample) {
            record_sample(pipe_->snapshot());
            next_sample = after(now, cfg_.history.sample_interval_s);
        }
        if (now >= next_analytics) {
            collect_analytics(false);
            next_analytics = after(now, opt_.analytics_flush_interval_s);
        }
        if (history_ && now >= next_retention) {
            apply_retention();
            next_retention = after(now, opt_.retention_interval_s);
        }
        lk.lock();
    }
}

ExternalInputs Server::gpu_inputs() {
    const GpuSelection g = gpu_->select(gpu_scope_);
    ExternalInputs in;
    in.gpu_utilization = g.mean_utilization();
    in.gpu_memory_pressure = g.memory_pressure();
    return in;
}

void Server::evaluate_alerts(const pipeline::PipelineSnapshot& s) {
    ExternalInputs in = gpu_inputs();
    if (streams_) {
        const streaming::StreamEgress e = streams_->egress();
        in.streaming_bandwidth_ratio =
            streaming_bandwidth_ratio(e, prev_egress_ ? &*prev_egress_ : nullptr, cfg_.streaming.bitrate_kbps);
        prev_egress_ = e;
    }
    alerts_.evaluate(metrics_sample_from(s, prev_eval_ ? &*prev_eval_ : nullptr, in));
    prev_eval_ = s;
}

void Server::record_sample(const pipeline::PipelineSnapshot& s) {
    if (!history_) return;
    history_error(
        history_->insert_sample(history_sample_from(s, prev_sample_ ? &*prev_sample_ : nullptr, gpu_inputs())));
    prev_sample_ = s;
}

void Server::collect_analytics(bool flush) {
    std::vector<analytics::IntervalAggregate> intervals = pipe_->take_intervals(flush);
    // Cluster mode: past the deadline of the lease a camera was taken under, its next owner may be counting it
    // already.
    if (opt_.may_publish) {
        const auto fenced = std::remove_if(intervals.begin(), intervals.end(),
                                           [&](const analytics::IntervalAggregate& a) { return !opt_.may_publish(a.epoch); });
        *fenced_intervals_ += static_cast<int64_t>(intervals.end() - fenced);
        intervals.erase(fenced, intervals.end());
    }
    if (!intervals.empty()) {
        recent_->add(intervals);
        if (history_) history_error(history_->record_intervals(intervals));
        if (opt_.publish_intervals) opt_.publish_intervals(intervals);
        if (mqtt_) {
            for (const auto& a : intervals) {
                auto topic = events::mqtt_counts_topic(cfg_.events.mqtt, a.camera);
                // Unique per camera and interval: a resend after a restart is recognisable.
                if (topic) mqtt_->publish(*topic, analytics::aggregate_json(a), a.camera + "-" + std::to_string(a.start_us));
            }
        }
    }
    std::vector<analytics::AnalyticsEvent> events;
    int64_t dropped = 0;
    {
        std::lock_guard<std::mutex> lk(events_mu_);
        events.swap(pending_events_);
        std::swap(dropped, dropped_events_);
    }
    if (dropped > 0) log("history: " + std::to_string(dropped) + " congestion changes dropped (queue full)");
    if (history_)
        for (const auto& e : events) history_error(history_->record_event(e));
}

void Server::apply_retention() {
    history_error(history_->apply_retention(static_cast<int>(std::ceil(cfg_.history.retention_days))).status());
}

}  // namespace itscam::service
