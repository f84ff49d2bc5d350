// Plane geometry for the analytics: which side of a counting line a point is on, whether a move crosses the segment,
// point-in-polygon, polygon area and simplicity. Image coordinates (x right, y down) unless a caller says otherwise.
#pragma once

#include <optional>
#include <vector>

#include "analytics/analytics_config.h"

namespace itscam::analytics {

// (a - o) x (b - o): > 0 when b is clockwise of a seen from o on screen (y down), < 0 counter-clockwise.
double cross(Point o, Point a, Point b);
double distance(Point a, Point b);

// Signed side of p for the directed line a->b: > 0 on its right (screen, y down), < 0 on its left, 0 on it.
// For a = (0, y), b = (W, y) the right side is below the line.
double side_value(Point a, Point b, Point p);
// -1 (left), 0 (on the line), +1 (right).
int side_of(Point a, Point b, Point p);
// Distance from p to the infinite line through a and b (a != b).
double distance_to_line(Point a, Point b, Point p);
// Distance from p to the segment [a, b].
double distance_to_segment(Point a, Point b, Point p);

// The on-the-segment crossing rule: the move p0 -> p1 has its ends strictly on opposite sides of the line a-b and
// passes through the segment [a, b] itself (not the line's extension beyond a or b). Returns the side p1 ends on
// (+1: moved left to right, "forward"; -1: right to left), or 0 when the move does not cross.
int segment_crossing(Point a, Point b, Point p0, Point p1);

// True when the closed segments [p, q] and [r, s] share a point (touching and collinear overlap included).
bool segments_intersect(Point p, Point q, Point r, Point s);

// Whether a, b, c are on one line, within a relative tolerance (|cross| <= tol * |ab| * |ac|, i.e. the sine of the
// angle at a is at most tol).
bool collinear(Point a, Point b, Point c, double tol = 1e-9);

// Even-odd point-in-polygon; points on an edge count as inside.
bool point_in_polygon(const std::vector<Point>& poly, Point p);
// Shoelace area, signed (> 0 clockwise on screen, y down) and absolute.
double polygon_signed_area(const std::vector<Point>& poly);
double polygon_area(const std::vector<Point>& poly);
// Distance from p to the nearest edge of the polygon (0 on an edge).
double distance_to_polygon_edges(const std::vector<Point>& poly, Point p);

// The first pair of non-adjacent edges that intersect (edge i runs from poly[i] to poly[i+1 mod n]), or nullopt
// when the polygon is simple. Adjacent edges that fold back onto each other (collinear overlap) count too.
struct EdgePair {
    int i = 0, j = 0;
};
std::optional<EdgePair> self_intersection(const std::vector<Point>& poly);
bool is_convex(const std::vector<Point>& poly);

Point centroid(const std::vector<Point>& poly);  // mean of the vertices

}  // namespace itscam::analytics
