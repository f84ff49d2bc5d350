// Sliding-window meters of the pipeline's counters (pipeline_impl.h): processed frames per second and the busy
// share of a device's workers, both over the last kRateWindowS seconds. Internal to src/pipeline.
// Thread-safety: every method may be called from any thread (each meter has its own mutex).
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <utility>

#include "pipeline/batch_scheduler.h"

namespace itscam::pipeline {

inline constexpr double kRateWindowS = 5.0;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// Events per second over the last kRateWindowS seconds.
class RateMeter {
  public:
    void add(Clock::time_point t, int n = 1) {
        std::lock_guard<std::mutex> lk(mu_);
        for (int i = 0; i < n; ++i) times_.push_back(t);
        prune(t);
    }
    double rate() const {
        std::lock_guard<std::mutex> lk(mu_);
        prune(Clock::now());
        return static_cast<double>(times_.size()) / kRateWindowS;
    }

  private:
    void prune(Clock::time_point now) const {
        const auto cutoff =
            now - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRateWindowS));
        while (!times_.empty() && times_.front() < cutoff) times_.pop_front();
    }
    mutable std::mutex mu_;
    mutable std::deque<Clock::time_point> times_;  // pruned on read too
};

// Busy intervals of a device's workers over the last kRateWindowS seconds.
class BusyMeter {
  public:
    void add(Clock::time_point start, Clock::time_point end) {
        std::lock_guard<std::mutex> lk(mu_);
        spans_.emplace_back(start, end);
        const auto cutoff =
            end - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRateWindowS));
        while (!spans_.empty() && spans_.front().second < cutoff) spans_.pop_front();
    }
    double fraction(int workers) const {
        std::lock_guard<std::mutex> lk(mu_);
        const auto now = Clock::now();
        const auto cutoff =
            now - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRateWindowS));
        double busy = 0;
        for (auto& [s, e] : spans_) {
            if (e < cutoff) continue;
            busy += ms_between(std::max(s, cutoff), e);
        }
        return std::clamp(busy / (kRateWindowS * 1000.0 * std::max(1, workers)), 0.0, 1.0);
    }

  private:
    mutable std::mutex mu_;
    std::deque<std::pair<Clock::time_point, Clock::time_point>> spans_;
};

}  // namespace itscam::pipeline
