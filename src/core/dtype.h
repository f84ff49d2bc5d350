#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace itscam {

enum class DType : uint8_t { kF32, kF16, kBF16, kI8, kU8, kI32, kI64, kBool, kF64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

// IEEE half <-> float with round-to-nearest-even; handles subnormals, Inf and NaN.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
// FP8 E4M3 (the OCP "E4M3FN" format Hopper's tensor cores take: bias 7, no infinities, 0x7f/0xff NaN, largest
// finite 448). float -> fp8 rounds to nearest even and saturates to +-448, as GPU converters with satfinite do; NaN
// stays NaN.
uint8_t float_to_fp8_e4m3(float f);
float fp8_e4m3_to_float(uint8_t b);
// Floats as the bytes of fp16 (2 each, little-endian as in memory) or, with fp8, FP8 E4M3 (1 each): what a device
// buffer of that type holds.
std::vector<uint8_t> encode_half_or_fp8(const std::vector<float>& v, bool fp8);
// bfloat16: the upper 16 bits of a float, rounded to nearest even (NaN kept quiet).
inline uint16_t float_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_float(uint16_t b) {
    uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

}  // namespace itscam
