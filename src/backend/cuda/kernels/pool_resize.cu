// NHWC MaxPool (one pool, or a chain of equal pools in one kernel) and nearest Resize, vectorized over channels.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {
namespace {

using detail::from_f;
using detail::to_f;
using detail::Vec;

// One thread per (n, oh, ow, V channels); consecutive threads take consecutive channel vectors of one pixel.
// KS > 0: a KS x KS window known at compile time (unrolled, so the window's loads issue together); 0: any window.
template <typename T, int V, typename I, int KS>
__global__ void maxpool_kernel(const T* __restrict__ x, int64_t ldx, T* __restrict__ y, int64_t ldy, int H, int W, I OH,
                               I OW, I CV, I total, int kh, int kw, int sh, int sw, int pad_top, int pad_left) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        I t = i / CV;
        const I c = (i - t * CV) * V;
        const I ow = t % OW;
        t /= OW;
        const I oh = t % OH;
        const I n = t / OH;
        const int ih0 = static_cast<int>(oh) * sh - pad_top;
        const int iw0 = static_cast<int>(ow) * sw - pad_left;
        float m[V];
#pragma unroll
        for (int k = 0; k < V; ++k) m[k] = -INFINITY;
        const T* xn = x + static_cast<int64_t>(n) * H * W * ldx + c;
        const int kh_ = KS > 0 ? KS : kh, kw_ = KS > 0 ? KS : kw;
#pragma unroll
        for (int ky = 0; ky < kh_; ++ky) {
            const int ih = ih0 + ky;
            if (ih < 0 || ih >= H) continue;
            const T* xr = xn + static_cast<int64_t>(ih) * W * ldx;
#pragma unroll
            for (int kx = 0; kx < kw_; ++kx) {
                const int iw = iw0 + kx;
                if (iw < 0 || iw >= W) continue;
                const Vec<T, V> v = *reinterpret_cast<const Vec<T, V>*>(xr + static_cast<int64_t>(iw) * ldx);
#pragma unroll
                for (int k = 0; k < V; ++k) m[k] = fmaxf(m[k], to_f(v.v[k]));
            }
        }
        Vec<T, V> o;
#pragma unroll
        for (int k = 0; k < V; ++k) o.v[k] = from_f<T>(m[k]);
        *reinterpret_cast<Vec<T, V>*>(y + (static_cast<int64_t>(t) * OW + ow) * ldy + c) = o;
    }
}

template <typename T, int V, int KS>
cudaError_t maxpool_k(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                      int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pt, int pl, cudaStream_t stream) {
    const int64_t cv = C / V;
    const int64_t total = N * OH * OW * cv;
    const unsigned grid = detail::grid_for(total);
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    if (detail::fits32(total)) {
        maxpool_kernel<T, V, uint32_t, KS><<<grid, detail::kBlock, 0, stream>>>(
            xp, ldx, yp, ldy, static_cast<int>(H), static_cast<int>(W), static_cast<uint32_t>(OH),
            static_cast<uint32_t>(OW), static_cast<uint32_t>(cv), static_cast<uint32_t>(total), kh, kw, sh, sw, pt, pl);
    } else {
        maxpool_kernel<T, V, int64_t, KS><<<grid, detail::kBlock, 0, stream>>>(
            xp, ldx, yp, ldy, static_cast<int>(H), static_cast<int>(W), OH, OW, cv, total, kh, kw, sh, sw, pt, pl);
    }
    return cudaGetLastError();
}

template <typename T, int V>
cudaError_t maxpool_v(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                      int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pt, int pl, cudaStream_t stream) {
    if (kh == 5 && kw == 5)  // SPPF
        return maxpool_k<T, V, 5>(x, ldx, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, stream);
    return maxpool_k<T, V, 0>(x, ldx, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, stream);
}

template <typename T>
cudaError_t maxpool_t(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                      int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pt, int pl, cudaStream_t stream) {
    const int64_t counts[] = {C, ldx, ldy};
    const void* const ptrs[] = {x, y};
    switch (detail::pick_vec(sizeof(T), counts, ptrs)) {
        case 8:
            return maxpool_v<T, 8>(x, ldx, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, stream);
        case 4:
            return maxpool_v<T, 4>(x, ldx, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, stream);
        case 2:
            return maxpool_v<T, 2>(x, ldx, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, stream);
        default:
            return maxpool_v<T, 1>(x, ldx, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl, stream);
    }
}

// A chain of `count` k x k MaxPools, stride 1, padding k / 2, each reading the one before (SPPF: three 5x5). One CTA
// per (image, 16-byte channel vector): the image's vectors go to shared memory once, each pool is one pass from one
// buffer to the other, and every pass stores its result. The window is clipped at the image's edge, which is what
// ONNX's padding does to a max. Shared memory: 2 * H * W * 16 bytes.
template <typename T>
__global__ void __launch_bounds__(256)
    maxpool_chain_kernel(const T* __restrict__ x, int64_t ldx, PoolChainOut out, int H, int W, int k, int count) {
    constexpr int V = 16 / sizeof(T);
    extern __shared__ uint4 pool_smem[];
    const int hw = H * W, r = k / 2;
    const int64_t img = static_cast<int64_t>(blockIdx.y) * hw;
    const int c = blockIdx.x * V;
    uint4* a = pool_smem;
    uint4* b = pool_smem + hw;
    for (int p = threadIdx.x; p < hw; p += blockDim.x) a[p] = *reinterpret_cast<const uint4*>(x + (img + p) * ldx + c);
    __syncthreads();
    for (int s = 0; s < count; ++s) {
        T* y = static_cast<T*>(out.y[s]);
        for (int p = threadIdx.x; p < hw; p += blockDim.x) {
            const int h = p / W, w = p % W;
            float m[V];
#pragma unroll
            for (int e = 0; e < V; ++e) m[e] = -INFINITY;
            const int y0 = max(h - r, 0), y1 = min(h + r, H - 1), x0 = max(w - r, 0), x1 = min(w + r, W - 1);
            for (int yy = y0; yy <= y1; ++yy)
                for (int xx = x0; xx <= x1; ++xx) {
                    const uint4 q = a[yy * W + xx];
                    const T* v = reinterpret_cast<const T*>(&q);
#pragma unroll
                    for (int e = 0; e < V; ++e) m[e] = fmaxf(m[e], to_f(v[e]));
                }
            uint4 o;
            T* ov = reinterpret_cast<T*>(&o);
#pragma unroll
            for (int e = 0; e < V; ++e) ov[e] = from_f<T>(m[e]);
            b[p] = o;
            *reinterpret_cast<uint4*>(y + (img + p) * out.ld[s] + c) = o;
        }
        __syncthreads();
        uint4* t = a;
        a = b;
        b = t;
    }
}

// Nearest resize: a pure copy of S-sized channel vectors (S = V elements).
template <typename S, typename I>
__global__ void resize_nearest_kernel(const S* __restrict__ x, int64_t ldx, S* __restrict__ y, int64_t ldy, I H, I W,
                                      I OH, I OW, I CV, I total, const int* __restrict__ src_h,
                                      const int* __restrict__ src_w) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        I t = i / CV;
        const I c = i - t * CV;
        const I ow = t % OW;
        const I q = t / OW;
        const I oh = q % OH;
        const I n = q / OH;
        const int64_t src = (static_cast<int64_t>(n) * H + __ldg(src_h + oh)) * W + __ldg(src_w + ow);
        y[static_cast<int64_t>(t) * ldy + c] = x[src * ldx + c];
    }
}

template <typename S>
cudaError_t resize_v(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t CV,
                     int64_t OH, int64_t OW, const int* src_h, const int* src_w, cudaStream_t stream) {
    const int64_t total = N * OH * OW * CV;
    const unsigned grid = detail::grid_for(total);
    const S* xp = static_cast<const S*>(x);
    S* yp = static_cast<S*>(y);
    if (detail::fits32(total)) {
        resize_nearest_kernel<S, uint32_t><<<grid, detail::kBlock, 0, stream>>>(
            xp, ldx, yp, ldy, static_cast<uint32_t>(H), static_cast<uint32_t>(W), static_cast<uint32_t>(OH),
            static_cast<uint32_t>(OW), static_cast<uint32_t>(CV), static_cast<uint32_t>(total), src_h, src_w);
    } else {
        resize_nearest_kernel<S, int64_t>
            <<<grid, detail::kBlock, 0, stream>>>(xp, ldx, yp, ldy, H, W, OH, OW, CV, total, src_h, src_w);
    }
    return cudaGetLastError();
}

template <typename T>
cudaError_t resize_t(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                     int64_t OH, int64_t OW, const int* src_h, const int* src_w, cudaStream_t stream) {
    const int64_t counts[] = {C, ldx, ldy};
    const void* const ptrs[] = {x, y};
    const int v = detail::pick_vec(sizeof(T), counts, ptrs);
    // Strides and channel counts below are in vectors of v elements.
    switch (v * sizeof(T)) {
        case 16:
            return resize_v<Vec<T, 16 / sizeof(T)>>(x, ldx / v, y, ldy / v, N, H, W, C / v, OH, OW, src_h, src_w,
                                                    stream);
        case 8:
            return resize_v<Vec<T, 8 / sizeof(T)>>(x, ldx / v, y, ldy / v, N, H, W, C / v, OH, OW, src_h, src_w,
                                                   stream);
        case 4:
            if (sizeof(T) == 2)
                return resize_v<Vec<T, 2>>(x, ldx / v, y, ldy / v, N, H, W, C / v, OH, OW, src_h, src_w, stream);
            [[fallthrough]];
        default:
            return resize_v<T>(x, ldx, y, ldy, N, H, W, C, OH, OW, src_h, src_w, stream);
    }
}

}  // namespace

cudaError_t maxpool_nhwc(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                         int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pad_top, int pad_left, DT dt,
                         cudaStream_t stream) {
    if (N <= 0 || C <= 0 || OH <= 0 || OW <= 0) return cudaSuccess;
    if (dt == DT::kF16)
        return maxpool_t<__half>(x, ldx, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pad_top, pad_left, stream);
    return maxpool_t<float>(x, ldx, y, ldy, N, H, W, C, OH, OW, kh, kw, sh, sw, pad_top, pad_left, stream);
}

bool maxpool_chain_supported(int64_t N, int64_t H, int64_t W, int64_t C, int64_t ldx, const PoolChainOut& out, int k,
                             int count, DT dt) {
    const int64_t v = 16 / static_cast<int64_t>(detail::dt_size(dt));
    if (N <= 0 || N > 65535 || H <= 0 || W <= 0 || C <= 0 || C % v != 0 || C / v > 65535 || ldx % v != 0 || k <= 0 ||
        k % 2 == 0 || count < 1 || count > kMaxPoolChain || 2 * H * W * 16 > kMaxPoolChainSmem)
        return false;
    for (int s = 0; s < count; ++s)
        if (out.ld[s] % v != 0 || out.ld[s] < C) return false;
    return detail::fits32(N * H * W * std::max<int64_t>(ldx, 1));
}

cudaError_t maxpool_chain_nhwc(const void* x, int64_t ldx, const PoolChainOut& out, int64_t N, int64_t H, int64_t W,
                               int64_t C, int k, int count, DT dt, cudaStream_t stream) {
    if (!maxpool_chain_supported(N, H, W, C, ldx, out, k, count, dt) || !detail::aligned(x, 16))
        return cudaErrorInvalidValue;
    for (int s = 0; s < count; ++s)
        if (!detail::aligned(out.y[s], 16)) return cudaErrorInvalidValue;
    const int64_t v = 16 / static_cast<int64_t>(detail::dt_size(dt));
    const dim3 grid(static_cast<unsigned>(C / v), static_cast<unsigned>(N));
    const size_t smem = static_cast<size_t>(2 * H * W * 16);
    if (dt == DT::kF16)
        maxpool_chain_kernel<__half><<<grid, 256, smem, stream>>>(static_cast<const __half*>(x), ldx, out,
                                                                  static_cast<int>(H), static_cast<int>(W), k, count);
    else
        maxpool_chain_kernel<float><<<grid, 256, smem, stream>>>(static_cast<const float*>(x), ldx, out,
                                                                 static_cast<int>(H), static_cast<int>(W), k, count);
    return cudaGetLastError();
}

cudaError_t resize_nearest_nhwc(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W,
                                int64_t C, int64_t OH, int64_t OW, const int* src_h, const int* src_w, DT dt,
                                cudaStream_t stream) {
    if (N <= 0 || C <= 0 || OH <= 0 || OW <= 0) return cudaSuccess;
    if (dt == DT::kF16) return resize_t<__half>(x, ldx, y, ldy, N, H, W, C, OH, OW, src_h, src_w, stream);
    return resize_t<float>(x, ldx, y, ldy, N, H, W, C, OH, OW, src_h, src_w, stream);
}

}  // namespace itscam::cuda_kernels
