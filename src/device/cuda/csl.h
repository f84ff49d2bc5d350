// csl: small RAII wrappers over the CUDA runtime and the macro that turns its error codes into itscam Status values.
// Header-only; the shared CUDA layer of the CUDA device (device/cuda/cuda_device.h), the CUDA backend and the GPU
// pre/post-processing (vision/cuda). cuDNN and cuBLAS wrappers: device/cuda/csl_dnn.h.
//
// Every wrapper is move-only and releases its handle in the destructor; release errors are ignored (a destructor
// must not throw, and a failed free means the context is already lost, which the next call reports).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace itscam::csl {

// CUDA runtime errors as Status codes, which device/device_error.h classifies for the circuit breaker:
// out-of-memory -> kOutOfMemory (the circuit opens after a few); the sticky errors that leave the context unusable
// (and no usable device) -> kDeviceLost (it opens at once and the engines are rebuilt); the rest -> kDevice.
inline Status cuda_status(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return Status::ok();
    const std::string msg = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    switch (e) {
        case cudaErrorMemoryAllocation:
            return Status(StatusCode::kOutOfMemory, msg);
        case cudaErrorIllegalAddress:
        case cudaErrorLaunchFailure:
        case cudaErrorLaunchTimeout:
        case cudaErrorAssert:
        case cudaErrorHardwareStackError:
        case cudaErrorIllegalInstruction:
        case cudaErrorMisalignedAddress:
        case cudaErrorInvalidAddressSpace:
        case cudaErrorInvalidPc:
        case cudaErrorECCUncorrectable:
        case cudaErrorDevicesUnavailable:
        case cudaErrorNoDevice:
        case cudaErrorInsufficientDriver:
            return Status(StatusCode::kDeviceLost, msg);
        default:
            return Status(StatusCode::kDevice, msg);
    }
}

#define ITSCAM_CUDA_CHECK(expr) ITSCAM_RETURN_IF_ERROR(::itscam::csl::cuda_status((expr), #expr))

// A unique owner of one handle, released by Deleter::release(handle).
template <typename H, typename Deleter>
class Handle {
  public:
    Handle() = default;
    explicit Handle(H h) : h_(h) {}
    ~Handle() { reset(); }
    Handle(Handle&& o) noexcept : h_(std::exchange(o.h_, H{})) {}
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, H{});
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    H get() const { return h_; }
    // Gives up ownership: the caller releases the handle.
    H release() { return std::exchange(h_, H{}); }
    explicit operator bool() const { return h_ != H{}; }
    void reset() {
        if (h_ != H{}) Deleter::release(h_);
        h_ = H{};
    }

  private:
    H h_{};
};

struct StreamDel {
    static void release(cudaStream_t s) { cudaStreamDestroy(s); }
};
struct EventDel {
    static void release(cudaEvent_t e) { cudaEventDestroy(e); }
};
struct GraphDel {
    static void release(cudaGraph_t g) { cudaGraphDestroy(g); }
};
struct GraphExecDel {
    static void release(cudaGraphExec_t g) { cudaGraphExecDestroy(g); }
};
struct DeviceMemDel {
    static void release(void* p) { cudaFree(p); }
};
struct HostMemDel {
    static void release(void* p) { cudaFreeHost(p); }
};

using Stream = Handle<cudaStream_t, StreamDel>;
using Event = Handle<cudaEvent_t, EventDel>;
using Graph = Handle<cudaGraph_t, GraphDel>;
using GraphExec = Handle<cudaGraphExec_t, GraphExecDel>;
using DeviceMem = Handle<void*, DeviceMemDel>;
using HostMem = Handle<void*, HostMemDel>;

// Device memory on the current device (0 bytes is taken as 256).
inline Result<DeviceMem> device_alloc(size_t bytes) {
    void* p = nullptr;
    if (bytes == 0) bytes = 256;
    ITSCAM_CUDA_CHECK(cudaMalloc(&p, bytes));
    return DeviceMem(p);
}

// Pinned (page-locked) host memory (0 bytes is taken as 256).
inline Result<HostMem> pinned_alloc(size_t bytes) {
    void* p = nullptr;
    if (bytes == 0) bytes = 256;
    ITSCAM_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    return HostMem(p);
}

inline Result<Event> make_event(bool timing) {
    cudaEvent_t e = nullptr;
    ITSCAM_CUDA_CHECK(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming));
    return Event(e);
}

// What `record()` (returning Status) enqueues on `s`, captured into a graph in thread-local capture mode. The capture
// is ended whatever record() returns; its error is reported first, then the capture's own.
template <typename Record>
Result<Graph> capture(cudaStream_t s, Record&& record) {
    ITSCAM_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    const Status run = record();
    cudaGraph_t raw = nullptr;
    const cudaError_t end = cudaStreamEndCapture(s, &raw);
    Graph g(raw);
    ITSCAM_RETURN_IF_ERROR(run);
    ITSCAM_CUDA_CHECK(end);
    return g;
}

// The GPU time in ms of each of `iters` back-to-back calls of `run` on `s` (events between them). Synchronous.
template <typename Run>
Result<std::vector<double>> timed_runs(cudaStream_t s, int iters, Run&& run) {
    std::vector<Event> ev;
    for (int i = 0; i <= iters; ++i) {
        ITSCAM_ASSIGN_OR_RETURN(Event e, make_event(true));
        ev.push_back(std::move(e));
    }
    ITSCAM_CUDA_CHECK(cudaEventRecord(ev[0].get(), s));
    for (int i = 0; i < iters; ++i) {
        ITSCAM_RETURN_IF_ERROR(run());
        ITSCAM_CUDA_CHECK(cudaEventRecord(ev[i + 1].get(), s));
    }
    ITSCAM_CUDA_CHECK(cudaEventSynchronize(ev.back().get()));
    std::vector<double> ms;
    for (int i = 0; i < iters; ++i) {
        float t = 0.f;
        ITSCAM_CUDA_CHECK(cudaEventElapsedTime(&t, ev[i].get(), ev[i + 1].get()));
        ms.push_back(t);
    }
    return ms;
}

inline Result<GraphExec> instantiate(const Graph& g) {
    cudaGraphExec_t exec = nullptr;
    ITSCAM_CUDA_CHECK(cudaGraphInstantiate(&exec, g.get(), 0));
    return GraphExec(exec);
}

// Makes `device` current for the calling thread (every public entry point of the backend does this first).
inline Status set_device(int device) {
    return cuda_status(cudaSetDevice(device), "cudaSetDevice");
}

// Makes `device` current on this thread for the scope and restores the caller's device afterwards. error() is
// cudaSetDevice's result (no GPU, no driver, bad ordinal); the runtime's last-error state is cleared on failure.
class DeviceScope {
  public:
    explicit DeviceScope(int device) {
        if (cudaGetDevice(&prev_) != cudaSuccess) prev_ = -1;
        err_ = cudaSetDevice(device);
        if (err_ != cudaSuccess) (void)cudaGetLastError();
    }
    ~DeviceScope() {
        if (prev_ >= 0) (void)cudaSetDevice(prev_);
    }
    DeviceScope(const DeviceScope&) = delete;
    DeviceScope& operator=(const DeviceScope&) = delete;
    cudaError_t error() const { return err_; }

  private:
    int prev_ = -1;
    cudaError_t err_ = cudaSuccess;
};

// A device (DeviceBuffer) or pinned host (PinnedBuffer) allocation that only grows: scratch sized up front and
// reallocated only when a call needs more than any before.
template <typename Mem, Result<Mem> (*Alloc)(size_t)>
class GrowBuffer {
  public:
    void* get() const { return mem_.get(); }
    size_t bytes() const { return bytes_; }
    // Reallocates (contents lost) when `want` exceeds the size; at least 256 bytes. The caller makes sure no
    // enqueued work still uses the old buffer (cudaFree also synchronizes the device).
    Status grow(size_t want) {
        if (mem_ && want <= bytes_) return Status::ok();
        mem_.reset();
        bytes_ = 0;
        const size_t n = std::max<size_t>(want, 256);
        ITSCAM_ASSIGN_OR_RETURN(mem_, Alloc(n));
        bytes_ = n;
        return Status::ok();
    }

  private:
    Mem mem_;
    size_t bytes_ = 0;
};
using DeviceBuffer = GrowBuffer<DeviceMem, device_alloc>;
using PinnedBuffer = GrowBuffer<HostMem, pinned_alloc>;

// An event that remembers whether it was recorded: waiting on one that never was returns at once. For ordering the
// reuse of scratch buffers across streams.
class Fence {
  public:
    Status create() {
        ITSCAM_ASSIGN_OR_RETURN(e_, make_event(false));
        return Status::ok();
    }
    Status record(cudaStream_t s) {
        ITSCAM_CUDA_CHECK(cudaEventRecord(e_.get(), s));
        recorded_ = true;
        return Status::ok();
    }
    // Blocks the host until the recorded point is reached.
    Status host_wait() const {
        return recorded_ ? cuda_status(cudaEventSynchronize(e_.get()), "cudaEventSynchronize") : Status::ok();
    }
    // Makes later work on `s` wait for the recorded point.
    Status stream_wait(cudaStream_t s) const {
        return recorded_ ? cuda_status(cudaStreamWaitEvent(s, e_.get(), 0), "cudaStreamWaitEvent") : Status::ok();
    }

  private:
    Event e_;
    bool recorded_ = false;
};

}  // namespace itscam::csl
