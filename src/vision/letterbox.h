// Letterbox preprocessing, bit-compatible with Ultralytics LetterBox(auto=False, scaleup=True, center=True) on top of
// OpenCV 4.6's cv::resize(INTER_LINEAR) for 8-bit images, implemented without OpenCV so that a GPU kernel can mirror
// it exactly. All functions are pure and thread-safe; buffers are owned by the caller.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV
#include <opencv2/core.hpp>
#endif

namespace itscam::vision {

// Geometry of one letterbox: the source is resized to new_w x new_h and placed at (pad_x, pad_y) inside dst_w x dst_h.
// A point in model-input pixels maps back to the source as (p - pad) / scale.
struct LetterboxInfo {
    float scale;  // r = min(dst_h / src_h, dst_w / src_w), stored as float because Ultralytics divides float32 boxes
    int pad_x;    // left padding
    int pad_y;    // top padding
    int src_w;
    int src_h;
    int dst_w;
    int dst_h;
    int new_w;  // resized width before padding
    int new_h;  // resized height before padding
};

// Padding value Ultralytics uses on all channels.
inline constexpr uint8_t kLetterboxPadValue = 114;

// Computes the letterbox geometry exactly as Ultralytics does (Python's round() is half-to-even).
// Sizes must be positive.
LetterboxInfo letterbox_info(int src_w, int src_h, int dst_w, int dst_h);

// Resizes an interleaved 8-bit image (1..4 channels) with bilinear interpolation, reproducing OpenCV 4.6's
// cv::resize(..., INTER_LINEAR) bit for bit on x86-64 (including its 2x2 INTER_AREA shortcut for exact 2x downscales
// and the plain copy when the size does not change). Returns false on invalid arguments (non-positive sizes,
// channels outside 1..4, strides smaller than a row). Strides are in bytes.
bool resize_linear_u8(const uint8_t* src, int src_w, int src_h, size_t src_stride_bytes, int channels, uint8_t* dst,
                      int dst_w, int dst_h, size_t dst_stride_bytes);

// Letterboxes a BGR 8-bit interleaved image into a dst_w x dst_h float CHW buffer (3 planes, RGB order, value/255).
// out_chw must hold 3 * dst_w * dst_h floats. Output is bit-identical to reference.py's model input when the BGR pixels
// are identical. Invalid sizes (non-positive) leave out_chw untouched.
void letterbox_bgr_u8_to_rgb_f32(const uint8_t* bgr, int src_w, int src_h, size_t src_stride_bytes, int dst_w,
                                 int dst_h, float* out_chw);

#if defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV
// Same as letterbox_bgr_u8_to_rgb_f32 for a CV_8UC3 BGR image (any step). Returns the geometry; a non-CV_8UC3 or empty
// image returns an info with src_w = src_h = 0 and leaves out_chw untouched.
LetterboxInfo letterbox(const cv::Mat& bgr, int dst_w, int dst_h, float* out_chw);
#endif

}  // namespace itscam::vision
