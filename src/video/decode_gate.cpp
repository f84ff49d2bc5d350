#include "video/decode_gate.h"

#include <algorithm>
#include <chrono>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif

namespace itscam::video {

DecodeGate::DecodeGate(int slots) : slots_(std::max(1, slots)), free_(slots_) {}

void DecodeGate::acquire() {
    Waiter w;
    {
        std::lock_guard<std::mutex> lk(mu_);
        grants_.fetch_add(1, std::memory_order_relaxed);
        if (free_ > 0 && queue_.empty()) {
            --free_;
            return;
        }
        queue_.push_back(&w);
    }
    const auto t0 = std::chrono::steady_clock::now();
    w.granted.acquire();  // release() hands this thread its slot (free_ is not incremented for it)
    waits_.fetch_add(1, std::memory_order_relaxed);
    wait_ns_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count(),
                       std::memory_order_relaxed);
}

void DecodeGate::release() {
    Waiter* next = nullptr;
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (queue_.empty()) {
            ++free_;
            return;
        }
        next = queue_.front();
        queue_.pop_front();
    }
    next->granted.release();
}

DecodeGate::Stats DecodeGate::stats() const {
    Stats s;
    s.grants = grants_.load(std::memory_order_relaxed);
    s.waits = waits_.load(std::memory_order_relaxed);
    s.wait_s = static_cast<double>(wait_ns_.load(std::memory_order_relaxed)) * 1e-9;
    return s;
}

int DecodeGate::queued() const {
    std::lock_guard<std::mutex> lk(mu_);
    return static_cast<int>(queue_.size());
}

int usable_cores() {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace itscam::video
