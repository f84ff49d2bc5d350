#include "vision/draw_boxes.h"

#include <algorithm>
#include <array>

#include "vision/palette.h"

namespace itscam::vision {

namespace {

// Fills the rectangle [x0, x1] x [y0, y1] (inclusive), clipped to the image.
void fill(ImageBgr& img, int x0, int y0, int x1, int y1, const std::array<uint8_t, 3>& c) {
    x0 = std::max(x0, 0);
    y0 = std::max(y0, 0);
    x1 = std::min(x1, img.width - 1);
    y1 = std::min(y1, img.height - 1);
    for (int y = y0; y <= y1; ++y) {
        uint8_t* row = img.bgr.data() + static_cast<size_t>(y) * img.width * 3;
        for (int x = x0; x <= x1; ++x) std::copy(c.begin(), c.end(), row + static_cast<size_t>(x) * 3);
    }
}

}  // namespace

void draw_boxes(ImageBgr& img, const std::vector<Detection>& dets) {
    if (img.width <= 0 || img.height <= 0 || img.bgr.size() != static_cast<size_t>(img.width) * img.height * 3) return;
    const int lw = box_line_width(img.width, img.height);
    const int before = lw / 2, after = lw - 1 - before;  // the line is centred on the box edge, as OpenCV draws it
    for (const Detection& d : dets) {
        const auto c = class_color_bgr8(d.class_id);
        const int x1 = static_cast<int>(d.x1), y1 = static_cast<int>(d.y1);
        const int x2 = static_cast<int>(d.x2), y2 = static_cast<int>(d.y2);
        fill(img, x1 - before, y1 - before, x2 + after, y1 + after, c);  // top
        fill(img, x1 - before, y2 - before, x2 + after, y2 + after, c);  // bottom
        fill(img, x1 - before, y1 - before, x1 + after, y2 + after, c);  // left
        fill(img, x2 - before, y1 - before, x2 + after, y2 + after, c);  // right
    }
}

}  // namespace itscam::vision
