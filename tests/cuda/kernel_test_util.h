// Helpers the kernel tests share (cuda_kernels_test, igemm_fp8_test): a device copy of a host array, and the
// activations as the kernels apply them, for the tests' reference loops.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
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

// A dense convolution's shape for the reference loops: x NHWC, H x W pixels of ldx values of which the first C are
// read; w [K, R, S, C]; stride, padding (top and left) and dilation the same in both directions.
struct ConvShape {
    int64_t H, W, C, ldx, R, S, stride, pad, dil = 1;

    // The sum over taps and channels at output pixel (n, oh, ow), output channel k, with products in double; mag,
    // where given, gets the sum of the products' magnitudes (the scale of a tolerance for rounded accumulation).
    double sum(const std::vector<float>& x, const std::vector<float>& w, int64_t n, int64_t oh, int64_t ow, int64_t k,
               double* mag = nullptr) const {
        double acc = 0, abs = 0;
        for (int64_t i = 0; i < R; ++i)
            for (int64_t j = 0; j < S; ++j) {
                const int64_t ih = oh * stride - pad + i * dil, iw = ow * stride - pad + j * dil;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const float* xp = &x[((n * H + ih) * W + iw) * ldx];
                const float* wp = &w[((k * R + i) * S + j) * C];
                for (int64_t c = 0; c < C; ++c) {
                    const double v = double(xp[c]) * wp[c];
                    acc += v;
                    abs += std::fabs(v);
                }
            }
        if (mag) *mag = abs;
        return acc;
    }
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
