#include "backend/cpu/cpu_kernels.h"

#include <cmath>
#include <cstring>

namespace itscam::cpu {

void nhwc_concat(const std::vector<const void*>& srcs, const std::vector<int64_t>& widths, void* dst,
                 int64_t pixels, int64_t total_c, size_t es) {
    auto* d = static_cast<std::byte*>(dst);
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pixels; ++p) {
        std::byte* row = d + p * total_c * es;
        for (size_t i = 0; i < srcs.size(); ++i) {
            const size_t bytes = widths[i] * es;
            std::memcpy(row, static_cast<const std::byte*>(srcs[i]) + p * bytes, bytes);
            row += bytes;
        }
    }
}

void nhwc_split(const void* src, int64_t pixels, int64_t total_c, const std::vector<void*>& dsts,
                const std::vector<int64_t>& widths, size_t es) {
    const auto* s = static_cast<const std::byte*>(src);
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pixels; ++p) {
        const std::byte* row = s + p * total_c * es;
        for (size_t i = 0; i < dsts.size(); ++i) {
            const size_t bytes = widths[i] * es;
            std::memcpy(static_cast<std::byte*>(dsts[i]) + p * bytes, row, bytes);
            row += bytes;
        }
    }
}

void nhwc_resize_nearest(const void* src, void* dst, int64_t n, int64_t h, int64_t w, int64_t c,
                         const std::vector<int64_t>& src_y, const std::vector<int64_t>& src_x, size_t es) {
    const int64_t oh = static_cast<int64_t>(src_y.size()), ow = static_cast<int64_t>(src_x.size());
    const size_t px = c * es;
    const auto* s = static_cast<const std::byte*>(src);
    auto* d = static_cast<std::byte*>(dst);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < n; ++b)
        for (int64_t y = 0; y < oh; ++y) {
            const std::byte* srow = s + ((b * h + src_y[y]) * w) * px;
            std::byte* drow = d + ((b * oh + y) * ow) * px;
            for (int64_t x = 0; x < ow; ++x) std::memcpy(drow + x * px, srow + src_x[x] * px, px);
        }
}

void eltwise_binary(EltOp op, const float* a, const float* b, float* y, int64_t n) {
    switch (op) {
        case EltOp::kAdd:
#pragma omp parallel for simd schedule(static)
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
            break;
        case EltOp::kSub:
#pragma omp parallel for simd schedule(static)
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] - b[i];
            break;
        case EltOp::kMul:
#pragma omp parallel for simd schedule(static)
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
            break;
        case EltOp::kDiv:
#pragma omp parallel for simd schedule(static)
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] / b[i];
            break;
    }
}

void sigmoid(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = 1.f / (1.f + std::exp(-x[i]));
}

void transpose(const void* src, void* dst, const std::vector<int64_t>& shape, const std::vector<int64_t>& perm,
               size_t es) {
    const size_t r = shape.size();
    std::vector<int64_t> in_stride(r, 1), out_shape(r);
    for (int64_t d = static_cast<int64_t>(r) - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * shape[d + 1];
    for (size_t d = 0; d < r; ++d) out_shape[d] = shape[perm[d]];
    // Walk the output in order; the innermost output dim reads with a fixed input stride.
    int64_t outer = 1;
    for (size_t d = 0; d + 1 < r; ++d) outer *= out_shape[d];
    const int64_t inner = r ? out_shape[r - 1] : 1;
    const int64_t inner_stride = r ? in_stride[perm[r - 1]] : 1;
    const auto* s = static_cast<const std::byte*>(src);
    auto* d = static_cast<std::byte*>(dst);
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
        int64_t rem = o, off = 0;
        for (int64_t k = static_cast<int64_t>(r) - 2; k >= 0; --k) {
            off += (rem % out_shape[k]) * in_stride[perm[k]];
            rem /= out_shape[k];
        }
        std::byte* drow = d + o * inner * es;
        if (es == 4) {
            const float* sp = reinterpret_cast<const float*>(s) + off;
            float* dp = reinterpret_cast<float*>(drow);
            for (int64_t i = 0; i < inner; ++i) dp[i] = sp[i * inner_stride];
        } else {
            for (int64_t i = 0; i < inner; ++i) std::memcpy(drow + i * es, s + (off + i * inner_stride) * es, es);
        }
    }
}

void softmax(const float* x, float* y, int64_t outer, int64_t len, int64_t inner) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const float* xp = x + o * len * inner + i;
            float* yp = y + o * len * inner + i;
            float mx = -INFINITY;
            for (int64_t k = 0; k < len; ++k) mx = std::max(mx, xp[k * inner]);
            float sum = 0.f;
            for (int64_t k = 0; k < len; ++k) {
                const float e = std::exp(xp[k * inner] - mx);
                yp[k * inner] = e;
                sum += e;
            }
            const float inv = 1.f / sum;
            for (int64_t k = 0; k < len; ++k) yp[k * inner] *= inv;
        }
}

}  // namespace itscam::cpu
