// Conv on cuDNN, NHWC: the legacy API (autotuned algorithm) followed by our epilogue kernel (bias, activation,
// residual, strided destination view), or the same layer as one fused cuDNN graph (cudnn_fused.h) or on our
// implicit-GEMM kernel (kernels/igemm_conv.cu) where autotuning (autotune.cpp) finds either faster. Depthwise and
// stem convolutions on the latency path go to ops/conv_latency.cpp.
#include <cudnn.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cuda/ops/conv.h"
#include "backend/cuda/ops/registry.h"

namespace itscam::cuda {

namespace {

cudnnDataType_t to_cudnn(DType d) {
    return d == DType::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

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

// The implicit-GEMM variants the autotune may time (bit v = variant v): the comma-separated list in
// ITSCAM_CUDA_IGEMM_VARIANTS (e.g. "0,1,2,3"), else variant 0 alone. The other variants are opt-in: on the H100 and
// H200 they lose to cuDNN on most layers of yolo11n and moved no replay time where they won (docs/cuda.md), so
// timing them by default would only lengthen every build. A plan that names any variant loads whatever this list
// says (the list limits what is timed); ITSCAM_CUDA_IGEMM=0 (igemm_off) leaves our kernels out altogether.
bool igemm_off() {
    const char* off = std::getenv("ITSCAM_CUDA_IGEMM");
    return off && std::string(off) == "0";
}

Result<unsigned> igemm_variants_allowed() {
    const char* list = std::getenv("ITSCAM_CUDA_IGEMM_VARIANTS");
    if (!list || !*list) return 1u;
    unsigned mask = 0;
    std::istringstream is(list);
    std::string item;
    while (std::getline(is, item, ',')) {
        const bool digit = item.size() == 1 && item[0] >= '0' && item[0] < '0' + ck::kIgemmVariants;
        if (!digit)
            return invalid_argument("ITSCAM_CUDA_IGEMM_VARIANTS='" + std::string(list) +
                                    "': expected a comma-separated list of implicit-GEMM variants 0-" +
                                    std::to_string(ck::kIgemmVariants - 1));
        mask |= 1u << (item[0] - '0');
    }
    return mask;
}

Status lower_conv(CudaLowering& cx, const Node& n) {
    const std::string& xn = n.inputs[0];
    const Shape xs = cx.vals[xn].shape;
    const Tensor* w = cx.graph.constant(n.inputs[1]);
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs, w->shape(), false));
    if (p.pt != p.pb || p.pl != p.pr) return unsupported(n.label() + ": asymmetric padding on the CUDA backend");
    float alpha = 0.f;
    ITSCAM_ASSIGN_OR_RETURN(ck::Act act, activation_of(n, alpha));
    const char* dw_env = std::getenv("ITSCAM_CUDA_DEPTHWISE");
    if (cx.latency_kernels && p.group > 1 && p.group == p.c && p.oc == p.c && w->dim(1) == 1 &&
        !(dw_env && std::string(dw_env) == "0"))
        return lower_depthwise_conv(cx, n, p, act, alpha);
    const char* stem_env = std::getenv("ITSCAM_CUDA_STEM");
    if (cx.latency_kernels && cx.input_f32.count(xn) && p.c <= 4 && p.group == 1 && p.dh == 1 && p.dw == 1 &&
        n.num_inputs() < 4 && p.oc * p.c * p.kh * p.kw * 4 <= 48 * 1024 && !(stem_env && std::string(stem_env) == "0"))
        return lower_stem_conv(cx, n, p, act, alpha);
    // fp16 tensor-op convolutions want the input channels (per group) to be a multiple of 8: pad a converted input
    // (the 3-channel image) rather than fall back to slow kernels.
    const bool is_plain_source = !cx.vals[xn].nhwc_native;
    const int64_t cin_pad =
        (cx.act == DType::kF16 && is_plain_source && p.group == 1 && p.c % 8 != 0) ? (p.c + 7) / 8 * 8 : p.c;
    ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(xn, cin_pad));
    const View x = cx.vals[xn].nhwc;
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
                    wk[((k * p.kh + r) * p.kw + s) * cpg_pad + c] =
                        wf.data<float>()[((k * cpg + c) * p.kh + r) * p.kw + s];
    const std::string wname = cx.graph.unique_name(n.name + "_w_nhwc");
    cx.graph.constants[wname] = Tensor::from_f32(wk, {p.oc, p.kh, p.kw, cpg_pad});
    ITSCAM_ASSIGN_OR_RETURN(View wv, cx.upload_constant(wname, cx.act));
    View bv, rv;
    ITSCAM_RETURN_IF_ERROR(conv_bias_residual(cx, n, bv, &rv));
    const std::string& yn = n.outputs[0];
    const View y = cx.resolve_nhwc(yn);
    const Shape ys = cx.vals[yn].shape;

    auto L = std::make_unique<ConvLayer>();
    L->node = n.name;
    L->w_buf = wv.buf;
    L->x = x;
    ITSCAM_ASSIGN_OR_RETURN(L->xd, csl::make_tensor_desc());
    ITSCAM_ASSIGN_OR_RETURN(L->yd, csl::make_tensor_desc());
    ITSCAM_ASSIGN_OR_RETURN(L->wd, csl::make_filter_desc());
    ITSCAM_ASSIGN_OR_RETURN(L->cd, csl::make_conv_desc());
    const cudnnDataType_t dt = to_cudnn(cx.act);
    const int N = static_cast<int>(p.n), H = static_cast<int>(p.h), W = static_cast<int>(p.w);
    const int ld = static_cast<int>(x.ld);
    ITSCAM_CUDNN_CHECK(
        cudnnSetTensor4dDescriptorEx(L->xd.get(), dt, N, static_cast<int>(cin), H, W, H * W * ld, 1, W * ld, ld));
    const int OH = static_cast<int>(p.oh), OW = static_cast<int>(p.ow), K = static_cast<int>(p.oc);
    ITSCAM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(L->yd.get(), CUDNN_TENSOR_NHWC, dt, N, K, OH, OW));
    ITSCAM_CUDNN_CHECK(cudnnSetFilter4dDescriptor(L->wd.get(), dt, CUDNN_TENSOR_NHWC, K, static_cast<int>(cpg_pad),
                                                  static_cast<int>(p.kh), static_cast<int>(p.kw)));
    ITSCAM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        L->cd.get(), static_cast<int>(p.pt), static_cast<int>(p.pl), static_cast<int>(p.sh), static_cast<int>(p.sw),
        static_cast<int>(p.dh), static_cast<int>(p.dw), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    ITSCAM_CUDNN_CHECK(cudnnSetConvolutionGroupCount(L->cd.get(), static_cast<int>(p.group)));
    ITSCAM_CUDNN_CHECK(
        cudnnSetConvolutionMathType(L->cd.get(), cx.act == DType::kF16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
    // The fused alternatives (a cuDNN graph, our implicit-GEMM kernel) write the final view themselves, with bias,
    // activation and residual; both are checked at build time against a reference (fused_check.h).
    const char* fusion_env = std::getenv("ITSCAM_CUDNN_FUSION");
    const bool fusable_shape =
        cx.act == DType::kF16 && p.group == 1 &&
        (act == ck::Act::kNone || act == ck::Act::kSiLU || act == ck::Act::kReLU || act == ck::Act::kSigmoid);
    if (fusable_shape) {
        L->fusable = !(fusion_env && std::string(fusion_env) == "0");
        L->y_final = y;
        L->res = rv;
        if (n.num_inputs() > 2 && !n.inputs[2].empty()) {
            ITSCAM_ASSIGN_OR_RETURN(L->bias_act, cx.upload_constant(n.inputs[2], cx.act));
        } else {
            const std::string zname = cx.graph.unique_name(n.name + "_zero_bias");
            cx.graph.constants[zname] = Tensor::zeros(DType::kF32, {p.oc});
            ITSCAM_ASSIGN_OR_RETURN(L->bias_act, cx.upload_constant(zname, cx.act));
        }
        FusedConvSpec& fs = L->spec;
        fs.dtype = dt;
        fs.n = p.n;
        fs.c = cin;
        fs.h = p.h;
        fs.w = p.w;
        fs.k = p.oc;
        fs.r = p.kh;
        fs.s = p.kw;
        fs.oh = p.oh;
        fs.ow = p.ow;
        fs.pad_h = p.pt;
        fs.pad_w = p.pl;
        fs.stride_h = p.sh;
        fs.stride_w = p.sw;
        fs.dil_h = p.dh;
        fs.dil_w = p.dw;
        fs.ldx = x.ld;
        fs.ldy = y.ld;
        fs.ldr = rv.valid() ? rv.ld : 0;
        fs.activation = act == ck::Act::kSiLU ? 1 : act == ck::Act::kReLU ? 2 : act == ck::Act::kSigmoid ? 3 : 0;
        fs.residual = rv.valid();
    }
    if (strided_in) {
        // cuDNN must accept the strided input view; if no algorithm does, pack it into its own buffer first.
        int returned = 0;
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        bool ok = cudnnGetConvolutionForwardAlgorithm_v7(cx.cudnn.get(), L->xd.get(), L->wd.get(), L->cd.get(),
                                                         L->yd.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
                                                         perf) == CUDNN_STATUS_SUCCESS;
        bool any = false;
        for (int i = 0; ok && i < returned; ++i) {
            size_t ws = 0;
            any |= perf[i].status == CUDNN_STATUS_SUCCESS &&
                   cudnnGetConvolutionForwardWorkspaceSize(cx.cudnn.get(), L->xd.get(), L->wd.get(), L->cd.get(),
                                                           L->yd.get(), perf[i].algo, &ws) == CUDNN_STATUS_SUCCESS;
        }
        // Else the fused graph-API convolution may take the strided view (probed with the planned alignment).
        bool fused_ok = false;
        if (!any && L->fusable && cx.latency_kernels) {
            FusedConvSpec probe = L->spec;
            // Null pointers stand for 16-byte aligned bases (the arena and its buffers are 256-byte aligned).
            probe.x = probe.wt = probe.b = probe.res = nullptr;
            probe.y = nullptr;
            const int64_t off_bytes = static_cast<int64_t>(x.off);
            if (off_bytes % 16 == 0) fused_ok = FusedConv::create(cx.cudnn.get(), probe, 1, kMaxConvWorkspace).is_ok();
        }
        if (any || fused_ok) {
            ++cx.strided_conv_inputs;
            L->must_fuse = !any;
        } else {
            ++cx.packed_conv_inputs;
            View packed;
            packed.buf = cx.new_buffer(static_cast<size_t>(p.n * p.h * p.w * cin) * cx.es, n.name + " (packed input)");
            packed.ld = cin;
            const size_t row = static_cast<size_t>(cin) * cx.es;
            cx.add_copy2d(n.name + "/pack", "pack strided input", x, static_cast<size_t>(x.ld) * cx.es, packed, row,
                          row, static_cast<size_t>(p.n * p.h * p.w));
            L->x = packed;
            // The fused alternative reads the packed copy too. Left at the strided pitch, every one of its engines
            // read the packed buffer at the wrong pitch and failed the output check (fused_check.h), whose pattern
            // fill also wrote past the packed buffer: 56 engines of 14 packed layers at batch 64 (H200, 2026-12-06).
            L->spec.ldx = cin;
            ITSCAM_CUDNN_CHECK(
                cudnnSetTensor4dDescriptor(L->xd.get(), CUDNN_TENSOR_NHWC, dt, N, static_cast<int>(cin), H, W));
        }
    }
    // Our implicit-GEMM kernels, each where it takes the shape (ck::igemm_conv_supported) and the views are aligned:
    // y and the residual to 4 bytes; x to 4 (variant 0) or 16 bytes (the tiled variants). The weights buffer starts
    // at offset 0 of its own allocation.
    ITSCAM_ASSIGN_OR_RETURN(const unsigned igemm_timed, igemm_variants_allowed());
    const View& xi = L->x;
    const bool igemm_views =
        !igemm_off() && fusable_shape && cin == p.c && y.off % 4 == 0 && (!rv.valid() || rv.off % 4 == 0);
    for (int v = 0; v < ck::kIgemmVariants && igemm_views; ++v)
        if (xi.off % (v == 0 ? 4 : 16) == 0 &&
            ck::igemm_conv_supported(p.n, p.h, p.w, p.c, xi.ld, p.oc, p.oh, p.ow, y.ld, rv.valid() ? rv.ld : 0,
                                     static_cast<int>(p.kh), static_cast<int>(p.kw), static_cast<int>(p.dh),
                                     static_cast<int>(p.dw), v))
            L->igemm_ok |= 1u << v;
    L->igemm_timed = L->igemm_ok & igemm_timed;
    // cuDNN writes a packed result: straight into y when y is packed and no residual reads y's buffer region,
    // else into a temporary that the epilogue reads.
    const bool direct = y.ld == K;
    View tmp = y;
    if (!direct) {
        tmp.buf = cx.new_buffer(static_cast<size_t>(p.n * OH * OW * K) * cx.es, n.name + " (conv out)");
        tmp.off = 0;
        tmp.ld = K;
    }
    L->y = tmp;
    ConvLayer* layer = L.get();
    layer->step = static_cast<int>(cx.steps.size());
    cx.convs.push_back(std::move(L));
    const int64_t nrows = p.n * OH * OW;
    const ck::DT kdt = to_dt(cx.act);
    std::ostringstream d;
    d << "Conv " << p.kh << "x" << p.kw << "/" << p.sh << " " << shape_text(xs) << "->" << shape_text(ys)
      << (p.group > 1 ? " g" + std::to_string(p.group) : "") << (act != ck::Act::kNone ? " +act" : "")
      << (rv.valid() ? " +residual" : "") << (x.ld != p.c ? " [strided in]" : "") << (!direct ? " [strided out]" : "");
    cx.add_step(
        n.name, d.str(), {layer->x.buf, wv.buf, bv.buf, rv.buf, tmp.buf, y.buf, layer->bias_act.buf},
        [&cx, layer, tmp, y, bv, rv, nrows, K, act, alpha, kdt, p](cudaStream_t st) -> Status {
            if (layer->use_igemm)
                return csl::cuda_status(
                    ck::igemm_conv_nhwc(cx.ptr(layer->x), layer->x.ld, cx.ptr(View{layer->w_buf, 0, 0}),
                                        bv.valid() ? static_cast<const float*>(cx.ptr(bv)) : nullptr,
                                        rv.valid() ? cx.ptr(rv) : nullptr, rv.valid() ? rv.ld : 0, cx.ptr(y), y.ld, p.n,
                                        p.h, p.w, p.c, p.oc, p.oh, p.ow, static_cast<int>(p.kh), static_cast<int>(p.kw),
                                        static_cast<int>(p.sh), static_cast<int>(p.sw), static_cast<int>(p.pt),
                                        static_cast<int>(p.pl), act, alpha, layer->igemm_variant, st),
                    "igemm_conv_nhwc");
            if (layer->fused_plan >= 0)
                return layer->fused->run(cx.cudnn.get(), layer->fused_plan, cx.ptr(layer->x),
                                         cx.ptr(View{layer->w_buf, 0, 0}), cx.ptr(layer->bias_act),
                                         rv.valid() ? cx.ptr(rv) : nullptr, cx.ptr(y), cx.ws_ptr);
            const float one = 1.f, zero = 0.f;
            ITSCAM_CUDNN_CHECK(cudnnConvolutionForward(cx.cudnn.get(), &one, layer->xd.get(), cx.ptr(layer->x),
                                                       layer->wd.get(), cx.ptr(View{layer->w_buf, 0, 0}),
                                                       layer->cd.get(), layer->algo, layer->ws ? cx.ws_ptr : nullptr,
                                                       layer->ws, &zero, layer->yd.get(), cx.ptr(tmp)));
            return csl::cuda_status(ck::conv_epilogue(cx.ptr(tmp), tmp.ld, cx.ptr(y), y.ld,
                                                      bv.valid() ? static_cast<const float*>(cx.ptr(bv)) : nullptr,
                                                      rv.valid() ? cx.ptr(rv) : nullptr, rv.valid() ? rv.ld : 0, nrows,
                                                      K, act, alpha, kdt, st),
                                    "conv_epilogue");
        },
        {tmp.buf, y.buf});
    return Status::ok();
}

}  // namespace

Status conv_bias_residual(CudaLowering& cx, const Node& n, View& bias, View* res) {
    if (n.num_inputs() > 2 && !n.inputs[2].empty()) {
        ITSCAM_ASSIGN_OR_RETURN(bias, cx.upload_constant(n.inputs[2], DType::kF32));
    }
    if (res && n.num_inputs() > 3) {
        ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(n.inputs[3]));
        *res = cx.vals[n.inputs[3]].nhwc;
    }
    return Status::ok();
}

void register_cuda_conv_lowerings(LoweringRegistry<CudaLowering>& r) {
    r.add("Conv", {"conv", Layout::kNhwc,
                   [](const CudaLowering& cx, const Node& n) {
                       const Graph& g = cx.graph;
                       return cx.is_rank4_f32(n.inputs[0]) && cx.is_dynamic(n.inputs[0]) &&
                              g.is_constant(n.inputs[1]) && g.constant(n.inputs[1])->rank() == 4 &&
                              (n.num_inputs() < 3 || n.inputs[2].empty() || g.is_constant(n.inputs[2])) &&
                              (n.num_inputs() < 4 || cx.is_dynamic(n.inputs[3]));
                   },
                   lower_conv});
}

}  // namespace itscam::cuda
