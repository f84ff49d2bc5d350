#include "analytics/cross_class_dedup.h"

#include <gtest/gtest.h>

namespace itscam::analytics {
namespace {

using vision::Detection;

TEST(CrossClassDedup, KeepsTheHigherScoringClassOfOneObject) {
    // A bus reported as bus (0.8) and truck (0.6) at nearly the same box, a car elsewhere, and a truck that only
    // touches the bus (IoU < 0.7): only the truck duplicate goes.
    const std::vector<Detection> in = {{7, 0.6f, 100, 100, 300, 200},
                                       {2, 0.9f, 500, 100, 560, 140},
                                       {5, 0.8f, 102, 98, 302, 202},
                                       {7, 0.7f, 250, 100, 400, 200}};
    const auto out = drop_cross_class_duplicates(in);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].class_id, 2);  // order kept
    EXPECT_EQ(out[1].class_id, 5);
    EXPECT_EQ(out[2].x1, 250);
}

TEST(CrossClassDedup, SameClassOverlapsAreTheDetectorsBusiness) {
    // Two cars side by side in a queue overlap a lot; both stay (class-aware NMS already kept them apart).
    const std::vector<Detection> in = {{2, 0.9f, 100, 100, 200, 180}, {2, 0.5f, 110, 100, 210, 180}};
    EXPECT_EQ(drop_cross_class_duplicates(in).size(), 2u);
}

TEST(CrossClassDedup, EmptyAndDegenerateBoxes) {
    EXPECT_TRUE(drop_cross_class_duplicates({}).empty());
    const std::vector<Detection> in = {{2, 0.9f, 100, 100, 100, 100}, {7, 0.8f, 100, 100, 100, 100}};
    EXPECT_EQ(drop_cross_class_duplicates(in).size(), 2u);  // zero area: no overlap to speak of
}

}  // namespace
}  // namespace itscam::analytics
