// History's traffic analytics tables: migration from schema 2, interval round trip, bucketing, congestion changes,
// retention.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "service/history.h"

namespace itscam::service {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const int64_t kAnalyticsT0ms = 1'700'006'400'000;  // 2023-11-15 00:00:00 UTC (a whole hour)
const SystemTime kAnalyticsT0 = from_epoch_ms(kAnalyticsT0ms);

std::string temp_db(const char* name) {
    const fs::path p = fs::temp_directory_path() / ("itscam_hist_analytics_" + std::to_string(::getpid()) + "_" + name);
    fs::remove(p);
    fs::remove(p.string() + "-wal");
    fs::remove(p.string() + "-shm");
    return p.string();
}

// One minute of camera `cam` starting `minute` minutes after kAnalyticsT0.
analytics::IntervalAggregate minute(const std::string& cam, int minute, int64_t cars_n, int64_t trucks_s,
                                    std::vector<double> speeds, const std::string& congestion = "free") {
    analytics::IntervalAggregate a;
    a.camera = cam;
    a.start_us = (kAnalyticsT0ms + minute * 60'000LL) * 1000;
    a.end_us = a.start_us + 60'000'000;
    if (cars_n) a.line_counts[{"north", "inbound", "car"}] = cars_n;
    if (trucks_s) a.line_counts[{"north", "outbound", "truck"}] = trucks_s;
    auto& z = a.zones["stopbar"];
    z.occupancy_pct = 10.0 * (minute % 5);
    z.mean_occupancy = 0.5 * (minute % 5);
    z.max_queue = minute % 5;
    z.entries = 3;
    z.exits = 2;
    if (!speeds.empty()) z.mean_speed_kmh = 40;
    z.congestion = congestion;
    a.speeds_kmh = std::move(speeds);
    return a;
}

// A congestion change of camera cam1's zone "stopbar", `ms` after kAnalyticsT0.
analytics::AnalyticsEvent congestion_change(const std::string& id, int64_t ms, const std::string& level,
                                            const std::string& previous) {
    analytics::AnalyticsEvent e;
    e.kind = analytics::EventKind::kCongestionChange;
    e.id = id;
    e.camera = "cam1";
    e.wall_time_us = (kAnalyticsT0ms + ms) * 1000;
    e.zone = "stopbar";
    e.level = level;
    e.previous_level = previous;
    return e;
}

// The schema of a version-2 itscam, exactly as it shipped (v1 tables + baselines), with a row to keep.
void create_v2_database(const std::string& path) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* kV2 =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE metric_samples (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, camera_id TEXT,"
        " latency_p50_ms REAL, latency_p95_ms REAL, latency_p99_ms REAL, fps REAL, pool_efficiency REAL,"
        " gpu_utilization REAL, circuit_state TEXT, frames_processed INTEGER NOT NULL DEFAULT 0,"
        " frames_dropped INTEGER NOT NULL DEFAULT 0, error_rate REAL, gpu_memory_pressure REAL,"
        " memory_allocation_p99_ms REAL);"
        "CREATE TABLE alert_events (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, rule TEXT NOT NULL,"
        " severity TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL, value REAL, threshold REAL,"
        " message TEXT);"
        "CREATE TABLE camera_events (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, camera_id TEXT NOT NULL,"
        " kind TEXT NOT NULL, message TEXT);"
        "CREATE TABLE circuit_transitions (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, device TEXT NOT NULL,"
        " from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT);"
        "CREATE TABLE baselines (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, p99_ms REAL NOT NULL,"
        " samples INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL DEFAULT '');"
        "INSERT INTO meta VALUES ('schema_version', '2');"
        "INSERT INTO baselines (ts_ms, p99_ms, samples, source) VALUES (1700000000000, 48.5, 100, 'test');"
        "INSERT INTO metric_samples (ts_ms, latency_p99_ms, fps, frames_processed) VALUES (1700006400000, 61.5, 30, 300);";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, kV2, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
}

TEST(HistoryAnalytics, MigratesAVersion2DatabaseInPlace) {
    const std::string path = temp_db("v2.db");
    create_v2_database(path);
    {
        auto h = History::open(path);
        ASSERT_TRUE(h.is_ok()) << h.status().to_string();
        EXPECT_EQ(*(*h)->schema_version(), History::kSchemaVersion);  // 2 -> 3 -> 4
        auto b = (*h)->latest_baseline();
        ASSERT_TRUE(b.is_ok() && *b);
        EXPECT_EQ((*b)->p99_ms, 48.5);
        auto s = (*h)->samples(kAnalyticsT0, kAnalyticsT0 + 1h);
        ASSERT_TRUE(s.is_ok());
        EXPECT_EQ(s->size(), 1u);
        ASSERT_TRUE((*h)->record_intervals({minute("cam1", 0, 4, 1, {50.0})}).is_ok());
    }
    auto h = History::open(path);  // reopened at the current version: nothing to migrate, the rows are there
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    auto iv = (*h)->query_intervals(kAnalyticsT0, kAnalyticsT0 + 1h, "cam1");
    ASSERT_TRUE(iv.is_ok()) << iv.status().to_string();
    ASSERT_EQ(iv->size(), 1u);
    EXPECT_EQ(((*iv)[0].line_counts.at({"north", "inbound", "car"})), 4);
    h->reset();
    fs::remove(path);
}

TEST(HistoryAnalytics, IntervalsRoundTrip) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    std::vector<analytics::IntervalAggregate> in = {minute("cam1", 0, 4, 1, {50.5, 61.25}),
                                                    minute("cam2", 0, 7, 0, {}),
                                                    minute("cam1", 1, 2, 0, {}, "slow")};
    in[0].zones["stopbar"].mean_speed_kmh.reset();  // NULL survives as absent
    ASSERT_TRUE((*h)->record_intervals(in).is_ok());
    auto out = (*h)->query_intervals(kAnalyticsT0, kAnalyticsT0 + 1h, "cam1");
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    ASSERT_EQ(out->size(), 2u);
    const auto& a = (*out)[0];
    EXPECT_EQ(a.camera, "cam1");
    EXPECT_EQ(a.start_us, in[0].start_us);
    EXPECT_EQ(a.end_us, in[0].end_us);
    EXPECT_EQ(a.line_counts, in[0].line_counts);
    ASSERT_EQ(a.zones.size(), 1u);
    const auto& z = a.zones.at("stopbar");
    EXPECT_EQ(z.occupancy_pct, 0);
    EXPECT_EQ(z.entries, 3);
    EXPECT_EQ(z.exits, 2);
    EXPECT_FALSE(z.mean_speed_kmh);
    EXPECT_EQ(z.congestion, "free");
    EXPECT_EQ(a.speeds_kmh, (std::vector<double>{50.5, 61.25}));
    EXPECT_EQ((*out)[1].zones.at("stopbar").congestion, "slow");
    EXPECT_EQ((*out)[1].zones.at("stopbar").max_queue, 1);
    auto all = (*h)->query_intervals(kAnalyticsT0, kAnalyticsT0 + 1h);
    ASSERT_TRUE(all.is_ok());
    EXPECT_EQ(all->size(), 3u);
    auto none = (*h)->query_intervals(kAnalyticsT0 + 2min, kAnalyticsT0 + 1h, "cam1");
    ASSERT_TRUE(none.is_ok());
    EXPECT_TRUE(none->empty());
}

TEST(HistoryAnalytics, BadIntervalsAreRefusedWhole) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    auto bad = minute("cam1", 0, 1, 0, {});
    bad.end_us = bad.start_us;
    Status st = (*h)->record_intervals({minute("cam1", 1, 1, 0, {}), bad});
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    auto nocam = minute("", 0, 1, 0, {});
    EXPECT_EQ((*h)->record_intervals({nocam}).code(), StatusCode::kInvalidArgument);
    auto out = (*h)->query_intervals(kAnalyticsT0, kAnalyticsT0 + 1h);
    ASSERT_TRUE(out.is_ok());
    EXPECT_TRUE(out->empty());  // nothing of the refused batch was written
}

TEST(HistoryAnalytics, QueryCountsBucketsByInterval) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    std::vector<analytics::IntervalAggregate> in;
    for (int m = 0; m < 12; ++m) in.push_back(minute("cam1", m, m, 1, {40.0 + m}, m == 7 ? "queued" : "free"));
    ASSERT_TRUE((*h)->record_intervals(in).is_ok());
    // 5-minute buckets over 00:00..00:12 -> [0,5) [5,10) [10,15).
    auto b = (*h)->query_counts("cam1", kAnalyticsT0, kAnalyticsT0 + 12min, 300);
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    ASSERT_EQ(b->size(), 3u);
    EXPECT_EQ((*b)[0].start, kAnalyticsT0);
    EXPECT_EQ((*b)[0].end, kAnalyticsT0 + 5min);
    EXPECT_EQ((*b)[0].intervals, 5);
    EXPECT_EQ(((*b)[0].counts.at({"north", "inbound", "car"})), 0 + 1 + 2 + 3 + 4);
    EXPECT_EQ(((*b)[0].counts.at({"north", "outbound", "truck"})), 5);
    EXPECT_EQ(((*b)[1].counts.at({"north", "inbound", "car"})), 5 + 6 + 7 + 8 + 9);
    EXPECT_EQ(((*b)[2].counts.at({"north", "inbound", "car"})), 10 + 11);
    EXPECT_EQ((*b)[2].intervals, 2);
    const ZoneBucket& z0 = (*b)[0].zones.at("stopbar");
    EXPECT_DOUBLE_EQ(z0.occupancy_pct, (0 + 10 + 20 + 30 + 40) / 5.0);
    EXPECT_EQ(z0.max_queue, 4);
    EXPECT_EQ(z0.entries, 15);
    EXPECT_EQ((*b)[1].zones.at("stopbar").worst_congestion, "queued");
    EXPECT_EQ((*b)[1].zones.at("stopbar").congestion, "free");  // the level at the end of minute 9
    EXPECT_EQ((*b)[0].speed_samples, 5);
    EXPECT_DOUBLE_EQ(*(*b)[0].mean_speed_kmh, 42.0);
    // An hour bucket holds everything; an unaligned start still yields the aligned bucket containing it.
    auto hour = (*h)->query_counts("cam1", kAnalyticsT0 + 30s, kAnalyticsT0 + 1h, 3600);
    ASSERT_TRUE(hour.is_ok());
    ASSERT_EQ(hour->size(), 1u);
    EXPECT_EQ((*hour)[0].start, kAnalyticsT0);
    EXPECT_EQ((*hour)[0].intervals, 11);  // minute 0 starts before `since`: left out
    // Empty buckets are there, with zero intervals.
    auto wide = (*h)->query_counts("cam1", kAnalyticsT0 - 10min, kAnalyticsT0, 60);
    ASSERT_TRUE(wide.is_ok());
    EXPECT_EQ(wide->size(), 10u);
    for (const auto& x : *wide) EXPECT_EQ(x.intervals, 0);
    // Bad ranges and bucket sizes.
    EXPECT_EQ((*h)->query_counts("cam1", kAnalyticsT0, kAnalyticsT0, 60).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*h)->query_counts("cam1", kAnalyticsT0, kAnalyticsT0 + 1h, 0).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*h)->query_counts("cam1", kAnalyticsT0 - 24h * 365, kAnalyticsT0, 60).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*h)->query_counts("", kAnalyticsT0, kAnalyticsT0 + 1h, 60).status().code(), StatusCode::kInvalidArgument);
}

TEST(HistoryAnalytics, CongestionChangesOnlyAndOncePerId) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    analytics::AnalyticsEvent e = congestion_change("cam1-1700000000-7", 90'000, "queued", "slow");
    ASSERT_TRUE((*h)->record_event(e).is_ok());
    ASSERT_TRUE((*h)->record_event(e).is_ok());  // replayed: stored once
    analytics::AnalyticsEvent crossing = e;
    crossing.kind = analytics::EventKind::kLineCrossing;
    crossing.id = "cam1-1700000000-8";
    EXPECT_EQ((*h)->record_event(crossing).code(), StatusCode::kInvalidArgument);
    auto rows = (*h)->analytics_events(kAnalyticsT0, kAnalyticsT0 + 1h);
    ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
    ASSERT_EQ(rows->size(), 1u);
    const auto& r = (*rows)[0];
    EXPECT_EQ(r.timestamp, kAnalyticsT0 + 90s);
    EXPECT_EQ(r.camera_id, "cam1");
    EXPECT_EQ(r.kind, "congestion_change");
    EXPECT_EQ(r.event_id, e.id);
    EXPECT_EQ(r.zone, "stopbar");
    EXPECT_EQ(r.level, "queued");
    EXPECT_EQ(r.previous_level, "slow");
    EXPECT_NE(r.payload_json.find("\"schema\":1"), std::string::npos) << r.payload_json;
}

// Cluster mode: every analytics row carries the camera's epoch; a stand-alone node's rows have NULL.
TEST(HistoryAnalytics, RowsCarryTheClusterEpoch) {
    const std::string path = temp_db("epoch.db");
    {
        auto h = History::open(path);
        ASSERT_TRUE(h.is_ok()) << h.status().to_string();
        auto owned = minute("cam1", 0, 4, 1, {50.0});
        owned.epoch = 4711;
        ASSERT_TRUE((*h)->record_intervals({owned, minute("cam2", 0, 2, 0, {45.0})}).is_ok());
        analytics::AnalyticsEvent e = congestion_change("cam1-4711-1", 30'000, "slow", "free");
        e.epoch = 4711;
        ASSERT_TRUE((*h)->record_event(e).is_ok());
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const auto epochs = [&](const std::string& table) {
        std::string out;
        sqlite3_stmt* st = nullptr;
        const std::string sql = "SELECT camera_id, IFNULL(epoch, 'null') FROM " + table + " ORDER BY camera_id, id";
        EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
        while (sqlite3_step(st) == SQLITE_ROW)
            out += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) + "=" +
                   reinterpret_cast<const char*>(sqlite3_column_text(st, 1)) + " ";
        sqlite3_finalize(st);
        return out;
    };
    EXPECT_EQ(epochs("line_counts"), "cam1=4711 cam1=4711 cam2=null ");
    EXPECT_EQ(epochs("zone_intervals"), "cam1=4711 cam2=null ");
    EXPECT_EQ(epochs("speed_samples"), "cam1=4711 cam2=null ");
    EXPECT_EQ(epochs("analytics_events"), "cam1=4711 ");
    sqlite3_close(db);
}

TEST(HistoryAnalytics, RetentionCoversTheAnalyticsTables) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    ASSERT_TRUE((*h)->record_intervals({minute("cam1", 0, 3, 1, {55.0}), minute("cam1", 60 * 24 * 3, 2, 0, {60.0})})
                    .is_ok());
    analytics::AnalyticsEvent e;
    e.kind = analytics::EventKind::kCongestionChange;
    e.id = "old";
    e.camera = "cam1";
    e.wall_time_us = kAnalyticsT0ms * 1000;
    e.level = "slow";
    ASSERT_TRUE((*h)->record_event(e).is_ok());
    // Cut at day 2: the first minute's rows (2 line counts, 1 zone, 1 speed) and the event go.
    auto n = (*h)->delete_older_than(kAnalyticsT0 + 48h);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    EXPECT_EQ(*n, 5);
    auto left = (*h)->query_intervals(kAnalyticsT0 - 1h, kAnalyticsT0 + 24h * 4);
    ASSERT_TRUE(left.is_ok());
    ASSERT_EQ(left->size(), 1u);
    EXPECT_EQ(left->front().speeds_kmh, std::vector<double>{60.0});
    EXPECT_TRUE((*h)->analytics_events(kAnalyticsT0 - 1h, kAnalyticsT0 + 24h * 4)->empty());
}

}  // namespace
}  // namespace itscam::service
