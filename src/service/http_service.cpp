#include "service/http_service.h"

#include <httplib.h>
#include <strings.h>
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/redact.h"
#include "service/metrics.h"
#include "service/metrics_streams.h"
#include "service/web_assets.h"

namespace itscam::service {

using json = nlohmann::json;
using pipeline::CameraSnapshot;
using pipeline::PipelineSnapshot;

namespace {

void send_json(httplib::Response& res, int status, const json& j) {
    res.status = status;
    // replace: invalid UTF-8 (say, in a source's error text) must not turn a status answer into an exception.
    res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
    // Errors may quote a camera URL or a source's error text: never a password or token.
    send_json(res, status, json{{"error", redact(message)}, {"status", status}});
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

const char* default_message(int status) {
    switch (status) {
        case 400: return "bad request";
        case 401: return "unauthorized";
        case 403: return "forbidden";
        case 404: return "not found";
        case 405: return "method not allowed";
        case 408: return "request timeout";
        case 413: return "request body too large";
        case 414: return "request URI too long";
        case 415: return "unsupported media type";
        case 416: return "range not satisfiable";
        case 500: return "internal error";
        case 503: return "service unavailable";
        default: return "error";
    }
}

bool is_json_content_type(const httplib::Request& req) {
    std::string ct = req.get_header_value("Content-Type");
    const size_t semi = ct.find(';');
    if (semi != std::string::npos) ct.resize(semi);
    while (!ct.empty() && ct.back() == ' ') ct.pop_back();
    for (auto& ch : ct) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return ct == "application/json" || (ct.size() > 5 && ct.compare(ct.size() - 5, 5, "+json") == 0 &&
                                        ct.rfind("application/", 0) == 0);
}

}  // namespace

bool constant_time_equal(const std::string& expected, const std::string& given) {
    unsigned diff = expected.size() == given.size() ? 0u : 1u;
    const size_t n = expected.size();
    for (size_t i = 0; i < given.size(); ++i) {
        const unsigned char e = n ? static_cast<unsigned char>(expected[i % n]) : 0;
        diff |= static_cast<unsigned>(e ^ static_cast<unsigned char>(given[i]));
    }
    return diff == 0 && n > 0;
}

struct HttpService::Impl {
    Impl(HttpService& self_, pipeline::Pipeline& p, ServiceOptions o)
        : self(self_),
          pipe(p),
          opt(std::move(o)),
          gpu(opt.gpu ? opt.gpu : std::make_shared<GpuMonitor>(opt.nvml_library)),
          gpu_scope(opt.gpu_scope ? *opt.gpu_scope : GpuScope::from_config(p.config())) {
        registry.add(std::make_shared<PipelineCollector>(pipe, gpu));
    }

    HttpService& self;
    pipeline::Pipeline& pipe;
    ServiceOptions opt;
    std::shared_ptr<GpuMonitor> gpu;
    GpuScope gpu_scope;
    MetricsRegistry registry;  // /metrics: the pipeline's, the streams' and added sources
    httplib::Server svr;
    std::thread th;
    std::atomic<bool> listen_returned{false};
    std::atomic<int> bound_port{0};
    bool started = false;
    std::mutex life_mu;
    std::shared_ptr<streaming::StreamHub> streams;

    // --- helpers ---
    bool authorize(const httplib::Request& req, httplib::Response& res) const {
        if (opt.api_token.empty()) {
            send_error(res, 403,
                       "mutating endpoints are disabled: configure an API token (ServiceOptions::api_token) and send "
                       "it as 'Authorization: Bearer <token>'");
            return false;
        }
        const std::string h = req.get_header_value("Authorization");
        const bool bearer = h.size() > 7 && strncasecmp(h.c_str(), "Bearer ", 7) == 0;
        const bool ok = bearer && constant_time_equal(opt.api_token, h.substr(7));
        if (!ok) {
            res.set_header("WWW-Authenticate", h.empty() ? "Bearer realm=\"itscam\""
                                                         : "Bearer realm=\"itscam\", error=\"invalid_token\"");
            send_error(res, 401, h.empty() ? "missing 'Authorization: Bearer <token>' header"
                                           : (bearer ? "invalid bearer token" : "expected a Bearer token"));
            return false;
        }
        return true;
    }

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
    void health(const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, json{{"status", "alive"}, {"uptime_s", process_uptime_s()}, {"version", kServiceVersion}});
    }

    void ready(const httplib::Request&, httplib::Response& res) {
        const PipelineSnapshot s = pipe.snapshot();
        const bool ok = s.ready && pipe.ready();
        std::string reason = ok ? "ok" : s.not_ready_reason;
        if (!ok && reason.empty()) reason = "the pipeline is not ready (model loading or warming up)";
        send_json(res, ok ? 200 : 503, json{{"ready", ok}, {"reason", reason}});
    }

    void performance(const httplib::Request&, httplib::Response& res) {
        send_json(res, 200, performance_json(pipe.snapshot(), gpu->select(gpu_scope)));
    }

    void metrics(const httplib::Request&, httplib::Response& res) {
        res.status = 200;
        res.set_content(self.metrics_text(), kPrometheusContentType);
    }

    void list_cameras(const httplib::Request&, httplib::Response& res) {
        const PipelineSnapshot s = pipe.snapshot();
        json arr = json::array();
        for (const auto& c : s.cameras) arr.push_back(camera_json(c));
        send_json(res, 200, json{{"cameras", std::move(arr)}});
    }

    void get_camera(const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        const PipelineSnapshot s = pipe.snapshot();
        const CameraSnapshot* c = find_camera(s, id);
        if (!c) return send_error(res, 404, "camera '" + id + "' does not exist");
        send_json(res, 200, camera_json(*c));
    }

    void add_camera(const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res)) return;
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
        const auto ids = pipe.camera_ids();
        const auto exists = [&](const std::vector<std::string>& v) {
            for (const auto& i : v)
                if (i == cam->id) return true;
            return false;
        };
        if (exists(ids)) return send_error(res, 409, "camera '" + cam->id + "' already exists");
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

    void delete_camera(const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res)) return;
        const std::string id = req.matches[1];
        const Status st = pipe.remove_camera(id);
        if (!st.is_ok()) return send_error(res, http_status_for(st.code()), st.message());
        res.status = 204;
    }

    void latest(const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        auto r = pipe.latest(id);
        if (!r.is_ok()) return send_error(res, http_status_for(r.status().code()), r.status().message());
        res.status = 200;
        res.set_content(pipeline::detection_record_json(*r), "application/json");
    }

    void alerts(const httplib::Request&, httplib::Response& res) {
        if (!self.alerts_json)
            return send_json(res, 200, json{{"alerts", json::array()}, {"note", "alerting not configured"}});
        send_json(res, 200, self.alerts_json());
    }

    void baseline(const httplib::Request& req, httplib::Response& res) {
        if (!authorize(req, res)) return;
        if (!self.record_baseline) return send_error(res, 501, "alerting not configured: no baseline recorder");
        auto r = self.record_baseline();
        if (!r.is_ok()) return send_error(res, http_status_for(r.status().code()), r.status().message());
        send_json(res, 200, *r);
    }

    void dashboard(const httplib::Request& req, httplib::Response& res) { serve_web_asset(req, res); }

    // --- live streams ---
    bool stream_camera_known(const std::string& id) {
        if (streams->has_camera(id)) return true;
        if (pipe.camera_config(id).is_ok()) {
            streams->add_camera(id);  // viewers may connect before the first frame
            return true;
        }
        return false;
    }

    bool streams_ready(httplib::Response& res) {
        if (streams) return true;
        send_error(res, 404, "streaming is not configured");
        return false;
    }

    void stream_live(const httplib::Request& req, httplib::Response& res) {
        if (!streams_ready(res)) return;
        const std::string id = req.matches[1];
        if (!stream_camera_known(id)) return send_error(res, 404, "camera '" + id + "' does not exist");
        auto v = streams->open_video(id, req.get_param_value("rendition"));
        if (!v.is_ok()) {
            if (v.status().code() == StatusCode::kUnavailable) res.set_header("Retry-After", "5");
            return send_error(res, http_status_for(v.status().code()), v.status().message());
        }
        std::shared_ptr<streaming::VideoViewer> viewer = std::move(v).value();
        res.status = 200;
        res.set_header("Cache-Control", "no-store");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_chunked_content_provider(
            "video/mp4",
            [viewer](size_t, httplib::DataSink& sink) {
                std::shared_ptr<const std::string> b = viewer->next(std::chrono::milliseconds(250));
                if (!b) {
                    if (viewer->closed()) sink.done();
                    return true;  // nothing yet: httplib checks the socket and asks again
                }
                const auto t0 = std::chrono::steady_clock::now();
                if (!sink.write(b->data(), b->size())) {  // the viewer went away (mid-fragment is fine)
                    viewer->close();
                    return false;
                }
                viewer->written(b->size(),
                                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
                return true;
            },
            [viewer](bool) { viewer->close(); });
    }

    void stream_events(const httplib::Request& req, httplib::Response& res) {
        if (!streams_ready(res)) return;
        const std::string id = req.matches[1];
        if (!stream_camera_known(id)) return send_error(res, 404, "camera '" + id + "' does not exist");
        auto e = streams->open_events(id);
        if (!e.is_ok()) {
            if (e.status().code() == StatusCode::kUnavailable) res.set_header("Retry-After", "5");
            return send_error(res, http_status_for(e.status().code()), e.status().message());
        }
        std::shared_ptr<streaming::EventViewer> ev = std::move(e).value();
        res.status = 200;
        res.set_header("Cache-Control", "no-store");
        res.set_header("X-Accel-Buffering", "no");
        res.set_chunked_content_provider(
            "text/event-stream",
            [ev](size_t, httplib::DataSink& sink) {
                std::shared_ptr<const std::string> m = ev->next(std::chrono::milliseconds(1000));
                if (!m) {
                    if (ev->closed()) {
                        sink.done();
                        return true;
                    }
                    static const char kPing[] = ": keep-alive\n\n";  // also notices a viewer that left
                    if (!sink.write(kPing, sizeof kPing - 1)) {
                        ev->close();
                        return false;
                    }
                    return true;
                }
                const std::string msg = "event: detections\ndata: " + *m + "\n\n";
                if (!sink.write(msg.data(), msg.size())) {
                    ev->close();
                    return false;
                }
                return true;
            },
            [ev](bool) { ev->close(); });
    }

    void stream_info(const httplib::Request& req, httplib::Response& res) {
        if (!streams_ready(res)) return;
        const std::string id = req.matches[1];
        if (!stream_camera_known(id)) return send_error(res, 404, "camera '" + id + "' does not exist");
        auto j = streams->stream_json(id);
        if (!j.is_ok()) return send_error(res, http_status_for(j.status().code()), j.status().message());
        send_json(res, 200, *j);
    }

    void list_streams(const httplib::Request&, httplib::Response& res) {
        if (!streams_ready(res)) return;
        send_json(res, 200, streams->streams_json());
    }

    // --- routing ---
    using H = void (Impl::*)(const httplib::Request&, httplib::Response&);
    struct Route {
        std::string pattern;
        std::map<std::string, H> methods;
    };

    void register_routes() {
        const std::vector<Route> routes = {
            {"/health", {{"GET", &Impl::health}}},
            {"/health/ready", {{"GET", &Impl::ready}}},
            {"/health/performance", {{"GET", &Impl::performance}}},
            {"/metrics", {{"GET", &Impl::metrics}}},
            {"/api/v1/cameras", {{"GET", &Impl::list_cameras}, {"POST", &Impl::add_camera}}},
            {R"(/api/v1/cameras/([^/]+))", {{"GET", &Impl::get_camera}, {"DELETE", &Impl::delete_camera}}},
            {R"(/api/v1/cameras/([^/]+)/detections/latest)", {{"GET", &Impl::latest}}},
            {"/api/v1/alerts", {{"GET", &Impl::alerts}}},
            {"/api/v1/baseline", {{"POST", &Impl::baseline}}},
            {R"(/streams/([^/]+)/live\.mp4)", {{"GET", &Impl::stream_live}}},
            {R"(/streams/([^/]+)/detections)", {{"GET", &Impl::stream_events}}},
            {R"(/streams/([^/]+))", {{"GET", &Impl::stream_info}}},
            {"/api/v1/streams", {{"GET", &Impl::list_streams}}},
            {web_route_pattern(), {{"GET", &Impl::dashboard}}},  // /, /app.js, /style.css: embedded only
        };
        const char* all[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
        for (const auto& r : routes) {
            std::string allow;
            for (const auto& [m, h] : r.methods) {
                if (!allow.empty()) allow += ", ";
                allow += m == "GET" ? "GET, HEAD" : m;
            }
            for (const char* m : all) {
                httplib::Server::Handler handler;
                auto it = r.methods.find(m);
                if (it != r.methods.end()) {
                    H h = it->second;
                    handler = [this, h](const httplib::Request& req, httplib::Response& res) { (this->*h)(req, res); };
                } else {
                    handler = [allow](const httplib::Request& req, httplib::Response& res) {
                        res.set_header("Allow", allow);
                        send_error(res, 405, "method " + req.method + " is not allowed on " + req.path +
                                                 " (allowed: " + allow + ")");
                    };
                }
                const std::string method = m;
                if (method == "GET") svr.Get(r.pattern, handler);
                else if (method == "POST") svr.Post(r.pattern, handler);
                else if (method == "PUT") svr.Put(r.pattern, handler);
                else if (method == "PATCH") svr.Patch(r.pattern, handler);
                else if (method == "DELETE") svr.Delete(r.pattern, handler);
                else svr.Options(r.pattern, handler);
            }
        }
        httplib::Server::HandlerWithResponse on_error = [this](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // already a JSON error
            std::string msg = default_message(res.status);
            if (res.status == 404) msg = "no such endpoint: " + req.method + " " + req.path;
            if (res.status == 413)
                msg = "request body too large (limit " + std::to_string(opt.max_body_bytes) + " bytes)";
            send_error(res, res.status, msg);
            return httplib::Server::HandlerResponse::Handled;
        };
        svr.set_error_handler(on_error);
        svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "unknown exception";
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            send_error(res, 500, "internal error: " + what);
        });
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
    if (o.read_timeout_s < 1 || o.write_timeout_s < 1) return invalid_argument("timeouts must be >= 1 s");
    if (o.keep_alive_max_count < 1 || o.keep_alive_timeout_s < 1)
        return invalid_argument("keep-alive count and timeout must be >= 1");

    const size_t threads = static_cast<size_t>(o.threads);
    I.svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let a second server bind a port that
    // is already in use instead of failing.
    const int sndbuf = o.send_buffer_bytes;
    I.svr.set_socket_options([sndbuf](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        // Accepted connections inherit the listening socket's buffer size (Linux).
        if (sndbuf > 0) setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    });
    I.svr.set_payload_max_length(o.max_body_bytes);
    I.svr.set_read_timeout(o.read_timeout_s, 0);
    I.svr.set_write_timeout(o.write_timeout_s, 0);
    I.svr.set_keep_alive_max_count(static_cast<size_t>(o.keep_alive_max_count));
    I.svr.set_keep_alive_timeout(o.keep_alive_timeout_s);
    // Small JSON answers on kept-alive connections would otherwise wait for delayed ACKs (Nagle): 40 ms each.
    I.svr.set_tcp_nodelay(true);
    I.register_routes();

    errno = 0;
    int port = -1;
    if (o.port == 0) {
        port = I.svr.bind_to_any_port(o.host);
    } else if (I.svr.bind_to_port(o.host, o.port)) {
        port = o.port;
    }
    if (port < 0) {
        const int e = errno;
        return unavailable("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                           (e ? std::string(std::strerror(e)) : std::string("bind failed")) +
                           " (is the port already in use, or the address not local?)");
    }
    I.started = true;
    I.bound_port = port;
    I.th = std::thread([&I] {
        I.svr.listen_after_bind();
        I.listen_returned = true;
    });
    // Wait until the accept loop runs, so that a stop() right after start() is not lost.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!I.svr.is_running() && !I.listen_returned && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!I.svr.is_running()) {
        I.svr.stop();
        if (I.th.joinable()) I.th.join();
        return internal_error("the HTTP server did not start on " + o.host + ":" + std::to_string(port));
    }
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
    if (!I.th.joinable()) return;
    if (I.streams) I.streams->close_all();  // long-lived responses end and give their threads back
    I.svr.stop();
    I.th.join();
}

int HttpService::port() const { return impl_->started ? impl_->bound_port.load() : impl_->opt.port; }

bool HttpService::running() const { return impl_->svr.is_running(); }

nlohmann::json HttpService::performance() {
    return performance_json(impl_->pipe.snapshot(), impl_->gpu->select(impl_->gpu_scope));
}

std::string HttpService::metrics_text() { return impl_->registry.text(); }

GpuMonitor& HttpService::gpu() { return *impl_->gpu; }

const GpuScope& HttpService::gpu_scope() const { return impl_->gpu_scope; }

}  // namespace itscam::service
