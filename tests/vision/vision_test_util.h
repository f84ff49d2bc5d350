// Helpers shared by the vision tests: paths into the shared data folder and golden detection comparison.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "vision/detection.h"

namespace itscam::vision::test {

inline std::string shared_path(const std::string& rel) {
    return std::string(ITSCAM_SHARED_DIR) + "/" + rel;
}

// A scratch file name unique to the running test, so that tests run in parallel by ctest never share one.
inline std::string temp_path(const std::string& name) {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string test = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "none";
    return std::string(ITSCAM_BINARY_DIR) + "/vision_test_" + test + "_" + name;
}

// Parses a JSON file; a failure is reported as a test failure and yields null.
inline nlohmann::json load_json(const std::string& path) {
    std::ifstream f(path);
    EXPECT_TRUE(f.good()) << "cannot open " << path;
    if (!f) return nullptr;
    nlohmann::json j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "invalid JSON in " << path;
    return j;
}

// The "detections" array of a reference.py JSON file.
inline std::vector<Detection> detections_from_json(const nlohmann::json& j) {
    std::vector<Detection> out;
    for (const auto& d : j.at("detections")) {
        const auto& b = d.at("box");
        out.push_back({d.at("class_id").get<int>(), d.at("score").get<float>(), b[0].get<float>(), b[1].get<float>(),
                       b[2].get<float>(), b[3].get<float>()});
    }
    return out;
}

inline double iou(const Detection& a, const Detection& b) {
    const double w = std::max(0.0, std::min<double>(a.x2, b.x2) - std::max<double>(a.x1, b.x1));
    const double h = std::max(0.0, std::min<double>(a.y2, b.y2) - std::max<double>(a.y1, b.y1));
    const double inter = w * h;
    const double ua = double(a.x2 - a.x1) * (a.y2 - a.y1) + double(b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return ua > 0 ? inter / ua : 0.0;
}

// README's rule for detections: same count, matched one-to-one by class with IoU >= min_iou and |score delta| <=
// max_score_delta. Matching is greedy by IoU per golden detection.
inline void expect_detections_match(const std::vector<Detection>& got, const std::vector<Detection>& want,
                                    double min_iou = 0.98, double max_score_delta = 0.01) {
    ASSERT_EQ(got.size(), want.size());
    std::vector<char> used(got.size(), 0);
    for (size_t i = 0; i < want.size(); ++i) {
        int best = -1;
        double best_iou = -1;
        for (size_t k = 0; k < got.size(); ++k) {
            if (used[k] || got[k].class_id != want[i].class_id) continue;
            const double v = iou(got[k], want[i]);
            if (v > best_iou) best_iou = v, best = static_cast<int>(k);
        }
        ASSERT_GE(best, 0) << "no detection of class " << want[i].class_id << " for golden #" << i;
        used[best] = 1;
        EXPECT_GE(best_iou, min_iou) << "golden #" << i;
        EXPECT_LE(std::abs(got[best].score - want[i].score), max_score_delta) << "golden #" << i;
    }
}

}  // namespace itscam::vision::test
