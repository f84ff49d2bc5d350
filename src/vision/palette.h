// Ultralytics' 20-colour plotting palette and box line width, shared by the OpenCV drawing (draw.h) and the plain
// box drawing of builds without OpenCV (draw_boxes.h).
#pragma once

#include <array>
#include <cstdint>

namespace itscam::vision {

// B, G, R of a class's colour (cycled by class id; negative ids map to 0).
std::array<uint8_t, 3> class_color_bgr8(int class_id);
// The line width of boxes on a width x height image: max(round((h + w) / 2 * 0.003), 2).
int box_line_width(int width, int height);

}  // namespace itscam::vision
