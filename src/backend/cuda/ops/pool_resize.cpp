// MaxPool and nearest Resize on NHWC views (kernels/pool_resize.cu): both read a strided input and write a strided
// output, so their results can be placed straight into a Concat's buffer.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/ops/registry.h"
#include "ops/conv_params.h"
#include "ops/resize_params.h"

namespace itscam::cuda {

namespace {

Status lower_maxpool(CudaLowering& cx, const Node& n) {
    const std::string& xn = n.inputs[0];
    ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(xn));
    const Shape xs = cx.vals[xn].shape;
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs, {}, true));
    if (p.dh != 1 || p.dw != 1) return unsupported(n.label() + ": dilated pooling on the CUDA backend");
    const View x = cx.vals[xn].nhwc, y = cx.resolve_nhwc(n.outputs[0]);
    const ck::DT dt = to_dt(cx.act);
    cx.add_step(n.name, "MaxPool " + std::to_string(p.kh) + "x" + std::to_string(p.kw) + " " + shape_text(xs),
                {x.buf, y.buf},
                [&cx, x, y, p, dt](cudaStream_t st) {
                    return csl::cuda_status(ck::maxpool_nhwc(cx.ptr(x), x.ld, cx.ptr(y), y.ld, p.n, p.h, p.w, p.c, p.oh,
                                                             p.ow, static_cast<int>(p.kh), static_cast<int>(p.kw),
                                                             static_cast<int>(p.sh), static_cast<int>(p.sw),
                                                             static_cast<int>(p.pt), static_cast<int>(p.pl), dt, st),
                                            "maxpool_nhwc");
                },
                {y.buf});
    return Status::ok();
}

Status lower_resize(CudaLowering& cx, const Node& n) {
    const std::string& xn = n.inputs[0];
    ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(xn));
    const Shape xs = cx.vals[xn].shape;
    ITSCAM_ASSIGN_OR_RETURN(ResizeParams rp, resize_params(cx.graph, n, xs));
    std::vector<int32_t> idx(static_cast<size_t>(rp.out[2] + rp.out[3]));
    for (int64_t i = 0; i < rp.out[2]; ++i) idx[i] = static_cast<int32_t>(resize_nearest_index(rp, 2, i, xs[2]));
    for (int64_t i = 0; i < rp.out[3]; ++i)
        idx[rp.out[2] + i] = static_cast<int32_t>(resize_nearest_index(rp, 3, i, xs[3]));
    const std::string tname = cx.graph.unique_name(n.name + "_idx");
    Tensor t = Tensor::empty(DType::kI32, {static_cast<int64_t>(idx.size())});
    std::memcpy(t.raw(), idx.data(), idx.size() * 4);
    cx.graph.constants[tname] = t;
    ITSCAM_ASSIGN_OR_RETURN(View iv, cx.upload_constant(tname, DType::kI32));
    const View x = cx.vals[xn].nhwc, y = cx.resolve_nhwc(n.outputs[0]);
    const Shape out = rp.out;
    const ck::DT dt = to_dt(cx.act);
    cx.add_step(n.name, "Resize nearest " + shape_text(xs) + "->" + shape_text(out), {x.buf, y.buf, iv.buf},
                [&cx, x, y, xs, out, iv, dt](cudaStream_t st) {
                    const int* ih = static_cast<const int*>(cx.ptr(iv));
                    return csl::cuda_status(
                        ck::resize_nearest_nhwc(cx.ptr(x), x.ld, cx.ptr(y), y.ld, xs[0], xs[2], xs[3], xs[1], out[2],
                                                out[3], ih, ih + out[2], dt, st),
                        "resize_nearest_nhwc");
                },
                {y.buf});
    return Status::ok();
}

}  // namespace

void register_cuda_pool_resize_lowerings(LoweringRegistry<CudaLowering>& r) {
    r.add("MaxPool", {"pool_resize", Layout::kNhwc,
                      [](const CudaLowering& cx, const Node& n) {
                          return cx.is_rank4_f32(n.inputs[0]) && cx.is_dynamic(n.inputs[0]) && n.outputs.size() == 1 &&
                                 n.attr_int("ceil_mode", 0) == 0;
                      },
                      lower_maxpool});
    // Nearest only, and only over H and W (the batch and channels keep their size).
    r.add("Resize", {"pool_resize", Layout::kNhwc,
                     [](const CudaLowering& cx, const Node& n) {
                         if (!(cx.is_rank4_f32(n.inputs[0]) && cx.is_dynamic(n.inputs[0]) &&
                               n.attr_string("mode", "nearest") == "nearest"))
                             return false;
                         auto p = resize_params(cx.graph, n, cx.graph.info(n.inputs[0])->shape);
                         const Shape& in = cx.graph.info(n.inputs[0])->shape;
                         return p && p->out[0] == in[0] && p->out[1] == in[1];
                     },
                     lower_resize});
}

}  // namespace itscam::cuda
