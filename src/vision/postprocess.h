// Decoding of the raw YOLO11 detect head output and class-aware NMS, reproducing Ultralytics' non_max_suppression as
// written in /work/shared/tools/reference/reference.py. Functions are pure and thread-safe.
#pragma once

#include <vector>

#include "vision/detection.h"
#include "vision/letterbox.h"

namespace itscam::vision {

// Decodes one image's raw output, laid out channel-major [4 + nc][num_anchors] (the 1x84x8400 tensor without its batch
// dimension): rows 0..3 are cx, cy, w, h in model-input pixels, rows 4.. are class scores. Per anchor the best class
// (first maximum) is kept if its score > opt.conf; candidates are sorted by score (descending, stable), cut to
// opt.max_nms, and suppressed greedily per class. Returns at most opt.max_det detections in model-input pixels, best
// first. An invalid layout (num_channels < 5, num_anchors <= 0, null out) or max_det <= 0 returns no detections.
std::vector<Detection> yolo_decode_nms(const float* out, int num_channels, int num_anchors, const NmsOptions& opt);

// Greedy NMS over detections that are already sorted by descending score: returns the indices kept, in order.
// Boxes of different classes never suppress each other unless agnostic. IoU uses a 1e-9 guard in the denominator and
// boxes are kept while IoU <= iou_thres.
std::vector<int> nms_sorted(const std::vector<Detection>& dets, float iou_thres, bool agnostic, float max_wh = 7680.f);

// The IoU threshold as the reference sees it: the reference compares float64 IoUs against the Python float the user
// wrote (0.7), not against float(0.7) = 0.699999988. The shortest decimal that round-trips the float recovers that
// value. The CPU and GPU NMS both use this, so they keep the same boxes bit for bit.
double float_as_decimal(float v);

// Maps boxes from model-input pixels to original-image pixels: (p - pad) / scale, then clips x to [0, src_w] and
// y to [0, src_h].
void scale_boxes_to_image(std::vector<Detection>& dets, const LetterboxInfo& info);

}  // namespace itscam::vision
