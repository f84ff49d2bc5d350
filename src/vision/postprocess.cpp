#include "vision/postprocess.h"

#include <algorithm>
#include <charconv>

namespace itscam::vision {

double float_as_decimal(float v) {
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof(buf), v);
    double d = v;
    std::from_chars(buf, res.ptr, d);
    return d;
}

namespace {

// Greedy NMS over score-sorted detections, stopping once max_keep boxes are kept (the kept prefix is the same as a
// full run truncated afterwards). The reference adds class_id * max_wh (an int64) to float32 boxes, which numpy
// promotes to float64, so the offset boxes, areas and IoU are all evaluated in double here too.
std::vector<int> nms_sorted_limited(const std::vector<Detection>& dets, double iou_thres, bool agnostic, double max_wh,
                                    size_t max_keep) {
    const size_t n = dets.size();
    std::vector<double> x1(n), y1(n), x2(n), y2(n), area(n);
    for (size_t i = 0; i < n; ++i) {
        const double off = agnostic ? 0.0 : static_cast<double>(dets[i].class_id) * max_wh;
        x1[i] = static_cast<double>(dets[i].x1) + off;
        y1[i] = static_cast<double>(dets[i].y1) + off;
        x2[i] = static_cast<double>(dets[i].x2) + off;
        y2[i] = static_cast<double>(dets[i].y2) + off;
        area[i] = (x2[i] - x1[i]) * (y2[i] - y1[i]);
    }
    std::vector<int> keep;
    std::vector<char> removed(n, 0);
    for (size_t i = 0; i < n && keep.size() < max_keep; ++i) {
        if (removed[i]) continue;
        keep.push_back(static_cast<int>(i));
        for (size_t j = i + 1; j < n; ++j) {
            if (removed[j]) continue;
            const double w = std::max(std::min(x2[i], x2[j]) - std::max(x1[i], x1[j]), 0.0);
            const double h = std::max(std::min(y2[i], y2[j]) - std::max(y1[i], y1[j]), 0.0);
            const double inter = w * h;
            const double iou = inter / (area[i] + area[j] - inter + 1e-9);
            // Written as !(iou <= thr) so that a NaN IoU suppresses, as numpy's mask `iou <= thr` drops it.
            if (!(iou <= iou_thres)) removed[j] = 1;
        }
    }
    return keep;
}

}  // namespace

std::vector<int> nms_sorted(const std::vector<Detection>& dets, float iou_thres, bool agnostic, float max_wh) {
    return nms_sorted_limited(dets, float_as_decimal(iou_thres), agnostic, max_wh, dets.size());
}

std::vector<Detection> yolo_decode_nms(const float* out, int num_channels, int num_anchors, const NmsOptions& opt) {
    if (out == nullptr || num_channels < 5 || num_anchors <= 0 || opt.max_det <= 0) return {};
    const size_t anchors = static_cast<size_t>(num_anchors);
    const int nc = num_channels - 4;

    // Argmax over classes, walking the channel-major tensor row by row so that memory is read sequentially; the strict
    // > keeps the first maximum like numpy's argmax.
    const float* scores = out + 4 * anchors;
    std::vector<float> best(scores, scores + anchors);
    std::vector<int> best_cls(anchors, 0);
    for (int c = 1; c < nc; ++c) {
        const float* row = scores + static_cast<size_t>(c) * anchors;
        for (size_t a = 0; a < anchors; ++a) {
            if (row[a] > best[a]) {
                best[a] = row[a];
                best_cls[a] = c;
            }
        }
    }

    std::vector<int> cand;
    for (size_t a = 0; a < anchors; ++a) {
        if (!(best[a] > opt.conf)) continue;
        if (!opt.classes.empty() &&
            std::find(opt.classes.begin(), opt.classes.end(), best_cls[a]) == opt.classes.end()) {
            continue;
        }
        cand.push_back(static_cast<int>(a));
    }
    std::stable_sort(cand.begin(), cand.end(), [&](int a, int b) { return best[a] > best[b]; });
    if (opt.max_nms >= 0 && cand.size() > static_cast<size_t>(opt.max_nms)) cand.resize(opt.max_nms);

    std::vector<Detection> boxes;
    boxes.reserve(cand.size());
    for (int a : cand) {
        // float32 arithmetic, as the reference does on the float32 tensor.
        const float cx = out[a], cy = out[anchors + a], w = out[2 * anchors + a], h = out[3 * anchors + a];
        boxes.push_back({best_cls[a], best[a], cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2});
    }

    const std::vector<int> keep = nms_sorted_limited(boxes, float_as_decimal(opt.iou), opt.agnostic, opt.max_wh,
                                                     static_cast<size_t>(opt.max_det));
    std::vector<Detection> result;
    result.reserve(keep.size());
    for (int i : keep) result.push_back(boxes[i]);
    return result;
}

void scale_boxes_to_image(std::vector<Detection>& dets, const LetterboxInfo& info) {
    if (info.scale <= 0.f) return;
    const float px = static_cast<float>(info.pad_x), py = static_cast<float>(info.pad_y);
    const float w = static_cast<float>(info.src_w), h = static_cast<float>(info.src_h);
    for (Detection& d : dets) {
        d.x1 = std::clamp((d.x1 - px) / info.scale, 0.f, w);
        d.x2 = std::clamp((d.x2 - px) / info.scale, 0.f, w);
        d.y1 = std::clamp((d.y1 - py) / info.scale, 0.f, h);
        d.y2 = std::clamp((d.y2 - py) / info.scale, 0.f, h);
    }
}

}  // namespace itscam::vision
