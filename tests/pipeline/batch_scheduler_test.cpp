// Latest-frame queues and the deadline-aware batcher.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "batch_test_util.h"

using namespace itscam;
using namespace itscam::pipeline;
using namespace itscam::pipeline::batch_test;

TEST(BatchScheduler, LatestFramePolicyDropsOldestAndCounts) {
    BatchScheduler s(opts(8, {1, 2, 4, 8}, 0, 2));
    uint64_t cam = s.add_camera();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.push(cam, frame(i)));
    CameraQueueStats st = s.camera_stats(cam);
    EXPECT_EQ(st.pushed, 5);
    EXPECT_EQ(st.dropped, 3);
    EXPECT_EQ(st.depth, 2);
    Batch b = s.next_batch();
    ASSERT_EQ(b.frames.size(), 2u);
    // The newest two survive, oldest first.
    EXPECT_EQ(b.frames[0].frame.index, 3);
    EXPECT_EQ(b.frames[1].frame.index, 4);
}

TEST(BatchScheduler, FullBatchIsFormedWithoutWaitingForTheDeadline) {
    BatchScheduler s(opts(4, {1, 2, 4}, 60000, 2));  // a deadline that would fail the test if waited for
    std::vector<uint64_t> cams;
    for (int c = 0; c < 4; ++c) cams.push_back(s.add_camera());
    for (int c = 0; c < 4; ++c) s.push(cams[c], frame(c));
    Batch b = s.next_batch();
    EXPECT_EQ(b.frames.size(), 4u);
    EXPECT_EQ(s.pending(), 0);
}

TEST(BatchScheduler, DeadlineReleasesAPartialBatchOfAPreferredSize) {
    BatchScheduler s(opts(8, {1, 2, 4, 8}, 30, 2));
    // A fourth camera, sending every 3 s and due about now, is awaited: the batcher waits for it until the deadline.
    const Clock::time_point t = Clock::now();
    replay(s, {{s.add_camera(), {t - std::chrono::seconds(6), t - std::chrono::seconds(3)}}});
    std::vector<uint64_t> cams;
    for (int c = 0; c < 3; ++c) cams.push_back(s.add_camera());
    for (int c = 0; c < 3; ++c) s.push(cams[c], frame(c));
    auto t0 = Clock::now();
    Batch b = s.next_batch();
    const double waited = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    EXPECT_GE(waited, 20.0);  // it did wait for more frames...
    EXPECT_EQ(b.frames.size(), 2u);  // ...then took the largest preferred size pending (2 of 3)
    EXPECT_GT(b.batch_wait_ms, 0.0);
    Batch rest = s.next_batch();  // the third is already past its deadline
    EXPECT_EQ(rest.frames.size(), 1u);
}

TEST(BatchScheduler, SmallerThanTheSmallestPreferredTakesWhatIsThere) {
    BatchScheduler s(opts(8, {4, 8}, 1, 2));
    uint64_t cam = s.add_camera();
    s.push(cam, frame(0));
    Batch b = s.next_batch();
    EXPECT_EQ(b.frames.size(), 1u);
}

TEST(BatchScheduler, RoundRobinIsFairAcrossCameras) {
    BatchScheduler s(opts(2, {2}, 0, 4));
    uint64_t a = s.add_camera(), b = s.add_camera(), c = s.add_camera();
    for (int i = 0; i < 4; ++i) {
        s.push(a, frame(100 + i));
        s.push(b, frame(200 + i));
        s.push(c, frame(300 + i));
    }
    std::map<uint64_t, int> served;
    for (int k = 0; k < 3; ++k) {
        Batch bt = s.next_batch();
        ASSERT_EQ(bt.frames.size(), 2u);
        EXPECT_NE(bt.frames[0].camera, bt.frames[1].camera) << "one batch took two frames of one camera";
        for (auto& f : bt.frames) served[f.camera]++;
    }
    // 6 frames over 3 cameras: exactly 2 each.
    EXPECT_EQ(served[a], 2);
    EXPECT_EQ(served[b], 2);
    EXPECT_EQ(served[c], 2);
}

TEST(BatchScheduler, RemovedCameraFramesAreDroppedAndLaterPushesIgnored) {
    BatchScheduler s(opts(4, {1, 2, 4}, 0, 2));
    uint64_t a = s.add_camera(), b = s.add_camera();
    s.push(a, frame(1));
    s.push(b, frame(2));
    s.remove_camera(a);
    EXPECT_FALSE(s.push(a, frame(3)));
    EXPECT_EQ(s.pending(), 1);
    EXPECT_EQ(s.dropped_total(), 1);
    Batch bt = s.next_batch();
    ASSERT_EQ(bt.frames.size(), 1u);
    EXPECT_EQ(bt.frames[0].camera, b);
}

// A batch handed back (its device could not serve it) comes out whole, before any new one; after stop(false) its
// frames are dropped and counted, like queued ones; a drain hands it out.
TEST(BatchScheduler, HandedBackBatchComesFirstAndWhole) {
    BatchScheduler s(opts(2, {1, 2}, 60000, 4));
    const uint64_t a = s.add_camera(), b = s.add_camera();
    s.push(a, frame(1));
    s.push(b, frame(2));
    Batch first = s.next_batch();
    ASSERT_EQ(first.frames.size(), 2u);
    s.push(a, frame(3));
    s.push(b, frame(4));
    first.handoffs = 1;
    s.hand_back(std::move(first));
    Batch again = s.next_batch();
    ASSERT_EQ(again.frames.size(), 2u);
    EXPECT_EQ(again.frames[0].frame.index, 1);
    EXPECT_EQ(again.frames[1].frame.index, 2);
    EXPECT_EQ(again.handoffs, 1);
    Batch next = s.next_batch();
    ASSERT_EQ(next.frames.size(), 2u);
    EXPECT_EQ(next.frames[0].frame.index, 3);
    // Handed back, then the scheduler stops without draining: dropped and counted.
    s.hand_back(std::move(next));
    s.stop(false);
    EXPECT_EQ(s.camera_stats(a).dropped + s.camera_stats(b).dropped, 2);
    EXPECT_TRUE(s.next_batch().frames.empty());
    Batch late;
    late.frames.push_back(QueuedFrame{a, frame(5), Clock::now()});
    s.hand_back(std::move(late));  // after the stop: dropped at once
    EXPECT_EQ(s.camera_stats(a).dropped, 2);
}

TEST(BatchScheduler, HandedBackBatchIsDrained) {
    BatchScheduler s(opts(2, {1, 2}, 60000, 4));
    const uint64_t a = s.add_camera();
    s.push(a, frame(1));
    Batch b = s.next_batch();
    ASSERT_EQ(b.frames.size(), 1u);
    s.stop(true);
    s.hand_back(std::move(b));
    EXPECT_EQ(s.next_batch().frames.size(), 1u);
    EXPECT_TRUE(s.next_batch().frames.empty());
}

TEST(BatchScheduler, StopWithDrainHandsOutTheRestThenEnds) {
    BatchScheduler s(opts(8, {1, 2, 4, 8}, 60000, 4));
    uint64_t a = s.add_camera();
    for (int i = 0; i < 3; ++i) s.push(a, frame(i));
    s.stop(true);
    EXPECT_FALSE(s.push(a, frame(9)));
    int got = 0;
    for (;;) {
        Batch b = s.next_batch();
        if (b.frames.empty()) break;
        got += static_cast<int>(b.frames.size());
    }
    EXPECT_EQ(got, 3);
}

TEST(BatchScheduler, StopWithoutDrainWakesBlockedWorkers) {
    BatchScheduler s(opts(8, {8}, 60000, 2));
    std::atomic<int> ended{0};
    std::vector<std::thread> ws;
    for (int i = 0; i < 3; ++i)
        ws.emplace_back([&] {
            Batch b = s.next_batch();
            if (b.frames.empty()) ended++;
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    s.stop(false);
    for (auto& t : ws) t.join();
    EXPECT_EQ(ended.load(), 3);
}

TEST(BatchScheduler, ConcurrentProducersAndConsumersAccountForEveryFrame) {
    BatchScheduler s(opts(4, {1, 2, 4}, 1, 2));
    const int cams = 6, per_cam = 2000;
    std::vector<uint64_t> ids;
    for (int c = 0; c < cams; ++c) ids.push_back(s.add_camera());
    std::atomic<int64_t> taken{0};
    std::vector<std::thread> consumers;
    for (int w = 0; w < 2; ++w)
        consumers.emplace_back([&] {
            for (;;) {
                Batch b = s.next_batch();
                if (b.frames.empty()) return;
                EXPECT_LE(b.frames.size(), 4u);
                std::set<uint64_t> seen;
                taken += static_cast<int64_t>(b.frames.size());
            }
        });
    std::vector<std::thread> producers;
    for (int c = 0; c < cams; ++c)
        producers.emplace_back([&, c] {
            for (int i = 0; i < per_cam; ++i) s.push(ids[c], frame(i));
        });
    for (auto& p : producers) p.join();
    s.stop(true);
    for (auto& t : consumers) t.join();
    int64_t dropped = 0;
    for (auto id : ids) dropped += s.camera_stats(id).dropped;
    EXPECT_EQ(taken.load() + dropped, static_cast<int64_t>(cams) * per_cam);
}
