#include "vision/yuv.h"

namespace itscam::vision {

void nv12_to_bgr(const uint8_t* y_plane, const uint8_t* uv_plane, size_t stride, int width, int height, bool bt709,
                 bool full_range, uint8_t* bgr, size_t bgr_stride) {
    const YuvCoeffs k = yuv_coeffs(bt709, full_range);
    for (int y = 0; y < height; ++y) {
        uint8_t* row = bgr + static_cast<size_t>(y) * bgr_stride;
        for (int x = 0; x < width; ++x) {
            int p[3];
            nv12_pixel_bgr(y_plane, uv_plane, stride, x, y, k, p);
            row[3 * x] = static_cast<uint8_t>(p[0]);
            row[3 * x + 1] = static_cast<uint8_t>(p[1]);
            row[3 * x + 2] = static_cast<uint8_t>(p[2]);
        }
    }
}

}  // namespace itscam::vision
