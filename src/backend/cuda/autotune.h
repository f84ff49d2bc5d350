// Autotuning of the CUDA backend's convolutions (autotune.cpp) and the tuning text a plan stores.
#pragma once

#include <optional>
#include <string>

#include "backend/cuda/lowering_context.h"

namespace itscam::cuda {

// Per convolution: the plan's algorithm (options.tuning), else the fastest measured one (cudnnFind...Ex on the real
// buffers, when options.autotune), else cuDNN's heuristic choice; then the fused alternative where it is faster (or
// the plan says so); then one workspace sized for the largest choice, reserved and allocated. Runs after allocate()
// and enqueues timing runs of the convolution steps on the stream (synchronous: it waits for them). A plan whose
// tuning does not fit this graph or GPU is an error that says to rebuild the plan.
Status autotune_convolutions(CudaLowering& cx);

// The choices made: first whether the latency kernels are on ("latency_kernels on|off", with the replay times
// when the compile measured both ways), then one line per convolution in step order ("<node> algo=<n>" or
// "<node> fused=<engine>"): what CompiledGraph::tuning() returns and options.tuning reads back.
std::string tuning_text(const CudaLowering& cx);

// A tuning text's latency-kernel choice, with the build's measurement where it made one (0 otherwise); none for a
// text without one (plans written before it was recorded).
struct LatencyTuning {
    bool on = false;
    double on_ms = 0, off_ms = 0;
};
std::optional<LatencyTuning> tuned_latency_kernels(const std::string& tuning);

}  // namespace itscam::cuda
