// Launchers of the GPU letterbox (vision/cuda/preprocess.cu). This header sees no framework types: plain pointers,
// ints and a cudaStream_t, so that the .cu file builds with nvcc alone. Every launcher only enqueues work on `stream`
// and returns cudaGetLastError() (launch errors; execution errors surface at the next synchronization).
//
// NV12 sources are converted per source pixel with vision/yuv.h's nv12_pixel_bgr, so an NV12 frame gives exactly the
// pixels of letterbox_bgr_u8_to_rgb_f32(nv12_to_bgr(frame)).
//
// The kernel reproduces vision/letterbox.cpp (letterbox_bgr_u8_to_rgb_f32) bit for bit: the same geometry (taken from
// letterbox_info on the host), OpenCV 4.6's fixed-point INTER_LINEAR resize (11-bit weights computed in-kernel with
// the same double -> float arithmetic, the same vertical blend with its truncations), the 2x2 INTER_AREA shortcut for
// exact 2x downscales, the plain copy when the size does not change, pad value 114, and value / 255 as a correctly
// rounded float division.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cmath>
#include <cstdint>

namespace itscam::vision::cuda_impl {

// How one frame is resized before padding (as resize_linear_u8 decides).
enum LetterboxMode : int {
    kLetterboxCopy = 0,    // new size == source size: pixels are copied
    kLetterboxArea2x = 1,  // exact 2x downscale: (a + b + c + d + 2) >> 2 per 2x2 block
    kLetterboxLinear = 2,  // fixed-point bilinear
};

// One frame of a batch. An array of these lives in device memory (the kernel reads jobs[blockIdx.z]).
struct LetterboxJob {
    const uint8_t* src;    // BGR interleaved pixels, or NV12's Y plane; readable by the device (device memory or
                           // mapped pinned memory)
    const uint8_t* uv;     // NV12: the interleaved CbCr plane (rows src_stride bytes apart); null: src is BGR
    long long src_stride;  // bytes between source rows (>= 3 * src_w for BGR, >= src_w for NV12)
    int bt709;             // NV12: 1 BT.709, 0 BT.601 (vision/yuv.h)
    int full_range;        // NV12: 1 when Y'CbCr span 0..255
    int src_w, src_h;      // source size
    int new_w, new_h;      // resized size (LetterboxInfo::new_w/new_h)
    int pad_x, pad_y;      // top-left of the resized image inside the destination
    double scale_x;        // OpenCV's inverse scale 1 / (new_w / src_w) (set by letterbox_job_finalize)
    double scale_y;
    int mode;  // LetterboxMode (set by letterbox_job_finalize)
    int reserved;
};

// Sets mode, scale_x and scale_y from src_w/src_h/new_w/new_h exactly as letterbox_bgr_u8_to_rgb_f32 and
// resize_linear_u8 decide them on the CPU. Host code.
inline void letterbox_job_finalize(LetterboxJob& j) {
    j.scale_x = 1.0 / (static_cast<double>(j.new_w) / j.src_w);
    j.scale_y = 1.0 / (static_cast<double>(j.new_h) / j.src_h);
    if (j.new_w == j.src_w && j.new_h == j.src_h) {
        j.mode = kLetterboxCopy;
    } else if (std::abs(j.scale_x - 2.0) < DBL_EPSILON && std::abs(j.scale_y - 2.0) < DBL_EPSILON) {
        j.mode = kLetterboxArea2x;
    } else {
        j.mode = kLetterboxLinear;
    }
    j.reserved = 0;
}

// Letterboxes `batch` frames into dst, dense [batch, 3, dst_h, dst_w], RGB planes, value / 255 (pad 114 / 255).
// jobs_device: `batch` finalized jobs in device memory. batch <= 65535.
cudaError_t letterbox_bgr_u8_to_rgb_f32(const LetterboxJob* jobs_device, int batch, int dst_w, int dst_h, float* dst,
                                        cudaStream_t stream);
// Same, fp16 output: the float value above rounded to nearest half.
cudaError_t letterbox_bgr_u8_to_rgb_f16(const LetterboxJob* jobs_device, int batch, int dst_w, int dst_h, __half* dst,
                                        cudaStream_t stream);
// The same values as the fp16 NCHW output, written NHWC with `ld` (>= 3) channels per pixel, R, G, B then zeros:
// the layout and padding of the backend's fp16 convolution input (its "to NHWC" step's output).
cudaError_t letterbox_bgr_u8_to_rgb_nhwc_f16(const LetterboxJob* jobs_device, int batch, int dst_w, int dst_h, int ld,
                                             __half* dst, cudaStream_t stream);

}  // namespace itscam::vision::cuda_impl
