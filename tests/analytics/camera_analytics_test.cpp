// CameraAnalytics end to end on synthetic detections: cars driving through a line and a zone (one stopping on the
// line), a truck the other way; exactly the expected events, counts, speeds and intervals, with unique ids.
#include "analytics/camera_analytics.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include <nlohmann/json.hpp>

namespace itscam::analytics {
namespace {

const std::vector<std::string> kNames = {"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck"};
constexpr int64_t kMinute = 60'000'000;
constexpr int64_t kBase = 1764756000LL * 1'000'000 + 50'000'000;  // 10 s before a full minute

AnalyticsConfig config() {
    const auto r = parse_analytics_config(R"({
      "lines": [{"name": "stop", "a": [100, 500], "b": [1800, 500], "forward": "southbound", "backward": "northbound",
                 "classes": [2, 7]}],
      "zones": [{"name": "box", "polygon": [[100, 600], [1800, 600], [1800, 900], [100, 900]]}],
      "speed": {"points": [[0, 0], [1920, 0], [1920, 1080], [0, 1080]], "edges_m": [96, 54, 96, 54]},
      "interval_s": 60
    })", 1920, 1080);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return *r;
}

// A vehicle: its foot point's y for frame f (nullopt: not in view).
struct Vehicle {
    int cls;
    double x;
    std::function<std::optional<double>(int)> y;
};

// Drives south (or north with step < 0) from y0 to y1 at `step` px per frame, starting at frame `start`.
std::function<std::optional<double>(int)> drive(int start, double y0, double y1, double step) {
    return [=](int f) -> std::optional<double> {
        const double y = y0 + step * (f - start);
        if (f < start || (step > 0 ? y > y1 : y < y1)) return std::nullopt;
        return y;
    };
}

std::vector<vision::Detection> frame_detections(const std::vector<Vehicle>& vs, int f) {
    std::vector<vision::Detection> d;
    for (const auto& v : vs)
        if (const auto y = v.y(f))
            d.push_back({v.cls, 0.9f, static_cast<float>(v.x - 40), static_cast<float>(*y - 60),
                         static_cast<float>(v.x + 40), static_cast<float>(*y)});
    return d;
}

TEST(CameraAnalytics, CarsThroughALineAndAZone) {
    std::vector<Vehicle> vs;
    // 20 px per frame at 10 fps = 200 px/s; the calibration is 20 px per metre: 10 m/s = 36 km/h.
    for (const auto& [x, start] : {std::pair{400.0, 20}, {900.0, 50}, {1400.0, 80}})
        vs.push_back({2, x, drive(start, 300, 1000, 20)});
    vs.push_back({7, 1600, drive(40, 1060, 200, -20)});  // a truck northbound
    // A car that stops on the line for 3 s, its box jittering 3 px across it, then drives on.
    vs.push_back({2, 650, [](int f) -> std::optional<double> {
                      if (f <= 10) return 300 + 20.0 * f;
                      if (f <= 40) return 500 + (f % 2 ? 3.0 : -3.0);
                      const double y = 500 + 20.0 * (f - 40);
                      return y <= 1000 ? std::optional<double>(y) : std::nullopt;
                  }});

    CameraAnalytics ca("cam1", config(), kNames, 777);
    std::vector<AnalyticsEvent> events;
    std::vector<IntervalAggregate> intervals;
    for (int f = 0; f < 150; ++f) {
        const FrameAnalytics fa = ca.process(frame_detections(vs, f), f, 0.1 * f, kBase + f * 100'000LL);
        for (const auto& t : fa.tracks) EXPECT_GT(t.track_id, 0);
        events.insert(events.end(), fa.events.begin(), fa.events.end());
        for (auto& a : ca.take_intervals()) intervals.push_back(std::move(a));
        if (f == 99) {
            EXPECT_TRUE(intervals.empty());
        }
        if (f == 100) {
            EXPECT_EQ(intervals.size(), 1u);  // frame 100 is the first of the next minute
        }
    }
    for (auto& a : ca.take_intervals(/*flush=*/true)) intervals.push_back(std::move(a));

    // Exactly: 5 crossings (4 southbound cars, 1 northbound truck), 5 entries, 5 exits, no congestion change.
    std::map<std::string, int> kinds;
    std::set<std::string> ids;
    std::set<int64_t> crossing_tracks;
    int64_t last_seq = 0;
    for (const auto& e : events) {
        ++kinds[event_kind_name(e.kind)];
        EXPECT_TRUE(ids.insert(e.id).second) << "duplicate id " << e.id;
        const int64_t seq = std::stoll(e.id.substr(std::string("cam1-777-").size()));
        EXPECT_EQ(e.id.rfind("cam1-777-", 0), 0u);
        EXPECT_EQ(seq, last_seq + 1);
        last_seq = seq;
        if (e.kind == EventKind::kLineCrossing) {
            EXPECT_TRUE(crossing_tracks.insert(e.track_id).second) << "track " << e.track_id << " counted twice";
            EXPECT_EQ(e.line, "stop");
            EXPECT_EQ(e.direction, e.class_name == "truck" ? "northbound" : "southbound");
            ASSERT_TRUE(e.speed_kmh) << e.id;
            if (e.class_name == "truck" || e.frame < 40 || e.frame > 45) {  // not the car that just left the line
                EXPECT_NEAR(*e.speed_kmh, 36, 0.5) << event_json(e);
            }
        }
        if (e.kind == EventKind::kZoneExit) {
            ASSERT_TRUE(e.dwell_s);
            EXPECT_NEAR(*e.dwell_s, 1.6, 1e-6) << event_json(e);  // inside from y = 600 to y = 920 (4 px margin)
        }
    }
    EXPECT_EQ(kinds["line_crossing"], 5);
    EXPECT_EQ(kinds["zone_enter"], 5);
    EXPECT_EQ(kinds["zone_exit"], 5);
    EXPECT_EQ(kinds["congestion_change"], 0);

    const AnalyticsSnapshot s = ca.snapshot();
    using K = std::tuple<std::string, std::string, std::string>;
    EXPECT_EQ(s.line_counts.at(K{"stop", "southbound", "car"}), 4);
    EXPECT_EQ(s.line_counts.at(K{"stop", "northbound", "truck"}), 1);
    EXPECT_EQ(s.line_counts.size(), 2u);
    ASSERT_EQ(s.zones.size(), 1u);
    EXPECT_EQ(s.zones[0].entries, 5);
    EXPECT_EQ(s.zones[0].exits, 5);
    EXPECT_EQ(s.zones[0].occupancy, 0);
    EXPECT_EQ(s.zones[0].congestion, "free");
    EXPECT_EQ(s.tracks_started, 5);
    EXPECT_EQ(s.active_tracks, 0);

    // Two wall-clock minutes; their counts add up to the totals.
    ASSERT_EQ(intervals.size(), 2u);
    EXPECT_EQ(intervals[0].start_us % kMinute, 0);
    EXPECT_EQ(intervals[0].end_us, intervals[1].start_us);
    EXPECT_EQ(intervals[1].end_us - intervals[1].start_us, kMinute);
    std::map<K, int64_t> sum;
    int64_t entries = 0;
    size_t speeds = 0;
    for (const auto& a : intervals) {
        EXPECT_EQ(a.camera, "cam1");
        for (const auto& [k, n] : a.line_counts) sum[k] += n;
        entries += a.zones.at("box").entries;
        speeds += a.speeds_kmh.size();
        EXPECT_TRUE(nlohmann::json::accept(aggregate_json(a)));
    }
    EXPECT_EQ(sum, s.line_counts);
    EXPECT_EQ(entries, 5);
    EXPECT_EQ(speeds, 5u);
    EXPECT_GT(intervals[0].zones.at("box").occupancy_pct, 0);
    // Zone entries at y = 600 (cars: frames 35, 45 (the one that stopped), 65, 95; truck at y = 900: frame 48) all
    // fall in the first minute (frames 0-99).
    EXPECT_EQ(intervals[0].zones.at("box").class_entries.at("car"), 4);
    EXPECT_EQ(intervals[0].zones.at("box").class_entries.at("truck"), 1);
    EXPECT_EQ(intervals[1].zones.at("box").entries, 0);
    EXPECT_EQ(intervals[1].zones.at("box").exits, 1);  // the last car leaves the zone at frame 111
}

TEST(CameraAnalytics, StandingQueueRaisesCongestionThenClears) {
    AnalyticsConfig cfg = config();
    cfg.zones[0].hold_s = 2;
    CameraAnalytics ca("cam2", cfg, kNames, 1);
    std::vector<AnalyticsEvent> changes;
    // Three cars stand in the zone for 6 s, then vanish (the tracker drops them after its lost buffer).
    for (int f = 0; f < 120; ++f) {
        std::vector<vision::Detection> d;
        if (f < 60)
            for (float x : {300.f, 800.f, 1300.f}) d.push_back({2, 0.9f, x, 700.f, x + 80, 760.f});
        for (const auto& e : ca.process(d, f, 0.1 * f, kBase + f * 100'000LL).events)
            if (e.kind == EventKind::kCongestionChange) changes.push_back(e);
    }
    ASSERT_EQ(changes.size(), 2u);
    EXPECT_EQ(changes[0].level, "queued");
    EXPECT_EQ(changes[0].previous_level, "free");
    EXPECT_EQ(changes[0].zone, "box");
    EXPECT_EQ(changes[1].level, "free");
    EXPECT_EQ(changes[1].previous_level, "queued");
    const auto j = nlohmann::json::parse(event_json(changes[0]));
    EXPECT_FALSE(j.contains("track_id"));
}

TEST(CameraAnalytics, ResetTracksKeepsCountsAndEndsZoneVisits) {
    CameraAnalytics ca("cam3", config(), kNames, 1);
    int f = 0;
    for (double y = 300; y <= 700; y += 20, ++f)
        ca.process({{2, 0.9f, 400, static_cast<float>(y - 60), 480, static_cast<float>(y)}}, f, 0.1 * f,
                   kBase + f * 100'000LL);
    EXPECT_EQ(ca.snapshot().zones[0].occupancy, 1);
    ca.reset_tracks();
    const auto fa = ca.process({}, f, 0.1 * f, kBase + f * 100'000LL);
    ASSERT_EQ(fa.events.size(), 1u);
    EXPECT_EQ(fa.events[0].kind, EventKind::kZoneExit);
    const AnalyticsSnapshot s = ca.snapshot();
    EXPECT_EQ(s.zones[0].occupancy, 0);
    EXPECT_EQ(s.line_counts.size(), 1u);  // the crossing stays counted
}

}  // namespace
}  // namespace itscam::analytics
