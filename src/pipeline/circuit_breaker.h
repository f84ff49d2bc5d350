// CircuitBreaker: guards a device (GPU) backend. closed -> open after `failure_threshold` consecutive failures or
// `oom_threshold` out-of-memory failures (consecutive, counted separately); a sticky failure (kDeviceLost) opens
// it at once and marks the device as needing a context rebuild. open -> half_open after `recovery_timeout_s`;
// half_open admits at most `half_open_max_calls` trial calls: any failure reopens (and restarts the timer),
// `half_open_max_calls` successes close it. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "device/device_error.h"

namespace itscam::pipeline {

enum class CircuitState { kClosed, kOpen, kHalfOpen };
const char* circuit_state_name(CircuitState s);  // "closed" | "open" | "half_open"

// Outcomes are classified by the device layer's one classification (device/device_error.h): kNotDevice outcomes
// never count against the circuit (a half-open trial that ends with one gives its slot back).
using device::classify_device_error;
using device::device_error_class_name;
using device::DeviceErrorClass;

struct CircuitBreakerOptions {
    int failure_threshold = 15;        // CIRCUIT_BREAKER_FAILURE_THRESHOLD
    double recovery_timeout_s = 30.0;  // CIRCUIT_BREAKER_RECOVERY_TIMEOUT
    int half_open_max_calls = 10;      // CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS
    int oom_threshold = 3;             // gpu_memory_failure_threshold
};

struct CircuitTransition {
    CircuitState from, to;
    std::string reason;
    std::chrono::system_clock::time_point when;
};

struct CircuitStats {
    CircuitState state = CircuitState::kClosed;
    int64_t successes = 0, failures = 0, rejected = 0;  // rejected: allow() said no
    int64_t transitions = 0, opens = 0;
    int consecutive_failures = 0, consecutive_oom = 0;
    bool needs_rebuild = false;  // a sticky error was seen; cleared by rebuilt()
};

class CircuitBreaker {
public:
    using Clock = std::chrono::steady_clock;
    using TransitionCallback = std::function<void(const CircuitTransition&)>;

    explicit CircuitBreaker(CircuitBreakerOptions opt, std::function<Clock::time_point()> now = Clock::now);

    // true: the caller may use the device now (closed; or half_open with a trial slot free, which it takes;
    // or open with the recovery timeout elapsed, which moves to half_open and takes a slot).
    bool allow();
    // Whether allow() would say yes now, without taking a trial slot or changing state: a worker whose device it
    // refuses leaves the queue to another device (pipeline_workers.cpp).
    bool admits() const;
    // Report the outcome of a call that allow() admitted.
    void record(const Status& st);
    void record_success() { record(Status::ok()); }

    CircuitState state() const;
    CircuitStats stats() const;
    std::vector<CircuitTransition> transitions() const;  // the last 256
    void on_transition(TransitionCallback cb);  // called outside the lock; adds to the callbacks already set
    void rebuilt();  // the device context was rebuilt after a sticky error (clears needs_rebuild; state unchanged)
    void force_open(const std::string& reason);
    void reset();    // -> closed

private:
    // ... implementation-defined members
    // Changes state under mu_ and queues the transition for the callbacks, which run after the lock is dropped.
    void transition_locked(CircuitState to, std::string reason, std::vector<CircuitTransition>& fired);
    void open_locked(std::string reason, std::vector<CircuitTransition>& fired);
    bool recovery_due_locked() const;  // open for recovery_timeout_s: the next allow() may start a trial
    void notify(const std::vector<CircuitTransition>& fired);

    CircuitBreakerOptions opt_;
    std::function<Clock::time_point()> now_;
    mutable std::mutex mu_;
    CircuitStats st_;
    Clock::time_point opened_at_{};
    int half_open_admitted_ = 0;   // trial slots taken in this half-open period
    int half_open_successes_ = 0;
    static constexpr size_t kMaxTransitions = 256;
    std::vector<CircuitTransition> ring_;  // the last kMaxTransitions, oldest at ring_pos_ once full
    size_t ring_pos_ = 0;
    std::vector<std::shared_ptr<TransitionCallback>> callbacks_;
};

}  // namespace itscam::pipeline
