// The latency-path convolutions on our own kernels (ops/conv.h): depthwise (kernels/depthwise.cu) and the stem
// convolution from the fp32 NCHW image (kernels/stem.cu). ops/conv.cpp's Conv rule takes them when the latency
// kernels are on (lowering_context.h) and ITSCAM_CUDA_DEPTHWISE / ITSCAM_CUDA_STEM are not 0.
#include <sstream>
#include <string>
#include <vector>

#include "backend/cuda/ops/conv.h"

namespace itscam::cuda {

Status lower_depthwise_conv(CudaLowering& cx, const Node& n, const ConvParams& p, ck::Act act, float alpha) {
    const std::string& xn = n.inputs[0];
    ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(xn));
    const View x = cx.vals[xn].nhwc;
    // Weights [C, 1, kh, kw], uploaded tap-major as float [kh, kw, C]: the kernel loads one tap's channels at once.
    const Tensor wf = cx.graph.constant(n.inputs[1])->cast(DType::kF32);
    const int64_t taps = p.kh * p.kw;
    std::vector<float> wt(static_cast<size_t>(taps * p.c));
    for (int64_t c = 0; c < p.c; ++c)
        for (int64_t t = 0; t < taps; ++t) wt[static_cast<size_t>(t * p.c + c)] = wf.data<float>()[c * taps + t];
    const std::string wname = cx.graph.unique_name(n.name + "_w_taps");
    cx.graph.constants[wname] = Tensor::from_f32(wt, {p.kh, p.kw, p.c});
    ITSCAM_ASSIGN_OR_RETURN(View wv, cx.upload_constant(wname, DType::kF32));
    View bv, rv;
    ITSCAM_RETURN_IF_ERROR(conv_bias_residual(cx, n, bv, &rv));
    const View y = cx.resolve_nhwc(n.outputs[0]);
    const ck::DT dt = to_dt(cx.act);
    std::ostringstream d;
    d << "Conv depthwise " << p.kh << "x" << p.kw << "/" << p.sh << " " << shape_text(cx.vals[xn].shape) << " g"
      << p.group << (act != ck::Act::kNone ? " +act" : "") << (rv.valid() ? " +residual" : "") << " [itscam kernel]";
    cx.add_step(n.name, d.str(), {x.buf, wv.buf, bv.buf, rv.buf, y.buf},
                [&cx, x, wv, bv, rv, y, p, act, alpha, dt](cudaStream_t st) {
                    return csl::cuda_status(
                        ck::depthwise_conv_nhwc(cx.ptr(x), x.ld, static_cast<const float*>(cx.ptr(wv)),
                                                bv.valid() ? static_cast<const float*>(cx.ptr(bv)) : nullptr,
                                                rv.valid() ? cx.ptr(rv) : nullptr, rv.valid() ? rv.ld : 0, cx.ptr(y),
                                                y.ld, p.n, p.h, p.w, p.c, p.oh, p.ow, static_cast<int>(p.kh),
                                                static_cast<int>(p.kw), static_cast<int>(p.sh), static_cast<int>(p.sw),
                                                static_cast<int>(p.pt), static_cast<int>(p.pl), static_cast<int>(p.dh),
                                                static_cast<int>(p.dw), act, alpha, dt, st),
                        "depthwise_conv_nhwc");
                },
                {y.buf});
    return Status::ok();
}

Status lower_stem_conv(CudaLowering& cx, const Node& n, const ConvParams& p, ck::Act act, float alpha) {
    const View x = cx.input_f32.at(n.inputs[0]);
    ITSCAM_ASSIGN_OR_RETURN(View wv, cx.upload_constant(n.inputs[1], DType::kF32));  // [K, C, kh, kw] as is
    View bv;
    ITSCAM_RETURN_IF_ERROR(conv_bias_residual(cx, n, bv, nullptr));
    const View y = cx.resolve_nhwc(n.outputs[0]);
    const ck::DT dt = to_dt(cx.act);
    std::ostringstream d;
    d << "Conv stem " << p.kh << "x" << p.kw << "/" << p.sh << " " << shape_text(cx.vals[n.inputs[0]].shape) << "->"
      << shape_text(cx.vals[n.outputs[0]].shape) << (act != ck::Act::kNone ? " +act" : "")
      << " [itscam kernel, from NCHW fp32]";
    cx.add_step(
        n.name, d.str(), {x.buf, wv.buf, bv.buf, y.buf},
        [&cx, x, wv, bv, y, p, act, alpha, dt](cudaStream_t st) {
            return csl::cuda_status(
                ck::stem_conv_nchw(
                    static_cast<const float*>(cx.ptr(x)), p.n, p.c, p.h, p.w, static_cast<const float*>(cx.ptr(wv)),
                    bv.valid() ? static_cast<const float*>(cx.ptr(bv)) : nullptr, cx.ptr(y), y.ld, p.oc, p.oh, p.ow,
                    static_cast<int>(p.kh), static_cast<int>(p.kw), static_cast<int>(p.sh), static_cast<int>(p.sw),
                    static_cast<int>(p.pt), static_cast<int>(p.pl), act, alpha, dt, st),
                "stem_conv_nchw");
        },
        {y.buf});
    return Status::ok();
}

}  // namespace itscam::cuda
