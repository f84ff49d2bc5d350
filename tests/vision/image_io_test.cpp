// PPM decoding (the image reader of builds without OpenCV): valid files, comments, and every malformed or truncated
// input is a clear error, never a crash (a mutation loop over a valid file).
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

#include "vision/image_io.h"

namespace itscam::vision {
namespace {

std::vector<uint8_t> ppm(const std::string& header, const std::vector<uint8_t>& px) {
    std::vector<uint8_t> v(header.begin(), header.end());
    v.insert(v.end(), px.begin(), px.end());
    return v;
}

TEST(Ppm, DecodesRgbToBgrWithComments) {
    const auto data = ppm("P6\n# made by a test\n2 1\n255\n", {1, 2, 3, 4, 5, 6});
    ImageBgr img;
    std::string err;
    ASSERT_TRUE(decode_ppm(data.data(), data.size(), img, &err)) << err;
    EXPECT_EQ(img.width, 2);
    EXPECT_EQ(img.height, 1);
    EXPECT_EQ(img.bgr, (std::vector<uint8_t>{3, 2, 1, 6, 5, 4}));
}

TEST(Ppm, DecodesGreyPgmToBgr) {
    const auto data = ppm("P5\n3 1\n255\n", {0, 128, 255});
    ImageBgr img;
    std::string err;
    ASSERT_TRUE(decode_ppm(data.data(), data.size(), img, &err)) << err;
    EXPECT_EQ(img.width, 3);
    EXPECT_EQ(img.bgr, (std::vector<uint8_t>{0, 0, 0, 128, 128, 128, 255, 255, 255}));
}

TEST(Ppm, WriteThenReadIsLossless) {
    ImageBgr img{3, 2, {}};
    for (int i = 0; i < 18; ++i) img.bgr.push_back(static_cast<uint8_t>(i * 13));
    const std::string path = ::testing::TempDir() + "/itscam_image_io_roundtrip.ppm";
    std::string err;
    ASSERT_TRUE(write_ppm(path, img, &err)) << err;
    ImageBgr back;
    ASSERT_TRUE(read_image_bgr(path, back, &err)) << err;
    EXPECT_EQ(back.width, 3);
    EXPECT_EQ(back.height, 2);
    EXPECT_EQ(back.bgr, img.bgr);
    std::remove(path.c_str());
    EXPECT_FALSE(write_ppm("/nonexistent/dir/x.ppm", img, &err));
    EXPECT_NE(err.find("x.ppm"), std::string::npos);
}

TEST(Ppm, RejectsMalformedInput) {
    ImageBgr img;
    std::string err;
    const std::vector<std::pair<std::string, std::vector<uint8_t>>> bad = {
        {"ascii ppm", ppm("P3\n1 1\n255\n1 2 3\n", {})},
        {"truncated pgm", ppm("P5\n2 2\n255\n", {1, 2, 3})},
        {"truncated", ppm("P6\n2 2\n255\n", {1, 2, 3})},
        {"16-bit", ppm("P6\n1 1\n65535\n", {0, 0, 0, 0, 0, 0})},
        {"zero size", ppm("P6\n0 1\n255\n", {})},
        {"huge", ppm("P6\n999999 999999\n255\n", {})},
        {"garbage dims", ppm("P6\nab 1\n255\n", {1, 2, 3})},
        {"empty", {}},
    };
    for (const auto& [what, data] : bad) {
        EXPECT_FALSE(decode_ppm(data.data(), data.size(), img, &err)) << what;
        EXPECT_FALSE(err.empty()) << what;
    }
}

TEST(Ppm, MutatedFilesNeverCrash) {
    std::vector<uint8_t> px(4 * 3 * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7);
    const auto good = ppm("P6\n4 3\n255\n", px);
    std::mt19937 rng(7);
    int ok = 0;
    for (int iter = 0; iter < 5000; ++iter) {
        auto d = good;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) d[rng() % d.size()] = static_cast<uint8_t>(rng());
        if (rng() % 3 == 0) d.resize(rng() % d.size());
        ImageBgr img;
        std::string err;
        if (decode_ppm(d.data(), d.size(), img, &err)) {
            ++ok;
            EXPECT_EQ(img.bgr.size(), static_cast<size_t>(img.width) * img.height * 3);
        }
    }
    EXPECT_GT(ok, 0);
}

TEST(ImageIo, MissingFileIsAnError) {
    ImageBgr img;
    std::string err;
    EXPECT_FALSE(read_image_bgr("/nonexistent/x.ppm", img, &err));
    EXPECT_NE(err.find("x.ppm"), std::string::npos);
}

}  // namespace
}  // namespace itscam::vision
