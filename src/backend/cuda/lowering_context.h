// The CUDA backend's lowering context: what a graph is lowered into, and the helpers every op family lowers with.
//
// A compiled graph is a list of steps (one or a few kernel launches each, on one stream) over buffers. A buffer is a
// region of the arena (offset planned from the steps that touch it) or a persistent allocation (weights, the graph
// input and outputs). A value's elements live in a View of a buffer, in one or both layouts: NHWC (a "rows x C" view
// with a row pitch, so Concat members and Split parts are views into one buffer) and plain (dense row-major in the
// graph's dimension order). The op families (ops/*.cpp) read their inputs through ensure_nhwc()/ensure_plain(), get
// their output view from resolve_nhwc() or a new buffer, and append steps with add_step()/add_copy2d().
//
// Ownership: a CudaLowering owns everything a compiled graph runs on: its copy of the graph, buffers and their device
// memory, steps, convolution layers, cuDNN/cuBLAS handles and the stream lease. Steps capture a reference to it, so it
// is neither copied nor moved (the backend holds it in a unique_ptr, the executor keeps it for the graph's lifetime).
// Thread-safety: built by one thread at compile time; afterwards only the executor uses it, one run at a time.
// Everything here is synchronous host-side planning except where a comment says a step or call enqueues work.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "device/cuda/csl_dnn.h"
#include "backend/cuda/cudnn_fused.h"
#include "backend/cuda/kernels/kernels_impl.h"
#include "device/cuda/cuda_device.h"
#include "backend/lowering_registry.h"
#include "graph/graph.h"

namespace itscam::cuda {

namespace ck = cuda_kernels;

constexpr size_t kAlign = 256;
constexpr size_t kMaxConvWorkspace = size_t(256) << 20;  // cap for any one convolution's workspace
constexpr size_t kCublasWorkspace = size_t(32) << 20;

inline size_t align_up(size_t v) {
    return (v + kAlign - 1) / kAlign * kAlign;
}

// A region of device memory: an arena buffer (offset planned from its lifetime) or a persistent allocation.
struct Buffer {
    size_t bytes = 0;
    int first = -1, last = -1;  // step indices that touch it
    bool persistent = false;    // weights, graph input/outputs: own allocation, not planned
    size_t offset = 0;          // in the arena
    void* ptr = nullptr;        // persistent buffers only
    std::string what;
};

// Where a value's elements live: a buffer, a byte offset into it, and (NHWC) the row pitch in elements.
struct View {
    int buf = -1;
    size_t off = 0;
    int64_t ld = 0;
    bool valid() const { return buf >= 0; }
};

struct Val {
    Shape shape;
    bool nhwc_native = false;  // its producer writes NHWC
    View nhwc, plain;
    // NHWC placement into a Concat's buffer: the Concat output value and the channel offset there.
    std::string placed_in;
    int64_t place_off = 0;
    // Set for Split outputs in NHWC: a view into the Split input at this channel offset.
    std::string view_of;
    int64_t view_off = 0;
};

struct Step {
    std::string name;  // node name (+ suffix for helper steps)
    std::string desc;
    std::vector<int> bufs;  // buffers read or written
    std::function<Status(cudaStream_t)> fn;
    bool enabled = true;  // the generic detect head is switched off once the fused one is verified
    // The buffers of `bufs` it writes (graph_branches.h orders steps by them); all of bufs where the lowering did
    // not say.
    std::vector<int> writes;
    bool cublas = false;  // runs cuBLAS, whose workspace is shared by every such step
};

// One cuDNN convolution (ops/conv.cpp), with what autotune.cpp chooses for it.
struct ConvLayer {
    std::string node;
    csl::TensorDesc xd, yd;
    csl::FilterDesc wd;
    csl::ConvDesc cd;
    View x, y;  // y: where cuDNN writes (packed)
    int w_buf = -1;
    cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    size_t ws = 0;
    // The fused alternative (cuDNN graph API: conv + bias + activation + residual in one kernel, writing the final
    // view): built when eligible, used when it measures faster (or a plan says so).
    FusedConvSpec spec;
    bool fusable = false;
    View y_final, bias_act, res;
    std::unique_ptr<FusedConv> fused;
    int fused_plan = -1;
    bool must_fuse = false;  // only the fused path takes this strided input
    // Our implicit-GEMM kernels (ck::igemm_conv_nhwc): igemm_ok has bit v set where variant v takes the layer, and
    // igemm_timed those of them the autotune times (ITSCAM_CUDA_IGEMM_VARIANTS); the fastest runs it (igemm_variant)
    // where the autotune measures it faster than the cuDNN choice, or where a plan names it (any of igemm_ok). Reads
    // x, writes y_final with the float bias, activation and res fused.
    unsigned igemm_ok = 0;
    unsigned igemm_timed = 0;
    bool use_igemm = false;
    int igemm_variant = 0;
    int step = -1;
    std::string choice;  // for describe()
};

ck::DT to_dt(DType d);
Shape dense_strides(const Shape& s);
ck::Dims to_dims(const Shape& s);
std::string shape_text(const Shape& s);

struct CudaLowering;
using CudaRule = LoweringRule<CudaLowering>;

struct CudaLowering {
    // Copies the graph (lowering adds derived constants to the copy). Creates no CUDA object; the handles and the
    // stream are set up by the backend's compile (cuda_backend.cpp).
    CudaLowering(const Graph& g, const BackendOptions& opt, int dev) : graph(g), options(opt), device(dev) {}
    // Waits for the stream (wait_idle()) and returns the memory reservation.
    ~CudaLowering();
    CudaLowering(const CudaLowering&) = delete;
    CudaLowering& operator=(const CudaLowering&) = delete;

    // Planning.
    // The rule that lowers `n` (the first registered rule for its op that matches), or null when the backend
    // cannot run it. Needs only the graph.
    const CudaRule* classify(const Node& n) const;
    // Classifies every node and records each value's shape and whether its producer writes NHWC.
    Status plan_layouts();
    // The layout the rule chosen by plan_layouts() produces `n`'s outputs in.
    Layout layout_of(const Node& n) const { return rules.at(n.name)->layout; }
    // Predicates for the rules' matches(), on the graph's value infos.
    bool is_rank4_f32(const std::string& v) const;  // known rank-4 float32 shape
    bool is_dynamic(const std::string& v) const;    // computed at run time (not absent, not a constant)
    bool is_f32(const std::string& v) const;
    bool all_inputs_dynamic(const Node& n) const;

    // Lowering helpers.
    // A new buffer of `size` bytes (rounded up to kAlign): in the arena, or its own allocation when persistent.
    int new_buffer(size_t size, const std::string& what, bool is_persistent = false);
    // Appends a step; the buffers it reads or writes (negative entries ignored) have their lifetimes extended to it.
    // `writes`: those of them it writes; empty means all of them (safe, but it orders the step after every other
    // step that reads them too, so lowerings say).
    void add_step(std::string name, std::string desc, std::vector<int> step_bufs,
                  std::function<Status(cudaStream_t)> fn, std::vector<int> writes = {});
    // A step copying `rows` rows of `width` bytes between pitched regions (Concat members, Split parts, packing).
    void add_copy2d(std::string name, std::string desc, View src, size_t spitch, View dst, size_t dpitch, size_t width,
                    size_t rows);
    // The NHWC view of `v` (planned placement, split view or own packed buffer), created on first use.
    View resolve_nhwc(const std::string& v);
    // Makes sure `v` has an NHWC materialization (converting from plain when its producer is plain). pad_to > C
    // gives the converted copy that many channels, the extra ones zero (cuDNN's fp16 kernels want C % 8 == 0).
    Status ensure_nhwc(const std::string& v, int64_t pad_to = 0);
    // Makes sure `v` has a plain materialization (converting from NHWC when its producer is NHWC).
    Status ensure_plain(const std::string& v);
    // A constant as a persistent device buffer in `dtype` (uploaded at allocate()).
    Result<View> upload_constant(const std::string& v, DType dtype);
    // The device address of a view; valid once allocate() has run.
    void* ptr(const View& v) const {
        const Buffer& b = bufs[v.buf];
        return static_cast<char*>(b.persistent ? b.ptr : static_cast<char*>(arena.get()) + b.offset) + v.off;
    }

    // The graph's inputs (fp32 NCHW persistent buffers, with a cast step for fp16 plain consumers) and outputs
    // (fp32 dense persistent buffers, with the conversion steps that fill them).
    Status lower_inputs();
    Status lower_outputs();

    // Plans the arena (first fit over lifetimes, largest first), reserves the memory against the device budget,
    // allocates it and every persistent buffer, the cuBLAS workspace and the pinned host staging, and uploads the
    // weights (synchronously).
    Status allocate();

    // Makes the device current and waits for the work queued on the stream (no-op before the stream exists).
    void wait_idle() const;

    Graph graph;
    BackendOptions options;
    int device;
    DType act = DType::kF32;                       // the activations' dtype (the precision)
    size_t es = 4;                                 // its size in bytes
    std::map<std::string, const CudaRule*> rules;  // node name -> the rule that lowers it
    std::map<std::string, Val> vals;
    std::vector<Buffer> bufs;
    std::vector<Step> steps;
    std::vector<std::unique_ptr<ConvLayer>> convs;
    std::map<std::string, View> const_views;
    std::vector<std::pair<int, std::vector<char>>> uploads;  // persistent buffer <- host bytes (at allocate())
    std::map<std::string, View> input_f32;
    // The step that converts graph input 0 (fp32 NCHW) to the fp16 NHWC view the convolutions read, and that view
    // (DeviceBinding::input_nhwc); -1 when there is none. The executor checks that it can be skipped.
    int input_nhwc_step = -1;
    View input_nhwc;
    int fused_convs = 0;
    int fused_rejected = 0;  // fused engines dropped by the output check (fused_check.h)
    int igemm_convs = 0;     // convolutions on our implicit-GEMM kernel
    // Where the compile's time went (seconds); ITSCAM_PROFILE prints it when the graph is captured (executor.cpp).
    struct CompileTimes {
        double lower = 0, allocate = 0, autotune = 0, verify = 0;
        double fused_create = 0, fused_check = 0;  // within autotune: finalizing fused engines, checking their output
        int fused_engines = 0;                     // execution plans cuDNN finalized for fused convolutions
    } compile_times;
    // The latency kernels: our depthwise and stem convolutions, the fused detect head, Split inputs placed in Concat
    // buffers and strided inputs through fused cuDNN graphs. On by default at every batch size since the stem kernel
    // was rewritten (H100, 2026-12-06: 0.47 against 0.71 ms per replay at batch 1, 4.18 against 6.75 ms at batch 64;
    // docs/cuda.md). A compile that autotunes builds the graph both ways and keeps the faster (cuda_backend.cpp), and
    // a plan's tuning text records which. ITSCAM_CUDA_LATENCY_KERNELS=on|off overrides both.
    bool latency_kernels = false;
    // Where the compile measured both ways: the median GPU time per replay with them on and off (tuning_text()).
    double latency_on_ms = 0, latency_off_ms = 0;
    // The fused detect head (ops/head.cpp): planned after the generic one (both in the step list), verified against
    // it on a random input at compile time, then the generic steps are switched off (or the fused one, if they
    // disagree).
    int head_step = -1;
    std::vector<int> head_generic_steps;
    std::string head_state = "off";
    // Node groups lowered as one step in place of their nodes' own steps (the PSA attention block,
    // ops/attention_fused.h; chains of equal MaxPools, ops/pool_resize.cpp), planned before the nodes are lowered.
    struct FusedGroup {
        std::string kind;                // "attention", "maxpool chain": counted in describe()
        std::vector<std::string> nodes;  // in graph order
        // Appends the fused step and returns true, or lowers the nodes one by one (a view it cannot take) and
        // returns false.
        std::function<Result<bool>(CudaLowering&)> lower;
        bool fused = false;  // what `lower` returned
    };
    std::vector<FusedGroup> fused_groups;
    std::map<std::string, int> fused_node;  // node name -> its group
    void add_fused_group(FusedGroup g);
    // A fusion's switch: environment variable `name` unset or 1 is on, 0 is off, anything else an error naming
    // `what` the fusion does.
    static Result<bool> fusion_switch(const char* name, const std::string& what);
    int fused_groups_of(const std::string& kind) const;
    // When `n` belongs to a fused group (`done` says so): its first node runs the group's lowering, the others
    // append nothing.
    Status lower_fused(const Node& n, bool& done);
    int strided_conv_inputs = 0, packed_conv_inputs = 0, placed_members = 0, copied_members = 0;

    csl::DeviceMem arena;
    std::vector<csl::DeviceMem> persistent;
    csl::DeviceMem conv_ws, cublas_ws;
    void* ws_ptr = nullptr;  // the convolution workspace in use (the tuning scratch while autotuning)
    size_t conv_ws_bytes = 0;
    csl::HostMem in_host, out_host;
    std::vector<size_t> in_bytes, out_bytes;
    std::vector<int> in_bufs, out_bufs;
    csl::Cudnn cudnn;
    csl::Cublas cublas;
    csl::StreamLease stream;
    DeviceBinding binding;
    size_t bytes = 0;
    size_t reserved = 0;  // in the device's memory budget
};

// The batch size of graph input 0 (1 when the graph has no input or its shape is unknown).
int64_t graph_batch(const Graph& g);

}  // namespace itscam::cuda
