// The traffic analytics series of /metrics: names, labels and values from snapshots, the speed histogram's
// buckets, and the page through promtool.
#include <gtest/gtest.h>

#include <cmath>

#include "service/metrics_analytics.h"
#include "service/metrics_registry.h"
#include "service_test_util.h"

namespace itscam::service {
namespace {

analytics::AnalyticsSnapshot snapshot() {
    analytics::AnalyticsSnapshot s;
    s.line_counts[{"north", "inbound", "car"}] = 41;
    s.line_counts[{"north", "outbound", "truck"}] = 3;
    analytics::ZoneState z;
    z.name = "stop\"bar";  // a quote in a label value: escaped by the serializer
    z.occupancy = 5;
    z.queue = 4;
    z.congestion = "queued";
    z.entries = 17;
    z.exits = 12;
    s.zones = {z};
    s.active_tracks = 7;
    return s;
}

TEST(MetricsAnalytics, FamiliesFromSnapshots) {
    const std::string t = serialize_metrics(analytics_metric_families({{"cam1", snapshot()}}));
    EXPECT_NE(t.find("# TYPE itscam_line_crossings_total counter"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_line_crossings_total{camera=\"cam1\",line=\"north\",direction=\"inbound\",class=\"car\"} 41"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("direction=\"outbound\",class=\"truck\"} 3"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_zone_occupancy{camera=\"cam1\",zone=\"stop\\\"bar\"} 5"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_zone_queue_length{camera=\"cam1\",zone=\"stop\\\"bar\"} 4"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_zone_congestion_level{camera=\"cam1\",zone=\"stop\\\"bar\"} 2"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_zone_entries_total{camera=\"cam1\",zone=\"stop\\\"bar\"} 17"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_active_tracks{camera=\"cam1\"} 7"), std::string::npos) << t;
    const std::string r = test::promtool_check(t);
    if (r.rfind("skip:", 0) == 0) GTEST_SKIP() << r;
    EXPECT_EQ(r, "") << t;
    // No cameras with analytics: no families at all (not even HELP lines).
    EXPECT_TRUE(analytics_metric_families({}).empty());
}

TEST(MetricsAnalytics, SpeedHistogramFromCrossings) {
    SpeedHistogram h;
    analytics::AnalyticsEvent e;
    e.kind = analytics::EventKind::kLineCrossing;
    e.camera = "cam1";
    for (double v : {5.0, 10.0, 10.5, 55.0, 250.0}) {
        e.speed_kmh = v;
        h.observe(e);
    }
    e.speed_kmh.reset();  // no speed: not observed
    h.observe(e);
    e.speed_kmh = NAN;  // not a speed
    h.observe(e);
    e.kind = analytics::EventKind::kZoneExit;  // only crossings
    e.speed_kmh = 30;
    h.observe(e);
    const std::string t = serialize_metrics(h.Collect());
    EXPECT_NE(t.find("# TYPE itscam_vehicle_speed_kmh histogram"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_vehicle_speed_kmh_bucket{camera=\"cam1\",le=\"10\"} 2"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_vehicle_speed_kmh_bucket{camera=\"cam1\",le=\"20\"} 3"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_vehicle_speed_kmh_bucket{camera=\"cam1\",le=\"60\"} 4"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_vehicle_speed_kmh_bucket{camera=\"cam1\",le=\"200\"} 4"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_vehicle_speed_kmh_bucket{camera=\"cam1\",le=\"+Inf\"} 5"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_vehicle_speed_kmh_count{camera=\"cam1\"} 5"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_vehicle_speed_kmh_sum{camera=\"cam1\"} 330.5"), std::string::npos) << t;
    const std::string r = test::promtool_check(t);
    if (r.rfind("skip:", 0) == 0) GTEST_SKIP() << r;
    EXPECT_EQ(r, "") << t;
}

}  // namespace
}  // namespace itscam::service
