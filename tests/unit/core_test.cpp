#include <gtest/gtest.h>

#include <cmath>

#include "core/dtype.h"
#include "core/tensor.h"

namespace itscam {

TEST(Half, RoundTripsExactValues) {
    for (float f : {0.f, -0.f, 1.f, -2.5f, 65504.f, 6.103515625e-05f, 5.960464477539063e-08f, 0.333251953125f})
        EXPECT_EQ(half_to_float(float_to_half(f)), f) << f;
}

TEST(Half, RoundsToNearestEven) {
    // 1 + 2^-11 is exactly between two halves (1 and 1 + 2^-10): ties go to the even mantissa (1).
    EXPECT_EQ(half_to_float(float_to_half(1.f + std::ldexp(1.f, -11))), 1.f);
    EXPECT_EQ(half_to_float(float_to_half(1.f + 3 * std::ldexp(1.f, -11))), 1.f + std::ldexp(1.f, -9));
    EXPECT_TRUE(std::isinf(half_to_float(float_to_half(1e6f))));
    EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
}

TEST(BFloat16, RoundsToNearestEven) {
    EXPECT_EQ(bf16_to_float(float_to_bf16(1.f)), 1.f);
    EXPECT_EQ(bf16_to_float(float_to_bf16(1.f + std::ldexp(1.f, -8))), 1.f);
    EXPECT_NEAR(bf16_to_float(float_to_bf16(3.14159f)), 3.14159f, 0.01f);
}

TEST(Tensor, CastAndReshape) {
    Tensor t = Tensor::from_f32({1.5f, -2.f, 3.f, 4.f}, {2, 2});
    Tensor i = t.cast(DType::kI64);
    EXPECT_EQ(i.to_i64_vector(), (std::vector<int64_t>{1, -2, 3, 4}));
    Tensor r = t.reshaped({4});
    EXPECT_EQ(r.shape(), (Shape{4}));
    EXPECT_EQ(r.data<float>(), t.data<float>());  // shares storage
    Tensor c = t.clone();
    c.data<float>()[0] = 9.f;
    EXPECT_EQ(t.data<float>()[0], 1.5f);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
}

}  // namespace itscam
