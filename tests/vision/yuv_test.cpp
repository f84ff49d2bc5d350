// vision/yuv.h: NV12 -> BGR for known colours of both matrices and ranges, chroma shared by each 2x2 block.
#include <gtest/gtest.h>

#include <vector>

#include "vision/yuv.h"

using namespace itscam::vision;

namespace {

// A 2x2 NV12 image of one colour, converted; returns the top-left pixel (B, G, R).
std::vector<int> convert(int y, int cb, int cr, bool bt709, bool full) {
    const uint8_t Y = static_cast<uint8_t>(y);
    std::vector<uint8_t> nv12 = {Y, Y, Y, Y, static_cast<uint8_t>(cb), static_cast<uint8_t>(cr)};
    std::vector<uint8_t> bgr(12);
    nv12_to_bgr(nv12.data(), nv12.data() + 4, 2, 2, 2, bt709, full, bgr.data(), 6);
    for (int i = 3; i < 12; i += 3)
        for (int c = 0; c < 3; ++c) EXPECT_EQ(bgr[i + c], bgr[c]) << "one chroma sample per 2x2 block";
    return {bgr[0], bgr[1], bgr[2]};
}

}  // namespace

TEST(Nv12ToBgr, BlackWhiteAndPrimaries) {
    for (bool bt709 : {false, true}) {
        EXPECT_EQ(convert(16, 128, 128, bt709, false), (std::vector<int>{0, 0, 0}));
        EXPECT_EQ(convert(235, 128, 128, bt709, false), (std::vector<int>{255, 255, 255}));
        EXPECT_EQ(convert(0, 128, 128, bt709, true), (std::vector<int>{0, 0, 0}));
        EXPECT_EQ(convert(255, 128, 128, bt709, true), (std::vector<int>{255, 255, 255}));
        EXPECT_EQ(convert(126, 128, 128, bt709, false), (std::vector<int>{128, 128, 128}));
    }
    // BT.601 limited-range red, green, blue (Y'CbCr from the BT.601 equations, rounded).
    const auto red = convert(81, 90, 240, false, false);
    EXPECT_LE(red[0], 1);
    EXPECT_LE(red[1], 1);
    EXPECT_GE(red[2], 254);
    const auto blue = convert(41, 240, 110, false, false);
    EXPECT_GE(blue[0], 254);
    EXPECT_LE(blue[2], 1);
    // BT.709 limited-range green: the same Y'CbCr read as BT.601 would not be pure green.
    const auto green709 = convert(173, 42, 26, true, false);
    EXPECT_LE(green709[0], 2);
    EXPECT_GE(green709[1], 253);
    EXPECT_LE(green709[2], 2);
    const auto green601 = convert(173, 42, 26, false, false);
    EXPECT_GE(green601[2], 15);
}

// Chroma belongs to the 2x2 block: pixel (1, 1) and (2, 2) read different CbCr samples.
TEST(Nv12ToBgr, ChromaSitingPerBlock) {
    const int w = 4, h = 4;
    std::vector<uint8_t> nv12(w * h * 3 / 2, 128);
    for (int i = 0; i < w * h; ++i) nv12[i] = 126;
    uint8_t* uv = nv12.data() + w * h;
    uv[2 * 1 + w * 1] = 240;  // block (2..3, 2..3): Cb high -> blue
    std::vector<uint8_t> bgr(w * h * 3);
    nv12_to_bgr(nv12.data(), uv, w, w, h, false, false, bgr.data(), w * 3);
    EXPECT_EQ(bgr[(1 * w + 1) * 3], 128);
    EXPECT_GT(bgr[(2 * w + 2) * 3], 200);
    EXPECT_GT(bgr[(3 * w + 3) * 3], 200);
    EXPECT_EQ(bgr[(2 * w + 1) * 3], 128);
}
