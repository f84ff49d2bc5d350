// Reading an image file as interleaved 8-bit BGR, and writing one as PPM. Binary PPM (P6) and PGM (P5, grey
// replicated to BGR), maxval 255, go through our own decoder in every build; with OpenCV every other format
// cv::imread decodes. Without it (the GPU machine's build) PPM/PGM only, which any tool can produce
// (`ffmpeg -i x.jpg x.ppm`, cv2, ImageMagick), so `itscam val`/`detect` still run there on pre-converted images.
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
// Parses PPM (P6) or PGM (P5), maxval 255, comments allowed, from memory; the same checks as read_image_bgr.
bool decode_ppm(const uint8_t* data, size_t size, ImageBgr& out, std::string* err);
// True when data starts like a binary PPM or PGM ("P6", "P5").
bool is_pnm(const uint8_t* data, size_t size);
// Writes img as binary PPM (P6); false with a message when the file cannot be written.
bool write_ppm(const std::string& path, const ImageBgr& img, std::string* err);

}  // namespace itscam::vision
