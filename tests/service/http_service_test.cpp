// The HTTP API over real loopback HTTP (port 0) with a real Pipeline on the real YOLO11n model and synthetic
// cameras: every endpoint, readiness (and 503 when the device circuit is open with no fallback), bearer auth,
// body limits and content types, cameras added and removed at run time while the others keep running, and
// /metrics through promtool.
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "service/http_service.h"
#include "service/metrics.h"
#include "service/metrics_registry.h"
#include "service_test_util.h"

using namespace itscam;
using namespace itscam::pipeline;
using namespace itscam::service;
using json = nlohmann::json;
namespace fs = std::filesystem;
using itscam::service::test::wait_for;

namespace {

const std::string kServiceModel = test::kYoloModel;
const std::string kServiceToken = "s3cr3t-token";

config::Config base_config() {
    config::Config c = test::small_cpu_config();
    c.pipeline.max_queue_delay_ms = 5;
    c.pipeline.queue_capacity = 2;
    return c;
}

config::CameraConfig service_camera(const std::string& id, const std::string& url) {
    config::CameraConfig c;
    c.id = id;
    c.url = url;
    return c;
}

httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

json service_body_json(const httplib::Result& r) {
    if (!r) return json();
    return json::parse(r->body, nullptr, false);
}

void expect_json_error(const httplib::Result& r, int status) {
    ASSERT_TRUE(r) << "no response";
    EXPECT_EQ(r->status, status) << r->body;
    const json j = service_body_json(r);
    ASSERT_TRUE(j.is_object()) << r->body;
    EXPECT_EQ(j.value("status", 0), status) << r->body;
    EXPECT_FALSE(j.value("error", std::string()).empty()) << r->body;
}

}  // namespace

// One pipeline (two synthetic cameras) and one service shared by the tests of this suite, to keep the binary fast.
class HttpServiceTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!fs::exists(kServiceModel)) return;
        config::Config cfg = base_config();
        cfg.cameras = {service_camera("a", "synthetic://320x240@10"), service_camera("b", "synthetic://320x240@10")};
        PipelineOptions po;
        po.log = [](const std::string&) {};
        auto p = Pipeline::create(cfg, po);
        ASSERT_TRUE(p.is_ok()) << p.status().to_string();
        pipe_ = std::move(p).value().release();
        ASSERT_TRUE(pipe_->start().is_ok());
        ServiceOptions so;
        so.port = 0;
        so.api_token = kServiceToken;
        svc_ = new HttpService(*pipe_, so);
        // More series through the same writer (what service::Server adds for the alerts).
        struct Extra : prometheus::Collectable {
            std::vector<prometheus::MetricFamily> Collect() const override {
                FamilyBuilder b;
                b.single_gauge("itscam_alert_active", "Active alerts.", 0);
                return b.take();
            }
        };
        svc_->add_metrics(std::make_shared<Extra>());
        const Status st = svc_->start();
        ASSERT_TRUE(st.is_ok()) << st.to_string();
    }
    static void TearDownTestSuite() {
        delete svc_;
        svc_ = nullptr;
        if (pipe_) pipe_->stop(false);
        delete pipe_;
        pipe_ = nullptr;
    }
    void SetUp() override {
        if (!fs::exists(kServiceModel)) GTEST_SKIP() << "model not found: " << kServiceModel;
        ASSERT_NE(svc_, nullptr);
        cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
        cli_->set_read_timeout(20, 0);
    }
    int64_t processed(const std::string& id) {
        auto r = cli_->Get("/api/v1/cameras/" + id);
        if (!r || r->status != 200) return -1;
        return service_body_json(r)["stats"]["frames_processed"].get<int64_t>();
    }

    static Pipeline* pipe_;
    static HttpService* svc_;
    std::unique_ptr<httplib::Client> cli_;
};
Pipeline* HttpServiceTest::pipe_ = nullptr;
HttpService* HttpServiceTest::svc_ = nullptr;

TEST_F(HttpServiceTest, HealthReadyAndPerformance) {
    EXPECT_GT(svc_->port(), 0);
    auto r = cli_->Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    json j = service_body_json(r);
    EXPECT_EQ(j["status"], "alive");
    EXPECT_EQ(j["version"], "0.1.0");
    EXPECT_GE(j["uptime_s"].get<double>(), 0.0);

    r = cli_->Get("/health/ready");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    j = service_body_json(r);
    EXPECT_EQ(j["ready"], true);
    EXPECT_TRUE(j["reason"].is_string());

    ASSERT_TRUE(wait_for([&] { return processed("a") > 2; }, 30)) << "no frames from camera a";
    r = cli_->Get("/health/performance");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    j = service_body_json(r);
    EXPECT_EQ(j["status"], "healthy") << j.dump();
    EXPECT_GT(j["inference_latency_p99"].get<double>(), 0.0);
    EXPECT_TRUE(j["gpu_utilization"].is_null() || j["gpu_utilization"].is_number());
    // The pipeline runs on the CPU: no GPU stands for it, whatever NVML sees, and the answer says so.
    EXPECT_TRUE(j["gpu_utilization"].is_null());
    EXPECT_EQ(j["gpu_utilization_note"], "device is cpu: the pipeline uses no GPU");
    EXPECT_EQ(j["gpu_utilization_gpus"], json::array());
    const double eff = j["memory_pool_efficiency"].get<double>();
    EXPECT_GE(eff, 0.0);
    EXPECT_LE(eff, 1.0);
    EXPECT_EQ(j["circuit_breaker_state"], "closed");
    ASSERT_TRUE(j["cameras"].is_array());
    EXPECT_GE(j["cameras"].size(), 1u);
    for (const auto& c : j["cameras"]) {
        for (const char* k : {"id", "state", "fps", "frames_processed", "frames_dropped", "reconnects",
                              "e2e_latency_p50", "e2e_latency_p99", "last_error", "degraded"})
            EXPECT_TRUE(c.contains(k)) << k;
    }
    ASSERT_EQ(j["devices"].size(), 1u);
    for (const char* k : {"name", "circuit", "batches", "failures", "fallback_batches", "busy"})
        EXPECT_TRUE(j["devices"][0].contains(k)) << k;
    EXPECT_TRUE(j["stages"].contains("inference"));
    EXPECT_TRUE(j["stages"]["e2e"].contains("p95_ms"));
}

TEST_F(HttpServiceTest, MetricsPassPromtoolWithHistogramsAndCameraSeries) {
    ASSERT_TRUE(wait_for([&] { return processed("a") > 2; }, 30));
    auto r = cli_->Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
    const std::string& t = r->body;
    for (const char* stage : {"decode", "queue", "batch_wait", "preprocess", "inference", "nms", "e2e"})
        EXPECT_NE(t.find(std::string("itscam_stage_latency_seconds_bucket{stage=\"") + stage + "\",le=\"+Inf\"}"),
                  std::string::npos)
            << stage;
    EXPECT_NE(t.find("itscam_stage_latency_seconds_sum{stage=\"inference\"}"), std::string::npos);
    EXPECT_NE(t.find("itscam_stage_latency_seconds_count{stage=\"e2e\"}"), std::string::npos);
    EXPECT_NE(t.find("itscam_camera_fps{camera=\"a\"}"), std::string::npos);
    EXPECT_NE(t.find("itscam_camera_up{camera=\"a\"} 1"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_camera_frames_processed_total{camera=\"a\"}"), std::string::npos);
    EXPECT_NE(t.find("itscam_frames_processed_total "), std::string::npos);
    EXPECT_NE(t.find("itscam_batches_total "), std::string::npos);
    EXPECT_NE(t.find("itscam_batch_executions_total{batch_size=\"1\"}"), std::string::npos);
    EXPECT_NE(t.find("itscam_circuit_state{device=\"cpu\"} 0"), std::string::npos);
    EXPECT_NE(t.find("itscam_device_busy_ratio{device=\"cpu\"}"), std::string::npos);
    EXPECT_NE(t.find("itscam_memory_pool_efficiency "), std::string::npos);
    EXPECT_NE(t.find("itscam_pool_acquires_total{"), std::string::npos);
    EXPECT_NE(t.find("itscam_alert_active 0"), std::string::npos) << "add_metrics source";
    if (!svc_->gpu().available()) {
        EXPECT_EQ(t.find("itscam_gpu_"), std::string::npos) << "no NVML: no GPU metrics";
    }
    const std::string res = test::promtool_check(t);
    if (res.rfind("skip:", 0) == 0) GTEST_SKIP() << res;
    EXPECT_EQ(res, "") << t;
}

TEST_F(HttpServiceTest, CameraListGetAndUnknown) {
    auto r = cli_->Get("/api/v1/cameras");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    json j = service_body_json(r);
    ASSERT_TRUE(j["cameras"].is_array());
    bool found_a = false;
    for (const auto& c : j["cameras"]) {
        if (c["id"] == "a") {
            found_a = true;
            EXPECT_EQ(c["url"], "synthetic://320x240@10");
            EXPECT_TRUE(c["state"].is_string());
            EXPECT_TRUE(c["stats"].contains("fps"));
            EXPECT_EQ(c["confidence"], 0.25);
        }
    }
    EXPECT_TRUE(found_a);
    r = cli_->Get("/api/v1/cameras/a");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(service_body_json(r)["id"], "a");
    expect_json_error(cli_->Get("/api/v1/cameras/nope"), 404);
    expect_json_error(cli_->Get("/api/v1/cameras/nope/detections/latest"), 404);
}

TEST_F(HttpServiceTest, LatestDetectionsParse) {
    ASSERT_TRUE(wait_for([&] { return processed("a") > 0; }, 30));
    auto r = cli_->Get("/api/v1/cameras/a/detections/latest");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    const json j = service_body_json(r);
    ASSERT_TRUE(j.is_object()) << r->body;
    EXPECT_EQ(j["camera"], "a") << r->body;
    EXPECT_GE(j["frame"].get<int64_t>(), 0);
    EXPECT_EQ(j["width"], 320);
    EXPECT_EQ(j["height"], 240);
    EXPECT_EQ(j["device"], "cpu");
    EXPECT_TRUE(j["detections"].is_array());
}

TEST_F(HttpServiceTest, AuthRequiredForMutations) {
    const std::string cam = R"({"id": "authcam", "url": "synthetic://64x64@5"})";
    auto r = cli_->Post("/api/v1/cameras", cam, "application/json");
    expect_json_error(r, 401);
    EXPECT_EQ(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u);
    r = cli_->Post("/api/v1/cameras", bearer("wrong"), cam, "application/json");
    expect_json_error(r, 401);
    EXPECT_EQ(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u);
    r = cli_->Post("/api/v1/cameras", httplib::Headers{{"Authorization", "Basic dXNlcjpwYXNz"}}, cam,
                   "application/json");
    expect_json_error(r, 401);
    expect_json_error(cli_->Delete("/api/v1/cameras/a"), 401);
    expect_json_error(cli_->Delete("/api/v1/cameras/a", bearer(kServiceToken + "x")), 401);
    expect_json_error(cli_->Post("/api/v1/baseline", "", "application/json"), 401);
    EXPECT_EQ(processed("a") >= 0, true) << "camera a untouched";
    r = cli_->Get("/api/v1/cameras/authcam");
    expect_json_error(r, 404);

    // A second service on the same pipeline with no token: mutations disabled (403), reads fine.
    ServiceOptions so;
    so.port = 0;
    HttpService open(*pipe_, so);
    ASSERT_TRUE(open.start().is_ok());
    httplib::Client c2("127.0.0.1", open.port());
    r = c2.Post("/api/v1/cameras", bearer(kServiceToken), cam, "application/json");
    expect_json_error(r, 403);
    EXPECT_NE(service_body_json(r)["error"].get<std::string>().find("token"), std::string::npos);
    expect_json_error(c2.Delete("/api/v1/cameras/a", bearer(kServiceToken)), 403);
    r = c2.Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    open.stop();
    open.stop();  // idempotent
}

TEST_F(HttpServiceTest, BadBodies) {
    const auto h = bearer(kServiceToken);
    auto r = cli_->Post("/api/v1/cameras", h, "{not json", "application/json");
    expect_json_error(r, 400);
    EXPECT_NE(service_body_json(r)["error"].get<std::string>().find("JSON"), std::string::npos);
    expect_json_error(cli_->Post("/api/v1/cameras", h, "[1, 2]", "application/json"), 400);
    // Invalid fields: the parser's message comes back.
    r = cli_->Post("/api/v1/cameras", h, R"({"id": "bad id!", "url": "synthetic://64x64@5"})", "application/json");
    expect_json_error(r, 400);
    EXPECT_NE(r->body.find("id"), std::string::npos);
    r = cli_->Post("/api/v1/cameras", h, R"({"id": "x", "url": "synthetic://64x64@5", "confidence": 7})",
                   "application/json");
    expect_json_error(r, 400);
    r = cli_->Post("/api/v1/cameras", h, R"({"id": "x", "url": "synthetic://64x64@5", "bogus_field": 1})",
                   "application/json");
    EXPECT_EQ(r->status, 400) << r->body;
    // Not JSON content.
    expect_json_error(cli_->Post("/api/v1/cameras", h, "id=x", "application/x-www-form-urlencoded"), 415);
    // Over max_body_bytes (64 KiB).
    const std::string big = R"({"id": "big", "url": "synthetic://64x64@5", "pad": ")" + std::string(100 * 1024, 'x') +
                            "\"}";
    expect_json_error(cli_->Post("/api/v1/cameras", h, big, "application/json"), 413);
    // Duplicate id.
    expect_json_error(cli_->Post("/api/v1/cameras", h, R"({"id": "a", "url": "synthetic://64x64@5"})",
                                 "application/json"),
                      409);
}

// Input rules (config_limits.cpp): each a prompt 400 naming the field, never a 500, and nothing is added.
TEST_F(HttpServiceTest, CameraInputRules) {
    const auto h = bearer(kServiceToken);
    auto post = [&](const std::string& body) { return cli_->Post("/api/v1/cameras", h, body, "application/json"); };
    auto expect_400 = [&](const std::string& body, const std::string& says) {
        auto r = post(body);
        expect_json_error(r, 400);
        if (r) {
            EXPECT_NE(service_body_json(r)["error"].get<std::string>().find(says), std::string::npos)
                << body.substr(0, 200) << " -> " << r->body.substr(0, 300);
        }
    };
    // A number beyond a double is valid JSON: it was a 500 (nlohmann's out_of_range escaped the handler).
    expect_400(R"({"id": "n1", "url": "synthetic://64x64@5", "confidence": 1e999})", "confidence: number out of range");
    expect_400(R"({"id": "n2", "url": "synthetic://64x64@5", "max_fps": -1e999})", "max_fps: number out of range");
    for (const char* url : {"gopher://127.0.0.1:70/x", "ftp://h/a.mp4", "concat:/etc/passwd", "pipe:0", "data:,x",
                            "subfile,,start,0,end,9,,:/etc/passwd"})
        expect_400(std::string(R"({"id": "s1", "url": ")") + url + R"("})", "is not allowed");
    // Local files from the API need server.allow_file_cameras (off here).
    expect_400(R"({"id": "f1", "url": "/etc/passwd"})", "server.allow_file_cameras");
    expect_400(R"({"id": "f2", "url": "file:///etc/passwd"})", "server.allow_file_cameras");
    expect_400(R"({"id": "u1", "url": "rtsp://h/a\u0000b"})", "url: contains a control character");
    expect_400(R"({"id": ")" + std::string(5000, 'a') + R"(", "url": "synthetic://64x64@5"})", "id: must be 1 to 64");
    expect_400(R"({"id": "u2", "url": "rtsp://h/)" + std::string(5000, 'a') + R"("})",
               "url: is 5009 bytes long, at most 4096 are allowed");
    expect_400(R"({"id": ".", "url": "synthetic://64x64@5"})", "not '.' or '..'");
    expect_400(R"({"id": "..", "url": "synthetic://64x64@5"})", "not '.' or '..'");
    expect_400(R"({"id": "a\u0000", "url": "synthetic://64x64@5"})", "id: must be");
    auto r = cli_->Get("/api/v1/cameras");
    ASSERT_TRUE(r);
    const json listed = service_body_json(r);  // kept alive: the loop iterates over a member of it
    for (const auto& c : listed["cameras"]) {
        const std::string id = c.value("id", "");
        EXPECT_TRUE(id == "a" || id == "b" || id == "c") << "added despite a 400: " << id;
    }
}

TEST_F(HttpServiceTest, UnknownPathsAndWrongMethods) {
    expect_json_error(cli_->Get("/nope"), 404);
    expect_json_error(cli_->Get("/api/v1/cameras/a/b/c"), 404);
    expect_json_error(cli_->Get("/etc/passwd"), 404);
    auto r = cli_->Put("/health", "{}", "application/json");
    expect_json_error(r, 405);
    EXPECT_NE(r->get_header_value("Allow").find("GET"), std::string::npos);
    expect_json_error(cli_->Delete("/metrics"), 405);
    r = cli_->Post("/api/v1/cameras/a", bearer(kServiceToken), "{}", "application/json");
    expect_json_error(r, 405);
    EXPECT_NE(r->get_header_value("Allow").find("DELETE"), std::string::npos);
    expect_json_error(cli_->Get("/api/v1/baseline"), 405);
}

TEST_F(HttpServiceTest, AlertsAndBaselineHooks) {
    auto r = cli_->Get("/api/v1/alerts");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    json j = service_body_json(r);
    EXPECT_TRUE(j["alerts"].is_array());
    EXPECT_EQ(j["alerts"].size(), 0u);
    EXPECT_EQ(j["note"], "alerting not configured");
    expect_json_error(cli_->Post("/api/v1/baseline", bearer(kServiceToken), "", "application/json"), 501);

    // Hooks are set before start(): a service of its own.
    ServiceOptions so;
    so.port = 0;
    so.api_token = kServiceToken;
    HttpService s(*pipe_, so);
    s.alerts_json = [] { return json{{"alerts", json::array({json{{"rule", "p99"}, {"severity", "critical"}}})}}; };
    int calls = 0;
    s.record_baseline = [&]() -> Result<json> {
        if (++calls > 1) return unavailable("not enough samples");
        return json{{"baseline_p99_ms", 42.0}};
    };
    ASSERT_TRUE(s.start().is_ok());
    httplib::Client c("127.0.0.1", s.port());
    r = c.Get("/api/v1/alerts");
    ASSERT_TRUE(r);
    EXPECT_EQ(service_body_json(r)["alerts"][0]["rule"], "p99");
    r = c.Post("/api/v1/baseline", bearer(kServiceToken), "", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(service_body_json(r)["baseline_p99_ms"], 42.0);
    expect_json_error(c.Post("/api/v1/baseline", bearer(kServiceToken), "", "application/json"), 503);
}

TEST_F(HttpServiceTest, AddCameraSeesFramesRemoveAnotherWhileOthersRun) {
    const auto h = bearer(kServiceToken);
    auto r = cli_->Post("/api/v1/cameras", h, R"({"id": "c", "url": "synthetic://320x240@10", "max_fps": 5})",
                        "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    json j = service_body_json(r);
    EXPECT_EQ(j["id"], "c");
    EXPECT_EQ(j["max_fps"], 5.0);
    EXPECT_EQ(r->get_header_value("Location"), "/api/v1/cameras/c");
    ASSERT_TRUE(wait_for([&] { return processed("c") > 0; }, 30)) << "no frames from the added camera";
    r = cli_->Get("/api/v1/cameras/c/detections/latest");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    j = service_body_json(r);
    ASSERT_TRUE(j.is_object()) << r->body;
    EXPECT_EQ(j["camera"], "c") << r->body;
    EXPECT_TRUE(j["detections"].is_array());
    // The list shows the added camera with its config.
    r = cli_->Get("/api/v1/cameras/c");
    EXPECT_EQ(service_body_json(r)["max_fps"], 5.0);

    // Remove b while a and c keep running.
    r = cli_->Delete("/api/v1/cameras/b", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204) << r->body;
    EXPECT_TRUE(r->body.empty());
    expect_json_error(cli_->Get("/api/v1/cameras/b"), 404);
    expect_json_error(cli_->Delete("/api/v1/cameras/b", h), 404);
    const int64_t a0 = processed("a"), c0 = processed("c");
    EXPECT_TRUE(wait_for([&] { return processed("a") > a0 && processed("c") > c0; }, 30))
        << "the other cameras stopped after a removal";
    r = cli_->Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("itscam_camera_fps{camera=\"c\"}"), std::string::npos);
    EXPECT_EQ(r->body.find("itscam_camera_fps{camera=\"b\"}"), std::string::npos);
}

TEST_F(HttpServiceTest, PortInUseIsAClearError) {
    ServiceOptions so;
    so.port = svc_->port();
    so.api_token = kServiceToken;
    HttpService second(*pipe_, so);
    const Status st = second.start();
    EXPECT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find(std::to_string(so.port)), std::string::npos) << st.message();
    // The first one still answers.
    auto r = cli_->Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// A client that sends half a request and then nothing is cut off after header_timeout_s; the server keeps serving.
TEST_F(HttpServiceTest, SlowClientIsCutOff) {
    ServiceOptions so;
    so.port = 0;
    so.header_timeout_s = 1;
    HttpService s(*pipe_, so);
    ASSERT_TRUE(s.start().is_ok());
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const char partial[] = "GET /health HTTP/1.1\r\nHost: x\r\n";  // no final blank line
    ASSERT_GT(::send(fd, partial, sizeof(partial) - 1, 0), 0);
    const auto t0 = std::chrono::steady_clock::now();
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);  // blocks until the server gives up on us
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::close(fd);
    EXPECT_LE(n, static_cast<ssize_t>(sizeof(buf)));
    EXPECT_GE(waited, 0.5);
    EXPECT_LT(waited, 4.0) << "the slow client was not cut off by the header deadline";
    httplib::Client c("127.0.0.1", s.port());
    auto r = c.Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

// A device whose context is lost (sticky error) with the fallback disabled: nothing can serve, so /health/ready
// goes 503 with the pipeline's reason, and /health/performance reports degraded with the circuit open.
TEST(HttpServiceFaults, ReadyIs503WhenCircuitOpenWithoutFallback) {
    if (!fs::exists(kServiceModel)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config();
    cfg.settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD = 2;
    cfg.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 60;
    cfg.cameras = {service_camera("a", "synthetic://320x240@10")};
    PipelineOptions po;
    po.faults = std::make_shared<FaultController>();
    po.log = [](const std::string&) {};
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    Pipeline& pipe = **p;
    ServiceOptions so;
    so.port = 0;
    HttpService svc(pipe, so);
    ASSERT_TRUE(svc.start().is_ok());
    httplib::Client cli("127.0.0.1", svc.port());
    auto r = cli.Get("/health/ready");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "ready after create: " << r->body;

    po.faults->fail_next(-1, StatusCode::kDeviceLost);
    ASSERT_TRUE(pipe.start().is_ok());
    ASSERT_TRUE(wait_for(
        [&] {
            auto rr = cli.Get("/health/ready");
            return rr && rr->status == 503;
        },
        20));
    r = cli.Get("/health/ready");
    ASSERT_TRUE(r);
    json j = service_body_json(r);
    EXPECT_EQ(j["ready"], false);
    EXPECT_FALSE(j["reason"].get<std::string>().empty());
    r = cli.Get("/health/performance");
    ASSERT_TRUE(r);
    j = service_body_json(r);
    EXPECT_EQ(j["status"], "degraded");
    EXPECT_EQ(j["circuit_breaker_state"], "open");
    r = cli.Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("itscam_circuit_state{device=\"cpu\"} 2"), std::string::npos);
    EXPECT_NE(r->body.find("itscam_ready 0"), std::string::npos);
    svc.stop();
    pipe.stop(false);
}
