// vision/yuv.h's NV12 -> BGR (what the GPU letterbox applies to NVDEC pictures) against FFmpeg's own yuv420p -> BGR24
// (what the CPU-decode path feeds the detector), on real frames of the shared clips: the detector sees nearly the same
// pixels whichever decoder ran.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

#if defined(ITSCAM_HAVE_FFMPEG)
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

// The NV12 frames of the FFmpeg reader (what a GPU pipeline gets from CPU decoding) are the decoder's own 4:2:0
// samples, repacked: Y as decoded, Cb and Cr interleaved. NVDEC gives the same bytes (nvdec_test), so both decoders
// feed the GPU letterbox identical input.
TEST(Nv12Convert, ReaderNv12IsTheDecodersOwnSamples) {
    for (const auto& clip : test::kClips) {
        const std::string path = test::shared_path(clip.file);
        AVFormatContext* fmt = nullptr;
        ASSERT_EQ(avformat_open_input(&fmt, path.c_str(), nullptr, nullptr), 0) << path;
        ASSERT_GE(avformat_find_stream_info(fmt, nullptr), 0);
        const int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
        ASSERT_GE(si, 0);
        const AVCodec* codec = avcodec_find_decoder(fmt->streams[si]->codecpar->codec_id);
        AVCodecContext* dec = avcodec_alloc_context3(codec);
        ASSERT_GE(avcodec_parameters_to_context(dec, fmt->streams[si]->codecpar), 0);
        ASSERT_EQ(avcodec_open2(dec, codec, nullptr), 0);
        AVPacket* pkt = av_packet_alloc();
        AVFrame* raw = av_frame_alloc();

        ReaderOptions o;
        o.format = PixelFormat::kNV12;
        auto reader = make_reader(path, o);
        ASSERT_TRUE(reader.is_ok() && (*reader)->open().is_ok());
        int compared = 0;
        while (compared < 30 && av_read_frame(fmt, pkt) >= 0) {
            if (pkt->stream_index == si) avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
            while (compared < 30 && avcodec_receive_frame(dec, raw) == 0) {
                ASSERT_TRUE(raw->format == AV_PIX_FMT_YUV420P || raw->format == AV_PIX_FMT_YUVJ420P);
                Frame f;
                ASSERT_TRUE(*(*reader)->read(f));
                ASSERT_EQ(f.format, PixelFormat::kNV12);
                ASSERT_EQ(f.width, raw->width & ~1);
                ASSERT_EQ(f.height, raw->height & ~1);
                EXPECT_EQ(f.yuv_full_range, raw->color_range == AVCOL_RANGE_JPEG || raw->format == AV_PIX_FMT_YUVJ420P);
                const uint8_t* y = f.data.get();
                const uint8_t* uv = y + f.stride * f.height;
                int bad = 0;
                for (int r = 0; r < f.height; ++r)
                    bad += std::memcmp(y + f.stride * r, raw->data[0] + static_cast<ptrdiff_t>(raw->linesize[0]) * r,
                                       f.width) != 0;
                for (int r = 0; r < f.height / 2; ++r)
                    for (int x = 0; x < f.width / 2; ++x) {
                        bad += uv[f.stride * r + 2 * x] != raw->data[1][raw->linesize[1] * r + x];
                        bad += uv[f.stride * r + 2 * x + 1] != raw->data[2][raw->linesize[2] * r + x];
                    }
                EXPECT_EQ(bad, 0) << clip.file << " frame " << compared;
                av_frame_unref(raw);
                ++compared;
            }
        }
        EXPECT_EQ(compared, 30) << clip.file;
        av_frame_free(&raw);
        av_packet_free(&pkt);
        avcodec_free_context(&dec);
        avformat_close_input(&fmt);
    }
}
#endif
