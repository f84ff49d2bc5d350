// Reading an image file as interleaved 8-bit BGR. With OpenCV: every format cv::imread decodes. Without it (the GPU
// machine's build): binary PPM (P6, maxval 255) only, which any tool can produce (`ffmpeg -i x.jpg x.ppm`, cv2,
// ImageMagick), so `itscam val`/`detect` still run there on pre-converted images.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace itscam::vision {

struct ImageBgr {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> bgr;  // width * height * 3, rows packed
};

// False (with a message in *err) for a missing, unreadable, truncated or unsupported file; never throws.
bool read_image_bgr(const std::string& path, ImageBgr& out, std::string* err);
// Parses PPM (P6, maxval 255, comments allowed) from memory; the same checks as read_image_bgr.
bool decode_ppm(const uint8_t* data, size_t size, ImageBgr& out, std::string* err);

}  // namespace itscam::vision
