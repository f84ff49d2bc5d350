// Detection results and NMS options shared by the decoders, drawing and metrics.
#pragma once

#include <vector>

namespace itscam::vision {

// One detected object. Coordinates are x1, y1 (top-left) and x2, y2 (bottom-right) in pixels: model-input pixels
// straight out of the decoder, original-image pixels after scale_boxes_to_image().
struct Detection {
    int class_id;
    float score;
    float x1, y1, x2, y2;
};

// Ultralytics non_max_suppression settings (multi_label=False).
struct NmsOptions {
    float conf = 0.25f;        // keep candidates with score > conf (strict)
    float iou = 0.7f;          // suppress a box whose IoU with a kept box is > iou
    int max_det = 300;         // at most this many detections per image
    bool agnostic = false;     // true: one NMS over all classes
    std::vector<int> classes;  // empty = all classes; otherwise keep only these class ids
    int max_nms = 30000;       // at most this many candidates (highest scores) enter NMS
    float max_wh = 7680.f;     // class offset that keeps boxes of different classes apart in class-aware NMS
};

}  // namespace itscam::vision
