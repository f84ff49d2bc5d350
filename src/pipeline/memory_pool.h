// BufferPool: fixed-size buffers pre-allocated at start and recycled, so the per-frame and per-batch paths never
// call the allocator. One pool per (kind, buffer size) — for example one per batch size for the staging tensor,
// and one per camera resolution for decoded frames.
//
// acquire() is lock-free in the common case (a mutex-protected free list is acceptable if acquire p99 stays
// <= 5 µs on 2 contended cores) and returns a shared_ptr whose deleter gives the buffer back. When the pool is
// empty it allocates a fallback buffer (counted as a miss) which is kept in the pool afterwards while the pool is
// below `max_buffers`, and freed otherwise.
//
// Memory comes from the pool's device (device/device.h; the host device unless PoolOptions::device says
// otherwise): host (64-byte aligned heap, not mlock'ed), pinned (page-locked: the device copies it in by DMA),
// mapped (pinned and mapped into the device's address space) and device memory. Where the device has no such
// memory — the host device, or a GPU device that is not usable when the pool is created (no GPU, no driver) —
// pinned/mapped fall back to plain host memory (PoolStats::host_fallback and BufferPool::host_fallback() say so)
// and device memory is an error at creation (kUnsupported on the host device; the GPU's error otherwise, see
// Device::memory_kind). Allocation errors are the device's Status codes (kOutOfMemory, ...).
//
// Implementation: the free list is a lock-free stack of buffer slots (tagged head, no ABA), the counters are
// relaxed atomics, and the shared_ptr control blocks come from a per-pool slab, so a hit neither locks nor calls
// the allocator. Each buffer's deleter holds a reference to the pool (dropped when the buffer comes back), so the
// pool lives until the last buffer is returned and then frees every buffer it holds; a weak_ptr to a buffer keeps
// only the small control-block slab alive, not the pool.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "device/device.h"

namespace itscam::pipeline {

using device::memory_kind_name;
using device::MemoryKind;

struct PoolOptions {
    std::string name;            // for metrics: "staging_b8", "frames_1280x720"
    MemoryKind kind = MemoryKind::kHost;
    size_t buffer_bytes = 0;
    int initial_buffers = 4;     // MEMORY_POOL_SIZE (0 when ENABLE_MEMORY_PREALLOCATION is false)
    int max_buffers = 64;        // buffers the pool keeps; beyond it, returned fallback buffers are freed
    bool warmup = true;          // MEMORY_WARMUP_ON_START: touch every byte of the pre-allocated buffers
    device::Device* device = nullptr;  // whose memory the pool holds; null: the host device
};

struct PoolStats {
    std::string name;
    std::string device;          // where its memory is: "cpu" (host), "cuda:0", ...
    MemoryKind kind = MemoryKind::kHost;
    size_t buffer_bytes = 0;
    int64_t acquires = 0;
    int64_t hits = 0;
    int64_t misses = 0;          // acquires that had to allocate (fallback allocations)
    int64_t buffers_total = 0;   // buffers owned by the pool (free + in use)
    int64_t buffers_in_use = 0;
    size_t bytes_total = 0;
    size_t bytes_in_use = 0;
    double acquire_p50_us = 0;   // over a sliding window of recent acquires
    double acquire_p99_us = 0;
    double acquire_max_us = 0;
    bool host_fallback = false;  // pinned/mapped asked for, plain host memory used (the device has none)
    double hit_rate() const { return acquires ? static_cast<double>(hits) / acquires : 1.0; }
};

class BufferPool : public std::enable_shared_from_this<BufferPool> {
public:
    // Allocates initial_buffers now (and touches them when warmup). Errors: kOutOfMemory, kUnsupported (device
    // kind on the host device), the device's error for device memory on an unusable GPU, kInvalidArgument
    // (buffer_bytes == 0).
    static Result<std::shared_ptr<BufferPool>> create(const PoolOptions& opt);
    ~BufferPool();

    // Never fails while memory lasts: a miss allocates. Returns null only if even the fallback allocation fails.
    // The returned pointer may outlive the pool object's last external reference (the deleter keeps it alive).
    std::shared_ptr<uint8_t> acquire();
    PoolStats stats() const;
    const PoolOptions& options() const { return opt_; }
    // Whether pinned/mapped memory was replaced by plain host memory (see the file comment).
    bool host_fallback() const { return host_fallback_; }
    // The device whose memory the pool holds.
    device::Device& device() const { return *dev_; }

private:
    explicit BufferPool(PoolOptions opt);
    void release(uint8_t* p);  // a fallback buffer comes back: joins the pool below capacity, else freed
    // ... implementation-defined members
    struct Slot {
        uint8_t* ptr = nullptr;
        std::atomic<uint32_t> next{0};  // 1-based index of the next free slot, 0 = end
    };
    // Lock-free stack of slot indices (Treiber stack; the head carries a 32-bit tag against ABA).
    class IndexStack {
    public:
        void init(Slot* slots) { slots_ = slots; }
        void push(uint32_t i);
        bool pop(uint32_t& i);
    private:
        Slot* slots_ = nullptr;
        alignas(64) std::atomic<uint64_t> head_{0};  // (tag << 32) | (index + 1)
    };
    struct CbSlab;  // slab of shared_ptr control blocks, refcounted by the pool and each block (memory_pool.cpp)
    template <typename T>
    class CbAllocator;
    struct Deleter;

    Status init();
    Result<uint8_t*> allocate_buffer(bool warmup);
    void free_buffer(uint8_t* p);
    void release_slot(uint32_t slot);
    void record_latency(float us);

    PoolOptions opt_;
    device::Device* dev_ = nullptr;                  // opt_.device or the host device
    MemoryKind effective_kind_ = MemoryKind::kHost;  // kHost when pinned/mapped fell back
    bool host_fallback_ = false;
    uint32_t capacity_ = 0;  // slots: max(max_buffers, initial_buffers)
    std::unique_ptr<Slot[]> slots_;
    IndexStack free_slots_;
    alignas(64) std::atomic<uint32_t> pooled_{0};  // slots holding a buffer (never decreases)
    CbSlab* cb_slab_ = nullptr;  // control blocks for the hit path; may outlive the pool (weak_ptrs to buffers)
    alignas(64) std::atomic<int64_t> acquires_{0};
    std::atomic<int64_t> hits_{0}, misses_{0}, in_use_{0}, fallback_live_{0};
    static constexpr size_t kLatencyWindow = 4096;  // power of two
    std::unique_ptr<std::atomic<float>[]> acquire_us_ring_;
    alignas(64) std::atomic<uint64_t> ring_pos_{0};
};

// A registry of pools shared by the pipeline: find-or-create by (device, kind, bytes), aggregate stats (hit rate
// over all pools is the service's memory_pool_efficiency).
class PoolRegistry {
public:
    explicit PoolRegistry(PoolOptions defaults) : defaults_(std::move(defaults)) {}
    // The pool for this kind and size on `dev` (null: the defaults' device), created on first use with the
    // defaults' counts. `name` labels it; a pool on a device other than the host device is named
    // "<name>@<device>" (e.g. "staging_b8_640_pinned@cuda:0"), so names stay unique across devices.
    Result<std::shared_ptr<BufferPool>> get(MemoryKind kind, size_t bytes, const std::string& name,
                                            device::Device* dev = nullptr);
    std::vector<PoolStats> stats() const;
    PoolStats total() const;  // name "total": summed counters, max of p99s
private:
    PoolOptions defaults_;
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<BufferPool>> pools_;
};

}  // namespace itscam::pipeline
