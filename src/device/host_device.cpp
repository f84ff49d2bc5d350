#include "device/host_device.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace itscam::device {

namespace {

constexpr size_t kAlign = 64;

using Clock = std::chrono::steady_clock;

struct HostEvent {
    Clock::time_point at{};
};

}  // namespace

Result<void*> host_memory_alloc(size_t bytes, bool zero) {
    const size_t rounded = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    if (!p) return out_of_memory("host memory: " + std::to_string(bytes) + " bytes");
    if (zero) std::memset(p, 0, rounded);
    return p;
}

void host_memory_free(void* p) {
    std::free(p);
}

Result<MemoryKind> HostDevice::memory_kind(MemoryKind want) {
    if (want == MemoryKind::kDevice)
        return unsupported("the host device (" + name() + ") has no device memory: device memory needs a GPU device");
    return MemoryKind::kHost;
}

Result<void*> HostDevice::memory_alloc(MemoryKind kind, size_t bytes, bool zero) {
    if (kind != MemoryKind::kHost)
        return invalid_argument(std::string("the host device has no ") + memory_kind_name(kind) +
                                " memory (ask memory_kind first)");
    return host_memory_alloc(bytes, zero);
}

void HostDevice::memory_free(MemoryKind, void* p) {
    host_memory_free(p);
}

Status HostDevice::native_memset(void*, void* dst, int value, size_t bytes) {
    std::memset(dst, value, bytes);
    return Status::ok();
}

Result<void*> HostDevice::native_event_create(bool) {
    return static_cast<void*>(new HostEvent);
}

HostDevice::HostDevice() : Device("cpu", [](void* event) { delete static_cast<HostEvent*>(event); }) {}

Status HostDevice::native_event_record(void* event, void*) {
    static_cast<HostEvent*>(event)->at = Clock::now();
    return Status::ok();
}

Result<double> HostDevice::native_event_elapsed_ms(void* start, void* end) {
    return std::chrono::duration<double, std::milli>(static_cast<HostEvent*>(end)->at -
                                                     static_cast<HostEvent*>(start)->at)
        .count();
}

}  // namespace itscam::device
