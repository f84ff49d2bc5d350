// Build-time checks of the autotuner's choices (autotune.cpp): a deterministic fill of an NHWC view and the squared
// difference between two views, so that an alternative kernel can be run on the real layer and compared with the
// default one before it is kept.
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

}  // namespace itscam::cuda_kernels
