// The JSON bodies of the HTTP API that come from the pipeline's state: /health/performance and the cameras'
// config and live statistics (http_service.h lists the endpoints).
#pragma once

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "pipeline/pipeline.h"
#include "service/gpu_monitor.h"

namespace itscam::service {

// /health/performance from a snapshot and the pipeline's GPUs. SEED fields:
//   status                  "healthy" iff the pipeline is ready and every device circuit is closed, else "degraded"
//                           (a "reasons" array says why)
//   inference_latency_p99   ms, p99 of the `inference` stage over the recent window (0 before the first batch);
//                           capture-to-detections is e2e_latency_p99 and stages.e2e
//   gpu_utilization         0..1, mean over the configured GPUs (NVML; device cuda: device_ids, cuda:N: N); null
//                           when there is none to measure: "gpu_utilization_note" says why (device cpu, NVML
//                           absent, ids not found); "gpu_utilization_gpus" lists the NVML indices averaged;
//                           "gpu_utilization_unit":"ratio"
//   memory_pool_efficiency  0..1, hit rate over all buffer pools
//   circuit_breaker_state   "closed" | "half_open" | "open": the worst over devices
// plus cameras, devices and stages.
nlohmann::json performance_json(const pipeline::PipelineSnapshot& s, const GpuSelection& gpus);

nlohmann::json latency_json(const pipeline::LatencySummary& l);
nlohmann::json camera_config_json(const config::CameraConfig& c);     // a camera's configuration (URL masked)
// The whole configuration, URL as is, in the form POST /api/v1/cameras takes: the camera's spec in the cluster's
// store (docs/cluster.md).
nlohmann::json camera_spec_json(const config::CameraConfig& c);
nlohmann::json camera_stats_json(const pipeline::CameraSnapshot& c);  // its live statistics

}  // namespace itscam::service
