// What `itscam bench pipeline` measures around the pipeline over one run: the process's CPU use (in all, and by
// thread role: capture, inference workers, ...), the GPU's busy share and NVDEC load from NVML (sampled once a
// second while the run lasts; absent without NVML), and how evenly the cameras were served.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "config/config.h"
#include "pipeline/pipeline.h"

namespace itscam::cli {

class BenchMeters {
  public:
    // The GPUs sampled are the pipeline's (service/gpu_monitor.h select_gpus: none for a CPU device).
    explicit BenchMeters(const config::Config& cfg);
    ~BenchMeters();
    // Starts the measured span: CPU clocks, per-camera counters, the GPU sampler.
    void start(const pipeline::PipelineSnapshot& s);
    // Ends it and returns the figures: cpu_cores_used, cpu_share (of all cores), cpu_cores_by_role {role: cores},
    // gpu_busy / gpu_decoder (means of NVML's samples, absent without them), camera_fps_min / _max / _fairness
    // (Jain's index over the cameras' processed fps: 1 = perfectly even), camera_offered_fps_min (the slowest
    // camera's captured fps: below the clip's rate, its decoding fell behind).
    nlohmann::json stop(const pipeline::PipelineSnapshot& s, double seconds);

  private:
    config::Config cfg_;
    double cpu0_ = 0;
    std::map<std::string, double> roles0_;
    std::map<std::string, int64_t> processed0_, captured0_;
    std::thread sampler_;
    std::atomic<bool> sampling_{false};
    struct Sums;
    std::unique_ptr<Sums> sums_;
};

}  // namespace itscam::cli
