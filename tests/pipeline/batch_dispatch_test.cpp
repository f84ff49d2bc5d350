// The batcher's early dispatch: it stops waiting when no awaited camera can add a frame before the deadline.
// Deadlines here are 10 s, so "at once" is checked as "well before the deadline" (< 2 s), never as a speed; camera
// histories are replayed with past push times instead of sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "batch_test_util.h"

using namespace itscam;
using namespace itscam::pipeline;
using namespace itscam::pipeline::batch_test;
using namespace std::chrono_literals;

namespace {

// A 10 s deadline: a batch that comes within 2 s came without waiting for it.
BatcherOptions long_deadline() { return opts(8, {1, 2, 4, 8}, 10000, 2); }

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Batch at_once(BatchScheduler& s) {
    const Clock::time_point t0 = Clock::now();
    Batch b = s.next_batch();
    EXPECT_LT(seconds_since(t0), 2.0) << "waited for the deadline";
    return b;
}

// Cameras a and b with these pasts (as many pushes each), then a frame from a. Returns {a, b}.
std::pair<uint64_t, uint64_t> a_pushes_after(BatchScheduler& s, const std::vector<Clock::time_point>& a_past,
                                             const std::vector<Clock::time_point>& b_past) {
    const uint64_t a = s.add_camera(), b = s.add_camera();
    replay(s, {{a, a_past}, {b, b_past}});
    s.push(a, frame(1));
    return {a, b};
}

// next_batch() on a thread of its own, so a test can see that it is still waiting.
struct WaitingBatch {
    explicit WaitingBatch(BatchScheduler& s) : th([this, &s] {
        b = s.next_batch();
        done = true;
    }) {}
    Batch get() {
        th.join();
        return std::move(b);
    }
    bool still_waiting() {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return !done.load();
    }
    std::atomic<bool> done{false};
    Batch b;
    std::thread th;
};

}  // namespace

TEST(BatchDispatch, OneCameraGoesAtOnce) {
    BatchScheduler s(long_deadline());
    const uint64_t cam = s.add_camera();
    const Clock::time_point t = Clock::now();
    replay(s, {{cam, {t - 200ms, t - 100ms}}});  // 10 fps, due about now
    s.push(cam, frame(7));
    Batch b = at_once(s);
    ASSERT_EQ(b.frames.size(), 1u);
    EXPECT_EQ(b.frames[0].frame.index, 7);
    EXPECT_EQ(b.batch_wait_ms, 0.0);
}

TEST(BatchDispatch, EveryActiveCameraPendingGoesAtOnce) {
    BatchScheduler s(long_deadline());
    std::vector<std::pair<uint64_t, std::vector<Clock::time_point>>> history;
    const Clock::time_point t = Clock::now();
    for (int c = 0; c < 4; ++c) history.push_back({s.add_camera(), {t - 200ms, t - 100ms}});
    replay(s, history);
    for (auto& [cam, times] : history) s.push(cam, frame(9));
    Batch b = at_once(s);
    EXPECT_EQ(b.frames.size(), 4u);  // not max_batch (8): no fifth camera can add one
    EXPECT_EQ(b.batch_wait_ms, 0.0);
}

TEST(BatchDispatch, WaitsForAnActiveCameraExpectedBeforeTheDeadline) {
    BatchScheduler s(long_deadline());
    const Clock::time_point t = Clock::now();
    // Every 3 s, both due about now; active until 9 s after their last push (t + 6 s).
    const uint64_t b = a_pushes_after(s, {t - 6s, t - 3s}, {t - 6s, t - 3s}).second;
    WaitingBatch w(s);
    EXPECT_TRUE(w.still_waiting()) << "dispatched without waiting for camera b, which is due before the deadline";
    s.push(b, frame(2));
    Batch bt = w.get();
    EXPECT_EQ(bt.frames.size(), 2u);
    EXPECT_GT(bt.batch_wait_ms, 0.0);
}

TEST(BatchDispatch, NoFrameExpectedBeforeTheDeadlineGoesAtOnce) {
    BatchScheduler s(long_deadline());
    const Clock::time_point t = Clock::now();
    // b sends every 20 s: active (until t + 59 s) but not expected before t + 19 s, past a frame's 10 s deadline.
    const uint64_t a = a_pushes_after(s, {t - 200ms, t - 100ms}, {t - 21s, t - 1s}).first;
    Batch bt = at_once(s);
    ASSERT_EQ(bt.frames.size(), 1u);
    EXPECT_EQ(bt.frames[0].camera, a);
    EXPECT_EQ(bt.batch_wait_ms, 0.0);
}

TEST(BatchDispatch, AStalledCameraStopsCountingAfterItsWindow) {
    BatchScheduler s(long_deadline());
    const uint64_t a = s.add_camera(), gone = s.add_camera(), fading = s.add_camera();
    const Clock::time_point t = Clock::now();
    // All at 10 fps (a 300 ms window): `gone` stopped a second ago; `fading` was last heard 250 ms ago, so it is
    // awaited for about 50 ms more, then no longer.
    replay(s, {{a, {t - 200ms, t - 100ms}}, {gone, {t - 1100ms, t - 1000ms}}, {fading, {t - 350ms, t - 250ms}}});
    s.push(a, frame(1));
    Batch bt = at_once(s);
    ASSERT_EQ(bt.frames.size(), 1u);
    EXPECT_EQ(bt.frames[0].camera, a);
    // Now `fading` is past its window too: the next frame goes at once.
    s.push(a, frame(2));
    bt = s.next_batch();
    ASSERT_EQ(bt.frames.size(), 1u);
    EXPECT_EQ(bt.batch_wait_ms, 0.0);
}

TEST(BatchDispatch, ARemovedCameraIsNotAwaited) {
    BatchScheduler s(long_deadline());
    const Clock::time_point t = Clock::now();
    const auto [a, b] = a_pushes_after(s, {t - 6s, t - 3s}, {t - 6s, t - 3s});  // b awaited until t + 6 s
    WaitingBatch w(s);
    EXPECT_TRUE(w.still_waiting());
    const Clock::time_point t0 = Clock::now();
    s.remove_camera(b);  // wakes the waiting worker: nothing is awaited any more
    Batch bt = w.get();
    EXPECT_LT(seconds_since(t0), 2.0);
    ASSERT_EQ(bt.frames.size(), 1u);
    EXPECT_EQ(bt.frames[0].camera, a);
}

TEST(BatchDispatch, ACameraHeardFromOnceIsNotAwaited) {
    BatchScheduler s(long_deadline());
    const uint64_t a = s.add_camera(), b = s.add_camera();
    s.add_camera();  // never pushes
    s.push(b, frame(0));
    s.next_batch();
    s.push(a, frame(1));  // neither has an interval estimate: the batcher cannot tell whether waiting would help
    Batch bt = at_once(s);
    EXPECT_EQ(bt.frames.size(), 1u);
}

TEST(BatchDispatch, AStallDoesNotInflateTheIntervalEstimate) {
    BatchScheduler s(long_deadline());
    const Clock::time_point t = Clock::now();
    // b ran at 1 fps, stalled for 200 s and came back: the 200 s gap counts as one 3 s window, so b is due about
    // now (a ~1.2 s interval), not in ~22 s (past the 10 s deadline, which would dispatch at once). It waits for b.
    const std::vector<Clock::time_point> times{t - 203s, t - 202s, t - 2s, t - 1s};
    const uint64_t b = a_pushes_after(s, times, times).second;
    WaitingBatch w(s);
    EXPECT_TRUE(w.still_waiting());
    s.push(b, frame(2));
    EXPECT_EQ(w.get().frames.size(), 2u);
}
