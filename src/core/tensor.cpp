#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "core/status.h"

namespace itscam {

int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

std::string shape_str(const Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) {
        if (i) out += ",";
        out += s[i] < 0 ? "?" : std::to_string(s[i]);
    }
    return out + "]";
}

Tensor Tensor::from_buffer(DType dtype, Shape shape, std::shared_ptr<std::byte> buffer) {
    Tensor t;
    t.dtype_ = dtype;
    t.shape_ = std::move(shape);
    for (int64_t d : t.shape_) ITSCAM_CHECK(d >= 0, "negative dimension in " + shape_str(t.shape_));
    ITSCAM_CHECK(buffer != nullptr, "from_buffer: null buffer");
    ITSCAM_CHECK(reinterpret_cast<uintptr_t>(buffer.get()) % 64 == 0, "from_buffer: buffer not 64-byte aligned");
    t.buf_ = std::move(buffer);
    return t;
}

Tensor Tensor::empty(DType dtype, Shape shape) {
    Tensor t;
    t.dtype_ = dtype;
    t.shape_ = std::move(shape);
    for (int64_t d : t.shape_) ITSCAM_CHECK(d >= 0, "negative dimension in " + shape_str(t.shape_));
    size_t bytes = t.nbytes();
    size_t alloc = ((bytes + 63) / 64) * 64;
    if (alloc == 0) alloc = 64;
    void* p = std::aligned_alloc(64, alloc);
    if (!p) throw std::bad_alloc();
    t.buf_ = std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
    return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
    Tensor t = empty(dtype, std::move(shape));
    std::memset(t.raw(), 0, t.nbytes());
    return t;
}

Tensor Tensor::scalar_f32(float v) {
    Tensor t = empty(DType::kF32, {});
    *t.data<float>() = v;
    return t;
}

Tensor Tensor::from_i64(const std::vector<int64_t>& v, Shape shape) {
    Tensor t = empty(DType::kI64, std::move(shape));
    ITSCAM_CHECK(static_cast<int64_t>(v.size()) == t.numel());
    if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * 8);
    return t;
}

Tensor Tensor::from_f32(const std::vector<float>& v, Shape shape) {
    Tensor t = empty(DType::kF32, std::move(shape));
    ITSCAM_CHECK(static_cast<int64_t>(v.size()) == t.numel());
    if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * 4);
    return t;
}

Tensor Tensor::clone() const {
    Tensor t = empty(dtype_, shape_);
    if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
    return t;
}

Tensor Tensor::reshaped(Shape shape) const {
    ITSCAM_CHECK(shape_numel(shape) == numel(), "reshape " + shape_str(shape_) + " -> " + shape_str(shape));
    Tensor t = *this;
    t.shape_ = std::move(shape);
    return t;
}

namespace {
double load_as_double(const void* p, DType t, int64_t i) {
    switch (t) {
        case DType::kF32: return static_cast<const float*>(p)[i];
        case DType::kF16: return half_to_float(static_cast<const uint16_t*>(p)[i]);
        case DType::kBF16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
        case DType::kI8: return static_cast<const int8_t*>(p)[i];
        case DType::kU8: return static_cast<const uint8_t*>(p)[i];
        case DType::kI32: return static_cast<const int32_t*>(p)[i];
        case DType::kI64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
        case DType::kBool: return static_cast<const uint8_t*>(p)[i] ? 1.0 : 0.0;
        case DType::kF64: return static_cast<const double*>(p)[i];
    }
    return 0;
}
// Float -> integer conversion saturates (NaN -> 0): a plain cast of an out-of-range value is undefined.
template <typename I>
I saturate(double v) {
    if (!(v == v)) return 0;
    if (v <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
    if (v >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
    return static_cast<I>(v);
}

void store_from_double(void* p, DType t, int64_t i, double v) {
    switch (t) {
        case DType::kF32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
        case DType::kF16: static_cast<uint16_t*>(p)[i] = float_to_half(static_cast<float>(v)); break;
        case DType::kBF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(static_cast<float>(v)); break;
        case DType::kI8: static_cast<int8_t*>(p)[i] = saturate<int8_t>(v); break;
        case DType::kU8: static_cast<uint8_t*>(p)[i] = saturate<uint8_t>(v); break;
        case DType::kI32: static_cast<int32_t*>(p)[i] = saturate<int32_t>(v); break;
        case DType::kI64: static_cast<int64_t*>(p)[i] = saturate<int64_t>(v); break;
        case DType::kBool: static_cast<uint8_t*>(p)[i] = v != 0.0; break;
        case DType::kF64: static_cast<double*>(p)[i] = v; break;
    }
}
}  // namespace

Tensor Tensor::cast(DType to) const {
    if (to == dtype_) return clone();
    Tensor t = empty(to, shape_);
    const int64_t n = numel();
    if (dtype_ == DType::kI64 && to == DType::kI32) {
        for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(data<int64_t>()[i]);
        return t;
    }
    if ((dtype_ == DType::kI64 || dtype_ == DType::kI32) && to == DType::kI64) {
        for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = saturate<int64_t>(load_as_double(raw(), dtype_, i));
        return t;
    }
    for (int64_t i = 0; i < n; ++i) store_from_double(t.raw(), to, i, load_as_double(raw(), dtype_, i));
    return t;
}

std::vector<int64_t> Tensor::to_i64_vector() const {
    std::vector<int64_t> v(static_cast<size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) {
        v[i] = dtype_ == DType::kI64 ? data<int64_t>()[i] : saturate<int64_t>(load_as_double(raw(), dtype_, i));
    }
    return v;
}

std::vector<float> Tensor::to_f32_vector() const {
    std::vector<float> v(static_cast<size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) v[i] = static_cast<float>(load_as_double(raw(), dtype_, i));
    return v;
}

}  // namespace itscam
