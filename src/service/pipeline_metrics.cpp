#include "service/pipeline_metrics.h"

namespace itscam::service {

MetricsSample metrics_sample_from(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev,
                                  std::optional<double> gpu_utilization) {
    MetricsSample m;
    m.timestamp = std::chrono::system_clock::now();
    const auto it = s.stages.find("inference");
    if (it != s.stages.end() && it->second.window > 0) {
        m.inference_latency_p99_ms = it->second.p99_ms;
        m.inference_latency_p95_ms = it->second.p95_ms;
    }
    m.memory_pool_efficiency = s.pool_total.hit_rate();
    m.circuit_open = s.worst_circuit() == pipeline::CircuitState::kOpen;
    int pending = 0;
    for (const auto& c : s.cameras) pending += c.queue_depth;
    m.work_queued = pending;
    m.gpu_utilization = gpu_utilization;
    const int64_t failed = s.frames_failed - (prev ? prev->frames_failed : 0);
    const int64_t done = s.frames_processed - (prev ? prev->frames_processed : 0) + failed;
    if (done > 0) m.error_rate = static_cast<double>(failed) / static_cast<double>(done);
    m.memory_allocation_p99_ms = s.pool_total.acquire_p99_us / 1000.0;
    return m;
}

HistorySample history_sample_from(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev,
                                  std::optional<double> gpu_utilization) {
    HistorySample h;
    h.timestamp = std::chrono::system_clock::now();
    const auto it = s.stages.find("inference");
    if (it != s.stages.end() && it->second.window > 0) {
        h.latency_p50_ms = it->second.p50_ms;
        h.latency_p95_ms = it->second.p95_ms;
        h.latency_p99_ms = it->second.p99_ms;
    }
    h.fps = s.fps;
    h.pool_efficiency = s.pool_total.hit_rate();
    h.gpu_utilization = gpu_utilization;
    h.circuit_state = pipeline::circuit_state_name(s.worst_circuit());
    h.frames_processed = s.frames_processed - (prev ? prev->frames_processed : 0);
    h.frames_dropped = s.frames_dropped - (prev ? prev->frames_dropped : 0);
    const int64_t failed = s.frames_failed - (prev ? prev->frames_failed : 0);
    if (h.frames_processed + failed > 0)
        h.error_rate = static_cast<double>(failed) / static_cast<double>(h.frames_processed + failed);
    h.memory_allocation_p99_ms = s.pool_total.acquire_p99_us / 1000.0;
    return h;
}

}  // namespace itscam::service
