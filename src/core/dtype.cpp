#include "core/dtype.h"

#include <cmath>
#include <limits>

namespace itscam {

size_t dtype_size(DType t) {
    switch (t) {
        case DType::kF32: return 4;
        case DType::kF16: return 2;
        case DType::kBF16: return 2;
        case DType::kI8: return 1;
        case DType::kU8: return 1;
        case DType::kI32: return 4;
        case DType::kI64: return 8;
        case DType::kBool: return 1;
        case DType::kF64: return 8;
    }
    return 0;
}

const char* dtype_name(DType t) {
    switch (t) {
        case DType::kF32: return "float32";
        case DType::kF16: return "float16";
        case DType::kBF16: return "bfloat16";
        case DType::kI8: return "int8";
        case DType::kU8: return "uint8";
        case DType::kI32: return "int32";
        case DType::kI64: return "int64";
        case DType::kBool: return "bool";
        case DType::kF64: return "float64";
    }
    return "?";
}

uint16_t float_to_half(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mant = x & 0x007fffffu;
    const int32_t exp = static_cast<int32_t>((x >> 23) & 0xff);
    if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));  // Inf / NaN
    int32_t e = exp - 127 + 15;
    if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> Inf
    if (e <= 0) {
        if (e < -10) return static_cast<uint16_t>(sign);  // underflow -> signed zero
        mant |= 0x00800000u;                              // subnormal half: shift in the hidden bit
        const int shift = 14 - e;
        uint32_t half_mant = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1u);
        const uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
        return static_cast<uint16_t>(sign | half_mant);
    }
    uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: that is correct
    return static_cast<uint16_t>(h);
}

uint8_t float_to_fp8_e4m3(float f) {
    if (std::isnan(f)) return 0x7f;
    const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
    const float a = std::fabs(f);
    if (a >= 448.f) return static_cast<uint8_t>(sign | 0x7e);  // saturated (infinity included)
    // Subnormals (below 2^-6) are multiples of 2^-9: their code is the multiple, and 8 of them is the smallest normal.
    if (a < 0.015625f) return static_cast<uint8_t>(sign | static_cast<uint8_t>(std::nearbyint(a * 512.f)));
    int e = 0;
    const float fr = std::frexp(a, &e);  // a = fr * 2^e, fr in [0.5, 1)
    int exp = e - 1;                     // a = (2 fr) * 2^exp
    int mant = static_cast<int>(std::nearbyint((2.f * fr - 1.f) * 8.f));
    if (mant == 8) {
        mant = 0;
        ++exp;
    }
    return static_cast<uint8_t>(sign | ((exp + 7) << 3) | mant);
}

std::vector<uint8_t> encode_half_or_fp8(const std::vector<float>& v, bool fp8) {
    std::vector<uint8_t> bytes(v.size() * (fp8 ? 1 : 2));
    for (size_t i = 0; i < v.size(); ++i) {
        if (fp8) {
            bytes[i] = float_to_fp8_e4m3(v[i]);
        } else {
            const uint16_t h = float_to_half(v[i]);
            std::memcpy(&bytes[2 * i], &h, 2);
        }
    }
    return bytes;
}

float fp8_e4m3_to_float(uint8_t b) {
    const int exp = (b >> 3) & 0xf, mant = b & 7;
    if (exp == 15 && mant == 7) return std::numeric_limits<float>::quiet_NaN();
    const float v = exp == 0 ? std::ldexp(static_cast<float>(mant), -9) : std::ldexp(1.f + mant / 8.f, exp - 7);
    return (b & 0x80) ? -v : v;
}

float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t x;
    if (exp == 0) {
        if (mant == 0) {
            x = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ffu;
            x = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 0x1f) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &x, 4);
    return f;
}

}  // namespace itscam
