// Convolutions on oneDNN over NHWC activations: fp32, bf16 (bf16 activations and weights, f32 accumulation) and
// int8 (uint8 input, per-output-channel int8 weights, calibrated per-tensor input scales). Bias, the fused activation
// and the fused residual Add run as oneDNN post-ops. A 1x1 stride-1 fp32/bf16 convolution is autotuned against
// oneDNN's matmul on the same buffers.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "backend/cpu/ops/ops.h"
#include "ops/conv_params.h"

namespace itscam::cpu {

namespace {

// The fused activation of a Conv as a oneDNN post-op (none for no activation).
Status append_activation(const Node& n, dnnl::post_ops& po) {
    const std::string act = n.attr_string("activation", "");
    if (act == "silu")
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
    else if (act == "relu")
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    else if (act == "sigmoid")
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
    else if (act == "leaky_relu")
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, n.attr_float("activation_alpha", 0.01f), 0.f);
    else if (!act.empty() && act != "none")
        return unsupported(n.label() + ": activation '" + act + "'");
    return Status::ok();
}

// int8 pays off on the convolutions that carry the FLOPs. The first convolution (3 input channels) and those
// whose output leaves for plain consumers (the Detect head's box/class logits, the attention qkv) stay in bf16:
// they are cheap, and their outputs are the most precision-sensitive values of the network.
bool int8_eligible(const LoweringContext& ctx, const Node& n) {
    if (n.attr_int("group", 1) != 1 || !ctx.options().ranges.count(n.inputs[0])) return false;
    const Slot& x = ctx.slot(n.inputs[0]);
    const Slot& y = ctx.slot(n.outputs[0]);
    return x.shape[1] >= 8 && !y.need_plain;
}

bool conv_matches(const LoweringContext& ctx, const Node& n) {
    const Graph& g = ctx.graph();
    return ctx.rank4_f32(n.inputs[0]) && g.is_constant(n.inputs[1]) &&
           (n.num_inputs() < 3 || g.is_constant(n.inputs[2])) && (n.num_inputs() < 4 || !g.is_constant(n.inputs[3]));
}

// Best of 5 timed runs after 2 warm-ups, in ms (1e30 when the step fails).
double best_ms(LoweringContext& ctx, const std::function<Status()>& f) {
    double best = 1e30;
    for (int i = 0; i < 7; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        if (!f().is_ok()) return 1e30;
        ctx.stream().wait();
        if (i >= 2)
            best = std::min(best,
                            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

Status lower_conv(LoweringContext& ctx, const Node& n) {
    const bool int8 = ctx.int8_conv(n);
    const dt act_dt = ctx.act_dt();
    const dnnl::engine& eng = ctx.engine();
    LoweringContext* c = &ctx;
    const Slot& xs = ctx.slot(n.inputs[0]);
    const Tensor& w = *ctx.graph().constant(n.inputs[1]);
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs.shape, w.shape(), false));
    const bool grouped = p.group > 1;
    Tensor wf = w.cast(DType::kF32);
    memory::dims wdims = grouped ? memory::dims{p.group, p.oc / p.group, p.c / p.group, p.kh, p.kw}
                                 : memory::dims{p.oc, p.c, p.kh, p.kw};
    memory::desc src_md(to_dims(xs.shape), int8 ? dt::u8 : act_dt, tag::nhwc);
    const Slot& ys = ctx.slot(n.outputs[0]);
    const bool out_q = ys.q_only;
    memory::desc dst_md({p.n, p.oc, p.oh, p.ow}, out_q ? dt::u8 : act_dt, tag::nhwc);
    memory::desc w_any(wdims, int8 ? dt::s8 : act_dt, tag::any);
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
                wq.data<int8_t>()[o * per + j] =
                    static_cast<int8_t>(std::clamp(std::nearbyint(wf.data<float>()[o * per + j] / ws), -127.f, 127.f));
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
        po.append_binary(dnnl::algorithm::binary_add, memory::desc({p.n, p.oc, p.oh, p.ow}, act_dt, tag::nhwc));
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
                                          src_md, w_any, b_md, dst_md, {p.sh, p.sw}, {p.dh - 1, p.dw - 1}, {p.pt, p.pl},
                                          {p.pb, p.pr});
        pd = dnnl::convolution_forward::primitive_desc(d, attr, eng);
    } catch (const dnnl::error& e) {
        return dnnl_status(e, n.label());
    }
    // Weights: reorder once into the layout the chosen implementation wants.
    memory user_w({wdims, int8 ? dt::s8 : dt::f32, grouped ? tag::goihw : tag::oihw}, eng, int8 ? wq.raw() : wf.raw());
    Tensor wbuf = Tensor::empty(DType::kU8, {static_cast<int64_t>(pd.weights_desc().get_size())});
    memory wmem(pd.weights_desc(), eng, wbuf.raw());
    dnnl::reorder(user_w, wmem).execute(ctx.stream(), user_w, wmem);
    ctx.stream().wait();
    ctx.keep(wbuf, true);
    Tensor bias = has_bias ? ctx.graph().constant(n.inputs[2])->cast(DType::kF32) : Tensor::zeros(DType::kF32, {p.oc});
    if (int8)
        for (int64_t o = 0; o < p.oc; ++o) bias.data<float>()[o] /= out_scales[o];
    ctx.keep(bias, false);
    Tensor zero = Tensor::empty(DType::kI32, {1});
    *zero.data<int32_t>() = xs.q_zero;
    ctx.keep(zero, false);
    dnnl::convolution_forward prim(pd);
    std::string impl = pd.impl_info_str();
    memory bmem(b_md, eng, bias.raw());
    memory zmem({{1}, dt::s32, tag::x}, eng, zero.raw());
    const std::string x = n.inputs[0], y = n.outputs[0], r = has_res ? n.inputs[3] : std::string();
    const memory::desc qmd = src_md;
    std::function<Status()> step = [c, prim, wmem, bmem, zmem, x, y, r, res_index, int8, qmd, out_q,
                                    dst_md]() -> Status {
        std::unordered_map<int, memory> args{
            {DNNL_ARG_SRC, int8 ? memory(qmd, c->engine(), c->slot(x).q.raw()) : c->nhwc_mem(x)},
            {DNNL_ARG_WEIGHTS, wmem},
            {DNNL_ARG_BIAS, bmem},
            {DNNL_ARG_DST, out_q ? memory(dst_md, c->engine(), c->slot(y).q.raw()) : c->nhwc_mem(y)}};
        if (int8) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = zmem;
        if (!r.empty()) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(res_index) | DNNL_ARG_SRC_1] = c->nhwc_mem(r);
        prim.execute(c->stream(), args);
        return Status::ok();
    };

    // A 1x1 stride-1 convolution over NHWC is a GEMM [pixels x C] x [C x OC]. oneDNN's matmul beats its 1x1
    // convolution on some of YOLO's shapes (thin channel counts: up to 1.5x) and loses on others, so both are
    // timed here on the real buffers and the faster one is kept: autotuning per layer. A recorded tuning (a plan)
    // replays the choice without timing; ITSCAM_CPU_GEMM=matmul|conv forces it (tests, debugging).
    const bool gemm_shape = !int8 && !grouped && p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 &&
                            p.pl == 0 && p.pb == 0 && p.pr == 0 && (ctx.options().autotune || ctx.has_tuning());
    if (gemm_shape) {
        const char* force = std::getenv("ITSCAM_CPU_GEMM");
        std::string choice = force ? force : "";
        const bool forced = choice == "matmul" || choice == "conv";
        if (!forced) {
            ITSCAM_ASSIGN_OR_RETURN(choice, ctx.tuned_choice(n.name, "gemm"));
            if (!choice.empty() && choice != "matmul" && choice != "conv")
                return invalid_argument("the plan's tuning has gemm=" + choice + " for '" + n.name +
                                        "' (expected matmul or conv): rebuild the plan");
        }
        bool use_matmul = false;
        if (choice != "conv") {
            const int64_t pixels = p.n * p.oh * p.ow;
            const memory::desc a_md({pixels, p.c}, act_dt, tag::ab), y_md({pixels, p.oc}, act_dt, tag::ab);
            const memory::desc w_user({p.c, p.oc}, dt::f32, tag::ba);  // OIHW with 1x1 kernels is [OC][C]
            dnnl::post_ops mpo;
            (void)append_activation(n, mpo);  // already validated for the convolution above
            const int mres = mpo.len();
            if (has_res) mpo.append_binary(dnnl::algorithm::binary_add, y_md);
            dnnl::primitive_attr mattr;
            mattr.set_post_ops(mpo);
            try {
                dnnl::matmul::primitive_desc mpd(dnnl::matmul::desc(a_md, memory::desc({p.c, p.oc}, act_dt, tag::any),
                                                                    memory::desc({1, p.oc}, dt::f32, tag::ab), y_md),
                                                 mattr, eng);
                Tensor mw = Tensor::empty(DType::kU8, {static_cast<int64_t>(mpd.weights_desc().get_size())});
                memory mwmem(mpd.weights_desc(), eng, mw.raw());
                memory wsrc(w_user, eng, wf.raw());
                dnnl::reorder(wsrc, mwmem).execute(ctx.stream(), wsrc, mwmem);
                ctx.stream().wait();
                // oneDNN's matmul adds the bias after scaling like the conv; with f32 there is no scale.
                memory mbias({{1, p.oc}, dt::f32, tag::ab}, eng, bias.raw());
                dnnl::matmul mprim(mpd);
                std::function<Status()> mstep = [c, mprim, mwmem, mbias, x, y, r, mres, a_md, y_md]() -> Status {
                    const dnnl::engine& e = c->engine();
                    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(a_md, e, c->slot(x).nhwc.raw())},
                                                         {DNNL_ARG_WEIGHTS, mwmem},
                                                         {DNNL_ARG_BIAS, mbias},
                                                         {DNNL_ARG_DST, memory(y_md, e, c->slot(y).nhwc.raw())}};
                    if (!r.empty())
                        args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(mres) | DNNL_ARG_SRC_1] =
                            memory(y_md, e, c->slot(r).nhwc.raw());
                    mprim.execute(c->stream(), args);
                    return Status::ok();
                };
                use_matmul = choice == "matmul" || best_ms(ctx, mstep) < 0.95 * best_ms(ctx, step);
                if (use_matmul) {
                    step = mstep;
                    impl = std::string("matmul ") + mpd.impl_info_str();
                    ctx.keep(mw, true);
                }
            } catch (const dnnl::error& e) {
                // No matmul for this shape: keep the convolution, unless the plan chose the matmul.
                if (choice == "matmul" && !forced) return dnnl_status(e, n.label() + ": the plan's matmul choice");
            }
        }
        ctx.record_choice(n.name, "gemm", use_matmul ? "matmul" : "conv");
    }
    ctx.emit(n.name + " Conv " + std::to_string(p.kh) + "x" + std::to_string(p.kw) + " g" + std::to_string(p.group) +
                 " " + std::to_string(p.c) + "->" + std::to_string(p.oc) + " [" + impl + "]" + (int8 ? " int8" : "") +
                 (act.empty() ? "" : " +" + act) + (has_res ? " +residual" : "") + (out_q ? " ->u8" : ""),
             step);
    return Status::ok();
}

}  // namespace

void register_conv(Registry& r) {
    r.add("Conv", {kConvFamily, Layout::kNhwc, conv_matches, lower_conv});
}

void plan_conv_int8(LoweringContext& ctx, const std::vector<const Rule*>& rules) {
    const Graph& g = ctx.graph();
    const BackendOptions& opt = ctx.options();
    auto is_conv = [&](size_t i) { return rules[i] && rules[i]->family == kConvFamily; };
    std::vector<bool> int8_conv(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        if (!is_conv(i)) continue;
        const Node& n = g.nodes[i];
        auto& rv = ctx.range_values();
        if (opt.collect_ranges && std::find(rv.begin(), rv.end(), n.inputs[0]) == rv.end()) rv.push_back(n.inputs[0]);
        if (ctx.int8() && int8_eligible(ctx, n)) {
            int8_conv[i] = true;
            ctx.set_int8_conv(n);
            Slot& x = ctx.slot(n.inputs[0]);
            x.need_q = true;
            const ValueRange& r = opt.ranges.at(n.inputs[0]);
            // Asymmetric uint8 over [min(r.min, 0), max(r.max, 0)]: zero must be exactly representable.
            const float lo = std::min(r.min, 0.f), hi = std::max(r.max, 0.f);
            x.q_scale = hi > lo ? (hi - lo) / 255.f : 1.f;
            x.q_zero = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / x.q_scale), 0.f, 255.f));
        }
    }
    if (!ctx.int8()) return;
    // A value that an int8 convolution produces and only int8 convolutions read is written as uint8 by its producer:
    // no bf16 copy, no separate quantize pass.
    std::map<std::string, bool> int8_only;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (const auto& in : g.nodes[i].inputs) {
            if (in.empty() || g.is_constant(in)) continue;
            const bool ok = int8_conv[i] && g.nodes[i].inputs[0] == in;
            auto it = int8_only.find(in);
            int8_only[in] = (it == int8_only.end() ? true : it->second) && ok;
        }
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        if (!int8_conv[i]) continue;  // bf16 convolutions cannot write uint8
        const std::string& y = g.nodes[i].outputs[0];
        Slot& s = ctx.slot(y);
        if (s.need_q && int8_only[y] && !s.need_plain &&
            std::find(g.outputs.begin(), g.outputs.end(), y) == g.outputs.end())
            s.q_only = true;
    }
}

}  // namespace itscam::cpu
