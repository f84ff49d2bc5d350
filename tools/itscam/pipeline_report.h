// Human-readable lines about a running pipeline (shared by `run` and `bench pipeline`).
#pragma once

#include <string>

#include "pipeline/pipeline.h"

namespace itscam::cli {

// "fps 29.8 | e2e p50 45.1 ms p99 80.2 ms | dropped 12 | pool 99.9% | cpu: closed"
std::string pipeline_status_line(const pipeline::PipelineSnapshot& s);
// A multi-line summary: totals, per-stage latency table, per-camera table, pools, devices.
std::string pipeline_summary(const pipeline::PipelineSnapshot& s);

}  // namespace itscam::cli
