// The regression baseline across restarts: POST /api/v1/baseline's recorder persists it in the history and puts it
// in force; a new AlertEngine (the next `itscam run`) gets it back from the history.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "service/alerts_baseline.h"

namespace itscam::service {
namespace {

namespace fs = std::filesystem;

double regression_threshold(const AlertEngine& a) {
    for (const auto& r : a.config().rules)
        if (r.is_regression) return r.threshold;
    return -1;
}

TEST(AlertsBaseline, RecordedBaselineIsBackInForceAfterARestart) {
    const fs::path path = fs::temp_directory_path() / ("itscam_baseline_" + std::to_string(::getpid()) + ".db");
    fs::remove(path);
    const SystemTime t = from_epoch_ms(1'700'000'000'000);
    {
        AlertEngine alerts;
        auto h = History::open(path.string());
        ASSERT_TRUE(h.is_ok()) << h.status().to_string();
        auto none = restore_baseline(alerts, **h);
        ASSERT_TRUE(none.is_ok());
        EXPECT_FALSE(*none);
        EXPECT_EQ(alerts.baseline_p99_ms(), 75.0);  // the configured default stays
        auto r = record_baseline(alerts, h->get(), 42.0, 640, t);
        ASSERT_TRUE(r.is_ok()) << r.status().to_string();
        EXPECT_EQ((*r)["baseline_p99_ms"], 42.0);
        EXPECT_EQ((*r)["samples"], 640);
        EXPECT_EQ((*r)["persisted"], true);
        EXPECT_EQ((*r)["recorded_at"], "2023-11-14T22:13:20.000Z");
        EXPECT_EQ(alerts.baseline_p99_ms(), 42.0);
        EXPECT_DOUBLE_EQ(regression_threshold(alerts), 42.0 * 1.2);
    }
    // The next run: a fresh engine with its configured baseline, and the same database.
    AlertRulesConfig cfg = AlertRulesConfig::defaults();
    cfg.baseline_p99_ms = 90;
    AlertEngine alerts(cfg);
    auto h = History::open(path.string());
    ASSERT_TRUE(h.is_ok());
    auto b = restore_baseline(alerts, **h);
    ASSERT_TRUE(b.is_ok() && *b) << b.status().to_string();
    EXPECT_EQ((*b)->p99_ms, 42.0);
    EXPECT_EQ((*b)->samples, 640);
    EXPECT_EQ(alerts.baseline_p99_ms(), 42.0);
    EXPECT_DOUBLE_EQ(regression_threshold(alerts), 42.0 * 1.2);
    h->reset();
    fs::remove(path);
    fs::remove(path.string() + "-wal");
    fs::remove(path.string() + "-shm");
}

TEST(AlertsBaseline, WithoutHistoryItIsInForceButNotPersisted) {
    AlertEngine alerts;
    auto r = record_baseline(alerts, nullptr, 30.0, 10);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ((*r)["persisted"], false);
    EXPECT_EQ(alerts.baseline_p99_ms(), 30.0);
    // A bad value changes nothing, in memory or on disk.
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    EXPECT_EQ(record_baseline(alerts, h->get(), 0.0, 10).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(alerts.baseline_p99_ms(), 30.0);
    EXPECT_FALSE(*(*h)->latest_baseline());
}

}  // namespace
}  // namespace itscam::service
