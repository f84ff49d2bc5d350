// HttpService: the HTTP API and Prometheus metrics over a running Pipeline, on the event-driven HttpServer
// (http_server.h: Boost.Beast/Asio; no thread per connection, header/body/write deadlines, connection caps, TLS).
//
//   GET    /health                               200 {"status":"alive","uptime_s","version"}
//   GET    /health/ready                         200 when the pipeline can serve, else 503; {"ready","reason"} (+ ready_details)
//   GET    /health/performance                   SEED fields (see performance_json) + cameras, devices, stages
//   GET    /metrics                              Prometheus text format 0.0.4 (see metrics.h)
//   GET    /api/v1/cameras                       [{config..., state...}]
//   POST   /api/v1/cameras                       one camera as JSON -> 201 | 400 | 409 | 415
//   GET    /api/v1/cameras/{id}                  200 | 404
//   DELETE /api/v1/cameras/{id}                  204 | 404
//   GET    /api/v1/cameras/{id}/detections/latest   the latest DetectionRecord (pipeline::detection_record_json)
//   GET    /api/v1/cameras/{id}/counts?since=&until=&interval=   traffic counts per bucket (api_analytics.h): since
//                                                 and until ISO 8601 or Unix seconds (default: the last hour),
//                                                 interval 1m|5m|15m|1h (default 1m); 400 names a bad parameter,
//                                                 404 unknown camera or one without analytics, 503 when no
//                                                 interval history is attached (interval_history)
//   GET    /api/v1/cameras/{id}/analytics        live: lines and zones (geometry, names) with counts, occupancy,
//                                                 queue and congestion; 404 unknown camera or without analytics
//   GET    /api/v1/alerts                        the alerts_json hook, or {"alerts":[],"note":"alerting not configured"}
//   POST   /api/v1/baseline                      the record_baseline hook (501 when not configured; `itscam run`
//                                                 persists it through service::record_baseline, alerts_baseline.h)
//   GET    /streams/{id}/live.mp4[?rendition=R]  live annotated video: chunked fMP4 (init segment, then fragments
//                                                from a keyframe); 404 unknown camera, 400 unknown rendition,
//                                                503 beyond streaming.max_viewers (see stream_hub.h)
//   GET    /streams/{id}/detections              Server-Sent Events: one JSON object per frame, "pts" on the
//                                                video's timeline
//   GET    /streams/{id}                         the stream's renditions, MSE mime types, controller state
//   GET    /api/v1/streams                       every stream with its stats
// (the /streams endpoints answer 404 "streaming not configured" until set_streams() is called; the streams themselves
// are src/streaming's StreamHub)
// Cluster mode (`cluster` set, api_cluster.h): the camera list, POST and DELETE go to the cluster's store, and the
// per-camera GETs above (/api/v1/cameras/{id}..., /streams/{id}...) for a camera running on another node answer 307
// to its owner (503 while it has none), and answer the dashboards of the cluster's other members with CORS headers
// (OPTIONS preflights included, without a token; http_cors.h).
//
// Mutating endpoints (POST, DELETE) need `Authorization: Bearer <api_token>` (401 with WWW-Authenticate: Bearer
// when missing or wrong; compared in constant time); with an empty api_token they are disabled (403). With a
// read_token, reads (/api/v1/*, /health/performance, /metrics, /streams/*) need `Bearer <read_token or api_token>`
// (the /streams also take ?access_token=, for EventSource); /health, /health/ready and the dashboard files stay
// open. Both are checked from the headers, before any body byte is read. Every error body is JSON
// {"error": "...", "status": N}: unknown paths 404, wrong or unknown method 405 (with Allow), bodies over
// max_body_bytes 413, a Content-Encoding other than identity 415 (bodies are never decompressed), non-JSON
// bodies 400/415; malformed or ambiguous framing (see http_connection.h) 400 and close. No endpoint reads files: GET /, /app.js, /style.css serve the dashboard
// compiled into the binary (web_assets.h).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/pipeline.h"
#include "service/alerts.h"
#include "service/api_cluster.h"
#include "service/api_json.h"
#include "service/gpu_monitor.h"
#include "service/metrics_registry.h"
#include "streaming/stream_hub.h"

namespace itscam::service {

struct ServiceOptions {
    std::string host = "127.0.0.1";
    int port = 8000;                 // 0: any free port (port() tells which)
    std::string api_token;           // empty: POST/DELETE endpoints answer 403
    std::string read_token;          // set: reads need it (or api_token) too; see above
    size_t max_body_bytes = 64 * 1024;  // the decoded body
    int header_timeout_s = 10;       // request line + headers due this long after their first byte (accept)
    int read_timeout_s = 5;          // the body is due this long after the headers
    int write_timeout_s = 5;         // a response is due within this; a stream must make progress within it
    int keep_alive_max_count = 100;  // requests per connection
    int keep_alive_timeout_s = 5;    // idle seconds before a kept-alive connection is closed
    int max_connections = 1024;      // open connections; beyond: 503 and closed at once
    int max_connections_per_client = 64;  // ... from one client address
    int threads = 4;                 // handler threads (connections hold none: I/O is event-driven on 2 threads)
    int send_buffer_bytes = 0;       // SO_SNDBUF of every connection (0: the OS default, autotuned). A bound makes a
                                     // slow streaming viewer stall (and skip) sooner instead of filling megabytes
                                     // of kernel buffer first.
    std::string tls_cert;            // both set: HTTPS only (PEM paths, http_tls.h)
    std::string tls_key;
    std::string nvml_library = "libnvidia-ml.so.1";  // GPU metrics; a missing library only disables them
    std::shared_ptr<GpuMonitor> gpu;                 // shared with the caller (service::Server); null: one of its
                                                     // own on nvml_library
    std::optional<GpuScope> gpu_scope;               // the GPUs gpu_utilization covers; unset: the pipeline's config
};

class HttpService {
public:
    // The pipeline must outlive the service (stop() the service first).
    explicit HttpService(pipeline::Pipeline& pipeline, ServiceOptions opt = {});
    ~HttpService();  // stop()
    HttpService(const HttpService&) = delete;
    HttpService& operator=(const HttpService&) = delete;

    // Binds and starts serving on a thread of its own. kUnavailable when the address cannot be bound (port in use),
    // kInvalidArgument for bad options, kInternal if already started.
    Status start();
    // Stops accepting, ends the streams, closes the connections, lets running handlers finish, joins. Idempotent.
    void stop();
    int port() const;  // the bound port (after start), else the configured one
    bool running() const;

    // Hooks for the alerting part; set them before start() (they are read by the handler threads).
    std::function<nlohmann::json()> alerts_json;                // GET /api/v1/alerts
    std::function<Result<nlohmann::json>()> record_baseline;    // POST /api/v1/baseline
    // More members of GET /health/ready's body (an object; e.g. the event broker's state). They never change its
    // status code, which is the pipeline's alone.
    std::function<nlohmann::json()> ready_details;
    // GET .../counts: a camera's closed aggregation intervals with from <= start < to (service::Server answers from
    // the SQLite history, or from its in-memory ring when history is off); `source` names which ("history",
    // "memory"). Unset: the endpoint answers 503.
    struct IntervalHistory {
        std::function<Result<std::vector<analytics::IntervalAggregate>>(const std::string& camera, SystemTime from,
                                                                       SystemTime to)>
            query;
        std::string source;
    };
    IntervalHistory interval_history;
    // Cluster mode (api_cluster.h): the camera endpoints answer from and write to the cluster, per-camera requests
    // for a camera held by another node are redirected to it, /health/performance gains "cluster". Set before
    // start(); null: a stand-alone node.
    std::shared_ptr<ClusterApi> cluster;
    // More series for /metrics, after the pipeline's (and the streams'); thread-safe, any time.
    void add_metrics(std::shared_ptr<prometheus::Collectable> source);
    // Live video and detection streams (before start()); their series join /metrics. stop() ends every streaming
    // viewer first.
    void set_streams(std::shared_ptr<streaming::StreamHub> hub);

    // What the endpoints serve, for callers that want it without HTTP.
    nlohmann::json performance();
    std::string metrics_text();
    GpuMonitor& gpu();
    const GpuScope& gpu_scope() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Constant-time comparison of two secrets (time depends only on the length of `given`).
bool constant_time_equal(const std::string& expected, const std::string& given);

}  // namespace itscam::service
