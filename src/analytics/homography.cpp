#include "analytics/homography.h"

#include <cmath>
#include <sstream>

#include "analytics/geometry.h"

namespace itscam::analytics {

namespace {

// Hartley normalisation: centroid to the origin, mean distance sqrt(2). Keeps the DLT system well conditioned for
// pixel coordinates in the thousands.
Mat3 normalising_transform(const std::array<Point, 4>& pts) {
    double cx = 0, cy = 0;
    for (const Point& p : pts) {
        cx += p.x;
        cy += p.y;
    }
    cx /= 4;
    cy /= 4;
    double mean = 0;
    for (const Point& p : pts) mean += std::hypot(p.x - cx, p.y - cy);
    mean /= 4;
    const double s = mean > 0 ? std::sqrt(2.0) / mean : 1.0;
    return {s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1};
}

Mat3 multiply(const Mat3& a, const Mat3& b) {
    Mat3 r{};
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 3; ++k) r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
    return r;
}

double determinant(const Mat3& m) {
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
           m[2] * (m[3] * m[7] - m[4] * m[6]);
}

// Inverse by the adjugate; the caller has checked the determinant.
Mat3 inverse(const Mat3& m) {
    const double d = determinant(m);
    Mat3 r = {m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
              m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
              m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3]};
    for (double& v : r) v /= d;
    return r;
}

// Solves A x = b (8x8) by Gaussian elimination with partial pivoting; false when a pivot is (near) zero.
bool solve8(std::array<std::array<double, 9>, 8>& a, std::array<double, 8>& x) {
    constexpr int n = 8;
    for (int col = 0; col < n; ++col) {
        int piv = col;
        for (int r = col + 1; r < n; ++r)
            if (std::fabs(a[r][col]) > std::fabs(a[piv][col])) piv = r;
        if (std::fabs(a[piv][col]) < 1e-10) return false;
        std::swap(a[piv], a[col]);
        for (int r = col + 1; r < n; ++r) {
            const double f = a[r][col] / a[col][col];
            for (int c = col; c <= n; ++c) a[r][c] -= f * a[col][c];
        }
    }
    for (int r = n - 1; r >= 0; --r) {
        double s = a[r][n];
        for (int c = r + 1; c < n; ++c) s -= a[r][c] * x[c];
        x[r] = s / a[r][r];
    }
    return true;
}

Point transform(const Mat3& t, Point p) {
    return {t[0] * p.x + t[1] * p.y + t[2], t[3] * p.x + t[4] * p.y + t[5]};  // affine (normalising) transforms
}

Status check_no_three_collinear(const std::array<Point, 4>& p, const char* what) {
    static constexpr int kTriples[4][3] = {{0, 1, 2}, {0, 1, 3}, {0, 2, 3}, {1, 2, 3}};
    for (const auto& t : kTriples) {
        if (collinear(p[t[0]], p[t[1]], p[t[2]], 1e-3)) {
            std::ostringstream os;
            os << what << " " << t[0] << ", " << t[1] << " and " << t[2] << " are collinear";
            return invalid_argument(os.str());
        }
    }
    return Status::ok();
}

std::string fmt(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

}  // namespace

Result<Mat3> solve_homography(const std::array<Point, 4>& src, const std::array<Point, 4>& dst) {
    ITSCAM_RETURN_IF_ERROR(check_no_three_collinear(src, "points"));
    ITSCAM_RETURN_IF_ERROR(check_no_three_collinear(dst, "target points"));
    const Mat3 ts = normalising_transform(src), td = normalising_transform(dst);
    std::array<std::array<double, 9>, 8> a{};
    for (int i = 0; i < 4; ++i) {
        const Point s = transform(ts, src[i]), d = transform(td, dst[i]);
        a[2 * i] = {s.x, s.y, 1, 0, 0, 0, -d.x * s.x, -d.x * s.y, d.x};
        a[2 * i + 1] = {0, 0, 0, s.x, s.y, 1, -d.y * s.x, -d.y * s.y, d.y};
    }
    std::array<double, 8> h{};
    if (!solve8(a, h)) return invalid_argument("degenerate homography: the point correspondences are near-singular");
    const Mat3 hn = {h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1};
    if (std::fabs(determinant(hn)) < 1e-9) return invalid_argument("degenerate homography: near-singular matrix");
    Mat3 out = multiply(inverse(td), multiply(hn, ts));
    // Scale so that h33 = 1 (it cannot be 0: the centroid of a convex source quad maps to a finite point).
    if (std::fabs(out[8]) > 1e-15)
        for (double& v : out) v /= out[8];
    // The four correspondences must be reproduced; a large residual means the solve lost precision.
    for (int i = 0; i < 4; ++i) {
        const auto p = apply_homography(out, src[i]);
        const double scale = std::max(1.0, std::hypot(dst[i].x, dst[i].y));
        if (!p || std::hypot(p->x - dst[i].x, p->y - dst[i].y) > 1e-6 * scale)
            return invalid_argument("degenerate homography: point " + std::to_string(i) + " is not reproduced");
    }
    return out;
}

std::optional<Point> apply_homography(const Mat3& h, Point p, double* w_out) {
    const double w = h[6] * p.x + h[7] * p.y + h[8];
    if (w_out) *w_out = w;
    if (w == 0 || !std::isfinite(w)) return std::nullopt;
    return Point{(h[0] * p.x + h[1] * p.y + h[2]) / w, (h[3] * p.x + h[4] * p.y + h[5]) / w};
}

Result<std::array<Point, 4>> world_quad_from_lengths(const std::vector<double>& e, std::optional<double> diagonal) {
    if (e.size() != 4) return invalid_argument("edges_m: needs exactly 4 lengths, got " + std::to_string(e.size()));
    for (size_t i = 0; i < 4; ++i)
        if (!(e[i] > 0) || !std::isfinite(e[i]))
            return invalid_argument("edges_m[" + std::to_string(i) + "]: must be a positive length in metres");
    if (!diagonal) {
        auto close = [](double a, double b) { return std::fabs(a - b) <= 0.10 * std::max(a, b); };
        if (!close(e[0], e[2]) || !close(e[1], e[3]))
            return invalid_argument("edges_m: opposite edges differ by more than 10% (" + fmt(e[0]) + " vs " +
                                    fmt(e[2]) + ", " + fmt(e[1]) + " vs " + fmt(e[3]) +
                                    "), so it is not a rectangle: give diagonal_m (point 0 to point 2)");
        const double w = 0.5 * (e[0] + e[2]), h = 0.5 * (e[1] + e[3]);
        return std::array<Point, 4>{Point{0, 0}, Point{w, 0}, Point{w, h}, Point{0, h}};
    }
    const double d = *diagonal;
    if (!(d > 0) || !std::isfinite(d)) return invalid_argument("diagonal_m: must be a positive length in metres");
    // Triangle 0-1-2 from edge 0, edge 1 and the diagonal; triangle 0-2-3 from the diagonal, edge 2 and edge 3.
    auto apex = [](double base, double from_start, double from_end) -> std::optional<Point> {
        const double x = (base * base + from_start * from_start - from_end * from_end) / (2 * base);
        const double y2 = from_start * from_start - x * x;
        if (!(y2 > 1e-6 * from_start * from_start)) return std::nullopt;  // flat or impossible triangle
        return Point{x, std::sqrt(y2)};
    };
    const auto p2 = apex(e[0], d, e[1]);  // along edge 0: |P0 P2| = d, |P1 P2| = e1
    if (!p2) return invalid_argument("diagonal_m: edges 0, 1 and the diagonal do not form a triangle");
    const auto q = apex(d, e[3], e[2]);   // along the diagonal: |P0 P3| = e3, |P2 P3| = e2
    if (!q) return invalid_argument("diagonal_m: edges 2, 3 and the diagonal do not form a triangle");
    // P3 in the diagonal's frame (u along P0->P2, v the normal away from P1: P1 is at negative v).
    const Point u{p2->x / d, p2->y / d};
    const Point v{-u.y, u.x};  // P1 = (e0, 0): v . P1 = -u.y * e0 < 0 since P2 is above the x axis
    const Point p3{q->x * u.x + q->y * v.x, q->x * u.y + q->y * v.y};
    std::array<Point, 4> quad = {Point{0, 0}, Point{e[0], 0}, *p2, p3};
    if (!is_convex({quad.begin(), quad.end()}))
        return invalid_argument("edges_m/diagonal_m: the lengths give a non-convex quadrilateral");
    return quad;
}

Result<GroundPlane> GroundPlane::create(const SpeedCalibration& cal, double margin) {
    if (cal.image_points.size() != 4)
        return invalid_argument("points: needs exactly 4 image points, got " + std::to_string(cal.image_points.size()));
    std::array<Point, 4> img;
    for (int i = 0; i < 4; ++i) img[i] = cal.image_points[i];
    ITSCAM_RETURN_IF_ERROR(check_no_three_collinear(img, "points"));
    if (!is_convex(cal.image_points))
        return invalid_argument("points: the 4 image points must form a convex quadrilateral, in order around it");
    ITSCAM_ASSIGN_OR_RETURN(auto world, world_quad_from_lengths(cal.edge_lengths_m, cal.diagonal_m));
    ITSCAM_ASSIGN_OR_RETURN(Mat3 h, solve_homography(img, world));
    // Every calibration point must be in front of the horizon, on the same side: w > 0 after fixing the sign.
    double w0 = 0;
    (void)apply_homography(h, img[0], &w0);
    if (w0 < 0)
        for (double& x : h) x = -x;
    for (int i = 0; i < 4; ++i) {
        double w = 0;
        (void)apply_homography(h, img[i], &w);
        if (!(w > 1e-12))
            return invalid_argument("degenerate homography: point " + std::to_string(i) +
                                    " maps to or beyond the horizon");
    }
    GroundPlane g;
    g.h_ = h;
    g.world_ = world;
    // The calibrated area: the world quad grown about its centroid. Its corners must map back in front of the
    // camera (the inverse's w > 0); if the margin reaches the horizon, the quadrilateral alone is the area.
    const std::vector<Point> wq(world.begin(), world.end());
    const Point c = centroid(wq);
    const Mat3 inv = inverse(h);
    auto grown = [&](double m) {
        std::vector<Point> a;
        for (const Point& p : wq) a.push_back({c.x + (p.x - c.x) * (1 + m), c.y + (p.y - c.y) * (1 + m)});
        return a;
    };
    g.area_ = grown(std::max(0.0, margin));
    if (!cal.area.empty()) {
        for (size_t i = 0; i < cal.area.size(); ++i) {
            double w = 0;
            (void)apply_homography(h, cal.area[i], &w);
            if (!(w > 1e-12))
                return invalid_argument("area[" + std::to_string(i) +
                                        "]: at or beyond the horizon of the road plane (no speed can be measured there)");
        }
        g.image_area_ = cal.area;
    }
    for (const Point& p : g.area_) {
        double w = 0;
        (void)apply_homography(inv, p, &w);
        if (!(w > 0)) {
            g.area_ = wq;
            break;
        }
    }
    return g;
}

std::optional<Point> GroundPlane::to_world(Point image) const {
    double w = 0;
    auto p = apply_homography(h_, image, &w);
    if (!p || !(w > 0)) return std::nullopt;
    return p;
}

bool GroundPlane::in_calibrated_area(Point image) const {
    const auto w = to_world(image);
    if (!w) return false;
    return image_area_.empty() ? point_in_polygon(area_, *w) : point_in_polygon(image_area_, image);
}

}  // namespace itscam::analytics
