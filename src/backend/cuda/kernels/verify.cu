// Build-time checks of the autotuner's choices (autotune.cpp): a deterministic fill of an NHWC view, the squared
// difference between two views, and a direct (slow, obviously right) convolution for layers that have no other path
// to compare with, so that an alternative kernel can be run on the real layer and compared before it is kept.
#include "backend/cuda/kernels/kernels_common.cuh"

namespace itscam::cuda_kernels {

namespace {

// A value in [-1, 1) from (seed, index): a 32-bit integer hash, no state.
__device__ __forceinline__ float hash_unit(uint32_t seed, uint64_t i) {
    uint32_t h = seed ^ static_cast<uint32_t>(i) ^ static_cast<uint32_t>(i >> 32) * 0x9E3779B9u;
    h ^= h >> 16;
    h *= 0x7FEB352Du;
    h ^= h >> 15;
    h *= 0x846CA68Bu;
    h ^= h >> 16;
    return static_cast<float>(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

template <typename T>
__global__ void fill_kernel(T* p, int64_t rows, int64_t cols, int64_t ld, uint32_t seed) {
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t r = i / cols, c = i % cols;
        p[r * ld + c] = detail::from_f<T>(hash_unit(seed, static_cast<uint64_t>(i)));
    }
}

template <typename T>
__global__ void diff_kernel(const T* a, int64_t lda, const T* b, int64_t ldb, int64_t rows, int64_t cols,
                            double* acc) {
    float d2 = 0.f, b2 = 0.f;
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t r = i / cols, c = i % cols;
        const float va = detail::to_f(a[r * lda + c]), vb = detail::to_f(b[r * ldb + c]);
        const float d = va - vb;
        // A NaN or Inf on either side counts as a total mismatch.
        d2 += isfinite(d) ? d * d : 1e30f;
        b2 += isfinite(vb) ? vb * vb : 0.f;
    }
    for (int off = 16; off > 0; off /= 2) {
        d2 += __shfl_down_sync(0xffffffffu, d2, off);
        b2 += __shfl_down_sync(0xffffffffu, b2, off);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(acc, static_cast<double>(d2));
        atomicAdd(acc + 1, static_cast<double>(b2));
    }
}

// One thread per output element: y[p, k] = act(sum_{r,s,c} x[tap, c] * w[k, r, s, c] + b[k]) (+ res[p, k]), float sums.
template <typename T>
__global__ void conv_ref_kernel(const T* x, int64_t ldx, const T* w, const T* b, const T* res, int64_t ldr, T* y,
                                int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C, int64_t K, int R, int S,
                                int64_t OH, int64_t OW, int pad_h, int pad_w, int stride_h, int stride_w, int dil_h,
                                int dil_w, Act act) {
    const int64_t n_out = N * OH * OW * K;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n_out;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t k = i % K, pix = i / K;
        const int64_t ow = pix % OW, oh = (pix / OW) % OH, n = pix / (OW * OH);
        float acc = b != nullptr ? detail::to_f(b[k]) : 0.f;
        for (int r = 0; r < R; ++r) {
            const int64_t ih = oh * stride_h - pad_h + r * dil_h;
            if (ih < 0 || ih >= H) continue;
            for (int s = 0; s < S; ++s) {
                const int64_t iw = ow * stride_w - pad_w + s * dil_w;
                if (iw < 0 || iw >= W) continue;
                const T* xp = x + ((n * H + ih) * W + iw) * ldx;
                const T* wp = w + ((k * R + r) * S + s) * C;
                for (int64_t c = 0; c < C; ++c) acc += detail::to_f(xp[c]) * detail::to_f(wp[c]);
            }
        }
        float v = detail::apply_act(acc, act, 0.f);
        if (res != nullptr) v += detail::to_f(res[pix * ldr + k]);
        y[pix * ldy + k] = detail::from_f<T>(v);
    }
}

// A few thousand blocks: the grid-stride loops cover the rest, and the reduction makes one atomic pair per warp.
unsigned grid_for(int64_t n) {
    const unsigned g = detail::grid_for(n);
    return g < 4096u ? g : 4096u;
}

}  // namespace

cudaError_t fill_pattern(void* p, DT dt, int64_t rows, int64_t cols, int64_t ld, uint32_t seed, cudaStream_t stream) {
    if (rows <= 0 || cols <= 0) return cudaSuccess;
    const unsigned g = grid_for(rows * cols);
    if (dt == DT::kF16)
        fill_kernel<__half><<<g, detail::kBlock, 0, stream>>>(static_cast<__half*>(p), rows, cols, ld, seed);
    else
        fill_kernel<float><<<g, detail::kBlock, 0, stream>>>(static_cast<float*>(p), rows, cols, ld, seed);
    return cudaGetLastError();
}

cudaError_t diff_squares(const void* a, int64_t lda, const void* b, int64_t ldb, DT dt, int64_t rows, int64_t cols,
                         double* acc, cudaStream_t stream) {
    if (rows <= 0 || cols <= 0) return cudaSuccess;
    const unsigned g = grid_for(rows * cols);
    if (dt == DT::kF16)
        diff_kernel<__half><<<g, detail::kBlock, 0, stream>>>(static_cast<const __half*>(a), lda,
                                                              static_cast<const __half*>(b), ldb, rows, cols, acc);
    else
        diff_kernel<float><<<g, detail::kBlock, 0, stream>>>(static_cast<const float*>(a), lda,
                                                             static_cast<const float*>(b), ldb, rows, cols, acc);
    return cudaGetLastError();
}

cudaError_t conv_reference_nhwc(const void* x, int64_t ldx, const void* w, const void* bias, const void* res,
                                int64_t ldr, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                                int64_t K, int R, int S, int64_t OH, int64_t OW, int pad_h, int pad_w, int stride_h,
                                int stride_w, int dil_h, int dil_w, Act act, DT dt, cudaStream_t stream) {
    const int64_t n_out = N * OH * OW * K;
    if (n_out <= 0) return cudaSuccess;
    const unsigned g = detail::grid_for(n_out);
#define ITSCAM_CONV_REF(T)                                                                                              \
    conv_ref_kernel<T><<<g, detail::kBlock, 0, stream>>>(                                                             \
        static_cast<const T*>(x), ldx, static_cast<const T*>(w), static_cast<const T*>(bias),                          \
        static_cast<const T*>(res), ldr, static_cast<T*>(y), ldy, N, H, W, C, K, R, S, OH, OW, pad_h, pad_w, stride_h, \
        stride_w, dil_h, dil_w, act)
    if (dt == DT::kF16)
        ITSCAM_CONV_REF(__half);
    else
        ITSCAM_CONV_REF(float);
#undef ITSCAM_CONV_REF
    return cudaGetLastError();
}

}  // namespace itscam::cuda_kernels
