#include "vision/draw.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "vision/palette.h"

namespace itscam::vision {

cv::Scalar class_color_bgr(int class_id) {
    const std::array<uint8_t, 3> c = class_color_bgr8(class_id);
    return cv::Scalar(c[0], c[1], c[2]);
}

void draw_detections(cv::Mat& bgr, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                     const std::vector<int64_t>* track_ids) {
    if (bgr.empty() || bgr.type() != CV_8UC3) return;
    const int lw = box_line_width(bgr.cols, bgr.rows);
    const int tf = std::max(lw - 1, 1);
    const double sf = lw / 3.0;
    const bool tracked = track_ids && track_ids->size() == dets.size();
    for (size_t i = 0; i < dets.size(); ++i) {
        const Detection& d = dets[i];
        const cv::Scalar color = class_color_bgr(d.class_id);
        const cv::Point p1(static_cast<int>(d.x1), static_cast<int>(d.y1));
        const cv::Point p2(static_cast<int>(d.x2), static_cast<int>(d.y2));
        cv::rectangle(bgr, p1, p2, color, lw, cv::LINE_AA);

        const bool named = d.class_id >= 0 && static_cast<size_t>(d.class_id) < names.size();
        char score[16];
        std::snprintf(score, sizeof(score), "%.2f", d.score);
        const std::string track =
            tracked && (*track_ids)[i] > 0 ? " #" + std::to_string((*track_ids)[i]) : std::string();
        const std::string label = (named ? names[d.class_id] : std::to_string(d.class_id)) + track + " " + score;
        int baseline = 0;
        const cv::Size ts = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, sf, tf, &baseline);
        // Label above the box when it fits, else inside below the top edge; shifted left/up to stay in the image.
        const bool outside = p1.y >= ts.height + 3;
        const int x0 = std::clamp(p1.x, 0, std::max(bgr.cols - ts.width, 0));
        const int y_top = std::clamp(outside ? p1.y - ts.height - 3 : p1.y, 0, std::max(bgr.rows - ts.height - 3, 0));
        cv::rectangle(bgr, cv::Point(x0, y_top), cv::Point(x0 + ts.width, y_top + ts.height + 3), color, cv::FILLED,
                      cv::LINE_AA);
        // Dark text on light palette entries, white on the others (perceived luminance, ITU-R BT.601 weights).
        const double luma = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2];
        const cv::Scalar text = luma > 160 ? cv::Scalar(17, 31, 104) : cv::Scalar(255, 255, 255);
        cv::putText(bgr, label, cv::Point(x0, y_top + ts.height + 1), cv::FONT_HERSHEY_SIMPLEX, sf, text, tf,
                    cv::LINE_AA);
    }
}

}  // namespace itscam::vision
