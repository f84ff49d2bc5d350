#include "vision/palette.h"

#include <algorithm>
#include <cmath>

namespace itscam::vision {

namespace {

// Ultralytics' plotting palette (RGB hex), in its order.
constexpr std::array<uint32_t, 20> kPaletteRgb = {
    0x042AFF, 0x0BDBEB, 0xF3F3F3, 0x00DFB7, 0x111F68, 0xFF6FDD, 0xFF444F, 0xCCED00, 0x00F344, 0xBD00FF,
    0x00B4FF, 0xDD00BA, 0x00FFFF, 0x26C000, 0x01FFB3, 0x7D24FF, 0x7B0068, 0xFF1B6C, 0xFC6D2F, 0xA2FF0B,
};

}  // namespace

std::array<uint8_t, 3> class_color_bgr8(int class_id) {
    const uint32_t rgb = kPaletteRgb[static_cast<size_t>(std::max(class_id, 0)) % kPaletteRgb.size()];
    return {static_cast<uint8_t>(rgb & 0xFF), static_cast<uint8_t>((rgb >> 8) & 0xFF),
            static_cast<uint8_t>((rgb >> 16) & 0xFF)};
}

int box_line_width(int width, int height) {
    return std::max(static_cast<int>(std::nearbyint((height + width) / 2.0 * 0.003)), 2);
}

}  // namespace itscam::vision
