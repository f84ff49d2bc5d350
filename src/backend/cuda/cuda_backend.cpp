// The CUDA backend: cuDNN convolutions, cuBLAS matrix products and our own kernels (backend/cuda/kernels), run as
// one CUDA Graph per compiled batch size.
//
// Layout. Convolutions, pooling, nearest Resize and channel Concat/Split run on NHWC ("channels last") activations,
// which cuDNN's tensor-core convolutions read and write directly; the detection head and the attention block's
// Reshape/Transpose/Softmax/MatMul run on plain row-major tensors. A value crosses layouts through one conversion
// kernel, placed at its first consumer that needs the other layout.
//
// Zero-copy Concat/Split. An NHWC activation is a "rows x C view": row r (one pixel) starts at base + r * ld. A
// channel Split's outputs are views into its input (ld = input channels). A channel Concat's members are placed
// straight into the concatenated buffer when their producer can write a strided view (convolution epilogues,
// pooling, resize, nested concats), and a Split whose outputs all go, in order, into one Concat has its *input*
// placed there, so the C3k2/C2f "split, bottleneck, concat" blocks move no bytes. Other members are copied with one
// 2-D memcpy.
//
// Convolutions. cuDNN computes the convolution (fp32 accumulation; tensor-op math for fp16, strict FMA math for
// fp32 so fp32 results match the reference), then our epilogue kernel adds bias, applies the fused activation and
// the fused residual, and writes the destination view. The algorithm per layer is autotuned with
// cudnnFindConvolutionForwardAlgorithmEx at compile time (or taken from a plan's tuning), under a workspace cap.
//
// Memory. One arena per compiled graph: every activation buffer gets an offset by a first-fit plan over buffer
// lifetimes (step indices), so buffers whose lifetimes do not overlap share memory. Weights, the fp32 graph input
// and outputs, pinned host staging and the cuDNN/cuBLAS workspaces are allocated once at compile time; run()
// allocates nothing.
//
// Execution. After one eager warm-up run, the whole step list is captured into a CUDA Graph and replayed per run.
// ITSCAM_CUDA_GRAPHS=0 runs the steps eagerly instead; ITSCAM_PROFILE=1 runs eagerly with CUDA events around every
// step and prints per-layer GPU time (slowest first) when the compiled graph is destroyed.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "backend/backend.h"
#include "backend/cuda/cudnn_fused.h"
#include "backend/cuda/kernels/kernels_impl.h"
#include "device/cuda/csl_dnn.h"
#include "device/cuda/cuda_device.h"
#include "ops/conv_params.h"
#include "ops/op_registry.h"
#include "ops/resize_params.h"

namespace itscam {

namespace {

namespace ck = cuda_kernels;

constexpr size_t kAlign = 256;
constexpr size_t kMaxConvWorkspace = size_t(256) << 20;  // cap for any one convolution's workspace
constexpr size_t kCublasWorkspace = size_t(32) << 20;

size_t align_up(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

enum class Kind { kConv, kPool, kResize, kConcat, kSplit,  // NHWC kinds
                  kView, kTranspose, kSoftmax, kBinary, kActivation, kMatMul, kConcatPlain, kSplitPlain, kSlice,
                  kDfl, kUnsupported };

bool is_nhwc_kind(Kind k) { return k <= Kind::kSplit; }

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
};

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
    int step = -1;
    std::string choice;  // for describe()
};

ck::DT to_dt(DType d) { return d == DType::kF16 ? ck::DT::kF16 : ck::DT::kF32; }
cudnnDataType_t to_cudnn(DType d) { return d == DType::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

Result<ck::Act> activation_of(const Node& n, float& alpha) {
    const std::string act = n.attr_string("activation", "");
    alpha = n.attr_float("activation_alpha", 0.01f);
    if (act.empty() || act == "none") return ck::Act::kNone;
    if (act == "silu") return ck::Act::kSiLU;
    if (act == "relu") return ck::Act::kReLU;
    if (act == "sigmoid") return ck::Act::kSigmoid;
    if (act == "leaky_relu") return ck::Act::kLeakyReLU;
    return unsupported(n.label() + ": activation '" + act + "'");
}

Shape dense_strides(const Shape& s) {
    Shape st(s.size(), 1);
    for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
    return st;
}

ck::Dims to_dims(const Shape& s) {
    ck::Dims d;
    d.rank = static_cast<int>(s.size());
    for (size_t i = 0; i < s.size() && i < static_cast<size_t>(ck::kMaxRank); ++i) d.d[i] = s[i];
    return d;
}

std::string shape_text(const Shape& s) {
    std::ostringstream o;
    o << '[';
    for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
    o << ']';
    return o.str();
}

class CudaCompiled final : public CompiledGraph {
public:
    CudaCompiled(const Graph& g, const BackendOptions& opt, int device)
        : g_(g), opt_(opt), device_(device), profile_(std::getenv("ITSCAM_PROFILE") != nullptr) {
        const char* gr = std::getenv("ITSCAM_CUDA_GRAPHS");
        use_graph_ = !(gr && std::string(gr) == "0") && !profile_;
    }
    ~CudaCompiled() override;

    Status build();
    Kind classify(const Node& n) const;
    Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) override;
    Status run_device() override;
    Result<std::vector<double>> device_times(int iters) override;
    const DeviceBinding* device_binding() const override { return &binding_; }
    size_t memory_bytes() const override { return bytes_; }
    std::string describe() const override;
    std::string tuning() const override;

private:
    // Planning.
    Status plan_layouts();
    void plan_concat(const Node& n);
    int new_buffer(size_t bytes, const std::string& what, bool persistent = false);
    View resolve_nhwc(const std::string& v);
    Status ensure_nhwc(const std::string& v, int64_t pad_to = 0);
    Status ensure_plain(const std::string& v);
    void* ptr(const View& v) const {
        const Buffer& b = bufs_[v.buf];
        return static_cast<char*>(b.persistent ? b.ptr : static_cast<char*>(arena_.get()) + b.offset) + v.off;
    }
    void add_step(std::string name, std::string desc, std::vector<int> bufs, std::function<Status(cudaStream_t)> fn);
    // A step copying `rows` rows of `width` bytes between pitched regions (Concat members, Split parts, packing).
    void add_copy2d(std::string name, std::string desc, View src, size_t spitch, View dst, size_t dpitch, size_t width,
                    size_t rows);
    Result<View> upload_constant(const std::string& v, DType dtype);
    int64_t rows(const Shape& s) const { return s[0] * s[2] * s[3]; }

    // Node steps.
    Status add_conv(const Node& n);
    // A convolution's optional bias (input 2, uploaded as float) and fused residual (input 3, as an NHWC view);
    // invalid views when absent. `res` may be null for kernels that take no residual.
    Status conv_bias_residual(const Node& n, View& bias, View* res);
    Status add_depthwise(const Node& n, const ConvParams& p, ck::Act act, float alpha);
    Status add_stem(const Node& n, const ConvParams& p, ck::Act act, float alpha);
    Status add_pool(const Node& n);
    Status add_resize(const Node& n);
    Status add_concat(const Node& n);
    Status add_split(const Node& n);
    Status add_view(const Node& n);
    Status add_transpose(const Node& n);
    Status add_softmax(const Node& n);
    Status add_binary(const Node& n);
    Status add_activation(const Node& n);
    Status add_matmul(const Node& n);
    Status add_concat_plain(const Node& n);
    Status add_split_plain(const Node& n);
    Status add_slice(const Node& n);
    Status add_dfl(const Node& n);

    // After planning: memory, algorithms, the CUDA graph.
    Status allocate();
    Status choose_algorithms();
    Status capture();
    Status launch(cudaStream_t s);
    void print_profile() const;

    Graph g_;
    BackendOptions opt_;
    int device_;
    bool profile_ = false;
    bool use_graph_ = true;
    DType act_ = DType::kF32;
    size_t es_ = 4;
    std::map<std::string, Kind> kinds_;
    std::map<std::string, Val> vals_;
    std::vector<Buffer> bufs_;
    std::vector<Step> steps_;
    std::vector<std::unique_ptr<ConvLayer>> convs_;
    std::map<std::string, View> const_views_;
    std::vector<std::pair<int, std::vector<char>>> uploads_;  // persistent buffer <- host bytes (at allocate())
    std::map<std::string, cudnnConvolutionFwdAlgo_t> tuned_in_;
    Status choose_fused(ConvLayer& L, bool find, size_t ws_limit, void* ws);
    Result<double> time_step(int step, int reps);
    std::map<std::string, View> input_f32_;
    std::map<std::string, int> tuned_fused_in_;
    int fused_convs_ = 0;
    // The latency kernels: our depthwise and stem convolutions, the fused detect head, Split inputs placed in Concat
    // buffers and strided inputs through fused cuDNN graphs. Measured on the H200 (docs/cuda.md): a clear gain at
    // batch 1 (0.75 -> 0.59 ms per replay), a loss at batch 32-128 that is not yet understood, so by default they
    // are on for batch 1 only (ITSCAM_CUDA_LATENCY_KERNELS=on|off overrides).
    bool latency_kernels_ = false;
    // The fused detect head: planned after the generic one (both in the step list), verified against it on a random
    // input at compile time, then the generic steps are switched off (or the fused one, if they disagree).
    Status plan_head();
    Status verify_head();
    int head_step_ = -1;
    std::vector<int> head_generic_steps_;
    std::string head_state_ = "off";
    int strided_conv_inputs_ = 0, packed_conv_inputs_ = 0, placed_members_ = 0, copied_members_ = 0;

    csl::DeviceMem arena_;
    std::vector<csl::DeviceMem> persistent_;
    csl::DeviceMem conv_ws_, cublas_ws_;
    void* ws_ptr_ = nullptr;  // the convolution workspace in use (the tuning scratch while autotuning)
    size_t conv_ws_bytes_ = 0;
    csl::HostMem in_host_, out_host_;
    std::vector<size_t> in_bytes_, out_bytes_;
    std::vector<int> in_bufs_, out_bufs_;
    csl::Cudnn cudnn_;
    csl::Cublas cublas_;
    csl::StreamLease stream_;
    csl::GraphExec exec_;
    DeviceBinding binding_;
    size_t bytes_ = 0;
    size_t reserved_ = 0;  // in the device's memory budget
    std::vector<double> step_ms_;
    std::vector<csl::Event> prof_events_;
    int profiled_runs_ = 0;
};

CudaCompiled::~CudaCompiled() {
    cudaSetDevice(device_);
    if (stream_.get()) cudaStreamSynchronize(stream_.get());
    if (reserved_) csl::memory_unreserve(device_, reserved_);
    print_profile();
}

Kind CudaCompiled::classify(const Node& n) const {
    auto info = [&](const std::string& v) { return g_.info(v); };
    auto rank4 = [&](const std::string& v) {
        const ValueInfo* vi = info(v);
        return vi && vi->shape.size() == 4 && vi->shape_known() && vi->dtype == DType::kF32;
    };
    auto dynamic = [&](const std::string& v) { return !v.empty() && !g_.is_constant(v); };
    auto f32 = [&](const std::string& v) { const ValueInfo* vi = info(v); return vi && vi->dtype == DType::kF32; };
    for (const auto& o : n.outputs)
        if (!o.empty() && (!info(o) || !info(o)->shape_known())) return Kind::kUnsupported;
    if (n.op == "Conv" && rank4(n.inputs[0]) && dynamic(n.inputs[0]) && g_.is_constant(n.inputs[1]) &&
        g_.constant(n.inputs[1])->rank() == 4 && (n.num_inputs() < 3 || n.inputs[2].empty() || g_.is_constant(n.inputs[2])) &&
        (n.num_inputs() < 4 || dynamic(n.inputs[3])))
        return Kind::kConv;
    if (n.op == "MaxPool" && rank4(n.inputs[0]) && dynamic(n.inputs[0]) && n.outputs.size() == 1 &&
        n.attr_int("ceil_mode", 0) == 0)
        return Kind::kPool;
    if (n.op == "Resize" && rank4(n.inputs[0]) && dynamic(n.inputs[0]) && n.attr_string("mode", "nearest") == "nearest") {
        auto p = resize_params(g_, n, info(n.inputs[0])->shape);
        const Shape& in = info(n.inputs[0])->shape;
        if (p && p->out[0] == in[0] && p->out[1] == in[1]) return Kind::kResize;
    }
    bool all_dynamic = true;
    for (size_t i = 0; i < n.num_inputs(); ++i) all_dynamic &= dynamic(n.inputs[i]);
    const int64_t axis = n.attr_int("axis", 0);
    if (n.op == "Concat" && all_dynamic && rank4(n.outputs[0]) && (axis == 1 || axis == -3)) return Kind::kConcat;
    if (n.op == "Split" && rank4(n.inputs[0]) && dynamic(n.inputs[0]) && (axis == 1 || axis == -3) &&
        (n.num_inputs() < 2 || g_.is_constant(n.inputs[1])))
        return Kind::kSplit;
    if ((n.op == "Reshape" || n.op == "Flatten" || n.op == "Squeeze" || n.op == "Unsqueeze" || n.op == "Identity") &&
        dynamic(n.inputs[0]) && f32(n.inputs[0]))
        return Kind::kView;
    if (n.op == "Transpose" && dynamic(n.inputs[0]) && f32(n.inputs[0]) && info(n.inputs[0])->shape.size() <= 6)
        return Kind::kTranspose;
    if (n.op == "Softmax" && dynamic(n.inputs[0]) && f32(n.inputs[0])) return Kind::kSoftmax;
    if ((n.op == "Add" || n.op == "Sub" || n.op == "Mul" || n.op == "Div") && f32(n.inputs[0]) && f32(n.inputs[1]) &&
        (dynamic(n.inputs[0]) || dynamic(n.inputs[1])) && info(n.outputs[0])->shape.size() <= 6)
        return Kind::kBinary;
    if ((n.op == "Sigmoid" || n.op == "Relu") && dynamic(n.inputs[0]) && f32(n.inputs[0])) return Kind::kActivation;
    if (n.op == "MatMul" && all_dynamic && f32(n.inputs[0]) && info(n.inputs[0])->shape.size() >= 2 &&
        info(n.inputs[1])->shape.size() >= 2)
        return Kind::kMatMul;
    if (n.op == "Concat" && all_dynamic && f32(n.outputs[0])) return Kind::kConcatPlain;
    if (n.op == "Split" && dynamic(n.inputs[0]) && f32(n.inputs[0]) && (n.num_inputs() < 2 || g_.is_constant(n.inputs[1])))
        return Kind::kSplitPlain;
    if (n.op == "Slice" && dynamic(n.inputs[0]) && f32(n.inputs[0]) && info(n.inputs[0])->shape.size() <= 6) {
        bool consts = true;
        for (size_t i = 1; i < n.num_inputs(); ++i) consts &= n.inputs[i].empty() || g_.is_constant(n.inputs[i]);
        if (consts) return Kind::kSlice;
    }
    if (n.op == "DflDecode" && dynamic(n.inputs[0]) && g_.is_constant(n.inputs[1]) && f32(n.inputs[0]))
        return Kind::kDfl;
    return Kind::kUnsupported;
}

int CudaCompiled::new_buffer(size_t bytes, const std::string& what, bool persistent) {
    Buffer b;
    b.bytes = align_up(std::max<size_t>(bytes, 1));
    b.persistent = persistent;
    b.what = what;
    bufs_.push_back(b);
    return static_cast<int>(bufs_.size()) - 1;
}

void CudaCompiled::add_step(std::string name, std::string desc, std::vector<int> bufs,
                            std::function<Status(cudaStream_t)> fn) {
    const int idx = static_cast<int>(steps_.size());
    for (int b : bufs) {
        if (b < 0) continue;
        Buffer& buf = bufs_[b];
        if (buf.first < 0) buf.first = idx;
        buf.last = std::max(buf.last, idx);
    }
    steps_.push_back({std::move(name), std::move(desc), std::move(bufs), std::move(fn), true});
}

void CudaCompiled::add_copy2d(std::string name, std::string desc, View src, size_t spitch, View dst, size_t dpitch,
                              size_t width, size_t rows) {
    add_step(std::move(name), std::move(desc), {src.buf, dst.buf},
             [this, src, spitch, dst, dpitch, width, rows](cudaStream_t st) {
                 return csl::cuda_status(cudaMemcpy2DAsync(ptr(dst), dpitch, ptr(src), spitch, width, rows,
                                                           cudaMemcpyDeviceToDevice, st),
                                         "cudaMemcpy2DAsync");
             });
}

// Decides which values are NHWC and where Concat members are placed.
Status CudaCompiled::plan_layouts() {
    std::string bad;
    for (const Node& n : g_.nodes) {
        const Kind k = classify(n);
        kinds_[n.name] = k;
        if (k == Kind::kUnsupported) bad += (bad.empty() ? "" : "; ") + n.label();
        for (const auto& o : n.outputs)
            if (!o.empty()) {
                Val& v = vals_[o];
                v.shape = g_.info(o)->shape;
                v.nhwc_native = is_nhwc_kind(k);
            }
    }
    if (!bad.empty()) return unsupported("the CUDA backend cannot run: " + bad);
    for (const auto& in : g_.inputs) {
        const ValueInfo* vi = g_.info(in);
        if (!vi || !vi->shape_known() || vi->dtype != DType::kF32)
            return unsupported("CUDA backend: graph input '" + in + "' must be float32 with a bound shape");
        vals_[in].shape = vi->shape;
    }
    for (const Node& n : g_.nodes)
        if (kinds_[n.name] == Kind::kConcat) plan_concat(n);
    return Status::ok();
}

void CudaCompiled::plan_concat(const Node& n) {
    std::set<std::string> outputs(g_.outputs.begin(), g_.outputs.end());
    std::map<std::string, int> seen;
    for (const auto& in : n.inputs) seen[in]++;
    // `member`: v is itself an input of this Concat (exactly once); false for a Split input placed for its outputs.
    auto placeable = [&](const std::string& v, bool member = true) {
        const int p = g_.producer(v);
        if (p < 0 || outputs.count(v) || (member ? seen[v] != 1 : seen[v] != 0)) return false;
        const Val& val = vals_[v];
        if (!val.placed_in.empty() || !val.view_of.empty()) return false;
        const Kind k = kinds_[g_.nodes[p].name];
        return k == Kind::kConv || k == Kind::kPool || k == Kind::kResize || k == Kind::kConcat;
    };
    int64_t off = 0;
    for (size_t i = 0; i < n.inputs.size();) {
        const std::string& m = n.inputs[i];
        const int64_t c = vals_[m].shape[1];
        // A run of members that are all the outputs of one channel Split, in order: place the Split's input.
        const int p = g_.producer(m);
        if (latency_kernels_ && p >= 0 && kinds_[g_.nodes[p].name] == Kind::kSplit && g_.nodes[p].outputs[0] == m) {
            const Node& sp = g_.nodes[p];
            bool run = i + sp.outputs.size() <= n.inputs.size();
            for (size_t j = 0; run && j < sp.outputs.size(); ++j) run = n.inputs[i + j] == sp.outputs[j] && seen[sp.outputs[j]] == 1;
            if (run && placeable(sp.inputs[0], /*member=*/false)) {
                vals_[sp.inputs[0]].placed_in = n.outputs[0];
                vals_[sp.inputs[0]].place_off = off;
                for (const auto& o : sp.outputs) off += vals_[o].shape[1];
                i += sp.outputs.size();
                placed_members_ += static_cast<int>(sp.outputs.size());
                continue;
            }
        }
        if (placeable(m)) {
            vals_[m].placed_in = n.outputs[0];
            vals_[m].place_off = off;
            ++placed_members_;
        }
        off += c;
        ++i;
    }
}

// The NHWC view of `v` (planned placement, split view or own packed buffer), created on first use.
View CudaCompiled::resolve_nhwc(const std::string& v) {
    Val& val = vals_[v];
    if (val.nhwc.valid()) return val.nhwc;
    if (!val.placed_in.empty()) {
        View root = resolve_nhwc(val.placed_in);
        root.off += static_cast<size_t>(val.place_off) * es_;
        val.nhwc = root;
    } else if (!val.view_of.empty()) {
        View base = resolve_nhwc(val.view_of);
        base.off += static_cast<size_t>(val.view_off) * es_;
        val.nhwc = base;
    } else {
        const Shape& s = val.shape;
        val.nhwc.buf = new_buffer(static_cast<size_t>(shape_numel(s)) * es_, v + " (nhwc)");
        val.nhwc.ld = s[1];
    }
    return val.nhwc;
}

// Makes sure `v` has an NHWC materialization (converting from plain when its producer is plain). pad_to > C gives
// the converted copy that many channels, the extra ones zero (cuDNN's fp16 kernels want C % 8 == 0).
Status CudaCompiled::ensure_nhwc(const std::string& v, int64_t pad_to) {
    Val& val = vals_[v];
    if (val.nhwc.valid()) return Status::ok();
    if (val.nhwc_native) {
        resolve_nhwc(v);
        return Status::ok();
    }
    const auto input = input_f32_.find(v);
    if (input == input_f32_.end()) ITSCAM_RETURN_IF_ERROR(ensure_plain(v));
    const Shape s = val.shape;
    if (s.size() != 4) return internal_error("CUDA backend: NHWC view of a rank-" + std::to_string(s.size()) + " value");
    const int64_t c = s[1], ld = std::max(pad_to, c);
    val.nhwc.buf = new_buffer(static_cast<size_t>(s[0] * s[2] * s[3] * ld) * es_, v + " (nhwc)");
    val.nhwc.ld = ld;
    const bool is_input = input != input_f32_.end();
    const View x = is_input ? input->second : val.plain, y = val.nhwc;
    const ck::DT xdt = is_input ? ck::DT::kF32 : to_dt(act_), ydt = to_dt(act_);
    const size_t total = static_cast<size_t>(s[0] * s[2] * s[3] * ld) * es_;
    add_step(v, "to NHWC" + std::string(ld > c ? " (padded to " + std::to_string(ld) + " channels)" : ""),
             {x.buf, y.buf}, [this, x, y, s, xdt, ydt, ld, c, total](cudaStream_t st) -> Status {
                 if (ld > c) ITSCAM_CUDA_CHECK(cudaMemsetAsync(ptr(y), 0, total, st));
                 return csl::cuda_status(ck::nchw_to_nhwc(ptr(x), xdt, ptr(y), ld, ydt, s[0], s[1], s[2] * s[3], st),
                                         "nchw_to_nhwc");
             });
    return Status::ok();
}

Status CudaCompiled::ensure_plain(const std::string& v) {
    Val& val = vals_[v];
    if (val.plain.valid()) return Status::ok();
    if (!val.nhwc_native) return internal_error("CUDA backend: value '" + v + "' used before it is produced");
    const Shape s = val.shape;
    const View x = resolve_nhwc(v);
    val.plain.buf = new_buffer(static_cast<size_t>(shape_numel(s)) * es_, v + " (plain)");
    const View y = val.plain;
    const ck::DT dt = to_dt(act_);
    add_step(v, "to NCHW", {x.buf, y.buf}, [this, x, y, s, dt](cudaStream_t st) {
        return csl::cuda_status(ck::nhwc_to_nchw(ptr(x), x.ld, dt, ptr(y), dt, s[0], s[1], s[2] * s[3], st),
                                "nhwc_to_nchw");
    });
    return Status::ok();
}

// A constant as a persistent device buffer in `dtype` (uploaded at allocate()).
Result<View> CudaCompiled::upload_constant(const std::string& v, DType dtype) {
    const std::string key = v + "@" + dtype_name(dtype);
    auto it = const_views_.find(key);
    if (it != const_views_.end()) return it->second;
    const Tensor* t = g_.constant(v);
    if (!t) return internal_error("CUDA backend: '" + v + "' is not a constant");
    Tensor c = t->cast(dtype);
    View view;
    view.buf = new_buffer(c.nbytes(), v + " (weights)", true);
    std::vector<char> bytes(c.nbytes());
    if (c.nbytes()) std::memcpy(bytes.data(), c.raw(), c.nbytes());
    uploads_.emplace_back(view.buf, std::move(bytes));
    const_views_[key] = view;
    return view;
}

Status CudaCompiled::conv_bias_residual(const Node& n, View& bias, View* res) {
    if (n.num_inputs() > 2 && !n.inputs[2].empty()) {
        ITSCAM_ASSIGN_OR_RETURN(bias, upload_constant(n.inputs[2], DType::kF32));
    }
    if (res && n.num_inputs() > 3) {
        ITSCAM_RETURN_IF_ERROR(ensure_nhwc(n.inputs[3]));
        *res = vals_[n.inputs[3]].nhwc;
    }
    return Status::ok();
}

Status CudaCompiled::add_conv(const Node& n) {
    const std::string& xn = n.inputs[0];
    const Shape xs = vals_[xn].shape;
    const Tensor* w = g_.constant(n.inputs[1]);
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs, w->shape(), false));
    if (p.pt != p.pb || p.pl != p.pr) return unsupported(n.label() + ": asymmetric padding on the CUDA backend");
    float alpha = 0.f;
    ITSCAM_ASSIGN_OR_RETURN(ck::Act act, activation_of(n, alpha));
    const char* dw_env = std::getenv("ITSCAM_CUDA_DEPTHWISE");
    if (latency_kernels_ && p.group > 1 && p.group == p.c && p.oc == p.c && w->dim(1) == 1 &&
        !(dw_env && std::string(dw_env) == "0"))
        return add_depthwise(n, p, act, alpha);
    const char* stem_env = std::getenv("ITSCAM_CUDA_STEM");
    if (latency_kernels_ && input_f32_.count(xn) && p.c <= 4 && p.group == 1 && p.dh == 1 && p.dw == 1 &&
        n.num_inputs() < 4 &&
        p.oc * p.c * p.kh * p.kw * 4 <= 48 * 1024 && !(stem_env && std::string(stem_env) == "0"))
        return add_stem(n, p, act, alpha);
    // fp16 tensor-op convolutions want the input channels (per group) to be a multiple of 8: pad a converted input
    // (the 3-channel image) rather than fall back to slow kernels.
    const bool is_plain_source = !vals_[xn].nhwc_native;
    const int64_t cin_pad = (act_ == DType::kF16 && is_plain_source && p.group == 1 && p.c % 8 != 0) ? (p.c + 7) / 8 * 8
                                                                                                    : p.c;
    ITSCAM_RETURN_IF_ERROR(ensure_nhwc(xn, cin_pad));
    const View x = vals_[xn].nhwc;
    const int64_t cin = x.ld > p.c && cin_pad > p.c ? cin_pad : p.c;  // channels cuDNN sees
    const bool strided_in = x.ld != cin;

    // Weights as K x R x S x (C/g) (NHWC filter layout), zero-padded to cin when the input is padded.
    const int64_t cpg = w->dim(1), cpg_pad = p.group == 1 ? cin : cpg;
    Tensor wf = w->cast(DType::kF32);
    std::vector<float> wk(static_cast<size_t>(p.oc * p.kh * p.kw * cpg_pad), 0.f);
    for (int64_t k = 0; k < p.oc; ++k)
        for (int64_t c = 0; c < cpg; ++c)
            for (int64_t r = 0; r < p.kh; ++r)
                for (int64_t s = 0; s < p.kw; ++s)
                    wk[((k * p.kh + r) * p.kw + s) * cpg_pad + c] = wf.data<float>()[((k * cpg + c) * p.kh + r) * p.kw + s];
    const std::string wname = g_.unique_name(n.name + "_w_nhwc");
    g_.constants[wname] = Tensor::from_f32(wk, {p.oc, p.kh, p.kw, cpg_pad});
    ITSCAM_ASSIGN_OR_RETURN(View wv, upload_constant(wname, act_));
    View bv, rv;
    ITSCAM_RETURN_IF_ERROR(conv_bias_residual(n, bv, &rv));
    const std::string& yn = n.outputs[0];
    const View y = resolve_nhwc(yn);
    const Shape ys = vals_[yn].shape;

    auto L = std::make_unique<ConvLayer>();
    L->node = n.name;
    L->w_buf = wv.buf;
    L->x = x;
    ITSCAM_ASSIGN_OR_RETURN(L->xd, csl::make_tensor_desc());
    ITSCAM_ASSIGN_OR_RETURN(L->yd, csl::make_tensor_desc());
    ITSCAM_ASSIGN_OR_RETURN(L->wd, csl::make_filter_desc());
    ITSCAM_ASSIGN_OR_RETURN(L->cd, csl::make_conv_desc());
    const cudnnDataType_t dt = to_cudnn(act_);
    const int N = static_cast<int>(p.n), H = static_cast<int>(p.h), W = static_cast<int>(p.w);
    const int ld = static_cast<int>(x.ld);
    ITSCAM_CUDNN_CHECK(cudnnSetTensor4dDescriptorEx(L->xd.get(), dt, N, static_cast<int>(cin), H, W, H * W * ld, 1,
                                                    W * ld, ld));
    const int OH = static_cast<int>(p.oh), OW = static_cast<int>(p.ow), K = static_cast<int>(p.oc);
    ITSCAM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(L->yd.get(), CUDNN_TENSOR_NHWC, dt, N, K, OH, OW));
    ITSCAM_CUDNN_CHECK(cudnnSetFilter4dDescriptor(L->wd.get(), dt, CUDNN_TENSOR_NHWC, K, static_cast<int>(cpg_pad),
                                                  static_cast<int>(p.kh), static_cast<int>(p.kw)));
    ITSCAM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(L->cd.get(), static_cast<int>(p.pt), static_cast<int>(p.pl),
                                                       static_cast<int>(p.sh), static_cast<int>(p.sw),
                                                       static_cast<int>(p.dh), static_cast<int>(p.dw),
                                                       CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    ITSCAM_CUDNN_CHECK(cudnnSetConvolutionGroupCount(L->cd.get(), static_cast<int>(p.group)));
    ITSCAM_CUDNN_CHECK(cudnnSetConvolutionMathType(L->cd.get(), act_ == DType::kF16 ? CUDNN_TENSOR_OP_MATH
                                                                                    : CUDNN_FMA_MATH));
    const char* fusion_env = std::getenv("ITSCAM_CUDNN_FUSION");
    if (act_ == DType::kF16 && p.group == 1 && (act == ck::Act::kNone || act == ck::Act::kSiLU || act == ck::Act::kReLU ||
                                                act == ck::Act::kSigmoid) &&
        !(fusion_env && std::string(fusion_env) == "0")) {
        L->fusable = true;
        L->y_final = y;
        L->res = rv;
        if (n.num_inputs() > 2 && !n.inputs[2].empty()) {
            ITSCAM_ASSIGN_OR_RETURN(L->bias_act, upload_constant(n.inputs[2], act_));
        } else {
            const std::string zname = g_.unique_name(n.name + "_zero_bias");
            g_.constants[zname] = Tensor::zeros(DType::kF32, {p.oc});
            ITSCAM_ASSIGN_OR_RETURN(L->bias_act, upload_constant(zname, act_));
        }
        FusedConvSpec& fs = L->spec;
        fs.dtype = dt;
        fs.n = p.n; fs.c = cin; fs.h = p.h; fs.w = p.w;
        fs.k = p.oc; fs.r = p.kh; fs.s = p.kw; fs.oh = p.oh; fs.ow = p.ow;
        fs.pad_h = p.pt; fs.pad_w = p.pl; fs.stride_h = p.sh; fs.stride_w = p.sw; fs.dil_h = p.dh; fs.dil_w = p.dw;
        fs.ldx = x.ld; fs.ldy = y.ld; fs.ldr = rv.valid() ? rv.ld : 0;
        fs.activation = act == ck::Act::kSiLU ? 1 : act == ck::Act::kReLU ? 2 : act == ck::Act::kSigmoid ? 3 : 0;
        fs.residual = rv.valid();
    }
    if (strided_in) {
        // cuDNN must accept the strided input view; if no algorithm does, pack it into its own buffer first.
        int returned = 0;
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        bool ok = cudnnGetConvolutionForwardAlgorithm_v7(cudnn_.get(), L->xd.get(), L->wd.get(), L->cd.get(),
                                                         L->yd.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
                                                         perf) == CUDNN_STATUS_SUCCESS;
        bool any = false;
        for (int i = 0; ok && i < returned; ++i) {
            size_t ws = 0;
            any |= perf[i].status == CUDNN_STATUS_SUCCESS &&
                   cudnnGetConvolutionForwardWorkspaceSize(cudnn_.get(), L->xd.get(), L->wd.get(), L->cd.get(),
                                                           L->yd.get(), perf[i].algo, &ws) == CUDNN_STATUS_SUCCESS;
        }
        // Else the fused graph-API convolution may take the strided view (probed with the planned alignment).
        bool fused_ok = false;
        if (!any && L->fusable && latency_kernels_) {
            FusedConvSpec probe = L->spec;
            // Null pointers stand for 16-byte aligned bases (the arena and its buffers are 256-byte aligned).
            probe.x = probe.wt = probe.b = probe.res = nullptr;
            probe.y = nullptr;
            const int64_t off_bytes = static_cast<int64_t>(x.off);
            if (off_bytes % 16 == 0) fused_ok = FusedConv::create(cudnn_.get(), probe, 1, kMaxConvWorkspace).is_ok();
        }
        if (any || fused_ok) {
            ++strided_conv_inputs_;
            L->must_fuse = !any;
        } else {
            ++packed_conv_inputs_;
            View packed;
            packed.buf = new_buffer(static_cast<size_t>(p.n * p.h * p.w * cin) * es_, n.name + " (packed input)");
            packed.ld = cin;
            const size_t row = static_cast<size_t>(cin) * es_;
            add_copy2d(n.name + "/pack", "pack strided input", x, static_cast<size_t>(x.ld) * es_, packed, row, row,
                       static_cast<size_t>(p.n * p.h * p.w));
            L->x = packed;
            ITSCAM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(L->xd.get(), CUDNN_TENSOR_NHWC, dt, N, static_cast<int>(cin),
                                                          H, W));
        }
    }
    // cuDNN writes a packed result: straight into y when y is packed and no residual reads y's buffer region,
    // else into a temporary that the epilogue reads.
    const bool direct = y.ld == K;
    View tmp = y;
    if (!direct) {
        tmp.buf = new_buffer(static_cast<size_t>(p.n * OH * OW * K) * es_, n.name + " (conv out)");
        tmp.off = 0;
        tmp.ld = K;
    }
    L->y = tmp;
    ConvLayer* layer = L.get();
    layer->step = static_cast<int>(steps_.size());
    convs_.push_back(std::move(L));
    const int64_t nrows = p.n * OH * OW;
    const ck::DT kdt = to_dt(act_);
    std::ostringstream d;
    d << "Conv " << p.kh << "x" << p.kw << "/" << p.sh << " " << shape_text(xs) << "->" << shape_text(ys)
      << (p.group > 1 ? " g" + std::to_string(p.group) : "") << (act != ck::Act::kNone ? " +act" : "")
      << (rv.valid() ? " +residual" : "") << (x.ld != p.c ? " [strided in]" : "") << (!direct ? " [strided out]" : "");
    add_step(n.name, d.str(), {layer->x.buf, wv.buf, bv.buf, rv.buf, tmp.buf, y.buf, layer->bias_act.buf},
             [this, layer, tmp, y, bv, rv, nrows, K, act, alpha, kdt](cudaStream_t st) -> Status {
                 if (layer->fused_plan >= 0)
                     return layer->fused->run(cudnn_.get(), layer->fused_plan, ptr(layer->x), ptr(View{layer->w_buf, 0, 0}),
                                              ptr(layer->bias_act), rv.valid() ? ptr(rv) : nullptr, ptr(y),
                                              ws_ptr_);
                 const float one = 1.f, zero = 0.f;
                 ITSCAM_CUDNN_CHECK(cudnnConvolutionForward(
                     cudnn_.get(), &one, layer->xd.get(), ptr(layer->x), layer->wd.get(),
                     ptr(View{layer->w_buf, 0, 0}), layer->cd.get(), layer->algo, layer->ws ? ws_ptr_ : nullptr,
                     layer->ws, &zero, layer->yd.get(), ptr(tmp)));
                 return csl::cuda_status(
                     ck::conv_epilogue(ptr(tmp), tmp.ld, ptr(y), y.ld,
                                       bv.valid() ? static_cast<const float*>(ptr(bv)) : nullptr,
                                       rv.valid() ? ptr(rv) : nullptr, rv.valid() ? rv.ld : 0, nrows, K, act, alpha,
                                       kdt, st),
                     "conv_epilogue");
             });
    return Status::ok();
}

// Depthwise convolutions run on our own kernel (cuDNN's grouped NHWC kernels are far slower on these shapes),
// reading and writing strided views directly, with bias, activation and residual fused.
Status CudaCompiled::add_depthwise(const Node& n, const ConvParams& p, ck::Act act, float alpha) {
    const std::string& xn = n.inputs[0];
    ITSCAM_RETURN_IF_ERROR(ensure_nhwc(xn));
    const View x = vals_[xn].nhwc;
    // Weights [C, 1, kh, kw] are [C, kh, kw] in memory: upload as float.
    ITSCAM_ASSIGN_OR_RETURN(View wv, upload_constant(n.inputs[1], DType::kF32));
    View bv, rv;
    ITSCAM_RETURN_IF_ERROR(conv_bias_residual(n, bv, &rv));
    const View y = resolve_nhwc(n.outputs[0]);
    const ck::DT dt = to_dt(act_);
    std::ostringstream d;
    d << "Conv depthwise " << p.kh << "x" << p.kw << "/" << p.sh << " " << shape_text(vals_[xn].shape) << " g"
      << p.group << (act != ck::Act::kNone ? " +act" : "") << (rv.valid() ? " +residual" : "") << " [itscam kernel]";
    add_step(n.name, d.str(), {x.buf, wv.buf, bv.buf, rv.buf, y.buf},
             [this, x, wv, bv, rv, y, p, act, alpha, dt](cudaStream_t st) {
                 return csl::cuda_status(
                     ck::depthwise_conv_nhwc(ptr(x), x.ld, static_cast<const float*>(ptr(wv)),
                                             bv.valid() ? static_cast<const float*>(ptr(bv)) : nullptr,
                                             rv.valid() ? ptr(rv) : nullptr, rv.valid() ? rv.ld : 0, ptr(y), y.ld, p.n,
                                             p.h, p.w, p.c, p.oh, p.ow, static_cast<int>(p.kh), static_cast<int>(p.kw),
                                             static_cast<int>(p.sh), static_cast<int>(p.sw), static_cast<int>(p.pt),
                                             static_cast<int>(p.pl), static_cast<int>(p.dh), static_cast<int>(p.dw), act,
                                             alpha, dt, st),
                     "depthwise_conv_nhwc");
             });
    return Status::ok();
}

// The stem convolution straight from the fp32 NCHW graph input (see ck::stem_conv_nchw): no NHWC conversion of the
// image, no channel padding, bias and activation fused.
Status CudaCompiled::add_stem(const Node& n, const ConvParams& p, ck::Act act, float alpha) {
    const View x = input_f32_.at(n.inputs[0]);
    ITSCAM_ASSIGN_OR_RETURN(View wv, upload_constant(n.inputs[1], DType::kF32));  // [K, C, kh, kw] as is
    View bv;
    ITSCAM_RETURN_IF_ERROR(conv_bias_residual(n, bv, nullptr));
    const View y = resolve_nhwc(n.outputs[0]);
    const ck::DT dt = to_dt(act_);
    std::ostringstream d;
    d << "Conv stem " << p.kh << "x" << p.kw << "/" << p.sh << " " << shape_text(vals_[n.inputs[0]].shape) << "->"
      << shape_text(vals_[n.outputs[0]].shape) << (act != ck::Act::kNone ? " +act" : "") << " [itscam kernel, from NCHW fp32]";
    add_step(n.name, d.str(), {x.buf, wv.buf, bv.buf, y.buf}, [this, x, wv, bv, y, p, act, alpha, dt](cudaStream_t st) {
        return csl::cuda_status(
            ck::stem_conv_nchw(static_cast<const float*>(ptr(x)), p.n, p.c, p.h, p.w, static_cast<const float*>(ptr(wv)),
                               bv.valid() ? static_cast<const float*>(ptr(bv)) : nullptr, ptr(y), y.ld, p.oc, p.oh,
                               p.ow, static_cast<int>(p.kh), static_cast<int>(p.kw), static_cast<int>(p.sh),
                               static_cast<int>(p.sw), static_cast<int>(p.pt), static_cast<int>(p.pl), act, alpha, dt,
                               st),
            "stem_conv_nchw");
    });
    return Status::ok();
}

Status CudaCompiled::add_pool(const Node& n) {
    const std::string& xn = n.inputs[0];
    ITSCAM_RETURN_IF_ERROR(ensure_nhwc(xn));
    const Shape xs = vals_[xn].shape;
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs, {}, true));
    if (p.dh != 1 || p.dw != 1) return unsupported(n.label() + ": dilated pooling on the CUDA backend");
    const View x = vals_[xn].nhwc, y = resolve_nhwc(n.outputs[0]);
    const ck::DT dt = to_dt(act_);
    add_step(n.name, "MaxPool " + std::to_string(p.kh) + "x" + std::to_string(p.kw) + " " + shape_text(xs), {x.buf, y.buf},
             [this, x, y, p, dt](cudaStream_t st) {
                 return csl::cuda_status(ck::maxpool_nhwc(ptr(x), x.ld, ptr(y), y.ld, p.n, p.h, p.w, p.c, p.oh, p.ow,
                                                          static_cast<int>(p.kh), static_cast<int>(p.kw),
                                                          static_cast<int>(p.sh), static_cast<int>(p.sw),
                                                          static_cast<int>(p.pt), static_cast<int>(p.pl), dt, st),
                                         "maxpool_nhwc");
             });
    return Status::ok();
}

Status CudaCompiled::add_resize(const Node& n) {
    const std::string& xn = n.inputs[0];
    ITSCAM_RETURN_IF_ERROR(ensure_nhwc(xn));
    const Shape xs = vals_[xn].shape;
    ITSCAM_ASSIGN_OR_RETURN(ResizeParams rp, resize_params(g_, n, xs));
    std::vector<int32_t> idx(static_cast<size_t>(rp.out[2] + rp.out[3]));
    for (int64_t i = 0; i < rp.out[2]; ++i) idx[i] = static_cast<int32_t>(resize_nearest_index(rp, 2, i, xs[2]));
    for (int64_t i = 0; i < rp.out[3]; ++i)
        idx[rp.out[2] + i] = static_cast<int32_t>(resize_nearest_index(rp, 3, i, xs[3]));
    const std::string tname = g_.unique_name(n.name + "_idx");
    Tensor t = Tensor::empty(DType::kI32, {static_cast<int64_t>(idx.size())});
    std::memcpy(t.raw(), idx.data(), idx.size() * 4);
    g_.constants[tname] = t;
    ITSCAM_ASSIGN_OR_RETURN(View iv, upload_constant(tname, DType::kI32));
    const View x = vals_[xn].nhwc, y = resolve_nhwc(n.outputs[0]);
    const Shape out = rp.out;
    const ck::DT dt = to_dt(act_);
    add_step(n.name, "Resize nearest " + shape_text(xs) + "->" + shape_text(out), {x.buf, y.buf, iv.buf},
             [this, x, y, xs, out, iv, dt](cudaStream_t st) {
                 const int* ih = static_cast<const int*>(ptr(iv));
                 return csl::cuda_status(ck::resize_nearest_nhwc(ptr(x), x.ld, ptr(y), y.ld, xs[0], xs[2], xs[3], xs[1],
                                                                 out[2], out[3], ih, ih + out[2], dt, st),
                                         "resize_nearest_nhwc");
             });
    return Status::ok();
}

Status CudaCompiled::add_concat(const Node& n) {
    const View y = resolve_nhwc(n.outputs[0]);
    const Shape ys = vals_[n.outputs[0]].shape;
    int64_t off = 0;
    for (const auto& m : n.inputs) {
        ITSCAM_RETURN_IF_ERROR(ensure_nhwc(m));
        const Val& mv = vals_[m];
        const View x = mv.nhwc;
        const int64_t c = mv.shape[1];
        View dst = y;
        dst.off += static_cast<size_t>(off) * es_;
        off += c;
        if (x.buf == dst.buf && x.off == dst.off && x.ld == dst.ld) continue;  // placed: already there
        ++copied_members_;
        add_copy2d(n.name + "/" + m, "Concat member copy (" + std::to_string(c) + " ch)", x,
                   static_cast<size_t>(x.ld) * es_, dst, static_cast<size_t>(dst.ld) * es_, static_cast<size_t>(c) * es_,
                   static_cast<size_t>(rows(ys)));
    }
    return Status::ok();
}

Status CudaCompiled::add_split(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_nhwc(n.inputs[0]));
    int64_t off = 0;
    for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        Val& v = vals_[o];
        v.view_of = n.inputs[0];
        v.view_off = off;
        off += v.shape[1];
        resolve_nhwc(o);
    }
    return Status::ok();
}

Status CudaCompiled::add_view(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[0]));
    vals_[n.outputs[0]].plain = vals_[n.inputs[0]].plain;
    return Status::ok();
}

Status CudaCompiled::add_transpose(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[0]));
    const Shape xs = vals_[n.inputs[0]].shape;
    std::vector<int64_t> perm = n.attr_ints("perm");
    if (perm.empty())
        for (int64_t i = static_cast<int64_t>(xs.size()) - 1; i >= 0; --i) perm.push_back(i);
    Val& yv = vals_[n.outputs[0]];
    yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * es_, n.outputs[0]);
    const View x = vals_[n.inputs[0]].plain, y = yv.plain;
    const ck::Dims in = to_dims(xs), pd = to_dims(Shape(perm.begin(), perm.end()));
    const ck::DT dt = to_dt(act_);
    add_step(n.name, "Transpose " + shape_text(xs), {x.buf, y.buf}, [this, x, y, in, pd, dt](cudaStream_t st) {
        return csl::cuda_status(ck::transpose(ptr(x), ptr(y), in, pd, dt, st), "transpose");
    });
    return Status::ok();
}

Status CudaCompiled::add_softmax(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[0]));
    const Shape xs = vals_[n.inputs[0]].shape;
    ITSCAM_ASSIGN_OR_RETURN(SoftmaxLayout l, softmax_layout(n, xs));
    Val& yv = vals_[n.outputs[0]];
    yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * es_, n.outputs[0]);
    const View x = vals_[n.inputs[0]].plain, y = yv.plain;
    const ck::DT dt = to_dt(act_);
    add_step(n.name, "Softmax " + shape_text(xs), {x.buf, y.buf}, [this, x, y, l, dt](cudaStream_t st) {
        return csl::cuda_status(ck::softmax(ptr(x), ptr(y), l.outer, l.len, l.inner, dt, st), "softmax");
    });
    return Status::ok();
}

Status CudaCompiled::add_binary(const Node& n) {
    const Shape out = vals_[n.outputs[0]].shape;
    const size_t r = out.size();
    struct Operand {
        View v;
        ck::Dims strides;
        float scalar = 0.f;
        bool is_scalar = false;
    };
    Operand ops[2];
    for (int i = 0; i < 2; ++i) {
        const std::string& in = n.inputs[i];
        Shape s;
        if (const Tensor* c = g_.constant(in)) {
            s = c->shape();
            if (c->numel() == 1) {
                ops[i].is_scalar = true;
                ops[i].scalar = c->cast(DType::kF32).data<float>()[0];
                continue;
            }
            ITSCAM_ASSIGN_OR_RETURN(ops[i].v, upload_constant(in, act_));
        } else {
            ITSCAM_RETURN_IF_ERROR(ensure_plain(in));
            ops[i].v = vals_[in].plain;
            s = vals_[in].shape;
        }
        if (s.size() > r) return unsupported(n.label() + ": operand rank above the output's");
        Shape aligned(r - s.size(), 1);
        aligned.insert(aligned.end(), s.begin(), s.end());
        const Shape st = dense_strides(aligned);
        ops[i].strides.rank = static_cast<int>(r);
        for (size_t d = 0; d < r; ++d) ops[i].strides.d[d] = aligned[d] == 1 && out[d] != 1 ? 0 : st[d];
    }
    const ck::BinOp op = n.op == "Add" ? ck::BinOp::kAdd : n.op == "Sub" ? ck::BinOp::kSub
                         : n.op == "Mul" ? ck::BinOp::kMul : ck::BinOp::kDiv;
    Val& yv = vals_[n.outputs[0]];
    yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(out)) * es_, n.outputs[0]);
    const View y = yv.plain;
    const ck::Dims od = to_dims(out);
    const ck::DT dt = to_dt(act_);
    const Operand a = ops[0], b = ops[1];
    add_step(n.name, n.op + " " + shape_text(out), {a.v.buf, b.v.buf, y.buf},
             [this, a, b, y, od, op, dt](cudaStream_t st) {
                 return csl::cuda_status(ck::binary(op, a.is_scalar ? nullptr : ptr(a.v), a.strides, a.scalar,
                                                    b.is_scalar ? nullptr : ptr(b.v), b.strides, b.scalar, ptr(y), od,
                                                    dt, st),
                                         "binary");
             });
    return Status::ok();
}

Status CudaCompiled::add_activation(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[0]));
    Val& yv = vals_[n.outputs[0]];
    yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * es_, n.outputs[0]);
    const View x = vals_[n.inputs[0]].plain, y = yv.plain;
    const int64_t count = shape_numel(yv.shape);
    const ck::Act act = n.op == "Sigmoid" ? ck::Act::kSigmoid : ck::Act::kReLU;
    const ck::DT dt = to_dt(act_);
    add_step(n.name, n.op + " " + shape_text(yv.shape), {x.buf, y.buf}, [this, x, y, count, act, dt](cudaStream_t st) {
        return csl::cuda_status(ck::activation(ptr(x), ptr(y), count, act, 0.f, dt, st), "activation");
    });
    return Status::ok();
}

Status CudaCompiled::add_matmul(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[0]));
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[1]));
    const Shape a = vals_[n.inputs[0]].shape, b = vals_[n.inputs[1]].shape;
    const int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
    if (b[b.size() - 2] != K) return invalid_argument(n.label() + ": inner dimensions differ");
    const int64_t batch_a = shape_numel(a) / (M * K), batch_b = shape_numel(b) / (K * N);
    if (batch_a != batch_b && batch_a != 1 && batch_b != 1)
        return unsupported(n.label() + ": MatMul batch broadcasting other than 1 vs N on the CUDA backend");
    const int64_t batch = std::max(batch_a, batch_b);
    Val& yv = vals_[n.outputs[0]];
    yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * es_, n.outputs[0]);
    const View x0 = vals_[n.inputs[0]].plain, x1 = vals_[n.inputs[1]].plain, y = yv.plain;
    const cudaDataType_t dt = act_ == DType::kF16 ? CUDA_R_16F : CUDA_R_32F;
    const long long sa = batch_a == 1 ? 0 : M * K, sb = batch_b == 1 ? 0 : K * N;
    add_step(n.name, "MatMul " + shape_text(a) + "x" + shape_text(b) + " [cuBLAS]", {x0.buf, x1.buf, y.buf},
             [this, x0, x1, y, M, K, N, batch, sa, sb, dt](cudaStream_t st) -> Status {
                 const float one = 1.f, zero = 0.f;
                 // Row-major C = A B is column-major C^T = B^T A^T.
                 ITSCAM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
                     cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                     static_cast<int>(K), &one, ptr(x1), dt, static_cast<int>(N), sb, ptr(x0), dt, static_cast<int>(K),
                     sa, &zero, ptr(y), dt, static_cast<int>(N), M * N, static_cast<int>(batch), CUBLAS_COMPUTE_32F,
                     CUBLAS_GEMM_DEFAULT));
                 return Status::ok();
             });
    return Status::ok();
}

Status CudaCompiled::add_concat_plain(const Node& n) {
    const Shape ys = vals_[n.outputs[0]].shape;
    int64_t axis = n.attr_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(ys.size());
    if (axis < 0 || axis >= static_cast<int64_t>(ys.size())) return invalid_argument(n.label() + ": bad axis");
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= ys[d];
    for (size_t d = static_cast<size_t>(axis) + 1; d < ys.size(); ++d) inner *= ys[d];
    Val& yv = vals_[n.outputs[0]];
    yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(ys)) * es_, n.outputs[0]);
    const View y = yv.plain;
    int64_t off = 0;
    for (const auto& m : n.inputs) {
        ITSCAM_RETURN_IF_ERROR(ensure_plain(m));
        const View x = vals_[m].plain;
        const int64_t len = vals_[m].shape[axis];
        const size_t width = static_cast<size_t>(len * inner) * es_, dpitch = static_cast<size_t>(ys[axis] * inner) * es_;
        View dst = y;
        dst.off += static_cast<size_t>(off * inner) * es_;
        off += len;
        add_copy2d(n.name + "/" + m, "Concat copy", x, width, dst, dpitch, width, static_cast<size_t>(outer));
    }
    return Status::ok();
}

Status CudaCompiled::add_split_plain(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[0]));
    const Shape xs = vals_[n.inputs[0]].shape;
    int64_t axis = n.attr_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(xs.size());
    if (axis < 0 || axis >= static_cast<int64_t>(xs.size())) return invalid_argument(n.label() + ": bad axis");
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= xs[d];
    for (size_t d = static_cast<size_t>(axis) + 1; d < xs.size(); ++d) inner *= xs[d];
    const View x = vals_[n.inputs[0]].plain;
    int64_t off = 0;
    for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        Val& yv = vals_[o];
        const int64_t len = yv.shape[axis];
        yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * es_, o);
        const View y = yv.plain;
        View src = x;
        src.off += static_cast<size_t>(off * inner) * es_;
        off += len;
        const size_t width = static_cast<size_t>(len * inner) * es_, spitch = static_cast<size_t>(xs[axis] * inner) * es_;
        add_copy2d(n.name + "/" + o, "Split copy", src, spitch, y, width, width, static_cast<size_t>(outer));
    }
    return Status::ok();
}

Status CudaCompiled::add_slice(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[0]));
    const Shape xs = vals_[n.inputs[0]].shape;
    const Shape ys = vals_[n.outputs[0]].shape;
    const size_t r = xs.size();
    auto ints = [&](size_t i) -> std::vector<int64_t> {
        if (n.num_inputs() <= i || n.inputs[i].empty()) return {};
        return g_.constant(n.inputs[i])->to_i64_vector();
    };
    std::vector<int64_t> starts = ints(1), axes = ints(3), steps = ints(4);
    if (axes.empty())
        for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size())
        return invalid_argument(n.label() + ": starts/axes/steps lengths differ");
    std::vector<int64_t> start(r, 0), step(r, 1);
    for (size_t i = 0; i < starts.size(); ++i) {
        int64_t a = axes[i] < 0 ? axes[i] + static_cast<int64_t>(r) : axes[i];
        if (a < 0 || a >= static_cast<int64_t>(r) || steps[i] == 0) return invalid_argument(n.label() + ": bad axes/steps");
        const int64_t L = xs[a];
        int64_t s = starts[i] < 0 ? starts[i] + L : starts[i];
        s = steps[i] > 0 ? std::clamp<int64_t>(s, 0, L) : std::clamp<int64_t>(s, 0, L - 1);
        start[a] = s;
        step[a] = steps[i];
    }
    const Shape st = dense_strides(xs);
    int64_t base = 0;
    ck::Dims sd;
    sd.rank = static_cast<int>(r);
    for (size_t d = 0; d < r; ++d) {
        base += start[d] * st[d];
        sd.d[d] = step[d] * st[d];
    }
    Val& yv = vals_[n.outputs[0]];
    yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(ys)) * es_, n.outputs[0]);
    const View x = vals_[n.inputs[0]].plain, y = yv.plain;
    const ck::Dims od = to_dims(ys);
    const ck::DT dt = to_dt(act_);
    add_step(n.name, "Slice " + shape_text(xs) + "->" + shape_text(ys), {x.buf, y.buf},
             [this, x, y, base, sd, od, dt](cudaStream_t stm) {
                 return csl::cuda_status(ck::gather_strided(ptr(x), base, sd, ptr(y), od, dt, stm), "slice");
             });
    return Status::ok();
}

Status CudaCompiled::add_dfl(const Node& n) {
    ITSCAM_RETURN_IF_ERROR(ensure_plain(n.inputs[0]));
    const Shape xs = vals_[n.inputs[0]].shape;
    if (xs.size() != 4 || g_.constant(n.inputs[1])->numel() != xs[2])
        return invalid_argument(n.label() + ": DflDecode expects x [N,4,R,A] and R weights");
    ITSCAM_ASSIGN_OR_RETURN(View wv, upload_constant(n.inputs[1], DType::kF32));
    Val& yv = vals_[n.outputs[0]];
    yv.plain.buf = new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * es_, n.outputs[0]);
    const View x = vals_[n.inputs[0]].plain, y = yv.plain;
    const ck::DT dt = to_dt(act_);
    const int64_t N = xs[0] * xs[1] / 4;
    if (xs[1] != 4) return unsupported(n.label() + ": DflDecode with " + std::to_string(xs[1]) + " box sides");
    add_step(n.name, "DflDecode " + shape_text(xs), {x.buf, wv.buf, y.buf}, [this, x, wv, y, xs, N, dt](cudaStream_t st) {
        return csl::cuda_status(ck::dfl_decode(ptr(x), static_cast<const float*>(ptr(wv)), ptr(y), N, xs[2], xs[3], dt, st),
                                "dfl_decode");
    });
    return Status::ok();
}

Status CudaCompiled::build() {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(device_));
    if (opt_.precision == Precision::kF16) {
        act_ = DType::kF16;
    } else if (opt_.precision != Precision::kF32) {
        return unsupported(std::string("precision ") + precision_name(opt_.precision) +
                           " on the CUDA backend (use fp16 or fp32)");
    }
    es_ = dtype_size(act_);
    {
        cudnnHandle_t h = nullptr;
        ITSCAM_CUDNN_CHECK(cudnnCreate(&h));
        cudnn_ = csl::Cudnn(h);
        cublasHandle_t b = nullptr;
        ITSCAM_CUBLAS_CHECK(cublasCreate(&b));
        cublas_ = csl::Cublas(b);
    }
    ITSCAM_ASSIGN_OR_RETURN(stream_, csl::stream_acquire(device_));
    ITSCAM_CUDNN_CHECK(cudnnSetStream(cudnn_.get(), stream_.get()));
    ITSCAM_CUBLAS_CHECK(cublasSetStream(cublas_.get(), stream_.get()));
    if (!opt_.tuning.empty()) {
        std::istringstream is(opt_.tuning);
        std::string line;
        while (std::getline(is, line)) {
            const size_t eq = line.rfind(" algo="), fu = line.rfind(" fused=");
            if (eq != std::string::npos)
                tuned_in_[line.substr(0, eq)] = static_cast<cudnnConvolutionFwdAlgo_t>(std::atoi(line.c_str() + eq + 6));
            else if (fu != std::string::npos)
                tuned_fused_in_[line.substr(0, fu)] = std::atoi(line.c_str() + fu + 7);
        }
    }

    {
        const char* lk = std::getenv("ITSCAM_CUDA_LATENCY_KERNELS");
        const std::string v = lk ? lk : "auto";
        const int64_t batch = g_.inputs.empty() || !g_.info(g_.inputs[0]) || g_.info(g_.inputs[0])->shape.empty()
                                  ? 1
                                  : g_.info(g_.inputs[0])->shape[0];
        latency_kernels_ = v == "on" || v == "1" || ((v == "auto" || v.empty()) && batch == 1);
    }
    ITSCAM_RETURN_IF_ERROR(plan_layouts());
    // Graph inputs: fp32 NCHW persistent buffers (input 0 is the device binding). NHWC consumers convert from it
    // directly; plain consumers read it as is (fp32) or a cast copy in the activation dtype (fp16).
    for (const auto& in : g_.inputs) {
        Val& v = vals_[in];
        View f32;
        f32.buf = new_buffer(static_cast<size_t>(shape_numel(v.shape)) * 4, in + " (input)", true);
        input_f32_[in] = f32;
        in_bufs_.push_back(f32.buf);
        in_bytes_.push_back(static_cast<size_t>(shape_numel(v.shape)) * 4);
        bool plain_use = false;
        for (const Node& n : g_.nodes)
            for (const auto& x : n.inputs) plain_use |= x == in && !is_nhwc_kind(kinds_[n.name]);
        plain_use |= std::find(g_.outputs.begin(), g_.outputs.end(), in) != g_.outputs.end();
        if (act_ == DType::kF32) {
            v.plain = f32;
        } else if (plain_use) {
            View dst;
            dst.buf = new_buffer(static_cast<size_t>(shape_numel(v.shape)) * es_, in + " (cast)");
            const int64_t cnt = shape_numel(v.shape);
            add_step(in, "cast input", {f32.buf, dst.buf}, [this, f32, dst, cnt](cudaStream_t st) {
                return csl::cuda_status(ck::cast(ptr(f32), ck::DT::kF32, ptr(dst), ck::DT::kF16, cnt, st), "cast");
            });
            v.plain = dst;
        }
    }
    for (const Node& n : g_.nodes) {
        Status st;
        switch (kinds_[n.name]) {
            case Kind::kConv: st = add_conv(n); break;
            case Kind::kPool: st = add_pool(n); break;
            case Kind::kResize: st = add_resize(n); break;
            case Kind::kConcat: st = add_concat(n); break;
            case Kind::kSplit: st = add_split(n); break;
            case Kind::kView: st = add_view(n); break;
            case Kind::kTranspose: st = add_transpose(n); break;
            case Kind::kSoftmax: st = add_softmax(n); break;
            case Kind::kBinary: st = add_binary(n); break;
            case Kind::kActivation: st = add_activation(n); break;
            case Kind::kMatMul: st = add_matmul(n); break;
            case Kind::kConcatPlain: st = add_concat_plain(n); break;
            case Kind::kSplitPlain: st = add_split_plain(n); break;
            case Kind::kSlice: st = add_slice(n); break;
            case Kind::kDfl: st = add_dfl(n); break;
            case Kind::kUnsupported: st = unsupported(n.label()); break;
        }
        ITSCAM_RETURN_IF_ERROR(st.is_ok() ? st : st.with_context(n.label()));
    }
    // Graph outputs: fp32 dense persistent buffers.
    for (const auto& o : g_.outputs) {
        if (!vals_.count(o)) return unsupported("CUDA backend: graph output '" + o + "' is not computed by a node");
        Val& v = vals_[o];
        const int64_t cnt = shape_numel(v.shape);
        View dst;
        dst.buf = new_buffer(static_cast<size_t>(cnt) * 4, o + " (output)", true);
        out_bufs_.push_back(dst.buf);
        out_bytes_.push_back(static_cast<size_t>(cnt) * 4);
        const ck::DT dt = to_dt(act_);
        if (v.nhwc_native && !v.plain.valid()) {
            const View x = resolve_nhwc(o);
            const Shape s = v.shape;
            add_step(o, "output NHWC -> NCHW fp32", {x.buf, dst.buf}, [this, x, dst, s, dt](cudaStream_t st) {
                return csl::cuda_status(ck::nhwc_to_nchw(ptr(x), x.ld, dt, ptr(dst), ck::DT::kF32, s[0], s[1],
                                                         s[2] * s[3], st),
                                        "nhwc_to_nchw");
            });
        } else {
            ITSCAM_RETURN_IF_ERROR(ensure_plain(o));
            const View x = v.plain;
            add_step(o, "output to fp32", {x.buf, dst.buf}, [this, x, dst, cnt, dt](cudaStream_t st) {
                return csl::cuda_status(ck::cast(ptr(x), dt, ptr(dst), ck::DT::kF32, cnt, st), "cast");
            });
        }
    }
    ITSCAM_RETURN_IF_ERROR(plan_head());
    ITSCAM_RETURN_IF_ERROR(allocate());
    ITSCAM_RETURN_IF_ERROR(choose_algorithms());
    ITSCAM_RETURN_IF_ERROR(verify_head());
    ITSCAM_RETURN_IF_ERROR(capture());
    return Status::ok();
}

// Recognises the YOLOv8/11 Detect head (two channel-concatenations of per-level conv outputs, reshaped to
// [N, 4R, A] and [N, nc, A], DflDecode, the box decode and the Sigmoid, concatenated to the single output) and
// plans the fused kernel next to the generic steps. Anything unexpected leaves the generic head alone.
Status CudaCompiled::plan_head() {
    const char* env = std::getenv("ITSCAM_CUDA_FUSED_HEAD");
    if (!latency_kernels_ || (env && std::string(env) == "0") || g_.outputs.size() != 1 || g_.inputs.size() != 1)
        return Status::ok();
    const std::string& o = g_.outputs[0];
    const Shape os = vals_[o].shape;
    const Shape is = vals_[g_.inputs[0]].shape;
    if (os.size() != 3 || is.size() != 4) return Status::ok();
    const Node* dfl = nullptr;
    for (const Node& n : g_.nodes)
        if (n.op == "DflDecode") dfl = dfl ? nullptr : &n;
    if (!dfl) return Status::ok();
    auto producer_node = [&](const std::string& v) -> const Node* {
        const int p = g_.producer(v);
        return p < 0 ? nullptr : &g_.nodes[p];
    };
    auto skip_views = [&](const Node* n) {
        while (n && kinds_[n->name] == Kind::kView) n = producer_node(n->inputs[0]);
        return n;
    };
    // Per-level NHWC conv outputs feeding a channel-last Concat through Reshapes: [N, ch, h, w] each.
    auto levels_of = [&](const Node* cat, std::vector<std::string>& vals) {
        if (!cat || cat->op != "Concat") return false;
        for (const auto& in : cat->inputs) {
            const Node* r = producer_node(in);
            if (!r || kinds_[r->name] != Kind::kView) return false;
            const std::string& v = r->inputs[0];
            if (!vals_.count(v) || !vals_[v].nhwc_native || vals_[v].shape.size() != 4) return false;
            vals.push_back(v);
        }
        return !vals.empty() && vals.size() <= static_cast<size_t>(ck::kMaxHeadLevels);
    };
    std::vector<std::string> box_vals, cls_vals;
    if (!levels_of(skip_views(producer_node(dfl->inputs[0])), box_vals)) return Status::ok();
    const Node* sig = nullptr;
    for (const Node& n : g_.nodes)
        if (n.op == "Sigmoid") sig = sig ? nullptr : &n;
    if (!sig || !levels_of(skip_views(producer_node(sig->inputs[0])), cls_vals) || cls_vals.size() != box_vals.size())
        return Status::ok();
    const int64_t R = g_.constant(dfl->inputs[1])->numel();
    const int64_t nc = vals_[cls_vals[0]].shape[1];
    ck::HeadParams hp;
    hp.levels = static_cast<int>(box_vals.size());
    hp.N = os[0];
    hp.R = static_cast<int>(R);
    hp.nc = static_cast<int>(nc);
    int64_t a0 = 0;
    for (int l = 0; l < hp.levels; ++l) {
        const Shape& bs = vals_[box_vals[l]].shape;
        const Shape& cs = vals_[cls_vals[l]].shape;
        if (bs[1] != 4 * R || cs[1] != nc || bs[2] != cs[2] || bs[3] != cs[3] || bs[0] != os[0]) return Status::ok();
        hp.lv[l].h = static_cast<int>(bs[2]);
        hp.lv[l].w = static_cast<int>(bs[3]);
        hp.lv[l].stride = static_cast<float>(is[2]) / static_cast<float>(bs[2]);
        hp.lv[l].a0 = a0;
        a0 += bs[2] * bs[3];
    }
    hp.A = a0;
    if (os[1] != 4 + nc || os[2] != hp.A || R > 32) return Status::ok();
    // Everything downstream of the level outputs is the generic head; it must end at the output only.
    std::set<std::string> head_vals(box_vals.begin(), box_vals.end()), head_nodes;
    head_vals.insert(cls_vals.begin(), cls_vals.end());
    for (const Node& n : g_.nodes) {
        bool reads = false;
        for (const auto& in : n.inputs) reads |= head_vals.count(in) != 0;
        if (!reads) continue;
        head_nodes.insert(n.name);
        for (const auto& out : n.outputs) head_vals.insert(out);
    }
    if (!head_vals.count(o)) return Status::ok();
    for (size_t i = 0; i < steps_.size(); ++i) {
        const std::string& nm = steps_[i].name;
        // Helper steps are named "<node>/<value>" (node names contain '/' themselves).
        bool of_head_node = head_nodes.count(nm) != 0;
        for (const auto& hn : head_nodes) of_head_node |= nm.rfind(hn + "/", 0) == 0;
        const bool level_conversion = (std::count(box_vals.begin(), box_vals.end(), nm) ||
                                       std::count(cls_vals.begin(), cls_vals.end(), nm)) &&
                                      steps_[i].desc == "to NCHW";
        if (of_head_node || level_conversion || nm == o)
            head_generic_steps_.push_back(static_cast<int>(i));
    }
    ITSCAM_ASSIGN_OR_RETURN(View bins, upload_constant(dfl->inputs[1], DType::kF32));
    std::vector<int> bufs = {bins.buf, out_bufs_[0]};
    std::vector<std::pair<View, View>> lv;
    for (int l = 0; l < hp.levels; ++l) {
        lv.emplace_back(resolve_nhwc(box_vals[l]), resolve_nhwc(cls_vals[l]));
        bufs.push_back(lv.back().first.buf);
        bufs.push_back(lv.back().second.buf);
    }
    const View out{out_bufs_[0], 0, 0};
    const ck::DT dt = to_dt(act_);
    head_step_ = static_cast<int>(steps_.size());
    add_step("detect_head", "Detect head fused (DFL + box decode + sigmoid + concat) [itscam kernel]", bufs,
             [this, hp, lv, bins, out, dt](cudaStream_t st) {
                 ck::HeadParams p = hp;
                 for (int l = 0; l < p.levels; ++l) {
                     p.lv[l].box = ptr(lv[l].first);
                     p.lv[l].box_ld = lv[l].first.ld;
                     p.lv[l].cls = ptr(lv[l].second);
                     p.lv[l].cls_ld = lv[l].second.ld;
                 }
                 return csl::cuda_status(ck::yolo_detect_head(p, static_cast<const float*>(ptr(bins)),
                                                              static_cast<float*>(ptr(out)), dt, st),
                                         "yolo_detect_head");
             });
    steps_[head_step_].enabled = false;
    return Status::ok();
}

// Runs the generic head and the fused head on one random input and keeps the fused one when they agree within the
// precision's tolerance (boxes in input pixels, scores in probability).
Status CudaCompiled::verify_head() {
    if (head_step_ < 0) return Status::ok();
    cudaStream_t s = stream_.get();
    std::vector<float> in(in_bytes_[0] / 4);
    uint32_t r = 12345;
    for (auto& v : in) {
        r = r * 1664525u + 1013904223u;
        v = static_cast<float>(r >> 8) / 16777216.f;
    }
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(binding_.input, in.data(), in_bytes_[0], cudaMemcpyHostToDevice, s));
    for (auto& st : steps_)
        if (st.enabled) ITSCAM_RETURN_IF_ERROR(st.fn(s).with_context(st.name));
    std::vector<float> generic(out_bytes_[0] / 4), fused(out_bytes_[0] / 4);
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(generic.data(), binding_.output, out_bytes_[0], cudaMemcpyDeviceToHost, s));
    ITSCAM_RETURN_IF_ERROR(steps_[head_step_].fn(s).with_context("detect_head"));
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(fused.data(), binding_.output, out_bytes_[0], cudaMemcpyDeviceToHost, s));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    const Shape os = vals_[g_.outputs[0]].shape;
    const int64_t A = os[2], C = os[1];
    const bool f16 = act_ == DType::kF16;
    double worst_box = 0, worst_score = 0;
    bool ok = true;
    for (int64_t n = 0; n < os[0]; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t a = 0; a < A; ++a) {
                const size_t i = static_cast<size_t>((n * C + c) * A + a);
                const double g = generic[i], f = fused[i], d = std::fabs(g - f);
                if (c < 4) {
                    worst_box = std::max(worst_box, d);
                    ok &= d <= (f16 ? 1.0 + 4e-3 * std::fabs(g) : 1e-2 + 1e-4 * std::fabs(g));
                } else {
                    worst_score = std::max(worst_score, d);
                    ok &= d <= (f16 ? 2e-3 : 1e-5);
                }
                ok &= std::isfinite(f) == std::isfinite(g);
            }
    std::ostringstream st;
    st << (ok ? "on" : "off (disagrees with the generic head)") << ", max |box delta| " << worst_box
       << " px, max |score delta| " << worst_score;
    head_state_ = st.str();
    if (!ok) {
        std::fprintf(stderr, "itscam cuda: fused detect head %s; keeping the generic head\n", head_state_.c_str());
        return Status::ok();
    }
    for (int i : head_generic_steps_) steps_[i].enabled = false;
    steps_[head_step_].enabled = true;
    return Status::ok();
}

// Plans the arena (first fit over lifetimes, largest first), allocates it and every persistent buffer, and uploads
// the weights.
Status CudaCompiled::allocate() {
    std::vector<int> order;
    for (size_t i = 0; i < bufs_.size(); ++i)
        if (!bufs_[i].persistent && bufs_[i].first >= 0) order.push_back(static_cast<int>(i));
    std::sort(order.begin(), order.end(), [&](int a, int b) { return bufs_[a].bytes > bufs_[b].bytes; });
    std::vector<int> placed;
    size_t arena = 0;
    for (int i : order) {
        Buffer& b = bufs_[i];
        std::vector<std::pair<size_t, size_t>> busy;
        for (int j : placed) {
            const Buffer& o = bufs_[j];
            if (o.last < b.first || b.last < o.first) continue;
            busy.emplace_back(o.offset, o.offset + o.bytes);
        }
        std::sort(busy.begin(), busy.end());
        size_t off = 0;
        for (const auto& [s, e] : busy) {
            if (off + b.bytes <= s) break;
            off = std::max(off, e);
        }
        b.offset = off;
        arena = std::max(arena, off + b.bytes);
        placed.push_back(i);
    }
    size_t persistent_bytes = 0;
    for (const auto& b : bufs_)
        if (b.persistent) persistent_bytes += b.bytes;
    // The budget covers the arena, weights/inputs/outputs and the cuBLAS workspace; convolution workspaces are
    // reserved once their size is known (choose_algorithms).
    reserved_ = arena + persistent_bytes + kCublasWorkspace;
    ITSCAM_RETURN_IF_ERROR(csl::memory_reserve(device_, reserved_, "this engine"));
    ITSCAM_ASSIGN_OR_RETURN(arena_, csl::device_alloc(arena));
    bytes_ = arena;
    for (auto& b : bufs_) {
        if (!b.persistent) continue;
        ITSCAM_ASSIGN_OR_RETURN(csl::DeviceMem m, csl::device_alloc(b.bytes));
        b.ptr = m.get();
        bytes_ += b.bytes;
        persistent_.push_back(std::move(m));
    }
    for (const auto& [buf, bytes] : uploads_)
        if (!bytes.empty())
            ITSCAM_CUDA_CHECK(cudaMemcpyAsync(bufs_[buf].ptr, bytes.data(), bytes.size(), cudaMemcpyHostToDevice,
                                              stream_.get()));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    uploads_.clear();
    ITSCAM_ASSIGN_OR_RETURN(cublas_ws_, csl::device_alloc(kCublasWorkspace));
    ITSCAM_CUBLAS_CHECK(cublasSetWorkspace(cublas_.get(), cublas_ws_.get(), kCublasWorkspace));
    bytes_ += kCublasWorkspace;
    size_t in_total = 0, out_total = 0;
    for (size_t b : in_bytes_) in_total += align_up(b);
    for (size_t b : out_bytes_) out_total += align_up(b);
    ITSCAM_ASSIGN_OR_RETURN(in_host_, csl::pinned_alloc(in_total));
    ITSCAM_ASSIGN_OR_RETURN(out_host_, csl::pinned_alloc(out_total));
    binding_.input = in_bufs_.empty() ? nullptr : bufs_[in_bufs_[0]].ptr;
    binding_.output = out_bufs_.empty() ? nullptr : bufs_[out_bufs_[0]].ptr;
    binding_.stream = &stream_.lease();
    binding_.device_id = device_;
    return Status::ok();
}

// Per convolution: the plan's algorithm, else the fastest measured one (cudnnFind...Ex on the real buffers), else
// cuDNN's heuristic choice; then one workspace sized for the largest choice.
// Average time of one step over `reps` runs (after one warm-up run), with events.
Result<double> CudaCompiled::time_step(int step, int reps) {
    cudaStream_t st = stream_.get();
    ITSCAM_ASSIGN_OR_RETURN(csl::Event e0, csl::make_event(true));
    ITSCAM_ASSIGN_OR_RETURN(csl::Event e1, csl::make_event(true));
    ITSCAM_RETURN_IF_ERROR(steps_[step].fn(st));
    ITSCAM_CUDA_CHECK(cudaEventRecord(e0.get(), st));
    for (int i = 0; i < reps; ++i) ITSCAM_RETURN_IF_ERROR(steps_[step].fn(st));
    ITSCAM_CUDA_CHECK(cudaEventRecord(e1.get(), st));
    ITSCAM_CUDA_CHECK(cudaEventSynchronize(e1.get()));
    float ms = 0.f;
    ITSCAM_CUDA_CHECK(cudaEventElapsedTime(&ms, e0.get(), e1.get()));
    return static_cast<double>(ms) / reps;
}

// The fused graph-API alternative of one convolution: the plan's choice, or (autotuning) each finalizable engine
// timed against the legacy convolution + epilogue, keeping the fastest.
Status CudaCompiled::choose_fused(ConvLayer& L, bool find, size_t ws_limit, void* ws) {
    const auto planned = tuned_fused_in_.find(L.node);
    const bool from_plan = planned != tuned_fused_in_.end();
    if (!from_plan && !find && !L.must_fuse) return Status::ok();
    FusedConvSpec fs = L.spec;
    fs.x = ptr(L.x);
    fs.wt = ptr(View{L.w_buf, 0, 0});
    fs.b = ptr(L.bias_act);
    fs.res = L.res.valid() ? ptr(L.res) : nullptr;
    fs.y = ptr(L.y_final);
    auto fc = FusedConv::create(cudnn_.get(), fs, from_plan ? planned->second + 1 : 4, ws_limit);
    if (!fc.is_ok()) {
        if (from_plan || L.must_fuse)
            return fc.status().with_context("the plan's fused engine for '" + L.node +
                                            "' is not available here: rebuild the plan with `itscam optimize`");
        return Status::ok();  // not fusable on this cuDNN/GPU: keep the legacy path
    }
    L.fused = std::move(*fc);
    if (from_plan) {
        if (planned->second >= L.fused->num_plans())
            return invalid_argument("the plan's fused engine " + std::to_string(planned->second) + " for '" + L.node +
                                    "' is not available here: rebuild the plan with `itscam optimize`");
        L.fused_plan = planned->second;
        return Status::ok();
    }
    ws_ptr_ = ws;
    L.fused_plan = -1;
    double best = 1e30;
    if (!L.must_fuse) {
        ITSCAM_ASSIGN_OR_RETURN(best, time_step(L.step, 3));
    }
    int best_plan = -1;
    for (int i = 0; i < L.fused->num_plans(); ++i) {
        L.fused_plan = i;
        auto t = time_step(L.step, 3);
        if (t.is_ok() && *t < best) {
            best = *t;
            best_plan = i;
        }
    }
    L.fused_plan = best_plan;
    if (best_plan < 0) {
        L.fused.reset();
        if (L.must_fuse) return unsupported("convolution '" + L.node + "': no engine runs on its strided input");
    }
    return Status::ok();
}

// Per convolution: the plan's algorithm, else the fastest measured one (cudnnFind...Ex on the real buffers), else
// cuDNN's heuristic choice; then the fused alternative where it is faster; then one workspace sized for the
// largest choice.
Status CudaCompiled::choose_algorithms() {
    csl::DeviceMem tune_ws;
    size_t tune_ws_bytes = 0;
    const bool planned = !tuned_in_.empty() || !tuned_fused_in_.empty();
    const bool find = opt_.autotune && !planned;
    {
        size_t free_b = 0, total_b = 0;
        ITSCAM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
        tune_ws_bytes = std::min(kMaxConvWorkspace, free_b / 4);
        ITSCAM_ASSIGN_OR_RETURN(tune_ws, csl::device_alloc(tune_ws_bytes));
    }
    ws_ptr_ = tune_ws.get();
    for (auto& L : convs_) {
        auto it = tuned_in_.find(L->node);
        if (L->must_fuse) {
            if (planned && !tuned_fused_in_.count(L->node))
                return invalid_argument("the plan's tuning has no fused entry for convolution '" + L->node +
                                        "': rebuild the plan with `itscam optimize`");
        } else if (planned) {
            if (it == tuned_in_.end() && !tuned_fused_in_.count(L->node))
                return invalid_argument("the plan's tuning has no entry for convolution '" + L->node +
                                        "': rebuild the plan with `itscam optimize`");
            if (it != tuned_in_.end()) L->algo = it->second;
        } else {
            cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
            int returned = 0;
            bool chosen = false;
            if (find) {
                const cudnnStatus_t s = cudnnFindConvolutionForwardAlgorithmEx(
                    cudnn_.get(), L->xd.get(), ptr(L->x), L->wd.get(), ptr(View{L->w_buf, 0, 0}), L->cd.get(),
                    L->yd.get(), ptr(L->y), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf, tune_ws.get(),
                    tune_ws_bytes);
                for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < returned && !chosen; ++i)
                    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= tune_ws_bytes) {
                        L->algo = perf[i].algo;
                        chosen = true;
                    }
            }
            if (!chosen) {
                ITSCAM_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cudnn_.get(), L->xd.get(), L->wd.get(),
                                                                         L->cd.get(), L->yd.get(),
                                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
                                                                         perf));
                for (int i = 0; i < returned && !chosen; ++i)
                    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxConvWorkspace) {
                        L->algo = perf[i].algo;
                        chosen = true;
                    }
            }
            if (!chosen) return unsupported("cuDNN has no algorithm for convolution '" + L->node + "'");
        }
        if (!L->must_fuse && (!planned || it != tuned_in_.end())) {
            const Status ws = csl::cudnn_status(
                cudnnGetConvolutionForwardWorkspaceSize(cudnn_.get(), L->xd.get(), L->wd.get(), L->cd.get(),
                                                        L->yd.get(), L->algo, &L->ws),
                "cudnnGetConvolutionForwardWorkspaceSize");
            if (!ws)
                return ws.with_context("convolution '" + L->node + "' (algorithm " + std::to_string(L->algo) + ")");
        }
        if (L->fusable) ITSCAM_RETURN_IF_ERROR(choose_fused(*L, find, tune_ws_bytes, tune_ws.get()));
        if (L->fused_plan >= 0) {
            L->ws = L->fused->workspace(L->fused_plan);
            L->choice = "fused " + L->fused->engine_name(L->fused_plan);
            ++fused_convs_;
        } else {
            L->choice = "cudnn algo " + std::to_string(L->algo) + " + epilogue";
        }
        conv_ws_bytes_ = std::max(conv_ws_bytes_, L->ws);
    }
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    tune_ws.reset();
    ws_ptr_ = nullptr;
    if (conv_ws_bytes_) {
        ITSCAM_RETURN_IF_ERROR(csl::memory_reserve(device_, conv_ws_bytes_, "the convolution workspace"));
        reserved_ += conv_ws_bytes_;
        ITSCAM_ASSIGN_OR_RETURN(conv_ws_, csl::device_alloc(conv_ws_bytes_));
        bytes_ += conv_ws_bytes_;
        ws_ptr_ = conv_ws_.get();
    }
    return Status::ok();
}

Status CudaCompiled::launch(cudaStream_t s) {
    if (exec_) return csl::cuda_status(cudaGraphLaunch(exec_.get(), s), "cudaGraphLaunch");
    if (!profile_) {
        for (auto& st : steps_)
            if (st.enabled) ITSCAM_RETURN_IF_ERROR(st.fn(s).with_context(st.name));
        return Status::ok();
    }
    if (prof_events_.empty()) {
        for (size_t i = 0; i <= steps_.size(); ++i) {
            ITSCAM_ASSIGN_OR_RETURN(csl::Event e, csl::make_event(true));
            prof_events_.push_back(std::move(e));
        }
        step_ms_.assign(steps_.size(), 0.0);
    }
    ITSCAM_CUDA_CHECK(cudaEventRecord(prof_events_[0].get(), s));
    for (size_t i = 0; i < steps_.size(); ++i) {
        if (steps_[i].enabled) ITSCAM_RETURN_IF_ERROR(steps_[i].fn(s).with_context(steps_[i].name));
        ITSCAM_CUDA_CHECK(cudaEventRecord(prof_events_[i + 1].get(), s));
    }
    ITSCAM_CUDA_CHECK(cudaEventSynchronize(prof_events_.back().get()));
    for (size_t i = 0; i < steps_.size(); ++i) {
        float ms = 0.f;
        ITSCAM_CUDA_CHECK(cudaEventElapsedTime(&ms, prof_events_[i].get(), prof_events_[i + 1].get()));
        step_ms_[i] += ms;
    }
    ++profiled_runs_;
    return Status::ok();
}

// One eager run (checks every step and warms cuDNN/cuBLAS up), then the capture of the whole step list.
Status CudaCompiled::capture() {
    cudaStream_t s = stream_.get();
    ITSCAM_CUDA_CHECK(cudaMemsetAsync(binding_.input, 0, in_bytes_.empty() ? 0 : in_bytes_[0], s));
    for (auto& st : steps_)
        if (st.enabled) ITSCAM_RETURN_IF_ERROR(st.fn(s).with_context(st.name));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    if (!use_graph_) return Status::ok();
    ITSCAM_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    Status st_all;
    for (auto& st : steps_) {
        if (!st.enabled) continue;
        st_all = st.fn(s).with_context(st.name);
        if (!st_all) break;
    }
    cudaGraph_t graph = nullptr;
    const cudaError_t end = cudaStreamEndCapture(s, &graph);
    csl::Graph g(graph);
    ITSCAM_RETURN_IF_ERROR(st_all);
    ITSCAM_CUDA_CHECK(end);
    cudaGraphExec_t exec = nullptr;
    ITSCAM_CUDA_CHECK(cudaGraphInstantiate(&exec, g.get(), 0));
    exec_ = csl::GraphExec(exec);
    ITSCAM_CUDA_CHECK(cudaGraphUpload(exec_.get(), s));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::ok();
}

Status CudaCompiled::run_device() {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(device_));
    return launch(stream_.get());
}

Status CudaCompiled::run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(device_));
    if (inputs.size() != in_bufs_.size())
        return invalid_argument("expected " + std::to_string(in_bufs_.size()) + " inputs, got " +
                                std::to_string(inputs.size()));
    cudaStream_t s = stream_.get();
    char* host_in = static_cast<char*>(in_host_.get());
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Val& v = vals_[g_.inputs[i]];
        if (inputs[i].dtype() != DType::kF32 || inputs[i].shape() != v.shape)
            return invalid_argument("input '" + g_.inputs[i] + "' must be float32 " + shape_text(v.shape) + ", got " +
                                    dtype_name(inputs[i].dtype()) + " " + shape_text(inputs[i].shape()));
        std::memcpy(host_in, inputs[i].raw(), in_bytes_[i]);
        ITSCAM_CUDA_CHECK(cudaMemcpyAsync(bufs_[in_bufs_[i]].ptr, host_in, in_bytes_[i], cudaMemcpyHostToDevice, s));
        host_in += align_up(in_bytes_[i]);
    }
    ITSCAM_RETURN_IF_ERROR(launch(s));
    char* host_out = static_cast<char*>(out_host_.get());
    std::vector<char*> outs;
    for (size_t i = 0; i < out_bufs_.size(); ++i) {
        ITSCAM_CUDA_CHECK(cudaMemcpyAsync(host_out, bufs_[out_bufs_[i]].ptr, out_bytes_[i], cudaMemcpyDeviceToHost, s));
        outs.push_back(host_out);
        host_out += align_up(out_bytes_[i]);
    }
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    outputs.clear();
    for (size_t i = 0; i < out_bufs_.size(); ++i) {
        std::shared_ptr<std::byte> view(reinterpret_cast<std::byte*>(outs[i]), [](std::byte*) {});
        outputs.push_back(Tensor::from_buffer(DType::kF32, vals_[g_.outputs[i]].shape, view));
    }
    return Status::ok();
}

Result<std::vector<double>> CudaCompiled::device_times(int iters) {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(device_));
    cudaStream_t s = stream_.get();
    std::vector<csl::Event> ev;
    for (int i = 0; i <= iters; ++i) {
        ITSCAM_ASSIGN_OR_RETURN(csl::Event e, csl::make_event(true));
        ev.push_back(std::move(e));
    }
    ITSCAM_CUDA_CHECK(cudaEventRecord(ev[0].get(), s));
    for (int i = 0; i < iters; ++i) {
        ITSCAM_RETURN_IF_ERROR(launch(s));
        ITSCAM_CUDA_CHECK(cudaEventRecord(ev[i + 1].get(), s));
    }
    ITSCAM_CUDA_CHECK(cudaEventSynchronize(ev.back().get()));
    std::vector<double> ms;
    for (int i = 0; i < iters; ++i) {
        float t = 0.f;
        ITSCAM_CUDA_CHECK(cudaEventElapsedTime(&t, ev[i].get(), ev[i + 1].get()));
        ms.push_back(t);
    }
    return ms;
}

std::string CudaCompiled::describe() const {
    std::ostringstream os;
    os << "cuda:" << device_ << " " << dtype_name(act_) << ", " << steps_.size() << " steps"
       << (exec_ ? " in one CUDA Graph" : " (eager)") << ", arena+weights " << bytes_ / (1 << 20) << " MiB, "
       << "concat members placed " << placed_members_ << " / copied " << copied_members_ << ", strided conv inputs "
       << strided_conv_inputs_ << " / packed " << packed_conv_inputs_ << ", fused convolutions " << fused_convs_ << " / "
       << convs_.size() << ", fused detect head " << head_state_ << ", latency kernels "
       << (latency_kernels_ ? "on" : "off") << "\n";
    size_t conv = 0;
    for (const auto& st : steps_) {
        os << (st.enabled ? "" : "(off) ") << st.name << "  " << st.desc;
        if (conv < convs_.size() && convs_[conv]->node == st.name) {
            os << " [" << convs_[conv]->choice << ", ws " << convs_[conv]->ws / 1024 << " KiB]";
            ++conv;
        }
        os << "\n";
    }
    return os.str();
}

std::string CudaCompiled::tuning() const {
    std::ostringstream os;
    for (const auto& L : convs_) {
        if (L->fused_plan >= 0)
            os << L->node << " fused=" << L->fused_plan << "\n";
        else
            os << L->node << " algo=" << static_cast<int>(L->algo) << "\n";
    }
    return os.str();
}

void CudaCompiled::print_profile() const {
    if (!profile_ || profiled_runs_ == 0) return;
    double total = 0;
    for (double v : step_ms_) total += v;
    std::vector<size_t> idx(step_ms_.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return step_ms_[a] > step_ms_[b]; });
    std::fprintf(stderr, "CUDA profile: %d runs, %.3f ms per run over %zu steps (eager, events around each step)\n",
                 profiled_runs_, total / profiled_runs_, steps_.size());
    const std::string d = describe();
    std::fprintf(stderr, "  %s\n", d.substr(0, d.find('\n')).c_str());
    std::map<std::string, double> by_kind;
    for (size_t i = 0; i < steps_.size(); ++i) {
        const std::string& d = steps_[i].desc;
        by_kind[d.substr(0, d.find(' '))] += step_ms_[i];
    }
    for (const auto& [k, v] : by_kind)
        std::fprintf(stderr, "  %-12s %8.4f ms  %5.1f%%\n", k.c_str(), v / profiled_runs_, 100.0 * v / total);
    for (size_t k = 0; k < idx.size() && k < 40; ++k) {
        const size_t i = idx[k];
        std::fprintf(stderr, "  %8.4f ms  %5.1f%%  %s  %s\n", step_ms_[i] / profiled_runs_, 100.0 * step_ms_[i] / total,
                     steps_[i].name.c_str(), steps_[i].desc.c_str());
    }
}

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(int device, std::string key) : device_(device), key_(std::move(key)) {}
    std::string name() const override { return "cuda"; }
    std::string target_key() const override { return key_; }
    Status supports(const Graph& g, const Node& n) const override {
        CudaCompiled probe(g, BackendOptions{}, device_);
        if (probe.classify(n) == Kind::kUnsupported) return unsupported(n.label() + " has no CUDA implementation");
        return Status::ok();
    }
    Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& opt) const override {
        auto c = std::make_unique<CudaCompiled>(g, opt, device_);
        ITSCAM_RETURN_IF_ERROR(c->build());
        return std::unique_ptr<CompiledGraph>(std::move(c));
    }

private:
    int device_;
    std::string key_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_cuda_backend(int device_id) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return unavailable(std::string("no CUDA device is available (cudaGetDeviceCount: ") +
                           (e == cudaSuccess ? "0 devices" : cudaGetErrorString(e)) + ")");
    if (device_id < 0 || device_id >= count)
        return invalid_argument("device cuda:" + std::to_string(device_id) + " does not exist (" +
                                std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") + ")");
    cudaDeviceProp prop{};
    ITSCAM_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_id));
    int rt = 0;
    cudaRuntimeGetVersion(&rt);
    std::ostringstream key;
    key << "cuda|" << prop.name << "|sm_" << prop.major << prop.minor << "|cudnn " << cudnnGetVersion() << "|cudart "
        << rt;
    return std::unique_ptr<Backend>(std::make_unique<CudaBackend>(device_id, key.str()));
}

}  // namespace itscam
