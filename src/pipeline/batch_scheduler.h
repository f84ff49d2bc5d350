// BatchScheduler: the per-camera latest-frame queues and the deadline-aware dynamic batcher across them.
//
// - Each camera has a bounded queue (capacity `queue_capacity`). Pushing onto a full queue drops the oldest frame
//   and counts it: when inference is slower than the cameras, they see fresh frames and a drop count, never an
//   unbounded backlog.
// - next_batch() (called by inference workers) dispatches as soon as waiting cannot make the batch larger:
//   1. `max_batch` frames are pending; or
//   2. the oldest pending frame has waited `max_queue_delay_ms` (its deadline); or
//   3. no *awaited* camera is expected to push before that deadline. An awaited camera is an active camera with
//      nothing pending; its next frame is expected one estimated frame interval after its last push (now, when
//      that is past: it is late but may push any moment). With no awaited camera at all (every active camera
//      already has a frame pending, or none is active) the batch goes at once.
//   The caller of next_batch() is a worker with nothing to do, so rule 3 is exactly "a worker is idle and the time
//   left to the deadline is shorter than the time to the next expected frame": the worker goes now instead of
//   sleeping until the deadline. No batch service-time estimate enters: a frame not expected before the deadline
//   cannot join this batch however long the device then takes. A camera's second frame is never awaited: it would
//   only hold back its first.
//   It then takes the largest preferred batch size that is pending (or everything pending when that is less than
//   the smallest preferred size). Frames are taken round-robin across cameras, one per camera per round and
//   starting after the camera served first last time, so no camera can starve another.
// - Active: a camera is active when it has a frame-interval estimate (an EWMA of the gaps between its pushes, so
//   from its second push on) and pushed within kActiveIntervals of those intervals. A camera that stalls,
//   reconnects or stops stops counting after that window, so it never holds batches back for longer than a few
//   of its own frame intervals (and never past the deadline); a camera not yet heard from twice, or removed, does
//   not count at all. A gap is clamped to the window before it enters the estimate: a stall nudges the estimate
//   instead of blowing it up, while a real drop in frame rate still shows within a few frames.
// - stop(drain=true) makes next_batch() hand out what is left without waiting for deadlines, then return empty.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "video/frame.h"

namespace itscam::pipeline {

using Clock = std::chrono::steady_clock;

struct BatcherOptions {
    int max_batch = 8;
    std::vector<int> preferred_batch_sizes;  // sorted ascending, each in 1..max_batch; empty: {max_batch}
    double max_queue_delay_ms = 10;
    int queue_capacity = 2;
};

struct QueuedFrame {
    uint64_t camera = 0;  // the id add_camera() returned
    video::Frame frame;
    Clock::time_point enqueued;
};

struct Batch {
    std::vector<QueuedFrame> frames;
    Clock::time_point formed;
    double batch_wait_ms = 0;  // time the batcher waited for more frames; 0 when it dispatched at once
    int handoffs = 0;          // times a worker handed it back for another device (hand_back)
};

struct CameraQueueStats {
    int64_t pushed = 0;
    int64_t dropped = 0;  // replaced by a newer frame (latest-frame policy) or discarded on removal
    int64_t taken = 0;
    int depth = 0;
};

class BatchScheduler {
public:
    explicit BatchScheduler(BatcherOptions opt);
    const BatcherOptions& options() const { return opt_; }

    // lossless: push() waits for room instead of dropping the oldest frame (files read for analysis, where every
    // frame must be counted; never for live cameras, whose reader would fall behind).
    uint64_t add_camera(bool lossless = false);
    // Drops its queued frames (counted) and forgets it (no longer awaited); later pushes for it are ignored.
    void remove_camera(uint64_t camera);
    // false when the camera is unknown or the scheduler is stopped (frame discarded). Blocks only for a lossless
    // camera whose queue is full, until a worker takes a frame (or stop / remove_camera). `arrived`: when the frame
    // reached the scheduler, for its deadline and the camera's interval estimate; the default means now (once
    // queued). Tests pass past times to replay a camera's history without sleeping. `dropped` (optional): set to
    // whether this push replaced a frame still waiting (latest-frame policy), for the camera's decode thinning.
    bool push(uint64_t camera, video::Frame&& frame, Clock::time_point arrived = {}, bool* dropped = nullptr);
    // Blocks until a batch is ready; an empty batch means stopped and drained. A batch handed back comes first.
    Batch next_batch();
    // A batch its worker could not serve (its device's circuit is open while another device's is closed): the next
    // next_batch() returns it whole, before any new one, to a worker of another device. After stop(false) its
    // frames are dropped and counted, as queued frames are.
    void hand_back(Batch&& batch);
    void stop(bool drain);

    CameraQueueStats camera_stats(uint64_t camera) const;
    int pending() const;
    int64_t dropped_total() const;

private:
    struct CamQueue {
        std::deque<QueuedFrame> q;
        CameraQueueStats stats;
        bool lossless = false;
        Clock::time_point last_push{};
        Clock::duration interval{0};  // EWMA of the gaps between pushes; 0: not known yet
        Clock::duration window() const { return interval * kActiveIntervals; }
        bool active(Clock::time_point now) const { return interval.count() > 0 && now - last_push <= window(); }
    };
    static constexpr int kActiveIntervals = 3;  // jitter of a frame or two must not make a camera look gone
    static constexpr double kIntervalWeight = 0.125;  // a new gap's weight in the EWMA: about the last 8 gaps
    int take_count_locked() const;
    void drop_locked(const Batch& batch);  // counts its frames as dropped
    Clock::time_point dispatch_time_locked(Clock::time_point now, Clock::duration delay) const;

    BatcherOptions opt_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable space_cv_;  // lossless cameras waiting for room in their queue
    std::map<uint64_t, CamQueue> cams_;
    std::deque<Batch> handed_back_;
    uint64_t next_id_ = 1;
    uint64_t rr_after_ = 0;  // round-robin: start after this camera id
    int pending_ = 0;
    int64_t dropped_removed_ = 0;
    bool stopped_ = false, draining_ = false;
};

}  // namespace itscam::pipeline
