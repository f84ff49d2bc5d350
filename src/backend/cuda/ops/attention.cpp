// The attention block's compute on plain tensors: MatMul on cuBLAS (GemmStridedBatchedEx, fp32 compute, batch
// broadcasting 1 vs N) and Softmax (kernels/softmax_dfl.cu). Its Reshape/Transpose are data movement
// (ops/data_movement.cpp).
#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "backend/cuda/ops/registry.h"
#include "ops/resize_params.h"

namespace itscam::cuda {

namespace {

Status lower_matmul(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[0]));
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[1]));
    const Shape a = cx.vals[n.inputs[0]].shape, b = cx.vals[n.inputs[1]].shape;
    const int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
    if (b[b.size() - 2] != K) return invalid_argument(n.label() + ": inner dimensions differ");
    const int64_t batch_a = shape_numel(a) / (M * K), batch_b = shape_numel(b) / (K * N);
    if (batch_a != batch_b && batch_a != 1 && batch_b != 1)
        return unsupported(n.label() + ": MatMul batch broadcasting other than 1 vs N on the CUDA backend");
    const int64_t batch = std::max(batch_a, batch_b);
    Val& yv = cx.vals[n.outputs[0]];
    yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * cx.es, n.outputs[0]);
    const View x0 = cx.vals[n.inputs[0]].plain, x1 = cx.vals[n.inputs[1]].plain, y = yv.plain;
    const cudaDataType_t dt = cx.act == DType::kF16 ? CUDA_R_16F : CUDA_R_32F;
    const long long sa = batch_a == 1 ? 0 : M * K, sb = batch_b == 1 ? 0 : K * N;
    cx.add_step(n.name, "MatMul " + shape_text(a) + "x" + shape_text(b) + " [cuBLAS]", {x0.buf, x1.buf, y.buf},
                [&cx, x0, x1, y, M, K, N, batch, sa, sb, dt](cudaStream_t st) -> Status {
                    const float one = 1.f, zero = 0.f;
                    // Row-major C = A B is column-major C^T = B^T A^T.
                    ITSCAM_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
                        cx.cublas.get(), CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                        static_cast<int>(K), &one, cx.ptr(x1), dt, static_cast<int>(N), sb, cx.ptr(x0), dt,
                        static_cast<int>(K), sa, &zero, cx.ptr(y), dt, static_cast<int>(N), M * N,
                        static_cast<int>(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
                    return Status::ok();
                },
                {y.buf});
    cx.steps.back().cublas = true;
    return Status::ok();
}

Status lower_softmax(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[0]));
    const Shape xs = cx.vals[n.inputs[0]].shape;
    ITSCAM_ASSIGN_OR_RETURN(SoftmaxLayout l, softmax_layout(n, xs));
    Val& yv = cx.vals[n.outputs[0]];
    yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * cx.es, n.outputs[0]);
    const View x = cx.vals[n.inputs[0]].plain, y = yv.plain;
    const ck::DT dt = to_dt(cx.act);
    cx.add_step(n.name, "Softmax " + shape_text(xs), {x.buf, y.buf},
                [&cx, x, y, l, dt](cudaStream_t st) {
                    return csl::cuda_status(ck::softmax(cx.ptr(x), cx.ptr(y), l.outer, l.len, l.inner, dt, st),
                                            "softmax");
                },
                {y.buf});
    return Status::ok();
}

}  // namespace

void register_cuda_attention_lowerings(LoweringRegistry<CudaLowering>& r) {
    r.add("MatMul", {"attention", Layout::kPlain,
                     [](const CudaLowering& cx, const Node& n) {
                         return cx.all_inputs_dynamic(n) && cx.is_f32(n.inputs[0]) &&
                                cx.graph.info(n.inputs[0])->shape.size() >= 2 &&
                                cx.graph.info(n.inputs[1])->shape.size() >= 2;
                     },
                     lower_matmul});
    r.add("Softmax",
          {"attention", Layout::kPlain,
           [](const CudaLowering& cx, const Node& n) { return cx.is_dynamic(n.inputs[0]) && cx.is_f32(n.inputs[0]); },
           lower_softmax});
}

}  // namespace itscam::cuda
