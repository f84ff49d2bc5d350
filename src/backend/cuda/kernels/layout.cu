// Layout kernels: NCHW <-> NHWC with dtype conversion, transpose, strided gather.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {
namespace {

using detail::from_f;
using detail::to_f;
using detail::Vec;

constexpr int kTile = 64;      // tile edge (elements)
constexpr int kTileCols = 32;  // block = kTileCols x kTileRows threads; each moves (kTile / 32) * (kTile / 8)
constexpr int kTileRows = 8;   // elements per phase, which keeps enough bytes in flight for 2-byte types

// Batched 2-D transpose through a shared-memory tile, converting dtype:
//   y[b * y_bs + c * y_rs + r] = x[b * x_bs + r * x_rs + c]   for b < B, r < R, c < Cc.
// Reads are coalesced along c, writes along r; the padded tile keeps both phases free of bank conflicts.
// Grid-stride over tiles in all three grid dimensions.
template <typename Ti, typename To>
__global__ void __launch_bounds__(kTileCols* kTileRows)
    tile_transpose_kernel(const Ti* __restrict__ x, int64_t x_bs, int64_t x_rs, To* __restrict__ y, int64_t y_bs,
                          int64_t y_rs, int64_t B, int64_t R, int64_t Cc) {
    __shared__ float tile[kTile][kTile + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (int64_t b = blockIdx.z; b < B; b += gridDim.z) {
        const Ti* xb = x + b * x_bs;
        To* yb = y + b * y_bs;
        for (int64_t r0 = static_cast<int64_t>(blockIdx.y) * kTile; r0 < R;
             r0 += static_cast<int64_t>(gridDim.y) * kTile) {
            for (int64_t c0 = static_cast<int64_t>(blockIdx.x) * kTile; c0 < Cc;
                 c0 += static_cast<int64_t>(gridDim.x) * kTile) {
                const bool full = r0 + kTile <= R && c0 + kTile <= Cc;
                const Ti* src = xb + (r0 + ty) * x_rs + c0 + tx;
                if (full) {
#pragma unroll
                    for (int j = 0; j < kTile; j += kTileRows, src += kTileRows * x_rs) {
#pragma unroll
                        for (int i = 0; i < kTile; i += kTileCols) tile[ty + j][tx + i] = to_f(src[i]);
                    }
                } else {
#pragma unroll
                    for (int j = 0; j < kTile; j += kTileRows, src += kTileRows * x_rs) {
#pragma unroll
                        for (int i = 0; i < kTile; i += kTileCols) {
                            if (r0 + ty + j < R && c0 + tx + i < Cc) tile[ty + j][tx + i] = to_f(src[i]);
                        }
                    }
                }
                __syncthreads();
                To* dst = yb + (c0 + ty) * y_rs + r0 + tx;
                if (full) {
#pragma unroll
                    for (int j = 0; j < kTile; j += kTileRows, dst += kTileRows * y_rs) {
#pragma unroll
                        for (int i = 0; i < kTile; i += kTileCols) dst[i] = from_f<To>(tile[tx + i][ty + j]);
                    }
                } else {
#pragma unroll
                    for (int j = 0; j < kTile; j += kTileRows, dst += kTileRows * y_rs) {
#pragma unroll
                        for (int i = 0; i < kTile; i += kTileCols) {
                            if (c0 + ty + j < Cc && r0 + tx + i < R) dst[i] = from_f<To>(tile[tx + i][ty + j]);
                        }
                    }
                }
                __syncthreads();
            }
        }
    }
}

template <typename Ti, typename To>
cudaError_t tile_transpose(const void* x, int64_t x_bs, int64_t x_rs, void* y, int64_t y_bs, int64_t y_rs, int64_t B,
                           int64_t R, int64_t Cc, cudaStream_t stream) {
    auto cap = [](int64_t v, int64_t m) { return static_cast<unsigned>(v < 1 ? 1 : (v > m ? m : v)); };
    const dim3 grid(cap((Cc + kTile - 1) / kTile, int64_t{1} << 30), cap((R + kTile - 1) / kTile, 65535),
                    cap(B, 65535));
    const dim3 block(kTileCols, kTileRows);
    tile_transpose_kernel<Ti, To>
        <<<grid, block, 0, stream>>>(static_cast<const Ti*>(x), x_bs, x_rs, static_cast<To*>(y), y_bs, y_rs, B, R, Cc);
    return cudaGetLastError();
}

// Few channels: one thread per pixel, looping C (reads coalesced along HW; the C writes of a warp cover one
// contiguous span).
template <typename Ti, typename To, typename I>
__global__ void nchw_to_nhwc_small_kernel(const Ti* __restrict__ x, To* __restrict__ y, int64_t ldy, I total, I HW,
                                          int C) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const I n = i / HW;
        const I p = i - n * HW;
        const Ti* xp = x + static_cast<int64_t>(n) * C * HW + p;
        To* yp = y + static_cast<int64_t>(i) * ldy;
        for (int c = 0; c < C; ++c) yp[c] = from_f<To>(to_f(xp[static_cast<int64_t>(c) * HW]));
    }
}

template <typename Ti, typename To, typename I>
__global__ void nhwc_to_nchw_small_kernel(const Ti* __restrict__ x, int64_t ldx, To* __restrict__ y, I total, I HW,
                                          int C) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const I n = i / HW;
        const I p = i - n * HW;
        const Ti* xp = x + static_cast<int64_t>(i) * ldx;
        To* yp = y + static_cast<int64_t>(n) * C * HW + p;
        for (int c = 0; c < C; ++c) yp[static_cast<int64_t>(c) * HW] = from_f<To>(to_f(xp[c]));
    }
}

constexpr int64_t kSmallC = 8;

template <typename Ti, typename To>
cudaError_t nchw_to_nhwc_t(const void* x, void* y, int64_t ldy, int64_t N, int64_t C, int64_t HW, cudaStream_t stream) {
    if (C <= kSmallC) {
        const int64_t total = N * HW;
        const unsigned grid = detail::grid_for(total);
        if (detail::fits32(total)) {
            nchw_to_nhwc_small_kernel<Ti, To, uint32_t><<<grid, detail::kBlock, 0, stream>>>(
                static_cast<const Ti*>(x), static_cast<To*>(y), ldy, static_cast<uint32_t>(total),
                static_cast<uint32_t>(HW), static_cast<int>(C));
        } else {
            nchw_to_nhwc_small_kernel<Ti, To, int64_t><<<grid, detail::kBlock, 0, stream>>>(
                static_cast<const Ti*>(x), static_cast<To*>(y), ldy, total, HW, static_cast<int>(C));
        }
        return cudaGetLastError();
    }
    // x per image: C rows of HW; y per image: HW rows of ldy.
    return tile_transpose<Ti, To>(x, C * HW, HW, y, HW * ldy, ldy, N, C, HW, stream);
}

template <typename Ti, typename To>
cudaError_t nhwc_to_nchw_t(const void* x, int64_t ldx, void* y, int64_t N, int64_t C, int64_t HW, cudaStream_t stream) {
    if (C <= kSmallC) {
        const int64_t total = N * HW;
        const unsigned grid = detail::grid_for(total);
        if (detail::fits32(total)) {
            nhwc_to_nchw_small_kernel<Ti, To, uint32_t><<<grid, detail::kBlock, 0, stream>>>(
                static_cast<const Ti*>(x), ldx, static_cast<To*>(y), static_cast<uint32_t>(total),
                static_cast<uint32_t>(HW), static_cast<int>(C));
        } else {
            nhwc_to_nchw_small_kernel<Ti, To, int64_t><<<grid, detail::kBlock, 0, stream>>>(
                static_cast<const Ti*>(x), ldx, static_cast<To*>(y), total, HW, static_cast<int>(C));
        }
        return cudaGetLastError();
    }
    // x per image: HW rows of ldx; y per image: C rows of HW.
    return tile_transpose<Ti, To>(x, HW * ldx, ldx, y, C * HW, HW, N, HW, C, stream);
}

// Generic strided gather of storage units S (an element, or a vector of elements when the innermost dimension is
// dense): y[i] = x[sum_k o_k * s_k] for output coordinates o of linear index i.
template <typename S, typename I>
__global__ void gather_kernel(const S* __restrict__ x, Dims s, S* __restrict__ y, Dims out, I total) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x)
        y[i] = x[detail::offset1(i, out, s)];
}

template <typename S>
cudaError_t gather_launch(const void* x, const Dims& s, void* y, const Dims& out, int64_t total, cudaStream_t stream) {
    const unsigned grid = detail::grid_for(total);
    if (detail::fits32(total)) {
        gather_kernel<S, uint32_t><<<grid, detail::kBlock, 0, stream>>>(static_cast<const S*>(x), s, static_cast<S*>(y),
                                                                        out, static_cast<uint32_t>(total));
    } else {
        gather_kernel<S, int64_t>
            <<<grid, detail::kBlock, 0, stream>>>(static_cast<const S*>(x), s, static_cast<S*>(y), out, total);
    }
    return cudaGetLastError();
}

template <typename T>
cudaError_t gather_t(const void* x_, int64_t base, Dims s, void* y, Dims out, DT dt, cudaStream_t stream) {
    Dims* strides[] = {&s};
    const int64_t total = detail::coalesce(out, strides, 1);
    if (total == 0) return cudaSuccess;
    const T* x = static_cast<const T*>(x_) + base;
    const int r = out.rank;
    // Dense copy.
    if (r == 1 && s.d[0] == 1) return cast(x, dt, y, dt, total, stream);
    // Batched 2-D transpose: y[b, p, q] = x[b * sb + p + q * sq] -> shared-memory tile.
    if (r >= 2 && r <= 3 && s.d[r - 2] == 1 && out.d[r - 1] >= 8 && out.d[r - 2] >= 8) {
        const int64_t B = r == 3 ? out.d[0] : 1;
        const int64_t sb = r == 3 ? s.d[0] : 0;
        const int64_t P = out.d[r - 2], Q = out.d[r - 1];
        return tile_transpose<T, T>(x, sb, s.d[r - 1], y, P * Q, Q, B, Q, P, stream);
    }
    // Dense innermost dimension: move vectors of V elements when sizes, steps and pointers allow.
    if (s.d[r - 1] == 1) {
        for (int v = static_cast<int>(16 / sizeof(T)); v > 1; v /= 2) {
            bool ok = out.d[r - 1] % v == 0 && detail::aligned(x, v * sizeof(T)) && detail::aligned(y, v * sizeof(T));
            for (int k = 0; k < r - 1; ++k) ok = ok && s.d[k] % v == 0;
            if (!ok) continue;
            Dims sv = s, ov = out;
            ov.d[r - 1] /= v;
            for (int k = 0; k < r - 1; ++k) sv.d[k] /= v;
            switch (v * sizeof(T)) {
                case 16:
                    return gather_launch<Vec<T, 16 / sizeof(T)>>(x, sv, y, ov, total / v, stream);
                case 8:
                    return gather_launch<Vec<T, 8 / sizeof(T)>>(x, sv, y, ov, total / v, stream);
                default:
                    return gather_launch<Vec<T, 4 / sizeof(T)>>(x, sv, y, ov, total / v, stream);
            }
        }
    }
    return gather_launch<T>(x, s, y, out, total, stream);
}

}  // namespace

cudaError_t nchw_to_nhwc(const void* x, DT xdt, void* y, int64_t ldy, DT ydt, int64_t N, int64_t C, int64_t HW,
                         cudaStream_t stream) {
    if (N <= 0 || C <= 0 || HW <= 0) return cudaSuccess;
    if (xdt == DT::kF16) {
        return ydt == DT::kF16 ? nchw_to_nhwc_t<__half, __half>(x, y, ldy, N, C, HW, stream)
                               : nchw_to_nhwc_t<__half, float>(x, y, ldy, N, C, HW, stream);
    }
    return ydt == DT::kF16 ? nchw_to_nhwc_t<float, __half>(x, y, ldy, N, C, HW, stream)
                           : nchw_to_nhwc_t<float, float>(x, y, ldy, N, C, HW, stream);
}

cudaError_t nhwc_to_nchw(const void* x, int64_t ldx, DT xdt, void* y, DT ydt, int64_t N, int64_t C, int64_t HW,
                         cudaStream_t stream) {
    if (N <= 0 || C <= 0 || HW <= 0) return cudaSuccess;
    if (xdt == DT::kF16) {
        return ydt == DT::kF16 ? nhwc_to_nchw_t<__half, __half>(x, ldx, y, N, C, HW, stream)
                               : nhwc_to_nchw_t<__half, float>(x, ldx, y, N, C, HW, stream);
    }
    return ydt == DT::kF16 ? nhwc_to_nchw_t<float, __half>(x, ldx, y, N, C, HW, stream)
                           : nhwc_to_nchw_t<float, float>(x, ldx, y, N, C, HW, stream);
}

cudaError_t gather_strided(const void* x, int64_t base, Dims steps, void* y, Dims out, DT dt, cudaStream_t stream) {
    if (out.rank < 0 || out.rank > kMaxRank) return cudaErrorInvalidValue;
    if (dt == DT::kF16) return gather_t<__half>(x, base, steps, y, out, dt, stream);
    return gather_t<float>(x, base, steps, y, out, dt, stream);
}

cudaError_t transpose(const void* x, void* y, Dims in, Dims perm, DT dt, cudaStream_t stream) {
    if (in.rank < 0 || in.rank > kMaxRank || perm.rank != in.rank) return cudaErrorInvalidValue;
    int64_t in_stride[kMaxRank] = {};
    int64_t st = 1;
    for (int k = in.rank - 1; k >= 0; --k) {
        in_stride[k] = st;
        st *= in.d[k];
    }
    Dims out, steps;
    out.rank = steps.rank = in.rank;
    for (int k = 0; k < in.rank; ++k) {
        const int64_t p = perm.d[k];
        if (p < 0 || p >= in.rank) return cudaErrorInvalidValue;
        out.d[k] = in.d[p];
        steps.d[k] = in_stride[p];
    }
    return gather_strided(x, 0, steps, y, out, dt, stream);
}

}  // namespace itscam::cuda_kernels
