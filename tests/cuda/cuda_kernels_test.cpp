// The CUDA backend's kernel launchers (src/backend/cuda/kernels) against plain CPU loops, for fp32 and fp16, on
// small random data: strided views, odd channel counts, broadcasting, the vectorized and the scalar paths.
// Skips when no CUDA device is present.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/kernels/kernels_impl.h"
#include "kernel_test_util.h"

namespace itscam::cuda_kernels {
namespace {

using test_util::act_ref;
using test_util::ConvShape;
using test_util::DevArray;

bool cuda_available() {
    int n = 0;
    const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    if (!ok) (void)cudaGetLastError();
    return ok;
}

const char* dt_name(DT dt) {
    return dt == DT::kF16 ? "f16" : "f32";
}
size_t dt_size(DT dt) {
    return dt == DT::kF16 ? 2 : 4;
}

float quant(float v, DT dt) {
    return dt == DT::kF16 ? __half2float(__float2half(v)) : v;
}
std::vector<float> quant(std::vector<float> v, DT dt) {
    for (float& f : v) f = quant(f, dt);
    return v;
}

std::vector<float> rnd(size_t n, uint32_t seed, float lo = -4.f, float hi = 4.f) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (float& f : v) f = u(g);
    return v;
}

// A device buffer of n elements of dtype dt, filled from / read back as float.
class DevBuf {
  public:
    DevBuf(const std::vector<float>& host, DT dt) : n_(host.size()), dt_(dt) {
        alloc();
        if (dt == DT::kF16) {
            std::vector<__half> h(n_);
            for (size_t i = 0; i < n_; ++i) h[i] = __float2half(host[i]);
            EXPECT_EQ(cudaMemcpy(p_, h.data(), n_ * 2, cudaMemcpyHostToDevice), cudaSuccess);
        } else {
            EXPECT_EQ(cudaMemcpy(p_, host.data(), n_ * 4, cudaMemcpyHostToDevice), cudaSuccess);
        }
    }
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    ~DevBuf() {
        if (p_ != nullptr) cudaFree(p_);
    }
    void* at(int64_t off = 0) const { return static_cast<char*>(p_) + off * static_cast<int64_t>(dt_size(dt_)); }
    std::vector<float> get() const {
        EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        std::vector<float> out(n_);
        if (dt_ == DT::kF16) {
            std::vector<__half> h(n_);
            EXPECT_EQ(cudaMemcpy(h.data(), p_, n_ * 2, cudaMemcpyDeviceToHost), cudaSuccess);
            for (size_t i = 0; i < n_; ++i) out[i] = __half2float(h[i]);
        } else {
            EXPECT_EQ(cudaMemcpy(out.data(), p_, n_ * 4, cudaMemcpyDeviceToHost), cudaSuccess);
        }
        return out;
    }

  private:
    void alloc() { EXPECT_EQ(cudaMalloc(&p_, std::max<size_t>(n_, 1) * dt_size(dt_)), cudaSuccess); }
    void* p_ = nullptr;
    size_t n_;
    DT dt_;
};

// atol_f32: the fp32 absolute tolerance (sums of many products differ from the reference's in the last bits).
void expect_close(const std::vector<float>& got, const std::vector<float>& ref, DT dt, const std::string& what,
                  double atol_f32 = 1e-6) {
    ASSERT_EQ(got.size(), ref.size()) << what;
    const double rtol = dt == DT::kF16 ? 2e-3 : 1e-5;
    const double atol = dt == DT::kF16 ? 1e-4 : atol_f32;
    int bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double g = got[i], r = ref[i];
        const bool ok = (std::isinf(r) && g == r) || std::fabs(g - r) <= atol + rtol * std::fabs(r);
        if (!ok && ++bad <= 5)
            ADD_FAILURE() << what << " [" << dt_name(dt) << "] at " << i << ": got " << g << ", want " << r;
    }
    EXPECT_EQ(bad, 0) << what << " [" << dt_name(dt) << "]: " << bad << " of " << got.size() << " elements differ";
}

Dims dims(std::initializer_list<int64_t> v) {
    Dims d;
    d.rank = static_cast<int>(v.size());
    int k = 0;
    for (int64_t x : v) d.d[k++] = x;
    return d;
}

int64_t numel(const Dims& d) {
    int64_t n = 1;
    for (int k = 0; k < d.rank; ++k) n *= d.d[k];
    return n;
}

// Calls f(linear index, coordinates) for every element of dims d (row-major).
void for_each_index(const Dims& d, const std::function<void(int64_t, const int64_t*)>& f) {
    const int64_t n = numel(d);
    int64_t c[kMaxRank] = {};
    for (int64_t i = 0; i < n; ++i) {
        f(i, c);
        for (int k = d.rank - 1; k >= 0; --k) {
            if (++c[k] < d.d[k]) break;
            c[k] = 0;
        }
    }
}

class CudaKernels : public ::testing::TestWithParam<DT> {
  protected:
    void SetUp() override {
        if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
    }
};

INSTANTIATE_TEST_SUITE_P(DT, CudaKernels, ::testing::Values(DT::kF32, DT::kF16),
                         [](const ::testing::TestParamInfo<DT>& i) { return std::string(dt_name(i.param)); });

// ---------------------------------------------------------------------------------------------------------------
TEST_P(CudaKernels, ConvEpilogue) {
    const DT dt = GetParam();
    struct Case {
        int64_t rows, C, ldx, xoff, ldy, yoff, ldr, roff;
        bool bias, residual, inplace;
    };
    const Case cases[] = {
        {37, 19, 24, 3, 22, 1, 20, 0, true, true, false},    // odd C, strided views, channel offsets
        {50, 64, 64, 0, 64, 0, 64, 0, true, true, false},    // dense, widest vectors
        {29, 64, 64, 0, 64, 0, 64, 0, false, false, false},  // no bias, no residual
        {33, 32, 48, 16, 48, 16, 40, 8, true, false, true},  // in place on a channel slice
        {21, 6, 10, 2, 14, 4, 6, 0, true, true, false},      // pairs only
        {17, 12, 20, 4, 16, 4, 12, 0, true, true, false},    // groups of four
    };
    const Act acts[] = {Act::kNone, Act::kSiLU, Act::kReLU, Act::kSigmoid, Act::kLeakyReLU};
    uint32_t seed = 1;
    for (const Case& c : cases) {
        for (Act act : acts) {
            const float alpha = 0.1f;
            const std::vector<float> hx = quant(rnd(c.rows * c.ldx, seed++), dt);
            const std::vector<float> hy0 = quant(rnd(c.rows * c.ldy, seed++), dt);
            const std::vector<float> hr = quant(rnd(c.rows * c.ldr, seed++), dt);
            const std::vector<float> hb = rnd(c.C, seed++, -1.f, 1.f);
            DevBuf x(hx, dt), y(hy0, dt), r(hr, dt);
            DevArray<float> b(hb);
            const int64_t ldx = c.inplace ? c.ldy : c.ldx;
            const std::vector<float>& xin = c.inplace ? hy0 : hx;
            const int64_t xoff = c.inplace ? c.yoff : c.xoff;
            const void* xp = c.inplace ? y.at(c.yoff) : x.at(c.xoff);
            ASSERT_EQ(conv_epilogue(xp, ldx, y.at(c.yoff), c.ldy, c.bias ? b.p : nullptr,
                                    c.residual ? r.at(c.roff) : nullptr, c.ldr, c.rows, c.C, act, alpha, dt, nullptr),
                      cudaSuccess);
            std::vector<float> ref = hy0;
            for (int64_t i = 0; i < c.rows; ++i)
                for (int64_t k = 0; k < c.C; ++k) {
                    float v = xin[i * ldx + xoff + k] + (c.bias ? hb[k] : 0.f);
                    v = act_ref(v, act, alpha);
                    if (c.residual) v += hr[i * c.ldr + c.roff + k];
                    ref[i * c.ldy + c.yoff + k] = v;
                }
            expect_close(y.get(), ref, dt,
                         "conv_epilogue C=" + std::to_string(c.C) + " act=" + std::to_string(static_cast<int>(act)));
        }
    }
}

TEST_P(CudaKernels, Cast) {
    const DT xdt = GetParam();
    for (DT ydt : {DT::kF32, DT::kF16}) {
        for (int64_t off : {0, 1}) {
            const int64_t n = 1003;
            const std::vector<float> hx = quant(rnd(n + 1, 7), xdt);
            DevBuf x(hx, xdt), y(std::vector<float>(n + 1, 0.f), ydt);
            ASSERT_EQ(cast(x.at(off), xdt, y.at(off), ydt, n, nullptr), cudaSuccess);
            std::vector<float> ref(n + 1, 0.f);
            for (int64_t i = 0; i < n; ++i) ref[i + off] = hx[i + off];
            expect_close(y.get(), ref, ydt, std::string("cast to ") + dt_name(ydt));
        }
    }
}

TEST_P(CudaKernels, Activation) {
    const DT dt = GetParam();
    for (Act act : {Act::kNone, Act::kSiLU, Act::kReLU, Act::kSigmoid, Act::kLeakyReLU}) {
        for (int64_t off : {0, 1}) {
            for (bool inplace : {false, true}) {
                const int64_t n = 1001;
                const std::vector<float> hx = quant(rnd(n + 1, 11 + static_cast<int>(act)), dt);
                const std::vector<float> hy = quant(rnd(n + 1, 99), dt);
                DevBuf x(hx, dt), y(hy, dt);
                DevBuf& out = inplace ? x : y;
                ASSERT_EQ(activation(x.at(off), out.at(off), n, act, 0.2f, dt, nullptr), cudaSuccess);
                std::vector<float> ref = inplace ? hx : hy;
                for (int64_t i = 0; i < n; ++i) ref[i + off] = act_ref(hx[i + off], act, 0.2f);
                expect_close(out.get(), ref, dt, "activation " + std::to_string(static_cast<int>(act)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Broadcast strides of an operand of shape `shape` (same rank as out; size 1 = broadcast) over `out`.
Dims bstrides(const Dims& shape, const Dims& out) {
    Dims s;
    s.rank = out.rank;
    int64_t st = 1;
    for (int k = out.rank - 1; k >= 0; --k) {
        s.d[k] = (shape.d[k] == 1 && out.d[k] != 1) ? 0 : st;
        st *= shape.d[k];
    }
    return s;
}

float bin_ref(BinOp op, float a, float b) {
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

TEST_P(CudaKernels, Binary) {
    const DT dt = GetParam();
    struct Case {
        Dims out, ashape, bshape;
        bool a_scalar, b_scalar;
    };
    const Case cases[] = {
        {dims({2, 3, 4, 5}), dims({2, 3, 4, 5}), dims({2, 3, 4, 5}), false, false},  // dense
        {dims({2, 3, 4, 5}), dims({2, 3, 4, 5}), dims({1, 3, 1, 5}), false, false},  // b broadcast
        {dims({2, 3, 4, 5}), dims({2, 1, 4, 1}), dims({1, 3, 1, 5}), false, false},  // both broadcast
        {dims({2, 3, 4, 5}), dims({1, 1, 1, 1}), dims({2, 3, 4, 5}), false, false},  // one-element a
        {dims({3, 7, 9}), dims({3, 7, 9}), dims({1, 1, 1}), false, true},            // b scalar
        {dims({3, 7, 9}), dims({1, 1, 1}), dims({3, 1, 9}), true, false},            // a scalar, b broadcast
        {dims({2, 3, 1, 5, 2, 3}), dims({2, 1, 1, 5, 1, 3}), dims({1, 3, 1, 1, 2, 3}), false, false},  // rank 6
        {dims({6, 8}), dims({6, 8}), dims({1, 8}), false, false},            // row broadcast, vectors
        {dims({4, 16}), dims({4, 1}), dims({4, 16}), false, false},          // column broadcast, vectors
        {dims({2, 3, 16}), dims({1, 1, 1}), dims({2, 1, 16}), true, false},  // a scalar, vectors
        {dims({1001}), dims({1001}), dims({1001}), false, false},            // odd flat
        {dims({}), dims({}), dims({}), false, false},                        // rank 0 (one element)
    };
    uint32_t seed = 100;
    for (const Case& c : cases) {
        for (BinOp op : {BinOp::kAdd, BinOp::kSub, BinOp::kMul, BinOp::kDiv}) {
            const int64_t n = numel(c.out);
            const std::vector<float> ha = quant(rnd(numel(c.ashape), seed++), dt);
            // Divisors away from zero.
            const std::vector<float> hb = quant(rnd(numel(c.bshape), seed++, 0.5f, 2.f), dt);
            const float as = 1.75f, bs = -0.625f;
            DevBuf a(ha, dt), b(hb, dt), y(std::vector<float>(n, 0.f), dt);
            const Dims sa = bstrides(c.ashape, c.out), sb = bstrides(c.bshape, c.out);
            ASSERT_EQ(binary(op, c.a_scalar ? nullptr : a.at(), sa, as, c.b_scalar ? nullptr : b.at(), sb, bs, y.at(),
                             c.out, dt, nullptr),
                      cudaSuccess);
            std::vector<float> ref(n);
            for_each_index(c.out, [&](int64_t i, const int64_t* o) {
                int64_t ia = 0, ib = 0;
                for (int k = 0; k < c.out.rank; ++k) {
                    ia += o[k] * sa.d[k];
                    ib += o[k] * sb.d[k];
                }
                ref[i] = bin_ref(op, c.a_scalar ? as : ha[ia], c.b_scalar ? bs : hb[ib]);
            });
            expect_close(y.get(), ref, dt,
                         "binary op=" + std::to_string(static_cast<int>(op)) + " n=" + std::to_string(n));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
TEST_P(CudaKernels, NchwToNhwc) {
    const DT xdt = GetParam();
    struct Case {
        int64_t N, C, HW, ldy, yoff;
    };
    for (const Case& c : {Case{2, 3, 37, 4, 0}, Case{2, 3, 37, 3, 0}, Case{2, 45, 70, 48, 2}, Case{3, 64, 100, 64, 0},
                          Case{1, 33, 1025, 40, 7}}) {
        for (DT ydt : {DT::kF32, DT::kF16}) {
            const std::vector<float> hx = quant(rnd(c.N * c.C * c.HW, 5), xdt);
            const std::vector<float> hy0 = rnd(c.N * c.HW * c.ldy + c.yoff, 6);
            DevBuf x(hx, xdt), y(hy0, ydt);
            ASSERT_EQ(nchw_to_nhwc(x.at(), xdt, y.at(c.yoff), c.ldy, ydt, c.N, c.C, c.HW, nullptr), cudaSuccess);
            std::vector<float> ref = quant(hy0, ydt);
            for (int64_t n = 0; n < c.N; ++n)
                for (int64_t ch = 0; ch < c.C; ++ch)
                    for (int64_t p = 0; p < c.HW; ++p)
                        ref[(n * c.HW + p) * c.ldy + c.yoff + ch] = hx[(n * c.C + ch) * c.HW + p];
            expect_close(y.get(), ref, ydt, "nchw_to_nhwc C=" + std::to_string(c.C));
        }
    }
}

TEST_P(CudaKernels, NhwcToNchw) {
    const DT xdt = GetParam();
    struct Case {
        int64_t N, C, HW, ldx, xoff;
    };
    for (const Case& c :
         {Case{2, 3, 37, 4, 1}, Case{2, 45, 70, 48, 2}, Case{3, 64, 100, 64, 0}, Case{2, 84, 210, 96, 5}}) {
        for (DT ydt : {DT::kF32, DT::kF16}) {
            const std::vector<float> hx = quant(rnd(c.N * c.HW * c.ldx, 8), xdt);
            DevBuf x(hx, xdt), y(std::vector<float>(c.N * c.C * c.HW, 0.f), ydt);
            ASSERT_EQ(nhwc_to_nchw(x.at(c.xoff), c.ldx, xdt, y.at(), ydt, c.N, c.C, c.HW, nullptr), cudaSuccess);
            std::vector<float> ref(c.N * c.C * c.HW);
            for (int64_t n = 0; n < c.N; ++n)
                for (int64_t ch = 0; ch < c.C; ++ch)
                    for (int64_t p = 0; p < c.HW; ++p)
                        ref[(n * c.C + ch) * c.HW + p] = hx[(n * c.HW + p) * c.ldx + c.xoff + ch];
            expect_close(y.get(), ref, ydt, "nhwc_to_nchw C=" + std::to_string(c.C));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
TEST_P(CudaKernels, MaxPool) {
    const DT dt = GetParam();
    struct Case {
        int64_t N, H, W, C, ldx, xoff, ldy, yoff;
        int k, s, pad;
    };
    const Case cases[] = {
        {2, 9, 9, 13, 16, 1, 15, 2, 5, 1, 2},    // SPPF, odd C, strided
        {2, 20, 20, 64, 64, 0, 64, 0, 5, 1, 2},  // SPPF, vectorized
        {2, 8, 10, 24, 32, 8, 24, 0, 2, 2, 0},   // 2x2 stride 2 on a channel slice
        {1, 7, 9, 6, 6, 0, 8, 2, 2, 2, 0},       // odd H/W (floor), pairs
        {1, 6, 6, 5, 5, 0, 5, 0, 3, 2, 1},       // 3x3 stride 2 pad 1
    };
    uint32_t seed = 300;
    for (const Case& c : cases) {
        const int64_t OH = (c.H + 2 * c.pad - c.k) / c.s + 1, OW = (c.W + 2 * c.pad - c.k) / c.s + 1;
        const std::vector<float> hx = quant(rnd(c.N * c.H * c.W * c.ldx, seed++), dt);
        const std::vector<float> hy0 = quant(rnd(c.N * OH * OW * c.ldy, seed++), dt);
        DevBuf x(hx, dt), y(hy0, dt);
        ASSERT_EQ(maxpool_nhwc(x.at(c.xoff), c.ldx, y.at(c.yoff), c.ldy, c.N, c.H, c.W, c.C, OH, OW, c.k, c.k, c.s, c.s,
                               c.pad, c.pad, dt, nullptr),
                  cudaSuccess);
        std::vector<float> ref = hy0;
        for (int64_t n = 0; n < c.N; ++n)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow)
                    for (int64_t ch = 0; ch < c.C; ++ch) {
                        float m = -std::numeric_limits<float>::infinity();
                        for (int ky = 0; ky < c.k; ++ky)
                            for (int kx = 0; kx < c.k; ++kx) {
                                const int64_t ih = oh * c.s - c.pad + ky, iw = ow * c.s - c.pad + kx;
                                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                                m = std::max(m, hx[((n * c.H + ih) * c.W + iw) * c.ldx + c.xoff + ch]);
                            }
                        ref[((n * OH + oh) * OW + ow) * c.ldy + c.yoff + ch] = m;
                    }
        expect_close(y.get(), ref, dt, "maxpool k=" + std::to_string(c.k) + " C=" + std::to_string(c.C));
    }
}

// The MaxPool chain kernel writes, bit for bit, what maxpool_nhwc() writes called once per pool on the one before:
// SPPF's three 5x5 pools into one Concat-like buffer, other windows and lengths, a 1x1 image, channel slices; the
// channels around the written ones stay as they were. Shapes it cannot take are refused.
TEST_P(CudaKernels, MaxPoolChain) {
    const DT dt = GetParam();
    const int64_t v = 16 / static_cast<int64_t>(dt_size(dt));
    struct Case {
        int64_t N, H, W, C, ld;  // every view is a C-channel slice of an ld-wide buffer: x at 0, pool s at (s+1)*C
        int k, count;
    };
    const Case cases[] = {
        {2, 20, 20, 128, 512, 5, 3},  // SPPF (YOLO11n at 640), placed in its Concat
        {1, 13, 7, 16, 64, 3, 2},     // odd sizes
        {3, 1, 1, 8, 40, 5, 4},       // one pixel: the window is the pixel
        {1, 9, 11, 24, 96, 7, 3},     // windows wider than half the image
    };
    uint32_t seed = 1300;
    for (const Case& c : cases) {
        const std::string what =
            "maxpool chain " + std::to_string(c.count) + "x k=" + std::to_string(c.k) + " C=" + std::to_string(c.C);
        const std::vector<float> h0 = quant(rnd(c.N * c.H * c.W * c.ld, seed++), dt);
        DevBuf fused(h0, dt), chained(h0, dt);
        PoolChainOut out;
        for (int s = 0; s < c.count; ++s) {
            out.y[s] = fused.at((s + 1) * c.C);
            out.ld[s] = c.ld;
        }
        ASSERT_TRUE(maxpool_chain_supported(c.N, c.H, c.W, c.C, c.ld, out, c.k, c.count, dt)) << what;
        ASSERT_EQ(maxpool_chain_nhwc(fused.at(), c.ld, out, c.N, c.H, c.W, c.C, c.k, c.count, dt, nullptr), cudaSuccess)
            << what;
        for (int s = 0; s < c.count; ++s)
            ASSERT_EQ(maxpool_nhwc(chained.at(s * c.C), c.ld, chained.at((s + 1) * c.C), c.ld, c.N, c.H, c.W, c.C, c.H,
                                   c.W, c.k, c.k, 1, 1, c.k / 2, c.k / 2, dt, nullptr),
                      cudaSuccess)
                << what;
        const std::vector<float> a = fused.get(), b = chained.get();
        EXPECT_EQ(a, b) << what;
        EXPECT_NE(a, h0) << what << ": nothing written";
    }
    PoolChainOut dense;
    for (int s = 0; s < kMaxPoolChain; ++s) dense.ld[s] = 64;
    EXPECT_FALSE(maxpool_chain_supported(1, 20, 20, 64, 64, dense, 4, 3, dt));                  // even window
    EXPECT_FALSE(maxpool_chain_supported(1, 20, 20, 64, 64, dense, 5, kMaxPoolChain + 1, dt));  // too long
    EXPECT_FALSE(maxpool_chain_supported(1, 20, 20, v + 1, 64, dense, 5, 3, dt));               // C not in vectors
    EXPECT_FALSE(maxpool_chain_supported(1, 20, 20, 64, 64 + v / 2 + 1, dense, 5, 3, dt));      // pitch off a vector
    EXPECT_FALSE(maxpool_chain_supported(1, 60, 60, 64, 64, dense, 5, 3, dt));                  // image over 48 KB
    EXPECT_EQ(maxpool_chain_nhwc(nullptr, 64, dense, 1, 60, 60, 64, 5, 3, dt, nullptr), cudaErrorInvalidValue);
}

TEST_P(CudaKernels, ResizeNearest2x) {
    const DT dt = GetParam();
    struct Case {
        int64_t N, H, W, C, ldx, xoff, ldy, yoff;
    };
    uint32_t seed = 400;
    for (const Case& c : {Case{2, 5, 7, 13, 16, 3, 13, 0}, Case{2, 4, 6, 32, 32, 0, 64, 32},
                          Case{1, 3, 3, 6, 6, 0, 8, 2}, Case{1, 4, 5, 4, 8, 4, 4, 0}}) {
        const int64_t OH = 2 * c.H, OW = 2 * c.W;
        std::vector<int> sh(OH), sw(OW);
        for (int64_t i = 0; i < OH; ++i) sh[i] = static_cast<int>(i / 2);
        for (int64_t i = 0; i < OW; ++i) sw[i] = static_cast<int>(i / 2);
        DevArray<int> dsh(sh), dsw(sw);
        const std::vector<float> hx = quant(rnd(c.N * c.H * c.W * c.ldx, seed++), dt);
        const std::vector<float> hy0 = quant(rnd(c.N * OH * OW * c.ldy, seed++), dt);
        DevBuf x(hx, dt), y(hy0, dt);
        ASSERT_EQ(resize_nearest_nhwc(x.at(c.xoff), c.ldx, y.at(c.yoff), c.ldy, c.N, c.H, c.W, c.C, OH, OW, dsh.p,
                                      dsw.p, dt, nullptr),
                  cudaSuccess);
        std::vector<float> ref = hy0;
        for (int64_t n = 0; n < c.N; ++n)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow)
                    for (int64_t ch = 0; ch < c.C; ++ch)
                        ref[((n * OH + oh) * OW + ow) * c.ldy + c.yoff + ch] =
                            hx[((n * c.H + sh[oh]) * c.W + sw[ow]) * c.ldx + c.xoff + ch];
        expect_close(y.get(), ref, dt, "resize C=" + std::to_string(c.C));
    }
}

// ---------------------------------------------------------------------------------------------------------------
TEST_P(CudaKernels, Transpose) {
    const DT dt = GetParam();
    struct Case {
        Dims in, perm;
    };
    const Case cases[] = {
        {dims({2, 5, 6, 7}), dims({0, 2, 3, 1})},              // NCHW -> NHWC, few channels
        {dims({2, 16, 9, 10}), dims({0, 2, 3, 1})},            // NCHW -> NHWC, tiled
        {dims({2, 3, 33, 40}), dims({0, 1, 3, 2})},            // batched last-two swap
        {dims({2, 3, 4, 5}), dims({3, 1, 0, 2})},              // general
        {dims({70, 45}), dims({1, 0})},                        // 2-D
        {dims({2, 3, 4, 5, 6, 2}), dims({5, 0, 4, 2, 1, 3})},  // rank 6
        {dims({4, 1, 6}), dims({1, 0, 2})},                    // a pure copy after dropping the unit dimension
    };
    uint32_t seed = 500;
    for (const Case& c : cases) {
        const int64_t n = numel(c.in);
        const std::vector<float> hx = quant(rnd(n, seed++), dt);
        DevBuf x(hx, dt), y(std::vector<float>(n, 0.f), dt);
        ASSERT_EQ(transpose(x.at(), y.at(), c.in, c.perm, dt, nullptr), cudaSuccess);
        int64_t in_stride[kMaxRank];
        int64_t st = 1;
        for (int k = c.in.rank - 1; k >= 0; --k) {
            in_stride[k] = st;
            st *= c.in.d[k];
        }
        Dims out;
        out.rank = c.in.rank;
        for (int k = 0; k < c.in.rank; ++k) out.d[k] = c.in.d[c.perm.d[k]];
        std::vector<float> ref(n);
        for_each_index(out, [&](int64_t i, const int64_t* o) {
            int64_t src = 0;
            for (int k = 0; k < out.rank; ++k) src += o[k] * in_stride[c.perm.d[k]];
            ref[i] = hx[src];
        });
        expect_close(y.get(), ref, dt, "transpose rank " + std::to_string(c.in.rank));
    }
}

TEST_P(CudaKernels, GatherStrided) {
    const DT dt = GetParam();
    struct Case {
        int64_t xn, base;
        Dims steps, out;
    };
    const Case cases[] = {
        // x [4, 6, 10]: x[:, 5:2:-1, 9:0:-2] (negative steps)
        {240, 5 * 10 + 9, dims({60, -10, -2}), dims({4, 3, 5})},
        // x [4, 6, 16]: x[:, 1:4, 4:12] (dense innermost, vector path)
        {384, 16 + 4, dims({96, 16, 1}), dims({4, 3, 8})},
        // x [4, 6, 16]: x[:, 1:4, 3:10] (dense innermost, odd)
        {384, 16 + 3, dims({96, 16, 1}), dims({4, 3, 7})},
        // dense copy with an offset
        {300, 7, dims({10, 1}), dims({29, 10})},
        // broadcast (step 0)
        {12, 0, dims({0, 1}), dims({5, 12})},
        // reversed rows
        {100, 99, dims({-1}), dims({100})},
    };
    uint32_t seed = 600;
    for (const Case& c : cases) {
        const int64_t n = numel(c.out);
        const std::vector<float> hx = quant(rnd(c.xn, seed++), dt);
        DevBuf x(hx, dt), y(std::vector<float>(n, 0.f), dt);
        ASSERT_EQ(gather_strided(x.at(), c.base, c.steps, y.at(), c.out, dt, nullptr), cudaSuccess);
        std::vector<float> ref(n);
        for_each_index(c.out, [&](int64_t i, const int64_t* o) {
            int64_t src = c.base;
            for (int k = 0; k < c.out.rank; ++k) src += o[k] * c.steps.d[k];
            ref[i] = hx[src];
        });
        expect_close(y.get(), ref, dt, "gather_strided n=" + std::to_string(n));
    }
}

// ---------------------------------------------------------------------------------------------------------------
TEST_P(CudaKernels, Softmax) {
    const DT dt = GetParam();
    struct Case {
        int64_t outer, len, inner;
        bool inplace;
    };
    uint32_t seed = 700;
    for (const Case& c : {Case{7, 37, 1, false}, Case{5, 5, 1, false}, Case{3, 3000, 1, false}, Case{9, 400, 1, true},
                          Case{3, 17, 11, false}, Case{2, 16, 2, true}, Case{1, 1, 1, false}}) {
        const int64_t n = c.outer * c.len * c.inner;
        const std::vector<float> hx = quant(rnd(n, seed++, -6.f, 6.f), dt);
        DevBuf x(hx, dt), y(std::vector<float>(n, 0.f), dt);
        DevBuf& out = c.inplace ? x : y;
        ASSERT_EQ(softmax(x.at(), out.at(), c.outer, c.len, c.inner, dt, nullptr), cudaSuccess);
        std::vector<float> ref(n);
        for (int64_t o = 0; o < c.outer; ++o)
            for (int64_t i = 0; i < c.inner; ++i) {
                auto at = [&](int64_t j) { return (o * c.len + j) * c.inner + i; };
                double m = -INFINITY, s = 0;
                for (int64_t j = 0; j < c.len; ++j) m = std::max(m, static_cast<double>(hx[at(j)]));
                for (int64_t j = 0; j < c.len; ++j) s += std::exp(hx[at(j)] - m);
                for (int64_t j = 0; j < c.len; ++j) ref[at(j)] = static_cast<float>(std::exp(hx[at(j)] - m) / s);
            }
        expect_close(out.get(), ref, dt, "softmax len=" + std::to_string(c.len) + " inner=" + std::to_string(c.inner));
    }
}

TEST_P(CudaKernels, DflDecode) {
    const DT dt = GetParam();
    uint32_t seed = 800;
    for (int64_t R : {16, 8}) {
        const int64_t N = 2, A = 37;
        const std::vector<float> hx = quant(rnd(N * 4 * R * A, seed++, -5.f, 5.f), dt);
        std::vector<float> hw(R);
        std::iota(hw.begin(), hw.end(), 0.f);
        DevBuf x(hx, dt), y(std::vector<float>(N * 4 * A, 0.f), dt);
        DevArray<float> w(hw);
        ASSERT_EQ(dfl_decode(x.at(), w.p, y.at(), N, R, A, dt, nullptr), cudaSuccess);
        std::vector<float> ref(N * 4 * A);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t j = 0; j < 4; ++j)
                for (int64_t a = 0; a < A; ++a) {
                    auto at = [&](int64_t k) { return ((n * 4 + j) * R + k) * A + a; };
                    double m = -INFINITY, s = 0, ws = 0;
                    for (int64_t k = 0; k < R; ++k) m = std::max(m, static_cast<double>(hx[at(k)]));
                    for (int64_t k = 0; k < R; ++k) {
                        const double e = std::exp(hx[at(k)] - m);
                        s += e;
                        ws += e * hw[k];
                    }
                    ref[(n * 4 + j) * A + a] = static_cast<float>(ws / s);
                }
        expect_close(y.get(), ref, dt, "dfl_decode R=" + std::to_string(R));
    }
}

// Zero-sized launches are no-ops (null pointers are never touched).
// The stem convolution from a plain NCHW float image into an NHWC view (kernels/stem.cu): the unrolled 3x3x3 path
// and the generic one, a partial channel chunk, odd widths (a thread's second pixel past the row end), 16-byte and
// scalar stores into a strided destination whose other channels stay as they were.
TEST_P(CudaKernels, StemConvNchw) {
    const DT dt = GetParam();
    struct Case {
        int64_t N, C, H, W, K, kh, kw, sh, sw, pad, ldy, yoff;
        Act act;
    };
    const Case cases[] = {
        {2, 3, 17, 23, 16, 3, 3, 2, 2, 1, 16, 0, Act::kSiLU},   // the YOLO stem's shape, dense: 16-byte stores
        {1, 3, 9, 10, 24, 3, 3, 1, 1, 1, 40, 8, Act::kReLU},    // a partial second chunk, strided destination
        {3, 1, 7, 7, 8, 5, 5, 1, 1, 2, 8, 0, Act::kNone},       // generic kernel size and channel count
        {1, 4, 12, 13, 16, 3, 3, 2, 2, 1, 20, 2, Act::kSigmoid}, // a pitch that rules out vector stores
    };
    uint32_t seed = 100;
    for (const Case& c : cases) {
        const int64_t OH = (c.H + 2 * c.pad - c.kh) / c.sh + 1, OW = (c.W + 2 * c.pad - c.kw) / c.sw + 1;
        const std::vector<float> hx = rnd(c.N * c.C * c.H * c.W, seed++, 0.f, 1.f);
        const std::vector<float> hw = rnd(c.K * c.C * c.kh * c.kw, seed++, -1.f, 1.f);
        const std::vector<float> hb = rnd(c.K, seed++, -1.f, 1.f);
        const std::vector<float> hy0 = quant(rnd(c.N * OH * OW * c.ldy, seed++), dt);
        DevArray<float> x(hx), w(hw), b(hb);
        DevBuf y(hy0, dt);
        ASSERT_EQ(stem_conv_nchw(x.p, c.N, c.C, c.H, c.W, w.p, b.p, y.at(c.yoff), c.ldy, c.K, OH, OW,
                                 static_cast<int>(c.kh), static_cast<int>(c.kw), static_cast<int>(c.sh),
                                 static_cast<int>(c.sw), static_cast<int>(c.pad), static_cast<int>(c.pad), c.act, 0.1f,
                                 dt, nullptr),
                  cudaSuccess);
        std::vector<float> ref = hy0;
        for (int64_t n = 0; n < c.N; ++n)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow)
                    for (int64_t k = 0; k < c.K; ++k) {
                        double acc = hb[k];
                        for (int64_t ci = 0; ci < c.C; ++ci)
                            for (int64_t r = 0; r < c.kh; ++r)
                                for (int64_t q = 0; q < c.kw; ++q) {
                                    const int64_t ih = oh * c.sh - c.pad + r, iw = ow * c.sw - c.pad + q;
                                    if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                                    acc += hx[((n * c.C + ci) * c.H + ih) * c.W + iw] *
                                           hw[((k * c.C + ci) * c.kh + r) * c.kw + q];
                                }
                        ref[((n * OH + oh) * OW + ow) * c.ldy + c.yoff + k] =
                            act_ref(static_cast<float>(acc), c.act, 0.1f);
                    }
        expect_close(y.get(), ref, dt, "stem C=" + std::to_string(c.C) + " K=" + std::to_string(c.K), 2e-5);
    }
}

// Depthwise convolution on NHWC views (kernels/depthwise.cu): the 8/4/2/1-wide vector paths, stride, dilation,
// residual and strided views.
TEST_P(CudaKernels, DepthwiseConvNhwc) {
    const DT dt = GetParam();
    struct Case {
        int64_t N, H, W, C, ldx, ldy, ldr, k, s, pad, dil;
        bool bias, residual;
        Act act;
    };
    const Case cases[] = {
        {2, 9, 11, 80, 80, 80, 80, 3, 1, 1, 1, true, true, Act::kSiLU},     // dense: the widest vectors
        {1, 10, 7, 20, 24, 28, 20, 3, 2, 1, 1, true, false, Act::kReLU},    // strided views, stride 2
        {1, 8, 8, 6, 6, 10, 6, 3, 1, 2, 2, false, true, Act::kNone},        // dilation 2, pairs only
        {2, 5, 6, 5, 7, 5, 5, 5, 1, 2, 1, true, false, Act::kSigmoid},      // odd channels: scalar, 5x5 taps
        // Work enough for 4 pixels per thread (kPxMinItems), with a partial group at each row's end (130 = 4 * 32 + 2).
        {2, 130, 130, 256, 256, 256, 256, 3, 1, 1, 1, true, true, Act::kSiLU},
    };
    uint32_t seed = 200;
    for (const Case& c : cases) {
        const int64_t ext = c.dil * (c.k - 1) + 1;
        const int64_t OH = (c.H + 2 * c.pad - ext) / c.s + 1, OW = (c.W + 2 * c.pad - ext) / c.s + 1;
        const std::vector<float> hx = quant(rnd(c.N * c.H * c.W * c.ldx, seed++), dt);
        const std::vector<float> hw = rnd(c.k * c.k * c.C, seed++, -1.f, 1.f);  // tap-major [kh, kw, C]
        const std::vector<float> hb = rnd(c.C, seed++, -1.f, 1.f);
        const std::vector<float> hr = quant(rnd(c.N * OH * OW * c.ldr, seed++), dt);
        const std::vector<float> hy0 = quant(rnd(c.N * OH * OW * c.ldy, seed++), dt);
        DevBuf x(hx, dt), r(hr, dt), y(hy0, dt);
        DevArray<float> w(hw), b(hb);
        const int k = static_cast<int>(c.k), s = static_cast<int>(c.s), pad = static_cast<int>(c.pad),
                  dil = static_cast<int>(c.dil);
        ASSERT_EQ(depthwise_conv_nhwc(x.at(), c.ldx, w.p, c.bias ? b.p : nullptr, c.residual ? r.at() : nullptr, c.ldr,
                                      y.at(), c.ldy, c.N, c.H, c.W, c.C, OH, OW, k, k, s, s, pad, pad, dil, dil, c.act,
                                      0.1f, dt, nullptr),
                  cudaSuccess);
        std::vector<float> ref = hy0;
        for (int64_t n = 0; n < c.N; ++n)
            for (int64_t oh = 0; oh < OH; ++oh)
                for (int64_t ow = 0; ow < OW; ++ow) {
                    const int64_t pix = (n * OH + oh) * OW + ow;
                    for (int64_t ch = 0; ch < c.C; ++ch) {
                        double acc = c.bias ? hb[ch] : 0.f;
                        for (int64_t i = 0; i < c.k; ++i)
                            for (int64_t j = 0; j < c.k; ++j) {
                                const int64_t ih = oh * c.s - c.pad + i * c.dil, iw = ow * c.s - c.pad + j * c.dil;
                                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                                acc += hx[((n * c.H + ih) * c.W + iw) * c.ldx + ch] * hw[(i * c.k + j) * c.C + ch];
                            }
                        float v = act_ref(static_cast<float>(acc), c.act, 0.1f);
                        if (c.residual) v += hr[pix * c.ldr + ch];
                        ref[pix * c.ldy + ch] = v;
                    }
                }
        expect_close(y.get(), ref, dt, "depthwise C=" + std::to_string(c.C) + " k=" + std::to_string(c.k), 5e-5);
    }
}

// The direct reference convolution that checks fused engines on strided inputs (kernels/verify.cu) against a CPU loop:
// strided input, residual and output views, padding, stride and dilation.
TEST_P(CudaKernels, ConvReferenceNhwc) {
    const DT dt = GetParam();
    const int64_t N = 2, H = 7, W = 9, C = 5, ldx = 12, K = 6, ldy = 10, ldr = 8, R = 3, S = 3;
    const int pad = 1, stride = 2, dil = 1;
    const int64_t OH = (H + 2 * pad - dil * (R - 1) - 1) / stride + 1, OW = (W + 2 * pad - dil * (S - 1) - 1) / stride + 1;
    const std::vector<float> hx = quant(rnd(N * H * W * ldx, 300), dt);
    const std::vector<float> hw = quant(rnd(K * R * S * C, 301, -1.f, 1.f), dt);
    const std::vector<float> hb = quant(rnd(K, 302, -1.f, 1.f), dt);
    const std::vector<float> hr = quant(rnd(N * OH * OW * ldr, 303), dt);
    const std::vector<float> hy0 = quant(rnd(N * OH * OW * ldy, 304), dt);
    DevBuf x(hx, dt), w(hw, dt), b(hb, dt), r(hr, dt), y(hy0, dt);
    ASSERT_EQ(conv_reference_nhwc(x.at(), ldx, w.at(), b.at(), r.at(), ldr, y.at(), ldy, N, H, W, C, K, R, S, OH, OW,
                                  pad, pad, stride, stride, dil, dil, Act::kSiLU, dt, nullptr),
              cudaSuccess);
    std::vector<float> ref = hy0;
    for (int64_t p = 0; p < N * OH * OW; ++p) {
        const int64_t ow = p % OW, oh = (p / OW) % OH, n = p / (OW * OH);
        for (int64_t k = 0; k < K; ++k) {
            const double acc = hb[k] + ConvShape{H, W, C, ldx, R, S, stride, pad, dil}.sum(hx, hw, n, oh, ow, k);
            ref[p * ldy + k] = act_ref(static_cast<float>(acc), Act::kSiLU, 0.f) + hr[p * ldr + k];
        }
    }
    expect_close(y.get(), ref, dt, "conv_reference_nhwc", 5e-5);
}

// The tensor-core implicit-GEMM convolution (igemm_conv.cu and igemm_tiled.cu, fp16 only), every variant that takes
// the case, against a CPU loop: strided input, output and residual views, stride 2, 8 channels (half a k-chunk), a
// channel count of 8 mod 16 and one past a 32-channel step, outputs wider than one 64- or 128-channel tile and not a
// multiple of it, 1x1 and 3x3, pixel counts that are not a multiple of any tile, and enough pixels that variant 0's
// persistent CTAs loop over several tiles.
TEST(CudaKernelsF16, IgemmConvNhwc) {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
    const DT dt = DT::kF16;
    struct Case {
        int64_t N, H, W, C, ldx, K, ldy, ldr, k, s;
        bool bias, residual;
        Act act;
    };
    const Case cases[] = {
        {2, 18, 21, 16, 48, 8, 8, 8, 3, 1, true, false, Act::kSiLU},        // 16 -> 8 on a strided input
        {1, 20, 19, 16, 16, 32, 32, 32, 3, 2, true, false, Act::kReLU},     // stride 2
        {2, 9, 13, 8, 8, 16, 32, 24, 3, 1, true, true, Act::kSiLU},         // 8 channels, strided output and residual
        {1, 7, 9, 48, 48, 64, 64, 64, 1, 1, false, false, Act::kSiLU},      // 1x1, no bias
        {1, 6, 7, 32, 40, 80, 96, 80, 3, 1, true, true, Act::kSigmoid},     // two slices: 64 + 16 channels
        {1, 5, 11, 24, 24, 40, 40, 40, 1, 1, true, false, Act::kNone},      // 24 = 16 + 8 channels; 5 of 8 tiles
        {4, 400, 400, 8, 8, 8, 8, 8, 1, 1, true, true, Act::kSiLU},         // 640,000 pixels: CTAs loop over tiles
        {1, 13, 11, 72, 80, 200, 208, 200, 3, 1, true, true, Act::kSiLU},   // 72 = 2 x 32 + 8; 200 = 128 + 72
        {2, 10, 10, 64, 64, 136, 136, 136, 3, 2, true, false, Act::kSiLU},  // stride 2, 136 = 128 + 8 channels
        {1, 33, 35, 32, 32, 48, 48, 48, 3, 2, true, true, Act::kSiLU},      // 32-channel blocks, stride 2, odd sizes
        {1, 9, 10, 16, 16, 24, 26, 26, 3, 1, true, true, Act::kSiLU},       // 26-channel rows: variant 6 unstaged
    };
    int runs[kIgemmVariants] = {};
    uint32_t seed = 400;
    for (const Case& c : cases) {
        const int64_t pad = c.k / 2;
        const int64_t OH = (c.H + 2 * pad - c.k) / c.s + 1, OW = (c.W + 2 * pad - c.k) / c.s + 1;
        const ConvShape shape{c.H, c.W, c.C, c.ldx, c.k, c.k, c.s, pad};
        const std::vector<float> hx = quant(rnd(c.N * c.H * c.W * c.ldx, seed++, -1.f, 1.f), dt);
        const std::vector<float> hw = quant(rnd(c.K * c.k * c.k * c.C, seed++, -0.5f, 0.5f), dt);  // [K, k, k, C]
        const std::vector<float> hb = rnd(c.K, seed++, -1.f, 1.f);
        const std::vector<float> hr = quant(rnd(c.N * OH * OW * c.ldr, seed++, -1.f, 1.f), dt);
        const std::vector<float> hy0 = quant(rnd(c.N * OH * OW * c.ldy, seed++), dt);
        DevBuf x(hx, dt), w(hw, dt), r(hr, dt);
        DevArray<float> b(hb);
        const std::string what = "igemm C=" + std::to_string(c.C) + " K=" + std::to_string(c.K) +
                                 " k=" + std::to_string(c.k) + " s=" + std::to_string(c.s);
        std::vector<float> ref = hy0;  // channels past K in a strided output stay as they were
        for (int64_t p = 0; p < c.N * OH * OW; ++p) {
            const int64_t ow = p % OW, oh = (p / OW) % OH, n = p / (OW * OH);
            for (int64_t k = 0; k < c.K; ++k) {
                const double acc = (c.bias ? hb[k] : 0.0) + shape.sum(hx, hw, n, oh, ow, k);
                float v = act_ref(static_cast<float>(acc), c.act, 0.f);
                if (c.residual) v += hr[p * c.ldr + k];
                ref[p * c.ldy + k] = v;
            }
        }
        for (int v = 0; v < kIgemmVariants; ++v) {
            const std::string wv = what + " variant " + std::to_string(v);
            if (!igemm_conv_supported(c.N, c.H, c.W, c.C, c.ldx, c.K, OH, OW, c.ldy, c.residual ? c.ldr : 0,
                                      static_cast<int>(c.k), static_cast<int>(c.k), 1, 1, v))
                continue;
            ++runs[v];
            DevBuf y(hy0, dt);  // each variant writes a fresh copy (the residual is read from r, not y)
            ASSERT_EQ(igemm_conv_nhwc(x.at(), c.ldx, w.at(), c.bias ? b.p : nullptr, c.residual ? r.at() : nullptr,
                                      c.ldr, y.at(), c.ldy, c.N, c.H, c.W, c.C, c.K, OH, OW, static_cast<int>(c.k),
                                      static_cast<int>(c.k), static_cast<int>(c.s), static_cast<int>(c.s),
                                      static_cast<int>(pad), static_cast<int>(pad), c.act, 0.f, v, nullptr),
                      cudaSuccess)
                << wv;
            expect_close(y.get(), ref, dt, wv);
        }
    }
    // Every variant ran on several of the cases; the 128x128 and the wgmma 128x64 tiles only where K > 64. The
    // wgmma variants run on a compute-capability 9.0 GPU only.
    const bool hopper = igemm_conv_supported(1, 8, 8, 16, 16, 16, 8, 8, 16, 0, 3, 3, 1, 1, 4);
    for (int v = 0; v < kIgemmVariants; ++v) {
        if (v >= 4 && !hopper) continue;
        EXPECT_GE(runs[v], v == 2 || v == 5 ? 2 : 6) << "variant " << v;
    }
    // Shapes it does not take are refused, not computed wrongly.
    for (int v = 0; v < kIgemmVariants; ++v) {
        EXPECT_FALSE(igemm_conv_supported(1, 8, 8, 12, 12, 16, 8, 8, 16, 0, 3, 3, 1, 1, v));  // C not a multiple of 8
        EXPECT_FALSE(igemm_conv_supported(1, 8, 8, 16, 16, 16, 8, 8, 16, 0, 5, 5, 1, 1, v));  // 5x5
        EXPECT_FALSE(igemm_conv_supported(1, 8, 8, 16, 16, 16, 8, 8, 16, 0, 3, 3, 2, 2, v));  // dilation
        EXPECT_EQ(igemm_conv_nhwc(nullptr, 12, nullptr, nullptr, nullptr, 0, nullptr, 16, 1, 8, 8, 12, 16, 8, 8, 3, 3,
                                  1, 1, 1, 1, Act::kNone, 0.f, v, nullptr),
                  cudaErrorInvalidValue);
    }
    EXPECT_FALSE(igemm_conv_supported(1, 8, 8, 256, 256, 64, 8, 8, 64, 0, 3, 3, 1, 1, 0));  // weights past 96 KB
    EXPECT_TRUE(igemm_conv_supported(1, 8, 8, 256, 256, 64, 8, 8, 64, 0, 3, 3, 1, 1, 1));   // streamed: any width
    EXPECT_FALSE(igemm_conv_supported(1, 8, 8, 16, 20, 16, 8, 8, 16, 0, 3, 3, 1, 1, 1));    // ldx not 16-byte rows
    EXPECT_FALSE(igemm_conv_supported(1, 8, 8, 16, 16, 64, 8, 8, 64, 0, 3, 3, 1, 1, 2));    // 128x128 for K <= 64
    EXPECT_FALSE(igemm_conv_supported(1, 8, 8, 16, 16, 64, 8, 8, 64, 0, 3, 3, 1, 1, 5));    // wgmma 128x64, K <= 64
    EXPECT_FALSE(igemm_conv_supported(1, 8, 8, 16, 16, 16, 8, 8, 16, 0, 3, 3, 1, 1, kIgemmVariants));
    // A tiled variant refuses an input that is 4- but not 16-byte aligned.
    DevBuf xs(std::vector<float>(8 * 8 * 24, 0.f), DT::kF16), ws(std::vector<float>(16 * 9 * 16, 0.f), DT::kF16),
        ys(std::vector<float>(8 * 8 * 16, 0.f), DT::kF16);
    EXPECT_EQ(igemm_conv_nhwc(xs.at(2), 24, ws.at(), nullptr, nullptr, 0, ys.at(), 16, 1, 8, 8, 16, 16, 8, 8, 3, 3, 1,
                              1, 1, 1, Act::kNone, 0.f, 1, nullptr),
              cudaErrorInvalidValue);
}

// The fused PSA attention (attention.cu) against a double-precision loop, on each of its kernels (split keys at
// small batches, two- and four-warp CTAs): several key blocks with a partial last one, padded row pitches, more
// images and heads, peaked softmaxes, the value copy; the channels past the heads' in the padded outputs stay as
// they were.
TEST(CudaKernelsF16, AttentionNhwc) {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
    const DT dt = DT::kF16;
    constexpr int dk = 32, dv = 64;
    struct Case {
        int64_t N, hw;
        int heads;
        int64_t ldq, ldo, ldv;
        float scale;
        bool vout;
    };
    const Case cases[] = {
        {1, 400, 2, 256, 128, 128, 0.1767767f, true},  // YOLO11n at 640: 20x20 tokens, 2 heads (split keys)
        {3, 100, 1, 136, 72, 64, 0.5f, true},          // padded pitches, 100 = 64 + 36 tokens; two warps idle
        {2, 260, 2, 256, 136, 128, 0.3f, true},        // split keys: warp 0 takes blocks 0 and 4 (4 tokens)
        {2, 37, 3, 384, 192, 200, 1.0f, false},        // one partial block, no value copy: two-warp CTAs
        {4, 300, 2, 256, 128, 128, 0.25f, true},       // 40 CTAs of 32 queries: the two-warp kernel
        {10, 400, 2, 256, 128, 128, 0.4f, true},       // 140 CTAs of 64 queries: the four-warp kernel
        {1, 1, 1, 128, 64, 64, 0.3f, true},            // one token
    };
    uint32_t seed = 900;
    for (const Case& c : cases) {
        const int ch = 2 * dk + dv;
        const std::vector<float> hq = quant(rnd(c.N * c.hw * c.ldq, seed++, -2.f, 2.f), dt);
        const std::vector<float> ho0 = quant(rnd(c.N * c.hw * c.ldo, seed++), dt);
        const std::vector<float> hv0 = quant(rnd(c.N * c.hw * c.ldv, seed++), dt);
        DevBuf q(hq, dt), o(ho0, dt), v(hv0, dt);
        const std::string what =
            "attention N=" + std::to_string(c.N) + " hw=" + std::to_string(c.hw) + " heads=" + std::to_string(c.heads);
        ASSERT_TRUE(attention_supported(c.N, c.hw, c.heads, dk, dv, c.ldq, c.ldo, c.ldv)) << what;
        ASSERT_EQ(attention_nhwc(q.at(), c.ldq, o.at(), c.ldo, c.vout ? v.at() : nullptr, c.ldv, c.N, c.hw, c.heads, dk,
                                 dv, c.scale, nullptr),
                  cudaSuccess)
            << what;
        std::vector<float> ref = ho0, vref = hv0;
        std::vector<double> p(static_cast<size_t>(c.hw));
        for (int64_t n = 0; n < c.N; ++n)
            for (int h = 0; h < c.heads; ++h) {
                auto at = [&](int64_t tok, int col) { return hq[(n * c.hw + tok) * c.ldq + h * ch + col]; };
                for (int64_t i = 0; i < c.hw; ++i) {
                    double m = -INFINITY, sum = 0;
                    for (int64_t j = 0; j < c.hw; ++j) {
                        double d = 0;
                        for (int e = 0; e < dk; ++e) d += static_cast<double>(at(i, e)) * at(j, dk + e);
                        p[j] = d * c.scale;
                        m = std::max(m, p[j]);
                    }
                    for (int64_t j = 0; j < c.hw; ++j) sum += p[j] = std::exp(p[j] - m);
                    for (int e = 0; e < dv; ++e) {
                        double acc = 0;
                        for (int64_t j = 0; j < c.hw; ++j) acc += p[j] * at(j, 2 * dk + e);
                        ref[(n * c.hw + i) * c.ldo + h * dv + e] = static_cast<float>(acc / sum);
                        if (c.vout) vref[(n * c.hw + i) * c.ldv + h * dv + e] = at(i, 2 * dk + e);
                    }
                }
            }
        const std::vector<float> got = o.get();
        int bad = 0;
        double worst = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            const double d = std::fabs(got[i] - ref[i]);
            worst = std::max(worst, d);
            if (!(d <= 3e-3 + 3e-3 * std::fabs(ref[i])) && ++bad <= 5)
                ADD_FAILURE() << what << " at " << i << ": got " << got[i] << ", want " << ref[i];
        }
        EXPECT_EQ(bad, 0) << what << ": worst |delta| " << worst;
        EXPECT_EQ(v.get(), vref) << what << ": the value copy";
    }
    // Head sizes other than 32/64, unaligned pitches and pitches narrower than the heads are refused.
    EXPECT_FALSE(attention_supported(1, 400, 2, 16, 64, 256, 128, 128));
    EXPECT_FALSE(attention_supported(1, 400, 2, 32, 32, 256, 128, 128));
    EXPECT_FALSE(attention_supported(1, 400, 2, 32, 64, 260, 128, 128));
    EXPECT_FALSE(attention_supported(1, 400, 2, 32, 64, 248, 128, 128));
    EXPECT_FALSE(attention_supported(1, 400, 2, 32, 64, 256, 126, 128));
    EXPECT_EQ(attention_nhwc(nullptr, 256, nullptr, 128, nullptr, 128, 1, 400, 2, 32, 32, 1.f, nullptr),
              cudaErrorInvalidValue);
}

TEST_P(CudaKernels, ZeroSizes) {
    const DT dt = GetParam();
    EXPECT_EQ(conv_epilogue(nullptr, 8, nullptr, 8, nullptr, nullptr, 8, 0, 8, Act::kSiLU, 0.f, dt, nullptr),
              cudaSuccess);
    EXPECT_EQ(nchw_to_nhwc(nullptr, dt, nullptr, 3, dt, 0, 3, 10, nullptr), cudaSuccess);
    EXPECT_EQ(nhwc_to_nchw(nullptr, 3, dt, nullptr, dt, 1, 3, 0, nullptr), cudaSuccess);
    EXPECT_EQ(cast(nullptr, dt, nullptr, DT::kF32, 0, nullptr), cudaSuccess);
    EXPECT_EQ(maxpool_nhwc(nullptr, 4, nullptr, 4, 0, 4, 4, 4, 4, 4, 5, 5, 1, 1, 2, 2, dt, nullptr), cudaSuccess);
    EXPECT_EQ(resize_nearest_nhwc(nullptr, 4, nullptr, 4, 1, 2, 2, 0, 4, 4, nullptr, nullptr, dt, nullptr),
              cudaSuccess);
    EXPECT_EQ(
        binary(BinOp::kAdd, nullptr, dims({0, 0}), 1.f, nullptr, dims({0, 0}), 2.f, nullptr, dims({0, 3}), dt, nullptr),
        cudaSuccess);
    EXPECT_EQ(activation(nullptr, nullptr, 0, Act::kReLU, 0.f, dt, nullptr), cudaSuccess);
    EXPECT_EQ(transpose(nullptr, nullptr, dims({2, 0, 3}), dims({2, 1, 0}), dt, nullptr), cudaSuccess);
    EXPECT_EQ(gather_strided(nullptr, 0, dims({1, 1}), nullptr, dims({3, 0}), dt, nullptr), cudaSuccess);
    EXPECT_EQ(softmax(nullptr, nullptr, 0, 5, 1, dt, nullptr), cudaSuccess);
    EXPECT_EQ(dfl_decode(nullptr, nullptr, nullptr, 0, 16, 100, dt, nullptr), cudaSuccess);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace itscam::cuda_kernels
