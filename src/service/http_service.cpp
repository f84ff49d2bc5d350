#include "service/http_service.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <vector>

#include "core/redact.h"
#include "core/version.h"
#include "service/http_cors.h"
#include "service/http_router.h"
#include "service/http_server.h"
#include "service/http_tls.h"
#include "service/api_analytics.h"
#include "service/metrics_analytics.h"
#include "service/metrics.h"
#include "service/metrics_streams.h"
#include "service/web_assets.h"

namespace itscam::service {

using json = nlohmann::json;
using pipeline::CameraSnapshot;
using pipeline::PipelineSnapshot;

namespace {

void send_json(HttpResponse& res, int status, const json& j) {
    res.status = status;
    // replace: invalid UTF-8 (say, in a source's error text) must not turn a status answer into an exception.
    res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(HttpResponse& res, int status, const std::string& message) {
    // Errors may quote a camera URL or a source's error text: never a password or token.
    http_error(res, status, redact(message));
}

int http_status_for(StatusCode c) {
    switch (c) {
        case StatusCode::kOk: return 200;
        case StatusCode::kInvalidArgument:
        case StatusCode::kCorrupt: return 400;
        case StatusCode::kNotFound: return 404;
        case StatusCode::kUnsupported: return 501;
        case StatusCode::kUnavailable:
        case StatusCode::kCancelled: return 503;
        default: return 500;
    }
}

// Live video for the HTTP server's stream writer: fMP4 pieces as the hub hands them out.
class VideoSource : public StreamSource {
public:
    explicit VideoSource(std::shared_ptr<streaming::VideoViewer> v) : viewer_(std::move(v)) {}
    ~VideoSource() override { viewer_->close(); }
    std::shared_ptr<const std::string> poll() override { return viewer_->next(std::chrono::milliseconds(0)); }
    bool finished() const override { return viewer_->closed(); }
    void written(size_t n, double seconds) override { viewer_->written(n, seconds); }
    void close() override { viewer_->close(); }

private:
    std::shared_ptr<streaming::VideoViewer> viewer_;
};

// Server-Sent Events: one "detections" event per record, and a comment line after 1 s without one, so that a
// viewer that left is noticed (the write fails) and proxies keep the connection.
class EventSource : public StreamSource {
public:
    explicit EventSource(std::shared_ptr<streaming::EventViewer> e)
        : ev_(std::move(e)), last_(std::chrono::steady_clock::now()) {}
    ~EventSource() override { ev_->close(); }
    std::shared_ptr<const std::string> poll() override {
        const auto now = std::chrono::steady_clock::now();
        if (auto m = ev_->next(std::chrono::milliseconds(0))) {
            last_ = now;
            return std::make_shared<const std::string>("event: detections\ndata: " + *m + "\n\n");
        }
        if (ev_->closed() || now - last_ < std::chrono::seconds(1)) return nullptr;
        last_ = now;
        static const auto kPing = std::make_shared<const std::string>(": keep-alive\n\n");
        return kPing;
    }
    bool finished() const override { return ev_->closed(); }
    void close() override { ev_->close(); }

private:
    std::shared_ptr<streaming::EventViewer> ev_;
    std::chrono::steady_clock::time_point last_;
};

bool is_json_content_type(const HttpRequest& req) {
    std::string ct = req.get_header_value("Content-Type");
    const size_t semi = ct.find(';');
    if (semi != std::string::npos) ct.resize(semi);
    while (!ct.empty() && ct.back() == ' ') ct.pop_back();
    for (auto& ch : ct) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return ct == "application/json" || (ct.size() > 5 && ct.compare(ct.size() - 5, 5, "+json") == 0 &&
                                        ct.rfind("application/", 0) == 0);
}

}  // namespace

struct HttpService::Impl {
    Impl(HttpService& self_, pipeline::Pipeline& p, ServiceOptions o)
        : self(self_),
          pipe(p),
          opt(std::move(o)),
          gpu(opt.gpu ? opt.gpu : std::make_shared<GpuMonitor>(opt.nvml_library)),
          gpu_scope(opt.gpu_scope ? *opt.gpu_scope : GpuScope::from_config(p.config())) {
        registry.add(std::make_shared<PipelineCollector>(pipe, gpu));
        registry.add(std::make_shared<AnalyticsCollector>(pipe));
    }

    HttpService& self;
    pipeline::Pipeline& pipe;
    ServiceOptions opt;
    std::shared_ptr<GpuMonitor> gpu;
    GpuScope gpu_scope;
    MetricsRegistry registry;  // /metrics: the pipeline's, the streams' and added sources
    HttpRouter router;
    std::unique_ptr<HttpServer> server;
    std::atomic<int> bound_port{0};  // for the handlers (set once the server listens)
    bool started = false;
    std::mutex life_mu;
    std::shared_ptr<streaming::StreamHub> streams;
    std::unique_ptr<CorsPolicy> cors;  // cluster mode: the per-camera reads for the other members' dashboards

    // --- helpers ---
    json camera_json(const CameraSnapshot& c) {
        // The pipeline's own record of the camera; only a camera removed since the snapshot lacks one.
        const auto cfg = pipe.camera_config(c.id);
        json j = cfg ? camera_config_json(*cfg)
                     : json{{"id", c.id}, {"url", c.url}, {"model", c.model}, {"enabled", c.enabled}};
        j["state"] = c.state;
        j["stats"] = camera_stats_json(c);
        return j;
    }

    static const CameraSnapshot* find_camera(const PipelineSnapshot& s, const std::string& id) {
        for (const auto& c : s.cameras)
            if (c.id == id) return &c;
        return nullptr;
    }

    // --- handlers ---
    void health(const HttpRequest&, HttpResponse& res) {
        send_json(res, 200, json{{"status", "alive"}, {"uptime_s", process_uptime_s()}, {"version", version()}});
    }

    void ready(const HttpRequest&, HttpResponse& res) {
        const PipelineSnapshot s = pipe.snapshot();
        const bool ok = s.ready && pipe.ready();
        std::string reason = ok ? "ok" : s.not_ready_reason;
        if (!ok && reason.empty()) reason = "the pipeline is not ready (model loading or warming up)";
        json body{{"ready", ok}, {"reason", reason}};
        if (self.ready_details) body.update(self.ready_details());
        send_json(res, ok ? 200 : 503, body);
    }

    void performance(const HttpRequest&, HttpResponse& res) {
        json j = performance_json(pipe.snapshot(), gpu->select(gpu_scope));
        if (self.cluster) j["cluster"] = self.cluster->status_json();
        send_json(res, 200, j);
    }

    void metrics(const HttpRequest&, HttpResponse& res) {
        res.status = 200;
        res.set_content(self.metrics_text(), kPrometheusContentType);
    }

    void list_cameras(const HttpRequest&, HttpResponse& res) {
        const PipelineSnapshot s = pipe.snapshot();
        if (self.cluster) {
            auto cams = self.cluster->cameras();
            if (!cams) return send_error(res, 503, cams.status().message());
            return send_json(res, 200, cluster_cameras_json(*cams, s));
        }
        json arr = json::array();
        for (const auto& c : s.cameras) arr.push_back(camera_json(c));
        send_json(res, 200, json{{"cameras", std::move(arr)}});
    }

    void get_camera(const HttpRequest& req, HttpResponse& res) {
        const std::string id = req.captures.at(0);
        const PipelineSnapshot s = pipe.snapshot();
        const CameraSnapshot* c = find_camera(s, id);
        if (!c) return send_error(res, 404, "camera '" + id + "' does not exist");
        send_json(res, 200, camera_json(*c));
    }

    void add_camera(const HttpRequest& req, HttpResponse& res) {
        if (!is_json_content_type(req))
            return send_error(res, 415, "Content-Type must be application/json (got '" +
                                            req.get_header_value("Content-Type") + "')");
        json body;
        try {
            body = json::parse(req.body);
        } catch (const json::parse_error& e) {
            return send_error(res, 400, std::string("invalid JSON body: ") + e.what());
        } catch (const json::exception&) {
            // Valid JSON that nlohmann cannot hold (a number beyond a double: 1e999): parse_camera names the field.
            body = json::object();
        }
        if (!body.is_object()) return send_error(res, 400, "expected one camera as a JSON object");
        auto cam = config::parse_camera(req.body, "request body");
        if (!cam.is_ok()) return send_error(res, 400, cam.status().message());
        if (self.cluster) return add_cluster_camera(req, *cam, res);
        const auto ids = pipe.camera_ids();
        const auto exists = [&](const std::vector<std::string>& v) {
            for (const auto& i : v)
                if (i == cam->id) return true;
            return false;
        };
        if (exists(ids)) return send_error(res, 409, "camera '" + cam->id + "' already exists");
        // The port actually bound (server.port may be 0): a camera must not read this service's own streams.
        if (const Status self = config::check_added_camera(pipe.config(), *cam, bound_port.load());
            !self.is_ok())
            return send_error(res, 400, "camera '" + cam->id + "': " + self.message());
        const Status st = pipe.add_camera(*cam);
        if (!st.is_ok()) {
            if (st.code() == StatusCode::kInvalidArgument && exists(pipe.camera_ids()))
                return send_error(res, 409, "camera '" + cam->id + "' already exists");
            return send_error(res, http_status_for(st.code()), st.message());
        }
        const PipelineSnapshot s = pipe.snapshot();
        const CameraSnapshot* c = find_camera(s, cam->id);
        json j = c ? camera_json(*c) : camera_config_json(*cam);
        res.set_header("Location", "/api/v1/cameras/" + cam->id);
        send_json(res, 201, j);
    }

    // Cluster mode: the spec goes to the cluster's store (if the id is new) and its owner starts it.
    void add_cluster_camera(const HttpRequest& req, const config::CameraConfig& cam, HttpResponse& res) {
        if (const Status self_ref = config::check_added_camera(pipe.config(), cam, bound_port.load());
            !self_ref.is_ok())
            return send_error(res, 400, "camera '" + cam.id + "': " + self_ref.message());
        auto created = self.cluster->create_camera(cam.id, req.body);
        if (!created) return send_error(res, http_status_for(created.status().code()), created.status().message());
        if (!*created) return send_error(res, 409, "camera '" + cam.id + "' already exists in the cluster");
        json j = camera_config_json(cam);
        j["owner"] = nullptr;  // the owner picks it up at its next reconcile
        j["epoch"] = 0;
        res.set_header("Location", "/api/v1/cameras/" + cam.id);
        send_json(res, 201, j);
    }

    void delete_camera(const HttpRequest& req, HttpResponse& res) {
        const std::string id = req.captures.at(0);
        if (self.cluster) {
            const Status st = self.cluster->delete_camera(id);
            if (!st.is_ok()) return send_error(res, http_status_for(st.code()), st.message());
            res.status = 204;
            return;
        }
        const Status st = pipe.remove_camera(id);
        if (!st.is_ok()) return send_error(res, http_status_for(st.code()), st.message());
        res.status = 204;
    }

    void latest(const HttpRequest& req, HttpResponse& res) {
        const std::string id = req.captures.at(0);
        auto r = pipe.latest(id);
        if (!r.is_ok()) return send_error(res, http_status_for(r.status().code()), r.status().message());
        res.status = 200;
        res.set_content(pipeline::detection_record_json(*r), "application/json");
    }

    // --- traffic analytics ---
    // The camera's analytics configuration, or the 404 answer: unknown camera, or one without an analytics section.
    std::optional<config::CameraConfig> analytics_camera(const std::string& id, HttpResponse& res) {
        auto cfg = pipe.camera_config(id);
        if (!cfg.is_ok()) {
            send_error(res, 404, "camera '" + id + "' does not exist");
            return std::nullopt;
        }
        if (cfg->analytics.empty()) {
            send_error(res, 404, "camera '" + id +
                                     "' has no traffic analytics (no lines, zones or speed calibration in its "
                                     "analytics: section)");
            return std::nullopt;
        }
        return std::move(cfg).value();
    }

    static std::optional<std::string> param(const HttpRequest& req, const char* name) {
        for (const auto& [k, v] : req.params)
            if (k == name) return v;
        return std::nullopt;
    }

    void counts(const HttpRequest& req, HttpResponse& res) {
        const std::string id = req.captures.at(0);
        if (!analytics_camera(id, res)) return;
        auto q = parse_counts_query(param(req, "since"), param(req, "until"), param(req, "interval"),
                                    std::chrono::system_clock::now());
        if (!q.is_ok()) return send_error(res, 400, q.status().message());
        const auto& ih = self.interval_history;
        if (!ih.query) return send_error(res, 503, "no interval history is attached to this service");
        auto intervals = ih.query(id, q->since, q->until);
        if (!intervals.is_ok())
            return send_error(res, http_status_for(intervals.status().code()), intervals.status().message());
        auto buckets = bucket_intervals(*intervals, q->since, q->until, q->bucket_s);
        if (!buckets.is_ok()) return send_error(res, 400, "interval: " + buckets.status().message());
        send_json(res, 200, counts_json(id, *q, *buckets, ih.source));
    }

    void camera_analytics(const HttpRequest& req, HttpResponse& res) {
        const std::string id = req.captures.at(0);
        auto cfg = analytics_camera(id, res);
        if (!cfg) return;
        auto snap = pipe.analytics(id);
        if (!snap.is_ok()) {
            // Removed meanwhile, or its analytics not running (the pipeline's kNotFound / precondition answers).
            const int code = snap.status().code() == StatusCode::kUnavailable ? 503 : 404;
            return send_error(res, code, snap.status().message());
        }
        int w = 0, h = 0;
        const PipelineSnapshot ps = pipe.snapshot();
        if (const CameraSnapshot* c = find_camera(ps, id)) {
            w = c->width;
            h = c->height;
        }
        send_json(res, 200, camera_analytics_json(id, cfg->analytics, *snap, w, h));
    }

    void alerts(const HttpRequest&, HttpResponse& res) {
        if (!self.alerts_json)
            return send_json(res, 200, json{{"alerts", json::array()}, {"note", "alerting not configured"}});
        send_json(res, 200, self.alerts_json());
    }

    void baseline(const HttpRequest& req, HttpResponse& res) {
        if (!self.record_baseline) return send_error(res, 501, "alerting not configured: no baseline recorder");
        auto r = self.record_baseline();
        if (!r.is_ok()) return send_error(res, http_status_for(r.status().code()), r.status().message());
        send_json(res, 200, *r);
    }

    void dashboard(const HttpRequest& req, HttpResponse& res) {
        serve_web_asset(req, res);
        if (cors) cors->extend_csp(res);  // the page may connect to the members that serve remote cameras
    }

    // --- live streams ---
    bool stream_camera_known(const std::string& id) {
        if (streams->has_camera(id)) return true;
        if (pipe.camera_config(id).is_ok()) {
            streams->add_camera(id);  // viewers may connect before the first frame
            return true;
        }
        return false;
    }

    bool streams_ready(HttpResponse& res) {
        if (streams) return true;
        send_error(res, 404, "streaming is not configured");
        return false;
    }

    void stream_live(const HttpRequest& req, HttpResponse& res) {
        if (!streams_ready(res)) return;
        const std::string id = req.captures.at(0);
        if (!stream_camera_known(id)) return send_error(res, 404, "camera '" + id + "' does not exist");
        auto v = streams->open_video(id, req.get_param_value("rendition"));
        if (!v.is_ok()) {
            if (v.status().code() == StatusCode::kUnavailable) {
                // Beyond streaming.max_viewers: answered and closed at once, so refused viewers hold nothing.
                res.set_header("Retry-After", "5");
                res.close_connection = true;
            }
            return send_error(res, http_status_for(v.status().code()), v.status().message());
        }
        res.status = 200;
        res.set_header("Cache-Control", "no-store");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_stream(std::make_shared<VideoSource>(std::move(v).value()), "video/mp4");
    }

    void stream_events(const HttpRequest& req, HttpResponse& res) {
        if (!streams_ready(res)) return;
        const std::string id = req.captures.at(0);
        if (!stream_camera_known(id)) return send_error(res, 404, "camera '" + id + "' does not exist");
        auto e = streams->open_events(id);
        if (!e.is_ok()) {
            if (e.status().code() == StatusCode::kUnavailable) {
                // Beyond streaming.max_viewers: answered and closed at once, so refused viewers hold nothing.
                res.set_header("Retry-After", "5");
                res.close_connection = true;
            }
            return send_error(res, http_status_for(e.status().code()), e.status().message());
        }
        res.status = 200;
        res.set_header("Cache-Control", "no-store");
        res.set_header("X-Accel-Buffering", "no");
        res.set_stream(std::make_shared<EventSource>(std::move(e).value()), "text/event-stream");
    }

    void stream_info(const HttpRequest& req, HttpResponse& res) {
        if (!streams_ready(res)) return;
        const std::string id = req.captures.at(0);
        if (!stream_camera_known(id)) return send_error(res, 404, "camera '" + id + "' does not exist");
        auto j = streams->stream_json(id);
        if (!j.is_ok()) return send_error(res, http_status_for(j.status().code()), j.status().message());
        send_json(res, 200, *j);
    }

    void list_streams(const HttpRequest&, HttpResponse& res) {
        if (!streams_ready(res)) return;
        send_json(res, 200, streams->streams_json());
    }

    // --- routing ---
    using H = void (Impl::*)(const HttpRequest&, HttpResponse&);

    // Cluster mode, a request for one camera ({id} is the first capture) that does not run here: 307 to its owner
    // (same path and query), 503 while it has none. False when the handler should answer (the camera runs here,
    // this node holds it, no cluster, or the cluster has no such camera: the handler's 404).
    bool redirect_to_owner(const HttpRequest& req, HttpResponse& res) {
        if (!self.cluster || req.captures.empty()) return false;
        const std::string& id = req.captures.at(0);
        if (pipe.camera_config(id).is_ok()) return false;
        auto o = self.cluster->owner(id);
        if (!o) {
            send_error(res, 503, o.status().message());
            return true;
        }
        if (!o->exists || o->here) return false;
        if (o->api.empty()) {
            send_error(res, 503,
                       "camera '" + id + "' has no owner right now" +
                           (o->node.empty() ? std::string(" (it is being handed over; retry in a few seconds)")
                                            : " (node '" + o->node + "' holds it but advertises no API address)"));
            return true;
        }
        res.status = 307;
        res.set_header("Location", o->api + req.target);
        res.set_content(json{{"owner", o->node}, {"location", o->api + req.target}, {"epoch", o->epoch}}.dump(),
                        "application/json");
        return true;
    }

    void register_routes() {
        const auto add = [this](const char* method, const std::string& pattern, Access access, H h) {
            router.add(method, pattern, access, [this, h](const HttpRequest& req, HttpResponse& res) {
                (this->*h)(req, res);
            });
        };
        // Per-camera reads: answered by the camera's owner (cluster mode), and readable by the dashboards of the
        // cluster's other members (CORS, http_cors.h; OPTIONS is their preflight and needs no token).
        if (self.cluster)
            cors = std::make_unique<CorsPolicy>([c = self.cluster] { return c->member_apis(); });
        const auto add_owned = [this](const std::string& pattern, H h) {
            // A 401 carries the CORS headers too: the other member's page then reads "invalid token" instead of
            // an opaque network error.
            HttpHandler denied;
            if (cors) denied = [this](const HttpRequest& req, HttpResponse& res) { cors->annotate(req, res); };
            router.add(
                "GET", pattern, Access::kRead,
                [this, h](const HttpRequest& req, HttpResponse& res) {
                    if (!redirect_to_owner(req, res)) (this->*h)(req, res);
                    if (cors) cors->annotate(req, res);
                },
                std::move(denied));
            if (cors)
                router.add("OPTIONS", pattern, Access::kOpen,
                           [this](const HttpRequest& req, HttpResponse& res) { cors->preflight(req, res); });
        };
        // Open: liveness and readiness (probes carry no token) and the dashboard's files (it asks for the token).
        add("GET", "/health", Access::kOpen, &Impl::health);
        add("GET", "/health/ready", Access::kOpen, &Impl::ready);
        add("GET", "/index.html", Access::kOpen, &Impl::dashboard);
        for (const auto& a : web_assets()) add("GET", a.path, Access::kOpen, &Impl::dashboard);
        // Reads: server.read_token (or the api_token) when a read token is configured.
        add("GET", "/health/performance", Access::kRead, &Impl::performance);
        add("GET", "/metrics", Access::kRead, &Impl::metrics);
        add("GET", "/api/v1/cameras", Access::kRead, &Impl::list_cameras);
        add_owned("/api/v1/cameras/{id}", &Impl::get_camera);
        add_owned("/api/v1/cameras/{id}/detections/latest", &Impl::latest);
        add_owned("/api/v1/cameras/{id}/counts", &Impl::counts);
        add_owned("/api/v1/cameras/{id}/analytics", &Impl::camera_analytics);
        add("GET", "/api/v1/alerts", Access::kRead, &Impl::alerts);
        add("GET", "/api/v1/streams", Access::kRead, &Impl::list_streams);
        add_owned("/streams/{id}", &Impl::stream_info);
        add_owned("/streams/{id}/live.mp4", &Impl::stream_live);
        add_owned("/streams/{id}/detections", &Impl::stream_events);
        router.allow_query_token("/streams/");
        // Changes: the api_token.
        add("POST", "/api/v1/cameras", Access::kWrite, &Impl::add_camera);
        add("DELETE", "/api/v1/cameras/{id}", Access::kWrite, &Impl::delete_camera);
        add("POST", "/api/v1/baseline", Access::kWrite, &Impl::baseline);
    }
};

HttpService::HttpService(pipeline::Pipeline& pipeline, ServiceOptions opt)
    : impl_(std::make_unique<Impl>(*this, pipeline, std::move(opt))) {}

HttpService::~HttpService() { stop(); }

Status HttpService::start() {
    Impl& I = *impl_;
    std::lock_guard<std::mutex> lk(I.life_mu);
    if (I.started) return internal_error("the HTTP service was already started (it cannot be restarted)");
    const ServiceOptions& o = I.opt;
    if (o.port < 0 || o.port > 65535) return invalid_argument("port must be in 0..65535, got " + std::to_string(o.port));
    if (o.max_body_bytes == 0) return invalid_argument("max_body_bytes must be > 0");
    if (o.threads < 1) return invalid_argument("threads must be >= 1");
    if (o.read_timeout_s < 1 || o.write_timeout_s < 1 || o.header_timeout_s < 1)
        return invalid_argument("timeouts must be >= 1 s");
    if (o.keep_alive_max_count < 1 || o.keep_alive_timeout_s < 1)
        return invalid_argument("keep-alive count and timeout must be >= 1");
    if (o.max_connections < 1 || o.max_connections_per_client < 1)
        return invalid_argument("max_connections and max_connections_per_client must be >= 1");
    std::shared_ptr<boost::asio::ssl::context> tls;
    if (!o.tls_cert.empty() || !o.tls_key.empty()) {
        auto ctx = make_tls_context(o.tls_cert, o.tls_key);
        if (!ctx) return ctx.status();
        tls = std::move(ctx).value();
    }
    HttpLimits lim;
    lim.header_timeout_s = o.header_timeout_s;
    lim.read_timeout_s = o.read_timeout_s;
    lim.write_timeout_s = o.write_timeout_s;
    lim.keep_alive_timeout_s = o.keep_alive_timeout_s;
    lim.keep_alive_max_count = o.keep_alive_max_count;
    lim.max_connections = o.max_connections;
    lim.max_connections_per_client = o.max_connections_per_client;
    lim.max_body_bytes = o.max_body_bytes;
    lim.handler_threads = o.threads;
    lim.send_buffer_bytes = o.send_buffer_bytes;
    I.register_routes();
    auto server = std::make_unique<HttpServer>(I.router, lim, o.api_token, o.read_token, std::move(tls));
    ITSCAM_RETURN_IF_ERROR(server->start(o.host, o.port));
    I.bound_port = server->port();
    I.server = std::move(server);
    I.started = true;
    return Status::ok();
}

void HttpService::set_streams(std::shared_ptr<streaming::StreamHub> hub) {
    if (hub) impl_->registry.add(std::make_shared<StreamHubCollector>(hub));
    impl_->streams = std::move(hub);
}

void HttpService::add_metrics(std::shared_ptr<prometheus::Collectable> source) {
    impl_->registry.add(std::move(source));
}

void HttpService::stop() {
    Impl& I = *impl_;
    std::lock_guard<std::mutex> lk(I.life_mu);
    if (!I.server || !I.server->running()) return;
    if (I.streams) I.streams->close_all();  // long-lived responses end
    I.server->stop();
}

int HttpService::port() const { return impl_->server ? impl_->server->port() : impl_->opt.port; }

bool HttpService::running() const { return impl_->server && impl_->server->running(); }

nlohmann::json HttpService::performance() {
    return performance_json(impl_->pipe.snapshot(), impl_->gpu->select(impl_->gpu_scope));
}

std::string HttpService::metrics_text() { return impl_->registry.text(); }

GpuMonitor& HttpService::gpu() { return *impl_->gpu; }

const GpuScope& HttpService::gpu_scope() const { return impl_->gpu_scope; }

}  // namespace itscam::service
