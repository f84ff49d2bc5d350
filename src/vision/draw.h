// Ultralytics-style drawing of detections onto a BGR image (OpenCV builds only). Not thread-safe on the same image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "vision/detection.h"

namespace itscam::vision {

// BGR color of a class in Ultralytics' 20-color palette (cycled by class id; negative ids map to 0).
cv::Scalar class_color_bgr(int class_id);

// Draws each detection (boxes in bgr's pixel coordinates) as a box of width max(round((h + w) / 2 * 0.003), 2)
// with a filled "name score" label above it (below it when there is no room above), kept inside the image.
// Class ids outside names are labelled with their number. With track_ids (parallel to dets; 0 = no track yet), a
// tracked detection's label carries its id: "car #12 0.87". bgr must be CV_8UC3; other types are left untouched.
void draw_detections(cv::Mat& bgr, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                     const std::vector<int64_t>* track_ids = nullptr);

}  // namespace itscam::vision
