#include "analytics/kalman_box.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace itscam::analytics {
namespace {

TEST(KalmanBox, CornerAndCentreFormsRoundTrip) {
    const BoxXyxy b{10, 20, 70, 65};
    const BoxXyah c = to_xyah(b);
    EXPECT_DOUBLE_EQ(c.cx, 40);
    EXPECT_DOUBLE_EQ(c.cy, 42.5);
    EXPECT_DOUBLE_EQ(c.h, 45);
    EXPECT_DOUBLE_EQ(c.a, 60.0 / 45);
    const BoxXyxy r = to_xyxy(c);
    EXPECT_FLOAT_EQ(r.x1, 10);
    EXPECT_FLOAT_EQ(r.y1, 20);
    EXPECT_FLOAT_EQ(r.x2, 70);
    EXPECT_FLOAT_EQ(r.y2, 65);
}

TEST(KalmanBox, OneLongStepEqualsTwoShortOnes) {
    // The discretisation is exact: the prediction does not depend on how a gap is cut into frames.
    KalmanBox a(to_xyah({100, 100, 160, 145}), {});
    a.update(to_xyah({103, 101, 163, 146}));  // some velocity in x and y, none in h
    KalmanBox b = a;
    a.predict(0.2);
    b.predict(0.1);
    b.predict(0.1);
    for (int i = 0; i < 4; ++i) {
        EXPECT_NEAR(a.pos_var(i), b.pos_var(i), 1e-9 * a.pos_var(i)) << i;
        EXPECT_NEAR(a.vel_var(i), b.vel_var(i), 1e-9 * a.vel_var(i)) << i;
    }
    EXPECT_NEAR(a.mean().cx, b.mean().cx, 1e-9);
    EXPECT_NEAR(a.mean().cy, b.mean().cy, 1e-9);
    // And uncertainty grows with time.
    KalmanBox c = a;
    c.predict(0.5);
    EXPECT_GT(c.pos_var(0), a.pos_var(0));
    EXPECT_GT(c.vel_var(0), a.vel_var(0));
}

// The filter's velocity after 3 s of a box moving (50, -20) px/s, observed at fps.
BoxXyah velocity_after(double fps) {
    const int n = static_cast<int>(3 * fps);
    KalmanBox kf(to_xyah({100, 300, 160, 345}), {});
    for (int k = 1; k <= n; ++k) {
        const double t = k / fps;
        kf.predict(1 / fps);
        const float x = static_cast<float>(100 + 50 * t), y = static_cast<float>(300 - 20 * t);
        kf.update(to_xyah({x, y, x + 60, y + 45}));
    }
    return kf.velocity();
}

TEST(KalmanBox, EstimatesVelocityInPixelsPerSecondAtAnyFrameRate) {
    for (double fps : {3.0, 10.0, 30.0, 60.0}) {
        const BoxXyah v = velocity_after(fps);
        EXPECT_NEAR(v.cx, 50, 1.0) << fps << " fps";
        EXPECT_NEAR(v.cy, -20, 1.0) << fps << " fps";
        EXPECT_NEAR(v.h, 0, 0.5) << fps << " fps";
    }
}

TEST(KalmanBox, BadStepsAndMeasurementsChangeNothing) {
    KalmanBox kf(to_xyah({100, 100, 160, 145}), {});
    kf.predict(0.1);
    const BoxXyah before = kf.mean();
    const double var = kf.pos_var(0);
    kf.predict(0);
    kf.predict(-1);
    kf.predict(std::numeric_limits<double>::quiet_NaN());
    kf.predict(std::numeric_limits<double>::infinity());
    kf.update({std::numeric_limits<double>::quiet_NaN(), 100, 1, 45});
    kf.update({130, 120, 1, 0});
    kf.update({130, 120, -1, 45});
    EXPECT_EQ(kf.mean().cx, before.cx);
    EXPECT_EQ(kf.mean().h, before.h);
    EXPECT_EQ(kf.pos_var(0), var);
}

TEST(KalmanBox, ALongCoastNeverInvertsTheBox) {
    KalmanBox kf(to_xyah({100, 100, 160, 160}), {});
    for (int k = 1; k <= 10; ++k) {  // shrinking 30 px/s
        kf.predict(0.1);
        kf.update({130, 130, 1, 60 - 3.0 * k});
    }
    EXPECT_LT(kf.velocity().h, -10);
    kf.predict(10);
    EXPECT_GE(kf.mean().h, 1.0);
    EXPECT_GE(kf.mean().a, 0.05);
    const BoxXyxy b = to_xyxy(kf.mean());
    EXPECT_GT(b.x2, b.x1);
    EXPECT_GT(b.y2, b.y1);
}

}  // namespace
}  // namespace itscam::analytics
