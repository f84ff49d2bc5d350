// The CUDA backend's executor: the CompiledGraph over a lowered, allocated and tuned CudaLowering.
//
// Execution. After one eager warm-up run, the whole step list is captured into a CUDA Graph and replayed per run.
// With ITSCAM_CUDA_GRAPH_BRANCHES=auto, a second graph whose edges are the steps' data dependencies
// (graph_branches.h) replaces it where it computes the same outputs and replays faster (=1: without the timing).
// ITSCAM_CUDA_GRAPHS=0 runs the steps eagerly instead; ITSCAM_PROFILE=1 runs eagerly with CUDA events around every
// step and prints per-layer GPU time (slowest first) when the compiled graph is destroyed. ITSCAM_CUDA_STEP_HASH=1
// (a determinism diagnostic) runs eagerly, synchronizes after every step and prints to stderr one line per step with
// an FNV-1a hash of each buffer the step touches: two runs of one input must print the same lines.
//
// Ownership: owns the lowering (its buffers, steps, handles and stream lease) and the CUDA Graph. Thread-safety: one
// run at a time (CompiledGraph's contract). run() and device_times() are synchronous; run_device() only enqueues on
// the binding's stream.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "device/cuda/csl_dnn.h"
#include "backend/cuda/lowering_context.h"

namespace itscam::cuda {

class CudaExecutor final : public CompiledGraph {
public:
    // Reads ITSCAM_PROFILE and ITSCAM_CUDA_GRAPHS; capture() finishes the compile.
    explicit CudaExecutor(std::unique_ptr<CudaLowering> cx);
    // Waits for the stream, then prints the profile (ITSCAM_PROFILE) to stderr.
    ~CudaExecutor() override;
    CudaExecutor(const CudaExecutor&) = delete;
    CudaExecutor& operator=(const CudaExecutor&) = delete;

    // One eager run on a zero input (checks every step and warms cuDNN/cuBLAS up), then the capture of the whole
    // step list into a CUDA Graph (unless graphs are off). Synchronous. ITSCAM_PROFILE: prints where the compile's
    // time went to stderr.
    Status capture();

    Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) override;
    Status run_device() override;
    Status run_device_nhwc() override;
    Status run_device_input_conversion() override;
    Result<std::vector<double>> device_times(int iters) override;
    const DeviceBinding* device_binding() const override { return &cx_->binding; }
    size_t memory_bytes() const override { return cx_->bytes; }
    std::string describe() const override;
    std::string tuning() const override;
    // The compile built the graph with and without the latency kernels and kept this one: the median replay times
    // of both, recorded in tuning().
    void set_latency_measurement(double on_ms, double off_ms);

private:
    Status capture_all();  // capture()'s work (capture() adds its timing)
    // Replays the graph, or runs the enabled steps eagerly (with events around each when profiling), on `s`.
    // skip >= 0: without that step (the input conversion: run_device_nhwc), from its own graph.
    Status launch(cudaStream_t s, int skip = -1);
    // Captures the enabled steps but `skip` (-1: none) into an instantiated, uploaded graph. Synchronous.
    Result<csl::GraphExec> capture_graph(cudaStream_t s, int skip);
    static Result<csl::GraphExec> instantiate(csl::Graph g, cudaStream_t s);
    // ITSCAM_CUDA_GRAPH_BRANCHES: replaces exec_ (and exec_nhwc_) by the graph with parallel branches
    // (graph_branches.h) where it computes the same outputs and replays faster. Synchronous; leaves the graph inputs
    // holding a pattern.
    Status choose_branches(cudaStream_t s);
    Status try_branches(cudaStream_t s, const std::string& mode);  // choose_branches()'s work; errors are not fatal
    Status fill_inputs_with_pattern(cudaStream_t s);
    // One replay of `exec`, then the graph outputs' bytes. Synchronous.
    Result<std::vector<std::vector<char>>> replay_outputs(cudaGraphExec_t exec, cudaStream_t s);
    // The mean GPU time of `iters` back-to-back replays after one warm-up. Synchronous.
    static Result<double> replay_ms(cudaGraphExec_t exec, cudaStream_t s, int iters);
    void print_profile() const;
    // The steps that run (Step::enabled): describe() and the profile count these, and say how many are off.
    int enabled_steps() const;
    // ITSCAM_CUDA_STEP_HASH: hashes the buffers of step `i` after it ran (synchronous) and prints them.
    Status print_step_hash(size_t i, cudaStream_t s);

    std::unique_ptr<CudaLowering> cx_;  // first: destroyed last, after the graph
    bool profile_ = false;
    bool use_graph_ = true;
    bool step_hash_ = false;
    int hashed_runs_ = 0;
    csl::GraphExec exec_;
    csl::GraphExec exec_nhwc_;  // without the input conversion step (DeviceBinding::input_nhwc)
    std::string branches_ = "off";  // the parallel-branch choice, for describe()
    std::vector<double> step_ms_;
    std::vector<csl::Event> prof_events_;
    int profiled_runs_ = 0;
};

}  // namespace itscam::cuda
