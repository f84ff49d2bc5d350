#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "service/history.h"

namespace itscam::service {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
struct TempDir {
    fs::path dir;
    TempDir() {
        dir = fs::temp_directory_path() /
              ("itscam_history_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

const SystemTime kHistoryT0 = from_epoch_ms(1'700'000'000'000);

HistorySample sample(SystemTime t, double p99) {
    HistorySample s;
    s.timestamp = t;
    s.latency_p50_ms = p99 / 3;
    s.latency_p95_ms = p99 * 0.8;
    s.latency_p99_ms = p99;
    s.fps = 240;
    s.pool_efficiency = 0.9;
    s.circuit_state = "closed";
    s.frames_processed = 2400;
    s.frames_dropped = 3;
    return s;
}

TEST(History, OpenCreatesSchemaWithWal) {
    TempDir td;
    auto h = History::open(td.file("h.db"));
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    auto v = (*h)->schema_version();
    ASSERT_TRUE(v.is_ok());
    EXPECT_EQ(*v, History::kSchemaVersion);
    h->reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(td.file("h.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST(History, InsertAndQueryByTimeRange) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    std::vector<HistorySample> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(sample(kHistoryT0 + std::chrono::seconds(10 * i), 40 + i));
    batch[5].gpu_utilization = 0.8;
    ASSERT_TRUE((*h)->insert_samples(batch).is_ok());
    HistorySample cam = sample(kHistoryT0, 10);
    cam.camera_id = "cam-1";
    ASSERT_TRUE((*h)->insert_sample(cam).is_ok());

    auto all = (*h)->samples(kHistoryT0, kHistoryT0 + 1000s);
    ASSERT_TRUE(all.is_ok());
    ASSERT_EQ(all->size(), 100u);  // pipeline-wide only
    EXPECT_EQ((*all)[5].gpu_utilization, 0.8);
    EXPECT_FALSE((*all)[6].gpu_utilization.has_value());
    EXPECT_EQ((*all)[3].latency_p99_ms, 43);
    EXPECT_EQ((*all)[3].circuit_state, "closed");
    EXPECT_EQ((*all)[3].frames_processed, 2400);
    EXPECT_EQ((*all)[3].timestamp, kHistoryT0 + 30s);
    auto part = (*h)->samples(kHistoryT0 + 100s, kHistoryT0 + 200s);  // [100, 200)
    ASSERT_TRUE(part.is_ok());
    EXPECT_EQ(part->size(), 10u);
    auto cams = (*h)->camera_samples("cam-1", kHistoryT0, kHistoryT0 + 1s);
    ASSERT_TRUE(cams.is_ok());
    ASSERT_EQ(cams->size(), 1u);
    EXPECT_EQ((*cams)[0].camera_id, "cam-1");
    auto latest = (*h)->latest_sample_time();
    ASSERT_TRUE(latest.is_ok());
    EXPECT_EQ(**latest, kHistoryT0 + 990s);
}

TEST(History, EventsRoundTripWithHostileText) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    AlertEventRecord a{kHistoryT0, "inference_latency_p99_high", "critical", "pending", "firing", 134.2, 100,
                       "it's \"quoted\"; DROP TABLE alert_events; --"};
    ASSERT_TRUE((*h)->insert_alert(a).is_ok());
    AlertTransition t;
    t.from = AlertState::kFiring;
    t.to = AlertState::kResolved;
    t.at = kHistoryT0 + 60s;
    t.alert.rule = "inference_latency_p99_high";
    t.alert.severity = AlertSeverity::kCritical;
    t.alert.value = 80;
    t.alert.threshold = 100;
    t.alert.message = "inference latency p99 80.0 ms <= 100 ms";
    ASSERT_TRUE((*h)->record_alert(t).is_ok());
    ASSERT_TRUE((*h)->insert_camera_event({kHistoryT0 + 5s, "cam'1", CameraEventKind::kDisconnected, "EOF"}).is_ok());
    ASSERT_TRUE((*h)->insert_camera_event({kHistoryT0 + 9s, "cam'1", CameraEventKind::kReconnecting, "try 1"}).is_ok());
    ASSERT_TRUE((*h)->insert_circuit_transition({kHistoryT0 + 7s, "cuda:0", "closed", "open", "15 failures"}).is_ok());

    auto alerts = (*h)->alerts(kHistoryT0, kHistoryT0 + 1h);
    ASSERT_TRUE(alerts.is_ok());
    ASSERT_EQ(alerts->size(), 2u);
    EXPECT_EQ((*alerts)[0].message, a.message);
    EXPECT_EQ((*alerts)[0].to_state, "firing");
    EXPECT_DOUBLE_EQ((*alerts)[0].value, 134.2);
    EXPECT_EQ((*alerts)[1].from_state, "firing");
    EXPECT_EQ((*alerts)[1].to_state, "resolved");
    EXPECT_EQ((*alerts)[1].severity, "critical");
    auto cams = (*h)->camera_events(kHistoryT0, kHistoryT0 + 1h);
    ASSERT_TRUE(cams.is_ok());
    ASSERT_EQ(cams->size(), 2u);
    EXPECT_EQ((*cams)[0].camera_id, "cam'1");
    EXPECT_EQ((*cams)[0].kind, CameraEventKind::kDisconnected);
    EXPECT_EQ((*cams)[1].kind, CameraEventKind::kReconnecting);
    auto circ = (*h)->circuit_transitions(kHistoryT0, kHistoryT0 + 1h);
    ASSERT_TRUE(circ.is_ok());
    ASSERT_EQ(circ->size(), 1u);
    EXPECT_EQ((*circ)[0].to_state, "open");
    EXPECT_EQ((*circ)[0].reason, "15 failures");
    EXPECT_EQ((*(*h)->counts()).alerts, 2);
}

TEST(History, SurvivesRestart) {
    TempDir td;
    const std::string path = td.file("restart.db");
    {
        auto h = History::open(path);
        ASSERT_TRUE(h.is_ok());
        for (int i = 0; i < 30; ++i) ASSERT_TRUE((*h)->insert_sample(sample(kHistoryT0 + std::chrono::seconds(i), 50)).is_ok());
        ASSERT_TRUE((*h)->insert_alert({kHistoryT0, "error_rate_high", "critical", "pending", "firing", 0.02, 0.01, "m"}).is_ok());
        ASSERT_TRUE((*h)->insert_camera_event({kHistoryT0, "cam-a", CameraEventKind::kAdded, "added"}).is_ok());
        ASSERT_TRUE((*h)->insert_circuit_transition({kHistoryT0, "cuda:0", "open", "half_open", "timeout"}).is_ok());
    }
    auto h = History::open(path);
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    auto c = (*h)->counts();
    ASSERT_TRUE(c.is_ok());
    EXPECT_EQ(c->samples, 30);
    EXPECT_EQ(c->alerts, 1);
    EXPECT_EQ(c->camera_events, 1);
    EXPECT_EQ(c->circuit_transitions, 1);
    auto s = (*h)->samples(kHistoryT0, kHistoryT0 + 1h);
    ASSERT_TRUE(s.is_ok());
    EXPECT_EQ(s->size(), 30u);
    EXPECT_EQ((*(*h)->camera_events(kHistoryT0, kHistoryT0 + 1s))[0].camera_id, "cam-a");
}

TEST(History, Retention) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    const SystemTime now = kHistoryT0 + std::chrono::hours(24 * 10);
    for (int d = 0; d < 10; ++d) {
        ASSERT_TRUE((*h)->insert_sample(sample(kHistoryT0 + std::chrono::hours(24 * d) + 1h, 50)).is_ok());
        ASSERT_TRUE(
            (*h)->insert_camera_event({kHistoryT0 + std::chrono::hours(24 * d) + 1h, "c", CameraEventKind::kConnected, ""})
                .is_ok());
    }
    auto del = (*h)->apply_retention(7, now);
    ASSERT_TRUE(del.is_ok());
    EXPECT_EQ(*del, 6);  // days 0..2 of samples and of camera events
    EXPECT_EQ((*(*h)->counts()).samples, 7);
    EXPECT_FALSE((*h)->apply_retention(0, now).is_ok());
}

TEST(History, ClearErrors) {
    TempDir td;
    auto missing = History::open(td.file("no/such/dir/h.db"));
    ASSERT_FALSE(missing.is_ok());
    EXPECT_EQ(missing.status().code(), StatusCode::kIo) << missing.status().to_string();
    EXPECT_NE(missing.status().message().find("no/such/dir"), std::string::npos);

    const std::string garbage = td.file("garbage.db");
    {
        std::ofstream f(garbage, std::ios::binary);
        for (int i = 0; i < 4096; ++i) f.put(static_cast<char>((i * 131 + 7) & 0xff));
    }
    auto bad = History::open(garbage);
    ASSERT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kCorrupt) << bad.status().to_string();

    EXPECT_FALSE(History::open("").is_ok());
    auto dir = History::open(td.dir.string());  // a directory, not a file
    EXPECT_FALSE(dir.is_ok());
}

// An existing path that is not a regular file is refused by what it is: SQLite would otherwise put its journal beside
// it (/dev/null-journal) or block on a pipe.
TEST(History, RefusesNonRegularFiles) {
    TempDir td;
    const bool journal_before = fs::exists("/dev/null-journal");
    auto null = History::open("/dev/null");
    ASSERT_FALSE(null.is_ok());
    EXPECT_EQ(null.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(null.status().message(),
              "history database '/dev/null': is a character device, not a regular file (set history.enabled: false "
              "to run without history)");
    if (!journal_before) {
        EXPECT_FALSE(fs::exists("/dev/null-journal"));
    }

    const std::string fifo = td.file("h.fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto pipe = History::open(fifo);
    ASSERT_FALSE(pipe.is_ok());
    EXPECT_NE(pipe.status().message().find("is a named pipe, not a regular file"), std::string::npos)
        << pipe.status().message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_FALSE(fs::exists(fifo + "-journal"));
    EXPECT_FALSE(fs::exists(fifo + "-wal"));

    auto dir = History::open(td.dir.string());
    ASSERT_FALSE(dir.is_ok());
    EXPECT_NE(dir.status().message().find("is a directory"), std::string::npos) << dir.status().message();
}

TEST(History, RefusesNewerSchema) {
    TempDir td;
    const std::string path = td.file("newer.db");
    { ASSERT_TRUE(History::open(path).is_ok()); }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '7' WHERE key = 'schema_version'", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto h = History::open(path);
    ASSERT_FALSE(h.is_ok());
    EXPECT_EQ(h.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(h.status().message().find("schema version 7"), std::string::npos) << h.status().message();
}

// A database written by a version-1 itscam (before the baselines table): the v1 schema exactly as it shipped.
void create_v1_database(const std::string& path) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* kV1 =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE metric_samples (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, camera_id TEXT,"
        " latency_p50_ms REAL, latency_p95_ms REAL, latency_p99_ms REAL, fps REAL, pool_efficiency REAL,"
        " gpu_utilization REAL, circuit_state TEXT, frames_processed INTEGER NOT NULL DEFAULT 0,"
        " frames_dropped INTEGER NOT NULL DEFAULT 0, error_rate REAL, gpu_memory_pressure REAL,"
        " memory_allocation_p99_ms REAL);"
        "CREATE INDEX metric_samples_ts ON metric_samples (ts_ms);"
        "CREATE INDEX metric_samples_camera_ts ON metric_samples (camera_id, ts_ms);"
        "CREATE TABLE alert_events (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, rule TEXT NOT NULL,"
        " severity TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL, value REAL, threshold REAL,"
        " message TEXT);"
        "CREATE INDEX alert_events_ts ON alert_events (ts_ms);"
        "CREATE TABLE camera_events (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, camera_id TEXT NOT NULL,"
        " kind TEXT NOT NULL, message TEXT);"
        "CREATE INDEX camera_events_ts ON camera_events (ts_ms);"
        "CREATE TABLE circuit_transitions (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, device TEXT NOT NULL,"
        " from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT);"
        "CREATE INDEX circuit_transitions_ts ON circuit_transitions (ts_ms);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "INSERT INTO metric_samples (ts_ms, latency_p99_ms, fps, frames_processed) VALUES (1700000000000, 61.5, 30, 300);"
        "INSERT INTO alert_events (ts_ms, rule, severity, from_state, to_state, value, threshold, message)"
        " VALUES (1700000001000, 'error_rate_high', 'critical', 'pending', 'firing', 0.02, 0.01, 'm');";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, kV1, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
}

TEST(History, MigratesAVersion1DatabaseAndKeepsItsRows) {
    TempDir td;
    const std::string path = td.file("v1.db");
    create_v1_database(path);
    {
        auto h = History::open(path);
        ASSERT_TRUE(h.is_ok()) << h.status().to_string();
        EXPECT_EQ(*(*h)->schema_version(), History::kSchemaVersion);  // 1 -> 2 -> 3 in one go
        auto c = (*h)->counts();
        ASSERT_TRUE(c.is_ok());
        EXPECT_EQ(c->samples, 1);
        EXPECT_EQ(c->alerts, 1);
        auto s = (*h)->samples(kHistoryT0, kHistoryT0 + 1h);
        ASSERT_TRUE(s.is_ok());
        ASSERT_EQ(s->size(), 1u);
        EXPECT_EQ(*(*s)[0].latency_p99_ms, 61.5);
        auto none = (*h)->latest_baseline();
        ASSERT_TRUE(none.is_ok()) << none.status().to_string();
        EXPECT_FALSE(*none);
        ASSERT_TRUE((*h)->insert_baseline({kHistoryT0 + 1h, 42.5, 900, "POST /api/v1/baseline"}).is_ok());
    }
    // Reopened: already at the current version, the baseline is there.
    auto h = History::open(path);
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    EXPECT_EQ(*(*h)->schema_version(), History::kSchemaVersion);
    auto b = (*h)->latest_baseline();
    ASSERT_TRUE(b.is_ok() && *b);
    EXPECT_EQ((*b)->p99_ms, 42.5);
    EXPECT_EQ((*b)->samples, 900);
    EXPECT_EQ((*b)->source, "POST /api/v1/baseline");
    EXPECT_EQ((*b)->timestamp, kHistoryT0 + 1h);
}

TEST(History, NewestBaselineIsInForceAndSurvivesRetention) {
    TempDir td;
    const std::string path = td.file("baselines.db");
    {
        auto h = History::open(path);
        ASSERT_TRUE(h.is_ok());
        ASSERT_TRUE((*h)->insert_baseline({kHistoryT0, 80, 10, "a"}).is_ok());
        ASSERT_TRUE((*h)->insert_baseline({kHistoryT0 + 2h, 60, 20, "c"}).is_ok());
        ASSERT_TRUE((*h)->insert_baseline({kHistoryT0 + 1h, 70, 30, "b"}).is_ok());  // older, recorded later
        EXPECT_EQ((*h)->insert_baseline({kHistoryT0, 0, 1, "zero"}).code(), StatusCode::kInvalidArgument);
        EXPECT_EQ((*h)->insert_baseline({kHistoryT0, std::nan(""), 1, "nan"}).code(), StatusCode::kInvalidArgument);
    }
    auto h = History::open(path);
    ASSERT_TRUE(h.is_ok());
    auto b = (*h)->latest_baseline();
    ASSERT_TRUE(b.is_ok() && *b);
    EXPECT_EQ((*b)->p99_ms, 60);
    // Retention drops old baselines but never the one in force, however old.
    auto del = (*h)->apply_retention(7, kHistoryT0 + std::chrono::hours(24 * 30));
    ASSERT_TRUE(del.is_ok());
    EXPECT_EQ(*del, 2);
    b = (*h)->latest_baseline();
    ASSERT_TRUE(b.is_ok() && *b);
    EXPECT_EQ((*b)->p99_ms, 60);
    EXPECT_EQ((*b)->source, "c");
}

TEST(History, ConcurrentWriters) {
    TempDir td;
    auto h = History::open(td.file("mt.db"));
    ASSERT_TRUE(h.is_ok());
    History* hp = h->get();
    std::vector<std::thread> ts;
    for (int k = 0; k < 4; ++k) {
        ts.emplace_back([hp, k] {
            for (int i = 0; i < 100; ++i) {
                EXPECT_TRUE(hp->insert_sample(sample(kHistoryT0 + std::chrono::milliseconds(k * 1000 + i), 50)).is_ok());
                if (i % 10 == 0) {
                    EXPECT_TRUE(hp->samples(kHistoryT0, kHistoryT0 + 1h).is_ok());
                }
            }
        });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ((*hp->counts()).samples, 400);
}

}  // namespace
}  // namespace itscam::service
