// vision/yuv.h's NV12 -> BGR (what the GPU letterbox applies to NVDEC pictures) against FFmpeg's own yuv420p -> BGR24
// (what the CPU-decode path feeds the detector), on real frames of the shared clips: the detector sees nearly the same
// pixels whichever decoder ran.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "video/video_reader.h"
#include "video_test_util.h"
#include "vision/yuv.h"

using namespace itscam;
using namespace itscam::video;

TEST(Nv12Convert, MatchesFfmpegBgrOnRealClips) {
    if (!ffmpeg_available()) GTEST_SKIP() << "built without FFmpeg";
    for (const auto& clip : test::kClips) {
        const std::string path = test::shared_path(clip.file);
        ReaderOptions nv12_opt, bgr_opt;
        nv12_opt.format = PixelFormat::kNV12;
        auto a = make_reader(path, nv12_opt);
        auto b = make_reader(path, bgr_opt);
        ASSERT_TRUE(a.is_ok() && b.is_ok());
        ASSERT_TRUE((*a)->open().is_ok());
        ASSERT_TRUE((*b)->open().is_ok());
        std::vector<long> histogram(256, 0);
        long total = 0;
        for (int i = 0; i < 40; ++i) {
            Frame fa, fb;
            ASSERT_TRUE(*(*a)->read(fa));
            ASSERT_TRUE(*(*b)->read(fb));
            ASSERT_EQ(fa.pts, fb.pts);
            ASSERT_EQ(fa.width, fb.width);
            ASSERT_EQ(fa.height, fb.height);
            std::vector<uint8_t> mine(static_cast<size_t>(fa.width) * 3 * fa.height);
            const uint8_t* y = fa.data.get();
            vision::nv12_to_bgr(y, y + fa.stride * fa.height, fa.stride, fa.width, fa.height,
                                fa.yuv_matrix == YuvMatrix::kBT709, fa.yuv_full_range, mine.data(),
                                static_cast<size_t>(fa.width) * 3);
            for (int r = 0; r < fa.height; ++r) {
                const uint8_t* p = mine.data() + static_cast<size_t>(r) * fa.width * 3;
                const uint8_t* q = fb.data.get() + static_cast<size_t>(r) * fb.stride;
                for (int x = 0; x < fa.width * 3; ++x) ++histogram[std::abs(p[x] - q[x])];
                total += fa.width * 3;
            }
        }
        double sum = 0;
        long within2 = 0;
        int max_d = 0;
        for (int d = 0; d < 256; ++d) {
            sum += static_cast<double>(d) * histogram[d];
            if (d <= 2) within2 += histogram[d];
            if (histogram[d]) max_d = d;
        }
        const double mean = sum / total, share2 = static_cast<double>(within2) / total;
        std::printf("[ nv12 ] %s: mean |d| %.3f, %.4f%% within 2 levels, max %d\n", clip.file, mean, 100 * share2,
                    max_d);
        // FFmpeg's table-driven conversion rounds differently (measured: mean 0.8-1.2 levels, max 3); a wrong matrix
        // or range would be off by 10 levels and more.
        EXPECT_LE(mean, 1.5) << clip.file;
        EXPECT_GE(share2, 0.99) << clip.file;
        EXPECT_LE(max_d, 4) << clip.file;
    }
}
