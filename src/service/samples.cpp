#include "service/samples.h"

namespace itscam::service {

namespace {

// The `inference` stage's recent window; null before the first inference.
const pipeline::LatencySummary* inference_window(const pipeline::PipelineSnapshot& s) {
    const auto it = s.stages.find("inference");
    return it != s.stages.end() && it->second.window > 0 ? &it->second : nullptr;
}

// failed / (processed + failed) since `prev` (null: since start); nullopt when no frame was done.
std::optional<double> error_rate_since(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev) {
    const int64_t failed = s.frames_failed - (prev ? prev->frames_failed : 0);
    const int64_t done = s.frames_processed - (prev ? prev->frames_processed : 0) + failed;
    if (done <= 0) return std::nullopt;
    return static_cast<double>(failed) / static_cast<double>(done);
}

}  // namespace

MetricsSample metrics_sample_from(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev,
                                  const ExternalInputs& in) {
    MetricsSample m;
    m.timestamp = std::chrono::system_clock::now();
    if (const pipeline::LatencySummary* inf = inference_window(s)) {
        m.inference_latency_p99_ms = inf->p99_ms;
        m.inference_latency_p95_ms = inf->p95_ms;
    }
    m.memory_pool_efficiency = s.pool_total.hit_rate();
    m.circuit_open = s.worst_circuit() == pipeline::CircuitState::kOpen;
    int pending = 0;
    for (const auto& c : s.cameras) pending += c.queue_depth;
    m.work_queued = pending;
    m.gpu_utilization = in.gpu_utilization;
    m.gpu_memory_pressure = in.gpu_memory_pressure;
    m.streaming_bandwidth_ratio = in.streaming_bandwidth_ratio;
    m.error_rate = error_rate_since(s, prev);
    m.memory_allocation_p99_ms = s.pool_total.acquire_p99_us / 1000.0;
    return m;
}

HistorySample history_sample_from(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev,
                                  const ExternalInputs& in) {
    HistorySample h;
    h.timestamp = std::chrono::system_clock::now();
    if (const pipeline::LatencySummary* inf = inference_window(s)) {
        h.latency_p50_ms = inf->p50_ms;
        h.latency_p95_ms = inf->p95_ms;
        h.latency_p99_ms = inf->p99_ms;
    }
    h.fps = s.fps;
    h.pool_efficiency = s.pool_total.hit_rate();
    h.gpu_utilization = in.gpu_utilization;
    h.gpu_memory_pressure = in.gpu_memory_pressure;
    h.circuit_state = pipeline::circuit_state_name(s.worst_circuit());
    h.frames_processed = s.frames_processed - (prev ? prev->frames_processed : 0);
    h.frames_dropped = s.frames_dropped - (prev ? prev->frames_dropped : 0);
    h.error_rate = error_rate_since(s, prev);
    h.memory_allocation_p99_ms = s.pool_total.acquire_p99_us / 1000.0;
    return h;
}

std::optional<double> streaming_bandwidth_ratio(const streaming::StreamEgress& now, const streaming::StreamEgress* prev,
                                                int baseline_kbps) {
    if (!prev || baseline_kbps <= 0) return std::nullopt;
    const double viewer_seconds = now.viewer_seconds - prev->viewer_seconds;
    if (viewer_seconds <= 0) return 0.0;  // nobody watched: nothing was sent
    const double bytes = static_cast<double>(now.bytes - prev->bytes);
    return bytes / viewer_seconds / (baseline_kbps * 125.0);
}

}  // namespace itscam::service
