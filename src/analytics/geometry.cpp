#include "analytics/geometry.h"

#include <algorithm>
#include <cmath>

namespace itscam::analytics {

double cross(Point o, Point a, Point b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

double distance(Point a, Point b) { return std::hypot(b.x - a.x, b.y - a.y); }

double side_value(Point a, Point b, Point p) { return cross(a, b, p); }

int side_of(Point a, Point b, Point p) {
    const double v = side_value(a, b, p);
    return v > 0 ? 1 : (v < 0 ? -1 : 0);
}

double distance_to_line(Point a, Point b, Point p) {
    const double len = distance(a, b);
    if (len <= 0) return distance(a, p);
    return std::fabs(cross(a, b, p)) / len;
}

double distance_to_segment(Point a, Point b, Point p) {
    const double dx = b.x - a.x, dy = b.y - a.y;
    const double len2 = dx * dx + dy * dy;
    if (len2 <= 0) return distance(a, p);
    const double t = std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0.0, 1.0);
    return distance(p, Point{a.x + t * dx, a.y + t * dy});
}

int segment_crossing(Point a, Point b, Point p0, Point p1) {
    const int s0 = side_of(a, b, p0), s1 = side_of(a, b, p1);
    if (s0 == 0 || s1 == 0 || s0 == s1) return 0;
    // The move's ends are on opposite sides of the line; it crosses the segment when a and b are not both on one
    // side of the move (an end of the segment exactly on the move counts: the object passed over it).
    const double da = cross(p0, p1, a), db = cross(p0, p1, b);
    if ((da > 0 && db > 0) || (da < 0 && db < 0)) return 0;
    return s1;
}

namespace {
bool on_segment(Point p, Point q, Point r) {  // r collinear with p-q: within its bounding box
    return std::min(p.x, q.x) <= r.x && r.x <= std::max(p.x, q.x) && std::min(p.y, q.y) <= r.y &&
           r.y <= std::max(p.y, q.y);
}
int sign(double v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }
}  // namespace

bool segments_intersect(Point p, Point q, Point r, Point s) {
    const int d1 = sign(cross(r, s, p)), d2 = sign(cross(r, s, q));
    const int d3 = sign(cross(p, q, r)), d4 = sign(cross(p, q, s));
    if (d1 * d2 < 0 && d3 * d4 < 0) return true;
    if (d1 == 0 && on_segment(r, s, p)) return true;
    if (d2 == 0 && on_segment(r, s, q)) return true;
    if (d3 == 0 && on_segment(p, q, r)) return true;
    if (d4 == 0 && on_segment(p, q, s)) return true;
    return false;
}

bool collinear(Point a, Point b, Point c, double tol) {
    return std::fabs(cross(a, b, c)) <= tol * distance(a, b) * distance(a, c);
}

bool point_in_polygon(const std::vector<Point>& poly, Point p) {
    const size_t n = poly.size();
    if (n < 3) return false;
    bool inside = false;
    for (size_t i = 0, j = n - 1; i < n; j = i++) {
        const Point a = poly[i], b = poly[j];
        if (cross(a, b, p) == 0 && on_segment(a, b, p)) return true;
        if ((a.y > p.y) != (b.y > p.y)) {
            const double x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
            if (p.x < x) inside = !inside;
        }
    }
    return inside;
}

double polygon_signed_area(const std::vector<Point>& poly) {
    const size_t n = poly.size();
    double s = 0;
    for (size_t i = 0; i < n; ++i) {
        const Point a = poly[i], b = poly[(i + 1) % n];
        s += a.x * b.y - b.x * a.y;
    }
    return 0.5 * s;
}

double polygon_area(const std::vector<Point>& poly) { return std::fabs(polygon_signed_area(poly)); }

double distance_to_polygon_edges(const std::vector<Point>& poly, Point p) {
    double best = INFINITY;
    for (size_t i = 0; i < poly.size(); ++i)
        best = std::min(best, distance_to_segment(poly[i], poly[(i + 1) % poly.size()], p));
    return best;
}

std::optional<EdgePair> self_intersection(const std::vector<Point>& poly) {
    const int n = static_cast<int>(poly.size());
    if (n < 3) return std::nullopt;
    auto edge = [&](int i) { return std::pair<Point, Point>{poly[i], poly[(i + 1) % n]}; };
    for (int i = 0; i < n; ++i) {
        const auto [p, q] = edge(i);
        for (int j = i + 1; j < n; ++j) {
            const auto [r, s] = edge(j);
            const bool adjacent = j == i + 1 || (i == 0 && j == n - 1);
            if (!adjacent) {
                if (segments_intersect(p, q, r, s)) return EdgePair{i, j};
                continue;
            }
            // Adjacent edges share one vertex; they are bad only when they fold back along each other.
            const Point shared = (j == i + 1) ? q : p;
            const Point other_i = (j == i + 1) ? p : q;
            const Point other_j = (j == i + 1) ? s : r;
            if (cross(shared, other_i, other_j) == 0 &&
                (other_i.x - shared.x) * (other_j.x - shared.x) + (other_i.y - shared.y) * (other_j.y - shared.y) > 0)
                return EdgePair{i, j};
        }
    }
    return std::nullopt;
}

bool is_convex(const std::vector<Point>& poly) {
    const size_t n = poly.size();
    if (n < 3) return false;
    int dir = 0;
    for (size_t i = 0; i < n; ++i) {
        const int s = sign(cross(poly[i], poly[(i + 1) % n], poly[(i + 2) % n]));
        if (s == 0) continue;
        if (dir == 0) dir = s;
        else if (s != dir) return false;
    }
    return dir != 0 && !self_intersection(poly);
}

Point centroid(const std::vector<Point>& poly) {
    Point c;
    if (poly.empty()) return c;
    for (const Point& p : poly) {
        c.x += p.x;
        c.y += p.y;
    }
    c.x /= static_cast<double>(poly.size());
    c.y /= static_cast<double>(poly.size());
    return c;
}

}  // namespace itscam::analytics
