// The pipeline's state as the alert engine's and the history's inputs (one place that decides which latency,
// which pool figure and which circuit state stand for the SEED metric names).
#pragma once

#include <optional>

#include "pipeline/pipeline.h"
#include "service/alerts.h"
#include "service/history.h"

namespace itscam::service {

// inference_latency_p95/p99 from the `inference` stage (recent window), pool efficiency = hit rate over all pools,
// circuit_open = any device open, work_queued = frames waiting in camera queues, error rate = failed / (processed +
// failed) since `prev` (the previous evaluation's snapshot; null: since start), allocation time = pool acquire
// p99. gpu_utilization: 0..1 when known (NVML), else absent.
MetricsSample metrics_sample_from(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev,
                                  std::optional<double> gpu_utilization);

// A history row; frames and errors are counted since `prev` (the snapshot of the previous sample; null: since start).
HistorySample history_sample_from(const pipeline::PipelineSnapshot& s, const pipeline::PipelineSnapshot* prev,
                                  std::optional<double> gpu_utilization);

}  // namespace itscam::service
