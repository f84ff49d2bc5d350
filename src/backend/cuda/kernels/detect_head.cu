// The fused YOLO Detect head (see kernels_impl.h): replaces ~25 small steps (NHWC->NCHW conversions, Reshape/Concat
// copies, DFL softmax, Slice/Sub/Add/Div/Mul box decode, Sigmoid, the final Concat and the fp32 cast) with one
// kernel that reads each logit once and writes the float32 output once.
#include <cuda_fp16.h>

#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {

namespace {

constexpr int kMaxR = 32;

// RF > 0: R known at compile time (16 in every Ultralytics export): the bins stay in registers.
template <typename T, int RF>
__global__ void detect_head_kernel(HeadParams p, const float* __restrict__ bins, float* __restrict__ out) {
    const int R = RF > 0 ? RF : p.R;
    const int64_t total = p.N * p.A;
    const int64_t C = 4 + p.nc;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
        const int64_t n = i / p.A, a = i % p.A;
        int l = 0;
        while (l + 1 < p.levels && a >= p.lv[l + 1].a0) ++l;
        const HeadLevel& L = p.lv[l];
        const int64_t pix = a - L.a0;
        const int64_t row = n * static_cast<int64_t>(L.h) * L.w + pix;
        const T* box = static_cast<const T*>(L.box) + row * L.box_ld;
        const T* cls = static_cast<const T*>(L.cls) + row * L.cls_ld;
        float d[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            float v[RF > 0 ? RF : kMaxR];
            float m = -INFINITY;
#pragma unroll
            for (int k = 0; k < R; ++k) {
                v[k] = detail::to_f(box[j * R + k]);
                m = fmaxf(m, v[k]);
            }
            float s = 0.f, acc = 0.f;
#pragma unroll
            for (int k = 0; k < R; ++k) {
                const float e = __expf(v[k] - m);
                s += e;
                acc = fmaf(e, __ldg(bins + k), acc);
            }
            d[j] = acc / s;
        }
        const float ax = static_cast<float>(pix % L.w) + 0.5f, ay = static_cast<float>(pix / L.w) + 0.5f;
        const float x1 = ax - d[0], y1 = ay - d[1], x2 = ax + d[2], y2 = ay + d[3];
        float* o = out + n * C * p.A + a;
        o[0] = (x1 + x2) * 0.5f * L.stride;
        o[p.A] = (y1 + y2) * 0.5f * L.stride;
        o[2 * p.A] = (x2 - x1) * L.stride;
        o[3 * p.A] = (y2 - y1) * L.stride;
        for (int c = 0; c < p.nc; ++c) o[(4 + c) * p.A] = 1.f / (1.f + __expf(-detail::to_f(cls[c])));
    }
}

}  // namespace

cudaError_t yolo_detect_head(const HeadParams& p, const float* bins, float* out, DT dt, cudaStream_t stream) {
    if (p.R > kMaxR || p.levels < 1 || p.levels > kMaxHeadLevels) return cudaErrorInvalidValue;
    const int64_t total = p.N * p.A;
    if (total == 0) return cudaSuccess;
    const unsigned grid = detail::grid_for(total);
    if (dt == DT::kF16) {
        if (p.R == 16)
            detect_head_kernel<__half, 16><<<grid, detail::kBlock, 0, stream>>>(p, bins, out);
        else
            detect_head_kernel<__half, 0><<<grid, detail::kBlock, 0, stream>>>(p, bins, out);
    } else {
        if (p.R == 16)
            detect_head_kernel<float, 16><<<grid, detail::kBlock, 0, stream>>>(p, bins, out);
        else
            detect_head_kernel<float, 0><<<grid, detail::kBlock, 0, stream>>>(p, bins, out);
    }
    return cudaGetLastError();
}

}  // namespace itscam::cuda_kernels
