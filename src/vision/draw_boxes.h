// Detection boxes drawn into a packed BGR image without OpenCV (what `itscam detect --save-dir` writes in builds
// without it, as PPM): outlines in the class palette and width of draw.h, no labels (there is no font; the JSON
// carries names and scores).
#pragma once

#include <vector>

#include "vision/detection.h"
#include "vision/image_io.h"

namespace itscam::vision {

// Boxes in img's pixel coordinates; the parts outside the image are left out. An image whose buffer does not match
// its size is left untouched.
void draw_boxes(ImageBgr& img, const std::vector<Detection>& dets);

}  // namespace itscam::vision
