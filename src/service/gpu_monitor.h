// GpuMonitor: GPU utilization and memory from NVML, loaded at run time with dlopen("libnvidia-ml.so.1"), so the
// service builds and runs on machines without the NVIDIA driver. When the library (or any device) is missing,
// available() is false and sample() returns nothing: GPU metrics are then absent, never faked.
// Samples are taken on demand and cached for `cache_s` (NVML's utilization counters are themselves averaged over
// roughly the last second). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace itscam::service {

struct GpuSample {
    int index = 0;
    std::string name;               // "NVIDIA H200"
    double utilization = 0;         // 0..1: share of the last sample period in which a kernel ran
    double memory_utilization = 0;  // 0..1: share of the period in which device memory was read or written
    uint64_t memory_used_bytes = 0;
    uint64_t memory_total_bytes = 0;
    bool memory_known = false;      // nvmlDeviceGetMemoryInfo answered (else the memory fields are not reported)
};

class GpuMonitor {
public:
    explicit GpuMonitor(std::string library = "libnvidia-ml.so.1", double cache_s = 1.0);
    ~GpuMonitor();
    GpuMonitor(const GpuMonitor&) = delete;
    GpuMonitor& operator=(const GpuMonitor&) = delete;

    bool available() const { return available_; }
    // Why the monitor is unavailable ("libnvidia-ml.so.1: cannot open shared object file ..."); empty when available.
    const std::string& unavailable_reason() const { return reason_; }
    int device_count() const { return count_; }
    // One entry per device that answered (empty when unavailable). Cached for cache_s.
    std::vector<GpuSample> sample();
    // Mean utilization (0..1) over the devices; nullopt when unavailable.
    std::optional<double> mean_utilization();

    struct Api;  // resolved NVML entry points (gpu_monitor.cpp)

private:
    void* lib_ = nullptr;
    std::unique_ptr<Api> api_;
    bool available_ = false;
    std::string reason_;
    int count_ = 0;
    double cache_s_;
    std::mutex mu_;
    std::chrono::steady_clock::time_point sampled_at_{};
    bool have_sample_ = false;
    std::vector<GpuSample> cache_;
};

}  // namespace itscam::service
