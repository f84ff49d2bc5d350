// Element conversions for CUDA kernels, shared by the backend's kernels (backend/cuda/kernels) and the GPU
// pre/post-processing (vision/cuda): all arithmetic is in float; fp16 stores round to nearest even. nvcc only; no
// framework types.
#pragma once

#include <cuda_fp16.h>

namespace itscam::csl {

__device__ __forceinline__ float to_f(float v) {
    return v;
}
__device__ __forceinline__ float to_f(__half v) {
    return __half2float(v);
}
template <typename T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ __half from_f<__half>(float v) {
    return __float2half_rn(v);
}

}  // namespace itscam::csl
