#include "pipeline/memory_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "device/registry.h"

namespace itscam::pipeline {

namespace {

constexpr size_t kAlign = 64;

}  // namespace

// ---- Lock-free index stack ----

void BufferPool::IndexStack::push(uint32_t i) {
    uint64_t h = head_.load(std::memory_order_relaxed);
    uint64_t nh;
    do {
        slots_[i].next.store(static_cast<uint32_t>(h), std::memory_order_relaxed);
        nh = (((h >> 32) + 1) << 32) | (i + 1);
    } while (!head_.compare_exchange_weak(h, nh, std::memory_order_release, std::memory_order_relaxed));
}

bool BufferPool::IndexStack::pop(uint32_t& i) {
    uint64_t h = head_.load(std::memory_order_acquire);
    for (;;) {
        const uint32_t top = static_cast<uint32_t>(h);
        if (top == 0) return false;
        // The slot may be popped and pushed again by another thread meanwhile: `next` is then stale, but the tag
        // in the head has changed too, so the exchange fails and we retry.
        const uint32_t next = slots_[top - 1].next.load(std::memory_order_relaxed);
        const uint64_t nh = (((h >> 32) + 1) << 32) | next;
        if (head_.compare_exchange_weak(h, nh, std::memory_order_acquire, std::memory_order_acquire)) {
            i = top - 1;
            return true;
        }
    }
}

// ---- Deleter and control-block allocator ----

// Gives a buffer back and drops the buffer's reference to the pool (which may destroy it: the last buffer back
// frees the pool). The reference is released when the deleter runs, not when the control block dies, so weak_ptrs
// to a buffer do not keep the pool's memory alive.
struct BufferPool::Deleter {
    mutable std::shared_ptr<BufferPool> pool;
    uint32_t slot;  // kNoSlot: a fallback buffer
    static constexpr uint32_t kNoSlot = ~0u;
    void operator()(uint8_t* p) const {
        std::shared_ptr<BufferPool> keep = std::move(pool);
        if (!keep) return;
        if (slot == kNoSlot) {
            keep->release(p);
        } else {
            keep->release_slot(slot);
        }
    }
};

// Control blocks: fixed 128-byte entries in one allocation, handed out through a lock-free index stack. Refcounted
// by hand (the pool holds one reference, every control block allocated through it another), so the slab outlives
// both the pool and the last control block, whichever goes last.
struct BufferPool::CbSlab {
    static constexpr size_t kEntryBytes = 128;
    std::atomic<int64_t> refs{1};
    uint8_t* mem = nullptr;
    uint32_t count = 0;
    std::unique_ptr<Slot[]> links;
    IndexStack free;

    static CbSlab* create(uint32_t n) {
        auto* s = new CbSlab;
        s->mem = static_cast<uint8_t*>(std::aligned_alloc(kAlign, static_cast<size_t>(n) * kEntryBytes));
        if (!s->mem) {
            delete s;
            return nullptr;
        }
        s->count = n;
        s->links = std::make_unique<Slot[]>(n);
        s->free.init(s->links.get());
        for (uint32_t i = n; i-- > 0;) s->free.push(i);
        return s;
    }
    ~CbSlab() { std::free(mem); }
    void ref() { refs.fetch_add(1, std::memory_order_relaxed); }
    void unref() {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    void* allocate(size_t bytes, size_t align) {
        uint32_t i;
        void* p = bytes <= kEntryBytes && align <= kAlign && free.pop(i) ? mem + i * kEntryBytes
                                                                           : ::operator new(bytes);
        ref();
        return p;
    }
    void deallocate(void* p) {
        auto* b = static_cast<uint8_t*>(p);
        if (b >= mem && b < mem + static_cast<size_t>(count) * kEntryBytes) {
            free.push(static_cast<uint32_t>((b - mem) / kEntryBytes));
        } else {
            ::operator delete(p);
        }
        unref();  // may delete the slab: nothing touches it afterwards
    }
};

// Allocator for shared_ptr's control block. Copies hold a plain pointer: the slab is kept alive by the pool while
// a shared_ptr is being made and by the block itself until it is deallocated.
template <typename T>
class BufferPool::CbAllocator {
public:
    using value_type = T;
    explicit CbAllocator(CbSlab* slab) : slab_(slab) {}
    template <typename U>
    CbAllocator(const CbAllocator<U>& o) : slab_(o.slab_) {}  // NOLINT: rebinding copy

    T* allocate(size_t n) { return static_cast<T*>(slab_->allocate(n * sizeof(T), alignof(T))); }
    void deallocate(T* p, size_t) { slab_->deallocate(p); }

    template <typename U>
    bool operator==(const CbAllocator<U>& o) const {
        return slab_ == o.slab_;
    }

private:
    template <typename U>
    friend class CbAllocator;
    CbSlab* slab_;
};

// ---- Buffers ----

Result<uint8_t*> BufferPool::allocate_buffer(bool warmup) {
    ITSCAM_ASSIGN_OR_RETURN(void* p, dev_->memory_alloc(effective_kind_, opt_.buffer_bytes, warmup));
    return static_cast<uint8_t*>(p);
}

void BufferPool::free_buffer(uint8_t* p) {
    dev_->memory_free(effective_kind_, p);
}

// ---- Pool ----

BufferPool::BufferPool(PoolOptions opt) : opt_(std::move(opt)) {}

BufferPool::~BufferPool() {
    // Every buffer is back: each outstanding one holds a reference to the pool.
    const uint32_t n = pooled_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < n; ++i) free_buffer(slots_[i].ptr);
    if (cb_slab_) cb_slab_->unref();
}

Result<std::shared_ptr<BufferPool>> BufferPool::create(const PoolOptions& opt) {
    if (opt.buffer_bytes == 0) return invalid_argument("buffer pool '" + opt.name + "': buffer_bytes is 0");
    if (opt.initial_buffers < 0 || opt.max_buffers < 0)
        return invalid_argument("buffer pool '" + opt.name + "': negative buffer count");
    std::shared_ptr<BufferPool> pool(new BufferPool(opt));
    ITSCAM_RETURN_IF_ERROR(pool->init());
    return pool;
}

Status BufferPool::init() {
    const std::string what = "buffer pool '" + opt_.name + "' (" + memory_kind_name(opt_.kind) + ", " +
                             std::to_string(opt_.buffer_bytes) + " bytes)";
    dev_ = opt_.device ? opt_.device : &device::device_host();
    auto kind = dev_->memory_kind(opt_.kind);
    if (!kind) return kind.status().with_context(what);
    effective_kind_ = *kind;
    host_fallback_ = effective_kind_ != opt_.kind;
    capacity_ = static_cast<uint32_t>(std::max(opt_.max_buffers, opt_.initial_buffers));
    slots_ = std::make_unique<Slot[]>(capacity_ ? capacity_ : 1);
    free_slots_.init(slots_.get());
    cb_slab_ = CbSlab::create(capacity_ * 2 + 8);
    if (!cb_slab_) return out_of_memory(what + ": control-block slab");
    acquire_us_ring_ = std::make_unique<std::atomic<float>[]>(kLatencyWindow);
    for (size_t i = 0; i < kLatencyWindow; ++i) acquire_us_ring_[i].store(0.f, std::memory_order_relaxed);

    for (int i = 0; i < opt_.initial_buffers; ++i) {
        auto p = allocate_buffer(opt_.warmup);
        if (!p)
            return p.status().with_context(what + ": allocating buffer " + std::to_string(i) + " of " +
                                           std::to_string(opt_.initial_buffers));
        slots_[i].ptr = *p;
        pooled_.store(static_cast<uint32_t>(i + 1), std::memory_order_relaxed);
    }
    // Push in reverse so that the first acquire gets buffer 0.
    for (int i = opt_.initial_buffers; i-- > 0;) free_slots_.push(static_cast<uint32_t>(i));
    return Status::ok();
}

void BufferPool::record_latency(float us) {
    const uint64_t i = ring_pos_.fetch_add(1, std::memory_order_relaxed);
    acquire_us_ring_[i & (kLatencyWindow - 1)].store(us, std::memory_order_relaxed);
}

std::shared_ptr<uint8_t> BufferPool::acquire() {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    acquires_.fetch_add(1, std::memory_order_relaxed);
    uint32_t slot;
    std::shared_ptr<uint8_t> out;
    if (free_slots_.pop(slot)) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        in_use_.fetch_add(1, std::memory_order_relaxed);
        out = std::shared_ptr<uint8_t>(slots_[slot].ptr, Deleter{shared_from_this(), slot},
                                       CbAllocator<uint8_t>(cb_slab_));
    } else {
        misses_.fetch_add(1, std::memory_order_relaxed);
        auto r = allocate_buffer(false);
        uint8_t* p = r ? *r : nullptr;
        if (p) {
            in_use_.fetch_add(1, std::memory_order_relaxed);
            fallback_live_.fetch_add(1, std::memory_order_relaxed);
            out = std::shared_ptr<uint8_t>(p, Deleter{shared_from_this(), Deleter::kNoSlot},
                                           CbAllocator<uint8_t>(cb_slab_));
        }
    }
    const auto t1 = clock::now();
    record_latency(std::chrono::duration<float, std::micro>(t1 - t0).count());
    return out;
}

void BufferPool::release_slot(uint32_t slot) {
    in_use_.fetch_sub(1, std::memory_order_relaxed);
    free_slots_.push(slot);
}

void BufferPool::release(uint8_t* p) {
    in_use_.fetch_sub(1, std::memory_order_relaxed);
    uint32_t n = pooled_.load(std::memory_order_relaxed);
    while (n < capacity_) {
        if (pooled_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
            slots_[n].ptr = p;  // published to the next acquirer by the push (release) / pop (acquire)
            fallback_live_.fetch_sub(1, std::memory_order_relaxed);
            free_slots_.push(n);
            return;
        }
    }
    fallback_live_.fetch_sub(1, std::memory_order_relaxed);
    free_buffer(p);
}

PoolStats BufferPool::stats() const {
    PoolStats s;
    s.name = opt_.name;
    s.device = dev_->name();
    s.kind = opt_.kind;
    s.buffer_bytes = opt_.buffer_bytes;
    s.host_fallback = host_fallback_;
    s.acquires = acquires_.load(std::memory_order_relaxed);
    s.hits = hits_.load(std::memory_order_relaxed);
    s.misses = misses_.load(std::memory_order_relaxed);
    s.buffers_in_use = in_use_.load(std::memory_order_relaxed);
    s.buffers_total = pooled_.load(std::memory_order_relaxed) + fallback_live_.load(std::memory_order_relaxed);
    s.bytes_total = static_cast<size_t>(std::max<int64_t>(s.buffers_total, 0)) * opt_.buffer_bytes;
    s.bytes_in_use = static_cast<size_t>(std::max<int64_t>(s.buffers_in_use, 0)) * opt_.buffer_bytes;

    const uint64_t n = std::min<uint64_t>(ring_pos_.load(std::memory_order_relaxed), kLatencyWindow);
    if (n > 0) {
        std::vector<float> v(n);
        for (uint64_t i = 0; i < n; ++i) v[i] = acquire_us_ring_[i].load(std::memory_order_relaxed);
        auto pct = [&](double q) {
            const size_t k = std::min<size_t>(n - 1, static_cast<size_t>(q * static_cast<double>(n - 1) + 0.5));
            std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
            return static_cast<double>(v[k]);
        };
        s.acquire_p50_us = pct(0.50);
        s.acquire_p99_us = pct(0.99);
        s.acquire_max_us = *std::max_element(v.begin(), v.end());
    }
    return s;
}

// ---- Registry ----

Result<std::shared_ptr<BufferPool>> PoolRegistry::get(MemoryKind kind, size_t bytes, const std::string& name,
                                                      device::Device* dev) {
    device::Device* d = dev ? dev : defaults_.device ? defaults_.device : &device::device_host();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : pools_)
        if (&p->device() == d && p->options().kind == kind && p->options().buffer_bytes == bytes) return p;
    PoolOptions o = defaults_;
    o.device = d;
    o.kind = kind;
    o.buffer_bytes = bytes;
    o.name = d == &device::device_host() ? name : name + "@" + d->name();
    ITSCAM_ASSIGN_OR_RETURN(auto pool, BufferPool::create(o));
    pools_.push_back(pool);
    return pool;
}

std::vector<PoolStats> PoolRegistry::stats() const {
    std::vector<std::shared_ptr<BufferPool>> pools;
    {
        std::lock_guard<std::mutex> lock(mu_);
        pools = pools_;
    }
    std::vector<PoolStats> out;
    out.reserve(pools.size());
    for (const auto& p : pools) out.push_back(p->stats());
    return out;
}

PoolStats PoolRegistry::total() const {
    PoolStats t;
    t.name = "total";
    t.kind = defaults_.kind;
    for (const PoolStats& s : stats()) {
        t.acquires += s.acquires;
        t.hits += s.hits;
        t.misses += s.misses;
        t.buffers_total += s.buffers_total;
        t.buffers_in_use += s.buffers_in_use;
        t.bytes_total += s.bytes_total;
        t.bytes_in_use += s.bytes_in_use;
        t.acquire_p50_us = std::max(t.acquire_p50_us, s.acquire_p50_us);
        t.acquire_p99_us = std::max(t.acquire_p99_us, s.acquire_p99_us);
        t.acquire_max_us = std::max(t.acquire_max_us, s.acquire_max_us);
        t.host_fallback = t.host_fallback || s.host_fallback;
    }
    return t;
}

}  // namespace itscam::pipeline
