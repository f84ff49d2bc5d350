// The HTTP API in cluster mode (api_cluster.h) over real loopback HTTP with a real Pipeline: the camera list from
// the cluster with owners, POST / DELETE through the cluster's store, 307 to the owner (same path and query) for a
// camera that runs elsewhere, 503 while a camera has no owner, 404 for one the cluster does not have, the
// cluster object of /health/performance, and CORS for the members' dashboards (http_cors.h). The cluster side is an in-memory ClusterApi (the etcd one is tested with
// real processes in tests/cluster/cluster_nodes_test.py).
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "service/http_cors.h"
#include "service/http_service.h"
#include "service_test_util.h"

using namespace itscam;
using namespace itscam::service;
using json = nlohmann::json;

namespace {

const std::string kToken = "cluster-token";

// The cluster's store as a map; `down` makes every call fail as an unreachable etcd does.
class MemoryCluster : public ClusterApi {
  public:
    struct Cam {
        std::string spec, owner, api;
        int64_t epoch = 0;
    };
    std::mutex mu;
    std::map<std::string, Cam> cams;
    std::vector<std::string> member_api_list;  // the live members' API addresses
    std::string here = "n1";
    bool down = false;

    Result<std::vector<ClusterCamera>> cameras() override {
        std::lock_guard<std::mutex> lk(mu);
        if (down) return unavailable("etcd http://127.0.0.1:1 /v3/kv/range: Could not establish connection");
        std::vector<ClusterCamera> out;
        for (const auto& [id, c] : cams) out.push_back({id, c.spec, c.owner, c.api, c.epoch});
        return out;
    }
    Result<CameraOwner> owner(const std::string& id) override {
        std::lock_guard<std::mutex> lk(mu);
        if (down) return unavailable("etcd http://127.0.0.1:1 /v3/kv/range: Could not establish connection");
        CameraOwner o;
        auto it = cams.find(id);
        if (it == cams.end()) return o;
        o.exists = true;
        o.node = it->second.owner;
        o.api = it->second.api;
        o.epoch = it->second.epoch;
        o.here = o.node == here;
        return o;
    }
    Result<bool> create_camera(const std::string& id, const std::string& spec) override {
        std::lock_guard<std::mutex> lk(mu);
        if (cams.count(id)) return false;
        cams[id] = {spec, "", "", 0};
        return true;
    }
    Status delete_camera(const std::string& id) override {
        std::lock_guard<std::mutex> lk(mu);
        if (!cams.erase(id)) return not_found("camera '" + id + "' does not exist in the cluster");
        return Status::ok();
    }
    Result<std::vector<std::string>> member_apis() override {
        std::lock_guard<std::mutex> lk(mu);
        if (down) return unavailable("etcd http://127.0.0.1:1 /v3/kv/range: Could not establish connection");
        return member_api_list;
    }
    json status_json() override { return json{{"node", here}, {"members", json::array()}}; }
};

json body_json(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

}  // namespace

class HttpClusterTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(test::kYoloModel)) GTEST_SKIP() << "model not found: " << test::kYoloModel;
        config::Config cfg = test::small_cpu_config();
        pipeline::PipelineOptions po;
        po.log = [](const std::string&) {};
        auto p = pipeline::Pipeline::create(cfg, po);
        ASSERT_TRUE(p.is_ok()) << p.status().to_string();
        pipe_ = std::move(p).value();
        ASSERT_TRUE(pipe_->start().is_ok());
        config::CameraConfig a;
        a.id = "a";
        a.url = "synthetic://64x64@5";
        ASSERT_TRUE(pipe_->add_camera(a, 7).is_ok());  // runs here, epoch 7
        cluster_ = std::make_shared<MemoryCluster>();
        cluster_->cams["a"] = {R"({"id":"a","url":"synthetic://64x64@5"})", "n1", "http://127.0.0.1:1", 7};
        cluster_->cams["far"] = {R"({"id":"far","url":"rtsp://user:pw@cam/x"})", "n2", "http://10.1.2.3:8000", 12};
        cluster_->cams["orphan"] = {R"({"id":"orphan","url":"synthetic://64x64@5"})", "", "", 0};
        cluster_->member_api_list = {"http://127.0.0.1:1", "http://10.1.2.3:8000"};
        ServiceOptions so;
        so.port = 0;
        so.api_token = kToken;
        svc_ = std::make_unique<HttpService>(*pipe_, so);
        svc_->cluster = cluster_;
        ASSERT_TRUE(svc_->start().is_ok());
        cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
        cli_->set_read_timeout(20, 0);
    }
    void TearDown() override {
        if (svc_) svc_->stop();
        if (pipe_) pipe_->stop(false);
    }
    httplib::Headers auth() const { return {{"Authorization", "Bearer " + kToken}}; }

    std::unique_ptr<pipeline::Pipeline> pipe_;
    std::shared_ptr<MemoryCluster> cluster_;
    std::unique_ptr<HttpService> svc_;
    std::unique_ptr<httplib::Client> cli_;
};

TEST_F(HttpClusterTest, ListsTheClustersCamerasWithOwners) {
    auto r = cli_->Get("/api/v1/cameras");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json cams = body_json(r)["cameras"];
    ASSERT_EQ(cams.size(), 3u) << r->body;
    std::map<std::string, json> by_id;
    for (const auto& c : cams) by_id[c["id"].get<std::string>()] = c;
    EXPECT_EQ(by_id["a"]["owner"], "n1");
    EXPECT_EQ(by_id["a"]["epoch"], 7);
    EXPECT_TRUE(by_id["a"].contains("state")) << "a runs here: its live state is shown";
    EXPECT_EQ(by_id["far"]["owner"], "n2");
    EXPECT_EQ(by_id["far"]["owner_api"], "http://10.1.2.3:8000");
    EXPECT_EQ(by_id["far"]["url"], "rtsp://user:***@cam/x") << "the password never shows";
    EXPECT_FALSE(by_id["far"].contains("state"));
    EXPECT_TRUE(by_id["orphan"]["owner"].is_null());

    cluster_->down = true;
    r = cli_->Get("/api/v1/cameras");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(body_json(r)["error"].get<std::string>().find("etcd"), std::string::npos) << r->body;
}

TEST_F(HttpClusterTest, RedirectsPerCameraRequestsToTheOwner) {
    for (const std::string path : {"/api/v1/cameras/far/detections/latest?x=1&y=2", "/api/v1/cameras/far/counts",
                                   "/api/v1/cameras/far", "/streams/far/live.mp4?rendition=low",
                                   "/streams/far/detections"}) {
        auto r = cli_->Get(path);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 307) << path << ": " << r->body;
        EXPECT_EQ(r->get_header_value("Location"), "http://10.1.2.3:8000" + path);
        EXPECT_EQ(body_json(r)["owner"], "n2");
    }
    // Held by nobody: 503 with a reason; unknown to the cluster: 404; running here: answered here.
    auto r = cli_->Get("/api/v1/cameras/orphan/detections/latest");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(body_json(r)["error"].get<std::string>().find("no owner"), std::string::npos) << r->body;
    r = cli_->Get("/api/v1/cameras/nosuch/detections/latest");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    r = cli_->Get("/api/v1/cameras/a/detections/latest");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(body_json(r)["camera"], "a");
    // etcd unreachable: the owner cannot be known.
    cluster_->down = true;
    r = cli_->Get("/api/v1/cameras/far/detections/latest");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
}

TEST_F(HttpClusterTest, PostAndDeleteGoToTheClusterStore) {
    const std::string spec = R"({"id": "new1", "url": "synthetic://64x64@5", "max_fps": 1})";
    auto r = cli_->Post("/api/v1/cameras", auth(), spec, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201) << r->body;
    EXPECT_TRUE(body_json(r)["owner"].is_null());
    ASSERT_EQ(cluster_->cams.count("new1"), 1u);
    EXPECT_EQ(cluster_->cams["new1"].spec, spec) << "stored as posted";
    EXPECT_FALSE(pipe_->camera_config("new1").is_ok()) << "not started locally: its owner starts it";
    r = cli_->Post("/api/v1/cameras", auth(), spec, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 409) << r->body;
    r = cli_->Post("/api/v1/cameras", auth(), R"({"id": "bad id!", "url": "synthetic://64x64@5"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << "checked before it reaches the store";
    r = cli_->Delete("/api/v1/cameras/new1", auth());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204) << r->body;
    EXPECT_EQ(cluster_->cams.count("new1"), 0u);
    r = cli_->Delete("/api/v1/cameras/new1", auth());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << r->body;
}

TEST_F(HttpClusterTest, PerformanceAndRecordsCarryTheCluster) {
    auto r = cli_->Get("/health/performance");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(body_json(r)["cluster"]["node"], "n1");
    // The camera added with epoch 7 stamps it on its records.
    ASSERT_TRUE(test::wait_for([&] { return pipe_->latest("a").is_ok() && pipe_->latest("a")->frame > 0; }, 30));
    EXPECT_EQ(pipe_->latest("a")->epoch, 7);
    const json rec = json::parse(pipeline::detection_record_json(*pipe_->latest("a")));
    EXPECT_EQ(rec["epoch"], 7);
}

// CORS: the dashboard of member n2 (origin http://10.1.2.3:8000) reads camera a, which runs here.
const std::string kPeer = "http://10.1.2.3:8000";

TEST_F(HttpClusterTest, CorsAllowsTheMembersDashboards) {
    httplib::Headers h = auth();
    h.emplace("Origin", kPeer);
    for (const std::string path : {"/api/v1/cameras/a", "/api/v1/cameras/a/detections/latest"}) {
        auto r = cli_->Get(path, h);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 200) << path << ": " << r->body;
        EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kPeer) << path;
        EXPECT_EQ(r->get_header_value("Vary"), "Origin") << path;
    }
    // Written differently (upper case, default port spelled out): the same origin, answered in its normal form.
    h = auth();
    h.emplace("Origin", "HTTP://127.0.0.1:1");
    auto r = cli_->Get("/api/v1/cameras/a", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "http://127.0.0.1:1");
}

TEST_F(HttpClusterTest, CorsNeverReflectsAnUnknownOrigin) {
    for (const std::string origin : {"http://evil.example", "http://10.1.2.3:8001", "https://10.1.2.3:8000", "null",
                                     "http://10.1.2.3:8000.evil.example"}) {
        httplib::Headers h = auth();
        h.emplace("Origin", origin);
        auto r = cli_->Get("/api/v1/cameras/a", h);
        ASSERT_TRUE(r) << origin;
        EXPECT_EQ(r->status, 200) << "answered as without CORS: " << r->body;
        EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin")) << origin;
        h.emplace("Access-Control-Request-Method", "GET");
        r = cli_->Options("/streams/a/live.mp4", h);
        ASSERT_TRUE(r) << origin;
        EXPECT_EQ(r->status, 204) << "no error page";
        for (const char* name : {"Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                                 "Access-Control-Allow-Headers", "Access-Control-Max-Age"})
            EXPECT_FALSE(r->has_header(name)) << origin << ": " << name;
    }
}

TEST_F(HttpClusterTest, CorsPreflightNeedsNoToken) {
    const httplib::Headers h{{"Origin", kPeer},
                             {"Access-Control-Request-Method", "GET"},
                             {"Access-Control-Request-Headers", "authorization"}};
    for (const std::string path : {"/streams/a/live.mp4", "/streams/a/detections", "/api/v1/cameras/a/analytics"}) {
        auto r = cli_->Options(path, h);
        ASSERT_TRUE(r) << path;
        EXPECT_EQ(r->status, 204) << path << ": " << r->body;
        EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kPeer) << path;
        EXPECT_EQ(r->get_header_value("Access-Control-Allow-Methods"), "GET, HEAD");
        EXPECT_EQ(r->get_header_value("Access-Control-Allow-Headers"), "Authorization");
        EXPECT_EQ(r->get_header_value("Access-Control-Max-Age"), std::to_string(CorsPolicy::kMaxAgeS));
        EXPECT_TRUE(r->body.empty());
    }
    // A preflight for a camera that runs elsewhere is answered here too (browsers follow no redirect on one).
    auto r = cli_->Options("/streams/far/live.mp4", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204);
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kPeer);
    // etcd unreachable: the members last read stay allowed (cameras keep running through an outage).
    cluster_->down = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the policy's refresh
    r = cli_->Options("/streams/a/live.mp4", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kPeer);
}

TEST_F(HttpClusterTest, CorsRefusalsReachThePage) {
    // With a read token, a member's page that sends none (or a stale one) gets the 401 with the CORS headers, so it
    // can say "unauthorized" instead of a network error; other origins and writes still get none.
    ServiceOptions so;
    so.port = 0;
    so.api_token = kToken;
    so.read_token = "reader-token";
    HttpService svc(*pipe_, so);
    svc.cluster = cluster_;
    ASSERT_TRUE(svc.start().is_ok());
    httplib::Client cli("127.0.0.1", svc.port());
    for (const std::string token : {"", "stale"}) {
        httplib::Headers h{{"Origin", kPeer}};
        if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
        for (const std::string path : {"/api/v1/cameras/a", "/streams/a/live.mp4"}) {
            auto r = cli.Get(path, h);
            ASSERT_TRUE(r) << path;
            EXPECT_EQ(r->status, 401) << path << ": " << r->body;
            EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kPeer) << path;
            EXPECT_TRUE(r->has_header("WWW-Authenticate")) << path;
        }
    }
    auto r = cli.Get("/api/v1/cameras/a", httplib::Headers{{"Origin", "http://evil.example"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
    r = cli.Delete("/api/v1/cameras/a", httplib::Headers{{"Origin", kPeer}, {"Authorization", "Bearer reader-token"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
    r = cli.Get("/api/v1/cameras/a", httplib::Headers{{"Origin", kPeer}, {"Authorization", "Bearer reader-token"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), kPeer);
    svc.stop();
}

TEST_F(HttpClusterTest, DashboardMayConnectToTheMembers) {
    auto r = cli_->Get("/");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_NE(r->get_header_value("Content-Security-Policy").find("connect-src 'self' http://127.0.0.1:1 " + kPeer + ";"),
              std::string::npos)
        << r->get_header_value("Content-Security-Policy");
}

TEST_F(HttpClusterTest, CorsNeverOpensWrites) {
    // A preflight for DELETE (or POST) from a member's dashboard gets no CORS headers: the browser never sends it.
    for (const char* method : {"DELETE", "POST", "PUT"}) {
        const httplib::Headers h{{"Origin", kPeer}, {"Access-Control-Request-Method", method}};
        auto r = cli_->Options("/api/v1/cameras/a", h);
        ASSERT_TRUE(r) << method;
        EXPECT_EQ(r->status, 204);
        EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin")) << method;
        EXPECT_FALSE(r->has_header("Access-Control-Allow-Methods")) << method;
    }
    // Nor does the write itself, even with the right token.
    httplib::Headers h = auth();
    h.emplace("Origin", kPeer);
    auto r = cli_->Delete("/api/v1/cameras/orphan", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204) << r->body;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
    r = cli_->Post("/api/v1/cameras", h, R"({"id": "x1", "url": "synthetic://64x64@5"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201) << r->body;
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
    // OPTIONS on a write-only route is no preflight target at all.
    r = cli_->Options("/api/v1/baseline", httplib::Headers{{"Origin", kPeer}, {"Access-Control-Request-Method", "POST"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_FALSE(r->has_header("Access-Control-Allow-Origin"));
}
