#include "backend/cpu/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// Hot loops are compiled for AVX-512 and AVX2 as well as the x86-64 baseline; the loader picks one at start-up.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ITSCAM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ITSCAM_CLONES
#endif

namespace itscam::cpu {

// Below this many bytes a kernel runs on the calling thread: an OpenMP region costs a barrier, and under CPU
// contention a barrier can cost a whole scheduler time slice.
constexpr int64_t kParallelBytes = 64 * 1024;

float fast_exp(float x);

void nhwc_concat(const std::vector<const void*>& srcs, const std::vector<int64_t>& widths, void* dst,
                 int64_t pixels, int64_t total_c, size_t es) {
    auto* d = static_cast<std::byte*>(dst);
#pragma omp parallel for schedule(static) if(pixels * total_c * es > kParallelBytes)
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
#pragma omp parallel for schedule(static) if(pixels * total_c * es > kParallelBytes)
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
#pragma omp parallel for collapse(2) schedule(static) if(n * oh * ow * c * es > kParallelBytes)
    for (int64_t b = 0; b < n; ++b)
        for (int64_t y = 0; y < oh; ++y) {
            const std::byte* srow = s + ((b * h + src_y[y]) * w) * px;
            std::byte* drow = d + ((b * oh + y) * ow) * px;
            for (int64_t x = 0; x < ow; ++x) std::memcpy(drow + x * px, srow + src_x[x] * px, px);
        }
}

ITSCAM_CLONES
void eltwise_binary(EltOp op, const float* a, const float* b, float* y, int64_t n) {
    switch (op) {
        case EltOp::kAdd:
#pragma omp parallel for simd schedule(static) if(n * 4 > kParallelBytes)
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
            break;
        case EltOp::kSub:
#pragma omp parallel for simd schedule(static) if(n * 4 > kParallelBytes)
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] - b[i];
            break;
        case EltOp::kMul:
#pragma omp parallel for simd schedule(static) if(n * 4 > kParallelBytes)
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
            break;
        case EltOp::kDiv:
#pragma omp parallel for simd schedule(static) if(n * 4 > kParallelBytes)
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] / b[i];
            break;
    }
}

static inline float fast_exp_impl(float x_in) {
    // exp(x) = 2^k * exp(r), k = round(x / ln2), r = x - k*ln2 (ln2 split in two for exactness).
    float x = std::min(88.3762626647949f, std::max(-87.3365478515625f, x_in));
    // Round to nearest by adding and subtracting 1.5 * 2^23 (vectorizes on every SSE level, unlike nearbyint).
    const float k = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
    const float r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    int32_t bits;
    std::memcpy(&bits, &p, 4);
    bits += static_cast<int32_t>(k) << 23;
    std::memcpy(&p, &bits, 4);
    // The clamp above turns NaN into a finite number; give NaN back (a compare + blend, still vectorized).
    return x_in == x_in ? p : x_in;
}

ITSCAM_CLONES
void sigmoid(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if(n * 4 > kParallelBytes)
    for (int64_t i = 0; i < n; ++i) y[i] = 1.f / (1.f + fast_exp_impl(-x[i]));
}

ITSCAM_CLONES
void eltwise_broadcast(EltOp op, const float* a, const std::vector<int64_t>& a_shape, const float* b,
                       const std::vector<int64_t>& b_shape, float* y, const std::vector<int64_t>& out_shape) {
    const int64_t r = static_cast<int64_t>(out_shape.size());
    std::vector<int64_t> sa(r, 0), sb(r, 0);
    int64_t acc_a = 1, acc_b = 1;
    for (int64_t d = r - 1; d >= 0; --d) {
        sa[d] = a_shape[d] == 1 ? 0 : acc_a;
        sb[d] = b_shape[d] == 1 ? 0 : acc_b;
        acc_a *= a_shape[d];
        acc_b *= b_shape[d];
    }
    const int64_t inner = r ? out_shape[r - 1] : 1;
    const int64_t ia = r ? sa[r - 1] : 0, ib = r ? sb[r - 1] : 0;
    int64_t outer = 1;
    for (int64_t d = 0; d + 1 < r; ++d) outer *= out_shape[d];
#pragma omp parallel for schedule(static) if(outer * inner * 4 > kParallelBytes)
    for (int64_t o = 0; o < outer; ++o) {
        int64_t rem = o, oa = 0, ob = 0;
        for (int64_t d = r - 2; d >= 0; --d) {
            const int64_t c = rem % out_shape[d];
            rem /= out_shape[d];
            oa += c * sa[d];
            ob += c * sb[d];
        }
        const float* ap = a + oa;
        const float* bp = b + ob;
        float* yp = y + o * inner;
        switch (op) {
            case EltOp::kAdd: for (int64_t i = 0; i < inner; ++i) yp[i] = ap[i * ia] + bp[i * ib]; break;
            case EltOp::kSub: for (int64_t i = 0; i < inner; ++i) yp[i] = ap[i * ia] - bp[i * ib]; break;
            case EltOp::kMul: for (int64_t i = 0; i < inner; ++i) yp[i] = ap[i * ia] * bp[i * ib]; break;
            case EltOp::kDiv: for (int64_t i = 0; i < inner; ++i) yp[i] = ap[i * ia] / bp[i * ib]; break;
        }
    }
}

void concat_rows(const std::vector<const void*>& srcs, const std::vector<int64_t>& row_bytes, void* dst,
                 int64_t outer) {
    int64_t total = 0;
    for (int64_t b : row_bytes) total += b;
    auto* d = static_cast<std::byte*>(dst);
#pragma omp parallel for schedule(static) if(outer * total > kParallelBytes)
    for (int64_t o = 0; o < outer; ++o) {
        std::byte* row = d + o * total;
        for (size_t i = 0; i < srcs.size(); ++i) {
            std::memcpy(row, static_cast<const std::byte*>(srcs[i]) + o * row_bytes[i], row_bytes[i]);
            row += row_bytes[i];
        }
    }
}

void split_rows(const void* src, int64_t outer, const std::vector<void*>& dsts, const std::vector<int64_t>& row_bytes) {
    int64_t total = 0;
    for (int64_t b : row_bytes) total += b;
    const auto* s = static_cast<const std::byte*>(src);
#pragma omp parallel for schedule(static) if(outer * total > kParallelBytes)
    for (int64_t o = 0; o < outer; ++o) {
        const std::byte* row = s + o * total;
        for (size_t i = 0; i < dsts.size(); ++i) {
            std::memcpy(static_cast<std::byte*>(dsts[i]) + o * row_bytes[i], row, row_bytes[i]);
            row += row_bytes[i];
        }
    }
}

void slice_copy(const void* src, const std::vector<int64_t>& in_shape, void* dst, const std::vector<int64_t>& start,
                const std::vector<int64_t>& step, const std::vector<int64_t>& count, size_t es) {
    const int64_t r = static_cast<int64_t>(in_shape.size());
    std::vector<int64_t> stride(r, 1);
    for (int64_t d = r - 2; d >= 0; --d) stride[d] = stride[d + 1] * in_shape[d + 1];
    const int64_t inner = r ? count[r - 1] : 1;
    int64_t outer = 1;
    for (int64_t d = 0; d + 1 < r; ++d) outer *= count[d];
    const bool contiguous = r == 0 || step[r - 1] == 1;
    const auto* s = static_cast<const std::byte*>(src);
    auto* d = static_cast<std::byte*>(dst);
#pragma omp parallel for schedule(static) if(outer * inner * static_cast<int64_t>(es) > kParallelBytes)
    for (int64_t o = 0; o < outer; ++o) {
        int64_t rem = o, off = r ? start[r - 1] * stride[r - 1] : 0;
        for (int64_t k = r - 2; k >= 0; --k) {
            off += (start[k] + (rem % count[k]) * step[k]) * stride[k];
            rem /= count[k];
        }
        std::byte* drow = d + o * inner * es;
        if (contiguous) {
            std::memcpy(drow, s + off * es, inner * es);
        } else {
            for (int64_t i = 0; i < inner; ++i) std::memcpy(drow + i * es, s + (off + i * step[r - 1]) * es, es);
        }
    }
}

ITSCAM_CLONES
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
#pragma omp parallel for schedule(static) if(outer * inner * static_cast<int64_t>(es) > kParallelBytes)
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

ITSCAM_CLONES
void softmax(const float* x, float* y, int64_t outer, int64_t len, int64_t inner) {
#pragma omp parallel for collapse(2) schedule(static) if(outer * len * inner * 4 > kParallelBytes)
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const float* xp = x + o * len * inner + i;
            float* yp = y + o * len * inner + i;
            float mx = -INFINITY;
            for (int64_t k = 0; k < len; ++k) mx = std::max(mx, xp[k * inner]);
            float sum = 0.f;
            for (int64_t k = 0; k < len; ++k) {
                const float e = fast_exp_impl(xp[k * inner] - mx);
                yp[k * inner] = e;
                sum += e;
            }
            const float inv = 1.f / sum;
            for (int64_t k = 0; k < len; ++k) yp[k * inner] *= inv;
        }
}

float fast_exp(float x) { return fast_exp_impl(x); }

ITSCAM_CLONES
void dfl_decode(const float* x, const float* w, float* y, int64_t nj, int64_t r, int64_t a) {
    constexpr int64_t kBlock = 256;  // anchors per block: the running max/sums stay in L1 and vectorize over a
    const int64_t blocks = (a + kBlock - 1) / kBlock;
#pragma omp parallel for collapse(2) schedule(static) if(nj * r * a * 4 > kParallelBytes)
    for (int64_t j = 0; j < nj; ++j)
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t a0 = b * kBlock, len = std::min(kBlock, a - a0);
            const float* xp = x + j * r * a + a0;
            float mx[kBlock], sum[kBlock], acc[kBlock];
            for (int64_t i = 0; i < len; ++i) mx[i] = xp[i], sum[i] = 0.f, acc[i] = 0.f;
            for (int64_t k = 1; k < r; ++k)
                for (int64_t i = 0; i < len; ++i) mx[i] = std::max(mx[i], xp[k * a + i]);
            for (int64_t k = 0; k < r; ++k) {
                const float wk = w[k];
                for (int64_t i = 0; i < len; ++i) {
                    const float e = fast_exp_impl(xp[k * a + i] - mx[i]);
                    sum[i] += e;
                    acc[i] += e * wk;
                }
            }
            float* yp = y + j * a + a0;
            for (int64_t i = 0; i < len; ++i) yp[i] = acc[i] / sum[i];
        }
}

}  // namespace itscam::cpu
