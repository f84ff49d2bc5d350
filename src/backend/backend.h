// Backend interface. A backend compiles an optimized, shape-bound graph into an executable for one batch size.
//
// Ownership: the CompiledGraph owns every buffer it needs (allocated once at compile time), except the activations
// it places in a shared ActivationArena (BackendOptions::arena); run() allocates nothing per call on optimized
// backends. Thread-safety: one CompiledGraph runs one batch at a time; make one per worker for concurrency (graphs
// sharing an arena run one at a time too). A node a backend cannot run is an error at compile time, never a silent
// fallback.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "device/device.h"
#include "graph/graph.h"

namespace itscam {

class ActivationArena;  // backend/activation_arena.h

// kFp8: FP8 E4M3 convolutions (per-tensor activation scales from calibration, per-channel weight scales). The ref
// backend emulates it (docs/architecture.md); no other backend runs it yet.
enum class Precision { kF32, kBF16, kF16, kInt8, kFp8 };
const char* precision_name(Precision p);
// int8 and fp8 take their activation scales from a calibration pass over sample images (EngineOptions::calibration).
inline bool needs_calibration(Precision p) {
    return p == Precision::kInt8 || p == Precision::kFp8;
}
Result<Precision> parse_precision(const std::string& s);

// Observed value range of an activation (for int8 calibration).
struct ValueRange {
    float min = 0.f;
    float max = 0.f;
};
using ActivationRanges = std::map<std::string, ValueRange>;
// Calibration: widens ranges[name] to cover the float32 tensor `t` (adds the entry on its first run).
void merge_range(ActivationRanges& ranges, const std::string& name, const Tensor& t);

struct BackendOptions {
    int threads = 0;  // 0: all cores
    Precision precision = Precision::kF32;
    // int8 and fp8: calibrated ranges of the activations that feed convolutions; a conv whose input has no range
    // runs in the backend's next precision (cpu int8: bf16; ref fp8: fp32) instead.
    ActivationRanges ranges;
    // Record the range of every activation that feeds a convolution on each run (calibration pass).
    bool collect_ranges = false;
    // Time alternative implementations per layer at compile time and keep the fastest (adds ~0.2 s to a build).
    bool autotune = true;
    // With autotune and no recorded tuning: also build whole alternative graphs and keep the fastest (the CUDA
    // backend's latency kernels on or off). It doubles the compile, so plan builds (`itscam optimize`) ask for it
    // and engines built at start do not.
    bool tune_alternatives = false;
    // GPU backends: the device ordinal ("cuda:1" -> 1).
    int device_id = 0;
    // Per-layer implementation choices recorded by an earlier compile (CompiledGraph::tuning(), stored in a plan).
    // Non-empty: the backend reuses them instead of autotuning; a choice that no longer applies is an error.
    std::string tuning;
    // Host backends ("cpu"): the arena this graph's activations live in, shared with other graphs that never run at
    // the same time as it (one worker's batch sizes). Null: the graph makes its own. Other backends ignore it.
    std::shared_ptr<ActivationArena> arena;
};

// Device-resident input and output of a GPU compiled graph, for pre/post-processing that stays on the device.
struct DeviceBinding {
    void* input = nullptr;         // graph input 0: float32, dense NCHW, on the device
    // Graph input 0 as the first convolutions read it, where the backend converts it: fp16 NHWC with input_nhwc_ld
    // channels per pixel (3 used, the others zero). A caller that writes it there runs run_device_nhwc(), which
    // skips the conversion. Null when the graph has no such step to skip (fp32, a stem kernel reading the NCHW
    // input, more than one reader of the input).
    void* input_nhwc = nullptr;
    int input_nhwc_ld = 0;
    const void* output = nullptr;  // graph output 0: float32, dense, on the device (valid after run_device)
    // The stream the graph runs on (owned by the compiled graph); work enqueued on it is ordered with run_device.
    const device::StreamLease* stream = nullptr;
    int device_id = 0;
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
    // The per-layer choices this compile made (autotuned algorithms), to store in a plan; empty where nothing was
    // chosen (the reference backend, a CPU graph without 1x1 convolutions or built without autotuning).
    virtual std::string tuning() const { return {}; }
    // GPU backends: the device buffers of input 0 / output 0, or null on host backends.
    virtual const DeviceBinding* device_binding() const { return nullptr; }
    // GPU backends: runs on device_binding().input, leaves output 0 on the device. Enqueued on the binding's stream;
    // the caller synchronizes (or enqueues more work on that stream).
    virtual Status run_device() { return unsupported("this backend has no device-resident execution"); }
    // As run_device(), from device_binding().input_nhwc (written by the caller) instead of .input.
    virtual Status run_device_nhwc() { return unsupported("this backend has no NHWC device input"); }
    // Only the conversion of .input into .input_nhwc (for a caller that checks its own NHWC writer against it).
    virtual Status run_device_input_conversion() { return unsupported("this backend has no NHWC device input"); }
    // GPU backends: GPU time of each of `iters` back-to-back replays on the device-resident input (events around
    // each replay), in ms. Measures the graph alone: no host copies, no launch gaps between replays.
    virtual Result<std::vector<double>> device_times(int iters) {
        return unsupported("this backend has no device timing");
    }
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    // OK when the backend can run the node, else a message saying why not.
    virtual Status supports(const Graph& g, const Node& n) const = 0;
    virtual Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& opt) const = 0;
    // OK when compile() can run graphs at precision `p` on this machine, else why not (kUnsupported). Asked before
    // work that only that precision needs (int8 calibration), so that a refusal comes first. Default: OK, and
    // compile() decides.
    virtual Status supports_precision(Precision p) const { return Status::ok(); }
    // What a compiled result depends on beyond the graph: for GPU backends the GPU name, compute capability and
    // library versions, e.g. "cuda|NVIDIA H200|sm_90|cudnn 91400|cudart 13000". A plan built for one key is refused
    // on another.
    virtual std::string target_key() const { return name(); }
};

// Registry of the backends built into this binary: "ref", "cpu" (oneDNN), "cuda" (cuDNN/cuBLAS).
std::vector<std::string> backend_names();
// `name` is a backend name, with an optional device ordinal for GPU backends ("cuda", "cuda:1").
Result<std::unique_ptr<Backend>> backend_create(const std::string& name);
// "cuda:2" -> {"cuda", 2}; "cpu" -> {"cpu", 0}; a bad ordinal is an error.
Result<std::pair<std::string, int>> parse_device(const std::string& device);

}  // namespace itscam
