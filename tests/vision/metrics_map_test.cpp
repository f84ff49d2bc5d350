#include "vision/metrics_map.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vision_test_util.h"

#if defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

namespace itscam::vision {
namespace {

// Under coco_map.py's np.interp, recall 1.0 interpolates to the final precision 0, so even a perfect class scores
// 1 - 0.5 * 0.01 = 0.995 (as in Ultralytics val), not 1.0.
constexpr double kPerfectAp = 0.995;

TEST(MapEvaluator, PerfectDetectionsScore0995) {
    MapEvaluator ev;
    ev.add_image({{0, 10, 10, 50, 50}, {1, 60, 60, 90, 100}}, {{0, 0.9f, 10, 10, 50, 50}, {1, 0.8f, 60, 60, 90, 100}});
    ev.add_image({{0, 0, 0, 20, 20}}, {{0, 0.7f, 0, 0, 20, 20}});
    const MapResult r = ev.compute();
    EXPECT_NEAR(r.map50_95, kPerfectAp, 1e-12);
    EXPECT_NEAR(r.map50, kPerfectAp, 1e-12);
    EXPECT_EQ(r.num_images, 2);
    EXPECT_EQ(r.num_classes, 2);
    EXPECT_EQ(r.class_ids, (std::vector<int>{0, 1}));
}

TEST(MapEvaluator, NoDetectionsScoreZero) {
    MapEvaluator ev;
    ev.add_image({{0, 10, 10, 50, 50}}, {});
    ev.add_image({}, {});
    const MapResult r = ev.compute();
    EXPECT_EQ(r.map50_95, 0.0);
    EXPECT_EQ(r.map50, 0.0);
    EXPECT_EQ(r.num_images, 2);
    EXPECT_EQ(r.num_classes, 1);
}

TEST(MapEvaluator, EmptyDatasetIsZero) {
    const MapResult r = MapEvaluator().compute();
    EXPECT_EQ(r.map50_95, 0.0);
    EXPECT_EQ(r.num_classes, 0);
}

TEST(MapEvaluator, WrongClassIsNotAMatch) {
    MapEvaluator ev;
    ev.add_image({{0, 10, 10, 50, 50}}, {{3, 0.9f, 10, 10, 50, 50}});
    const MapResult r = ev.compute();
    EXPECT_EQ(r.map50, 0.0);
    EXPECT_EQ(r.num_classes, 1);  // class 3 has no ground truth: ignored
}

TEST(MapEvaluator, ClassesWithoutGroundTruthAreIgnored) {
    MapEvaluator a, b;
    a.add_image({{0, 10, 10, 50, 50}}, {{0, 0.9f, 10, 10, 50, 50}});
    b.add_image({{0, 10, 10, 50, 50}}, {{0, 0.9f, 10, 10, 50, 50}, {5, 0.95f, 10, 10, 50, 50}});
    EXPECT_EQ(a.compute().map50_95, b.compute().map50_95);
}

TEST(MapEvaluator, IouBetweenThresholdsCountsHalf) {
    // IoU = 36 / 50 = 0.72: a true positive at 0.50 .. 0.70 (5 of 10 thresholds).
    MapEvaluator ev;
    ev.add_image({{0, 0, 0, 10, 5}}, {{0, 0.9f, 0, 0, 10, 3.6f}});
    const MapResult r = ev.compute();
    EXPECT_NEAR(r.map50, kPerfectAp, 1e-12);
    EXPECT_NEAR(r.map50_95, kPerfectAp / 2, 1e-6);
}

TEST(MapEvaluator, FalsePositiveOnUnlabelledImageLowersPrecision) {
    // Sorted: FP (0.95) then TP (0.9) -> precision envelope 0.5 over recall [0, 1): AP = 0.5 * 0.99 + 0.25 * 0.01.
    MapEvaluator ev;
    ev.add_image({{0, 10, 10, 50, 50}}, {{0, 0.9f, 10, 10, 50, 50}});
    ev.add_image({}, {{0, 0.95f, 10, 10, 50, 50}});
    const MapResult r = ev.compute();
    EXPECT_NEAR(r.map50, 0.4975, 1e-12);
    EXPECT_NEAR(r.map50_95, 0.4975, 1e-12);
    EXPECT_EQ(r.num_images, 2);
}

TEST(MapEvaluator, DuplicateDetectionIsFalsePositive) {
    MapEvaluator ev;
    ev.add_image({{0, 10, 10, 50, 50}}, {{0, 0.9f, 10, 10, 50, 50}, {0, 0.8f, 10, 10, 50, 50}});
    // TP then FP: recall reaches 1 at precision 1, so the duplicate costs nothing.
    EXPECT_NEAR(ev.compute().map50, kPerfectAp, 1e-12);
    MapEvaluator worse;
    worse.add_image({{0, 10, 10, 50, 50}}, {{0, 0.8f, 10, 10, 50, 50}, {0, 0.9f, 12, 12, 50, 50}});
    // Both match; the label goes to the first detection in list order at each threshold it passes.
    EXPECT_LT(worse.compute().map50_95, kPerfectAp);
}

TEST(MapEvaluator, LabelGoesToEarlierDetectionNotHighestIou) {
    // coco_map.py's second np.unique runs on matches ordered by detection index, so a label matched by two
    // detections goes to the earlier (higher-scored) one even when the later one overlaps more.
    // A: IoU 0.62, score 0.9; B: IoU 0.92, score 0.8.
    //   thresholds 0.50..0.60: A is TP, B FP             -> AP 0.995
    //   thresholds 0.65..0.90: A cannot match, B is TP   -> FP then TP: AP 0.4975
    //   threshold 0.95: nothing                          -> AP 0
    MapEvaluator ev;
    ev.add_image({{0, 0, 0, 100, 100}}, {{0, 0.9f, 0, 0, 100, 62}, {0, 0.8f, 0, 0, 100, 92}});
    const MapResult r = ev.compute();
    EXPECT_NEAR(r.map50, kPerfectAp, 1e-12);
    EXPECT_NEAR(r.map50_95, (3 * kPerfectAp + 6 * 0.4975) / 10, 1e-9);
}

TEST(MapEvaluator, OneDetectionPerLabelAndLabelPerDetection) {
    // Two labels, one detection overlapping both: it takes the better-overlapping label, the other stays unmatched.
    MapEvaluator ev;
    ev.add_image({{0, 0, 0, 100, 100}, {0, 10, 0, 110, 100}}, {{0, 0.9f, 0, 0, 100, 100}});
    const MapResult r = ev.compute();
    // Recall 0.5 at precision 1: mrec [0, 0.5, 1], mpre [1, 1, 0], so the curve is 1 up to recall 0.5, then falls
    // linearly to 0 at 1; its trapezoid integral is 0.75.
    EXPECT_NEAR(r.map50, 0.75, 1e-12);
    EXPECT_NEAR(r.map50_95, 0.75, 1e-12);
}

std::string write_temp(const std::string& name, const std::string& text) {
    const std::string path = test::temp_path(name);
    std::ofstream(path) << text;
    return path;
}

TEST(YoloLabels, ParsesAndConvertsToPixels) {
    std::vector<GroundTruth> gt;
    std::string err;
    const std::string path = write_temp("labels_ok.txt", "0 0.5 0.5 0.5 0.25\n\n  45 0.25 0.75 0.1 0.2  \r\n# note\n");
    ASSERT_TRUE(load_yolo_labels(path, 640, 480, gt, &err)) << err;
    ASSERT_EQ(gt.size(), 2u);
    EXPECT_EQ(gt[0].class_id, 0);
    EXPECT_FLOAT_EQ(gt[0].x1, 160.f);
    EXPECT_FLOAT_EQ(gt[0].y1, 180.f);
    EXPECT_FLOAT_EQ(gt[0].x2, 480.f);
    EXPECT_FLOAT_EQ(gt[0].y2, 300.f);
    EXPECT_EQ(gt[1].class_id, 45);
    EXPECT_FLOAT_EQ(gt[1].x1, 128.f);
    EXPECT_FLOAT_EQ(gt[1].y2, 408.f);
}

TEST(YoloLabels, MissingFileMeansNoLabels) {
    std::vector<GroundTruth> gt = {{1, 0, 0, 1, 1}};
    std::string err;
    EXPECT_TRUE(load_yolo_labels(test::temp_path("no_such_labels.txt"), 640, 480, gt, &err));
    EXPECT_TRUE(gt.empty());
}

TEST(YoloLabels, RejectsMalformedLines) {
    const char* bad[] = {"0 0.5 0.5 0.5\n",      "0 0.5 0.5 0.5 0.5 0.1\n",   "cat 0.5 0.5 0.5 0.5\n",
                         "-1 0.5 0.5 0.5 0.5\n", "1.5 0.5 0.5 0.5 0.5\n",     "0 0.5 0.5x 0.5 0.5\n",
                         "0 0.5 nan 0.5 0.5\n",  "0 0.5 0.5 0.5 0.5\n0 1 2\n"};
    for (const char* text : bad) {
        std::vector<GroundTruth> gt;
        std::string err;
        EXPECT_FALSE(load_yolo_labels(write_temp("labels_bad.txt", text), 640, 480, gt, &err)) << text;
        EXPECT_FALSE(err.empty());
        EXPECT_TRUE(gt.empty());
    }
}

// The reference score: ONNX Runtime's per-image detections on coco128 scored by coco_map.py.
TEST(MapGolden, Coco128MatchesReference) {
    const nlohmann::json golden = test::load_json(test::shared_path("golden/coco128_640.json"));
    ASSERT_FALSE(golden.is_null());
    const std::string image_dir = test::shared_path("data/coco128/images/train2017");
    const std::string label_dir = test::shared_path("data/coco128/labels/train2017");
    const std::string det_dir = test::shared_path("golden/coco128_640");

    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(image_dir)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());  // coco_map.py walks sorted(os.listdir(image_dir))
    ASSERT_EQ(names.size(), 128u);

    MapEvaluator ev;
    size_t num_dets = 0, num_gt = 0;
    for (const std::string& name : names) {
        const std::string stem = std::filesystem::path(name).stem();
        const nlohmann::json j = test::load_json(det_dir + "/" + stem + ".json");
        ASSERT_FALSE(j.is_null()) << stem;
        const int w = j.at("image_size")[0].get<int>(), h = j.at("image_size")[1].get<int>();
#if defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV
        const cv::Mat img = cv::imread(image_dir + "/" + name, cv::IMREAD_COLOR);
        ASSERT_EQ(img.cols, w) << name;
        ASSERT_EQ(img.rows, h) << name;
#endif
        std::vector<GroundTruth> gt;
        std::string err;
        ASSERT_TRUE(load_yolo_labels(label_dir + "/" + stem + ".txt", w, h, gt, &err)) << err;
        const std::vector<Detection> dets = test::detections_from_json(j);
        num_gt += gt.size();
        num_dets += dets.size();
        ev.add_image(gt, dets);
    }
    const MapResult r = ev.compute();
    const double want_5095 = golden.at("map50_95").get<double>(), want_50 = golden.at("map50").get<double>();
    std::printf(
        "[ golden ] coco128: %zu labels, %zu detections; mAP50-95 %.6f (reference %.4f), mAP50 %.6f "
        "(reference %.4f), %d images, %d classes\n",
        num_gt, num_dets, r.map50_95, want_5095, r.map50, want_50, r.num_images, r.num_classes);
    EXPECT_NEAR(r.map50_95, want_5095, 1e-3);
    EXPECT_NEAR(r.map50, want_50, 1e-3);
    EXPECT_EQ(r.num_images, golden.at("images").get<int>());
    EXPECT_EQ(r.num_classes, golden.at("classes").get<int>());
}

}  // namespace
}  // namespace itscam::vision
