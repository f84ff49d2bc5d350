// Backend::supports_precision: the cpu backend answers what its compile would do (fp32 everywhere, bf16 and int8
// on AVX-512 cores only, fp16 and fp8 never), so Engine::build can refuse a precision before any work for it. The
// ref backend runs fp32 and emulates fp8 (backend/ref/fp8_emulation.h), checked here on a two-convolution graph.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/backend.h"
#include "backend/ref/fp8_emulation.h"
#include "core/dtype.h"
#include "graph_builder_test_util.h"

namespace itscam {
namespace {

using test::GraphBuilder;

Graph one_conv_graph() {
    GraphBuilder b(5);
    const std::string x = b.input("x", {1, 3, 16, 16});
    b.output(b.conv("c1", x, 3, 8, 3));
    return b.build();
}

TEST(BackendPrecision, CpuRunsFp32AndRefusesFp16WithTheReason) {
    auto backend = backend_create("cpu");
    if (!backend.is_ok()) GTEST_SKIP() << backend.status().to_string();
    EXPECT_TRUE((*backend)->supports_precision(Precision::kF32).is_ok());
    const Status fp16 = (*backend)->supports_precision(Precision::kF16);
    EXPECT_EQ(fp16.code(), StatusCode::kUnsupported);
    EXPECT_NE(fp16.message().find("runs fp32, bf16 or int8, not fp16"), std::string::npos) << fp16.to_string();
}

// Whatever this machine's CPU: the answer for bf16 is the compile's own (OK on AVX-512, kUnsupported with the same
// message elsewhere, as on an AVX2-only CI machine).
TEST(BackendPrecision, CpuAnswersLikeItsCompile) {
    auto backend = backend_create("cpu");
    if (!backend.is_ok()) GTEST_SKIP() << backend.status().to_string();
    for (Precision p : {Precision::kF32, Precision::kBF16, Precision::kF16}) {
        BackendOptions bo;
        bo.precision = p;
        bo.threads = 1;
        const Status asked = (*backend)->supports_precision(p);
        auto compiled = (*backend)->compile(one_conv_graph(), bo);
        EXPECT_EQ(asked.code(), compiled.status().code()) << precision_name(p) << ": " << asked.to_string() << " / "
                                                          << compiled.status().to_string();
        if (!asked.is_ok()) {
            EXPECT_EQ(asked.message(), compiled.status().message()) << precision_name(p);
        }
    }
}

TEST(BackendPrecision, RefRunsFp32AndFp8AndRefusesTheRest) {
    auto backend = backend_create("ref");
    ASSERT_TRUE(backend.is_ok()) << backend.status().to_string();
    for (Precision p : {Precision::kF32, Precision::kFp8, Precision::kBF16, Precision::kF16, Precision::kInt8}) {
        const bool runs = p == Precision::kF32 || p == Precision::kFp8;
        const Status asked = (*backend)->supports_precision(p);
        EXPECT_EQ(asked.is_ok(), runs) << precision_name(p) << ": " << asked.to_string();
        BackendOptions bo;
        bo.precision = p;
        auto compiled = (*backend)->compile(one_conv_graph(), bo);
        EXPECT_EQ(compiled.is_ok(), runs) << precision_name(p);
        if (!runs) {
            EXPECT_NE(asked.message().find("runs fp32, and fp8 as an emulation; not " + std::string(precision_name(p))),
                      std::string::npos)
                << asked.to_string();
        }
    }
    auto cpu = backend_create("cpu");
    if (cpu.is_ok()) {
        EXPECT_EQ((*cpu)->supports_precision(Precision::kFp8).code(), StatusCode::kUnsupported);
    }
}

TEST(Fp8Emulation, FiltersLandOnTheE4M3GridPerOutputChannel) {
    // Channel 0 spans +-2, channel 1 +-0.01: each gets its own scale, so the small channel keeps its resolution.
    Tensor w = Tensor::empty(DType::kF32, {2, 8, 1, 1});
    for (int i = 0; i < 8; ++i) w.data<float>()[i] = -2.f + 0.5f * i + 0.013f;
    for (int i = 0; i < 8; ++i) w.data<float>()[8 + i] = 0.01f * std::sin(float(i + 1));
    Tensor q = fp8_fake_quantize_filters(w);
    for (int o = 0; o < 2; ++o) {
        float amax = 0;
        for (int i = 0; i < 8; ++i) amax = std::max(amax, std::fabs(w.data<float>()[o * 8 + i]));
        const float scale = amax / 448.f;
        for (int i = 0; i < 8; ++i) {
            const float v = w.data<float>()[o * 8 + i], got = q.data<float>()[o * 8 + i];
            const float code = got / scale;  // on the grid, up to the float rounding of the multiply and divide
            EXPECT_NEAR(fp8_e4m3_to_float(float_to_fp8_e4m3(code)), code, 1e-5f * std::fabs(code)) << o << "," << i;
            EXPECT_LE(std::fabs(got - v), std::fabs(v) / 16 + scale * std::ldexp(1.f, -10)) << o << "," << i;
        }
    }
    // Past the calibrated range the input saturates at 448 x scale.
    const float x[3] = {0.5f, 3.f, -7.f};
    float y[3];
    fp8_fake_quantize(x, y, 3, 2.f / 448.f);
    EXPECT_FLOAT_EQ(y[0], 0.5f);
    EXPECT_FLOAT_EQ(y[1], 2.f);
    EXPECT_FLOAT_EQ(y[2], -2.f);
}

TEST(Fp8Emulation, RefQuantizesTheDenseConvolutionsFromTheirCalibratedRanges) {
    GraphBuilder b(9);
    const std::string x = b.input("x", {1, 3, 12, 12});
    const std::map<std::string, Attr> silu{{"activation", Attr::of_string("silu")}};
    const std::string c1 = b.conv("c1", x, 3, 8, 3, 1, -1, 1, true, silu);  // reads the image: stays fp32
    const std::string c2 = b.conv("c2", c1, 8, 16, 3, 1, -1, 1, true, silu);
    b.output(b.conv("c3", c2, 16, 8, 1));  // linear (no activation): stays fp32
    const Graph g = b.build();
    auto backend = backend_create("ref");
    ASSERT_TRUE(backend.is_ok());
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    Tensor in = Tensor::empty(DType::kF32, {1, 3, 12, 12});
    for (int64_t i = 0; i < in.numel(); ++i) in.data<float>()[i] = u(rng);

    BackendOptions calib;
    calib.collect_ranges = true;
    auto cal = (*backend)->compile(g, calib);
    ASSERT_TRUE(cal.is_ok()) << cal.status().to_string();
    std::vector<Tensor> fp32;
    ASSERT_TRUE((*cal)->run({in}, fp32).is_ok());
    const ActivationRanges ranges = (*cal)->collected_ranges();
    ASSERT_EQ(ranges.size(), 3u);  // the inputs of c1, c2 and c3
    EXPECT_EQ(ranges.at(x).min, *std::min_element(in.data<float>(), in.data<float>() + in.numel()));

    BackendOptions fp8;
    fp8.precision = Precision::kFp8;
    fp8.ranges = ranges;
    auto q = (*backend)->compile(g, fp8);
    ASSERT_TRUE(q.is_ok()) << q.status().to_string();
    EXPECT_NE((*q)->describe().find("fp8 emulation: 1 of 3 convolutions quantized"), std::string::npos);
    std::vector<Tensor> out;
    ASSERT_TRUE((*q)->run({in}, out).is_ok());
    ASSERT_EQ(out[0].numel(), fp32[0].numel());
    double diff = 0, norm = 0;
    for (int64_t i = 0; i < out[0].numel(); ++i) {
        const double d = out[0].data<float>()[i] - fp32[0].data<float>()[i];
        diff += d * d;
        norm += double(fp32[0].data<float>()[i]) * fp32[0].data<float>()[i];
    }
    // E4M3 keeps 3 mantissa bits: the output moves (it is really quantized) by a few percent, not more.
    const double rel = std::sqrt(diff / norm);
    EXPECT_GT(rel, 1e-4);
    EXPECT_LT(rel, 0.05);
}

}  // namespace
}  // namespace itscam
