// GpuMonitor: GPU utilization and memory from NVML, loaded at run time with dlopen("libnvidia-ml.so.1"), so the
// service builds and runs on machines without the NVIDIA driver. When the library (or any device) is missing,
// available() is false and sample() returns nothing: GPU metrics are then absent, never faked.
// Samples are taken on demand and cached for `cache_s` (NVML's utilization counters are themselves averaged over
// roughly the last second). Thread-safe.
//
// A monitor can also be built on a sampler function instead of NVML (tests: the NVML reader needs a driver); the
// rest of the service cannot tell the difference.
//
// Which GPUs stand for the pipeline (select_gpus): only the configured CUDA device_ids when the device is cuda (N
// when it is cuda:N), none for the CPU devices. CUDA ordinals are mapped to NVML devices through CUDA_VISIBLE_DEVICES
// (indices or GPU-UUID prefixes, as the CUDA runtime reads it); without it, CUDA ordinal N is NVML device N. (The CUDA
// runtime orders devices fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, NVML by PCI bus: on machines with one GPU
// model, as in every deployment we know, the two orders are the same.)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace itscam::service {

struct GpuSample {
    int index = 0;                  // NVML device index
    std::string name;               // "NVIDIA H200"
    std::string uuid;               // "GPU-5b3c..." (empty when NVML does not say)
    double utilization = 0;         // 0..1: share of the last sample period in which a kernel ran
    double memory_utilization = 0;  // 0..1: share of the period in which device memory was read or written
    uint64_t memory_used_bytes = 0;
    uint64_t memory_total_bytes = 0;
    bool memory_known = false;  // nvmlDeviceGetMemoryInfo answered (else the memory fields are not reported)
    // 0..1: share of the last sample period in which the video decoders (NVDEC) worked; nullopt when NVML does not
    // say (a GPU without NVDEC, an old driver).
    std::optional<double> decoder_utilization;
};

// The GPUs the pipeline runs on, from the config: device_ids when the device is cuda, N for cuda:N, none otherwise.
struct GpuScope {
    std::string device = "cpu";        // the config's device ("cpu" | "ref" | "cuda" | "cuda:N")
    bool cuda = false;                 // the pipeline runs on CUDA devices
    std::vector<int> device_ids;       // CUDA ordinals (config device_ids)
    std::string cuda_visible_devices;  // CUDA_VISIBLE_DEVICES as the process sees it ("" when unset)
    bool cuda_visible_devices_set = false;

    // device / device_ids of the config, CUDA_VISIBLE_DEVICES of this process.
    static GpuScope from_config(const config::Config& c);
};

// The samples that stand for the pipeline, with what they mean.
struct GpuSelection {
    std::vector<GpuSample> gpus;  // the configured GPUs NVML answered for, in device_ids order
    std::string note;             // why `gpus` is empty or short (device not cuda, NVML absent, ids not found)

    std::optional<double> mean_utilization() const;
    // Mean NVDEC load over the `gpus` that report it; nullopt when none does.
    std::optional<double> mean_decoder_utilization() const;  // mean over `gpus`; nullopt when empty
    // The highest used / total memory over `gpus` that report memory (0..1); nullopt when none does.
    std::optional<double> memory_pressure() const;
};

// Picks the samples of scope's GPUs out of `all` (every device NVML answered for). `unavailable_reason`: why NVML
// is absent (GpuMonitor::unavailable_reason), for the note. Pure: tests feed it samples.
GpuSelection select_gpus(const std::vector<GpuSample>& all, const GpuScope& scope,
                         const std::string& unavailable_reason = "");

class GpuMonitor {
  public:
    using Sampler = std::function<std::vector<GpuSample>()>;

    explicit GpuMonitor(std::string library = "libnvidia-ml.so.1", double cache_s = 1.0);
    // A monitor whose samples come from `sampler` (called on every sample(); no cache, no NVML). Available.
    explicit GpuMonitor(Sampler sampler);
    ~GpuMonitor();
    GpuMonitor(const GpuMonitor&) = delete;
    GpuMonitor& operator=(const GpuMonitor&) = delete;

    bool available() const { return available_; }
    // Why the monitor is unavailable ("libnvidia-ml.so.1: cannot open shared object file ..."); empty when available.
    const std::string& unavailable_reason() const { return reason_; }
    int device_count() const { return count_; }  // NVML devices (0 for a sampler)
    // One entry per device that answered (empty when unavailable). Cached for cache_s.
    std::vector<GpuSample> sample();
    // sample() narrowed to the scope's GPUs (select_gpus).
    GpuSelection select(const GpuScope& scope);

    struct Api;  // resolved NVML entry points (gpu_monitor.cpp)

  private:
    std::vector<GpuSample> read_nvml();

    void* lib_ = nullptr;
    std::unique_ptr<Api> api_;
    Sampler sampler_;
    bool available_ = false;
    std::string reason_;
    int count_ = 0;
    double cache_s_ = 0;
    std::mutex mu_;
    std::chrono::steady_clock::time_point sampled_at_{};
    bool have_sample_ = false;
    std::vector<GpuSample> cache_;
};

}  // namespace itscam::service
