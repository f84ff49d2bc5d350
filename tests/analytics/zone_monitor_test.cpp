// Zones: occupancy, entries and exits with dwell, queue (pixel and calibrated speed), overcrowding, per-interval
// occupancy %, and congestion with hysteresis.
#include "analytics/zone_monitor.h"

#include <gtest/gtest.h>

namespace itscam::analytics {
namespace {

TrackedObject zone_object(int64_t id, double fx, double fy, double t, bool confirmed = true, int cls = 2) {
    TrackedObject o;
    o.track_id = id;
    o.class_id = cls;
    o.raw_class_id = cls;
    o.score = 0.9f;
    o.x1 = static_cast<float>(fx - 20);
    o.x2 = static_cast<float>(fx + 20);
    o.y2 = static_cast<float>(fy);
    o.y1 = o.y2 - 40;
    o.confirmed = confirmed;
    o.first_seen_s = 0;
    o.last_seen_s = t;
    return o;
}

ZoneConfig zone() {
    ZoneConfig z;
    z.name = std::string("approach");
    z.polygon = {{100, 100}, {300, 100}, {300, 300}, {100, 300}};
    z.hold_s = 2;
    return z;
}

// A calibration of 10 px per metre: the image rectangle (0,0)-(1000,1000) is 100 m x 100 m.
GroundPlane ten_px_per_metre() {
    SpeedCalibration c;
    c.image_points = {{0, 0}, {1000, 0}, {1000, 1000}, {0, 1000}};
    c.edge_lengths_m = {100, 100, 100, 100};
    return *GroundPlane::create(c, 0.0);
}

struct Scene {
    ZoneMonitor zm;
    SpeedEstimator sp;
    std::vector<ZoneTransition> all;
    explicit Scene(ZoneConfig z, std::optional<GroundPlane> g = std::nullopt) : zm(std::move(z)), sp(g, 1.0, 250) {}
    std::vector<ZoneTransition> step(const std::vector<TrackedObject>& tracks, double t) {
        sp.update(tracks, t);
        auto tr = zm.update(tracks, sp, t);
        all.insert(all.end(), tr.begin(), tr.end());
        return tr;
    }
};

TEST(ZoneMonitor, EntryExitAndDwell) {
    Scene r(zone());
    // 10 px per frame at 10 fps along y = 200: inside from x = 100 (t = 0.5) to x = 300; leaves at x = 310 (t = 2.6,
    // 10 px past the edge, beyond the 4 px margin).
    for (int i = 0; i <= 35; ++i) {
        const double t = 0.1 * i;
        r.step({zone_object(1, 50 + 10.0 * i, 200, t)}, t);
        if (i == 10) {
            EXPECT_EQ(r.zm.occupancy(), 1);
        }
    }
    ASSERT_EQ(r.all.size(), 2u);
    EXPECT_TRUE(r.all[0].enter);
    EXPECT_FLOAT_EQ(r.all[0].track.foot_x(), 100);
    EXPECT_FALSE(r.all[1].enter);
    ASSERT_TRUE(r.all[1].dwell_s);
    EXPECT_NEAR(*r.all[1].dwell_s, 2.1, 1e-9);
    EXPECT_EQ(r.zm.entries(), 1);
    EXPECT_EQ(r.zm.exits(), 1);
    EXPECT_EQ(r.zm.occupancy(), 0);
}

TEST(ZoneMonitor, BoundaryJitterDoesNotFlap) {
    Scene r(zone());
    for (int i = 0; i < 100; ++i) r.step({zone_object(1, 150, 300 + (i % 2 ? 2.5 : -2.5), 0.1 * i)}, 0.1 * i);
    EXPECT_EQ(r.zm.entries(), 1);
    EXPECT_EQ(r.zm.exits(), 0);
}

TEST(ZoneMonitor, UnconfirmedTracksAreNotCountedUntilConfirmed) {
    Scene r(zone());
    r.step({zone_object(1, 200, 200, 0.0, false)}, 0.0);
    r.step({zone_object(1, 200, 201, 0.5, false)}, 0.5);
    EXPECT_EQ(r.zm.occupancy(), 0);
    EXPECT_TRUE(r.all.empty());
    r.step({zone_object(1, 200, 202, 1.0, true)}, 1.0);
    EXPECT_EQ(r.zm.occupancy(), 1);
    ASSERT_EQ(r.all.size(), 1u);
    EXPECT_TRUE(r.all[0].enter);
    // The track ends (missing from the list): it exits, dwell from its first observation inside to its last.
    r.step({}, 3.0);
    ASSERT_EQ(r.all.size(), 2u);
    EXPECT_FALSE(r.all[1].enter);
    EXPECT_NEAR(*r.all[1].dwell_s, 1.0, 1e-9);
    // One that never gets confirmed leaves no trace.
    r.step({zone_object(2, 200, 200, 4.0, false)}, 4.0);
    r.step({}, 5.0);
    EXPECT_EQ(r.all.size(), 2u);
    EXPECT_EQ(r.zm.entries(), 1);
}

TEST(ZoneMonitor, ClassFilter) {
    ZoneConfig z = zone();
    z.classes = {2};
    Scene r(z);
    r.step({zone_object(1, 200, 200, 0, true, 2), zone_object(2, 220, 220, 0, true, 0)}, 0);
    EXPECT_EQ(r.zm.occupancy(), 1);
    EXPECT_EQ(r.zm.entries(), 1);
}

TEST(ZoneMonitor, QueueFromPixelSpeedWithoutCalibration) {
    Scene r(zone());
    // Two cars stopped (jittering 1 px), one driving through at 100 px/s.
    for (int i = 0; i <= 20; ++i) {
        const double t = 0.1 * i;
        r.step({zone_object(1, 150, 200 + (i % 2), t), zone_object(2, 250, 250 - (i % 2), t), zone_object(3, 110 + 5.0 * i, 150, t)}, t);
    }
    EXPECT_EQ(r.zm.occupancy(), 3);
    EXPECT_EQ(r.zm.queue(), 2);
    EXPECT_FALSE(r.zm.mean_speed_kmh());  // no calibration: no km/h
}

TEST(ZoneMonitor, QueueAndMeanSpeedFromCalibratedSpeed) {
    Scene r(zone(), ten_px_per_metre());
    // Track 1: 1 px per 0.1 s = 1 m/s = 3.6 km/h (queued, though 10 px/s is above the pixel threshold).
    // Track 2: 10 px per 0.1 s = 10 m/s = 36 km/h.
    for (int i = 0; i <= 15; ++i) {
        const double t = 0.1 * i;
        r.step({zone_object(1, 150 + 1.0 * i, 200, t), zone_object(2, 120 + 10.0 * i, 250, t)}, t);
    }
    EXPECT_EQ(r.zm.occupancy(), 2);
    EXPECT_EQ(r.zm.queue(), 1);
    ASSERT_TRUE(r.zm.mean_speed_kmh());
    EXPECT_NEAR(*r.zm.mean_speed_kmh(), (3.6 + 36) / 2, 0.01);
}

TEST(ZoneMonitor, Overcrowded) {
    ZoneConfig z = zone();
    z.overcrowd_threshold = 3;
    Scene r(z);
    r.step({zone_object(1, 150, 150, 0), zone_object(2, 200, 200, 0)}, 0);
    EXPECT_FALSE(r.zm.overcrowded());
    r.step({zone_object(1, 150, 150, 0.1), zone_object(2, 200, 200, 0.1), zone_object(3, 250, 250, 0.1)}, 0.1);
    EXPECT_TRUE(r.zm.overcrowded());
}

TEST(ZoneMonitor, IntervalOccupancyPercent) {
    Scene r(zone());
    // 10 empty frames, 5 with one member, 5 with two.
    for (int i = 0; i < 20; ++i) {
        const double t = 0.1 * i;
        std::vector<TrackedObject> tr;
        if (i >= 10) tr.push_back(zone_object(1, 150, 150, t));
        if (i >= 15) tr.push_back(zone_object(2, 250, 250, t));
        r.step(tr, t);
    }
    const ZoneIntervalStats s = r.zm.take_interval();
    EXPECT_EQ(s.frames, 20);
    EXPECT_DOUBLE_EQ(s.occupancy_pct, 50);
    EXPECT_DOUBLE_EQ(s.mean_occupancy, (5 * 1 + 5 * 2) / 20.0);
    EXPECT_EQ(s.entries, 2);
    EXPECT_EQ(s.exits, 0);
    EXPECT_EQ(s.class_entries.at(2), 2);
    EXPECT_GE(s.max_queue, 1);  // track 1 stood still for a second
    const ZoneIntervalStats next = r.zm.take_interval();
    EXPECT_EQ(next.frames, 0);
    EXPECT_EQ(next.entries, 0);
}

TEST(Congestion, Condition) {
    ZoneConfig z = zone();  // slow < 30, queued < 10 km/h or queue >= 3
    EXPECT_EQ(congestion_condition(z, 0, 0, std::nullopt), CongestionLevel::kFree);
    EXPECT_EQ(congestion_condition(z, 4, 0, 50.0), CongestionLevel::kFree);
    EXPECT_EQ(congestion_condition(z, 4, 0, 20.0), CongestionLevel::kSlow);
    EXPECT_EQ(congestion_condition(z, 4, 0, 5.0), CongestionLevel::kQueued);
    EXPECT_EQ(congestion_condition(z, 4, 3, std::nullopt), CongestionLevel::kQueued);
    EXPECT_EQ(congestion_condition(z, 4, 2, std::nullopt), CongestionLevel::kSlow);
    EXPECT_EQ(congestion_condition(z, 4, 1, std::nullopt), CongestionLevel::kFree);
    z.overcrowd_threshold = 4;
    EXPECT_EQ(congestion_condition(z, 4, 0, 50.0), CongestionLevel::kSlow);
    EXPECT_STREQ(congestion_level_name(CongestionLevel::kQueued), "queued");
}

TEST(Congestion, Hysteresis) {
    CongestionState c(2.0);
    EXPECT_FALSE(c.update(CongestionLevel::kQueued, 0.0));
    EXPECT_FALSE(c.update(CongestionLevel::kQueued, 1.9));
    EXPECT_FALSE(c.update(CongestionLevel::kFree, 2.0));  // a break: the count starts over
    EXPECT_FALSE(c.update(CongestionLevel::kQueued, 2.1));
    EXPECT_FALSE(c.update(CongestionLevel::kQueued, 4.0));
    const auto ch = c.update(CongestionLevel::kQueued, 4.1);
    ASSERT_TRUE(ch);
    EXPECT_EQ(*ch, CongestionLevel::kQueued);
    EXPECT_FALSE(c.update(CongestionLevel::kQueued, 10));
    EXPECT_FALSE(c.update(CongestionLevel::kSlow, 11));
    EXPECT_FALSE(c.update(CongestionLevel::kFree, 12));  // a different condition restarts the hold
    EXPECT_FALSE(c.update(CongestionLevel::kFree, 13.9));
    EXPECT_EQ(c.update(CongestionLevel::kFree, 14.0), CongestionLevel::kFree);
}

TEST(ZoneMonitor, CongestionFollowsAStandingQueue) {
    Scene r(zone());  // hold 2 s
    int changes = 0;
    for (int i = 0; i <= 60; ++i) {
        const double t = 0.1 * i;
        r.step({zone_object(1, 150, 150, t), zone_object(2, 200, 200, t), zone_object(3, 250, 250, t)}, t);
        if (r.zm.congestion_change()) {
            ++changes;
            EXPECT_EQ(*r.zm.congestion_change(), CongestionLevel::kQueued);
            EXPECT_EQ(r.zm.previous_congestion(), CongestionLevel::kFree);
            // The queue is known after half a speed window (0.5 s), then held 2 s.
            EXPECT_NEAR(t, 2.5, 1e-9);
        }
    }
    EXPECT_EQ(changes, 1);
    EXPECT_EQ(r.zm.congestion(), CongestionLevel::kQueued);
}

}  // namespace
}  // namespace itscam::analytics
