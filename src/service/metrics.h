// The pipeline's and the GPUs' Prometheus families (MetricFamily objects filled on every scrape: the pipeline keeps
// the counters; nothing is registered twice), for the one /metrics writer (metrics_registry.h). Every family carries
// HELP and TYPE; the output passes `promtool check metrics`. The stream series are metrics_streams.h's, the alert
// series metrics_alerts.h's.
//
// Families (all prefixed itscam_; durations in seconds, ratios 0..1, sizes in bytes):
//   itscam_uptime_seconds, itscam_pipeline_uptime_seconds, itscam_ready                        gauges
//   itscam_stage_latency_seconds{stage}             histogram (decode|queue|batch_wait|preprocess|inference|nms|e2e)
//   itscam_stage_latency_p50_seconds, _p95_seconds, _p99_seconds{stage}   gauges: over the recent window
//   itscam_frames_processed_total (requests), itscam_batches_total (executions), itscam_frames_dropped_total,
//   itscam_frames_skipped_total, itscam_frames_failed_total                                    counters
//   itscam_fps, itscam_decode_slots                                                            gauges
//   itscam_decode_slot_waits_total, itscam_decode_slot_wait_seconds_total                      counters
//   itscam_batch_executions_total{batch_size}                                                  counter
//   itscam_camera_up{camera} (1 while streaming), itscam_camera_fps, itscam_camera_queue_depth,
//   itscam_camera_degraded, itscam_camera_gpu_decode (1 while decoded by NVDEC),
//   itscam_camera_skipping_nonref (1 while its decoder skips non-reference frames)            gauges
//   itscam_camera_frames_{captured,processed,dropped,skipped}_total{camera},
//   itscam_camera_{reconnects,errors,stalls,format_changes,decoder_fallbacks}_total{camera},
//   itscam_camera_nonref_skip_starts_total{camera}                                             counters
//   itscam_camera_latency_seconds{camera}           summary: capture -> detections (quantiles 0.5/0.95/0.99 over
//                                                   the recent window; _sum/_count since start)
//   itscam_pool_hit_ratio{device,pool,kind}, itscam_pool_acquire_p50_seconds, itscam_pool_acquire_p99_seconds,
//   itscam_pool_bytes, itscam_pool_bytes_in_use, itscam_pool_buffers, itscam_pool_buffers_in_use      gauges
//   itscam_pool_acquires_total, itscam_pool_hits_total, itscam_pool_misses_total{device,pool,kind} counters
//   itscam_memory_pool_efficiency                   gauge: hit ratio over all pools (the SEED health field)
//   itscam_circuit_state{device}                    gauge: 0 closed, 1 half-open, 2 open
//   itscam_circuit_transitions_total, itscam_circuit_opens_total, itscam_circuit_rejected_total{device},
//   itscam_device_failures_total, itscam_device_fallback_batches_total, itscam_device_handoff_batches_total,
//   itscam_device_batches_total,
//   itscam_device_frames_total{device}                                                         counters
//   itscam_device_busy_ratio{device}                gauge: share of wall time the device's inference workers were
//                                                   busy over the last 5 s (per worker, not per stream)
//   itscam_device_workers{device}                                                              gauge
//   itscam_device_stream_busy_seconds_total{device,stream}, itscam_device_stream_work_total    counters, and
//   itscam_device_stream_queue_depth{device,stream} gauge: only with ENABLE_CUDA_STREAMS_MONITORING (device/device.h)
//   itscam_gpu_utilization_ratio{gpu,name}, itscam_gpu_memory_utilization_ratio, itscam_gpu_memory_used_bytes,
//   itscam_gpu_memory_total_bytes                   gauges, only when NVML is present (else absent)
//   itscam_gpu_decoder_utilization_ratio{gpu,name}  gauge: NVDEC load, only where NVML reports it
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"
#include "service/gpu_monitor.h"
#include "service/metrics_registry.h"

namespace itscam::service {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// The families for one scrape. `gpus`: NVML samples, every GPU NVML reports (empty: no GPU families).
// `process_uptime_s`: seconds since the process started.
std::vector<prometheus::MetricFamily> pipeline_metric_families(const pipeline::PipelineSnapshot& s,
                                                               const std::vector<GpuSample>& gpus,
                                                               double process_uptime_s);
// Those families as exposition text.
std::string render_metrics(const pipeline::PipelineSnapshot& s, const std::vector<GpuSample>& gpus,
                           double process_uptime_s);

// pipeline_metric_families of a running pipeline and a GPU monitor (null: no GPU families). The pipeline must
// outlive the collector's use; Collect() is thread-safe (snapshot() and sample() are).
class PipelineCollector : public prometheus::Collectable {
public:
    PipelineCollector(const pipeline::Pipeline& pipe, std::shared_ptr<GpuMonitor> gpu);
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    const pipeline::Pipeline& pipe_;
    std::shared_ptr<GpuMonitor> gpu_;
};

// Circuit state as the gauge value: 0 closed, 1 half-open, 2 open.
double circuit_state_value(pipeline::CircuitState s);

// Seconds since this process started (from the first call into this library; good enough for an uptime gauge).
double process_uptime_s();

}  // namespace itscam::service
