// What the alert engine and the history get: one MetricsSample / HistorySample per evaluation, from the pipeline's
// snapshot plus the inputs from outside it (the configured GPUs, the stream hub's egress). One place decides which
// latency, which pool figure and which circuit state stand for the SEED metric names.
#pragma once

#include <optional>

#include "pipeline/pipeline.h"
#include "service/alerts.h"
#include "service/history.h"
#include "streaming/stream_hub.h"

namespace itscam::service {

// The inputs that are not in the pipeline snapshot. Absent: the rules on them are not evaluated (their state is kept)
// and the history column is NULL.
struct ExternalInputs {
    std::optional<double> gpu_utilization;            // 0..1, mean over the configured GPUs (GpuSelection)
    std::optional<double> gpu_memory_pressure;        // 0..1, used / total of the fullest configured GPU
    std::optional<double> streaming_bandwidth_ratio;  // streaming_bandwidth_ratio() below
};

// inference_latency_p95/p99 from the `inference` stage (recent window), pool efficiency = hit rate over all pools,
// circuit_open = any device open, work_queued = frames waiting in camera queues, error rate = failed / (processed +
// failed) since `prev` (the previous evaluation's snapshot; null: since start), allocation time = pool acquire
// p99; the GPU and streaming fields from `in`.
MetricsSample metrics_sample_from(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev,
                                  const ExternalInputs& in);

// A history row; frames and errors are counted since `prev` (the snapshot of the previous sample; null: since start).
// GPU utilization and memory pressure from `in`.
HistorySample history_sample_from(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev,
                                  const ExternalInputs& in);

// The streaming_bandwidth_high rule's input: what each video viewer received per second between `prev` and `now`
// (bytes sent / viewer-seconds), over the baseline `baseline_kbps` (streaming.bitrate_kbps, the fixed-bitrate
// stream a viewer would get without the adaptive controller). 0 when nobody watched video in the interval (nothing
// was sent); nullopt without a previous reading or a baseline.
std::optional<double> streaming_bandwidth_ratio(const streaming::StreamEgress& now, const streaming::StreamEgress* prev,
                                                int baseline_kbps);

}  // namespace itscam::service
