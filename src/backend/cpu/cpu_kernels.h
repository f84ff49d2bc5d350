// Our own multithreaded CPU kernels for the ops oneDNN does not cover (or covers with extra copies). They work on
// dense NHWC ("channels last") buffers, the layout the oneDNN convolutions use, or on plain row-major tensors.
// All are element-size generic where the op only moves data. Thread-safety: pure functions over caller buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace itscam::cpu {

// Copies `count` channel slices (each `widths[i]` channels, element size `es`) of `pixels` NHWC pixels into one
// NHWC buffer with `total_c` channels, at increasing channel offsets: the channel Concat.
void nhwc_concat(const std::vector<const void*>& srcs, const std::vector<int64_t>& widths, void* dst,
                 int64_t pixels, int64_t total_c, size_t es);
// The inverse: split one NHWC buffer into channel slices.
void nhwc_split(const void* src, int64_t pixels, int64_t total_c, const std::vector<void*>& dsts,
                const std::vector<int64_t>& widths, size_t es);
// Nearest resize of an NHWC image batch with precomputed source row/column indices.
void nhwc_resize_nearest(const void* src, void* dst, int64_t n, int64_t h, int64_t w, int64_t c,
                         const std::vector<int64_t>& src_y, const std::vector<int64_t>& src_x, size_t es);

enum class EltOp { kAdd, kSub, kMul, kDiv };
// Same-shape element-wise ops (f32).
void eltwise_binary(EltOp op, const float* a, const float* b, float* y, int64_t n);
// Numpy-broadcast element-wise op: a_shape/b_shape are already left-padded to out_shape's rank.
void eltwise_broadcast(EltOp op, const float* a, const std::vector<int64_t>& a_shape, const float* b,
                       const std::vector<int64_t>& b_shape, float* y, const std::vector<int64_t>& out_shape);
void sigmoid(const float* x, float* y, int64_t n);
// exp(x) for float, vectorizable (Cody-Waite range reduction + degree-6 polynomial, < 2 ulp on [-87, 88]).
float fast_exp(float x);

// DFL box decode: x [NJ][R][A] logits, w [R] bin values -> y [NJ][A] = sum_k softmax_k(x[.,:,a]) * w[k].
void dfl_decode(const float* x, const float* w, float* y, int64_t nj, int64_t r, int64_t a);

// Dense row-major Concat/Split/Slice: `outer` rows of contiguous runs.
void concat_rows(const std::vector<const void*>& srcs, const std::vector<int64_t>& row_bytes, void* dst,
                 int64_t outer);
void split_rows(const void* src, int64_t outer, const std::vector<void*>& dsts, const std::vector<int64_t>& row_bytes);
// Strided slice copy: for each output element index, src offset = sum(start[d] + i[d]*step[d]) * stride[d].
void slice_copy(const void* src, const std::vector<int64_t>& in_shape, void* dst, const std::vector<int64_t>& start,
                const std::vector<int64_t>& step, const std::vector<int64_t>& count, size_t es);

// Generic permutation of a dense row-major tensor (element size `es`).
void transpose(const void* src, void* dst, const std::vector<int64_t>& shape, const std::vector<int64_t>& perm,
               size_t es);
// Softmax over `len` elements with stride `inner`, for `outer * inner` independent rows.
void softmax(const float* x, float* y, int64_t outer, int64_t len, int64_t inner);

}  // namespace itscam::cpu
