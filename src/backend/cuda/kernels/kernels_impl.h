// Launchers of the CUDA backend's own kernels. This header sees no framework types (no Tensor, Graph or Status):
// plain pointers, sizes and a cudaStream_t, so the .cu files build with nvcc alone. Every launcher enqueues work on
// `stream` and returns cudaGetLastError() (launch errors only; execution errors surface at the next sync).
//
// Element types: activations are float (kF32) or __half (kF16); every kernel accumulates in float. Layout words:
//   "rows x C view"  an NHWC activation seen as a matrix of rows = N*H*W pixels by C channels, where row r starts at
//                    ptr + r * ld (ld >= C, in elements). A channel slice of a wider NHWC buffer (a Concat member, a
//                    Split part) is the same view with ptr advanced by the channel offset and ld = total channels.
//   "plain"          dense row-major, as in the graph (NCHW for rank-4 values).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace itscam::cuda_kernels {

enum class DT : int { kF32 = 0, kF16 = 1 };
enum class Act : int { kNone = 0, kSiLU = 1, kReLU = 2, kSigmoid = 3, kLeakyReLU = 4 };
enum class BinOp : int { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

constexpr int kMaxRank = 6;
struct Dims {
    int rank = 0;
    int64_t d[kMaxRank] = {};
};

// Conv epilogue: y[r, c] = act(x[r, c] + bias[c]) + (residual ? residual[r, c] : 0), all rows x C views of one
// dtype; bias is float (may be null = 0). alpha is LeakyReLU's slope. x may equal y (in place, same ld).
cudaError_t conv_epilogue(const void* x, int64_t ldx, void* y, int64_t ldy, const float* bias, const void* residual,
                          int64_t ldr, int64_t rows, int64_t C, Act act, float alpha, DT dt, cudaStream_t stream);

// Depthwise convolution (groups == C == output channels) on NHWC views with the conv epilogue fused:
//   y[n, oh, ow, c] = act(sum_{r,s} x[n, oh*sh - pad_top + r*dh, ow*sw - pad_left + s*dw, c] * w[r, s, c] + bias[c])
//                     (+ residual[n, oh, ow, c])
// w: float [kh, kw, C] on the device (tap-major: one tap's channels are contiguous); bias float [C] or null; residual a
// view or null. Out-of-image taps are zero.
cudaError_t depthwise_conv_nhwc(const void* x, int64_t ldx, const float* w, const float* bias, const void* residual,
                                int64_t ldr, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                                int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                                int dh, int dw, Act act, float alpha, DT dt, cudaStream_t stream);

// Direct convolution of a plain NCHW float32 tensor (the graph input image) into an NHWC view, with the conv epilogue
// fused: y[n, oh, ow, k] = act(sum_{c,r,s} x[n, c, oh*sh - pad_top + r, ow*sw - pad_left + s] * w[k, c, r, s] + bias[k]).
// For stems with few input channels, where an NCHW->NHWC conversion (padded to 8 channels) and a tensor-core
// convolution move three times the bytes. w: float [K, C, kh, kw]; bias float [K] or null; no dilation or groups.
cudaError_t stem_conv_nchw(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w,
                           const float* bias, void* y, int64_t ldy, int64_t K, int64_t OH, int64_t OW, int kh, int kw,
                           int sh, int sw, int pad_top, int pad_left, Act act, float alpha, DT dt, cudaStream_t stream);

// Convolution as an implicit GEMM on tensor cores, fp16 NHWC views only, with the conv epilogue fused:
//   y[n, oh, ow, k] = act(sum_{c,r,s} x[n, oh*sh - pad_top + r, ow*sw - pad_left + s, c] * w[k, r, s, c] + bias[k])
//                     (+ residual[n, oh, ow, k])
// w: fp16 [K, kh, kw, C] dense (the NHWC filter layout); bias float [K] or null; residual a view (ldr) or null and
// may be y itself. `variant` picks the kernel, and the autotune times each per layer:
//   0: the weights of a 64-channel slice resident in shared memory, input fragments from global memory
//      (igemm_conv.cu);
//   1, 2, 3: input and weight tiles streamed through shared memory by cp.async, with 128x64, 128x128 and 64x64
//      tiles of pixels x output channels (igemm_tiled.cu);
//   4, 5: the same pipeline feeding Hopper's warpgroup instruction (wgmma) from 128-byte-swizzled tiles, 128
//      pixels x up to 128 (4) or 64 (5) output channels (sm90a/igemm_wgmma.cu): only where the build has sm_90a
//      code and the current GPU is compute capability 9.0;
//   6: wgmma fed by the tensor memory accelerator (TMA), one producer warp and two consumer warpgroups, tiles of a
//      box of up to 128 output pixels shaped per layer, channel blocks of 16, 32 or 64 (sm90a/igemm_tma.cu): where
//      4 and 5 run.
// igemm_conv_supported() says which shapes a variant takes (1x1 or 3x3, no dilation or groups, C and K multiples
// of 8, even pitches, 32-bit offsets; variant 0: the weights of a 64-channel slice within 96 KB; 1-6: ldx a
// multiple of 8; 2 and 5: K > 64). igemm_conv_nhwc() returns cudaErrorInvalidValue for any other, or for y and
// residual not 4-byte aligned, or x and w not 4-byte (variant 0) or 16-byte (1-6) aligned.
constexpr int kIgemmVariants = 7;
bool igemm_conv_supported(int64_t N, int64_t H, int64_t W, int64_t C, int64_t ldx, int64_t K, int64_t OH, int64_t OW,
                          int64_t ldy, int64_t ldr, int kh, int kw, int dh, int dw, int variant);
cudaError_t igemm_conv_nhwc(const void* x, int64_t ldx, const void* w, const float* bias, const void* residual,
                            int64_t ldr, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C, int64_t K,
                            int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pad_top, int pad_left, Act act,
                            float alpha, int variant, cudaStream_t stream);

// The same convolution on FP8 E4M3 operands (issue 13 item 5), by variant 6's kernel with k32 E4M3 wgmma:
//   y[n, oh, ow, k] = act(scale[k] * sum_{c,r,s} x8[...] * w8[k, r, s, c] + bias[k]) (+ residual[n, oh, ow, k])
// x8: an E4M3 NHWC view (ldx bytes a pixel); w8: E4M3 [K, kh, kw, C] dense; scale: float [K], the input's scale
// times each output channel's weight scale; bias float [K] or null; residual an fp16 view as above. y: an fp16
// view, or with out_scale (float [K], or null) an E4M3 view (ldy bytes a pixel) of each value times its channel's
// output scale, saturated to +-448.
// igemm_conv_fp8_supported(): a compute-capability 9.0 GPU and an sm_90a build, 1x1 or 3x3, no dilation, C a
// multiple of 16 and ldx of 16 (16-byte rows for the tensor maps), K a multiple of 8, even ldy and ldr, 32-bit
// offsets. igemm_conv_fp8_nhwc() returns cudaErrorInvalidValue for any other shape, a null scale, x8 or w8 not
// 16-byte aligned, y and residual not 4-byte aligned, or, with an E4M3 y, y's rows not 8-byte aligned (ldy % 8, y)
// or the residual's not 16-byte aligned (ldr % 8, residual).
bool igemm_conv_fp8_supported(int64_t N, int64_t H, int64_t W, int64_t C, int64_t ldx, int64_t K, int64_t OH,
                              int64_t OW, int64_t ldy, int64_t ldr, int kh, int kw, int dh, int dw);
cudaError_t igemm_conv_fp8_nhwc(const void* x8, int64_t ldx, const void* w8, const float* scale, const float* out_scale,
                                const float* bias, const void* residual, int64_t ldr, void* y, int64_t ldy, int64_t N,
                                int64_t H, int64_t W, int64_t C, int64_t K, int64_t OH, int64_t OW, int kh, int kw,
                                int sh, int sw, int pad_top, int pad_left, Act act, float alpha, cudaStream_t stream);

// The YOLOv8/11 Detect head in one pass, from the last convolutions' NHWC outputs to the model output: for anchor a
// of level l (grid h x w, stride s, first anchor a0), pixel p = a - a0 = y * w + x:
//   out[n, 0:4, a] = (cx, cy, w, h) of dist2bbox(DFL(box[n, p, 0:4R]), anchor (x + 0.5, y + 0.5)) * s
//   out[n, 4 + c, a] = sigmoid(cls[n, p, c])
// DFL(side j) = sum_k softmax_k(box[.., j*R + k]) * bins[k]. out is dense float32 [N, 4 + nc, A].
constexpr int kMaxHeadLevels = 4;
struct HeadLevel {
    const void* box = nullptr;  // NHWC view [N, h, w, 4R], row pitch box_ld
    const void* cls = nullptr;  // NHWC view [N, h, w, nc], row pitch cls_ld
    int64_t box_ld = 0, cls_ld = 0;
    int h = 0, w = 0;
    float stride = 0.f;
    int64_t a0 = 0;
};
struct HeadParams {
    HeadLevel lv[kMaxHeadLevels];
    int levels = 0;
    int64_t N = 0, A = 0;
    int R = 16, nc = 80;
};
cudaError_t yolo_detect_head(const HeadParams& p, const float* bins, float* out, DT dt, cudaStream_t stream);

// NCHW plain -> NHWC rows x C view, converting dtype (e.g. the fp32 graph input to fp16 activations).
cudaError_t nchw_to_nhwc(const void* x, DT xdt, void* y, int64_t ldy, DT ydt, int64_t N, int64_t C, int64_t HW,
                         cudaStream_t stream);
// NHWC rows x C view -> NCHW plain, converting dtype.
cudaError_t nhwc_to_nchw(const void* x, int64_t ldx, DT xdt, void* y, DT ydt, int64_t N, int64_t C, int64_t HW,
                         cudaStream_t stream);
// Dense element-wise dtype conversion (n elements).
cudaError_t cast(const void* x, DT xdt, void* y, DT ydt, int64_t n, cudaStream_t stream);

// MaxPool on NHWC views: x is N x H x W x C (ld ldx per pixel), y is N x OH x OW x C (ld ldy). Padding cells are
// ignored (never win), as in ONNX.
cudaError_t maxpool_nhwc(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                         int64_t OH, int64_t OW, int kh, int kw, int sh, int sw, int pad_top, int pad_left, DT dt,
                         cudaStream_t stream);

// A chain of `count` k x k MaxPools with stride 1 and padding k / 2 (k odd), each reading the one before (SPPF's
// three 5x5 pools), in one kernel: out.y[s] (row pitch out.ld[s]) gets pool s + 1 of x, N x H x W x C views. What
// maxpool_nhwc() gives called `count` times, bit for bit. 16-byte channel vectors (C, ldx and every ld a multiple of
// 8 halves or 4 floats, 16-byte aligned pointers) and H * W <= kMaxPoolChainSmem / 32 (an image a CTA in shared
// memory): maxpool_chain_supported() says, from the shapes and pitches (the launcher also checks the pointers).
constexpr int kMaxPoolChain = 4;
constexpr int64_t kMaxPoolChainSmem = 48 * 1024;
struct PoolChainOut {
    void* y[kMaxPoolChain] = {};
    int64_t ld[kMaxPoolChain] = {};
};
bool maxpool_chain_supported(int64_t N, int64_t H, int64_t W, int64_t C, int64_t ldx, const PoolChainOut& out, int k,
                             int count, DT dt);
cudaError_t maxpool_chain_nhwc(const void* x, int64_t ldx, const PoolChainOut& out, int64_t N, int64_t H, int64_t W,
                               int64_t C, int k, int count, DT dt, cudaStream_t stream);

// Nearest Resize on NHWC views with precomputed source indices: y[n, oh, ow, c] = x[n, src_h[oh], src_w[ow], c].
// src_h (OH ints) and src_w (OW ints) are device arrays.
cudaError_t resize_nearest_nhwc(const void* x, int64_t ldx, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W,
                                int64_t C, int64_t OH, int64_t OW, const int* src_h, const int* src_w, DT dt,
                                cudaStream_t stream);

// Plain broadcasting binary op: y[i] = a[ia] op b[ib] where out has `out` dims and a/b have per-dimension element
// strides (0 on a broadcast dimension) over the same rank. Either a or b may be a float scalar constant instead:
// pass a == nullptr to use a_scalar (likewise b).
cudaError_t binary(BinOp op, const void* a, Dims a_strides, float a_scalar, const void* b, Dims b_strides,
                   float b_scalar, void* y, Dims out, DT dt, cudaStream_t stream);

// Plain unary activation over n elements (x may equal y).
cudaError_t activation(const void* x, void* y, int64_t n, Act act, float alpha, DT dt, cudaStream_t stream);

// Plain transpose: y = x.permute(perm); `in` are x's dims.
cudaError_t transpose(const void* x, void* y, Dims in, Dims perm, DT dt, cudaStream_t stream);

// Plain strided gather (Slice with steps, and any dense copy): y[o] = x[base + sum_k o_k * step_k] where step_k is
// an element stride into x (may be negative) and out are y's dims.
cudaError_t gather_strided(const void* x, int64_t base, Dims steps, void* y, Dims out, DT dt, cudaStream_t stream);

// Softmax over the middle axis of x seen as [outer, len, inner] (plain), float accumulation, max-subtracted.
cudaError_t softmax(const void* x, void* y, int64_t outer, int64_t len, int64_t inner, DT dt, cudaStream_t stream);

// The self-attention of YOLO11's PSA block in one kernel (attention.cu), fp16 NHWC views. qkv is a rows x C view
// (row pitch ldq) of N images of hw tokens; head h's channels start at h * (2 dk + dv): dk query, dk key, then dv
// value channels. For token i of image n and head h:
//   out[i, h*dv + c] = sum_j softmax_j(scale * sum_d q[i, d] k[j, d]) v[j, c]      (row pitch ldo)
//   vout[i, h*dv + c] = v[i, c]   (the value tensor in head-major channel order; vout may be null; row pitch ldv)
// Softmax and sums in float; the probabilities are rounded to fp16 for the value product. Only dk = 32, dv = 64
// (every YOLO11 size), 16-byte aligned qkv and vout rows (ldq, ldv multiples of 8): attention_supported() says.
bool attention_supported(int64_t N, int64_t hw, int heads, int dk, int dv, int64_t ldq, int64_t ldo, int64_t ldv);
cudaError_t attention_nhwc(const void* qkv, int64_t ldq, void* out, int64_t ldo, void* vout, int64_t ldv, int64_t N,
                           int64_t hw, int heads, int dk, int dv, float scale, cudaStream_t stream);

// DflDecode: x [N, 4, R, A] plain, w [R] float (device), y [N, 1, 4, A]:
//   y[n, 0, j, a] = sum_k softmax_k(x[n, j, :, a]) * w[k]
cudaError_t dfl_decode(const void* x, const float* w, void* y, int64_t N, int64_t R, int64_t A, DT dt,
                       cudaStream_t stream);

// Build-time verification (verify.cu). fill_pattern writes a deterministic value in [-1, 1) from (seed, index) into
// every element of a rows x cols view (row pitch ld); diff_squares adds sum((a - b)^2) to acc[0] and sum(b^2) to
// acc[1] (device doubles, zeroed by the caller) over two rows x cols views. A non-finite difference counts as 1e30.
cudaError_t fill_pattern(void* p, DT dt, int64_t rows, int64_t cols, int64_t ld, uint32_t seed, cudaStream_t stream);
// A direct convolution, one thread per output value with float sums (verify.cu): the reference for a layer that has
// no legacy path to compare a fused engine with (a strided input no cuDNN algorithm takes). NHWC views x (ldx), res
// (ldr, or null) and y (ldy); w [K, R, S, C] and bias [K] (or null) dense, all of dtype dt;
//   y[p, k] = act(sum x * w + bias[k]) (+ res[p, k]).
cudaError_t conv_reference_nhwc(const void* x, int64_t ldx, const void* w, const void* bias, const void* res,
                                int64_t ldr, void* y, int64_t ldy, int64_t N, int64_t H, int64_t W, int64_t C,
                                int64_t K, int R, int S, int64_t OH, int64_t OW, int pad_h, int pad_w, int stride_h,
                                int stride_w, int dil_h, int dil_w, Act act, DT dt, cudaStream_t stream);
cudaError_t diff_squares(const void* a, int64_t lda, const void* b, int64_t ldb, DT dt, int64_t rows, int64_t cols,
                         double* acc, cudaStream_t stream);

}  // namespace itscam::cuda_kernels
