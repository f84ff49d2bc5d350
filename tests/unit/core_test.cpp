#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

TEST(Fp8E4M3, EveryCodeRoundTrips) {
    // All 254 finite codes (the two NaN codes aside) decode to distinct values that encode back to the same code.
    for (int b = 0; b < 256; ++b) {
        if ((b & 0x7f) == 0x7f) {
            EXPECT_TRUE(std::isnan(fp8_e4m3_to_float(static_cast<uint8_t>(b))));
            continue;
        }
        EXPECT_EQ(float_to_fp8_e4m3(fp8_e4m3_to_float(static_cast<uint8_t>(b))), b) << b;
    }
    EXPECT_EQ(fp8_e4m3_to_float(0x7e), 448.f);                // largest finite
    EXPECT_EQ(fp8_e4m3_to_float(0x08), std::ldexp(1.f, -6));  // smallest normal
    EXPECT_EQ(fp8_e4m3_to_float(0x01), std::ldexp(1.f, -9));  // smallest subnormal
    EXPECT_EQ(fp8_e4m3_to_float(0x38), 1.f);
    EXPECT_EQ(fp8_e4m3_to_float(0xc4), -3.f);
}

TEST(Fp8E4M3, RoundsToNearestEvenAndSaturates) {
    // Between 1 and 1.125 (codes 0x38, 0x39): 1.0625 is the tie and goes to the even code; just above it rounds up.
    EXPECT_EQ(float_to_fp8_e4m3(1.0625f), 0x38);
    EXPECT_EQ(float_to_fp8_e4m3(1.07f), 0x39);
    EXPECT_EQ(float_to_fp8_e4m3(1.1875f), 0x3a);  // tie between 1.125 (odd) and 1.25 (even)
    // A mantissa that rounds up carries into the exponent: 1.95 -> 2.
    EXPECT_EQ(fp8_e4m3_to_float(float_to_fp8_e4m3(1.95f)), 2.f);
    // Subnormals: 3.4 * 2^-9 -> 3 * 2^-9, and half the smallest subnormal ties to zero.
    EXPECT_EQ(float_to_fp8_e4m3(3.4f * std::ldexp(1.f, -9)), 0x03);
    EXPECT_EQ(float_to_fp8_e4m3(std::ldexp(1.f, -10)), 0x00);
    EXPECT_EQ(float_to_fp8_e4m3(-std::ldexp(1.f, -12)), 0x80);
    // Past the largest finite value: saturated, never NaN.
    for (float f : {450.f, 470.f, 1e6f, std::numeric_limits<float>::infinity()})
        EXPECT_EQ(fp8_e4m3_to_float(float_to_fp8_e4m3(f)), 448.f) << f;
    EXPECT_EQ(fp8_e4m3_to_float(float_to_fp8_e4m3(-1e6f)), -448.f);
    EXPECT_TRUE(std::isnan(fp8_e4m3_to_float(float_to_fp8_e4m3(NAN))));
}

TEST(EncodeHalfOrFp8, PacksTheDeviceBytesOfEachType) {
    const std::vector<float> v{1.f, -2.f, 1.0625f};
    const std::vector<uint8_t> h = encode_half_or_fp8(v, false);
    ASSERT_EQ(h.size(), 6u);
    // fp16 little-endian: 1.0 = 0x3c00, -2.0 = 0xc000, 1.0625 = 0x3c40.
    EXPECT_EQ(h, (std::vector<uint8_t>{0x00, 0x3c, 0x00, 0xc0, 0x40, 0x3c}));
    // E4M3: 1.0 = 0x38, -2.0 = 0xc0, 1.0625 ties to the even 0x38.
    EXPECT_EQ(encode_half_or_fp8(v, true), (std::vector<uint8_t>{0x38, 0xc0, 0x38}));
    EXPECT_TRUE(encode_half_or_fp8({}, true).empty());
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
