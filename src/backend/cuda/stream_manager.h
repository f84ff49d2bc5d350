// CUDA streams manager: one per device. It creates `initial` streams (STREAMS_PER_DEVICE) on first use and grows
// the pool up to `max` (MAX_STREAMS_PER_DEVICE) while every stream is leased; past that, new leases share the
// least-leased stream. Each compiled engine holds one lease for its lifetime, so concurrent workers run on separate
// streams. Per-stream statistics (leases, runs, busy time) feed metrics (ENABLE_CUDA_STREAMS_MONITORING).
//
// Thread-safety: all members are safe to call from any thread.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace itscam {

struct StreamStats {
    int index = 0;
    int leases = 0;         // current holders
    uint64_t runs = 0;      // work items recorded
    double busy_ms = 0.0;   // total time work was in flight on it (as its holders measured)
};

class StreamManager;

// A leased stream; returns it to the manager when destroyed.
class StreamLease {
public:
    StreamLease() = default;
    StreamLease(StreamManager* m, int index, cudaStream_t s) : mgr_(m), index_(index), stream_(s) {}
    ~StreamLease() { reset(); }
    StreamLease(StreamLease&& o) noexcept { *this = std::move(o); }
    StreamLease& operator=(StreamLease&& o) noexcept;
    StreamLease(const StreamLease&) = delete;
    StreamLease& operator=(const StreamLease&) = delete;

    cudaStream_t get() const { return stream_; }
    int index() const { return index_; }
    // Adds one unit of work that kept the stream busy for `ms`.
    void record(double ms) const;
    void reset();

private:
    StreamManager* mgr_ = nullptr;
    int index_ = -1;
    cudaStream_t stream_ = nullptr;
};

class StreamManager {
public:
    // The manager of `device` (created on first use; lives until exit).
    static StreamManager& for_device(int device);
    // Pool sizes from the settings; applies to managers created afterwards and grows existing ones lazily.
    static void configure(int initial, int max);

    Result<StreamLease> acquire();

    // Device-memory budget (TOTAL_GPU_MEMORY_GB) shared by every engine on this device: compiled graphs reserve
    // their arena, weights and workspaces here before allocating, and release them when destroyed. 0 = no budget.
    static void set_memory_budget(size_t bytes);
    Status reserve(size_t bytes, const std::string& what);
    void unreserve(size_t bytes);
    size_t reserved() const;
    std::vector<StreamStats> stats() const;
    int size() const;
    int device() const { return device_; }

private:
    friend class StreamLease;
    explicit StreamManager(int device) : device_(device) {}
    Status grow_locked(int count);
    void release(int index);
    void record(int index, double ms);

    int device_;
    mutable std::mutex mu_;
    struct Entry {
        cudaStream_t stream = nullptr;
        StreamStats st;
    };
    std::vector<Entry> streams_;
    size_t reserved_ = 0;
};

}  // namespace itscam
