#include "analytics/cross_class_dedup.h"

#include <algorithm>
#include <numeric>

#include "analytics/kalman_box.h"

namespace itscam::analytics {

namespace {

BoxXyxy box_of(const vision::Detection& d) { return {d.x1, d.y1, d.x2, d.y2}; }

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
            if (keep[j] && dets[j].class_id != dets[i].class_id && box_iou(box_of(dets[i]), box_of(dets[j])) >= iou) keep[j] = 0;
        }
    }
    std::vector<vision::Detection> out;
    out.reserve(dets.size());
    for (size_t i = 0; i < dets.size(); ++i)
        if (keep[i]) out.push_back(dets[i]);
    return out;
}

}  // namespace itscam::analytics
