// The CPU backend on oneDNN.
//
// Layout choice: convolutions, pooling, nearest resize, channel Concat/Split and same-shape element-wise ops run
// on dense NHWC ("channels last") buffers, which oneDNN's AVX-512 convolutions read and write directly; every
// other op (the detection head's Reshape/Transpose/Softmax, the attention MatMuls) runs on plain row-major
// tensors. A value crosses layouts through a oneDNN reorder placed right after its producer, and only when a
// consumer needs the other layout. Conv bias + SiLU and the bottleneck residual Add run as oneDNN post-ops.
//
// Precision: fp32, or opt-in bf16 where the NHWC activations and conv weights are bfloat16 (f32 accumulation;
// AVX512-BF16 or AMX needed, else compile() says so). Memory: every buffer is allocated at compile time; run()
// allocates only for the few generic ops that fall back to reference kernels (none in YOLO11 detect graphs).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <set>
#include <sstream>

#include "backend/backend.h"
#include "backend/cpu/cpu_kernels.h"
#include "ops/conv_params.h"
#include "ops/op_registry.h"
#include "ops/resize_params.h"

namespace itscam {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

enum class Kind { kConv, kPool, kResize, kConcat, kSplit, kEltNhwc, kSigmoidNhwc,  // NHWC kinds
                  kView, kTranspose, kSoftmax, kEltPlain, kEltBroadcast, kSigmoidPlain, kMatMul, kConcatPlain,
                  kSplitPlain, kSlice, kDfl, kGeneric };

bool is_nhwc_kind(Kind k) { return k <= Kind::kSigmoidNhwc; }

struct Slot {
    Shape shape;
    DType dtype = DType::kF32;
    Tensor plain;  // row-major buffer (preallocated, or set per run by view/generic steps)
    Tensor nhwc;   // channels-last buffer in the activation dtype
    bool producer_nhwc = false;
    bool need_plain = false;
    bool need_nhwc = false;
    bool plain_prealloc = false;
    bool need_q = false;  // an int8 convolution reads it: keep a uint8 copy (asymmetric, per-tensor)
    bool q_only = false;  // only int8 convolutions read it and a convolution makes it: it exists only as uint8
    Tensor q;
    float q_scale = 1.f;
    int32_t q_zero = 0;
};

memory::dims to_dims(const Shape& s) { return memory::dims(s.begin(), s.end()); }

Status dnnl_status(const dnnl::error& e, const std::string& what) {
    return Status(StatusCode::kDevice, what + ": oneDNN error " + std::to_string(static_cast<int>(e.status)) + " " +
                                          e.what());
}

// The fused activation of a Conv as a oneDNN post-op (none for no activation).
Status append_activation(const Node& n, dnnl::post_ops& po) {
    const std::string act = n.attr_string("activation", "");
    if (act == "silu") po.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
    else if (act == "relu") po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    else if (act == "sigmoid") po.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
    else if (act == "leaky_relu")
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, n.attr_float("activation_alpha", 0.01f), 0.f);
    else if (!act.empty() && act != "none") return unsupported(n.label() + ": activation '" + act + "'");
    return Status::ok();
}

// Add/Sub/Mul/Div -> our element-wise kernel's op.
cpu::EltOp elt_op(const std::string& op) {
    return op == "Add" ? cpu::EltOp::kAdd : op == "Sub" ? cpu::EltOp::kSub : op == "Mul" ? cpu::EltOp::kMul
                                                                                     : cpu::EltOp::kDiv;
}

class CpuCompiled final : public CompiledGraph {
public:
    CpuCompiled(const Graph& g, const BackendOptions& opt) : g_(g), opt_(opt), profile_(std::getenv("ITSCAM_PROFILE")) {}
    ~CpuCompiled() override { print_profile(); }

    Status build();
    Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) override;
    size_t memory_bytes() const override { return bytes_; }
    std::string describe() const override {
        std::ostringstream os;
        for (const auto& d : desc_) os << d << "\n";
        return os.str();
    }

private:
    Kind classify(const Node& n) const;
    Status add_conv(const Node& n, bool int8);
    void add_quantize(const std::string& v);
    bool int8_eligible(const Node& n) const;
    ActivationRanges collected_ranges() const override { return collected_; }
    Status add_pool(const Node& n);
    Status add_resize(const Node& n);
    Status add_matmul(const Node& n);
    void add_reorder(const std::string& v, bool to_nhwc);
    memory nhwc_mem(const std::string& v) {
        Slot& s = slots_.at(v);
        return memory({to_dims(s.shape), act_dt_, tag::nhwc}, eng_, s.nhwc.raw());
    }
    Tensor& plain(const std::string& v) { return slots_.at(v).plain; }
    const Tensor* const_or_plain(const std::string& v) {
        if (const Tensor* c = g_.constant(v)) return c;
        return &slots_.at(v).plain;
    }

    Graph g_;
    BackendOptions opt_;
    dnnl::engine eng_{dnnl::engine::kind::cpu, 0};
    dnnl::stream strm_{eng_};
    bool int8_ = false;
    ActivationRanges collected_;
    std::vector<std::string> range_values_;  // conv inputs whose ranges a calibration run records
    dt act_dt_ = dt::f32;
    DType act_dtype_ = DType::kF32;
    std::map<std::string, Slot> slots_;
    std::vector<std::function<Status()>> steps_;
    std::vector<std::string> desc_;
    std::vector<Tensor> keep_;  // reordered weights and other compile-time buffers
    // ITSCAM_PROFILE=1: per-step wall time, printed (slowest first) when the compiled graph is destroyed.
    bool profile_ = false;
    std::vector<double> step_ms_;
    int profiled_runs_ = 0;
    void print_profile() const;
    size_t bytes_ = 0;
};

Kind CpuCompiled::classify(const Node& n) const {
    auto rank4 = [&](const std::string& v) {
        const ValueInfo* vi = g_.info(v);
        return vi && vi->shape.size() == 4 && vi->dtype == DType::kF32;
    };
    auto all_inputs_dynamic = [&] {
        for (size_t i = 0; i < n.num_inputs(); ++i)
            if (n.inputs[i].empty() || g_.is_constant(n.inputs[i])) return false;
        return true;
    };
    if (n.op == "Conv" && rank4(n.inputs[0]) && g_.is_constant(n.inputs[1]) &&
        (n.num_inputs() < 3 || g_.is_constant(n.inputs[2])) && (n.num_inputs() < 4 || !g_.is_constant(n.inputs[3])))
        return Kind::kConv;
    if ((n.op == "MaxPool" || n.op == "AveragePool") && rank4(n.inputs[0]) && n.outputs.size() == 1)
        return Kind::kPool;
    if (n.op == "Resize" && rank4(n.inputs[0])) {
        auto p = resize_params(g_, n, g_.info(n.inputs[0])->shape);
        const Shape& in = g_.info(n.inputs[0])->shape;
        if (p && p->out[0] == in[0] && p->out[1] == in[1]) return Kind::kResize;
    }
    if (n.op == "Concat" && all_inputs_dynamic() && rank4(n.outputs[0]) &&
        (n.attr_int("axis", 0) == 1 || n.attr_int("axis", 0) == -3))
        return Kind::kConcat;
    if (n.op == "Split" && rank4(n.inputs[0]) && (n.attr_int("axis", 0) == 1 || n.attr_int("axis", 0) == -3) &&
        (n.num_inputs() < 2 || g_.is_constant(n.inputs[1])))
        return Kind::kSplit;
    const bool same_shape_binary = (n.op == "Add" || n.op == "Sub" || n.op == "Mul" || n.op == "Div") &&
                                   all_inputs_dynamic() && g_.info(n.inputs[0])->shape == g_.info(n.inputs[1])->shape &&
                                   g_.info(n.inputs[0])->dtype == DType::kF32;
    if (same_shape_binary) return rank4(n.inputs[0]) && act_dtype_ == DType::kF32 ? Kind::kEltNhwc : Kind::kEltPlain;
    if ((n.op == "Add" || n.op == "Sub" || n.op == "Mul" || n.op == "Div") &&
        g_.info(n.inputs[0])->dtype == DType::kF32 && g_.info(n.inputs[1])->dtype == DType::kF32 &&
        !(g_.is_constant(n.inputs[0]) && g_.is_constant(n.inputs[1])))
        return Kind::kEltBroadcast;
    if (n.op == "Concat") return Kind::kConcatPlain;
    if (n.op == "DflDecode" && !g_.is_constant(n.inputs[0]) && g_.is_constant(n.inputs[1]) &&
        g_.info(n.inputs[0])->dtype == DType::kF32)
        return Kind::kDfl;
    if (n.op == "Split" && (n.num_inputs() < 2 || g_.is_constant(n.inputs[1]))) return Kind::kSplitPlain;
    if (n.op == "Slice") {
        bool consts = !g_.is_constant(n.inputs[0]);
        for (size_t i = 1; i < n.num_inputs(); ++i) consts &= n.inputs[i].empty() || g_.is_constant(n.inputs[i]);
        if (consts) return Kind::kSlice;
    }
    if (n.op == "Sigmoid" && g_.info(n.inputs[0])->dtype == DType::kF32)
        return rank4(n.inputs[0]) && act_dtype_ == DType::kF32 ? Kind::kSigmoidNhwc : Kind::kSigmoidPlain;
    if ((n.op == "Reshape" || n.op == "Flatten" || n.op == "Squeeze" || n.op == "Unsqueeze" || n.op == "Identity") &&
        !g_.is_constant(n.inputs[0]))
        return Kind::kView;
    if (n.op == "Transpose" && !g_.is_constant(n.inputs[0])) return Kind::kTranspose;
    if (n.op == "Softmax" && g_.info(n.inputs[0])->dtype == DType::kF32) return Kind::kSoftmax;
    if (n.op == "MatMul" && all_inputs_dynamic() && g_.info(n.inputs[0])->dtype == DType::kF32 &&
        g_.info(n.inputs[0])->shape.size() >= 2 && g_.info(n.inputs[1])->shape.size() >= 2)
        return Kind::kMatMul;
    return Kind::kGeneric;
}

// One oneDNN reorder between the plain f32 buffer and the NHWC buffer (in the activation dtype) of `v`.
void CpuCompiled::add_reorder(const std::string& v, bool to_nhwc) {
    Slot& s = slots_.at(v);
    const memory::desc plain_md(to_dims(s.shape), dt::f32, tag::nchw), nhwc_md(to_dims(s.shape), act_dt_, tag::nhwc);
    const memory::desc src_md = to_nhwc ? plain_md : nhwc_md, dst_md = to_nhwc ? nhwc_md : plain_md;
    dnnl::reorder r(dnnl::reorder::primitive_desc(eng_, src_md, eng_, dst_md));
    desc_.push_back("  reorder " + v + (to_nhwc ? " nchw->nhwc" : " nhwc->nchw"));
    steps_.push_back([this, v, r, src_md, dst_md, to_nhwc]() -> Status {
        Slot& s = slots_.at(v);
        memory src(src_md, eng_, to_nhwc ? s.plain.raw() : s.nhwc.raw());
        memory dst(dst_md, eng_, to_nhwc ? s.nhwc.raw() : s.plain.raw());
        r.execute(strm_, src, dst);
        return Status::ok();
    });
}

// int8 pays off on the convolutions that carry the FLOPs. The first convolution (3 input channels) and those
// whose output leaves for plain consumers (the Detect head's box/class logits, the attention qkv) stay in bf16:
// they are cheap, and their outputs are the most precision-sensitive values of the network.
bool CpuCompiled::int8_eligible(const Node& n) const {
    if (n.attr_int("group", 1) != 1 || !opt_.ranges.count(n.inputs[0])) return false;
    const Slot& x = slots_.at(n.inputs[0]);
    const Slot& y = slots_.at(n.outputs[0]);
    return x.shape[1] >= 8 && !y.need_plain;
}

void CpuCompiled::add_quantize(const std::string& v) {
    Slot& s = slots_.at(v);
    memory::desc src_md(to_dims(s.shape), act_dt_, tag::nhwc), dst_md(to_dims(s.shape), dt::u8, tag::nhwc);
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {1.f / s.q_scale});
    attr.set_zero_points(DNNL_ARG_DST, 0, {s.q_zero});
    dnnl::reorder r(dnnl::reorder::primitive_desc(eng_, src_md, eng_, dst_md, attr));
    desc_.push_back("  quantize " + v + " -> u8 (scale " + std::to_string(s.q_scale) + ", zero " +
                    std::to_string(s.q_zero) + ")");
    steps_.push_back([this, v, r, src_md, dst_md]() -> Status {
        Slot& s = slots_.at(v);
        memory src(src_md, eng_, s.nhwc.raw()), dst(dst_md, eng_, s.q.raw());
        r.execute(strm_, src, dst);
        return Status::ok();
    });
}

Status CpuCompiled::add_conv(const Node& n, bool int8) {
    const Slot& xs = slots_.at(n.inputs[0]);
    const Tensor& w = *g_.constant(n.inputs[1]);
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs.shape, w.shape(), false));
    const bool grouped = p.group > 1;
    Tensor wf = w.cast(DType::kF32);
    memory::dims wdims = grouped ? memory::dims{p.group, p.oc / p.group, p.c / p.group, p.kh, p.kw}
                                 : memory::dims{p.oc, p.c, p.kh, p.kw};
    memory::desc src_md(to_dims(xs.shape), int8 ? dt::u8 : act_dt_, tag::nhwc);
    const Slot& ys = slots_.at(n.outputs[0]);
    const bool out_q = ys.q_only;
    memory::desc dst_md({p.n, p.oc, p.oh, p.ow}, out_q ? dt::u8 : act_dt_, tag::nhwc);
    memory::desc w_any(wdims, int8 ? dt::s8 : act_dt_, tag::any);
    // int8: per-output-channel symmetric weights. oneDNN 2.x computes dst = scale[oc] * (acc + bias), so the bias
    // is divided by the scale, scale[oc] = x_scale * w_scale[oc].
    std::vector<float> out_scales;
    Tensor wq;
    if (int8) {
        const int64_t per = wf.numel() / p.oc;
        wq = Tensor::empty(DType::kI8, wf.shape());
        out_scales.resize(p.oc);
        for (int64_t o = 0; o < p.oc; ++o) {
            float amax = 0.f;
            for (int64_t j = 0; j < per; ++j) amax = std::max(amax, std::fabs(wf.data<float>()[o * per + j]));
            const float ws = amax > 0.f ? amax / 127.f : 1.f;
            for (int64_t j = 0; j < per; ++j)
                wq.data<int8_t>()[o * per + j] = static_cast<int8_t>(
                    std::clamp(std::nearbyint(wf.data<float>()[o * per + j] / ws), -127.f, 127.f));
            out_scales[o] = xs.q_scale * ws;
        }
    }
    memory::desc b_md({p.oc}, dt::f32, tag::a);
    const bool has_bias = n.num_inputs() > 2 && !n.inputs[2].empty();
    const bool has_res = n.num_inputs() > 3 && !n.inputs[3].empty();
    dnnl::post_ops po;
    const std::string act = n.attr_string("activation", "");
    ITSCAM_RETURN_IF_ERROR(append_activation(n, po));
    const int res_index = po.len();  // post-op index of the residual, for its argument id
    if (has_res)
        po.append_binary(dnnl::algorithm::binary_add, memory::desc({p.n, p.oc, p.oh, p.ow}, act_dt_, tag::nhwc));
    // uint8 output: q = y / scale + zero, rounded and saturated by the conversion to the destination type.
    if (out_q) po.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f / ys.q_scale, static_cast<float>(ys.q_zero));
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    if (int8) {
        attr.set_output_scales(1 << 1, out_scales);
        attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    }
    dnnl::convolution_forward::primitive_desc pd;
    try {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                          src_md, w_any, b_md, dst_md, {p.sh, p.sw}, {p.dh - 1, p.dw - 1},
                                          {p.pt, p.pl}, {p.pb, p.pr});
        pd = dnnl::convolution_forward::primitive_desc(d, attr, eng_);
    } catch (const dnnl::error& e) {
        return dnnl_status(e, n.label());
    }
    // Weights: reorder once into the layout the chosen implementation wants.
    memory user_w({wdims, int8 ? dt::s8 : dt::f32, grouped ? tag::goihw : tag::oihw}, eng_,
                  int8 ? wq.raw() : wf.raw());
    Tensor wbuf = Tensor::empty(DType::kU8, {static_cast<int64_t>(pd.weights_desc().get_size())});
    memory wmem(pd.weights_desc(), eng_, wbuf.raw());
    dnnl::reorder(user_w, wmem).execute(strm_, user_w, wmem);
    strm_.wait();
    keep_.push_back(wbuf);
    bytes_ += wbuf.nbytes();
    Tensor bias = has_bias ? g_.constant(n.inputs[2])->cast(DType::kF32) : Tensor::zeros(DType::kF32, {p.oc});
    if (int8)
        for (int64_t o = 0; o < p.oc; ++o) bias.data<float>()[o] /= out_scales[o];
    keep_.push_back(bias);
    Tensor zero = Tensor::empty(DType::kI32, {1});
    *zero.data<int32_t>() = xs.q_zero;
    keep_.push_back(zero);
    dnnl::convolution_forward prim(pd);
    std::string impl = pd.impl_info_str();
    memory bmem(b_md, eng_, bias.raw());
    memory zmem({{1}, dt::s32, tag::x}, eng_, zero.raw());
    const std::string x = n.inputs[0], y = n.outputs[0], r = has_res ? n.inputs[3] : std::string();
    const memory::desc qmd = src_md;
    std::function<Status()> step = [this, prim, wmem, bmem, zmem, x, y, r, res_index, int8, qmd, out_q,
                                    dst_md]() -> Status {
        std::unordered_map<int, memory> args{
            {DNNL_ARG_SRC, int8 ? memory(qmd, eng_, slots_.at(x).q.raw()) : nhwc_mem(x)},
            {DNNL_ARG_WEIGHTS, wmem},
            {DNNL_ARG_BIAS, bmem},
            {DNNL_ARG_DST, out_q ? memory(dst_md, eng_, slots_.at(y).q.raw()) : nhwc_mem(y)}};
        if (int8) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = zmem;
        if (!r.empty()) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(res_index) | DNNL_ARG_SRC_1] = nhwc_mem(r);
        prim.execute(strm_, args);
        return Status::ok();
    };

    // A 1x1 stride-1 convolution over NHWC is a GEMM [pixels x C] x [C x OC]. oneDNN's matmul beats its 1x1
    // convolution on some of YOLO's shapes (thin channel counts: up to 1.5x) and loses on others, so both are
    // timed here on the real buffers and the faster one is kept: autotuning per layer.
    const bool gemm_shape = !int8 && !grouped && p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 &&
                            p.pl == 0 && p.pb == 0 && p.pr == 0 && opt_.autotune;
    if (gemm_shape) {
        const int64_t pixels = p.n * p.oh * p.ow;
        const memory::desc a_md({pixels, p.c}, act_dt_, tag::ab), y_md({pixels, p.oc}, act_dt_, tag::ab);
        const memory::desc w_user({p.c, p.oc}, dt::f32, tag::ba);  // OIHW with 1x1 kernels is [OC][C]
        dnnl::post_ops mpo;
        (void)append_activation(n, mpo);  // already validated for the convolution above
        const int mres = mpo.len();
        if (has_res) mpo.append_binary(dnnl::algorithm::binary_add, y_md);
        dnnl::primitive_attr mattr;
        mattr.set_post_ops(mpo);
        try {
            dnnl::matmul::primitive_desc mpd(
                dnnl::matmul::desc(a_md, memory::desc({p.c, p.oc}, act_dt_, tag::any),
                                   memory::desc({1, p.oc}, dt::f32, tag::ab), y_md),
                mattr, eng_);
            Tensor mw = Tensor::empty(DType::kU8, {static_cast<int64_t>(mpd.weights_desc().get_size())});
            memory mwmem(mpd.weights_desc(), eng_, mw.raw());
            memory wsrc(w_user, eng_, wf.raw());
            dnnl::reorder(wsrc, mwmem).execute(strm_, wsrc, mwmem);
            strm_.wait();
            // oneDNN's matmul adds the bias after scaling like the conv; with f32 there is no scale.
            memory mbias({{1, p.oc}, dt::f32, tag::ab}, eng_, bias.raw());
            dnnl::matmul mprim(mpd);
            std::function<Status()> mstep = [this, mprim, mwmem, mbias, x, y, r, mres, a_md, y_md]() -> Status {
                std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(a_md, eng_, slots_.at(x).nhwc.raw())},
                                                     {DNNL_ARG_WEIGHTS, mwmem},
                                                     {DNNL_ARG_BIAS, mbias},
                                                     {DNNL_ARG_DST, memory(y_md, eng_, slots_.at(y).nhwc.raw())}};
                if (!r.empty())
                    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(mres) | DNNL_ARG_SRC_1] =
                        memory(y_md, eng_, slots_.at(r).nhwc.raw());
                mprim.execute(strm_, args);
                return Status::ok();
            };
            auto best_ms = [this](const std::function<Status()>& f) {
                double best = 1e30;
                for (int i = 0; i < 7; ++i) {
                    const auto t0 = std::chrono::steady_clock::now();
                    if (!f().is_ok()) return 1e30;
                    strm_.wait();
                    if (i >= 2)
                        best = std::min(best, std::chrono::duration<double, std::milli>(
                                                  std::chrono::steady_clock::now() - t0).count());
                }
                return best;
            };
            // ITSCAM_CPU_GEMM=matmul|conv forces the choice (tests, debugging); anything else times both.
            const char* force = std::getenv("ITSCAM_CPU_GEMM");
            const std::string f = force ? force : "";
            const bool use_matmul = f == "matmul" ? true : f == "conv" ? false : best_ms(mstep) < 0.95 * best_ms(step);
            if (use_matmul) {
                step = mstep;
                impl = std::string("matmul ") + mpd.impl_info_str();
                keep_.push_back(mw);
                bytes_ += mw.nbytes();
            }
        } catch (const dnnl::error&) {
            // No matmul for this shape: keep the convolution.
        }
    }
    desc_.push_back(n.name + " Conv " + std::to_string(p.kh) + "x" + std::to_string(p.kw) + " g" +
                    std::to_string(p.group) + " " + std::to_string(p.c) + "->" + std::to_string(p.oc) + " [" + impl +
                    "]" + (int8 ? " int8" : "") + (act.empty() ? "" : " +" + act) + (has_res ? " +residual" : "") +
                    (out_q ? " ->u8" : ""));
    steps_.push_back(step);
    return Status::ok();
}

Status CpuCompiled::add_pool(const Node& n) {
    const Slot& xs = slots_.at(n.inputs[0]);
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs.shape, {}, true));
    if (p.dh != 1 || p.dw != 1) return unsupported(n.label() + ": dilated pooling");
    memory::desc src_md(to_dims(xs.shape), act_dt_, tag::nhwc), dst_md({p.n, p.c, p.oh, p.ow}, act_dt_, tag::nhwc);
    const auto alg = n.op == "MaxPool" ? dnnl::algorithm::pooling_max
                     : n.attr_int("count_include_pad", 0) ? dnnl::algorithm::pooling_avg_include_padding
                                                          : dnnl::algorithm::pooling_avg_exclude_padding;
    // oneDNN needs the right padding to cover the last window exactly as ceil_mode computes it.
    const int64_t pb = (p.oh - 1) * p.sh + p.kh - p.h - p.pt, pr = (p.ow - 1) * p.sw + p.kw - p.w - p.pl;
    dnnl::pooling_forward::primitive_desc pd;
    try {
        dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, alg, src_md, dst_md, {p.sh, p.sw},
                                      {p.kh, p.kw}, {p.pt, p.pl}, {pb, pr});
        pd = dnnl::pooling_forward::primitive_desc(d, eng_);
    } catch (const dnnl::error& e) {
        return dnnl_status(e, n.label());
    }
    dnnl::pooling_forward prim(pd);
    desc_.push_back(n.name + " " + n.op + " [" + pd.impl_info_str() + "]");
    const std::string x = n.inputs[0], y = n.outputs[0];
    steps_.push_back([this, prim, x, y]() -> Status {
        prim.execute(strm_, {{DNNL_ARG_SRC, nhwc_mem(x)}, {DNNL_ARG_DST, nhwc_mem(y)}});
        return Status::ok();
    });
    return Status::ok();
}

Status CpuCompiled::add_resize(const Node& n) {
    const Slot& xs = slots_.at(n.inputs[0]);
    ITSCAM_ASSIGN_OR_RETURN(ResizeParams p, resize_params(g_, n, xs.shape));
    std::vector<int64_t> ys(p.out[2]), xs_idx(p.out[3]);
    for (int64_t i = 0; i < p.out[2]; ++i) ys[i] = resize_nearest_index(p, 2, i, xs.shape[2]);
    for (int64_t i = 0; i < p.out[3]; ++i) xs_idx[i] = resize_nearest_index(p, 3, i, xs.shape[3]);
    const Shape s = xs.shape;
    const size_t es = dtype_size(act_dtype_);
    desc_.push_back(n.name + " Resize nearest [itscam nhwc]");
    const std::string x = n.inputs[0], y = n.outputs[0];
    steps_.push_back([this, x, y, s, ys, xs_idx, es]() -> Status {
        cpu::nhwc_resize_nearest(slots_.at(x).nhwc.raw(), slots_.at(y).nhwc.raw(), s[0], s[2], s[3], s[1], ys, xs_idx,
                                 es);
        return Status::ok();
    });
    return Status::ok();
}

Status CpuCompiled::add_matmul(const Node& n) {
    Shape a = slots_.at(n.inputs[0]).shape, b = slots_.at(n.inputs[1]).shape, y = slots_.at(n.outputs[0]).shape;
    // oneDNN wants equal ranks: left-pad with 1s (broadcast dims).
    const size_t r = std::max({a.size(), b.size(), y.size()});
    while (a.size() < r) a.insert(a.begin(), 1);
    while (b.size() < r) b.insert(b.begin(), 1);
    while (y.size() < r) y.insert(y.begin(), 1);
    auto plain_md = [](const Shape& s) {
        memory::dims st(s.size(), 1);
        for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
        return memory::desc(to_dims(s), dt::f32, st);
    };
    memory::desc a_md = plain_md(a), b_md = plain_md(b), y_md = plain_md(y);
    dnnl::matmul::primitive_desc pd;
    try {
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, y_md), eng_);
    } catch (const dnnl::error& e) {
        return dnnl_status(e, n.label());
    }
    dnnl::matmul prim(pd);
    desc_.push_back(n.name + " MatMul [" + std::string(pd.impl_info_str()) + "]");
    const std::string ia = n.inputs[0], ib = n.inputs[1], o = n.outputs[0];
    steps_.push_back([this, prim, a_md, b_md, y_md, ia, ib, o]() -> Status {
        memory am(a_md, eng_, plain(ia).raw()), bm(b_md, eng_, plain(ib).raw()), ym(y_md, eng_, plain(o).raw());
        prim.execute(strm_, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, ym}});
        return Status::ok();
    });
    return Status::ok();
}

Status CpuCompiled::build() {
    if (opt_.precision == Precision::kBF16 || opt_.precision == Precision::kInt8) {
        // int8 runs its convolutions on uint8 copies of bf16 activations; the rest of the graph runs in bf16.
        act_dt_ = dt::bf16;
        act_dtype_ = DType::kBF16;
        int8_ = opt_.precision == Precision::kInt8;
    } else if (opt_.precision != Precision::kF32) {
        return unsupported(std::string("the cpu backend runs fp32, bf16 or int8, not ") + precision_name(opt_.precision));
    }
    for (const auto& [name, vi] : g_.values)
        if (!g_.is_constant(name) && !vi.shape_known())
            return invalid_argument("value '" + name + "' has an unknown shape " + shape_str(vi.shape));

    std::vector<Kind> kinds;
    for (const auto& n : g_.nodes) kinds.push_back(classify(n));
    auto make_slot = [&](const std::string& v) {
        if (v.empty() || g_.is_constant(v) || slots_.count(v)) return;
        const ValueInfo& vi = g_.values.at(v);
        Slot s;
        s.shape = vi.shape;
        s.dtype = vi.dtype;
        slots_[v] = std::move(s);
    };
    for (const auto& in : g_.inputs) make_slot(in);
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
        const Node& n = g_.nodes[i];
        for (const auto& o : n.outputs) {
            make_slot(o);
            if (!o.empty() && is_nhwc_kind(kinds[i])) slots_[o].producer_nhwc = true;
        }
    }
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
        const Node& n = g_.nodes[i];
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const std::string& in = n.inputs[k];
            if (in.empty() || g_.is_constant(in)) continue;
            Slot& s = slots_.at(in);
            if (is_nhwc_kind(kinds[i])) {
                if (!s.producer_nhwc) s.need_nhwc = true;
            } else if (s.producer_nhwc) {
                s.need_plain = true;
            }
        }
    }
    for (const auto& o : g_.outputs)
        if (slots_.count(o) && slots_[o].producer_nhwc) slots_[o].need_plain = true;
    std::vector<bool> int8_conv(g_.nodes.size(), false);
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
        if (kinds[i] != Kind::kConv) continue;
        const Node& n = g_.nodes[i];
        if (opt_.collect_ranges &&
            std::find(range_values_.begin(), range_values_.end(), n.inputs[0]) == range_values_.end())
            range_values_.push_back(n.inputs[0]);
        if (int8_ && int8_eligible(n)) {
            int8_conv[i] = true;
            Slot& x = slots_.at(n.inputs[0]);
            x.need_q = true;
            const ValueRange& r = opt_.ranges.at(n.inputs[0]);
            // Asymmetric uint8 over [min(r.min, 0), max(r.max, 0)]: zero must be exactly representable.
            const float lo = std::min(r.min, 0.f), hi = std::max(r.max, 0.f);
            x.q_scale = hi > lo ? (hi - lo) / 255.f : 1.f;
            x.q_zero = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / x.q_scale), 0.f, 255.f));
        }
    }
    // A value that an int8 convolution produces and only int8 convolutions read is written as uint8 by its producer:
    // no bf16 copy, no separate quantize pass.
    if (int8_) {
        std::map<std::string, bool> int8_only;
        for (size_t i = 0; i < g_.nodes.size(); ++i)
            for (const auto& in : g_.nodes[i].inputs) {
                if (in.empty() || g_.is_constant(in)) continue;
                const bool ok = int8_conv[i] && g_.nodes[i].inputs[0] == in;
                auto it = int8_only.find(in);
                int8_only[in] = (it == int8_only.end() ? true : it->second) && ok;
            }
        for (size_t i = 0; i < g_.nodes.size(); ++i) {
            if (!int8_conv[i]) continue;  // bf16 convolutions cannot write uint8
            const std::string& y = g_.nodes[i].outputs[0];
            Slot& s = slots_.at(y);
            if (s.need_q && int8_only[y] && !s.need_plain &&
                std::find(g_.outputs.begin(), g_.outputs.end(), y) == g_.outputs.end())
                s.q_only = true;
        }
    }

    // Allocate. Plain buffers of view/generic outputs are bound per run instead.
    std::set<std::string> per_run;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
        if (kinds[i] == Kind::kView || kinds[i] == Kind::kGeneric)
            for (const auto& o : g_.nodes[i].outputs) per_run.insert(o);
    for (auto& [name, s] : slots_) {
        const bool plain_needed = !s.producer_nhwc || s.need_plain;
        const bool is_input = std::find(g_.inputs.begin(), g_.inputs.end(), name) != g_.inputs.end();
        if (plain_needed && !per_run.count(name) && !is_input) {
            s.plain = Tensor::zeros(s.dtype, s.shape);
            s.plain_prealloc = true;
            bytes_ += s.plain.nbytes();
        }
        if ((s.producer_nhwc || s.need_nhwc) && !s.q_only) {
            s.nhwc = Tensor::zeros(act_dtype_, s.shape);
            bytes_ += s.nhwc.nbytes();
        }
        if (s.need_q) {
            s.q = Tensor::zeros(DType::kU8, s.shape);
            bytes_ += s.q.nbytes();
        }
    }

    for (const auto& in : g_.inputs) {
        if (slots_.at(in).need_nhwc) add_reorder(in, true);
        if (slots_.at(in).need_q) add_quantize(in);
    }
    try {
        for (size_t i = 0; i < g_.nodes.size(); ++i) {
            const Node& n = g_.nodes[i];
            const std::string y = n.outputs[0];
            switch (kinds[i]) {
                case Kind::kConv: ITSCAM_RETURN_IF_ERROR(add_conv(n, int8_conv[i])); break;
                case Kind::kPool: ITSCAM_RETURN_IF_ERROR(add_pool(n)); break;
                case Kind::kResize: ITSCAM_RETURN_IF_ERROR(add_resize(n)); break;
                case Kind::kConcat: {
                    std::vector<std::string> ins(n.inputs.begin(), n.inputs.end());
                    std::vector<int64_t> widths;
                    for (const auto& in : ins) widths.push_back(slots_.at(in).shape[1]);
                    const Shape s = slots_.at(y).shape;
                    const int64_t pixels = s[0] * s[2] * s[3];
                    const size_t es = dtype_size(act_dtype_);
                    desc_.push_back(n.name + " Concat [itscam nhwc]");
                    steps_.push_back([this, ins, widths, y, pixels, s, es]() -> Status {
                        std::vector<const void*> srcs;
                        for (const auto& in : ins) srcs.push_back(slots_.at(in).nhwc.raw());
                        cpu::nhwc_concat(srcs, widths, slots_.at(y).nhwc.raw(), pixels, s[1], es);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kSplit: {
                    std::vector<std::string> outs(n.outputs.begin(), n.outputs.end());
                    std::vector<int64_t> widths;
                    for (const auto& o : outs) widths.push_back(slots_.at(o).shape[1]);
                    const Shape s = slots_.at(n.inputs[0]).shape;
                    const size_t es = dtype_size(act_dtype_);
                    const std::string x = n.inputs[0];
                    desc_.push_back(n.name + " Split [itscam nhwc]");
                    steps_.push_back([this, x, outs, widths, s, es]() -> Status {
                        std::vector<void*> dsts;
                        for (const auto& o : outs) dsts.push_back(slots_.at(o).nhwc.raw());
                        cpu::nhwc_split(slots_.at(x).nhwc.raw(), s[0] * s[2] * s[3], s[1], dsts, widths, es);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kEltNhwc:
                case Kind::kEltPlain: {
                    const bool nhwc = kinds[i] == Kind::kEltNhwc;
                    const cpu::EltOp op = elt_op(n.op);
                    const std::string a = n.inputs[0], b = n.inputs[1];
                    const int64_t cnt = shape_numel(slots_.at(y).shape);
                    desc_.push_back(n.name + " " + n.op + (nhwc ? " [itscam nhwc]" : " [itscam]"));
                    steps_.push_back([this, nhwc, op, a, b, y, cnt]() -> Status {
                        Slot &sa = slots_.at(a), &sb = slots_.at(b), &sy = slots_.at(y);
                        if (nhwc) cpu::eltwise_binary(op, sa.nhwc.data<float>(), sb.nhwc.data<float>(), sy.nhwc.data<float>(), cnt);
                        else cpu::eltwise_binary(op, sa.plain.data<float>(), sb.plain.data<float>(), sy.plain.data<float>(), cnt);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kSigmoidNhwc:
                case Kind::kSigmoidPlain: {
                    const bool nhwc = kinds[i] == Kind::kSigmoidNhwc;
                    const std::string x = n.inputs[0];
                    const int64_t cnt = shape_numel(slots_.at(y).shape);
                    desc_.push_back(n.name + " Sigmoid" + (nhwc ? " [itscam nhwc]" : " [itscam]"));
                    steps_.push_back([this, nhwc, x, y, cnt]() -> Status {
                        Slot &sx = slots_.at(x), &sy = slots_.at(y);
                        if (nhwc) cpu::sigmoid(sx.nhwc.data<float>(), sy.nhwc.data<float>(), cnt);
                        else cpu::sigmoid(sx.plain.data<float>(), sy.plain.data<float>(), cnt);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kView: {
                    const std::string x = n.inputs[0];
                    const Shape s = slots_.at(y).shape;
                    desc_.push_back(n.name + " " + n.op + " [view]");
                    steps_.push_back([this, x, y, s]() -> Status {
                        slots_.at(y).plain = slots_.at(x).plain.reshaped(s);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kTranspose: {
                    const std::string x = n.inputs[0];
                    const Shape s = slots_.at(x).shape;
                    std::vector<int64_t> perm = n.attr_ints("perm");
                    if (perm.empty())
                        for (size_t d = 0; d < s.size(); ++d) perm.push_back(static_cast<int64_t>(s.size() - 1 - d));
                    const size_t es = dtype_size(slots_.at(x).dtype);
                    desc_.push_back(n.name + " Transpose [itscam]");
                    steps_.push_back([this, x, y, s, perm, es]() -> Status {
                        cpu::transpose(slots_.at(x).plain.raw(), slots_.at(y).plain.raw(), s, perm, es);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kSoftmax: {
                    const std::string x = n.inputs[0];
                    const Shape s = slots_.at(x).shape;
                    ITSCAM_ASSIGN_OR_RETURN(SoftmaxLayout l, softmax_layout(n, s));
                    const int64_t outer = l.outer, len = l.len, inner = l.inner;
                    desc_.push_back(n.name + " Softmax [itscam]");
                    steps_.push_back([this, x, y, outer, len, inner]() -> Status {
                        cpu::softmax(slots_.at(x).plain.data<float>(), slots_.at(y).plain.data<float>(), outer, len, inner);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kMatMul: ITSCAM_RETURN_IF_ERROR(add_matmul(n)); break;
                case Kind::kDfl: {
                    const Shape s = slots_.at(n.inputs[0]).shape;
                    const Tensor w = g_.constant(n.inputs[1])->cast(DType::kF32);
                    keep_.push_back(w);
                    const std::string x = n.inputs[0];
                    desc_.push_back(n.name + " DflDecode [itscam]");
                    steps_.push_back([this, x, y, s, w]() -> Status {
                        cpu::dfl_decode(plain(x).data<float>(), w.data<float>(), plain(y).data<float>(), s[0] * s[1],
                                        s[2], s[3]);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kEltBroadcast: {
                    const cpu::EltOp op = elt_op(n.op);
                    Shape os = slots_.at(y).shape, as = g_.info(n.inputs[0])->shape, bs = g_.info(n.inputs[1])->shape;
                    while (as.size() < os.size()) as.insert(as.begin(), 1);
                    while (bs.size() < os.size()) bs.insert(bs.begin(), 1);
                    const std::string a = n.inputs[0], b = n.inputs[1];
                    desc_.push_back(n.name + " " + n.op + " [itscam broadcast]");
                    steps_.push_back([this, op, a, b, y, as, bs, os]() -> Status {
                        cpu::eltwise_broadcast(op, const_or_plain(a)->data<float>(), as, const_or_plain(b)->data<float>(),
                                               bs, plain(y).data<float>(), os);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kConcatPlain: {
                    const Shape os = slots_.at(y).shape;
                    ITSCAM_ASSIGN_OR_RETURN(int64_t axis,
                                            normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(os.size())));
                    int64_t outer = 1, inner = 1;
                    for (int64_t d = 0; d < axis; ++d) outer *= os[d];
                    for (size_t d = axis + 1; d < os.size(); ++d) inner *= os[d];
                    const size_t es = dtype_size(slots_.at(y).dtype);
                    std::vector<std::string> ins(n.inputs.begin(), n.inputs.end());
                    std::vector<int64_t> row_bytes;
                    for (const auto& in : ins) row_bytes.push_back(g_.info(in)->shape[axis] * inner * es);
                    desc_.push_back(n.name + " Concat [itscam]");
                    steps_.push_back([this, ins, row_bytes, y, outer]() -> Status {
                        std::vector<const void*> srcs;
                        for (const auto& in : ins) srcs.push_back(const_or_plain(in)->raw());
                        cpu::concat_rows(srcs, row_bytes, plain(y).raw(), outer);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kSplitPlain: {
                    const Shape is = slots_.at(n.inputs[0]).shape;
                    ITSCAM_ASSIGN_OR_RETURN(int64_t axis,
                                            normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(is.size())));
                    int64_t outer = 1, inner = 1;
                    for (int64_t d = 0; d < axis; ++d) outer *= is[d];
                    for (size_t d = axis + 1; d < is.size(); ++d) inner *= is[d];
                    const size_t es = dtype_size(slots_.at(n.inputs[0]).dtype);
                    std::vector<std::string> outs(n.outputs.begin(), n.outputs.end());
                    std::vector<int64_t> row_bytes;
                    for (const auto& o : outs) row_bytes.push_back(slots_.at(o).shape[axis] * inner * es);
                    const std::string x = n.inputs[0];
                    desc_.push_back(n.name + " Split [itscam]");
                    steps_.push_back([this, x, outs, row_bytes, outer]() -> Status {
                        std::vector<void*> dsts;
                        for (const auto& o : outs) dsts.push_back(plain(o).raw());
                        cpu::split_rows(plain(x).raw(), outer, dsts, row_bytes);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kSlice: {
                    // Reuse the reference geometry by slicing a tiny probe: count per dim = output shape.
                    const Shape is = slots_.at(n.inputs[0]).shape;
                    std::vector<int64_t> starts, ends, axes, steps;
                    auto vec = [&](size_t i) {
                        return n.num_inputs() > i && !n.inputs[i].empty() ? g_.constant(n.inputs[i])->to_i64_vector()
                                                                          : std::vector<int64_t>{};
                    };
                    if (n.num_inputs() > 1) {
                        starts = vec(1), ends = vec(2), axes = vec(3), steps = vec(4);
                    } else {
                        starts = n.attr_ints("starts"), ends = n.attr_ints("ends"), axes = n.attr_ints("axes");
                    }
                    const int64_t r = static_cast<int64_t>(is.size());
                    if (axes.empty())
                        for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
                    if (steps.empty()) steps.assign(starts.size(), 1);
                    std::vector<int64_t> st(r, 0), sp(r, 1);
                    for (size_t k = 0; k < axes.size(); ++k) {
                        ITSCAM_ASSIGN_OR_RETURN(int64_t a, normalize_axis(n, axes[k], r));
                        int64_t b = starts[k];
                        if (b < 0) b += is[a];
                        sp[a] = steps[k];
                        st[a] = sp[a] > 0 ? std::clamp<int64_t>(b, 0, is[a]) : std::clamp<int64_t>(b, 0, is[a] - 1);
                    }
                    const Shape cnt = slots_.at(y).shape;
                    const size_t es = dtype_size(slots_.at(y).dtype);
                    const std::string x = n.inputs[0];
                    desc_.push_back(n.name + " Slice [itscam]");
                    steps_.push_back([this, x, y, is, st, sp, cnt, es]() -> Status {
                        cpu::slice_copy(plain(x).raw(), is, plain(y).raw(), st, sp, cnt, es);
                        return Status::ok();
                    });
                    break;
                }
                case Kind::kGeneric: {
                    if (!op_find(n.op)) return unsupported(n.label() + ": no CPU kernel");
                    desc_.push_back(n.name + " " + n.op + " [reference kernel]");
                    const size_t idx = i;
                    steps_.push_back([this, idx]() -> Status {
                        const Node& nn = g_.nodes[idx];
                        std::vector<const Tensor*> ins(nn.inputs.size(), nullptr);
                        for (size_t k = 0; k < nn.inputs.size(); ++k)
                            if (!nn.inputs[k].empty()) ins[k] = const_or_plain(nn.inputs[k]);
                        std::vector<Tensor> outs;
                        ITSCAM_RETURN_IF_ERROR(op_run_ref(nn, ins, outs));
                        for (size_t k = 0; k < nn.outputs.size(); ++k)
                            if (!nn.outputs[k].empty()) slots_.at(nn.outputs[k]).plain = std::move(outs[k]);
                        return Status::ok();
                    });
                    break;
                }
            }
            for (const auto& o : n.outputs) {
                if (o.empty()) continue;
                const Slot& s = slots_.at(o);
                if (s.producer_nhwc && s.need_plain) add_reorder(o, false);
                if (!s.producer_nhwc && s.need_nhwc) add_reorder(o, true);
                if (s.need_q && !s.q_only) add_quantize(o);
            }
        }
    } catch (const dnnl::error& e) {
        return dnnl_status(e, "cpu backend compile");
    }
    return Status::ok();
}

Status CpuCompiled::run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
    if (inputs.size() != g_.inputs.size())
        return invalid_argument("expected " + std::to_string(g_.inputs.size()) + " inputs, got " +
                                std::to_string(inputs.size()));
    for (size_t i = 0; i < inputs.size(); ++i) {
        Slot& in = slots_.at(g_.inputs[i]);
        if (inputs[i].shape() != in.shape || inputs[i].dtype() != in.dtype)
            return invalid_argument("input '" + g_.inputs[i] + "' must be " + dtype_name(in.dtype) +
                                    shape_str(in.shape) + ", got " + dtype_name(inputs[i].dtype()) +
                                    shape_str(inputs[i].shape()));
    }
    if (opt_.threads > 0) omp_set_num_threads(opt_.threads);
    for (size_t i = 0; i < inputs.size(); ++i) slots_.at(g_.inputs[i]).plain = inputs[i];
    try {
        if (!profile_) {
            for (auto& step : steps_) ITSCAM_RETURN_IF_ERROR(step());
        } else {
            step_ms_.resize(steps_.size(), 0.0);
            for (size_t i = 0; i < steps_.size(); ++i) {
                const auto t0 = std::chrono::steady_clock::now();
                ITSCAM_RETURN_IF_ERROR(steps_[i]());
                strm_.wait();
                step_ms_[i] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            }
            ++profiled_runs_;
        }
        strm_.wait();
    } catch (const dnnl::error& e) {
        return dnnl_status(e, "cpu backend run");
    }
    for (const auto& v : range_values_) {
        const Slot& sl = slots_.at(v);
        const Tensor& t = sl.producer_nhwc || sl.need_nhwc ? sl.nhwc : sl.plain;
        if (t.dtype() != DType::kF32) continue;
        float lo = INFINITY, hi = -INFINITY;
        const float* p = t.data<float>();
        for (int64_t i = 0; i < t.numel(); ++i) lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
        auto it = collected_.find(v);
        if (it == collected_.end()) collected_[v] = {lo, hi};
        else it->second = {std::min(it->second.min, lo), std::max(it->second.max, hi)};
    }
    outputs.clear();
    for (const auto& o : g_.outputs) {
        if (const Tensor* c = g_.constant(o)) outputs.push_back(*c);
        else outputs.push_back(slots_.at(o).plain);
    }
    return Status::ok();
}

void CpuCompiled::print_profile() const {
    if (!profile_ || profiled_runs_ == 0) return;
    std::vector<size_t> order(step_ms_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return step_ms_[a] > step_ms_[b]; });
    double total = 0;
    std::map<std::string, double> by_kind;
    for (size_t i = 0; i < step_ms_.size(); ++i) {
        total += step_ms_[i];
        const std::string& d = desc_[i];
        const size_t lb = d.find('[');
        by_kind[lb == std::string::npos ? d : d.substr(lb)] += step_ms_[i];
    }
    std::fprintf(stderr, "itscam cpu profile: %d runs, %.3f ms per run\n", profiled_runs_, total / profiled_runs_);
    for (const auto& [k, v] : by_kind) std::fprintf(stderr, "  %8.3f ms  %s\n", v / profiled_runs_, k.c_str());
    for (size_t i = 0; i < order.size(); ++i)
        std::fprintf(stderr, "  %8.3f ms  %s\n", step_ms_[order[i]] / profiled_runs_, desc_[order[i]].c_str());
}

class CpuBackend final : public Backend {
public:
    std::string name() const override { return "cpu"; }
    Status supports(const Graph&, const Node& n) const override {
        return op_find(n.op) ? Status::ok() : unsupported(n.label() + ": no CPU kernel");
    }
    Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& opt) const override {
        if (opt.threads > 0) omp_set_num_threads(opt.threads);
        auto c = std::make_unique<CpuCompiled>(g, opt);
        ITSCAM_RETURN_IF_ERROR(c->build());
        return std::unique_ptr<CompiledGraph>(std::move(c));
    }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace itscam
