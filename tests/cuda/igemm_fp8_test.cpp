// The FP8 E4M3 implicit-GEMM convolution (igemm_conv_fp8_nhwc: variant 6's TMA-fed kernel with k32 E4M3 wgmma,
// issue 13 item 5) against a double-precision CPU loop on the values E4M3 holds: channel counts that fill one
// 32-, 64- or 128-byte block, that leave part of a block to the tensor map's zero fill, and that take two blocks;
// output channels narrower than a tile and wider than one; 1x1 and 3x3, stride 2, strided input, output and residual
// views, and enough pixels that the persistent CTAs loop over tiles; fp16 output, and E4M3 output with per-channel
// output scales. Skips without a compute-capability 9.0 GPU.
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
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

std::vector<float> rnd(size_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (float& f : v) f = u(g);
    return v;
}

// Values as E4M3 bytes, and the floats those bytes hold.
std::vector<uint8_t> to_e4m3(const std::vector<float>& v, std::vector<float>* held) {
    std::vector<uint8_t> b(v.size());
    held->resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        const __nv_fp8_e4m3 q(v[i]);
        b[i] = q.__x;
        (*held)[i] = static_cast<float>(q);
    }
    return b;
}

std::vector<__half> to_half(const std::vector<float>& v, std::vector<float>* held) {
    std::vector<__half> h(v.size());
    held->resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        h[i] = __float2half(v[i]);
        (*held)[i] = __half2float(h[i]);
    }
    return h;
}

bool hopper() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        (void)cudaGetLastError();
        return false;
    }
    return igemm_conv_fp8_supported(1, 8, 8, 16, 16, 16, 8, 8, 16, 0, 3, 3, 1, 1);
}

TEST(IgemmFp8, MatchesTheLoopOnE4m3Values) {
    if (!hopper()) GTEST_SKIP() << "no compute-capability 9.0 GPU (or no sm_90a build)";
    struct Case {
        int64_t N, H, W, C, ldx, K, ldy, ldr, k, s;
        bool bias, residual;
        Act act;
        bool out8 = false;  // y as E4M3 times a per-channel output scale
    };
    const Case cases[] = {
        {2, 18, 21, 16, 48, 8, 8, 8, 3, 1, true, false, Act::kSiLU},          // 16 of a 32-byte block, strided input
        {1, 20, 19, 32, 32, 32, 32, 32, 3, 2, true, false, Act::kReLU},       // one 32-byte block, stride 2
        {2, 9, 13, 48, 64, 16, 32, 24, 3, 1, true, true, Act::kSiLU},         // 48 of 64; strided output and residual
        {1, 7, 9, 64, 64, 64, 64, 64, 1, 1, false, false, Act::kSiLU},        // 1x1, no bias
        {1, 6, 7, 96, 112, 80, 96, 80, 3, 1, true, true, Act::kSigmoid},      // 96 of 128; 80 channels in a 128 tile
        {1, 13, 11, 144, 160, 200, 208, 200, 3, 1, true, true, Act::kSiLU},   // two 128-byte blocks; two slices
        {2, 10, 10, 256, 256, 136, 136, 136, 3, 2, true, false, Act::kSiLU},  // stride 2, 136 = 128 + 8 channels
        {4, 100, 100, 16, 16, 8, 8, 8, 1, 1, true, true, Act::kSiLU},         // 40,000 pixels: CTAs loop over tiles
        {2, 9, 13, 48, 64, 16, 32, 24, 3, 1, true, true, Act::kSiLU, true},   // E4M3 out: strided, residual
        {1, 13, 11, 144, 160, 200, 208, 200, 3, 1, true, false, Act::kSiLU, true},  // E4M3 out: two blocks, slices
        {4, 100, 100, 32, 32, 16, 16, 16, 1, 1, true, true, Act::kNone, true},      // E4M3 out: many tiles
        // Rows of 26 channels: not 16-byte aligned, so the epilogue stores its fragments' pairs where they lie
        {1, 9, 10, 32, 32, 24, 26, 26, 3, 1, true, true, Act::kSiLU},
    };
    uint32_t seed = 900;
    for (const Case& c : cases) {
        const int64_t pad = c.k / 2;
        const int64_t OH = (c.H + 2 * pad - c.k) / c.s + 1, OW = (c.W + 2 * pad - c.k) / c.s + 1;
        const ConvShape shape{c.H, c.W, c.C, c.ldx, c.k, c.k, c.s, pad};
        const int64_t ny = c.N * OH * OW * c.ldy, nr = c.N * OH * OW * c.ldr;
        std::vector<float> hx, hw, hr, hy16, hy8;
        const std::vector<uint8_t> x8 = to_e4m3(rnd(c.N * c.H * c.W * c.ldx, seed++, -2.f, 2.f), &hx);
        const std::vector<uint8_t> w8 = to_e4m3(rnd(c.K * c.k * c.k * c.C, seed++, -0.5f, 0.5f), &hw);
        const std::vector<float> scale = rnd(c.K, seed++, 0.02f, 0.2f), hb = rnd(c.K, seed++, -1.f, 1.f);
        const std::vector<float> out_scale = rnd(c.K, seed++, 1.f, 8.f);
        const std::vector<__half> r16 = to_half(rnd(nr, seed++, -1.f, 1.f), &hr);
        // The output's first contents, as fp16 or E4M3: channels past K in a strided view must keep them.
        const std::vector<float> y0 = rnd(ny, seed++, -4.f, 4.f);
        const std::vector<__half> y16 = to_half(y0, &hy16);
        const std::vector<uint8_t> y8 = to_e4m3(y0, &hy8);
        DevArray<uint8_t> x(x8), w(w8), yb(y8);
        DevArray<float> sc(scale), osc(out_scale), b(hb);
        DevArray<__half> r(r16), y(y16);
        const std::string what = std::string(c.out8 ? "fp8-out" : "fp8") + " igemm C=" + std::to_string(c.C) +
                                 " K=" + std::to_string(c.K) + " k=" + std::to_string(c.k) +
                                 " s=" + std::to_string(c.s);
        ASSERT_TRUE(igemm_conv_fp8_supported(c.N, c.H, c.W, c.C, c.ldx, c.K, OH, OW, c.ldy, c.residual ? c.ldr : 0,
                                             static_cast<int>(c.k), static_cast<int>(c.k), 1, 1))
            << what;
        void* const out = c.out8 ? static_cast<void*>(yb.p) : static_cast<void*>(y.p);
        ASSERT_EQ(igemm_conv_fp8_nhwc(x.p, c.ldx, w.p, sc.p, c.out8 ? osc.p : nullptr, c.bias ? b.p : nullptr,
                                      c.residual ? r.p : nullptr, c.ldr, out, c.ldy, c.N, c.H, c.W, c.C, c.K, OH, OW,
                                      static_cast<int>(c.k), static_cast<int>(c.k), static_cast<int>(c.s),
                                      static_cast<int>(c.s), static_cast<int>(pad), static_cast<int>(pad), c.act, 0.f,
                                      nullptr),
                  cudaSuccess)
            << what;
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << what;
        std::vector<float> got(static_cast<size_t>(ny));
        if (c.out8) {
            const std::vector<uint8_t> g8 = yb.get(got.size());
            for (size_t i = 0; i < got.size(); ++i) {
                __nv_fp8_e4m3 q;
                q.__x = g8[i];
                got[i] = static_cast<float>(q);
            }
        } else {
            const std::vector<__half> g16 = y.get(got.size());
            for (size_t i = 0; i < got.size(); ++i) got[i] = __half2float(g16[i]);
        }
        const std::vector<float>& before = c.out8 ? hy8 : hy16;
        int bad = 0;
        for (int64_t p = 0; p < c.N * OH * OW; ++p) {
            const int64_t ow = p % OW, oh = (p / OW) % OH, n = p / (OW * OH);
            for (int64_t ch = 0; ch < c.ldy; ++ch) {
                const double g = got[p * c.ldy + ch];
                if (ch >= c.K) {  // channels past K in a strided output stay as they were
                    if (g != before[p * c.ldy + ch] && ++bad <= 5) ADD_FAILURE() << what << ": wrote channel " << ch;
                    continue;
                }
                double mag = 0;
                const double acc = shape.sum(hx, hw, n, oh, ow, ch, &mag);
                double want = act_ref(acc * scale[ch] + (c.bias ? hb[ch] : 0.f), c.act);
                if (c.residual) want += hr[p * c.ldr + ch];
                // The tensor cores' FP8 accumulation keeps fewer bits than fp32 (about 2^-13 of the running sum's
                // magnitude); then fp16 rounding of the output, or E4M3's after the output scale: up to one step
                // (2^-3 relative) where the sum's error crosses a rounding boundary, 2^-9 below the normal range.
                double tol = 2e-3 * std::fabs(want) + 1e-4 + 2e-4 * mag * scale[ch];
                if (c.out8) {
                    want = std::clamp(want * out_scale[ch], -448.0, 448.0);
                    tol = 0.125 * std::fabs(want) + 2e-3 + 2e-4 * mag * scale[ch] * out_scale[ch];
                }
                if (!(std::fabs(g - want) <= tol) && ++bad <= 5)
                    ADD_FAILURE() << what << " at pixel " << p << " channel " << ch << ": got " << g << ", want "
                                  << want;
            }
        }
        EXPECT_EQ(bad, 0) << what;
    }
}

TEST(IgemmFp8, RefusesWhatItDoesNotTake) {
    // Shape rules hold on any machine: without a Hopper GPU nothing is supported.
    EXPECT_FALSE(igemm_conv_fp8_supported(1, 8, 8, 8, 16, 16, 8, 8, 16, 0, 3, 3, 1, 1));   // C not a multiple of 16
    EXPECT_FALSE(igemm_conv_fp8_supported(1, 8, 8, 16, 24, 16, 8, 8, 16, 0, 3, 3, 1, 1));  // ldx not 16-byte rows
    EXPECT_FALSE(igemm_conv_fp8_supported(1, 8, 8, 16, 16, 16, 8, 8, 16, 0, 5, 5, 1, 1));  // 5x5
    EXPECT_FALSE(igemm_conv_fp8_supported(1, 8, 8, 16, 16, 12, 8, 8, 16, 0, 3, 3, 1, 1));  // K not a multiple of 8
    EXPECT_FALSE(igemm_conv_fp8_supported(1, 8, 8, 16, 16, 16, 8, 8, 16, 0, 3, 3, 2, 2));  // dilation
    EXPECT_EQ(igemm_conv_fp8_nhwc(nullptr, 24, nullptr, nullptr, nullptr, nullptr, nullptr, 0, nullptr, 16, 1, 8, 8, 16,
                                  16, 8, 8, 3, 3, 1, 1, 1, 1, Act::kNone, 0.f, nullptr),
              cudaErrorInvalidValue);
    if (!hopper()) GTEST_SKIP() << "the rest needs a compute-capability 9.0 GPU";
    // A null scale, and a 16-byte rule broken by the input's address.
    DevArray<uint8_t> x(std::vector<uint8_t>(8 * 8 * 32 + 16, 0)), w(std::vector<uint8_t>(16 * 9 * 16, 0));
    DevArray<float> sc(std::vector<float>(16, 1.f));
    DevArray<__half> y(std::vector<__half>(8 * 8 * 16));
    EXPECT_EQ(igemm_conv_fp8_nhwc(x.p, 16, w.p, nullptr, nullptr, nullptr, nullptr, 0, y.p, 16, 1, 8, 8, 16, 16, 8, 8,
                                  3, 3, 1, 1, 1, 1, Act::kNone, 0.f, nullptr),
              cudaErrorInvalidValue);
    EXPECT_EQ(igemm_conv_fp8_nhwc(x.p + 8, 16, w.p, sc.p, nullptr, nullptr, nullptr, 0, y.p, 16, 1, 8, 8, 16, 16, 8, 8,
                                  3, 3, 1, 1, 1, 1, Act::kNone, 0.f, nullptr),
              cudaErrorInvalidValue);
    // E4M3 output needs 8-byte rows: 20 bytes a pixel is refused, 24 taken; and 16-byte residual rows (18 halves are
    // refused; nothing runs, so the residual may be y itself here).
    EXPECT_EQ(igemm_conv_fp8_nhwc(x.p, 16, w.p, sc.p, sc.p, nullptr, nullptr, 0, y.p, 20, 1, 8, 8, 16, 16, 8, 8, 3, 3,
                                  1, 1, 1, 1, Act::kNone, 0.f, nullptr),
              cudaErrorInvalidValue);
    EXPECT_EQ(igemm_conv_fp8_nhwc(x.p, 16, w.p, sc.p, sc.p, nullptr, y.p, 18, y.p, 24, 1, 8, 8, 16, 16, 8, 8, 3, 3, 1,
                                  1, 1, 1, Act::kNone, 0.f, nullptr),
              cudaErrorInvalidValue);
    EXPECT_EQ(igemm_conv_fp8_nhwc(x.p, 16, w.p, sc.p, sc.p, nullptr, nullptr, 0, y.p, 24, 1, 8, 8, 16, 16, 8, 8, 3, 3,
                                  1, 1, 1, 1, Act::kNone, 0.f, nullptr),
              cudaSuccess);
    EXPECT_EQ(igemm_conv_fp8_nhwc(x.p, 16, w.p, sc.p, nullptr, nullptr, nullptr, 0, y.p, 16, 1, 8, 8, 16, 16, 8, 8, 3,
                                  3, 1, 1, 1, 1, Act::kNone, 0.f, nullptr),
              cudaSuccess);
}

}  // namespace
}  // namespace itscam::cuda_kernels
