// One object, one box: the detector's NMS is class-aware (Ultralytics' default), so a bus can come out as a bus
// box and a truck box at the same place, and a van as a car and a truck. Counting both would count the vehicle
// twice; the tracker gets the higher-scoring box of every such pair instead.
#pragma once

#include <vector>

#include "vision/detection.h"

namespace itscam::analytics {

inline constexpr float kCrossClassIou = 0.7f;

// The detections to track: every detection except those that overlap a higher-scoring detection of another class
// with IoU >= iou (ties keep the earlier one). Order is kept.
std::vector<vision::Detection> drop_cross_class_duplicates(const std::vector<vision::Detection>& dets,
                                                           float iou = kCrossClassIou);

}  // namespace itscam::analytics
