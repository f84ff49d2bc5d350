// BatchScheduler: the per-camera latest-frame queues and the deadline-aware dynamic batcher across them.
//
// - Each camera has a bounded queue (capacity `queue_capacity`). Pushing onto a full queue drops the oldest frame
//   and counts it: when inference is slower than the cameras, they see fresh frames and a drop count, never an
//   unbounded backlog.
// - next_batch() (called by inference workers) waits until `max_batch` frames are pending, or until the oldest
//   pending frame has waited `max_queue_delay_ms`, then takes the largest preferred batch size that is pending
//   (or everything pending when that is less than the smallest preferred size). Frames are taken round-robin
//   across cameras, one per camera per round and starting after the camera served first last time, so no camera
//   can starve another.
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
    double batch_wait_ms = 0;  // time the batcher deliberately waited for more frames (deadline wait)
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
    // Drops its queued frames (counted) and forgets it; later pushes for it are ignored.
    void remove_camera(uint64_t camera);
    // false when the camera is unknown or the scheduler is stopped (frame discarded). Blocks only for a lossless
    // camera whose queue is full, until a worker takes a frame (or stop / remove_camera).
    bool push(uint64_t camera, video::Frame&& frame);
    // Blocks until a batch is ready; an empty batch means stopped and drained.
    Batch next_batch();
    void stop(bool drain);

    CameraQueueStats camera_stats(uint64_t camera) const;
    int pending() const;
    int64_t dropped_total() const;

private:
    struct CamQueue {
        std::deque<QueuedFrame> q;
        CameraQueueStats stats;
        bool lossless = false;
    };
    int take_count_locked() const;

    BatcherOptions opt_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable space_cv_;  // lossless cameras waiting for room in their queue
    std::map<uint64_t, CamQueue> cams_;
    uint64_t next_id_ = 1;
    uint64_t rr_after_ = 0;  // round-robin: start after this camera id
    int pending_ = 0;
    int64_t dropped_removed_ = 0;
    bool stopped_ = false, draining_ = false;
};

}  // namespace itscam::pipeline
