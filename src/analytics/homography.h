// Ground-plane calibration for speed: a homography from image pixels to road-plane metres, built from 4 image points
// and the real lengths of the quadrilateral's edges (and diagonal), as Frigate does. One metres-per-pixel scale is
// wrong everywhere but at one depth; the homography undoes the perspective.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "analytics/analytics_config.h"
#include "core/status.h"

namespace itscam::analytics {

using Mat3 = std::array<double, 9>;  // row-major

// The 3x3 homography H (h33 = 1 before scaling) with H * src[i] ~ dst[i], by the direct linear transform on
// Hartley-normalised points and an 8x8 solve with partial pivoting. kInvalidArgument when three points are collinear
// or the system is near-singular.
Result<Mat3> solve_homography(const std::array<Point, 4>& src, const std::array<Point, 4>& dst);

// Applies H; nullopt when the point maps to infinity (w == 0). `w` receives the homogeneous scale when given.
std::optional<Point> apply_homography(const Mat3& h, Point p, double* w = nullptr);

// The world quadrilateral (metres, point 0 at the origin, edge 0 along +x) with the given edge lengths: edge i runs
// from point i to point (i+1) % 4. Without a diagonal it is the rectangle of the mean opposite edges (which must
// agree within 10%); with the diagonal (point 0 to point 2) it is built from the two triangles 0-1-2 and 0-2-3, on
// opposite sides of the diagonal, and must come out convex.
Result<std::array<Point, 4>> world_quad_from_lengths(const std::vector<double>& edges_m,
                                                     std::optional<double> diagonal_m);

// The calibrated area is the world quadrilateral grown about its centroid by this share of its size (10%) so a
// vehicle just past the painted markings still gets a speed; beyond it the plane model is extrapolation and speeds
// are not reported.
inline constexpr double kCalibratedAreaMargin = 0.10;

class GroundPlane {
public:
    // From the config (exactly 4 image points, 4 edges, optional diagonal). Refuses: collinear points, an image
    // quadrilateral that is not convex, lengths that do not close a quadrilateral, a near-singular homography, and
    // one that puts part of the calibrated area beyond the horizon. margin: share by which the calibrated area
    // extends beyond the quadrilateral (see kCalibratedAreaMargin).
    static Result<GroundPlane> create(const SpeedCalibration& cal, double margin = kCalibratedAreaMargin);

    // Image pixels -> metres on the road plane; nullopt at or beyond the horizon.
    std::optional<Point> to_world(Point image) const;
    // Whether the image point lies in the calibrated area: the configured `area` (image polygon) when given, else
    // the quadrilateral grown by the margin (in world terms).
    bool in_calibrated_area(Point image) const;

    const Mat3& image_to_world() const { return h_; }
    const std::array<Point, 4>& world_quad() const { return world_; }
    const std::vector<Point>& calibrated_area_world() const { return area_; }

private:
    Mat3 h_{};
    std::array<Point, 4> world_{};
    std::vector<Point> area_;        // world polygon
    std::vector<Point> image_area_;  // the configured image polygon (empty: area_ is the test)
};

}  // namespace itscam::analytics
