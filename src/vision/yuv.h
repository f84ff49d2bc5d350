// NV12 (Y plane + interleaved CbCr at half resolution) to BGR, in integer arithmetic shared by the CPU and the GPU
// letterbox (vision/cuda/preprocess.cu), so that both give identical pixels. Chroma is taken from the 2x2 block a pixel
// belongs to (no interpolation), as FFmpeg's unscaled yuv420p -> bgr24 path does; coefficients are BT.601 or BT.709 in
// 8-bit fixed point, for limited (16..235) or full range input; output is full range.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define ITSCAM_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define ITSCAM_HOST_DEVICE inline
#endif

namespace itscam::vision {

// Fixed-point (x 256) coefficients of one matrix and range: R = (y*(Y-y_off) + rv*(V-128) + 128) >> 8, etc.
struct YuvCoeffs {
    int y_off, y, rv, gu, gv, bu;
};

// bt709: BT.709 (else BT.601). full_range: Y'CbCr use 0..255.
ITSCAM_HOST_DEVICE YuvCoeffs yuv_coeffs(bool bt709, bool full_range) {
    if (full_range) return bt709 ? YuvCoeffs{0, 256, 403, 48, 120, 475} : YuvCoeffs{0, 256, 359, 88, 183, 454};
    return bt709 ? YuvCoeffs{16, 298, 459, 55, 136, 541} : YuvCoeffs{16, 298, 409, 100, 208, 516};
}

ITSCAM_HOST_DEVICE int clamp_u8(int v) {
    return v < 0 ? 0 : (v > 255 ? 255 : v);
}

// The BGR pixel (x, y) of an NV12 image whose Y rows and CbCr rows are `stride` bytes apart.
ITSCAM_HOST_DEVICE void nv12_pixel_bgr(const uint8_t* y_plane, const uint8_t* uv_plane, size_t stride, int x, int y,
                                       const YuvCoeffs& k, int bgr[3]) {
    const int c = k.y * (static_cast<int>(y_plane[static_cast<size_t>(y) * stride + x]) - k.y_off) + 128;
    const uint8_t* uv = uv_plane + static_cast<size_t>(y >> 1) * stride + 2 * static_cast<size_t>(x >> 1);
    const int d = static_cast<int>(uv[0]) - 128;  // Cb
    const int e = static_cast<int>(uv[1]) - 128;  // Cr
    bgr[0] = clamp_u8((c + k.bu * d) >> 8);
    bgr[1] = clamp_u8((c - k.gu * d - k.gv * e) >> 8);
    bgr[2] = clamp_u8((c + k.rv * e) >> 8);
}

// A whole NV12 image to BGR24 (the CPU path of device-decoded frames, and the GPU kernel's reference).
// width and height must be even; strides in bytes.
void nv12_to_bgr(const uint8_t* y_plane, const uint8_t* uv_plane, size_t stride, int width, int height, bool bt709,
                 bool full_range, uint8_t* bgr, size_t bgr_stride);

}  // namespace itscam::vision
