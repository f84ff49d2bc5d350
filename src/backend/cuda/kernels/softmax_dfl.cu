// Softmax over the middle axis of [outer, len, inner], and the fused DFL decode.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {
namespace {

using detail::from_f;
using detail::to_f;

constexpr int kWarp = 32;

// Online (max, sum of exp(v - max)) statistics.
struct MaxSum {
    float m;
    float s;
};

__device__ __forceinline__ void ms_add(MaxSum& a, float v) {
    if (v > a.m) {
        a.s = a.s * __expf(a.m - v) + 1.0f;  // a.m == -inf: 0 * 0 + 1
        a.m = v;
    } else if (v != -INFINITY) {  // -inf adds 0 (and -inf - -inf must not make a NaN); NaN makes the sum NaN
        a.s += __expf(v - a.m);
    }
}

// A NaN input makes the sum NaN (ms_add's else branch); it must survive merges so the whole row is NaN, as in
// the reference (ONNX Runtime) softmax.
__device__ __forceinline__ MaxSum ms_merge(MaxSum a, MaxSum b) {
    const float m = fmaxf(a.m, b.m);
    const bool nan = isnan(a.s) || isnan(b.s);
    if (nan) return {m, NAN};
    if (m == -INFINITY) return {m, 0.0f};
    const float sa = a.m == -INFINITY ? 0.0f : a.s * __expf(a.m - m);
    const float sb = b.m == -INFINITY ? 0.0f : b.s * __expf(b.m - m);
    return {m, sa + sb};
}

__device__ __forceinline__ MaxSum warp_merge(MaxSum a) {
#pragma unroll
    for (int off = kWarp / 2; off > 0; off /= 2) {
        MaxSum b;
        b.m = __shfl_xor_sync(0xffffffffu, a.m, off);
        b.s = __shfl_xor_sync(0xffffffffu, a.s, off);
        a = ms_merge(a, b);
    }
    return a;
}

// inner == 1, short rows: one warp per row. Each element is read and written by the same lane, so x may equal y.
template <typename T>
__global__ void softmax_warp_kernel(const T* x, T* y, int64_t rows, int64_t len) {
    const int lane = threadIdx.x % kWarp;
    const int64_t warps_per_block = blockDim.x / kWarp;
    for (int64_t row = blockIdx.x * warps_per_block + threadIdx.x / kWarp; row < rows;
         row += static_cast<int64_t>(gridDim.x) * warps_per_block) {
        const T* xr = x + row * len;
        T* yr = y + row * len;
        MaxSum st{-INFINITY, 0.0f};
        for (int64_t j = lane; j < len; j += kWarp) ms_add(st, to_f(xr[j]));
        st = warp_merge(st);
        const float inv = 1.0f / st.s;
        for (int64_t j = lane; j < len; j += kWarp) yr[j] = from_f<T>(__expf(to_f(xr[j]) - st.m) * inv);
    }
}

// inner == 1, long rows: one block per row.
template <typename T>
__global__ void softmax_block_kernel(const T* x, T* y, int64_t rows, int64_t len) {
    __shared__ MaxSum part[32];
    __shared__ MaxSum total;
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nwarps = blockDim.x / kWarp;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * len;
        T* yr = y + row * len;
        MaxSum st{-INFINITY, 0.0f};
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) ms_add(st, to_f(xr[j]));
        st = warp_merge(st);
        if (lane == 0) part[warp] = st;
        __syncthreads();
        if (warp == 0) {
            MaxSum t = lane < nwarps ? part[lane] : MaxSum{-INFINITY, 0.0f};
            t = warp_merge(t);
            if (lane == 0) total = t;
        }
        __syncthreads();
        const float m = total.m, inv = 1.0f / total.s;
        for (int64_t j = threadIdx.x; j < len; j += blockDim.x) yr[j] = from_f<T>(__expf(to_f(xr[j]) - m) * inv);
        __syncthreads();  // part/total are reused by the next row
    }
}

// inner > 1: one thread per (outer, inner) column, looping len; coalesced along inner.
template <typename T, typename I>
__global__ void softmax_inner_kernel(const T* x, T* y, I outer_inner, I inner, int64_t len) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < outer_inner; i += blockDim.x * gridDim.x) {
        const I o = i / inner;
        const int64_t base = static_cast<int64_t>(o) * len * inner + (i - o * inner);
        const T* xc = x + base;
        T* yc = y + base;
        MaxSum st{-INFINITY, 0.0f};
        for (int64_t j = 0; j < len; ++j) ms_add(st, to_f(xc[j * inner]));
        const float inv = 1.0f / st.s;
        for (int64_t j = 0; j < len; ++j) yc[j * inner] = from_f<T>(__expf(to_f(xc[j * inner]) - st.m) * inv);
    }
}

template <typename T>
cudaError_t softmax_t(const void* x_, void* y_, int64_t outer, int64_t len, int64_t inner, cudaStream_t stream) {
    const T* x = static_cast<const T*>(x_);
    T* y = static_cast<T*>(y_);
    if (inner == 1) {
        if (len > 2048) {
            const unsigned grid = static_cast<unsigned>(outer < detail::kMaxGrid ? outer : detail::kMaxGrid);
            softmax_block_kernel<T><<<grid, 256, 0, stream>>>(x, y, outer, len);
        } else {
            constexpr int kBlockThreads = 128;  // 4 rows per block
            const unsigned grid = detail::grid_for(outer * kWarp, kBlockThreads);
            softmax_warp_kernel<T><<<grid, kBlockThreads, 0, stream>>>(x, y, outer, len);
        }
        return cudaGetLastError();
    }
    const int64_t total = outer * inner;
    const unsigned grid = detail::grid_for(total);
    if (detail::fits32(total)) {
        softmax_inner_kernel<T, uint32_t><<<grid, detail::kBlock, 0, stream>>>(x, y, static_cast<uint32_t>(total),
                                                                               static_cast<uint32_t>(inner), len);
    } else {
        softmax_inner_kernel<T, int64_t><<<grid, detail::kBlock, 0, stream>>>(x, y, total, inner, len);
    }
    return cudaGetLastError();
}

// DFL: one thread per (n, j, a); y index == (n * 4 + j) * A + a == the thread's linear index.
// RC > 0: R == RC known at compile time, the bin logits stay in registers; RC == 0: any R, two passes.
template <typename T, int RC, typename I>
__global__ void dfl_kernel(const T* __restrict__ x, const float* __restrict__ w, T* __restrict__ y, I total, I A,
                           int R) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const I nj = i / A;
        const I a = i - nj * A;
        const T* xc = x + static_cast<int64_t>(nj) * R * A + a;
        float s = 0.0f, ws = 0.0f;
        if constexpr (RC > 0) {
            float v[RC];
            float m = -INFINITY;
#pragma unroll
            for (int k = 0; k < RC; ++k) {
                v[k] = to_f(xc[static_cast<int64_t>(k) * A]);
                m = fmaxf(m, v[k]);
            }
#pragma unroll
            for (int k = 0; k < RC; ++k) {
                const float e = __expf(v[k] - m);
                s += e;
                ws += e * __ldg(w + k);
            }
        } else {
            float m = -INFINITY;
            for (int k = 0; k < R; ++k) m = fmaxf(m, to_f(xc[static_cast<int64_t>(k) * A]));
            for (int k = 0; k < R; ++k) {
                const float e = __expf(to_f(xc[static_cast<int64_t>(k) * A]) - m);
                s += e;
                ws += e * __ldg(w + k);
            }
        }
        y[i] = from_f<T>(ws / s);
    }
}

template <typename T, int RC>
cudaError_t dfl_r(const void* x, const float* w, void* y, int64_t N, int64_t R, int64_t A, cudaStream_t stream) {
    const int64_t total = N * 4 * A;
    const unsigned grid = detail::grid_for(total);
    if (detail::fits32(total)) {
        dfl_kernel<T, RC, uint32_t><<<grid, detail::kBlock, 0, stream>>>(
            static_cast<const T*>(x), w, static_cast<T*>(y), static_cast<uint32_t>(total), static_cast<uint32_t>(A),
            static_cast<int>(R));
    } else {
        dfl_kernel<T, RC, int64_t><<<grid, detail::kBlock, 0, stream>>>(static_cast<const T*>(x), w, static_cast<T*>(y),
                                                                        total, A, static_cast<int>(R));
    }
    return cudaGetLastError();
}

template <typename T>
cudaError_t dfl_t(const void* x, const float* w, void* y, int64_t N, int64_t R, int64_t A, cudaStream_t stream) {
    if (R == 16) return dfl_r<T, 16>(x, w, y, N, R, A, stream);
    return dfl_r<T, 0>(x, w, y, N, R, A, stream);
}

}  // namespace

cudaError_t softmax(const void* x, void* y, int64_t outer, int64_t len, int64_t inner, DT dt, cudaStream_t stream) {
    if (outer <= 0 || len <= 0 || inner <= 0) return cudaSuccess;
    if (dt == DT::kF16) return softmax_t<__half>(x, y, outer, len, inner, stream);
    return softmax_t<float>(x, y, outer, len, inner, stream);
}

cudaError_t dfl_decode(const void* x, const float* w, void* y, int64_t N, int64_t R, int64_t A, DT dt,
                       cudaStream_t stream) {
    if (N <= 0 || A <= 0) return cudaSuccess;
    if (R <= 0) return cudaErrorInvalidValue;
    if (dt == DT::kF16) return dfl_t<__half>(x, w, y, N, R, A, stream);
    return dfl_t<float>(x, w, y, N, R, A, stream);
}

}  // namespace itscam::cuda_kernels
