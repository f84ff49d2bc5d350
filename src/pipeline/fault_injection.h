// Fault injection for backends: a decorator that wraps any Backend (and the CompiledGraphs it makes) and fails
// run() calls on purpose, with configurable error kinds and rates, so that tests can drive the circuit breaker,
// the CPU fallback and the alerting through real code paths. Off unless explicitly configured.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "backend/backend.h"

namespace itscam::pipeline {

struct FaultSpec {
    double transient_rate = 0;  // probability that a run() fails with kDevice
    double oom_rate = 0;        // ... with kOutOfMemory
    double sticky_rate = 0;     // ... with kDeviceLost (then every later call fails too until heal())
    double extra_latency_ms = 0;  // added to every successful run (sleep), to drive latency alerts
    uint64_t seed = 1;
};

// Shared control block: tests and the HTTP API change the spec at run time; every wrapped graph reads it per call.
class FaultController {
public:
    explicit FaultController(FaultSpec spec = {});
    void set(const FaultSpec& spec);
    FaultSpec get() const;
    // Force the next n calls to fail with the given code (kDevice, kOutOfMemory, kDeviceLost); n < 0: until reset.
    void fail_next(int n, StatusCode code);
    void heal();  // clears forced failures, the sticky state and rates
    // Decides the outcome of one call (thread-safe). OK or the injected error.
    Status next_call();
    int64_t injected() const { return injected_.load(); }
    int64_t calls() const { return calls_.load(); }
private:
    mutable std::mutex mu_;
    FaultSpec spec_;
    std::mt19937_64 rng_;
    int forced_left_ = 0;
    StatusCode forced_code_ = StatusCode::kDevice;
    bool sticky_ = false;
    std::atomic<int64_t> injected_{0}, calls_{0};
};

// Wraps `inner`: name() is "<inner>+faults"; compile() compiles with the inner backend and wraps the result.
std::unique_ptr<Backend> make_fault_injecting_backend(std::unique_ptr<Backend> inner,
                                                      std::shared_ptr<FaultController> faults);
// Wraps one compiled graph (for engines already built).
std::unique_ptr<CompiledGraph> make_fault_injecting_graph(std::unique_ptr<CompiledGraph> inner,
                                                          std::shared_ptr<FaultController> faults);

}  // namespace itscam::pipeline
