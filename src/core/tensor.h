// Tensor: a dense, C-contiguous n-d array with shared ownership of a 64-byte aligned buffer.
// Copying a Tensor shares the buffer (cheap); clone() makes a deep copy. Not thread-safe for concurrent writes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace itscam {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);

class Tensor {
public:
    Tensor() = default;
    static Tensor empty(DType dtype, Shape shape);
    static Tensor zeros(DType dtype, Shape shape);
    static Tensor scalar_f32(float v);
    static Tensor from_i64(const std::vector<int64_t>& v, Shape shape);
    static Tensor from_f32(const std::vector<float>& v, Shape shape);
    // A tensor over memory owned elsewhere (for example a pooled staging buffer); `buffer` must hold at least
    // numel * dtype_size bytes and stay 64-byte aligned. The tensor shares ownership of it.
    static Tensor from_buffer(DType dtype, Shape shape, std::shared_ptr<std::byte> buffer);

    bool defined() const { return static_cast<bool>(buf_); }
    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int64_t dim(size_t i) const { return shape_[i]; }
    size_t rank() const { return shape_.size(); }
    int64_t numel() const { return shape_numel(shape_); }
    size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

    void* raw() { return buf_.get(); }
    const void* raw() const { return buf_.get(); }
    template <typename T>
    T* data() { return static_cast<T*>(raw()); }
    template <typename T>
    const T* data() const { return static_cast<const T*>(raw()); }

    Tensor clone() const;
    // Same buffer, new shape with the same element count.
    Tensor reshaped(Shape shape) const;
    // Converts between numeric dtypes (float types, ints, bool), element by element.
    Tensor cast(DType to) const;
    // Values as int64 (from any integer dtype), for shape-like tensors.
    std::vector<int64_t> to_i64_vector() const;
    std::vector<float> to_f32_vector() const;

private:
    DType dtype_ = DType::kF32;
    Shape shape_;
    std::shared_ptr<std::byte> buf_;
};

}  // namespace itscam
