// Backend::supports_precision: the cpu backend answers what its compile would do (fp32 everywhere, bf16 and int8
// on AVX-512 cores only, fp16 never), so Engine::build can refuse a precision before any work for it.
#include <gtest/gtest.h>

#include "backend/backend.h"
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

TEST(BackendPrecision, OtherBackendsLeaveItToTheirCompile) {
    auto backend = backend_create("ref");
    ASSERT_TRUE(backend.is_ok()) << backend.status().to_string();
    EXPECT_TRUE((*backend)->supports_precision(Precision::kF32).is_ok());
}

}  // namespace
}  // namespace itscam
