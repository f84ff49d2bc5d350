// Runs a CPU compiled graph's steps (cpu/lowering_context.h) in order on its oneDNN stream.
//
// ITSCAM_PROFILE=1 (set when the executor is made): every step is timed (the stream waited on after each), and the
// per-step times, by implementation and slowest first, are printed to stderr when the executor is destroyed.
// Thread-safety: one run at a time (like the compiled graph that owns it). The steps and the stream are borrowed and
// must outlive the executor.
#pragma once

#include <string>
#include <vector>

#include "backend/cpu/lowering_context.h"

namespace itscam::cpu {

class Executor {
  public:
    Executor(const std::vector<Step>& steps, dnnl::stream& stream);
    ~Executor();
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    // Runs every step in order and waits for the stream; stops at the first failing step. Synchronous.
    Status run();

  private:
    void print_profile() const;

    const std::vector<Step>& steps_;
    dnnl::stream& stream_;
    bool profile_ = false;
    std::vector<double> step_ms_;
    int profiled_runs_ = 0;
};

}  // namespace itscam::cpu
