// Device helpers shared by the CUDA backend's kernel files (nvcc only; no framework types).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/kernels/kernels_impl.h"
#include "device/cuda/convert.cuh"

namespace itscam::cuda_kernels::detail {

// ---- element conversion (all arithmetic in float): the shared CUDA layer's ----
using csl::from_f;
using csl::to_f;

// V elements of T moved as one aligned load/store (V * sizeof(T) in {2, 4, 8, 16} bytes).
template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
    T v[V];
};

__device__ __forceinline__ float apply_act(float v, Act act, float alpha) {
    switch (act) {
        case Act::kSiLU:
            return v / (1.0f + __expf(-v));
        case Act::kReLU:
            return fmaxf(v, 0.0f);
        case Act::kSigmoid:
            return 1.0f / (1.0f + __expf(-v));
        case Act::kLeakyReLU:
            return v >= 0.0f ? v : v * alpha;
        default:
            return v;
    }
}

// ---- host helpers ----
constexpr int kBlock = 256;
constexpr int64_t kMaxGrid = int64_t{1} << 20;  // grid-stride loops cover the rest

inline unsigned grid_for(int64_t work, int block = kBlock) {
    int64_t g = (work + block - 1) / block;
    if (g < 1) g = 1;
    if (g > kMaxGrid) g = kMaxGrid;
    return static_cast<unsigned>(g);
}

inline size_t dt_size(DT dt) {
    return dt == DT::kF16 ? 2 : 4;
}

inline bool aligned(const void* p, size_t bytes) {
    return p == nullptr || reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

// Widest vector (in elements, at most 16 bytes) such that every count in `counts` is a multiple of it and every
// pointer is aligned to it.
template <int N, int M>
inline int pick_vec(size_t elem, const int64_t (&counts)[N], const void* const (&ptrs)[M]) {
    for (int v = static_cast<int>(16 / elem); v > 1; v /= 2) {
        bool ok = true;
        for (int64_t c : counts) ok = ok && (c % v == 0);
        for (const void* p : ptrs) ok = ok && aligned(p, v * elem);
        if (ok) return v;
    }
    return 1;
}

}  // namespace itscam::cuda_kernels::detail

namespace itscam::cuda_kernels::detail {

// Drops size-1 dimensions of `out` and merges adjacent dimensions that are contiguous with each other in every
// operand (stride[k-1] == stride[k] * d[k] for each stride set). Returns the element count (0 = nothing to do).
// After the call out.rank >= 1.
inline int64_t coalesce(Dims& out, Dims* const* strides, int ns) {
    int64_t total = 1;
    for (int k = 0; k < out.rank; ++k) total *= out.d[k];
    if (total == 0) return 0;
    Dims o;
    Dims s[4];
    for (int k = 0; k < out.rank; ++k) {
        if (out.d[k] == 1) continue;
        if (o.rank > 0) {
            const int L = o.rank - 1;
            bool merge = true;
            for (int j = 0; j < ns; ++j) merge = merge && (s[j].d[L] == strides[j]->d[k] * out.d[k]);
            if (merge) {
                o.d[L] *= out.d[k];
                for (int j = 0; j < ns; ++j) s[j].d[L] = strides[j]->d[k];
                continue;
            }
        }
        o.d[o.rank] = out.d[k];
        for (int j = 0; j < ns; ++j) s[j].d[o.rank] = strides[j]->d[k];
        ++o.rank;
    }
    if (o.rank == 0) {  // a single element
        o.rank = 1;
        o.d[0] = 1;
        for (int j = 0; j < ns; ++j) s[j].d[0] = 0;
    }
    for (int j = 0; j < ns; ++j) {
        s[j].rank = o.rank;
        *strides[j] = s[j];
    }
    out = o;
    return total;
}

// Offsets of output linear index `i` (dims `out`, innermost last) into up to two strided operands.
template <typename I>
__device__ __forceinline__ void offsets2(I i, const Dims& out, const Dims& sa, const Dims& sb, int64_t& oa,
                                         int64_t& ob) {
    oa = 0;
    ob = 0;
#pragma unroll
    for (int k = kMaxRank - 1; k >= 1; --k) {
        if (k < out.rank) {
            const I d = static_cast<I>(out.d[k]);
            const I q = i / d;
            const I c = i - q * d;
            i = q;
            oa += static_cast<int64_t>(c) * sa.d[k];
            ob += static_cast<int64_t>(c) * sb.d[k];
        }
    }
    oa += static_cast<int64_t>(i) * sa.d[0];
    ob += static_cast<int64_t>(i) * sb.d[0];
}

template <typename I>
__device__ __forceinline__ int64_t offset1(I i, const Dims& out, const Dims& s) {
    int64_t o = 0;
#pragma unroll
    for (int k = kMaxRank - 1; k >= 1; --k) {
        if (k < out.rank) {
            const I d = static_cast<I>(out.d[k]);
            const I q = i / d;
            o += static_cast<int64_t>(i - q * d) * s.d[k];
            i = q;
        }
    }
    return o + static_cast<int64_t>(i) * s.d[0];
}

// Index type for a linear loop over `total` items: 32-bit division is several times cheaper than 64-bit.
// Loops use I = uint32_t when this holds (i + grid stride then still fits in 32 bits).
inline bool fits32(int64_t total) {
    return total < (int64_t{1} << 31);
}

}  // namespace itscam::cuda_kernels::detail
