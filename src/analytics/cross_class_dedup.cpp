#include "analytics/cross_class_dedup.h"

#include <algorithm>
#include <numeric>

namespace itscam::analytics {

namespace {

float iou_of(const vision::Detection& a, const vision::Detection& b) {
    const float w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
    const float h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
    if (w <= 0 || h <= 0) return 0;
    const float inter = w * h;
    const float ua = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return ua > 0 ? inter / ua : 0;
}

}  // namespace

std::vector<vision::Detection> drop_cross_class_duplicates(const std::vector<vision::Detection>& dets, float iou) {
    std::vector<size_t> order(dets.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return dets[a].score > dets[b].score; });
    std::vector<char> keep(dets.size(), 1);
    for (size_t oi = 0; oi < order.size(); ++oi) {
        const size_t i = order[oi];
        if (!keep[i]) continue;
        for (size_t oj = oi + 1; oj < order.size(); ++oj) {
            const size_t j = order[oj];
            if (keep[j] && dets[j].class_id != dets[i].class_id && iou_of(dets[i], dets[j]) >= iou) keep[j] = 0;
        }
    }
    std::vector<vision::Detection> out;
    out.reserve(dets.size());
    for (size_t i = 0; i < dets.size(); ++i)
        if (keep[i]) out.push_back(dets[i]);
    return out;
}

}  // namespace itscam::analytics
