// A CUDA GPU as a device (device/device.h): its stream pool (STREAMS_PER_DEVICE, MAX_STREAMS_PER_DEVICE: non-blocking
// CUDA streams), its memory budget (TOTAL_GPU_MEMORY_GB, shared by every engine on the GPU: compiled graphs reserve
// their arena, weights and workspaces before allocating and release them when destroyed), pinned/mapped host memory
// and device memory, and CUDA events. Every native call runs with the GPU current and restores the caller's device.
// Without a usable GPU (no device, no driver) the device still exists: available() says why, pinned/mapped requests
// get plain host memory and device memory is an error.
//
// Also the CUDA-typed helpers the backend and vision use (namespace csl): a typed stream lease, the budget by
// ordinal, and the cudaStream_t of a device::StreamLease.
//
// Thread-safety: as Device; csl::StreamLease as device::StreamLease.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "device/cuda/csl.h"
#include "device/device.h"

namespace itscam::device {

class CudaDevice final : public Device {
  public:
    explicit CudaDevice(int ordinal);
    int ordinal() const { return ordinal_; }

    Status available() override;
    bool prefers_fp16() const override { return true; }
    MemoryKind staging_memory() const override { return MemoryKind::kPinned; }
    Result<MemoryKind> memory_kind(MemoryKind want) override;
    Result<void*> memory_alloc(MemoryKind kind, size_t bytes, bool zero) override;
    void memory_free(MemoryKind kind, void* p) override;
    // Also takes the GPU memory budget.
    void configure(const DeviceSettings& s) override;

  protected:
    Result<void*> native_stream_create() override;
    Status native_stream_synchronize(void* stream) override;
    Status native_memset(void* stream, void* dst, int value, size_t bytes) override;
    Result<void*> native_event_create(bool timing) override;
    Status native_event_record(void* event, void* stream) override;
    Result<bool> native_event_done(void* event) override;
    Status native_event_synchronize(void* event) override;
    Status native_stream_wait(void* stream, void* event) override;
    Result<double> native_event_elapsed_ms(void* start, void* end) override;

  private:
    const int ordinal_;
};

// The CUDA device `ordinal` ("cuda:N") from the registry.
CudaDevice& cuda_device(int ordinal);

}  // namespace itscam::device

namespace itscam::csl {

// A stream lease of a CUDA device with the stream typed. Move-only; returns the stream when destroyed.
class StreamLease {
  public:
    StreamLease() = default;
    explicit StreamLease(device::StreamLease l) : lease_(std::move(l)) {}
    cudaStream_t get() const { return static_cast<cudaStream_t>(lease_.native()); }
    // The device-layer lease (for the Detector and vision: monitoring, memset, synchronize).
    const device::StreamLease& lease() const { return lease_; }
    void reset() { lease_.reset(); }

  private:
    device::StreamLease lease_;
};

// A stream from GPU `device`'s pool.
Result<StreamLease> stream_acquire(int device);
// The cudaStream_t of `s`; kInvalidArgument when `s` is empty or not a CUDA device's.
Result<cudaStream_t> stream_of(const device::StreamLease& s);
// The budget of GPU `device` (device::Device::memory_reserve / memory_unreserve).
Status memory_reserve(int device, size_t bytes, const std::string& what);
void memory_unreserve(int device, size_t bytes);

}  // namespace itscam::csl
