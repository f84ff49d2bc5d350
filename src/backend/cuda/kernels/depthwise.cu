// Depthwise convolution on NHWC views with bias, activation and residual fused. Memory-bound: one thread per kPx (4)
// adjacent output pixels of a row and V adjacent channels (V = 8 fp16 or 4 fp32 values, one 16-byte load per tap,
// where every view's channel count, row pitch and base allow), channels fastest so a warp reads contiguous channels;
// the kh x kw taps of neighbouring outputs hit L1/L2. Each tap's V weights are loaded once for the thread's pixels.
// Indices are 32-bit wherever the views fit (2^31 elements), as 64-bit division costs several times more. Weights are
// tap-major ([kh, kw, C]) so the V weights of one tap are one vector load too.
// At batch 1, cuDNN's grouped NHWC kernels were 10-50x slower on these shapes (the YOLO11 head's 3x3 depthwise layers
// and the C2PSA positional encoding). At batch 64 (H200, 2026-12-06) the one-pixel-per-thread version was slower than
// cuDNN (0.133 against 0.100 ms for [64, 80, 80, 80]): its weight loads outnumbered its input loads two to one, which
// the kPx pixels per thread divide by four.
#include <cuda_fp16.h>

#include <algorithm>

#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {

namespace {

using detail::Vec;

// V consecutive floats from an address aligned to 4 * V bytes (V = 8: two 16-byte loads).
template <int V>
__device__ __forceinline__ void load_f(const float* __restrict__ p, float (&out)[V]) {
    if constexpr (V == 8) {
        const float4 a = __ldg(reinterpret_cast<const float4*>(p));
        const float4 b = __ldg(reinterpret_cast<const float4*>(p) + 1);
        out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w, out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
    } else if constexpr (V == 4) {
        const float4 a = __ldg(reinterpret_cast<const float4*>(p));
        out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
    } else if constexpr (V == 2) {
        const float2 a = __ldg(reinterpret_cast<const float2*>(p));
        out[0] = a.x, out[1] = a.y;
    } else {
        out[0] = __ldg(p);
    }
}

// Adjacent output pixels of a row per thread: kPx where that still leaves about one full wave of threads (an H200 holds
// 132 x 2048), else 1 (at batch 1 a quarter of the threads would leave most multiprocessors idle).
constexpr int kPx = 4;
constexpr int64_t kPxMinItems = int64_t{1} << 18;

// I: the index type (uint32_t where every offset fits, else int64_t). CV = C / V, OWG = ceil(OW / P).
template <typename T, int V, int P, typename I>
__global__ void depthwise_kernel(const T* __restrict__ x, I ldx, const float* __restrict__ w,
                                 const float* __restrict__ bias, const T* __restrict__ res, I ldr, T* y, I ldy,
                                 I total, I H, I W, I C, I CV, I OH, I OW, I OWG, int kh, int kw, int sh, int sw,
                                 int pt, int pl, int dh, int dw, Act act, float alpha) {
    using VT = Vec<T, V>;
    for (I i = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<I>(blockDim.x) * gridDim.x) {
        const I c = (i % CV) * V;
        const I q = i / CV;  // (n * OH + oh) * OWG + owg
        const I owg = q % OWG;
        const I row = q / OWG;  // n * OH + oh
        const I oh = row % OH;
        const I n = row / OH;
        const int ow0 = static_cast<int>(owg) * P;
        const int npx = min(P, static_cast<int>(OW) - ow0);
        float acc[P][V];
        {
            float b[V];
            if (bias != nullptr)
                load_f<V>(bias + c, b);
            else
#pragma unroll
                for (int j = 0; j < V; ++j) b[j] = 0.f;
#pragma unroll
            for (int p = 0; p < P; ++p)
#pragma unroll
                for (int j = 0; j < V; ++j) acc[p][j] = b[j];
        }
        // Signed tap coordinates: the padding makes the first ones negative.
        const int ih0 = static_cast<int>(oh) * sh - pt;
        for (int r = 0; r < kh; ++r) {
            const int ih = ih0 + r * dh;
            if (ih < 0 || ih >= static_cast<int>(H)) continue;
            const T* xrow = x + ((n * H + static_cast<I>(ih)) * W) * ldx + c;
            for (int s = 0; s < kw; ++s) {
                float wv[V];
                load_f<V>(w + static_cast<I>(r * kw + s) * C + c, wv);
#pragma unroll
                for (int p = 0; p < P; ++p) {
                    const int iw = (ow0 + p) * sw - pl + s * dw;
                    if (p >= npx || iw < 0 || iw >= static_cast<int>(W)) continue;
                    const VT xv = *reinterpret_cast<const VT*>(xrow + static_cast<I>(iw) * ldx);
#pragma unroll
                    for (int j = 0; j < V; ++j) acc[p][j] = fmaf(detail::to_f(xv.v[j]), wv[j], acc[p][j]);
                }
            }
        }
#pragma unroll
        for (int p = 0; p < P; ++p) {
            if (p >= npx) break;
            const I pix = row * OW + static_cast<I>(ow0 + p);
            VT out;
            if (res != nullptr) {
                const VT rv = *reinterpret_cast<const VT*>(res + pix * ldr + c);
#pragma unroll
                for (int j = 0; j < V; ++j)
                    out.v[j] = detail::from_f<T>(detail::apply_act(acc[p][j], act, alpha) + detail::to_f(rv.v[j]));
            } else {
#pragma unroll
                for (int j = 0; j < V; ++j) out.v[j] = detail::from_f<T>(detail::apply_act(acc[p][j], act, alpha));
            }
            *reinterpret_cast<VT*>(y + pix * ldy + c) = out;
        }
    }
}

template <typename T, int V, int P, typename I>
void launch(const void* x, int64_t ldx, const float* w, const float* bias, const void* residual, int64_t ldr, void* y,
            int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW, int kh, int kw, int sh,
            int sw, int pt, int pl, int dh, int dw, Act act, float alpha, cudaStream_t stream) {
    const int64_t owg = (OW + P - 1) / P;
    const int64_t total = N * OH * owg * (C / V);
    depthwise_kernel<T, V, P, I><<<detail::grid_for(total), detail::kBlock, 0, stream>>>(
        static_cast<const T*>(x), static_cast<I>(ldx), w, bias, static_cast<const T*>(residual), static_cast<I>(ldr),
        static_cast<T*>(y), static_cast<I>(ldy), static_cast<I>(total), static_cast<I>(H), static_cast<I>(W),
        static_cast<I>(C), static_cast<I>(C / V), static_cast<I>(OH), static_cast<I>(OW), static_cast<I>(owg), kh, kw,
        sh, sw, pt, pl, dh, dw, act, alpha);
}

template <typename T, int V>
void launch_v(bool narrow, const void* x, int64_t ldx, const float* w, const float* bias, const void* residual,
              int64_t ldr, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW,
              int kh, int kw, int sh, int sw, int pt, int pl, int dh, int dw, Act act, float alpha,
              cudaStream_t stream) {
#define ITSCAM_DW_LAUNCH(P, I)                                                                                        \
    launch<T, V, P, I>(x, ldx, w, bias, residual, ldr, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, act, \
                       alpha, stream)
    const bool wide = N * OH * ((OW + kPx - 1) / kPx) * (C / V) >= kPxMinItems;
    if (narrow && wide)
        ITSCAM_DW_LAUNCH(kPx, uint32_t);
    else if (narrow)
        ITSCAM_DW_LAUNCH(1, uint32_t);
    else if (wide)
        ITSCAM_DW_LAUNCH(kPx, int64_t);
    else
        ITSCAM_DW_LAUNCH(1, int64_t);
#undef ITSCAM_DW_LAUNCH
}

template <typename T>
cudaError_t depthwise_t(const void* x, int64_t ldx, const float* w, const float* bias, const void* residual, int64_t ldr,
                        void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW,
                        int kh, int kw, int sh, int sw, int pt, int pl, int dh, int dw, Act act, float alpha,
                        cudaStream_t stream) {
    if (N * OH * OW * C == 0) return cudaSuccess;
    // The widest vector that every channel count, row pitch and base pointer allows (weights and bias are float:
    // their alignment is checked for V floats).
    const int64_t counts[] = {C, ldx, ldy, residual != nullptr ? ldr : C};
    const void* ptrs[] = {x, y, residual};
    int v = detail::pick_vec<4, 3>(sizeof(T), counts, ptrs);
    auto f_ok = [&](const float* p) { return detail::aligned(p, std::min<size_t>(v * sizeof(float), 16)); };
    while (v > 1 && !(f_ok(w) && f_ok(bias))) v /= 2;
    // 32-bit indices where the largest offset any view reaches, and the loop's index plus one grid stride, fit.
    const int64_t in_span = N * H * W * ldx, out_span = N * OH * OW * std::max(ldy, residual != nullptr ? ldr : 0);
    const int64_t stride = int64_t{detail::grid_for(N * OH * OW * (C / v))} * detail::kBlock;  // the larger (P = 1)
    const bool narrow = detail::fits32(std::max(in_span, out_span) + stride);
#define ITSCAM_DW_ARGS \
    narrow, x, ldx, w, bias, residual, ldr, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, dh, dw, act, alpha, stream
    switch (v) {
        case 8:
            if constexpr (sizeof(T) == 2) {
                launch_v<T, 8>(ITSCAM_DW_ARGS);
                break;
            }
            [[fallthrough]];
        case 4:
            launch_v<T, 4>(ITSCAM_DW_ARGS);
            break;
        case 2:
            launch_v<T, 2>(ITSCAM_DW_ARGS);
            break;
        default:
            launch_v<T, 1>(ITSCAM_DW_ARGS);
    }
#undef ITSCAM_DW_ARGS
    return cudaGetLastError();
}

}  // namespace

cudaError_t depthwise_conv_nhwc(const void* x, int64_t ldx, const float* w, const float* bias, const void* residual,
                                int64_t ldr, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                                int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                                int dh, int dw, Act act, float alpha, DT dt, cudaStream_t stream) {
    if (dt == DT::kF16)
        return depthwise_t<__half>(x, ldx, w, bias, residual, ldr, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pad_top,
                                   pad_left, dh, dw, act, alpha, stream);
    return depthwise_t<float>(x, ldx, w, bias, residual, ldr, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pad_top,
                              pad_left, dh, dw, act, alpha, stream);
}

}  // namespace itscam::cuda_kernels
