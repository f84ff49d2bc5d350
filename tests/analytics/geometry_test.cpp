// Plane geometry: sides, the on-the-segment crossing rule, point-in-polygon, areas, self-intersection, collinearity.
#include "analytics/geometry.h"

#include <gtest/gtest.h>

namespace itscam::analytics {
namespace {

TEST(Geometry, SideConventionRightIsBelowForLeftToRightLine) {
    const Point a{0, 100}, b{640, 100};
    EXPECT_EQ(side_of(a, b, {10, 150}), 1);   // below: right of a->b on screen
    EXPECT_EQ(side_of(a, b, {10, 50}), -1);   // above: left
    EXPECT_EQ(side_of(a, b, {300, 100}), 0);
    EXPECT_DOUBLE_EQ(distance_to_line(a, b, {5, 130}), 30);
    EXPECT_DOUBLE_EQ(distance_to_segment(a, b, {700, 100}), 60);
}

TEST(Geometry, SegmentCrossingOnTheSegmentOnly) {
    const Point a{100, 200}, b{300, 200};
    EXPECT_EQ(segment_crossing(a, b, {200, 180}, {200, 220}), 1);    // top to bottom: forward
    EXPECT_EQ(segment_crossing(a, b, {200, 220}, {200, 180}), -1);   // bottom to top: backward
    EXPECT_EQ(segment_crossing(a, b, {350, 180}, {350, 220}), 0);    // beside the end at b: the line, not the segment
    EXPECT_EQ(segment_crossing(a, b, {50, 180}, {60, 220}), 0);      // beside a
    EXPECT_EQ(segment_crossing(a, b, {310, 150}, {250, 250}), 1);    // diagonal move that passes through the segment
    EXPECT_EQ(segment_crossing(a, b, {200, 180}, {200, 200}), 0);    // ends on the line: not yet across
    EXPECT_EQ(segment_crossing(a, b, {200, 180}, {220, 190}), 0);    // same side
    EXPECT_EQ(segment_crossing(a, b, {300, 180}, {300, 220}), 1);    // exactly over the end point counts
}

TEST(Geometry, SegmentsIntersect) {
    EXPECT_TRUE(segments_intersect({0, 0}, {10, 10}, {0, 10}, {10, 0}));
    EXPECT_FALSE(segments_intersect({0, 0}, {10, 0}, {0, 1}, {10, 1}));
    EXPECT_TRUE(segments_intersect({0, 0}, {10, 0}, {10, 0}, {20, 5}));   // touching at an end
    EXPECT_TRUE(segments_intersect({0, 0}, {10, 0}, {5, 0}, {20, 0}));    // collinear overlap
    EXPECT_FALSE(segments_intersect({0, 0}, {10, 0}, {11, 0}, {20, 0}));   // collinear, apart
}

TEST(Geometry, Collinear) {
    EXPECT_TRUE(collinear({0, 0}, {10, 10}, {25, 25}));
    EXPECT_FALSE(collinear({0, 0}, {10, 10}, {25, 26}));
    EXPECT_TRUE(collinear({0, 0}, {1000, 0}, {500, 0.1}, 1e-3));
}

TEST(Geometry, PointInPolygon) {
    const std::vector<Point> sq = {{0, 0}, {10, 0}, {10, 10}, {0, 10}};
    EXPECT_TRUE(point_in_polygon(sq, {5, 5}));
    EXPECT_TRUE(point_in_polygon(sq, {10, 5}));   // on an edge
    EXPECT_TRUE(point_in_polygon(sq, {0, 0}));    // on a vertex
    EXPECT_FALSE(point_in_polygon(sq, {11, 5}));
    EXPECT_FALSE(point_in_polygon(sq, {-0.01, 5}));
    const std::vector<Point> concave = {{0, 0}, {10, 0}, {10, 10}, {5, 3}, {0, 10}};
    EXPECT_FALSE(point_in_polygon(concave, {5, 8}));
    EXPECT_TRUE(point_in_polygon(concave, {2, 3}));
    EXPECT_FALSE(point_in_polygon({{0, 0}, {1, 1}}, {0.5, 0.5}));  // not a polygon
}

TEST(Geometry, Areas) {
    const std::vector<Point> cw = {{0, 0}, {4, 0}, {4, 3}, {0, 3}};  // clockwise on screen (y down)
    EXPECT_DOUBLE_EQ(polygon_signed_area(cw), 12);
    EXPECT_DOUBLE_EQ(polygon_area({{0, 3}, {4, 3}, {4, 0}, {0, 0}}), 12);
    EXPECT_DOUBLE_EQ(polygon_area({{0, 0}, {5, 5}, {10, 10}}), 0);
    EXPECT_DOUBLE_EQ(distance_to_polygon_edges(cw, {2, 1}), 1);
    EXPECT_DOUBLE_EQ(distance_to_polygon_edges(cw, {7, 3}), 3);
}

TEST(Geometry, SelfIntersection) {
    EXPECT_FALSE(self_intersection({{0, 0}, {10, 0}, {10, 10}, {0, 10}}));
    const auto bow = self_intersection({{0, 0}, {10, 10}, {10, 0}, {0, 10}});  // bow tie
    ASSERT_TRUE(bow);
    EXPECT_EQ(bow->i, 0);
    EXPECT_EQ(bow->j, 2);
    // A spike that folds back along the previous edge.
    EXPECT_TRUE(self_intersection({{0, 0}, {10, 0}, {5, 0}, {5, 10}}));
    // A vertex touching a non-adjacent edge.
    EXPECT_TRUE(self_intersection({{0, 0}, {10, 0}, {10, 10}, {5, 0}, {0, 10}}));
    EXPECT_FALSE(self_intersection({{0, 0}, {10, 0}, {10, 10}, {5, 3}, {0, 10}}));  // concave but simple
}

TEST(Geometry, Convexity) {
    EXPECT_TRUE(is_convex({{0, 0}, {10, 0}, {10, 10}, {0, 10}}));
    EXPECT_TRUE(is_convex({{0, 10}, {10, 10}, {10, 0}, {0, 0}}));
    EXPECT_FALSE(is_convex({{0, 0}, {10, 0}, {10, 10}, {5, 3}, {0, 10}}));
    EXPECT_FALSE(is_convex({{0, 0}, {10, 10}, {10, 0}, {0, 10}}));
}

}  // namespace
}  // namespace itscam::analytics
