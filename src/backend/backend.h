// Backend interface. A backend compiles an optimized, shape-bound graph into an executable for one batch size.
//
// Ownership: the CompiledGraph owns every buffer it needs (allocated once at compile time); run() allocates
// nothing per call on optimized backends. Thread-safety: one CompiledGraph runs one batch at a time; make one per
// worker for concurrency. A node a backend cannot run is an error at compile time, never a silent fallback.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace itscam {

enum class Precision { kF32, kBF16, kF16, kInt8 };
const char* precision_name(Precision p);
Result<Precision> parse_precision(const std::string& s);

// Observed value range of an activation (for int8 calibration).
struct ValueRange {
    float min = 0.f;
    float max = 0.f;
};
using ActivationRanges = std::map<std::string, ValueRange>;

struct BackendOptions {
    int threads = 0;  // 0: all cores
    Precision precision = Precision::kF32;
    // int8: calibrated ranges of the activations that feed convolutions; a conv whose input has no range runs in
    // the backend's next precision (bf16) instead.
    ActivationRanges ranges;
    // Record the range of every activation that feeds a convolution on each run (calibration pass).
    bool collect_ranges = false;
    // Time alternative implementations per layer at compile time and keep the fastest (adds ~0.2 s to a build).
    bool autotune = true;
};

class CompiledGraph {
public:
    virtual ~CompiledGraph() = default;
    // Inputs and outputs are dense NCHW tensors in graph order. `outputs` are views into buffers owned by the
    // CompiledGraph where the backend can (valid until the next run); copy them to keep them.
    virtual Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) = 0;
    // Bytes of activation/weight memory the backend holds.
    virtual size_t memory_bytes() const { return 0; }
    // One line per step for `inspect`/debugging (op, implementation chosen).
    virtual std::string describe() const { return {}; }
    // Ranges recorded so far when compiled with collect_ranges (merged over runs).
    virtual ActivationRanges collected_ranges() const { return {}; }
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    // OK when the backend can run the node, else a message saying why not.
    virtual Status supports(const Graph& g, const Node& n) const = 0;
    virtual Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& opt) const = 0;
};

// Registry of the backends built into this binary: "ref", "cpu" (oneDNN), later "cuda".
std::vector<std::string> backend_names();
Result<std::unique_ptr<Backend>> backend_create(const std::string& name);

}  // namespace itscam
