// Ground-plane homography: a synthetic pinhole camera projects a known road rectangle (and a general quadrilateral);
// the calibration from those image points and the real edge lengths must give lengths back within 0.5%.
#include "analytics/homography.h"

#include <gtest/gtest.h>

#include <cmath>

#include "analytics/geometry.h"

namespace itscam::analytics {
namespace {

// A camera 8 m above the road, 10 m behind world y = 0, looking along +y, pitched down by `pitch_deg`, yawed a little
// so that nothing lines up with the image axes. Projects a ground point (X, Y, 0) to pixels; w <= 0 behind it.
struct Camera {
    double f = 1100, cx = 960, cy = 540, height = 8, back = 10, pitch_deg = 14, yaw_deg = 7;
    std::optional<Point> project(Point g) const {
        const double pt = pitch_deg * M_PI / 180, yw = yaw_deg * M_PI / 180;
        const double dx0 = g.x, dy0 = g.y + back, dz = -height;
        // Yaw about the vertical axis, then the pitched camera axes.
        const double dx = std::cos(yw) * dx0 - std::sin(yw) * dy0, dy = std::sin(yw) * dx0 + std::cos(yw) * dy0;
        const double xc = dx;
        const double yc = -std::sin(pt) * dy - std::cos(pt) * dz;
        const double zc = std::cos(pt) * dy - std::sin(pt) * dz;
        if (zc <= 0) return std::nullopt;
        return Point{f * xc / zc + cx, f * yc / zc + cy};
    }
};

SpeedCalibration calibration_of(const Camera& cam, const std::vector<Point>& world, std::vector<double> edges,
                                std::optional<double> diagonal) {
    SpeedCalibration c;
    for (const Point& w : world) c.image_points.push_back(*cam.project(w));
    c.edge_lengths_m = std::move(edges);
    c.diagonal_m = diagonal;
    return c;
}

TEST(Homography, SolvesAKnownMapping) {
    const std::array<Point, 4> src = {Point{0, 0}, Point{1, 0}, Point{1, 1}, Point{0, 1}};
    const Mat3 truth = {2, 0.3, 5, -0.1, 1.5, 7, 0.02, 0.05, 1};
    std::array<Point, 4> dst;
    for (int i = 0; i < 4; ++i) dst[i] = *apply_homography(truth, src[i]);
    const auto h = solve_homography(src, dst);
    ASSERT_TRUE(h.is_ok()) << h.status().message();
    for (int i = 0; i < 9; ++i) EXPECT_NEAR((*h)[i], truth[i], 1e-9) << i;
}

TEST(Homography, ProjectedRectangleGivesLengthsBackWithinHalfAPercent) {
    const Camera cam;
    const std::vector<Point> world = {{0, 0}, {3.5, 0}, {3.5, 30}, {0, 30}};
    const auto g = GroundPlane::create(calibration_of(cam, world, {3.5, 30, 3.5, 30}, std::nullopt));
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    std::vector<Point> back;
    for (const Point& w : world) back.push_back(*g->to_world(*cam.project(w)));
    for (int i = 0; i < 4; ++i) {
        const double truth = distance(world[i], world[(i + 1) % 4]);
        EXPECT_NEAR(distance(back[i], back[(i + 1) % 4]), truth, 0.005 * truth) << "edge " << i;
    }
    // Points inside the lane, and a car moving 20 m along it: distances are metric everywhere, not just at one depth.
    const Point p1 = *g->to_world(*cam.project({1.75, 3})), p2 = *g->to_world(*cam.project({1.75, 23}));
    EXPECT_NEAR(distance(p1, p2), 20, 0.1);
    const Point q1 = *g->to_world(*cam.project({0.5, 12})), q2 = *g->to_world(*cam.project({3.0, 12}));
    EXPECT_NEAR(distance(q1, q2), 2.5, 0.0125);
}

TEST(Homography, GeneralQuadrilateralWithDiagonal) {
    const Camera cam;
    // A trapezoid on the road (a lane widening), points 0..3 in order; lengths measured in the world.
    const std::vector<Point> world = {{0, 0}, {3.5, 0}, {5.0, 25}, {-0.5, 25}};
    std::vector<double> edges;
    for (int i = 0; i < 4; ++i) edges.push_back(distance(world[i], world[(i + 1) % 4]));
    // Without the diagonal this is no rectangle: a clear error asking for it.
    const auto no_diag = GroundPlane::create(calibration_of(cam, world, edges, std::nullopt));
    ASSERT_FALSE(no_diag.is_ok());
    EXPECT_NE(no_diag.status().message().find("diagonal_m"), std::string::npos) << no_diag.status().message();
    const auto g = GroundPlane::create(calibration_of(cam, world, edges, distance(world[0], world[2])));
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    const Point a = *g->to_world(*cam.project({1, 5})), b = *g->to_world(*cam.project({2, 20}));
    EXPECT_NEAR(distance(a, b), std::hypot(1, 15), 0.005 * std::hypot(1, 15));
    const Point c = *g->to_world(*cam.project({4.5, 25})), d = *g->to_world(*cam.project({0, 0}));
    EXPECT_NEAR(distance(c, d), std::hypot(4.5, 25), 0.005 * std::hypot(4.5, 25));
}

TEST(Homography, CalibratedAreaAndHorizon) {
    const Camera cam;
    const std::vector<Point> world = {{0, 0}, {3.5, 0}, {3.5, 30}, {0, 30}};
    const auto g = GroundPlane::create(calibration_of(cam, world, {3.5, 30, 3.5, 30}, std::nullopt));
    ASSERT_TRUE(g.is_ok()) << g.status().message();
    EXPECT_TRUE(g->in_calibrated_area(*cam.project({1.75, 15})));
    EXPECT_TRUE(g->in_calibrated_area(*cam.project({1.75, 31})));    // within the 10% margin (3 m of 30)
    EXPECT_FALSE(g->in_calibrated_area(*cam.project({1.75, 40})));   // well past the markings
    EXPECT_FALSE(g->in_calibrated_area(*cam.project({10, 15})));     // two lanes over
    // Above the horizon (the sky): no world point at all.
    const double horizon_v = cam.cy - cam.f * std::tan(cam.pitch_deg * M_PI / 180);
    EXPECT_FALSE(g->to_world({960, horizon_v - 50}).has_value());
    EXPECT_FALSE(g->in_calibrated_area({960, horizon_v - 50}));
    // With no margin, the point 1 m past the markings is out.
    const auto tight = GroundPlane::create(calibration_of(cam, world, {3.5, 30, 3.5, 30}, std::nullopt), 0.0);
    ASSERT_TRUE(tight.is_ok());
    EXPECT_FALSE(tight->in_calibrated_area(*cam.project({1.75, 31})));
    EXPECT_TRUE(tight->in_calibrated_area(*cam.project({1.75, 29})));
}

TEST(Homography, RefusesDegenerateCalibrations) {
    SpeedCalibration c;
    c.edge_lengths_m = {3.5, 30, 3.5, 30};
    c.image_points = {{100, 500}, {300, 500}, {500, 500}, {200, 800}};  // three on one row
    auto g = GroundPlane::create(c);
    ASSERT_FALSE(g.is_ok());
    EXPECT_NE(g.status().message().find("collinear"), std::string::npos) << g.status().message();

    c.image_points = {{100, 500}, {400, 500}, {120, 800}, {380, 800}};  // crossed (bow tie) order
    g = GroundPlane::create(c);
    ASSERT_FALSE(g.is_ok());
    EXPECT_NE(g.status().message().find("convex"), std::string::npos) << g.status().message();

    c.image_points = {{100, 500}, {400, 500}, {380, 800}, {120, 800}};
    c.edge_lengths_m = {3.5, 30, 3.5};
    EXPECT_FALSE(GroundPlane::create(c).is_ok());
    c.edge_lengths_m = {3.5, 30, 3.5, -30};
    EXPECT_FALSE(GroundPlane::create(c).is_ok());
    c.edge_lengths_m = {3.5, 30, 3.5, 30};
    c.diagonal_m = 40;  // longer than edges 0 + 1: no triangle
    g = GroundPlane::create(c);
    ASSERT_FALSE(g.is_ok());
    EXPECT_NE(g.status().message().find("triangle"), std::string::npos) << g.status().message();
    c.diagonal_m = std::hypot(3.5, 30);
    EXPECT_TRUE(GroundPlane::create(c).is_ok());
    c.image_points.pop_back();
    EXPECT_FALSE(GroundPlane::create(c).is_ok());
}

TEST(Homography, WorldQuadFromLengths) {
    const auto r = world_quad_from_lengths({4, 20, 4.2, 19.5}, std::nullopt);
    ASSERT_TRUE(r.is_ok());
    EXPECT_DOUBLE_EQ((*r)[2].x, 4.1);
    EXPECT_DOUBLE_EQ((*r)[2].y, 19.75);
    const auto q = world_quad_from_lengths({3, 4, 3, 4}, 5.0);  // a 3 x 4 rectangle from its diagonal
    ASSERT_TRUE(q.is_ok());
    for (int i = 0; i < 4; ++i)
        EXPECT_NEAR(distance((*q)[i], (*q)[(i + 1) % 4]), i % 2 ? 4 : 3, 1e-9);
    EXPECT_NEAR(distance((*q)[1], (*q)[3]), 5, 1e-9);  // the other diagonal of a rectangle is equal
}

}  // namespace
}  // namespace itscam::analytics
