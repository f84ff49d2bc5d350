// parse_analytics_config / validate_analytics: the full form, and every structural and geometry error naming the
// path of the offending value.
#include "analytics/analytics_config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace itscam::analytics {
namespace {

using nlohmann::json;

json full() {
    return json::parse(R"({
      "lines": [{"name": "north", "a": [100, 600], "b": [1800, 620], "forward": "southbound",
                 "backward": "northbound", "count": "both", "classes": [2, 5, 7]}],
      "zones": [{"name": "stop_bar", "polygon": [[200, 700], [900, 700], [950, 1000], [150, 1000]],
                 "classes": [2], "overcrowd_threshold": 6, "queue_speed_kmh": 4, "queue_speed_px_s": 10,
                 "slow_speed_kmh": 25, "queued_speed_kmh": 8, "queued_min_queue": 4, "hold_s": 3}],
      "speed": {"points": [[700, 500], [1100, 500], [1500, 1000], [300, 1000]], "edges_m": [3.5, 30, 3.5, 30],
                "max_speed_kmh": 200, "window_s": 0.8},
      "tracker": {"high_score": 0.55, "low_score": 0.15, "new_track_score": 0.65, "match_iou": 0.25,
                  "low_match_iou": 0.45, "lost_timeout_s": 2, "confirm_s": 0.3, "confirm_hits": 3,
                  "class_aware": true, "class_memory_s": 2.5, "class_switch_ratio": 2,
                  "observation_reupdate": false, "observation_recovery": false, "ocm_weight": 0.1,
                  "ocm_window_s": 0.2},
      "interval_s": 30
    })");
}

// The error for `j` (frame 1920x1080): its message must start with `path + ": "` and contain `text`.
void expect_error(const json& j, const std::string& path, const std::string& text, int w = 1920, int h = 1080) {
    const auto r = parse_analytics_config(j.dump(), w, h);
    ASSERT_FALSE(r.is_ok()) << "accepted: " << j.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(path + ": ", 0), 0u) << r.status().message();
    EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status().message();
}

TEST(AnalyticsConfig, ParsesTheFullForm) {
    const auto r = parse_analytics_config(full().dump(), 1920, 1080);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const AnalyticsConfig& c = *r;
    ASSERT_EQ(c.lines.size(), 1u);
    EXPECT_EQ(c.lines[0].name, "north");
    EXPECT_EQ(c.lines[0].a, (Point{100, 600}));
    EXPECT_EQ(c.lines[0].b, (Point{1800, 620}));
    EXPECT_EQ(c.lines[0].forward_name, "southbound");
    EXPECT_EQ(c.lines[0].backward_name, "northbound");
    EXPECT_EQ(c.lines[0].classes, (std::vector<int>{2, 5, 7}));
    ASSERT_EQ(c.zones.size(), 1u);
    EXPECT_EQ(c.zones[0].polygon.size(), 4u);
    EXPECT_EQ(c.zones[0].overcrowd_threshold, 6);
    EXPECT_DOUBLE_EQ(c.zones[0].queue_speed_kmh, 4);
    EXPECT_DOUBLE_EQ(c.zones[0].queue_speed_px_s, 10);
    EXPECT_DOUBLE_EQ(c.zones[0].slow_speed_kmh, 25);
    EXPECT_DOUBLE_EQ(c.zones[0].queued_speed_kmh, 8);
    EXPECT_EQ(c.zones[0].queued_min_queue, 4);
    EXPECT_DOUBLE_EQ(c.zones[0].hold_s, 3);
    ASSERT_TRUE(c.speed);
    EXPECT_EQ(c.speed->edge_lengths_m, (std::vector<double>{3.5, 30, 3.5, 30}));
    EXPECT_FALSE(c.speed->diagonal_m);
    EXPECT_DOUBLE_EQ(c.speed->max_speed_kmh, 200);
    EXPECT_DOUBLE_EQ(c.speed->window_s, 0.8);
    EXPECT_FLOAT_EQ(c.tracker.high_score, 0.55f);
    EXPECT_FLOAT_EQ(c.tracker.low_score, 0.15f);
    EXPECT_FLOAT_EQ(c.tracker.new_track_score, 0.65f);
    EXPECT_FLOAT_EQ(c.tracker.match_iou, 0.25f);
    EXPECT_FLOAT_EQ(c.tracker.low_match_iou, 0.45f);
    EXPECT_DOUBLE_EQ(c.tracker.lost_timeout_s, 2);
    EXPECT_DOUBLE_EQ(c.tracker.confirm_s, 0.3);
    EXPECT_EQ(c.tracker.confirm_hits, 3);
    EXPECT_TRUE(c.tracker.class_aware);
    EXPECT_DOUBLE_EQ(c.tracker.class_memory_s, 2.5);
    EXPECT_FLOAT_EQ(c.tracker.class_switch_ratio, 2);
    EXPECT_FALSE(c.tracker.observation_reupdate);
    EXPECT_FALSE(c.tracker.observation_recovery);
    EXPECT_FLOAT_EQ(c.tracker.ocm_weight, 0.1f);
    EXPECT_DOUBLE_EQ(c.tracker.ocm_window_s, 0.2);
    EXPECT_DOUBLE_EQ(c.interval_s, 30);
}

TEST(AnalyticsConfig, DefaultsAndEmpty) {
    auto r = parse_analytics_config("null");
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE(r->empty());
    r = parse_analytics_config("{}");
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(*r, AnalyticsConfig{});
    r = parse_analytics_config(R"({"lines": [{"name": "l", "a": [0, 0], "b": [10, 0]}]})");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->lines[0].forward_name, "forward");
    EXPECT_EQ(r->lines[0].count, "both");
    EXPECT_TRUE(r->lines[0].classes.empty());
    EXPECT_FALSE(parse_analytics_config("{\"lines\": [").is_ok());
    expect_error(json::array(), "analytics", "mapping");
}

TEST(AnalyticsConfig, UnknownKeysNameTheirPath) {
    json j = full();
    j["colour"] = "red";
    expect_error(j, "colour", "unknown key");
    j = full();
    j["lines"][0]["direction"] = "up";
    expect_error(j, "lines[0].direction", "unknown key");
    j = full();
    j["zones"][0]["queue_kmh"] = 3;
    expect_error(j, "zones[0].queue_kmh", "queue_speed_kmh");  // the list of accepted keys helps the typo
    j = full();
    j["speed"]["edges"] = json::array();
    expect_error(j, "speed.edges", "unknown key");
    j = full();
    j["tracker"]["track_buffer"] = 30;
    expect_error(j, "tracker.track_buffer", "unknown key");
}

TEST(AnalyticsConfig, WrongTypesNameTheirPath) {
    json j = full();
    j["zones"][0]["polygon"][2] = "here";
    expect_error(j, "zones[0].polygon[2]", "point [x, y]");
    j = full();
    j["zones"][0]["polygon"][2] = {1, 2, 3};
    expect_error(j, "zones[0].polygon[2]", "point [x, y]");
    j = full();
    j["lines"][0]["a"][1] = "600";
    expect_error(j, "lines[0].a[1]", "must be a number");
    j = full();
    j["lines"][0]["classes"][1] = 5.5;
    expect_error(j, "lines[0].classes[1]", "integer");
    j = full();
    j["lines"][0]["name"] = 3;
    expect_error(j, "lines[0].name", "string");
    j = full();
    j["lines"] = json::object();
    expect_error(j, "lines", "list");
    j = full();
    j["zones"][0] = "z";
    expect_error(j, "zones[0]", "mapping");
    j = full();
    j["speed"]["edges_m"][3] = true;
    expect_error(j, "speed.edges_m[3]", "number");
    j = full();
    j["tracker"]["class_aware"] = 1;
    expect_error(j, "tracker.class_aware", "true or false");
    j = full();
    j["tracker"]["confirm_hits"] = 2.5;
    expect_error(j, "tracker.confirm_hits", "integer");
    j = full();
    j["interval_s"] = "60";
    expect_error(j, "interval_s", "number");
    j = full();
    j["lines"][0].erase("b");
    expect_error(j, "lines[0].b", "missing");
    j = full();
    j["speed"].erase("edges_m");
    expect_error(j, "speed.edges_m", "missing");
}

TEST(AnalyticsConfig, LineGeometryErrors) {
    json j = full();
    j["lines"][0]["b"] = j["lines"][0]["a"];
    expect_error(j, "lines[0].b", "zero-length");
    j = full();
    j["lines"][0]["b"] = {100.5, 600.5};
    expect_error(j, "lines[0].b", "zero-length");
    j = full();
    j["lines"][0]["a"] = {-5, 600};
    expect_error(j, "lines[0].a", "outside the 1920x1080 frame");
    j = full();
    j["lines"][0]["b"] = {1930, 620};
    expect_error(j, "lines[0].b", "outside");
    EXPECT_TRUE(parse_analytics_config(j.dump()).is_ok());  // frame size unknown: not checked
    j = full();
    j["lines"][0]["count"] = "left";
    expect_error(j, "lines[0].count", "both, forward, backward");
    j = full();
    j["lines"][0]["backward"] = "southbound";
    expect_error(j, "lines[0].backward", "two names");
    j = full();
    j["lines"][0]["forward"] = "";
    expect_error(j, "lines[0].forward", "direction name");
    j = full();
    j["lines"][0]["classes"] = {2, -1};
    expect_error(j, "lines[0].classes[1]", ">= 0");
    j = full();
    j["lines"][0]["name"] = "north bound";
    expect_error(j, "lines[0].name", "[A-Za-z0-9_.-]");
}

TEST(AnalyticsConfig, ZoneGeometryErrors) {
    json j = full();
    j["zones"][0]["polygon"] = {{200, 700}, {900, 700}, {900, 700}, {150, 1000}};
    expect_error(j, "zones[0].polygon[2]", "same point as polygon[1]");
    j = full();
    j["zones"][0]["polygon"] = {{200, 700}, {900, 1000}, {900, 700}, {200, 1000}};  // bow tie
    expect_error(j, "zones[0].polygon", "self-intersecting");
    j = full();
    j["zones"][0]["polygon"] = {{100, 100}, {200, 200}, {300, 300}};
    expect_error(j, "zones[0].polygon", "zero area");
    j = full();
    j["zones"][0]["polygon"] = {{100, 100}, {200, 200}};
    expect_error(j, "zones[0].polygon", "at least 3 points");
    j = full();
    j["zones"][0]["polygon"][3] = {150, 1200};
    expect_error(j, "zones[0].polygon[3]", "outside the 1920x1080 frame");
    j = full();
    j["zones"][0]["classes"] = {-3};
    expect_error(j, "zones[0].classes[0]", ">= 0");
    j = full();
    j["zones"][0]["overcrowd_threshold"] = -1;
    expect_error(j, "zones[0].overcrowd_threshold", ">= 0");
    j = full();
    j["zones"][0]["queued_speed_kmh"] = 40;  // above slow_speed_kmh
    expect_error(j, "zones[0].queued_speed_kmh", "<= 25");
    j = full();
    j["zones"][0]["queued_min_queue"] = 0;
    expect_error(j, "zones[0].queued_min_queue", ">= 1");
}

TEST(AnalyticsConfig, DuplicateNames) {
    json j = full();
    j["zones"][0]["name"] = "north";
    expect_error(j, "zones[0].name", "already used by lines[0]");
    j = full();
    j["lines"].push_back(j["lines"][0]);
    expect_error(j, "lines[1].name", "already used by lines[0]");
}

TEST(AnalyticsConfig, SpeedCalibrationErrors) {
    json j = full();
    j["speed"]["points"] = {{100, 500}, {300, 500}, {500, 500}, {200, 800}};
    expect_error(j, "speed.points", "collinear");
    j = full();
    j["speed"]["points"][3] = j["speed"]["points"][1];
    expect_error(j, "speed.points[3]", "same point as points[1]");
    j = full();
    j["speed"]["points"].erase(3);
    expect_error(j, "speed.points", "exactly 4");
    j = full();
    j["speed"]["points"] = {{700, 500}, {1100, 500}, {300, 1000}, {1500, 1000}};  // crossed order
    expect_error(j, "speed.points", "convex");
    j = full();
    j["speed"]["points"][0] = {700, 1100};
    expect_error(j, "speed.points[0]", "outside");
    j = full();
    j["speed"]["edges_m"] = {3.5, 30, 3.5};
    expect_error(j, "speed.edges_m", "exactly 4");
    j = full();
    j["speed"]["edges_m"][1] = 0;
    expect_error(j, "speed.edges_m[1]", "> 0");
    j = full();
    j["speed"]["edges_m"] = {3.5, 30, 7, 30};
    expect_error(j, "speed.edges_m", "diagonal_m");
    j["speed"]["diagonal_m"] = 80;
    expect_error(j, "speed.diagonal_m", "triangle");
    j = full();
    j["speed"]["max_speed_kmh"] = 0;
    expect_error(j, "speed.max_speed_kmh", "> 0");
    j = full();
    j["speed"]["window_s"] = -1;
    expect_error(j, "speed.window_s", "> 0");
}

TEST(AnalyticsConfig, TrackerAndIntervalRanges) {
    json j = full();
    j["tracker"]["high_score"] = 1.5;
    expect_error(j, "tracker.high_score", "[0, 1]");
    j = full();
    j["tracker"]["low_score"] = 0.7;
    expect_error(j, "tracker.low_score", "must not exceed high_score");
    j = full();
    j["tracker"]["lost_timeout_s"] = 0;
    expect_error(j, "tracker.lost_timeout_s", "> 0");
    j = full();
    j["tracker"]["ocm_weight"] = 2;
    expect_error(j, "tracker.ocm_weight", "[0, 1]");
    j = full();
    j["tracker"]["observation_reupdate"] = "yes";
    expect_error(j, "tracker.observation_reupdate", "true or false");
    j = full();
    j["tracker"]["confirm_hits"] = 0;
    expect_error(j, "tracker.confirm_hits", ">= 1");
    j = full();
    j["interval_s"] = 0;
    expect_error(j, "interval_s", ">= 1");
}

TEST(AnalyticsConfig, ValidateDirectly) {
    AnalyticsConfig c;
    LineConfig l;
    l.name = "l1";
    l.a = {10, 10};
    l.b = {10, 10};
    c.lines.push_back(l);
    const Status st = validate_analytics(c);
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(st.message().rfind("lines[0].b: ", 0), 0u) << st.message();
    c.lines[0].b = {200, 10};
    EXPECT_TRUE(validate_analytics(c).is_ok());
    EXPECT_FALSE(validate_analytics(c, 100, 100).is_ok());
}

}  // namespace
}  // namespace itscam::analytics

namespace itscam::analytics {
namespace {

TEST(AnalyticsConfig, JsonFormRoundTrips) {
    nlohmann::json j = full();
    // analytics_config_json() writes the 8 basic tracker keys only; the others keep their defaults here.
    for (const char* k : {"class_aware", "class_memory_s", "class_switch_ratio", "observation_reupdate",
                          "observation_recovery", "ocm_weight", "ocm_window_s"})
        j["tracker"].erase(k);
    j["speed"]["diagonal_m"] = std::hypot(3.5, 30);
    const auto a = parse_analytics_config(j.dump(), 1920, 1080);
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    const auto b = parse_analytics_config(analytics_config_json(*a), 1920, 1080);
    ASSERT_TRUE(b.is_ok()) << b.status().message();
    EXPECT_EQ(*a, *b);
}

}  // namespace
}  // namespace itscam::analytics
