// Per-track speed: calibrated current and average speed, the calibrated area, the glitch ceiling, pixel speed.
#include "analytics/speed_estimator.h"

#include <gtest/gtest.h>

namespace itscam::analytics {
namespace {

TrackedObject at(int64_t id, double fx, double fy) {
    TrackedObject o;
    o.track_id = id;
    o.x1 = static_cast<float>(fx - 10);
    o.x2 = static_cast<float>(fx + 10);
    o.y2 = static_cast<float>(fy);
    o.y1 = o.y2 - 30;
    o.confirmed = true;
    return o;
}

// 10 px per metre over the image rectangle (0,0)-(1000,1000); calibrated area = that square.
GroundPlane plane() {
    SpeedCalibration c;
    c.image_points = {{0, 0}, {1000, 0}, {1000, 1000}, {0, 1000}};
    c.edge_lengths_m = {100, 100, 100, 100};
    return *GroundPlane::create(c, 0.0);
}

TEST(SpeedEstimator, ConstantSpeedAt25Fps) {
    SpeedEstimator s(plane(), 1.0, 250);
    // 20 m/s = 72 km/h: 200 px/s, 8 px per frame at 25 fps.
    for (int i = 0; i <= 50; ++i) s.update({at(1, 100 + 8.0 * i, 500)}, i / 25.0);
    const TrackSpeed v = s.speed(1);
    ASSERT_TRUE(v.current_kmh);
    EXPECT_NEAR(*v.current_kmh, 72, 0.01);
    ASSERT_TRUE(v.average_kmh);
    EXPECT_NEAR(*v.average_kmh, 72, 0.01);
    ASSERT_TRUE(v.pixel_speed);
    EXPECT_NEAR(*v.pixel_speed, 200, 1e-6);
    EXPECT_TRUE(v.in_calibrated_area);
}

TEST(SpeedEstimator, NeedsHalfAWindowAndSmoothsAChange) {
    SpeedEstimator s(plane(), 1.0, 250);
    s.update({at(1, 100, 500)}, 0);
    s.update({at(1, 110, 500)}, 0.2);
    EXPECT_FALSE(s.speed(1).current_kmh);  // 0.2 s of baseline: not yet
    double x = 110;
    for (int i = 2; i <= 30; ++i) s.update({at(1, x += 20, 500)}, 0.1 * i);  // 20 m/s
    EXPECT_NEAR(*s.speed(1).current_kmh, 72, 0.5);
    for (int i = 31; i <= 60; ++i) s.update({at(1, x += 10, 500)}, 0.1 * i);  // 10 m/s
    EXPECT_NEAR(*s.speed(1).current_kmh, 36, 0.5);
    EXPECT_GT(*s.speed(1).average_kmh, 36);
    EXPECT_LT(*s.speed(1).average_kmh, 72);
}

TEST(SpeedEstimator, NotReportedOutsideTheCalibratedAreaOrAboveTheCeiling) {
    SpeedEstimator s(plane(), 1.0, 100);
    for (int i = 0; i <= 20; ++i) s.update({at(1, 1100 + 10.0 * i, 500)}, 0.1 * i);  // right of the square
    EXPECT_FALSE(s.speed(1).current_kmh);
    EXPECT_FALSE(s.speed(1).in_calibrated_area);
    ASSERT_TRUE(s.speed(1).pixel_speed);  // pixels still move
    EXPECT_NEAR(*s.speed(1).pixel_speed, 100, 1e-6);
    // 50 m/s = 180 km/h: over the 100 km/h ceiling.
    for (int i = 0; i <= 20; ++i) s.update({at(1, 100, 500), at(2, 50 + 50.0 * i, 200)}, 3 + 0.1 * i);
    EXPECT_FALSE(s.speed(2).current_kmh);
    EXPECT_NEAR(*s.speed(1).current_kmh, 0, 1e-9);  // a stopped car: 0 km/h is a speed
}

TEST(SpeedEstimator, ForgetsEndedTracksAndTimeSteppingBack) {
    SpeedEstimator s(std::nullopt, 1.0, 250);
    EXPECT_FALSE(s.calibrated());
    for (int i = 0; i <= 10; ++i) s.update({at(1, 10.0 * i, 500)}, 0.1 * i);
    EXPECT_TRUE(s.speed(1).pixel_speed);
    EXPECT_FALSE(s.speed(1).current_kmh);
    s.update({}, 1.1);
    EXPECT_FALSE(s.speed(1).pixel_speed);
    for (int i = 0; i <= 10; ++i) s.update({at(2, 10.0 * i, 500)}, 5 + 0.1 * i);
    s.update({at(2, 0, 500)}, 0.0);  // a looped file
    EXPECT_FALSE(s.speed(2).pixel_speed);
}

}  // namespace
}  // namespace itscam::analytics
