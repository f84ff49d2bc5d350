// Plain box drawing (builds without OpenCV): the outline in the class colour, centred on the box edges, the inside
// and the outside untouched, boxes partly or wholly outside the image clipped.
#include <gtest/gtest.h>

#include "vision/draw_boxes.h"
#include "vision/palette.h"

namespace itscam::vision {
namespace {

ImageBgr blank(int w, int h) {
    return ImageBgr{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 0)};
}

std::array<uint8_t, 3> px(const ImageBgr& img, int x, int y) {
    const uint8_t* p = img.bgr.data() + (static_cast<size_t>(y) * img.width + x) * 3;
    return {p[0], p[1], p[2]};
}

TEST(DrawBoxes, OutlineInClassColour) {
    ImageBgr img = blank(100, 80);  // line width max(round(90 * 0.003), 2) = 2: rows/columns edge-1 and edge
    ASSERT_EQ(box_line_width(100, 80), 2);
    draw_boxes(img, {{5, 0.9f, 10.f, 20.f, 50.f, 60.f}});
    const auto c = class_color_bgr8(5);
    const std::array<uint8_t, 3> none{0, 0, 0};
    for (int x : {10, 30, 50}) {
        EXPECT_EQ(px(img, x, 19), c) << x;
        EXPECT_EQ(px(img, x, 20), c) << x;
        EXPECT_EQ(px(img, x, 60), c) << x;
        EXPECT_EQ(px(img, x, 21), x == 10 || x == 50 ? c : none) << x;
    }
    EXPECT_EQ(px(img, 9, 40), c);
    EXPECT_EQ(px(img, 50, 40), c);
    EXPECT_EQ(px(img, 30, 40), none);  // inside
    EXPECT_EQ(px(img, 11, 40), none);
    EXPECT_EQ(px(img, 51, 40), none);  // outside
    EXPECT_EQ(px(img, 30, 18), none);
    EXPECT_EQ(px(img, 30, 61), none);
}

TEST(DrawBoxes, ClipsAndIgnoresBadImages) {
    ImageBgr img = blank(40, 30);
    draw_boxes(img, {{0, 0.5f, -100.f, -100.f, 500.f, 500.f}, {-3, 0.5f, 45.f, 35.f, 60.f, 70.f}});
    for (uint8_t v : img.bgr) EXPECT_EQ(v, 0);            // every edge outside the image
    draw_boxes(img, {{-3, 0.5f, 5.f, 5.f, 60.f, 70.f}});  // negative class: colour 0; right/bottom edges clipped
    EXPECT_EQ(px(img, 20, 5), class_color_bgr8(0));
    EXPECT_EQ(px(img, 39, 29), (std::array<uint8_t, 3>{0, 0, 0}));
    ImageBgr bad{10, 10, std::vector<uint8_t>(5, 0)};
    draw_boxes(bad, {{0, 0.5f, 1.f, 1.f, 5.f, 5.f}});
    EXPECT_EQ(bad.bgr, std::vector<uint8_t>(5, 0));
}

}  // namespace
}  // namespace itscam::vision
