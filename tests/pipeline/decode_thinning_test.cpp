// DecodeThinning: when a camera's queue keeps dropping frames its decoder skips non-reference frames, and after calm
// windows it decodes every frame again. Times are given, so no test sleeps.
#include "pipeline/decode_thinning.h"

#include <gtest/gtest.h>

namespace itscam::pipeline {
namespace {

using Clock = DecodeThinning::Clock;
using std::chrono::milliseconds;

// Pushes at `fps` for `seconds`, every `drop_every`-th one a drop (0: none). Returns the last answer.
bool feed(DecodeThinning& t, Clock::time_point& now, double fps, double seconds, int drop_every) {
    const auto gap = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps));
    const int n = static_cast<int>(fps * seconds);
    bool on = t.thinning();
    for (int i = 0; i < n; ++i) {
        on = t.on_push(drop_every > 0 && i % drop_every == 0, now);
        now += gap;
    }
    return on;
}

TEST(DecodeThinning, AServedCameraDecodesEveryFrame) {
    DecodeThinning t;
    Clock::time_point now{};
    EXPECT_FALSE(feed(t, now, 25, 30, 0));
    // A drop now and then, and a third of the pushes (below the 40% that starts thinning), change nothing.
    EXPECT_FALSE(feed(t, now, 25, 30, 10));
    EXPECT_FALSE(feed(t, now, 25, 30, 3));
    EXPECT_EQ(t.activations(), 0);
}

TEST(DecodeThinning, StartsWithinAWindowOfSustainedDrops) {
    DecodeThinning t;
    Clock::time_point now{};
    feed(t, now, 25, 3, 0);
    // Half the pushes drop a frame: thinning starts when the first such window closes.
    EXPECT_FALSE(feed(t, now, 25, 0.96, 2));
    EXPECT_TRUE(feed(t, now, 25, 1.2, 2));
    EXPECT_EQ(t.activations(), 1);
}

TEST(DecodeThinning, StaysWhileDropsGoOnAndStopsAfterFiveCalmWindows) {
    DecodeThinning t;
    Clock::time_point now{};
    EXPECT_TRUE(feed(t, now, 25, 2.5, 2));
    // Still overloaded while thinned (fewer frames, still some drops): it stays on.
    EXPECT_TRUE(feed(t, now, 16, 20, 4));
    // The consumer takes every frame now: five calm windows, then every frame is decoded again.
    EXPECT_TRUE(feed(t, now, 16, 4.5, 0));
    EXPECT_FALSE(feed(t, now, 16, 1.5, 0));
    EXPECT_EQ(t.activations(), 1);
    // The drops come back with the full rate: thinning again.
    EXPECT_TRUE(feed(t, now, 25, 2.5, 2));
    EXPECT_EQ(t.activations(), 2);
}

TEST(DecodeThinning, AWindowOfFewPushesDecidesNothing) {
    DecodeThinning t;
    Clock::time_point now{};
    // A camera at 2 fps whose every push drops (a slow consumer of a slow camera): windows of 2 pushes do not start
    // thinning, which would skip most of what little it sends.
    EXPECT_FALSE(feed(t, now, 2, 20, 1));
    EXPECT_EQ(t.activations(), 0);
}

TEST(DecodeThinning, AStallIsNotCalm) {
    DecodeThinning t;
    Clock::time_point now{};
    EXPECT_TRUE(feed(t, now, 25, 2.5, 2));
    now += std::chrono::seconds(60);  // the camera stalls for a minute: no evidence that the consumer keeps up
    EXPECT_TRUE(t.on_push(false, now));
    // The windows start again at the push after the stall: five calm ones from there.
    EXPECT_TRUE(feed(t, now, 25, 4.5, 0));
    EXPECT_FALSE(feed(t, now, 25, 1.0, 0));
}

}  // namespace
}  // namespace itscam::pipeline
