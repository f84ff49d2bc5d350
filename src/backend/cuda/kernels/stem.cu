// The stem convolution straight from the plain NCHW fp32 image into an NHWC view, with the conv epilogue fused. For
// stems with few input channels, where an NCHW->NHWC conversion (padded to 8 channels) and a tensor-core convolution
// move three times the bytes.
//
// Layout of the work: one thread per kPx adjacent output pixels of a row and 16 output channels (a chunk), all in
// registers. The weights sit in shared memory chunk-major and tap-major ([chunk][c][r][s][16], zero-padded past K), so
// one tap's 16 weights are four 16-byte broadcast loads shared by the thread's kPx pixels. Indices are 32-bit where
// the tensors fit. A pixel's 16 results leave as 16-byte stores where the destination view allows.
//
// The first version (one pixel per thread, one 4-byte shared load per multiply-add, 64-bit indices, 2-byte stores)
// took 2.13 ms at batch 64 on the H200, against 0.93 ms for the NHWC conversion and cuDNN's convolution together,
// which made the latency kernels lose at large batches (docs/cuda.md).
#include <cuda_fp16.h>

#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {

namespace {

constexpr int kStemK = 16;  // output channels per chunk (registers)
constexpr int kPx = 2;      // adjacent output pixels per thread

// 16 results of one pixel to y (dense chunk, destination aligned for 16-byte stores: checked by the launcher).
__device__ __forceinline__ void store16(__half* y, const float (&v)[kStemK]) {
    __align__(16) __half h[kStemK];
#pragma unroll
    for (int j = 0; j < kStemK; ++j) h[j] = __float2half_rn(v[j]);
    reinterpret_cast<uint4*>(y)[0] = reinterpret_cast<const uint4*>(h)[0];
    reinterpret_cast<uint4*>(y)[1] = reinterpret_cast<const uint4*>(h)[1];
}
__device__ __forceinline__ void store16(float* y, const float (&v)[kStemK]) {
#pragma unroll
    for (int q = 0; q < kStemK / 4; ++q)
        reinterpret_cast<float4*>(y)[q] = make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
}

// KH, KW, CC: compile-time kernel size and input channels (0: the run-time kh, kw, C). I: the index type.
template <typename T, typename I, int KH, int KW, int CC>
__global__ void stem_kernel(const float* __restrict__ x, I C_, I H, I W, const float* __restrict__ w,
                            const float* __restrict__ bias, T* y, I ldy, I K, I OH, I OW, I OWP, I total, int kh_,
                            int kw_, int sh, int sw, int pt, int pl, Act act, float alpha, bool vec_store) {
    const int kh = KH ? KH : kh_, kw = KW ? KW : kw_;
    const I C = CC ? static_cast<I>(CC) : C_;
    const int taps = kh * kw;
    const I chunks = (K + kStemK - 1) / kStemK;
    extern __shared__ float4 smem4[];
    float* smem = reinterpret_cast<float*>(smem4);
    // [chunk][c][tap][16] from w [K][C][tap].
    const I wn = chunks * C * taps * kStemK;
    for (I i = threadIdx.x; i < wn; i += blockDim.x) {
        const I j = i % kStemK;
        const I t = (i / kStemK) % taps;
        const I c = (i / (kStemK * taps)) % C;
        const I k = (i / (kStemK * taps * C)) * kStemK + j;
        smem[i] = k < K ? w[(k * C + c) * taps + t] : 0.f;
    }
    __syncthreads();
    // item = chunk * (N * OH * OWP) + (n * OH + oh) * OWP + owp: the chunk varies slowest, so the threads of a warp
    // read the same weights (broadcast) and neighbouring input columns.
    const I per_chunk = total / chunks;
    for (I item = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; item < total;
         item += static_cast<I>(blockDim.x) * gridDim.x) {
        const I chunk = item / per_chunk;
        const I q = item - chunk * per_chunk;
        const I owp = q % OWP;
        const I row = q / OWP;  // n * OH + oh
        const I oh = row % OH;
        const I n = row / OH;
        const I ow0 = owp * kPx;
        float acc[kPx][kStemK];
        const I k0 = chunk * kStemK;
#pragma unroll
        for (int j = 0; j < kStemK; ++j) {
            const float b = (bias != nullptr && k0 + j < K) ? __ldg(bias + k0 + j) : 0.f;
#pragma unroll
            for (int p = 0; p < kPx; ++p) acc[p][j] = b;
        }
        const int ih0 = static_cast<int>(oh) * sh - pt;
        const int iw0 = static_cast<int>(ow0) * sw - pl;
        const float4* wchunk = smem4 + static_cast<size_t>(chunk) * C * taps * (kStemK / 4);
#pragma unroll
        for (I c = 0; c < C; ++c) {
            const float* xc = x + (n * C + c) * H * W;
#pragma unroll
            for (int r = 0; r < kh; ++r) {
                const int ih = ih0 + r;
                if (ih < 0 || ih >= static_cast<int>(H)) continue;
                const float* xrow = xc + static_cast<I>(ih) * W;
#pragma unroll
                for (int s = 0; s < kw; ++s) {
                    float v[kPx];
#pragma unroll
                    for (int p = 0; p < kPx; ++p) {
                        const int iw = iw0 + p * sw + s;
                        v[p] = (iw >= 0 && iw < static_cast<int>(W) && ow0 + p < OW) ? __ldg(xrow + iw) : 0.f;
                    }
                    const float4* wt = wchunk + (c * taps + r * kw + s) * (kStemK / 4);
#pragma unroll
                    for (int g = 0; g < kStemK / 4; ++g) {
                        const float4 wv = wt[g];
#pragma unroll
                        for (int p = 0; p < kPx; ++p) {
                            acc[p][4 * g] = fmaf(v[p], wv.x, acc[p][4 * g]);
                            acc[p][4 * g + 1] = fmaf(v[p], wv.y, acc[p][4 * g + 1]);
                            acc[p][4 * g + 2] = fmaf(v[p], wv.z, acc[p][4 * g + 2]);
                            acc[p][4 * g + 3] = fmaf(v[p], wv.w, acc[p][4 * g + 3]);
                        }
                    }
                }
            }
        }
#pragma unroll
        for (int p = 0; p < kPx; ++p) {
            if (ow0 + p >= OW) break;
#pragma unroll
            for (int j = 0; j < kStemK; ++j) acc[p][j] = detail::apply_act(acc[p][j], act, alpha);
            T* yp = y + (row * OW + ow0 + p) * ldy + k0;
            if (vec_store && k0 + kStemK <= K) {
                store16(yp, acc[p]);
            } else {
#pragma unroll
                for (int j = 0; j < kStemK; ++j)
                    if (k0 + j < K) yp[j] = detail::from_f<T>(acc[p][j]);
            }
        }
    }
}

template <typename T, typename I>
void launch(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w, const float* bias, T* y,
            int64_t ldy, int64_t K, int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pt, int pl, Act act,
            float alpha, bool vec_store, size_t smem, cudaStream_t stream) {
    const int64_t owp = (OW + kPx - 1) / kPx, chunks = (K + kStemK - 1) / kStemK;
    const int64_t total = N * OH * owp * chunks;
    const unsigned grid = detail::grid_for(total);
    const auto args = [&](auto kernel) {
        kernel<<<grid, detail::kBlock, smem, stream>>>(x, static_cast<I>(C), static_cast<I>(H), static_cast<I>(W), w,
                                                       bias, y, static_cast<I>(ldy), static_cast<I>(K),
                                                       static_cast<I>(OH), static_cast<I>(OW), static_cast<I>(owp),
                                                       static_cast<I>(total), kh, kw, sh, sw, pt, pl, act, alpha,
                                                       vec_store);
    };
    if (kh == 3 && kw == 3 && C == 3)  // the YOLO stems: everything unrolled
        args(stem_kernel<T, I, 3, 3, 3>);
    else
        args(stem_kernel<T, I, 0, 0, 0>);
}

}  // namespace

cudaError_t stem_conv_nchw(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w,
                           const float* bias, void* y, int64_t ldy, int64_t K, int64_t OH, int64_t OW, int kh, int kw,
                           int sh, int sw, int pad_top, int pad_left, Act act, float alpha, DT dt,
                           cudaStream_t stream) {
    if (N * OH * OW == 0 || K == 0) return cudaSuccess;
    const int64_t chunks = (K + kStemK - 1) / kStemK;
    const size_t smem = static_cast<size_t>(chunks * kStemK * C * kh * kw) * sizeof(float);
    if (smem > 48 * 1024) return cudaErrorInvalidValue;  // stems are small; the caller checks this first
    const size_t es = detail::dt_size(dt);
    // 16-byte stores of a pixel's 16 results: every pixel's row and every chunk start 16-byte aligned.
    const bool vec_store = (ldy * static_cast<int64_t>(es)) % 16 == 0 && detail::aligned(y, 16);
    // 32-bit indices when every offset fits (the input's elements, the output's, and the work items).
    const bool small = detail::fits32(N * C * H * W) && detail::fits32(N * OH * OW * ldy) &&
                       detail::fits32(N * OH * ((OW + kPx - 1) / kPx) * chunks * 2);
    if (dt == DT::kF16) {
        auto* yh = static_cast<__half*>(y);
        if (small)
            launch<__half, uint32_t>(x, N, C, H, W, w, bias, yh, ldy, K, OH, OW, kh, kw, sh, sw, pad_top, pad_left,
                                     act, alpha, vec_store, smem, stream);
        else
            launch<__half, int64_t>(x, N, C, H, W, w, bias, yh, ldy, K, OH, OW, kh, kw, sh, sw, pad_top, pad_left,
                                    act, alpha, vec_store, smem, stream);
    } else {
        auto* yf = static_cast<float*>(y);
        if (small)
            launch<float, uint32_t>(x, N, C, H, W, w, bias, yf, ldy, K, OH, OW, kh, kw, sh, sw, pad_top, pad_left, act,
                                    alpha, vec_store, smem, stream);
        else
            launch<float, int64_t>(x, N, C, H, W, w, bias, yf, ldy, K, OH, OW, kh, kw, sh, sw, pad_top, pad_left, act,
                                   alpha, vec_store, smem, stream);
    }
    return cudaGetLastError();
}

}  // namespace itscam::cuda_kernels
