// The host as a device ("cpu", "ref"): host memory only, streams whose work runs on the caller's thread (so it is
// finished when the call returns), events that are reached when recorded and time the host's clock. Its streams
// give the CPU workers the same per-stream busy time and queue depth as GPU streams (device/device.h).
// Not final: a test may derive a fake device from it (e.g. one with a memory budget).
// Thread-safety: as Device.
#pragma once

#include "device/device.h"

namespace itscam::device {

// 64-byte aligned heap memory (the size rounded up to 64 bytes; 0 is taken as 1), every byte zeroed when `zero`.
// The layer's one host allocator: the host device's memory and a GPU device's kHost. Free with host_memory_free.
Result<void*> host_memory_alloc(size_t bytes, bool zero);
void host_memory_free(void* p);

class HostDevice : public Device {
  public:
    HostDevice();

    // Pinned and mapped requests get plain host memory; there is no device memory (kUnsupported).
    Result<MemoryKind> memory_kind(MemoryKind want) override;
    Result<void*> memory_alloc(MemoryKind kind, size_t bytes, bool zero) override;
    void memory_free(MemoryKind kind, void* p) override;

  protected:
    Result<void*> native_stream_create() override { return static_cast<void*>(nullptr); }
    Status native_stream_synchronize(void*) override { return Status::ok(); }
    Status native_memset(void* stream, void* dst, int value, size_t bytes) override;
    Result<void*> native_event_create(bool timing) override;
    Status native_event_record(void* event, void* stream) override;
    Result<bool> native_event_done(void*) override { return true; }
    Status native_event_synchronize(void*) override { return Status::ok(); }
    Status native_stream_wait(void*, void*) override { return Status::ok(); }
    Result<double> native_event_elapsed_ms(void* start, void* end) override;
};

}  // namespace itscam::device
