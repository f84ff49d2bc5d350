// Helpers the kernel tests share (cuda_kernels_test, igemm_fp8_test): a device copy of a host array, and the
// activations as the kernels apply them, for the tests' reference loops.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels::test_util {

// A device copy of a host array (a failed allocation or copy fails the test), freed with it.
template <typename T>
struct DevArray {
    explicit DevArray(const std::vector<T>& h) {
        EXPECT_EQ(cudaMalloc(&p, std::max<size_t>(h.size(), 1) * sizeof(T)), cudaSuccess);
        EXPECT_EQ(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    }
    DevArray(const DevArray&) = delete;
    DevArray& operator=(const DevArray&) = delete;
    ~DevArray() { cudaFree(p); }
    // The first n elements, back on the host.
    std::vector<T> get(size_t n) const {
        std::vector<T> h(n);
        EXPECT_EQ(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
        return h;
    }
    T* p = nullptr;
};

// The activation in F's precision (float or double); alpha is LeakyReLU's slope.
template <typename F>
F act_ref(F v, Act act, F alpha = F(0)) {
    switch (act) {
        case Act::kSiLU:
            return v / (F(1) + std::exp(-v));
        case Act::kReLU:
            return std::max(v, F(0));
        case Act::kSigmoid:
            return F(1) / (F(1) + std::exp(-v));
        case Act::kLeakyReLU:
            return v >= F(0) ? v : v * alpha;
        default:
            return v;
    }
}

}  // namespace itscam::cuda_kernels::test_util
