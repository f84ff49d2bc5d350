#include "pipeline/batch_scheduler.h"

#include <algorithm>

namespace itscam::pipeline {

BatchScheduler::BatchScheduler(BatcherOptions opt) : opt_(std::move(opt)) {
    opt_.max_batch = std::max(1, opt_.max_batch);
    opt_.queue_capacity = std::max(1, opt_.queue_capacity);
    auto& p = opt_.preferred_batch_sizes;
    p.erase(std::remove_if(p.begin(), p.end(), [&](int b) { return b < 1 || b > opt_.max_batch; }), p.end());
    if (p.empty()) p.push_back(opt_.max_batch);
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
}

uint64_t BatchScheduler::add_camera(bool lossless) {
    std::lock_guard<std::mutex> lk(mu_);
    uint64_t id = next_id_++;
    cams_[id].lossless = lossless;
    return id;
}

void BatchScheduler::remove_camera(uint64_t camera) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = cams_.find(camera);
    if (it == cams_.end()) return;
    pending_ -= static_cast<int>(it->second.q.size());
    dropped_removed_ += static_cast<int64_t>(it->second.q.size());
    cams_.erase(it);
    space_cv_.notify_all();  // a lossless push waiting for room gives up
    cv_.notify_all();        // a worker awaiting this camera's frame need not any more
}

bool BatchScheduler::push(uint64_t camera, video::Frame&& frame, Clock::time_point arrived, bool* dropped) {
    if (dropped) *dropped = false;
    {
        std::unique_lock<std::mutex> lk(mu_);
        if (stopped_) return false;
        auto it = cams_.find(camera);
        if (it == cams_.end()) return false;
        CamQueue* cqp = &it->second;
        if (cqp->lossless) {
            // A file read for analysis: the reader waits for room instead of dropping (no frame is lost).
            space_cv_.wait(lk, [&] {
                if (stopped_) return true;
                auto again = cams_.find(camera);
                return again == cams_.end() || static_cast<int>(again->second.q.size()) < opt_.queue_capacity;
            });
            if (stopped_) return false;
            it = cams_.find(camera);
            if (it == cams_.end()) return false;
            cqp = &it->second;
        }
        CamQueue& cq = *cqp;
        if (static_cast<int>(cq.q.size()) >= opt_.queue_capacity) {
            cq.q.pop_front();  // latest-frame policy: the oldest goes
            ++cq.stats.dropped;
            --pending_;
            if (dropped) *dropped = true;
        }
        if (arrived == Clock::time_point{}) arrived = Clock::now();
        if (cq.stats.pushed > 0) {
            // The gap is clamped to the activity window (once there is an estimate): a stall is not a frame rate.
            Clock::duration gap = std::max(Clock::duration::zero(), arrived - cq.last_push);
            if (cq.interval.count() > 0) gap = std::min(gap, cq.window());
            cq.interval = cq.interval.count() > 0 ? cq.interval + std::chrono::duration_cast<Clock::duration>(
                                                                      (gap - cq.interval) * kIntervalWeight)
                                                  : gap;
        }
        cq.last_push = std::max(cq.last_push, arrived);
        cq.q.push_back(QueuedFrame{camera, std::move(frame), arrived});
        ++cq.stats.pushed;
        ++pending_;
    }
    cv_.notify_one();
    return true;
}

int BatchScheduler::take_count_locked() const {
    const int n = std::min(pending_, opt_.max_batch);
    const auto& pref = opt_.preferred_batch_sizes;
    if (n < pref.front()) return n;
    int best = pref.front();
    for (int b : pref)
        if (b <= n) best = b;
    return best;
}

Clock::time_point BatchScheduler::dispatch_time_locked(Clock::time_point now, Clock::duration delay) const {
    Clock::time_point oldest = Clock::time_point::max();
    Clock::time_point next_arrival = Clock::time_point::max();  // of an awaited camera (active, nothing pending)
    Clock::time_point window_ends = Clock::time_point::max();   // the first awaited camera stops being active
    for (auto& [id, cq] : cams_) {
        if (!cq.q.empty()) {
            oldest = std::min(oldest, cq.q.front().enqueued);
        } else if (cq.active(now)) {
            next_arrival = std::min(next_arrival, std::max(now, cq.last_push + cq.interval));
            window_ends = std::min(window_ends, cq.last_push + cq.window());
        }
    }
    const Clock::time_point due = oldest + delay;
    // Waiting helps only if a frame is expected before the deadline (none awaited: next_arrival is max).
    if (next_arrival >= due) return now;
    // A push wakes the worker; a stalled camera's window ending before the deadline is the other event to check.
    return std::min(due, window_ends);
}

Batch BatchScheduler::next_batch() {
    std::unique_lock<std::mutex> lk(mu_);
    const auto delay = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(std::max(0.0, opt_.max_queue_delay_ms)));
    Batch batch;
    Clock::time_point wait_started{};
    bool waited = false;
    for (;;) {
        if (!handed_back_.empty()) {
            batch = std::move(handed_back_.front());
            handed_back_.pop_front();
            return batch;
        }
        if (stopped_ && (!draining_ || pending_ == 0)) return batch;
        if (pending_ > 0) {
            if (pending_ >= opt_.max_batch || draining_) break;
            const Clock::time_point now = Clock::now();
            const Clock::time_point until = dispatch_time_locked(now, delay);
            if (now >= until) break;
            if (!waited) {
                waited = true;
                wait_started = now;
            }
            cv_.wait_until(lk, until);
        } else {
            waited = false;
            cv_.wait(lk);
        }
    }
    batch.formed = Clock::now();
    if (waited) batch.batch_wait_ms = std::chrono::duration<double, std::milli>(batch.formed - wait_started).count();
    int want = take_count_locked();
    batch.frames.reserve(want);
    // Round-robin: one frame per camera per round, starting after the camera that led the previous batch.
    while (static_cast<int>(batch.frames.size()) < want) {
        auto it = cams_.upper_bound(rr_after_);
        bool took = false;
        for (size_t visited = 0; visited < cams_.size() && static_cast<int>(batch.frames.size()) < want; ++visited) {
            if (it == cams_.end()) it = cams_.begin();
            CamQueue& cq = it->second;
            if (!cq.q.empty()) {
                batch.frames.push_back(std::move(cq.q.front()));
                cq.q.pop_front();
                ++cq.stats.taken;
                --pending_;
                rr_after_ = it->first;
                took = true;
            }
            ++it;
        }
        if (!took) break;
    }
    if (!batch.frames.empty()) space_cv_.notify_all();
    return batch;
}

void BatchScheduler::drop_locked(const Batch& batch) {
    for (const auto& f : batch.frames) {
        auto it = cams_.find(f.camera);
        if (it != cams_.end()) {
            ++it->second.stats.dropped;
        } else {
            ++dropped_removed_;
        }
    }
}

void BatchScheduler::hand_back(Batch&& batch) {
    if (batch.frames.empty()) return;
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (stopped_ && !draining_) {
            drop_locked(batch);
            return;
        }
        handed_back_.push_back(std::move(batch));
    }
    cv_.notify_one();
}

void BatchScheduler::stop(bool drain) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stopped_ = true;
        draining_ = drain;
        if (!drain) {
            for (auto& [id, cq] : cams_) {
                cq.stats.dropped += static_cast<int64_t>(cq.q.size());
                cq.q.clear();
            }
            pending_ = 0;
            for (const auto& b : handed_back_) drop_locked(b);
            handed_back_.clear();
        }
    }
    cv_.notify_all();
    space_cv_.notify_all();
}

CameraQueueStats BatchScheduler::camera_stats(uint64_t camera) const {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = cams_.find(camera);
    if (it == cams_.end()) return {};
    CameraQueueStats s = it->second.stats;
    s.depth = static_cast<int>(it->second.q.size());
    return s;
}

int BatchScheduler::pending() const {
    std::lock_guard<std::mutex> lk(mu_);
    return pending_;
}

int64_t BatchScheduler::dropped_total() const {
    std::lock_guard<std::mutex> lk(mu_);
    int64_t d = dropped_removed_;
    for (auto& [id, cq] : cams_) d += cq.stats.dropped;
    return d;
}

}  // namespace itscam::pipeline
