// Event and aggregate JSON: schema, names, optional fields left out when absent.
#include "analytics/analytics_event.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace itscam::analytics {
namespace {

AnalyticsEvent crossing() {
    AnalyticsEvent e;
    e.kind = EventKind::kLineCrossing;
    e.id = "cam1-1764756000-42";
    e.camera = "cam1";
    e.frame = 1234;
    e.pts = 49.36;
    e.wall_time_us = 1764756049360000;
    e.track_id = 17;
    e.class_id = 2;
    e.class_name = "car";
    e.line = "north";
    e.direction = "southbound";
    e.speed_kmh = 52.347;
    return e;
}

TEST(AnalyticsEvent, KindNames) {
    EXPECT_STREQ(event_kind_name(EventKind::kLineCrossing), "line_crossing");
    EXPECT_STREQ(event_kind_name(EventKind::kZoneEnter), "zone_enter");
    EXPECT_STREQ(event_kind_name(EventKind::kZoneExit), "zone_exit");
    EXPECT_STREQ(event_kind_name(EventKind::kCongestionChange), "congestion_change");
}

TEST(AnalyticsEvent, LineCrossingJson) {
    const std::string s = event_json(crossing());
    EXPECT_EQ(s,
              R"({"schema":1,"id":"cam1-1764756000-42","type":"line_crossing","camera":"cam1",)"
              R"("time":"2025-12-03T10:00:49.360Z","wall_time_us":1764756049360000,"frame":1234,"pts":49.36,)"
              R"("track_id":17,"class_id":2,"class":"car","line":"north","direction":"southbound",)"
              R"("speed_kmh":52.35})");
    AnalyticsEvent e = crossing();
    e.speed_kmh.reset();  // outside the calibrated area: no speed key at all
    const auto j = nlohmann::json::parse(event_json(e));
    EXPECT_FALSE(j.contains("speed_kmh"));
    EXPECT_FALSE(j.contains("dwell_s"));
    EXPECT_FALSE(j.contains("zone"));
    EXPECT_FALSE(j.contains("level"));
}

TEST(AnalyticsEvent, ZoneExitAndCongestionJson) {
    AnalyticsEvent e = crossing();
    e.kind = EventKind::kZoneExit;
    e.line.clear();
    e.direction.clear();
    e.zone = "stop_bar";
    e.dwell_s = 12.34567;
    auto j = nlohmann::json::parse(event_json(e));
    EXPECT_EQ(j["type"], "zone_exit");
    EXPECT_EQ(j["zone"], "stop_bar");
    EXPECT_DOUBLE_EQ(j["dwell_s"].get<double>(), 12.346);
    EXPECT_FALSE(j.contains("line"));

    AnalyticsEvent c;
    c.kind = EventKind::kCongestionChange;
    c.id = "cam1-1-1";
    c.camera = "cam1";
    c.zone = "stop_bar";
    c.level = "queued";
    c.previous_level = "slow";
    j = nlohmann::json::parse(event_json(c));
    EXPECT_EQ(j["schema"], kEventSchemaVersion);
    EXPECT_EQ(j["level"], "queued");
    EXPECT_EQ(j["previous_level"], "slow");
    EXPECT_FALSE(j.contains("track_id"));
    EXPECT_FALSE(j.contains("class"));
}

TEST(AnalyticsEvent, AggregateJson) {
    IntervalAggregate a;
    a.camera = "cam1";
    a.start_us = 1764756000000000;
    a.end_us = a.start_us + 60000000;
    a.line_counts[{"north", "southbound", "car"}] = 12;
    a.line_counts[{"north", "northbound", "truck"}] = 3;
    IntervalAggregate::Zone z;
    z.occupancy_pct = 37.5;
    z.mean_occupancy = 1.25;
    z.max_queue = 4;
    z.entries = 9;
    z.exits = 8;
    z.congestion = "slow";
    z.class_entries["car"] = 9;
    a.zones["stop_bar"] = z;
    a.speeds_kmh = {48.123, 51.0};
    const auto j = nlohmann::json::parse(aggregate_json(a));
    EXPECT_EQ(j["schema"], 1);
    EXPECT_EQ(j["type"], "interval");
    EXPECT_EQ(j["start"], "2025-12-03T10:00:00.000Z");
    EXPECT_EQ(j["end"], "2025-12-03T10:01:00.000Z");
    EXPECT_EQ(j["lines"]["north"]["southbound"]["car"], 12);
    EXPECT_EQ(j["lines"]["north"]["northbound"]["truck"], 3);
    EXPECT_DOUBLE_EQ(j["zones"]["stop_bar"]["occupancy_pct"].get<double>(), 37.5);
    EXPECT_EQ(j["zones"]["stop_bar"]["max_queue"], 4);
    EXPECT_EQ(j["zones"]["stop_bar"]["congestion"], "slow");
    EXPECT_EQ(j["zones"]["stop_bar"]["class_entries"]["car"], 9);
    EXPECT_FALSE(j["zones"]["stop_bar"].contains("mean_speed_kmh"));
    EXPECT_DOUBLE_EQ(j["speeds_kmh"][0].get<double>(), 48.12);
}

}  // namespace
}  // namespace itscam::analytics
