// Frames, options and camera histories for the BatchScheduler tests.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "pipeline/batch_scheduler.h"

namespace itscam::pipeline::batch_test {

inline video::Frame frame(int64_t index) {
    video::Frame f;
    f.index = index;
    f.width = 4;
    f.height = 4;
    f.stride = 12;
    f.data = std::shared_ptr<uint8_t>(new uint8_t[48], std::default_delete<uint8_t[]>());
    f.capture_time = Clock::now();
    return f;
}

inline BatcherOptions opts(int max_batch, std::vector<int> pref, double delay_ms, int cap) {
    BatcherOptions o;
    o.max_batch = max_batch;
    o.preferred_batch_sizes = std::move(pref);
    o.max_queue_delay_ms = delay_ms;
    o.queue_capacity = cap;
    return o;
}

// Replays past pushes without sleeping: round k pushes every camera's k-th time (all cameras have as many), then
// takes everything (every camera has a frame pending, so nothing is awaited). The cameras end with frame-interval
// estimates and empty queues. Needs max_batch >= the number of cameras and preferred sizes that take them all.
inline void replay(BatchScheduler& s, const std::vector<std::pair<uint64_t, std::vector<Clock::time_point>>>& history) {
    for (size_t k = 0; k < history.front().second.size(); ++k) {
        for (const auto& [cam, times] : history) s.push(cam, frame(static_cast<int64_t>(k)), times[k]);
        while (s.pending() > 0) s.next_batch();
    }
}

}  // namespace itscam::pipeline::batch_test
