// Line counting: directions, the on-the-segment rule, stop-and-go jitter counted once, unconfirmed crossings
// released at confirmation, the class and direction filters.
#include "analytics/line_counter.h"

#include <gtest/gtest.h>

namespace itscam::analytics {
namespace {

// A 40 x h box whose foot point is (fx, fy).
TrackedObject box(int64_t id, double fx, double fy, bool confirmed = true, int cls = 2, float h = 60) {
    TrackedObject t;
    t.track_id = id;
    t.class_id = cls;
    t.raw_class_id = cls;
    t.score = 0.9f;
    t.x1 = static_cast<float>(fx - 20);
    t.x2 = static_cast<float>(fx + 20);
    t.y2 = static_cast<float>(fy);
    t.y1 = t.y2 - h;
    t.confirmed = confirmed;
    return t;
}

LineConfig line(std::vector<int> classes = {}, std::string count = "both") {
    LineConfig l;
    l.name = "l";
    l.a = {100, 300};  // left to right: forward is top to bottom
    l.b = {500, 300};
    l.forward_name = "southbound";
    l.backward_name = "northbound";
    l.classes = std::move(classes);
    l.count = std::move(count);
    return l;
}

struct Tally {
    int forward = 0, backward = 0;
};

// Feeds one track's foot points (one per frame) and tallies the counts.
Tally drive(LineCounter& lc, const std::vector<TrackedObject>& frames) {
    Tally t;
    for (const auto& f : frames)
        for (const auto& c : lc.update({f})) (c.forward ? t.forward : t.backward)++;
    return t;
}

std::vector<TrackedObject> path(int64_t id, double x, std::vector<double> ys, bool confirmed = true, int cls = 2) {
    std::vector<TrackedObject> out;
    for (double y : ys) out.push_back(box(id, x, y, confirmed, cls));
    return out;
}

std::vector<double> range(double from, double to, double step) {
    std::vector<double> v;
    for (double y = from; step > 0 ? y <= to : y >= to; y += step) v.push_back(y);
    return v;
}

TEST(LineCounter, CountsEachDirectionOnce) {
    LineCounter lc(line());
    EXPECT_EQ(lc.direction_name(true), "southbound");
    Tally t = drive(lc, path(1, 300, range(240, 360, 10)));
    EXPECT_EQ(t.forward, 1);
    EXPECT_EQ(t.backward, 0);
    t = drive(lc, path(2, 200, range(360, 240, -10)));
    EXPECT_EQ(t.forward, 0);
    EXPECT_EQ(t.backward, 1);
}

TEST(LineCounter, CrossingReportsTheTrack) {
    LineCounter lc(line());
    std::vector<LineCrossing> got;
    for (const auto& f : path(7, 300, range(250, 350, 25)))
        for (const auto& c : lc.update({f})) got.push_back(c);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].track.track_id, 7);
    EXPECT_TRUE(got[0].forward);
    EXPECT_EQ(got[0].track.foot_y(), 325);  // counted once clearly past (8 px): at the first point beyond 308
}

TEST(LineCounter, PassingBesideTheSegmentDoesNotCount) {
    LineCounter lc(line());
    EXPECT_EQ(drive(lc, path(1, 520, range(240, 360, 10))).forward, 0);  // beside b
    EXPECT_EQ(drive(lc, path(2, 80, range(360, 240, -10))).backward, 0);  // beside a
    // A diagonal move whose straight path misses the segment end though both points are near it.
    const std::vector<TrackedObject> diag = {box(3, 505, 280), box(3, 530, 330), box(3, 540, 360)};
    EXPECT_EQ(drive(lc, diag).forward, 0);
    // ... and one that passes through it.
    const std::vector<TrackedObject> through = {box(4, 520, 270), box(4, 480, 330), box(4, 470, 360)};
    EXPECT_EQ(drive(lc, through).forward, 1);
}

TEST(LineCounter, StopAndGoJitterOnTheLineCountsOnce) {
    LineCounter lc(line());
    std::vector<double> ys = range(200, 290, 10);
    // Queued on the line: the foot point jitters a few pixels around it for 100 frames ...
    for (int i = 0; i < 100; ++i) ys.push_back(300 + ((i % 3) - 1) * 4.0 + (i % 2 ? 1.5 : -1.5));
    // ... creeps forward, rolls back a little onto the line, then drives off.
    for (double y : {306.0, 309.0, 312.0, 304.0, 298.0, 301.0, 296.0, 303.0}) ys.push_back(y);
    for (double y = 310; y <= 400; y += 10) ys.push_back(y);
    const Tally t = drive(lc, path(1, 300, ys));
    EXPECT_EQ(t.forward, 1);
    EXPECT_EQ(t.backward, 0);
}

TEST(LineCounter, ParkedOnTheLineNeverCounts) {
    LineCounter lc(line());
    std::vector<double> ys;
    for (int i = 0; i < 200; ++i) ys.push_back(300 + (i % 2 ? 5 : -5));  // never 8 px clear of either side
    const Tally t = drive(lc, path(1, 300, ys));
    EXPECT_EQ(t.forward + t.backward, 0);
}

TEST(LineCounter, UTurnCountsBothDirectionsAfterClearance) {
    LineCounter lc(line());
    std::vector<double> ys = range(250, 350, 10);
    for (double y = 340; y >= 250; y -= 10) ys.push_back(y);
    const Tally t = drive(lc, path(1, 300, ys));
    EXPECT_EQ(t.forward, 1);
    EXPECT_EQ(t.backward, 1);
}

TEST(LineCounter, CrossingMadeBeforeConfirmationCountsAtConfirmation) {
    LineCounter lc(line());
    int counted_at = -1, total = 0;
    std::vector<TrackedObject> frames = path(1, 300, range(260, 340, 10), /*confirmed=*/false);
    for (double y : range(350, 380, 10)) frames.push_back(box(1, 300, y, true));
    for (size_t i = 0; i < frames.size(); ++i) {
        const auto c = lc.update({frames[i]});
        if (!c.empty()) counted_at = static_cast<int>(i);
        total += static_cast<int>(c.size());
    }
    EXPECT_EQ(total, 1);
    EXPECT_EQ(counted_at, 9);  // the first confirmed frame
    // A track that never gets confirmed is never counted, and its state goes with it.
    EXPECT_EQ(drive(lc, path(2, 300, range(260, 380, 10), false)).forward, 0);
    lc.update({});
    EXPECT_EQ(lc.tracked(), 0u);
}

TEST(LineCounter, ClassFilterUsesTheSmoothedClass) {
    LineCounter lc(line({2, 7}));
    EXPECT_EQ(drive(lc, path(1, 300, range(250, 350, 10), true, 2)).forward, 1);
    EXPECT_EQ(drive(lc, path(2, 300, range(250, 350, 10), true, 0)).forward, 0);  // a person
    // A truck whose detections flicker to class 3 this frame: the smoothed class (7) decides.
    std::vector<TrackedObject> frames = path(3, 300, range(250, 350, 10), true, 7);
    for (auto& f : frames) f.raw_class_id = 3;
    const Tally t = drive(lc, frames);
    EXPECT_EQ(t.forward, 1);
}

TEST(LineCounter, CountSettingFiltersDirections) {
    LineCounter lc(line({}, "forward"));
    EXPECT_EQ(drive(lc, path(1, 300, range(250, 350, 10))).forward, 1);
    EXPECT_EQ(drive(lc, path(2, 300, range(350, 250, -10))).backward, 0);
}

TEST(LineCounter, CoastingPredictionsDoNotCountButTheNextObservationDoes) {
    LineCounter lc(line());
    std::vector<TrackedObject> frames = path(1, 300, {250, 270, 290});
    for (double y : {310.0, 330.0}) {
        frames.push_back(box(1, 300, y));
        frames.back().matched = false;  // occluded: the tracker's prediction
    }
    int during_occlusion = 0;
    for (const auto& f : frames) during_occlusion += static_cast<int>(lc.update({f}).size());
    EXPECT_EQ(during_occlusion, 0);
    // Found again past the line: the move between the two real observations crossed the segment.
    EXPECT_EQ(lc.update({box(1, 300, 350)}).size(), 1u);
}

TEST(LineCounter, LowFrameRateJumpAcrossCounts) {
    LineCounter lc(line());
    EXPECT_EQ(drive(lc, path(1, 300, {150, 450})).forward, 1);
}

TEST(LineCounter, TrackEndingJustPastTheLineCounts) {
    LineCounter lc(line());
    EXPECT_EQ(drive(lc, path(1, 300, {260, 280, 295, 303})).forward, 0);  // 3 px past: not yet clear
    const auto ended = lc.update({});                                      // the tracker dropped it
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_TRUE(ended[0].forward);
    // One that only reached the line from near it (never clearly on the near side) does not.
    EXPECT_EQ(drive(lc, path(2, 300, {296, 303})).forward, 0);
    EXPECT_TRUE(lc.update({}).empty());
}

TEST(LineCounter, ManyTracksInOneFrame) {
    LineCounter lc(line());
    int total = 0;
    for (double y = 250; y <= 350; y += 10) {
        std::vector<TrackedObject> frame;
        for (int64_t id = 1; id <= 5; ++id) frame.push_back(box(id, 100 + 70.0 * static_cast<double>(id), y));
        total += static_cast<int>(lc.update(frame).size());
    }
    EXPECT_EQ(total, 5);
}

}  // namespace
}  // namespace itscam::analytics
