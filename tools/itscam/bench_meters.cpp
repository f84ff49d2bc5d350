#include "bench_meters.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "core/thread_info.h"
#ifdef ITSCAM_HAVE_SERVICE
#include "service/gpu_monitor.h"
#endif

namespace itscam::cli {

struct BenchMeters::Sums {
    std::mutex mu;
    double busy = 0, decoder = 0;
    int busy_n = 0, decoder_n = 0;
};

BenchMeters::BenchMeters(const config::Config& cfg) : cfg_(cfg), sums_(std::make_unique<Sums>()) {}

BenchMeters::~BenchMeters() {
    sampling_ = false;
    if (sampler_.joinable()) sampler_.join();
}

void BenchMeters::start(const pipeline::PipelineSnapshot& s) {
    cpu0_ = process_cpu_seconds();
    roles0_ = thread_cpu_by_role();
    for (const auto& c : s.cameras) {
        processed0_[c.id] = c.frames_processed;
        captured0_[c.id] = c.frames_captured;
    }
#ifdef ITSCAM_HAVE_SERVICE
    const service::GpuScope scope = service::GpuScope::from_config(cfg_);
    if (!scope.cuda) return;
    sampling_ = true;
    sampler_ = std::thread([this, scope] {
        set_thread_name("bench-nvml");
        service::GpuMonitor mon("libnvidia-ml.so.1", 0.0);
        if (!mon.available()) return;
        // NVML's counters cover about the last second: one sample a second, the first after a second of the run.
        auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (sampling_) {
            std::this_thread::sleep_until(std::min(next, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
            if (std::chrono::steady_clock::now() < next) continue;
            next += std::chrono::seconds(1);
            for (const auto& g : mon.select(scope).gpus) {
                std::lock_guard lk(sums_->mu);
                sums_->busy += g.utilization;
                ++sums_->busy_n;
                if (g.decoder_utilization) {
                    sums_->decoder += *g.decoder_utilization;
                    ++sums_->decoder_n;
                }
            }
        }
    });
#endif
}

nlohmann::json BenchMeters::stop(const pipeline::PipelineSnapshot& s, double seconds) {
    const double cpu = process_cpu_seconds() - cpu0_;
    const std::map<std::string, double> roles = thread_cpu_by_role();
    sampling_ = false;
    if (sampler_.joinable()) sampler_.join();
    nlohmann::json j;
    const double cores = std::max(1u, std::thread::hardware_concurrency());
    j["cpu_cores_used"] = cpu / seconds;
    j["cpu_share"] = cpu / seconds / cores;
    nlohmann::json by_role = nlohmann::json::object();
    for (const auto& [role, secs] : roles) {
        auto it = roles0_.find(role);
        const double d = secs - (it == roles0_.end() ? 0.0 : it->second);
        if (d > 0.005 * seconds) by_role[role] = d / seconds;
    }
    j["cpu_cores_by_role"] = by_role;
    {
        std::lock_guard lk(sums_->mu);
        if (sums_->busy_n) j["gpu_busy"] = sums_->busy / sums_->busy_n;
        if (sums_->decoder_n) j["gpu_decoder"] = sums_->decoder / sums_->decoder_n;
    }
    double lo = INFINITY, hi = 0, sum = 0, sq = 0, offered_lo = INFINITY;
    int n = 0;
    for (const auto& c : s.cameras) {
        auto it = processed0_.find(c.id);
        if (it == processed0_.end()) continue;
        const double fps = static_cast<double>(c.frames_processed - it->second) / seconds;
        offered_lo = std::min(offered_lo, static_cast<double>(c.frames_captured - captured0_[c.id]) / seconds);
        lo = std::min(lo, fps);
        hi = std::max(hi, fps);
        sum += fps;
        sq += fps * fps;
        ++n;
    }
    if (n > 0) {
        j["camera_fps_min"] = lo;
        j["camera_fps_max"] = hi;
        j["camera_offered_fps_min"] = offered_lo;  // a camera whose decoding fell behind its own frame rate
        j["camera_fairness"] = sq > 0 ? sum * sum / (n * sq) : 1.0;
    }
    return j;
}

}  // namespace itscam::cli
