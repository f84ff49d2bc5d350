// Implicit-GEMM convolution on tensor cores (mma.sync m16n8k16, fp16 in, fp32 accumulate) for NHWC fp16 views, with
// bias, activation and residual fused and strided source and destination views: the alternatives to cuDNN that the
// convolution autotune (autotune.cpp) times per layer. This file holds the public entry points and variant 0, the
// kernel with the weights resident in shared memory; igemm_tiled.cu holds the tiled variants.
//
// Why: cuDNN's kernels are far from the memory roofline on YOLO's narrow 3x3 layers (8-32 channels at 160x160):
// 12-38% of it at batch 64 on the H100 (docs/cuda.md). Those layers move little data per pixel and do little math,
// so what matters is how few instructions move each input byte, not the tensor-core rate: mma.sync is enough here,
// and Hopper's wgmma (warpgroup-wide, 64-row tiles) would not change the bound.
//
// GEMM view: rows = output pixels (N*OH*OW), columns = output channels, k = (tap, input channel). A warp owns MT
// tiles of 16 pixels and a CTA's slice of up to 8*NT output channels. The A fragments (pixels x 16 channels of one
// tap) come straight from global memory as 32-bit loads: four lanes read a pixel's 32 contiguous bytes, and the other
// eight taps read the same bytes from L1. The B fragments (the weights) sit in shared memory in fragment order, one
// conflict-free 8-byte load per lane and mma, loaded once per CTA: the grid is persistent (CTAs stride over tiles).
#include <cuda_fp16.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "backend/cuda/kernels/igemm_common.cuh"
#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {

namespace {

using igemm::Args;
using igemm::kMaxSmem;
using igemm::launch_config;
using igemm::LaunchConfig;
using igemm::mma16816;
using igemm::window_of;
using igemm::with_epilogue;
using igemm::zero;

constexpr int kWarps = 4;  // warps per CTA
constexpr int kThreads = kWarps * 32;

__device__ __forceinline__ uint32_t ldg32(const __half* p) {
    return __ldg(reinterpret_cast<const unsigned int*>(p));
}

// KS: the (square) kernel size, 1 or 3, so the tap loops unroll. NT: 8-channel tiles per CTA (its output-channel
// slice is blockIdx.y * 8 * NT). MT: 16-pixel tiles per warp.
template <int KS, int NT, int MT>
__global__ void __launch_bounds__(kThreads) igemm_conv_kernel(const Args a) {
    extern __shared__ uint2 wsm[];  // [tap][chunk][NT][32 lanes]: one B fragment per lane
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int co0 = blockIdx.y * NT * 8;
    const int nv = min(NT, (a.K - co0 + 7) / 8);  // valid 8-channel tiles of this slice
    const int CC = a.CC;
    const int ksteps = KS * KS * CC;
    const int wld = KS * KS * a.C;
    for (int i = threadIdx.x; i < ksteps * NT * 32; i += kThreads) {
        const int ln = i & 31, j = (i >> 5) % NT, ks = (i >> 5) / NT;
        const int tap = ks / CC, cc = ks - tap * CC;
        const int n = co0 + j * 8 + (ln >> 2), k = cc * 16 + 2 * (ln & 3);
        uint32_t lo = 0, hi = 0;
        if (n < a.K) {
            const __half* wr = a.w + static_cast<size_t>(n) * wld + tap * a.C;
            if (k < a.C) lo = ldg32(wr + k);
            if (k + 8 < a.C) hi = ldg32(wr + k + 8);
        }
        wsm[i] = make_uint2(lo, hi);
    }
    __syncthreads();

    for (int tile = blockIdx.x; tile < a.tiles; tile += gridDim.x) {
        const int m0 = (tile * kWarps + warp) * (MT * 16);
        // Per row of this lane (pixel m0 + mt*16 + g + 8h): the image's first pixel and the window's corner.
        int base[MT][2], ih0[MT][2], iw0[MT][2];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int h = 0; h < 2; ++h) window_of(a, m0 + mt * 16 + g + 8 * h, base[mt][h], ih0[mt][h], iw0[mt][h]);
        float acc[MT][NT][4];
        zero(acc);

#pragma unroll
        for (int r = 0; r < KS; ++r)
#pragma unroll
            for (int s = 0; s < KS; ++s) {
                int off[MT][2];  // element offset of the row's input pixel for this tap, or -1 (zero padding)
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        const int ih = ih0[mt][h] + r, iw = iw0[mt][h] + s;
                        off[mt][h] = (static_cast<unsigned>(ih) < static_cast<unsigned>(a.H) &&
                                      static_cast<unsigned>(iw) < static_cast<unsigned>(a.W))
                                         ? (base[mt][h] + ih * a.W + iw) * a.ldx + 2 * t
                                         : -1;
                    }
                const uint2* wt = wsm + (r * KS + s) * CC * NT * 32 + lane;
                for (int cc = 0; cc < CC; ++cc) {
                    const bool hi_ok = cc * 16 + 8 < a.C;  // a channel count of 8 mod 16 leaves the top half zero
                    uint32_t fa[MT][4];
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                        for (int h = 0; h < 2; ++h) {
                            const int o = off[mt][h];
                            fa[mt][h] = o >= 0 ? ldg32(a.x + o + cc * 16) : 0u;
                            fa[mt][2 + h] = (o >= 0 && hi_ok) ? ldg32(a.x + o + cc * 16 + 8) : 0u;
                        }
#pragma unroll
                    for (int j = 0; j < NT; ++j) {
                        if (j >= nv) break;
                        const uint2 b = wt[(cc * NT + j) * 32];
#pragma unroll
                        for (int mt = 0; mt < MT; ++mt) mma16816(acc[mt][j], fa[mt], b.x, b.y);
                    }
                }
            }

        // Epilogue: lane holds columns 2t, 2t+1 of rows g and g+8 of every tile.
        with_epilogue(a, [&](const auto& ep) {
#pragma unroll
            for (int j = 0; j < NT; ++j) {
                if (j >= nv) break;
                const int n = co0 + j * 8 + 2 * t;
                if (n >= a.K) continue;
                const float2 b = ep.bias(n);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        const int m = m0 + mt * 16 + g + 8 * h;
                        if (m < a.M) ep.store(m, n, acc[mt][j][2 * h], acc[mt][j][2 * h + 1], b);
                    }
            }
        });
    }
}

// 8-channel tiles per CTA for K output channels: the smallest of 1, 2, 4, 8 that covers them (wider layers take
// several 64-channel slices).
constexpr int nt_for(int64_t K) {
    return K <= 8 ? 1 : K <= 16 ? 2 : K <= 32 ? 4 : 8;
}

constexpr int mt_for(int nt) {
    return nt <= 2 ? 4 : 2;
}

template <int KS, int NT>
cudaError_t launch(Args a, cudaStream_t stream) {
    constexpr int MT = mt_for(NT);
    auto kernel = igemm_conv_kernel<KS, NT, MT>;
    a.tiles = (a.M + kWarps * MT * 16 - 1) / (kWarps * MT * 16);
    const size_t smem = static_cast<size_t>(KS * KS * a.CC * NT * 32) * sizeof(uint2);
    LaunchConfig cfg;
    if (const cudaError_t e = launch_config(kernel, kThreads, smem, &cfg); e != cudaSuccess) return e;
    const int slices = (a.K + NT * 8 - 1) / (NT * 8);
    // Enough CTAs to fill the GPU (each loads the weights once), no more than there are tiles.
    const int want = std::max(1, cfg.sms * cfg.per_sm / slices);
    const dim3 grid(static_cast<unsigned>(std::min(a.tiles, want)), static_cast<unsigned>(slices));
    kernel<<<grid, kThreads, smem, stream>>>(a);
    return cudaGetLastError();
}

template <int KS>
cudaError_t launch_nt(const Args& a, cudaStream_t stream) {
    switch (nt_for(a.K)) {
        case 1:
            return launch<KS, 1>(a, stream);
        case 2:
            return launch<KS, 2>(a, stream);
        case 4:
            return launch<KS, 4>(a, stream);
        default:
            return launch<KS, 8>(a, stream);
    }
}

// The wgmma variants: built (the CUDA architectures include 90) and the current GPU is compute capability 9.0, the
// only one sm_90a code runs on. Asked once per device.
bool wgmma_available() {
#ifdef ITSCAM_HAVE_WGMMA
    static std::mutex mu;
    static std::map<int, bool> known;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    std::lock_guard<std::mutex> lock(mu);
    if (const auto it = known.find(dev); it != known.end()) return it->second;
    int major = 0, minor = 0;
    const bool ok = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
                    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess &&
                    major == 9 && minor == 0;
    known.emplace(dev, ok);
    return ok;
#else
    return false;
#endif
}

}  // namespace

bool igemm_conv_supported(int64_t N, int64_t H, int64_t W, int64_t C, int64_t ldx, int64_t K, int64_t OH, int64_t OW,
                          int64_t ldy, int64_t ldr, int kh, int kw, int dh, int dw, int variant) {
    if (variant < 0 || variant >= kIgemmVariants) return false;
    if (kh != kw || (kh != 1 && kh != 3) || dh != 1 || dw != 1) return false;
    if (C <= 0 || K <= 0 || C % 8 != 0 || K % 8 != 0 || ldx % 2 != 0 || ldy % 2 != 0 || ldr % 2 != 0) return false;
    if (ldx < C || ldy < K || (ldr != 0 && ldr < K)) return false;
    // Every element offset fits 32 bits (the kernels' index type).
    if (!detail::fits32(N * H * W * ldx) || !detail::fits32(N * OH * OW * std::max(ldy, ldr)) ||
        !detail::fits32(K * kh * kw * C))
        return false;
    if (variant == 0) {  // the weights of a 64-channel slice fit shared memory
        const int64_t smem = kh * kw * ((C + 15) / 16) * nt_for(K) * 32 * static_cast<int64_t>(sizeof(uint2));
        return smem <= kMaxSmem;
    }
    if (variant >= 4 && !wgmma_available()) return false;
    // The tiled and wgmma variants read x in 16-byte rows; the 128x128 tile is the 128x64 one for K <= 64, and
    // variant 5 (128x64) is variant 4 there.
    return ldx % 8 == 0 && ((variant != 2 && variant != 5) || K > 64);
}

namespace {

// The arguments every implicit-GEMM kernel shares (the operands x and w are the caller's to set).
Args make_args(const float* bias, const void* residual, int64_t ldx, int64_t ldr, void* y, int64_t ldy, int64_t N,
               int64_t H, int64_t W, int64_t C, int64_t K, int64_t OH, int64_t OW, int sh, int sw, int pad_top,
               int pad_left, Act act, float alpha) {
    Args a{};
    a.bias = bias;
    a.res = static_cast<const __half*>(residual);
    a.y = static_cast<__half*>(y);
    a.ldx = static_cast<int>(ldx);
    a.ldr = static_cast<int>(ldr);
    a.ldy = static_cast<int>(ldy);
    a.N = static_cast<int>(N);
    a.H = static_cast<int>(H);
    a.W = static_cast<int>(W);
    a.C = static_cast<int>(C);
    a.K = static_cast<int>(K);
    a.OH = static_cast<int>(OH);
    a.OW = static_cast<int>(OW);
    a.sh = sh;
    a.sw = sw;
    a.pt = pad_top;
    a.pl = pad_left;
    a.M = static_cast<int>(N * OH * OW);
    a.CC = static_cast<int>((C + 15) / 16);
    a.act = act;
    a.alpha = alpha;
    return a;
}

}  // namespace

cudaError_t igemm_conv_nhwc(const void* x, int64_t ldx, const void* w, const float* bias, const void* residual,
                            int64_t ldr, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C, int64_t K,
                            int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pad_top, int pad_left, Act act,
                            float alpha, int variant, cudaStream_t stream) {
    if (N * OH * OW == 0) return cudaSuccess;
    const size_t xw_align = variant == 0 ? 4 : 16;
    if (!igemm_conv_supported(N, H, W, C, ldx, K, OH, OW, ldy, residual ? ldr : 0, kh, kw, 1, 1, variant) ||
        !detail::aligned(x, xw_align) || !detail::aligned(w, xw_align) || !detail::aligned(y, 4) ||
        !detail::aligned(residual, 4))
        return cudaErrorInvalidValue;
    Args a = make_args(bias, residual, ldx, ldr, y, ldy, N, H, W, C, K, OH, OW, sh, sw, pad_top, pad_left, act, alpha);
    a.x = static_cast<const __half*>(x);
    a.w = static_cast<const __half*>(w);
#ifdef ITSCAM_HAVE_WGMMA
    if (variant == 6) return igemm::launch_tma(a, kh, stream);
    if (variant >= 4) return igemm::launch_wgmma(a, kh, variant, stream);
#endif
    if (variant > 0) return igemm::launch_tiled(a, kh, variant, stream);
    return kh == 3 ? launch_nt<3>(a, stream) : launch_nt<1>(a, stream);
}

bool igemm_conv_fp8_supported(int64_t N, int64_t H, int64_t W, int64_t C, int64_t ldx, int64_t K, int64_t OH,
                              int64_t OW, int64_t ldy, int64_t ldr, int kh, int kw, int dh, int dw) {
    // Variant 6's shape rules, plus 16-byte rows of one-byte elements.
    return C % 16 == 0 && ldx % 16 == 0 &&
           igemm_conv_supported(N, H, W, C, ldx, K, OH, OW, ldy, ldr, kh, kw, dh, dw, 6);
}

cudaError_t igemm_conv_fp8_nhwc(const void* x8, int64_t ldx, const void* w8, const float* scale, const float* out_scale,
                                const float* bias, const void* residual, int64_t ldr, void* y, int64_t ldy, int64_t N,
                                int64_t H, int64_t W, int64_t C, int64_t K, int64_t OH, int64_t OW, int kh, int kw,
                                int sh, int sw, int pad_top, int pad_left, Act act, float alpha, cudaStream_t stream) {
    if (N * OH * OW == 0) return cudaSuccess;
    if (!igemm_conv_fp8_supported(N, H, W, C, ldx, K, OH, OW, ldy, residual ? ldr : 0, kh, kw, 1, 1) || !scale ||
        !detail::aligned(x8, 16) || !detail::aligned(w8, 16) || !detail::aligned(y, 4) ||
        !detail::aligned(residual, 4) ||
        (out_scale &&
         (ldy % 8 != 0 || !detail::aligned(y, 8) || (residual && (ldr % 8 != 0 || !detail::aligned(residual, 16))))))
        return cudaErrorInvalidValue;
    Args a = make_args(bias, residual, ldx, ldr, y, ldy, N, H, W, C, K, OH, OW, sh, sw, pad_top, pad_left, act, alpha);
    a.scale = scale;
    a.out_scale = out_scale;
#ifdef ITSCAM_HAVE_WGMMA
    return igemm::launch_tma_fp8(a, x8, w8, kh, stream);
#else
    return cudaErrorNotSupported;  // not reached: igemm_conv_fp8_supported() is false without sm_90a code
#endif
}

}  // namespace itscam::cuda_kernels
