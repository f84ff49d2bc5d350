// Element-wise kernels: conv epilogue, dtype cast, broadcasting binary ops, activations.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {
namespace {

using detail::apply_act;
using detail::from_f;
using detail::to_f;
using detail::Vec;

// ---------------------------------------------------------------------------------------------------------------
// conv_epilogue: one thread per V channels of one row.
template <typename T, int V, typename I>
__global__ void conv_epilogue_kernel(const T* x, int64_t ldx, T* y, int64_t ldy, const float* __restrict__ bias,
                                     const T* res, int64_t ldr, I rows, I cv, Act act, float alpha) {
    const I total = rows * cv;
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        const I r = i / cv;
        const I c = (i - r * cv) * V;
        const Vec<T, V> xv = *reinterpret_cast<const Vec<T, V>*>(x + static_cast<int64_t>(r) * ldx + c);
        float f[V];
#pragma unroll
        for (int k = 0; k < V; ++k) f[k] = to_f(xv.v[k]);
        if (bias != nullptr) {
#pragma unroll
            for (int k = 0; k < V; ++k) f[k] += __ldg(bias + c + k);
        }
#pragma unroll
        for (int k = 0; k < V; ++k) f[k] = apply_act(f[k], act, alpha);
        if (res != nullptr) {
            const Vec<T, V> rv = *reinterpret_cast<const Vec<T, V>*>(res + static_cast<int64_t>(r) * ldr + c);
#pragma unroll
            for (int k = 0; k < V; ++k) f[k] += to_f(rv.v[k]);
        }
        Vec<T, V> yv;
#pragma unroll
        for (int k = 0; k < V; ++k) yv.v[k] = from_f<T>(f[k]);
        *reinterpret_cast<Vec<T, V>*>(y + static_cast<int64_t>(r) * ldy + c) = yv;
    }
}

template <typename T, int V>
cudaError_t conv_epilogue_v(const void* x, int64_t ldx, void* y, int64_t ldy, const float* bias, const void* residual,
                            int64_t ldr, int64_t rows, int64_t C, Act act, float alpha, cudaStream_t stream) {
    const int64_t cv = C / V;
    const int64_t total = rows * cv;
    const unsigned grid = detail::grid_for(total);
    if (detail::fits32(total)) {
        conv_epilogue_kernel<T, V, uint32_t><<<grid, detail::kBlock, 0, stream>>>(
            static_cast<const T*>(x), ldx, static_cast<T*>(y), ldy, bias, static_cast<const T*>(residual), ldr,
            static_cast<uint32_t>(rows), static_cast<uint32_t>(cv), act, alpha);
    } else {
        conv_epilogue_kernel<T, V, int64_t>
            <<<grid, detail::kBlock, 0, stream>>>(static_cast<const T*>(x), ldx, static_cast<T*>(y), ldy, bias,
                                                  static_cast<const T*>(residual), ldr, rows, cv, act, alpha);
    }
    return cudaGetLastError();
}

template <typename T>
cudaError_t conv_epilogue_t(const void* x, int64_t ldx, void* y, int64_t ldy, const float* bias, const void* residual,
                            int64_t ldr, int64_t rows, int64_t C, Act act, float alpha, cudaStream_t stream) {
    const int64_t counts[] = {C, ldx, ldy, residual != nullptr ? ldr : 0};
    const void* const ptrs[] = {x, y, residual};
    switch (detail::pick_vec(sizeof(T), counts, ptrs)) {
        case 8:
            return conv_epilogue_v<T, 8>(x, ldx, y, ldy, bias, residual, ldr, rows, C, act, alpha, stream);
        case 4:
            return conv_epilogue_v<T, 4>(x, ldx, y, ldy, bias, residual, ldr, rows, C, act, alpha, stream);
        case 2:
            return conv_epilogue_v<T, 2>(x, ldx, y, ldy, bias, residual, ldr, rows, C, act, alpha, stream);
        default:
            return conv_epilogue_v<T, 1>(x, ldx, y, ldy, bias, residual, ldr, rows, C, act, alpha, stream);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// cast: dense, V elements per thread plus a scalar tail.
template <typename Ti, typename To, int V, typename I>
__global__ void cast_kernel(const Ti* __restrict__ x, To* __restrict__ y, I n) {
    const I nv = n / V;
    const I stride = blockDim.x * gridDim.x;
    const I tid = blockIdx.x * blockDim.x + threadIdx.x;
    for (I i = tid; i < nv; i += stride) {
        const Vec<Ti, V> xv = reinterpret_cast<const Vec<Ti, V>*>(x)[i];
        Vec<To, V> yv;
#pragma unroll
        for (int k = 0; k < V; ++k) yv.v[k] = from_f<To>(to_f(xv.v[k]));
        reinterpret_cast<Vec<To, V>*>(y)[i] = yv;
    }
    for (I i = nv * V + tid; i < n; i += stride) y[i] = from_f<To>(to_f(x[i]));
}

template <typename Ti, typename To>
cudaError_t cast_t(const void* x, void* y, int64_t n, cudaStream_t stream) {
    const int64_t counts[] = {0};
    const void* const ptrs[] = {x, y};
    const int v = detail::pick_vec(sizeof(Ti) > sizeof(To) ? sizeof(Ti) : sizeof(To), counts, ptrs);
    const unsigned grid = detail::grid_for((n + v - 1) / v);
    const Ti* xp = static_cast<const Ti*>(x);
    To* yp = static_cast<To*>(y);
#define ITSCAM_CAST_LAUNCH(VV)                                                                                    \
    if (detail::fits32(n))                                                                                        \
        cast_kernel<Ti, To, VV, uint32_t><<<grid, detail::kBlock, 0, stream>>>(xp, yp, static_cast<uint32_t>(n)); \
    else                                                                                                          \
        cast_kernel<Ti, To, VV, int64_t><<<grid, detail::kBlock, 0, stream>>>(xp, yp, n);
    switch (v) {
        case 8:
            ITSCAM_CAST_LAUNCH(8) break;
        case 4:
            ITSCAM_CAST_LAUNCH(4) break;
        case 2:
            ITSCAM_CAST_LAUNCH(2) break;
        default:
            ITSCAM_CAST_LAUNCH(1) break;
    }
#undef ITSCAM_CAST_LAUNCH
    return cudaGetLastError();
}

// ---------------------------------------------------------------------------------------------------------------
// activation: dense, V elements per thread plus a scalar tail (x may equal y).
template <typename T, int V, typename I>
__global__ void activation_kernel(const T* x, T* y, I n, Act act, float alpha) {
    const I nv = n / V;
    const I stride = blockDim.x * gridDim.x;
    const I tid = blockIdx.x * blockDim.x + threadIdx.x;
    for (I i = tid; i < nv; i += stride) {
        const Vec<T, V> xv = reinterpret_cast<const Vec<T, V>*>(x)[i];
        Vec<T, V> yv;
#pragma unroll
        for (int k = 0; k < V; ++k) yv.v[k] = from_f<T>(apply_act(to_f(xv.v[k]), act, alpha));
        reinterpret_cast<Vec<T, V>*>(y)[i] = yv;
    }
    for (I i = nv * V + tid; i < n; i += stride) y[i] = from_f<T>(apply_act(to_f(x[i]), act, alpha));
}

template <typename T>
cudaError_t activation_t(const void* x, void* y, int64_t n, Act act, float alpha, cudaStream_t stream) {
    const int64_t counts[] = {0};
    const void* const ptrs[] = {x, y};
    const int v = detail::pick_vec(sizeof(T), counts, ptrs);
    const unsigned grid = detail::grid_for((n + v - 1) / v);
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
#define ITSCAM_ACT_LAUNCH(VV)                                                                    \
    if (detail::fits32(n))                                                                       \
        activation_kernel<T, VV, uint32_t>                                                       \
            <<<grid, detail::kBlock, 0, stream>>>(xp, yp, static_cast<uint32_t>(n), act, alpha); \
    else                                                                                         \
        activation_kernel<T, VV, int64_t><<<grid, detail::kBlock, 0, stream>>>(xp, yp, n, act, alpha);
    switch (v) {
        case 8:
            ITSCAM_ACT_LAUNCH(8) break;
        case 4:
            ITSCAM_ACT_LAUNCH(4) break;
        case 2:
            ITSCAM_ACT_LAUNCH(2) break;
        default:
            ITSCAM_ACT_LAUNCH(1) break;
    }
#undef ITSCAM_ACT_LAUNCH
    return cudaGetLastError();
}

// ---------------------------------------------------------------------------------------------------------------
// binary
__device__ __forceinline__ float bin_apply(BinOp op, float a, float b) {
    switch (op) {
        case BinOp::kSub:
            return a - b;
        case BinOp::kMul:
            return a * b;
        case BinOp::kDiv:
            return a / b;
        default:
            return a + b;
    }
}

// Generic strided/broadcast path (rank <= 6 after coalescing). A null operand is its scalar.
template <typename T, typename I>
__global__ void binary_kernel(BinOp op, const T* a, Dims sa, float a_scalar, const T* b, Dims sb, float b_scalar, T* y,
                              Dims out, I total) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        int64_t oa, ob;
        detail::offsets2(i, out, sa, sb, oa, ob);
        const float av = a != nullptr ? to_f(a[oa]) : a_scalar;
        const float bv = b != nullptr ? to_f(b[ob]) : b_scalar;
        y[i] = from_f<T>(bin_apply(op, av, bv));
    }
}

// Broadcast path with a dense innermost dimension in the output: V consecutive outputs per thread. `out` counts
// vectors in its innermost dimension; an operand with a_vec loads V elements at its offset, otherwise it repeats
// the one element there (innermost stride 0). A null operand is its scalar.
template <typename T, int V, typename I>
__global__ void binary_vec_kernel(BinOp op, const T* a, Dims sa, bool a_vec, float a_scalar, const T* b, Dims sb,
                                  bool b_vec, float b_scalar, T* y, Dims out, I total) {
    for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += blockDim.x * gridDim.x) {
        int64_t oa, ob;
        detail::offsets2(i, out, sa, sb, oa, ob);
        float av[V], bv[V];
        if (a == nullptr) {
#pragma unroll
            for (int k = 0; k < V; ++k) av[k] = a_scalar;
        } else if (a_vec) {
            const Vec<T, V> t = *reinterpret_cast<const Vec<T, V>*>(a + oa);
#pragma unroll
            for (int k = 0; k < V; ++k) av[k] = to_f(t.v[k]);
        } else {
            const float t = to_f(a[oa]);
#pragma unroll
            for (int k = 0; k < V; ++k) av[k] = t;
        }
        if (b == nullptr) {
#pragma unroll
            for (int k = 0; k < V; ++k) bv[k] = b_scalar;
        } else if (b_vec) {
            const Vec<T, V> t = *reinterpret_cast<const Vec<T, V>*>(b + ob);
#pragma unroll
            for (int k = 0; k < V; ++k) bv[k] = to_f(t.v[k]);
        } else {
            const float t = to_f(b[ob]);
#pragma unroll
            for (int k = 0; k < V; ++k) bv[k] = t;
        }
        Vec<T, V> yv;
#pragma unroll
        for (int k = 0; k < V; ++k) yv.v[k] = from_f<T>(bin_apply(op, av[k], bv[k]));
        reinterpret_cast<Vec<T, V>*>(y)[i] = yv;
    }
}

template <typename T, int V>
cudaError_t binary_vec(BinOp op, const T* a, Dims sa, float a_scalar, const T* b, Dims sb, float b_scalar, T* y,
                       Dims out, int64_t total, cudaStream_t stream) {
    const int r = out.rank - 1;
    const bool a_vec = a != nullptr && sa.d[r] == 1, b_vec = b != nullptr && sb.d[r] == 1;
    out.d[r] /= V;
    sa.d[r] *= V;
    sb.d[r] *= V;
    const int64_t nv = total / V;
    const unsigned grid = detail::grid_for(nv);
    if (detail::fits32(nv)) {
        binary_vec_kernel<T, V, uint32_t><<<grid, detail::kBlock, 0, stream>>>(
            op, a, sa, a_vec, a_scalar, b, sb, b_vec, b_scalar, y, out, static_cast<uint32_t>(nv));
    } else {
        binary_vec_kernel<T, V, int64_t>
            <<<grid, detail::kBlock, 0, stream>>>(op, a, sa, a_vec, a_scalar, b, sb, b_vec, b_scalar, y, out, nv);
    }
    return cudaGetLastError();
}

// Flat path (rank 1 after coalescing): each operand is dense (stride 1), one broadcast element (stride 0) or a
// scalar (null). V elements per thread plus a scalar tail.
template <typename T, int V, typename I>
__global__ void binary_flat_kernel(BinOp op, const T* a, bool a_dense, float a_scalar, const T* b, bool b_dense,
                                   float b_scalar, T* y, I n) {
    const I nv = n / V;
    const I stride = blockDim.x * gridDim.x;
    const I tid = blockIdx.x * blockDim.x + threadIdx.x;
    const float a0 = a == nullptr ? a_scalar : (a_dense ? 0.0f : to_f(a[0]));
    const float b0 = b == nullptr ? b_scalar : (b_dense ? 0.0f : to_f(b[0]));
    const bool ad = a != nullptr && a_dense;
    const bool bd = b != nullptr && b_dense;
    for (I i = tid; i < nv; i += stride) {
        float av[V], bv[V];
        if (ad) {
            const Vec<T, V> t = reinterpret_cast<const Vec<T, V>*>(a)[i];
#pragma unroll
            for (int k = 0; k < V; ++k) av[k] = to_f(t.v[k]);
        } else {
#pragma unroll
            for (int k = 0; k < V; ++k) av[k] = a0;
        }
        if (bd) {
            const Vec<T, V> t = reinterpret_cast<const Vec<T, V>*>(b)[i];
#pragma unroll
            for (int k = 0; k < V; ++k) bv[k] = to_f(t.v[k]);
        } else {
#pragma unroll
            for (int k = 0; k < V; ++k) bv[k] = b0;
        }
        Vec<T, V> yv;
#pragma unroll
        for (int k = 0; k < V; ++k) yv.v[k] = from_f<T>(bin_apply(op, av[k], bv[k]));
        reinterpret_cast<Vec<T, V>*>(y)[i] = yv;
    }
    for (I i = nv * V + tid; i < n; i += stride) {
        const float av = ad ? to_f(a[i]) : a0;
        const float bv = bd ? to_f(b[i]) : b0;
        y[i] = from_f<T>(bin_apply(op, av, bv));
    }
}

template <typename T>
cudaError_t binary_t(BinOp op, const void* a_, Dims sa, float a_scalar, const void* b_, Dims sb, float b_scalar,
                     void* y_, Dims out, cudaStream_t stream) {
    const T* a = static_cast<const T*>(a_);
    const T* b = static_cast<const T*>(b_);
    T* y = static_cast<T*>(y_);
    // Scalar operands index nothing: give them zero strides so they never block coalescing.
    if (a == nullptr) sa = Dims{out.rank, {}};
    if (b == nullptr) sb = Dims{out.rank, {}};
    Dims* strides[] = {&sa, &sb};
    const int64_t total = detail::coalesce(out, strides, 2);
    if (total == 0) return cudaSuccess;
    const bool flat = out.rank == 1 && (sa.d[0] == 0 || sa.d[0] == 1) && (sb.d[0] == 0 || sb.d[0] == 1);
    if (flat) {
        const bool ad = sa.d[0] == 1 && total > 1;
        const bool bd = sb.d[0] == 1 && total > 1;
        const int64_t counts[] = {0};
        const void* const ptrs[] = {ad ? a_ : nullptr, bd ? b_ : nullptr, y_};
        const int v = detail::pick_vec(sizeof(T), counts, ptrs);
        const unsigned grid = detail::grid_for((total + v - 1) / v);
#define ITSCAM_BIN_LAUNCH(VV)                                                                                          \
    if (detail::fits32(total))                                                                                         \
        binary_flat_kernel<T, VV, uint32_t><<<grid, detail::kBlock, 0, stream>>>(op, a, ad, a_scalar, b, bd, b_scalar, \
                                                                                 y, static_cast<uint32_t>(total));     \
    else                                                                                                               \
        binary_flat_kernel<T, VV, int64_t>                                                                             \
            <<<grid, detail::kBlock, 0, stream>>>(op, a, ad, a_scalar, b, bd, b_scalar, y, total);
        switch (v) {
            case 8:
                ITSCAM_BIN_LAUNCH(8) break;
            case 4:
                ITSCAM_BIN_LAUNCH(4) break;
            case 2:
                ITSCAM_BIN_LAUNCH(2) break;
            default:
                ITSCAM_BIN_LAUNCH(1) break;
        }
#undef ITSCAM_BIN_LAUNCH
        return cudaGetLastError();
    }
    // Innermost output dimension dense in every tensor operand (stride 1) or broadcast (stride 0): vectors.
    const int r = out.rank - 1;
    if ((sa.d[r] == 0 || sa.d[r] == 1) && (sb.d[r] == 0 || sb.d[r] == 1)) {
        for (int v = static_cast<int>(16 / sizeof(T)); v > 1; v /= 2) {
            bool ok = out.d[r] % v == 0 && detail::aligned(y, v * sizeof(T));
            for (const auto& [p, st] : {std::pair<const T*, const Dims*>{a, &sa}, {b, &sb}}) {
                if (p == nullptr || st->d[r] != 1) continue;  // scalars and repeated elements need no alignment
                ok = ok && detail::aligned(p, v * sizeof(T));
                for (int k = 0; k < r; ++k) ok = ok && st->d[k] % v == 0;
            }
            if (!ok) continue;
            switch (v) {
                case 8:
                    return binary_vec<T, 8>(op, a, sa, a_scalar, b, sb, b_scalar, y, out, total, stream);
                case 4:
                    return binary_vec<T, 4>(op, a, sa, a_scalar, b, sb, b_scalar, y, out, total, stream);
                default:
                    return binary_vec<T, 2>(op, a, sa, a_scalar, b, sb, b_scalar, y, out, total, stream);
            }
        }
    }
    const unsigned grid = detail::grid_for(total);
    if (detail::fits32(total)) {
        binary_kernel<T, uint32_t><<<grid, detail::kBlock, 0, stream>>>(op, a, sa, a_scalar, b, sb, b_scalar, y, out,
                                                                        static_cast<uint32_t>(total));
    } else {
        binary_kernel<T, int64_t>
            <<<grid, detail::kBlock, 0, stream>>>(op, a, sa, a_scalar, b, sb, b_scalar, y, out, total);
    }
    return cudaGetLastError();
}

}  // namespace

cudaError_t conv_epilogue(const void* x, int64_t ldx, void* y, int64_t ldy, const float* bias, const void* residual,
                          int64_t ldr, int64_t rows, int64_t C, Act act, float alpha, DT dt, cudaStream_t stream) {
    if (rows <= 0 || C <= 0) return cudaSuccess;
    if (dt == DT::kF16)
        return conv_epilogue_t<__half>(x, ldx, y, ldy, bias, residual, ldr, rows, C, act, alpha, stream);
    return conv_epilogue_t<float>(x, ldx, y, ldy, bias, residual, ldr, rows, C, act, alpha, stream);
}

cudaError_t cast(const void* x, DT xdt, void* y, DT ydt, int64_t n, cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    if (xdt == DT::kF16) {
        return ydt == DT::kF16 ? cast_t<__half, __half>(x, y, n, stream) : cast_t<__half, float>(x, y, n, stream);
    }
    return ydt == DT::kF16 ? cast_t<float, __half>(x, y, n, stream) : cast_t<float, float>(x, y, n, stream);
}

cudaError_t binary(BinOp op, const void* a, Dims a_strides, float a_scalar, const void* b, Dims b_strides,
                   float b_scalar, void* y, Dims out, DT dt, cudaStream_t stream) {
    if (out.rank < 0 || out.rank > kMaxRank) return cudaErrorInvalidValue;
    if (dt == DT::kF16) return binary_t<__half>(op, a, a_strides, a_scalar, b, b_strides, b_scalar, y, out, stream);
    return binary_t<float>(op, a, a_strides, a_scalar, b, b_strides, b_scalar, y, out, stream);
}

cudaError_t activation(const void* x, void* y, int64_t n, Act act, float alpha, DT dt, cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    if (dt == DT::kF16) return activation_t<__half>(x, y, n, act, alpha, stream);
    return activation_t<float>(x, y, n, act, alpha, stream);
}

}  // namespace itscam::cuda_kernels
