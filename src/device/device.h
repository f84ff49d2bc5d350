// The device layer: one interface for the hardware a graph runs on, implemented by the host (device/host_device.h)
// and by CUDA GPUs (device/cuda/cuda_device.h), and used by the backends, the runtime, vision and the pipeline.
// Shape (after ggml-backend): registry (device/registry.h: name -> Device) -> Device -> StreamLease (an in-order
// work queue) -> Event, plus the device's memory kinds and its memory budget. Callers never test a device's name:
// they ask the device (staging_memory(), memory_kind(), prefers_fp16()).
//
//   memory   host (64-byte aligned heap), pinned (page-locked; the device copies from it by DMA), mapped (pinned and
//            mapped into the device's address space) and device memory. memory_kind() says what a request gets
//            here: the host device serves pinned/mapped as plain host memory and has no device memory.
//   budget   memory_reserve()/memory_unreserve(): bytes a user (a compiled graph) holds against the device's budget
//            (TOTAL_GPU_MEMORY_GB per GPU; the host device has none).
//   streams  a pool per device: STREAMS_PER_DEVICE created at the first lease; while every stream is leased a new
//            lease adds one, up to MAX_STREAMS_PER_DEVICE; past that leases share the least-leased stream. A lease
//            is held for its holder's lifetime (one per compiled CUDA graph, one per Detector on the host). Work on
//            a host stream runs on the caller's thread, so it is finished when the call returns.
//   events   markers recorded on a stream: wait for them on the host or on another stream, time between two.
//   errors   implementations return Status codes (kOutOfMemory, kDeviceLost = sticky, kDevice = transient) that
//            device/device_error.h classifies for the circuit breaker.
//   monitor  with stream monitoring on (ENABLE_CUDA_STREAMS_MONITORING), StreamLease::work() brackets one unit of
//            work with two timing events; stream_stats() reports per stream the finished units, their summed busy
//            time (start to end of each unit on the stream) and the queue depth (units begun and not finished).
//
// Ownership: devices live in the registry until the process exits; leases, events and StreamWork refer to their
// device. Thread-safety: every Device method may be called from any thread. A StreamLease, Event or StreamWork is
// used by one thread at a time (its holder).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace itscam::device {

enum class MemoryKind { kHost, kPinned, kMapped, kDevice };
const char* memory_kind_name(MemoryKind k);  // "host" | "pinned" | "mapped" | "device"

// Process-wide settings of every device (device/registry.h applies them).
struct DeviceSettings {
    int streams_initial = 16;        // STREAMS_PER_DEVICE
    int streams_max = 32;            // MAX_STREAMS_PER_DEVICE
    size_t gpu_memory_budget = 0;    // TOTAL_GPU_MEMORY_GB, bytes per GPU; 0: no budget
    bool stream_monitoring = false;  // ENABLE_CUDA_STREAMS_MONITORING
};

struct StreamStats {
    int index = 0;         // the stream's number in its device's pool
    int leases = 0;        // current holders
    uint64_t runs = 0;     // units of monitored work finished
    double busy_ms = 0.0;  // their summed duration on the stream
    int queue_depth = 0;   // units of monitored work begun and not finished
};

class Device;
class StreamWork;

// A leased stream of a device: work enqueued on it runs in order. Move-only; returns the stream to the pool when
// destroyed. The calls enqueue on the stream and return at once (on the host: do the work and return).
class StreamLease {
  public:
    StreamLease() = default;
    ~StreamLease() { reset(); }
    StreamLease(StreamLease&& o) noexcept { *this = std::move(o); }
    StreamLease& operator=(StreamLease&& o) noexcept;
    StreamLease(const StreamLease&) = delete;
    StreamLease& operator=(const StreamLease&) = delete;

    explicit operator bool() const { return dev_ != nullptr; }
    Device* device() const { return dev_; }
    int index() const { return index_; }
    // The native handle (cudaStream_t on a CUDA device; null on the host). For device-specific code only.
    void* native() const { return native_; }
    // Blocks until all work enqueued so far has finished.
    Status synchronize() const;
    // Sets `bytes` bytes at `dst` (memory of this device's kinds) to `value`, in stream order.
    Status memset(void* dst, int value, size_t bytes) const;
    // Starts one unit of monitored work; it ends when the returned object is destroyed (or end() is called).
    // Without stream monitoring it records nothing and costs nothing.
    [[nodiscard]] StreamWork work() const;
    void reset();

  private:
    friend class Device;
    StreamLease(Device* d, int index, void* native) : dev_(d), index_(index), native_(native) {}
    Device* dev_ = nullptr;
    int index_ = -1;
    void* native_ = nullptr;
};

// One unit of monitored work on a stream (StreamLease::work()). Move-only.
class StreamWork {
  public:
    StreamWork() = default;
    ~StreamWork() { end(); }
    StreamWork(StreamWork&& o) noexcept { *this = std::move(o); }
    StreamWork& operator=(StreamWork&& o) noexcept;
    StreamWork(const StreamWork&) = delete;
    StreamWork& operator=(const StreamWork&) = delete;
    // Marks the end of the unit on the stream (after the work enqueued so far). Idempotent.
    void end();

  private:
    friend class Device;
    friend class StreamLease;
    StreamWork(Device* d, int stream, uint64_t id) : dev_(d), stream_(stream), id_(id) {}
    Device* dev_ = nullptr;
    int stream_ = -1;
    uint64_t id_ = 0;
};

// A marker in a stream. Move-only; owned by its creator.
class Event {
  public:
    Event() = default;
    ~Event();
    Event(Event&& o) noexcept { *this = std::move(o); }
    Event& operator=(Event&& o) noexcept;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    explicit operator bool() const { return dev_ != nullptr; }
    void* native() const { return native_; }  // cudaEvent_t on a CUDA device
    bool recorded() const { return recorded_; }
    // Marks the point after the work enqueued on `s` so far. `s` must belong to this event's device.
    Status record(const StreamLease& s);
    // Blocks until the recorded point is reached (at once when never recorded).
    Status synchronize() const;
    // Whether the recorded point was reached (true when never recorded). Does not block.
    Result<bool> done() const;
    // Makes work enqueued on `s` after this call wait for the recorded point (nothing when never recorded).
    Status wait_on(const StreamLease& s) const;
    // Milliseconds from `start` to this event; both recorded and reached, created with timing.
    Result<double> elapsed_ms_since(const Event& start) const;

  private:
    friend class Device;
    Event(Device* d, void* native) : dev_(d), native_(native) {}
    Device* dev_ = nullptr;
    void* native_ = nullptr;
    bool recorded_ = false;
};

// A device. Implementations provide the native operations (the protected function table below); the stream pool,
// the memory budget and stream monitoring are common to all devices and live here.
class Device {
  public:
    virtual ~Device() = default;
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    // "cpu" (the host), "cuda:0".
    const std::string& name() const { return name_; }
    // OK when the device can be used now; else why not (no GPU, no driver), as a Status.
    virtual Status available() { return Status::ok(); }
    // Whether half precision is this device's fast path (the pipeline's `precision: auto` picks fp16 there).
    virtual bool prefers_fp16() const { return false; }
    // The memory a host buffer that feeds this device's work should be: kPinned where the device copies it in by
    // DMA (GPUs), kHost where the device works on host memory in place.
    virtual MemoryKind staging_memory() const { return MemoryKind::kHost; }

    // ---- memory ----
    // What a request for `want` gets on this device: `want`, or kHost where the device has no such memory (the
    // host's pinned/mapped; a GPU device that is not available()). kDevice where there is none: an error.
    virtual Result<MemoryKind> memory_kind(MemoryKind want) = 0;
    // `bytes` (0 is taken as 1) of `kind` (a kind memory_kind() returned), zeroed (every byte touched) when `zero`.
    virtual Result<void*> memory_alloc(MemoryKind kind, size_t bytes, bool zero) = 0;
    // Frees what memory_alloc(kind, ...) returned. Null is ignored. Errors are ignored (a lost context frees all).
    virtual void memory_free(MemoryKind kind, void* p) = 0;
    // Holds `bytes` against the device's budget; kOutOfMemory naming `what` and the budget when they do not fit.
    Status memory_reserve(size_t bytes, const std::string& what);
    void memory_unreserve(size_t bytes);
    size_t memory_reserved() const;
    size_t memory_budget() const { return budget_.load(); }  // 0: none

    // ---- streams and events ----
    Result<StreamLease> stream_acquire();
    // Every stream of the pool, in index order (retires finished monitored work first).
    std::vector<StreamStats> stream_stats();
    int stream_count() const;
    // timing: the event can measure elapsed time (slightly more expensive to record on a GPU).
    Result<Event> event_create(bool timing);

    // Applies the process-wide settings (the registry calls this for every device). Pool sizes apply to the next
    // lease; the budget applies to the next reservation; monitoring to the next StreamLease::work().
    virtual void configure(const DeviceSettings& s);

  protected:
    // `event_destroy` frees a native event. It is a plain function, not a virtual one, because the device's own
    // events (stream monitoring) are released while the base class is being destroyed.
    Device(std::string name, void (*event_destroy)(void*)) : name_(std::move(name)), event_destroy_(event_destroy) {}
    void set_budget(size_t bytes) { budget_ = bytes; }

    // The native function table. Every entry is required; each returns its errors as Status codes (see the file
    // comment). Streams are created on first use and never destroyed (they live as long as the device).
    virtual Result<void*> native_stream_create() = 0;
    virtual Status native_stream_synchronize(void* stream) = 0;
    virtual Status native_memset(void* stream, void* dst, int value, size_t bytes) = 0;
    virtual Result<void*> native_event_create(bool timing) = 0;
    virtual Status native_event_record(void* event, void* stream) = 0;
    virtual Result<bool> native_event_done(void* event) = 0;
    virtual Status native_event_synchronize(void* event) = 0;
    virtual Status native_stream_wait(void* stream, void* event) = 0;
    virtual Result<double> native_event_elapsed_ms(void* start, void* end) = 0;

  private:
    friend class StreamLease;
    friend class StreamWork;
    friend class Event;

    // One monitored unit of work: events around it on its stream.
    struct Work {
        uint64_t id = 0;
        Event begin, end;
        bool ended = false;
    };
    struct Entry {
        void* native = nullptr;
        StreamStats st;
        std::deque<Work> pending;  // begun, not yet retired
        std::vector<Event> spare;  // timing events for reuse
    };

    Status grow_locked(int count);
    void release(int index);
    uint64_t work_begin(int index);  // 0: not monitored
    void work_end(int index, uint64_t id);
    void retire_locked(Entry& e);
    Result<Event> spare_event_locked(Entry& e);

    const std::string name_;
    void (*const event_destroy_)(void*);
    std::atomic<int> streams_initial_{16}, streams_max_{32};
    std::atomic<bool> monitoring_{false};
    std::atomic<size_t> budget_{0};
    mutable std::mutex mu_;
    std::deque<Entry> streams_;  // deque: entries stay put as the pool grows
    size_t reserved_ = 0;
    uint64_t next_work_ = 1;
};

}  // namespace itscam::device
