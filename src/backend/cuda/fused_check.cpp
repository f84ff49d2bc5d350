#include "backend/cuda/fused_check.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda {

namespace ck = cuda_kernels;

namespace {

// The direct reference convolution of L (kernels/verify.cu) into `ref` (dense, s.k channels a pixel).
cudaError_t reference_conv(CudaLowering& cx, ConvLayer& L, void* ref, cudaStream_t st) {
    const FusedConvSpec& s = L.spec;
    const int64_t ldx = s.ldx ? s.ldx : s.c, ldr = s.ldr ? s.ldr : s.k;
    return ck::conv_reference_nhwc(
        cx.ptr(L.x), ldx, cx.ptr(View{L.w_buf, 0, 0}), cx.ptr(L.bias_act), L.res.valid() ? cx.ptr(L.res) : nullptr,
        ldr, ref, s.k, s.n, s.h, s.w, s.c, s.k, static_cast<int>(s.r), static_cast<int>(s.s), s.oh, s.ow,
        static_cast<int>(s.pad_h), static_cast<int>(s.pad_w), static_cast<int>(s.stride_h),
        static_cast<int>(s.stride_w), static_cast<int>(s.dil_h), static_cast<int>(s.dil_w),
        static_cast<ck::Act>(s.activation), ck::DT::kF16, st);
}

// The same deterministic inputs before every run of L (the residual may be the output's own buffer, updated in
// place).
Status fill_inputs(CudaLowering& cx, ConvLayer& L, cudaStream_t st) {
    const FusedConvSpec& s = L.spec;
    const int64_t ldx = s.ldx ? s.ldx : s.c, ldr = s.ldr ? s.ldr : s.k;
    ITSCAM_CUDA_CHECK(ck::fill_pattern(cx.ptr(L.x), ck::DT::kF16, s.n * s.h * s.w, s.c, ldx, 0x1234u, st));
    if (L.res.valid())
        ITSCAM_CUDA_CHECK(
            ck::fill_pattern(cx.ptr(L.res), ck::DT::kF16, s.n * s.oh * s.ow, s.k, ldr, 0xBEEFu, st));
    return Status::ok();
}

}  // namespace

Result<std::vector<double>> fused_engine_errors(CudaLowering& cx, ConvLayer& L) {
    cudaStream_t st = cx.stream.get();
    const FusedConvSpec& s = L.spec;
    const ck::DT dt = ck::DT::kF16;  // only fp16 convolutions are fused (ops/conv.cpp)
    const size_t es = 2;
    const int64_t ldy = s.ldy ? s.ldy : s.k, rows_y = s.n * s.oh * s.ow;
    void* y = cx.ptr(L.y_final);
    const int plans = L.fused->num_plans();
    ITSCAM_ASSIGN_OR_RETURN(csl::DeviceMem ref, csl::device_alloc(static_cast<size_t>(rows_y * s.k) * es));
    ITSCAM_ASSIGN_OR_RETURN(csl::DeviceMem acc, csl::device_alloc(sizeof(double) * 2 * std::max(plans, 1)));
    ITSCAM_CUDA_CHECK(cudaMemsetAsync(acc.get(), 0, sizeof(double) * 2 * std::max(plans, 1), st));

    L.fused_plan = -1;  // the legacy convolution + epilogue
    ITSCAM_RETURN_IF_ERROR(fill_inputs(cx, L, st));
    if (L.must_fuse) {
        // No legacy algorithm takes this strided input: the direct reference convolution computes the layer instead.
        ITSCAM_CUDA_CHECK(reference_conv(cx, L, ref.get(), st));
    } else {
        ITSCAM_RETURN_IF_ERROR(cx.steps[L.step].fn(st));
        ITSCAM_CUDA_CHECK(cudaMemcpy2DAsync(ref.get(), s.k * es, y, ldy * es, s.k * es, rows_y,
                                            cudaMemcpyDeviceToDevice, st));
    }
    auto* sums = static_cast<double*>(acc.get());
    std::vector<bool> ran(plans, false);
    for (int i = 0; i < plans; ++i) {
        ITSCAM_RETURN_IF_ERROR(fill_inputs(cx, L, st));
        L.fused_plan = i;
        const Status run = cx.steps[L.step].fn(st);
        L.fused_plan = -1;
        if (!run) continue;  // an engine that does not run is not chosen either (time_step fails the same way)
        ran[i] = true;
        ITSCAM_CUDA_CHECK(ck::diff_squares(y, ldy, ref.get(), s.k, dt, rows_y, s.k, sums + 2 * i, st));
    }
    std::vector<double> host(2 * std::max(plans, 1));
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(host.data(), sums, host.size() * sizeof(double), cudaMemcpyDeviceToHost, st));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(st));
    std::vector<double> err(plans, 1.0);
    for (int i = 0; i < plans; ++i)
        if (ran[i]) err[i] = host[2 * i] / std::max(host[2 * i + 1], 1e-30);
    return err;
}

Result<double> igemm_error(CudaLowering& cx, ConvLayer& L) {
    cudaStream_t st = cx.stream.get();
    const FusedConvSpec& s = L.spec;
    const int64_t ldy = s.ldy ? s.ldy : s.k, rows_y = s.n * s.oh * s.ow;
    ITSCAM_ASSIGN_OR_RETURN(csl::DeviceMem ref, csl::device_alloc(static_cast<size_t>(rows_y * s.k) * 2));
    ITSCAM_ASSIGN_OR_RETURN(csl::DeviceMem acc, csl::device_alloc(sizeof(double) * 2));
    ITSCAM_CUDA_CHECK(cudaMemsetAsync(acc.get(), 0, sizeof(double) * 2, st));
    ITSCAM_RETURN_IF_ERROR(fill_inputs(cx, L, st));
    ITSCAM_CUDA_CHECK(reference_conv(cx, L, ref.get(), st));
    ITSCAM_RETURN_IF_ERROR(fill_inputs(cx, L, st));
    const bool was = L.use_igemm;
    L.use_igemm = true;
    const Status run = cx.steps[L.step].fn(st);
    L.use_igemm = was;
    ITSCAM_RETURN_IF_ERROR(run);
    auto* sums = static_cast<double*>(acc.get());
    ITSCAM_CUDA_CHECK(
        ck::diff_squares(cx.ptr(L.y_final), ldy, ref.get(), s.k, ck::DT::kF16, rows_y, s.k, sums, st));
    double host[2] = {0, 0};
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(host, sums, sizeof(host), cudaMemcpyDeviceToHost, st));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(st));
    return host[0] / std::max(host[1], 1e-30);
}

}  // namespace itscam::cuda
