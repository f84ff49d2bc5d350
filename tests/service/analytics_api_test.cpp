// The traffic analytics API: parsing of the counts query (ISO 8601 / Unix times, intervals, errors naming the
// parameter), and GET /api/v1/cameras/{id}/counts and /analytics over real loopback HTTP with a service::Server
// around a real pipeline (YOLO11n, synthetic cameras, one with an analytics section): 404s, 400s, buckets from the
// SQLite history and from the in-memory ring, the analytics series in /metrics through promtool.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/time_format.h"
#include "pipeline/pipeline.h"
#include "service/api_analytics.h"
#include "service/server.h"
#include "service_test_util.h"

using namespace itscam;
using namespace itscam::service;
using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const int64_t kT0ms = 1'700'006'400'000;  // 2023-11-15T00:00:00Z
const SystemTime kT0 = from_epoch_ms(kT0ms);

TEST(AnalyticsApi, ParsesIsoAndUnixTimes) {
    EXPECT_EQ(*parse_api_time("2023-11-15T00:00:00Z"), kT0);
    EXPECT_EQ(*parse_api_time("2023-11-15T00:00Z"), kT0);
    EXPECT_EQ(*parse_api_time("2023-11-15"), kT0);
    EXPECT_EQ(*parse_api_time("2023-11-15T01:30:00+01:30"), kT0);
    EXPECT_EQ(*parse_api_time("2023-11-14T22:00:00-0200"), kT0);
    EXPECT_EQ(*parse_api_time("2023-11-15T00:00:00.250Z"), kT0 + 250ms);
    EXPECT_EQ(*parse_api_time("1700006400"), kT0);
    EXPECT_EQ(*parse_api_time("1700006400.5"), kT0 + 500ms);
    for (const char* bad : {"", "yesterday", "2023-13-01", "2023-02-30", "2023-11-15T25:00Z", "2023-11-15T00:00:00Q",
                            "-5", "1e99", "17000064OO", "2023-11-15T00:00:00+"})
        EXPECT_EQ(parse_api_time(bad).status().code(), StatusCode::kInvalidArgument) << bad;
}

TEST(AnalyticsApi, CountsQueryDefaultsAndErrorsNameTheParameter) {
    const SystemTime now = kT0 + 5h;
    auto q = parse_counts_query(std::nullopt, std::nullopt, std::nullopt, now);
    ASSERT_TRUE(q.is_ok());
    EXPECT_EQ(q->until, now);
    EXPECT_EQ(q->since, now - 1h);
    EXPECT_EQ(q->bucket_s, 60);
    q = parse_counts_query(std::string("1700006400"), std::string("2023-11-15T02:00:00Z"), std::string("15m"), now);
    ASSERT_TRUE(q.is_ok()) << q.status().to_string();
    EXPECT_EQ(q->since, kT0);
    EXPECT_EQ(q->until, kT0 + 2h);
    EXPECT_EQ(q->bucket_s, 900);
    EXPECT_EQ(q->interval, "15m");
    const auto err = [&](std::optional<std::string> s, std::optional<std::string> u, std::optional<std::string> i) {
        auto r = parse_counts_query(s, u, i, now);
        EXPECT_FALSE(r.is_ok());
        return r.is_ok() ? std::string() : r.status().message();
    };
    EXPECT_EQ(err("soon", std::nullopt, std::nullopt).rfind("since:", 0), 0u);
    EXPECT_EQ(err(std::nullopt, "", std::nullopt).rfind("until:", 0), 0u);
    EXPECT_EQ(err(std::nullopt, std::nullopt, "2m").rfind("interval:", 0), 0u);
    EXPECT_EQ(err("1700006400", "1700006400", std::nullopt).rfind("since:", 0), 0u);  // empty range
    EXPECT_EQ(err("0", std::nullopt, "1m").rfind("interval:", 0), 0u);                // 50 years of minutes
}

TEST(AnalyticsApi, CameraAnalyticsJsonHasGeometryAndState) {
    analytics::AnalyticsConfig cfg;
    analytics::LineConfig l;
    l.name = "north";
    l.a = {0, 100};
    l.b = {320, 100};
    l.forward_name = "inbound";
    l.backward_name = "outbound";
    cfg.lines = {l};
    analytics::ZoneConfig z;
    z.name = "stopbar";
    z.polygon = {{10, 10}, {100, 10}, {100, 80}, {10, 80}};
    cfg.zones = {z};
    analytics::AnalyticsSnapshot s;
    s.line_counts[{"north", "inbound", "car"}] = 4;
    s.line_counts[{"north", "inbound", "truck"}] = 1;
    analytics::ZoneState zs;
    zs.name = "stopbar";
    zs.occupancy = 2;
    zs.queue = 1;
    zs.congestion = "slow";
    s.zones = {zs};
    s.active_tracks = 3;
    const json j = camera_analytics_json("cam1", cfg, s, 320, 240);
    EXPECT_EQ(j["width"], 320);
    EXPECT_EQ(j["lines"][0]["a"], json::array({0.0, 100.0}));
    EXPECT_EQ(j["lines"][0]["counts"]["inbound"], 5);
    EXPECT_EQ(j["lines"][0]["counts"]["outbound"], 0);
    EXPECT_EQ(j["lines"][0]["by_class"].size(), 2u);
    EXPECT_EQ(j["zones"][0]["polygon"].size(), 4u);
    EXPECT_EQ(j["zones"][0]["occupancy"], 2);
    EXPECT_EQ(j["zones"][0]["queue"], 1);
    EXPECT_EQ(j["zones"][0]["congestion"], "slow");
    EXPECT_EQ(j["active_tracks"], 3);
}

// ---------------------------------------------------------------- live, over HTTP

const std::string kAnalyticsModel = test::kYoloModel;

config::CameraConfig camera(const std::string& id, bool with_analytics) {
    config::CameraConfig c;
    c.id = id;
    c.url = "synthetic://320x240@10";
    if (with_analytics) {
        analytics::LineConfig l;
        l.name = "north";
        l.a = {0, 120};
        l.b = {320, 120};
        l.forward_name = "inbound";
        l.backward_name = "outbound";
        c.analytics.lines = {l};
        analytics::ZoneConfig z;
        z.name = "stopbar";
        z.polygon = {{10, 130}, {300, 130}, {300, 230}, {10, 230}};
        c.analytics.zones = {z};
        c.analytics.interval_s = 1;  // intervals close every second: the ring fills quickly
    }
    return c;
}

// Server + pipeline with cameras "traffic" (analytics) and "plain" (none); history at `db` ("" = off).
struct Deployment {
    std::unique_ptr<Server> srv;
    std::unique_ptr<pipeline::Pipeline> pipe;
    std::unique_ptr<httplib::Client> cli;

    explicit Deployment(const std::string& db) {
        config::Config c = test::small_cpu_config();
        c.cameras = {camera("traffic", true), camera("plain", false)};
        c.server.port = 0;
        c.history.enabled = !db.empty();
        if (!db.empty()) c.history.path = db;
        ServerOptions so;
        so.log = [](const std::string&) {};
        so.analytics_flush_interval_s = 0.2;
        auto s = Server::create(c, so);
        EXPECT_TRUE(s.is_ok()) << s.status().to_string();
        if (!s) return;
        srv = std::move(s).value();
        pipeline::PipelineOptions po;
        po.log = [](const std::string&) {};
        srv->attach(po);
        auto p = pipeline::Pipeline::create(c, po);
        EXPECT_TRUE(p.is_ok()) << p.status().to_string();
        if (!p) return;
        pipe = std::move(p).value();
        EXPECT_TRUE(srv->start(*pipe).is_ok());
        EXPECT_TRUE(pipe->start().is_ok());
        cli = std::make_unique<httplib::Client>("127.0.0.1", srv->http()->port());
        cli->set_read_timeout(20, 0);
    }
    ~Deployment() {
        if (srv) srv->stop();
        if (pipe) pipe->stop(true);
        if (srv && pipe) srv->finish(pipe->snapshot());
    }
    json get(const std::string& path, int want) {
        auto r = cli->Get(path);
        EXPECT_TRUE(r) << path;
        if (!r) return json();
        EXPECT_EQ(r->status, want) << path << " -> " << r->body;
        return json::parse(r->body, nullptr, false);
    }
};

class AnalyticsApiLive : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!fs::exists(kAnalyticsModel)) GTEST_SKIP() << "model not found: " << kAnalyticsModel;
        dir_ = fs::temp_directory_path() / ("itscam_analytics_api_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(AnalyticsApiLive, CountsFromHistoryWithErrorsAndBuckets) {
    const std::string db = (dir_ / "history.db").string();
    // Recent enough to survive the Server's retention at start (30 days): a whole hour, 3 h ago.
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    const int64_t base_s = now_s / 3600 * 3600 - 3 * 3600, base_ms = base_s * 1000;
    {
        // Two hours of minutes recorded by an earlier run: 3 cars inbound per minute, a truck outbound every 10th.
        auto h = History::open(db);
        ASSERT_TRUE(h.is_ok()) << h.status().to_string();
        std::vector<analytics::IntervalAggregate> v;
        for (int m = 0; m < 120; ++m) {
            analytics::IntervalAggregate a;
            a.camera = "traffic";
            a.start_us = (base_ms + m * 60'000LL) * 1000;
            a.end_us = a.start_us + 60'000'000;
            a.line_counts[{"north", "inbound", "car"}] = 3;
            if (m % 10 == 0) a.line_counts[{"north", "outbound", "truck"}] = 1;
            a.zones["stopbar"].max_queue = m % 7;
            a.zones["stopbar"].congestion = "free";
            v.push_back(std::move(a));
        }
        ASSERT_TRUE((*h)->record_intervals(v).is_ok());
    }
    Deployment d(db);
    ASSERT_TRUE(d.cli);
    const std::string base = "/api/v1/cameras/traffic/counts";
    // Errors: unknown camera, camera without analytics, each bad parameter named.
    EXPECT_NE(d.get("/api/v1/cameras/nope/counts", 404)["error"].get<std::string>().find("does not exist"),
              std::string::npos);
    EXPECT_NE(d.get("/api/v1/cameras/plain/counts", 404)["error"].get<std::string>().find("no traffic analytics"),
              std::string::npos);
    EXPECT_NE(d.get("/api/v1/cameras/plain/analytics", 404)["error"].get<std::string>().find("no traffic analytics"),
              std::string::npos);
    EXPECT_EQ(d.get(base + "?since=tuesday", 400)["error"].get<std::string>().rfind("since:", 0), 0u);
    EXPECT_EQ(d.get(base + "?until=x", 400)["error"].get<std::string>().rfind("until:", 0), 0u);
    EXPECT_EQ(d.get(base + "?interval=7m", 400)["error"].get<std::string>().rfind("interval:", 0), 0u);
    // 15-minute buckets over the two hours: 8 buckets of 45 cars, trucks in 0,10 | 20 | 30,40 | 50 | ...
    const std::string since_iso = iso8601_utc(from_epoch_ms(base_ms)), until_unix = std::to_string(base_s + 7200);
    json j = d.get(base + "?since=" + since_iso + "&until=" + until_unix + "&interval=15m", 200);
    EXPECT_EQ(j["source"], "history");
    EXPECT_EQ(j["interval_s"], 900);
    ASSERT_EQ(j["buckets"].size(), 8u) << j.dump();
    const json& b0 = j["buckets"][0];
    EXPECT_EQ(b0["start"], since_iso);
    EXPECT_EQ(b0["intervals"], 15);
    int64_t cars = 0, trucks = 0;
    for (const auto& c : b0["counts"]) {
        if (c["class"] == "car" && c["direction"] == "inbound") cars += c["count"].get<int64_t>();
        if (c["class"] == "truck" && c["direction"] == "outbound") trucks += c["count"].get<int64_t>();
    }
    EXPECT_EQ(cars, 45);
    EXPECT_EQ(trucks, 2);
    EXPECT_EQ(b0["zones"]["stopbar"]["max_queue"], 6);
    for (const auto& t : j["totals"])
        if (t["class"] == "car") {
            EXPECT_EQ(t["count"], 360);
        }
    // Hour buckets, and the default 1m interval over an explicit hour.
    const std::string b = std::to_string(base_s);
    EXPECT_EQ(d.get(base + "?since=" + b + "&until=" + until_unix + "&interval=1h", 200)["buckets"].size(), 2u);
    EXPECT_EQ(d.get(base + "?since=" + b + "&until=" + std::to_string(base_s + 3600), 200)["buckets"].size(), 60u);
    // Default range: the last hour, nothing recorded there -> 60 empty minute buckets (61 when not aligned).
    const json recent = d.get(base, 200);
    EXPECT_GE(recent["buckets"].size(), 60u);
    EXPECT_LE(recent["buckets"].size(), 61u);
    int64_t recent_cars = 0;
    for (const auto& t : recent["totals"]) recent_cars += t["count"].get<int64_t>();
    EXPECT_EQ(recent_cars, 0);

    // The camera's config shows its analytics section (the form POST /api/v1/cameras takes); a plain one has none.
    const json cam = d.get("/api/v1/cameras/traffic", 200);
    ASSERT_TRUE(cam.contains("analytics")) << cam.dump();
    EXPECT_EQ(cam["analytics"]["lines"][0]["name"], "north");
    EXPECT_FALSE(d.get("/api/v1/cameras/plain", 200).contains("analytics"));

    // Live analytics: the configured geometry and the zone state.
    const json a = d.get("/api/v1/cameras/traffic/analytics", 200);
    ASSERT_EQ(a["lines"].size(), 1u);
    EXPECT_EQ(a["lines"][0]["name"], "north");
    EXPECT_EQ(a["lines"][0]["b"], json::array({320.0, 120.0}));
    ASSERT_EQ(a["zones"].size(), 1u);
    EXPECT_EQ(a["zones"][0]["polygon"].size(), 4u);
    EXPECT_TRUE(a["zones"][0].contains("congestion")) << a.dump();

    // /metrics: the analytics series of the camera with analytics only, and promtool is happy.
    ASSERT_TRUE(test::wait_for([&] { return d.pipe->ready(); }, 60));
    auto m = d.cli->Get("/metrics");
    ASSERT_TRUE(m && m->status == 200);
    EXPECT_NE(m->body.find("itscam_active_tracks{camera=\"traffic\"}"), std::string::npos);
    EXPECT_NE(m->body.find("itscam_zone_occupancy{camera=\"traffic\",zone=\"stopbar\"}"), std::string::npos);
    EXPECT_EQ(m->body.find("itscam_active_tracks{camera=\"plain\"}"), std::string::npos);
    const std::string r = test::promtool_check(m->body);
    if (r.rfind("skip:", 0) != 0) {
        EXPECT_EQ(r, "");
    }
}

TEST_F(AnalyticsApiLive, CountsFromTheRingWithoutHistoryAndFlushedAtFinish) {
    const auto t_start = std::chrono::system_clock::now();
    Deployment d("");
    ASSERT_TRUE(d.cli);
    ASSERT_TRUE(test::wait_for([&] { return d.pipe->ready(); }, 60));
    // Intervals of 1 s close as frames are processed; the Server collects them every 0.2 s into its ring.
    ASSERT_TRUE(test::wait_for([&] { return d.srv->recent_intervals().size() >= 2; }, 30))
        << "no interval collected";
    const json j = d.get("/api/v1/cameras/traffic/counts?interval=1m", 200);
    EXPECT_EQ(j["source"], "memory");
    int64_t intervals = 0;
    for (const auto& b : j["buckets"]) intervals += b["intervals"].get<int64_t>();
    EXPECT_GE(intervals, 2) << j.dump();
    // finish() takes what is left, the running intervals too (flush): the ring grows past what the timer had
    // collected once it stopped.
    d.srv->stop();
    d.pipe->stop(true);
    const size_t before = d.srv->recent_intervals().size();
    d.srv->finish(d.pipe->snapshot());
    EXPECT_GT(d.srv->recent_intervals().size(), before);
    const auto all = d.srv->recent_intervals().query("traffic", t_start - 1min, std::chrono::system_clock::now() + 1min);
    EXPECT_EQ(all.size(), d.srv->recent_intervals().size());
}

}  // namespace
