#include "vision/draw.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include <opencv2/imgproc.hpp>

namespace itscam::vision {

namespace {

// Ultralytics' plotting palette (RGB hex), in its order.
constexpr std::array<uint32_t, 20> kPaletteRgb = {
    0x042AFF, 0x0BDBEB, 0xF3F3F3, 0x00DFB7, 0x111F68, 0xFF6FDD, 0xFF444F, 0xCCED00, 0x00F344, 0xBD00FF,
    0x00B4FF, 0xDD00BA, 0x00FFFF, 0x26C000, 0x01FFB3, 0x7D24FF, 0x7B0068, 0xFF1B6C, 0xFC6D2F, 0xA2FF0B,
};

}  // namespace

cv::Scalar class_color_bgr(int class_id) {
    const uint32_t rgb = kPaletteRgb[static_cast<size_t>(std::max(class_id, 0)) % kPaletteRgb.size()];
    return cv::Scalar(rgb & 0xFF, (rgb >> 8) & 0xFF, (rgb >> 16) & 0xFF);
}

void draw_detections(cv::Mat& bgr, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                     const std::vector<int64_t>* track_ids) {
    if (bgr.empty() || bgr.type() != CV_8UC3) return;
    const int lw = std::max(static_cast<int>(std::nearbyint((bgr.rows + bgr.cols) / 2.0 * 0.003)), 2);
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
