// FfmpegDemuxer::rewind(), on which a looping file camera starts over without reopening (NvdecReader::rewind()).
#include "video/ffmpeg_demux.h"

#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/packet.h>
}

#include "video_test_util.h"

namespace itscam::video {
namespace {

struct Pass {
    int packets = 0;
    int64_t first_pts = 0, last_pts = 0;
    int first_size = 0;
};

Pass read_pass(FfmpegDemuxer& d) {
    Pass p;
    AVPacket* pkt = av_packet_alloc();
    for (;;) {
        Result<bool> got = d.next_packet(pkt);
        EXPECT_TRUE(got.is_ok()) << got.status().to_string();
        if (!got.is_ok() || !*got) break;
        if (p.packets++ == 0) {
            p.first_pts = pkt->pts;
            p.first_size = pkt->size;
        }
        p.last_pts = pkt->pts;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    return p;
}

// Every shared clip (one is a fragmented MP4) gives the same packets again after a rewind.
TEST(FfmpegDemux, RewindStartsTheFileOver) {
    for (const auto& clip : test::kClips) {
        const std::string path = test::shared_path(clip.file);
        FfmpegDemuxer d;
        EXPECT_EQ(d.rewind().code(), StatusCode::kInternal) << "not open yet";
        ASSERT_TRUE(d.open(path, path, {}, nullptr).is_ok()) << path;
        const Pass a = read_pass(d);
        ASSERT_EQ(a.packets, clip.frames) << path;
        const Status st = d.rewind();
        ASSERT_TRUE(st.is_ok()) << path << ": " << st.to_string();
        const Pass b = read_pass(d);
        EXPECT_EQ(b.packets, a.packets) << path;
        EXPECT_EQ(b.first_pts, a.first_pts) << path;
        EXPECT_EQ(b.first_size, a.first_size) << path;
        EXPECT_EQ(b.last_pts, a.last_pts) << path;
    }
}

}  // namespace
}  // namespace itscam::video
