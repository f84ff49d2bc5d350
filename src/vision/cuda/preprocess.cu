// GPU letterbox: one thread per destination pixel, all frames of a batch in one launch (blockIdx.z = frame).
//
// Bit-exactness with vision/letterbox.cpp under --use_fast_math: every floating-point step that could differ is
// written with explicit round-to-nearest intrinsics (__dadd_rn, __dmul_rn, __fdiv_rn, ...), which nvcc never fuses
// into FMAs and which are IEEE-exact; the rest is integer arithmetic identical to the CPU code. The CPU caches
// horizontally resized rows; here each pixel recomputes its two horizontal taps, which is the same pure function.
#include "device/cuda/convert.cuh"
#include "vision/cuda/preprocess_impl.h"
#include "vision/yuv.h"

namespace itscam::vision::cuda_impl {

namespace {

constexpr int kCoefScale = 1 << 11;  // OpenCV's 11-bit interpolation weights
constexpr int kBlockX = 32;
constexpr int kBlockY = 8;

struct Tap {
    int s;
    int w0;
    int w1;
};

// cvFloor(float) as floor_to_int in letterbox.cpp.
__device__ __forceinline__ int floor_to_int(float v) {
    const int i = static_cast<int>(v);
    return i - (static_cast<float>(i) > v ? 1 : 0);
}

// saturate_cast<short>(float): round half to even, clamp to int16.
__device__ __forceinline__ int saturate_short(float v) {
    const int i = __float2int_rn(v);
    return min(max(i, -32768), 32767);
}

// make_tap in letterbox.cpp: f = float((d + 0.5) * scale - 0.5) in double, s = floor(f), weights (1 - frac, frac).
__device__ __forceinline__ Tap make_tap(int d, double scale) {
    float f = __double2float_rn(__dsub_rn(__dmul_rn(__dadd_rn(static_cast<double>(d), 0.5), scale), 0.5));
    const int s = floor_to_int(f);
    f = __fsub_rn(f, static_cast<float>(s));
    return {s, saturate_short(__fmul_rn(__fsub_rn(1.f, f), static_cast<float>(kCoefScale))),
            saturate_short(__fmul_rn(f, static_cast<float>(kCoefScale)))};
}

// vblend in letterbox.cpp (OpenCV 4.6's VResizeLinear for uchar, with its truncations).
__device__ __forceinline__ int vblend(int h0, int h1, int b0, int b1) {
    return ((((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16) + 2) >> 2;
}

// fp32/fp16 stores: the shared CUDA layer's from_f (round to nearest even for fp16), as the backend's kernels.
using csl::from_f;

// numpy's uint8 -> float32 / 255.0: a correctly rounded division (not * (1 / 255.f)).
__device__ __forceinline__ float unit(int v) {
    return __fdiv_rn(static_cast<float>(v), 255.f);
}

template <typename T>
__global__ void __launch_bounds__(kBlockX* kBlockY)
    letterbox_kernel(const LetterboxJob* __restrict__ jobs, int dst_w, int dst_h, T* __restrict__ dst, int nhwc_ld) {
    const int x = blockIdx.x * kBlockX + threadIdx.x;
    const int y = blockIdx.y * kBlockY + threadIdx.y;
    if (x >= dst_w || y >= dst_h) return;
    const LetterboxJob& j = jobs[blockIdx.z];
    const size_t plane = static_cast<size_t>(dst_w) * dst_h;
    const size_t pix = static_cast<size_t>(y) * dst_w + x;
    // NCHW: channel c at dst + (z * 3 + c) * plane + pix. NHWC (nhwc_ld > 0): the pixel's nhwc_ld channels at
    // dst + (z * plane + pix) * nhwc_ld, the ones after the third zero (the padding a convolution reads).
    T* out;
    size_t cstride;
    if (nhwc_ld > 0) {
        out = dst + (static_cast<size_t>(blockIdx.z) * plane + pix) * nhwc_ld;
        cstride = 1;
        for (int c = 3; c < nhwc_ld; ++c) out[c] = from_f<T>(0.f);
    } else {
        out = dst + static_cast<size_t>(blockIdx.z) * 3 * plane + pix;
        cstride = plane;
    }

    const int ix = x - j.pad_x;
    const int iy = y - j.pad_y;
    if (ix < 0 || iy < 0 || ix >= j.new_w || iy >= j.new_h) {
        const T pad = from_f<T>(unit(114));
        out[0] = pad;
        out[cstride] = pad;
        out[2 * cstride] = pad;
        return;
    }

    // Source pixel (sx, sy) as B, G, R.
    const uint8_t* src = j.src;
    const size_t stride = static_cast<size_t>(j.src_stride);
    const YuvCoeffs k = yuv_coeffs(j.bt709 != 0, j.full_range != 0);
    auto fetch = [&](int sx, int sy, int p[3]) {
        if (j.uv != nullptr) {
            nv12_pixel_bgr(src, j.uv, stride, sx, sy, k, p);
        } else {
            const uint8_t* q = src + static_cast<size_t>(sy) * stride + 3 * static_cast<size_t>(sx);
            p[0] = q[0];
            p[1] = q[1];
            p[2] = q[2];
        }
    };
    int bgr[3];
    if (j.mode == kLetterboxCopy) {
        fetch(ix, iy, bgr);
    } else if (j.mode == kLetterboxArea2x) {
        int a[3], b[3], c[3], d[3];
        fetch(2 * ix, 2 * iy, a);
        fetch(2 * ix + 1, 2 * iy, b);
        fetch(2 * ix, 2 * iy + 1, c);
        fetch(2 * ix + 1, 2 * iy + 1, d);
#pragma unroll
        for (int ch = 0; ch < 3; ++ch) bgr[ch] = (a[ch] + b[ch] + c[ch] + d[ch] + 2) >> 2;
    } else {
        // Horizontal tap: out-of-range taps collapse onto the border pixel with weights (2048, 0).
        Tap tx = make_tap(ix, j.scale_x);
        if (tx.s < 0) tx = {0, kCoefScale, 0};
        if (tx.s >= j.src_w - 1) tx = {j.src_w - 1, kCoefScale, 0};
        const int x0 = tx.s;
        const int x1 = tx.w1 != 0 ? tx.s + 1 : tx.s;
        // Vertical tap: rows are clamped, weights kept as computed.
        const Tap ty = make_tap(iy, j.scale_y);
        const int sy0 = min(max(ty.s, 0), j.src_h - 1);
        const int sy1 = min(max(ty.s + 1, 0), j.src_h - 1);
        int p00[3], p01[3], p10[3], p11[3];
        fetch(x0, sy0, p00);
        fetch(x1, sy0, p01);
        fetch(x0, sy1, p10);
        fetch(x1, sy1, p11);
#pragma unroll
        for (int ch = 0; ch < 3; ++ch) {
            const int h0 = p00[ch] * tx.w0 + p01[ch] * tx.w1;
            const int h1 = p10[ch] * tx.w0 + p11[ch] * tx.w1;
            bgr[ch] = vblend(h0, h1, ty.w0, ty.w1);
        }
    }
    out[0] = from_f<T>(unit(bgr[2]));            // R
    out[cstride] = from_f<T>(unit(bgr[1]));      // G
    out[2 * cstride] = from_f<T>(unit(bgr[0]));  // B
}

template <typename T>
cudaError_t launch(const LetterboxJob* jobs, int batch, int dst_w, int dst_h, T* dst, int nhwc_ld,
                   cudaStream_t stream) {
    if (batch <= 0 || dst_w <= 0 || dst_h <= 0) return cudaSuccess;
    if (jobs == nullptr || dst == nullptr || batch > 65535 || (nhwc_ld != 0 && nhwc_ld < 3)) return cudaErrorInvalidValue;
    const dim3 block(kBlockX, kBlockY);
    const dim3 grid((dst_w + kBlockX - 1) / kBlockX, (dst_h + kBlockY - 1) / kBlockY, batch);
    letterbox_kernel<T><<<grid, block, 0, stream>>>(jobs, dst_w, dst_h, dst, nhwc_ld);
    return cudaGetLastError();
}

}  // namespace

cudaError_t letterbox_bgr_u8_to_rgb_f32(const LetterboxJob* jobs_device, int batch, int dst_w, int dst_h, float* dst,
                                        cudaStream_t stream) {
    return launch<float>(jobs_device, batch, dst_w, dst_h, dst, 0, stream);
}

cudaError_t letterbox_bgr_u8_to_rgb_f16(const LetterboxJob* jobs_device, int batch, int dst_w, int dst_h, __half* dst,
                                        cudaStream_t stream) {
    return launch<__half>(jobs_device, batch, dst_w, dst_h, dst, 0, stream);
}

cudaError_t letterbox_bgr_u8_to_rgb_nhwc_f16(const LetterboxJob* jobs_device, int batch, int dst_w, int dst_h, int ld,
                                             __half* dst, cudaStream_t stream) {
    return launch<__half>(jobs_device, batch, dst_w, dst_h, dst, ld, stream);
}

}  // namespace itscam::vision::cuda_impl
