#include "vision/draw.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "vision_test_util.h"

namespace itscam::vision {
namespace {

std::vector<std::string> coco_names_stub() {
    std::vector<std::string> names(80);
    for (int i = 0; i < 80; ++i) names[i] = "class" + std::to_string(i);
    names[0] = "person";
    names[5] = "bus";
    return names;
}

bool changed(const cv::Mat& a, const cv::Mat& b, int x, int y) {
    return a.at<cv::Vec3b>(y, x) != b.at<cv::Vec3b>(y, x);
}

TEST(Draw, PaletteFollowsUltralytics) {
    EXPECT_EQ(class_color_bgr(0), cv::Scalar(0xFF, 0x2A, 0x04));  // #042AFF as BGR
    EXPECT_EQ(class_color_bgr(5), cv::Scalar(0xDD, 0x6F, 0xFF));  // #FF6FDD
    EXPECT_EQ(class_color_bgr(20), class_color_bgr(0));           // cycles
}

TEST(Draw, BoxesChangeEdgesAndLeaveTheRestAlone) {
    const cv::Mat original = cv::imread(test::shared_path("data/images/bus.jpg"), cv::IMREAD_COLOR);
    ASSERT_FALSE(original.empty());
    const nlohmann::json j = test::load_json(test::shared_path("golden/bus_640.json"));
    ASSERT_FALSE(j.is_null());
    const std::vector<Detection> dets = test::detections_from_json(j);
    ASSERT_FALSE(dets.empty());

    cv::Mat img = original.clone();
    draw_detections(img, dets, coco_names_stub());

    // Line width for 810x1080: round(945 * 0.003) = 3, so each box edge is at least a few pixels wide.
    for (const Detection& d : dets) {
        const int xm = static_cast<int>((d.x1 + d.x2) / 2), ym = static_cast<int>((d.y1 + d.y2) / 2);
        const int x1 = std::min(static_cast<int>(d.x1), img.cols - 1),
                  x2 = std::min(static_cast<int>(d.x2), img.cols - 1);
        const int y2 = std::min(static_cast<int>(d.y2), img.rows - 1);
        // Left, right and bottom edges at their midpoints (the top edge may be under another box's label).
        EXPECT_TRUE(changed(img, original, x1, ym)) << "left edge of box at " << d.x1 << "," << d.y1;
        EXPECT_TRUE(changed(img, original, x2, ym)) << "right edge";
        EXPECT_TRUE(changed(img, original, xm, y2)) << "bottom edge";
        // The drawn color is the class color (antialiasing only touches the outer pixels of the line).
        const cv::Scalar c = class_color_bgr(d.class_id);
        const cv::Vec3b px = img.at<cv::Vec3b>(ym, x1);
        EXPECT_NEAR(px[0], c[0], 40);
        EXPECT_NEAR(px[1], c[1], 40);
        EXPECT_NEAR(px[2], c[2], 40);
    }

    // Every pixel farther than 40 px from all boxes (labels are ~20 px high at this size) is unchanged.
    const int margin = 40;
    size_t checked = 0, modified = 0;
    for (int y = 0; y < img.rows; ++y) {
        for (int x = 0; x < img.cols; ++x) {
            bool near = false;
            for (const Detection& d : dets) {
                if (x >= d.x1 - margin && x <= d.x2 + margin && y >= d.y1 - margin && y <= d.y2 + margin) {
                    near = true;
                    break;
                }
            }
            if (near) continue;
            ++checked;
            modified += changed(img, original, x, y);
        }
    }
    EXPECT_GT(checked, 1000u);
    EXPECT_EQ(modified, 0u);
    // The interior of the bus box, away from its edges and the person boxes' labels, is also untouched.
    EXPECT_FALSE(changed(img, original, 600, 300));
}

TEST(Draw, LabelStaysInsideImage) {
    cv::Mat img(200, 300, CV_8UC3, cv::Scalar(0, 0, 0));
    // A box touching the top-left corner: no room above, so the label goes inside, below the top edge.
    draw_detections(img, {{0, 0.91f, 0, 0, 100, 100}}, {"person"});
    int label_pixels = 0;
    for (int y = 5; y < 20; ++y) {
        for (int x = 5; x < 60; ++x) label_pixels += img.at<cv::Vec3b>(y, x) != cv::Vec3b(0, 0, 0);
    }
    EXPECT_GT(label_pixels, 200);

    // A box at the right edge: its label is shifted left so that the text is not cut; rightmost column is drawn.
    cv::Mat img2(200, 300, CV_8UC3, cv::Scalar(0, 0, 0));
    draw_detections(img2, {{1, 0.5f, 280, 100, 300, 150}}, {"person", "a_very_long_class_name"});
    int left_of_box = 0;
    for (int x = 150; x < 270; ++x) left_of_box += img2.at<cv::Vec3b>(90, x) != cv::Vec3b(0, 0, 0);
    EXPECT_GT(left_of_box, 50);
}

// The label width in pixels along the row just above the box's top edge (where the filled label sits).
int label_width(const cv::Mat& img, int y) {
    int w = 0;
    for (int x = 0; x < img.cols; ++x) w += img.at<cv::Vec3b>(y, x) != cv::Vec3b(0, 0, 0);
    return w;
}

TEST(Draw, TrackIdWidensTheLabel) {
    const std::vector<Detection> dets = {{0, 0.87f, 20, 100, 80, 160}};
    const std::vector<int64_t> ids = {12}, none = {0}, wrong_size = {12, 13};
    cv::Mat plain(200, 400, CV_8UC3, cv::Scalar(0, 0, 0)), tracked = plain.clone(), untracked = plain.clone(),
        mismatched = plain.clone();
    draw_detections(plain, dets, {"car"});
    draw_detections(tracked, dets, {"car"}, &ids);
    draw_detections(untracked, dets, {"car"}, &none);
    draw_detections(mismatched, dets, {"car"}, &wrong_size);
    const int y = 95;  // inside the label above the box
    EXPECT_GT(label_width(tracked, y), label_width(plain, y) + 10);  // "car #12 0.87" vs "car 0.87"
    EXPECT_EQ(label_width(untracked, y), label_width(plain, y));    // id 0: no track yet
    EXPECT_EQ(label_width(mismatched, y), label_width(plain, y));   // not parallel: ignored
}

TEST(Draw, ToleratesOddInputs) {
    cv::Mat img(50, 50, CV_8UC3, cv::Scalar(1, 2, 3));
    draw_detections(img, {{99, 0.5f, -100, -100, 1000, 1000}, {-1, 0.5f, 10, 10, 5, 5}}, {});  // no names: ids
    cv::Mat gray(50, 50, CV_8UC1, cv::Scalar(7));
    draw_detections(gray, {{0, 0.5f, 0, 0, 10, 10}}, {"x"});
    EXPECT_EQ(cv::countNonZero(gray != 7), 0);  // wrong type: untouched
    cv::Mat empty;
    draw_detections(empty, {{0, 0.5f, 0, 0, 10, 10}}, {"x"});
    EXPECT_TRUE(empty.empty());
}

}  // namespace
}  // namespace itscam::vision
