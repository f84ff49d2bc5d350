// The H.264 + fragmented-MP4 encoder: init segment ftyp+moov, then moof+mdat fragments; every keyframe starts a
// fragment; tfdt carries the absolute media time (monotonic, shared by renditions); ffprobe reads the captured
// stream with monotonic timestamps; rate control and ROI changes take effect on the fly.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "streaming_test_util.h"
#include "streaming/encoder.h"

using namespace itscam;
using namespace itscam::video;
using namespace itscam::streaming;
using namespace itscam::streaming_test;

namespace {

EncoderOptions small_options() {
    EncoderOptions o;
    o.width = 320;
    o.height = 240;
    o.fps = 30;
    o.gop = 30;
    o.preset = "superfast";
    return o;
}

std::vector<std::string> box_types(const std::string& s) {
    std::vector<std::string> t;
    for (const auto& b : mp4_top_level_boxes(reinterpret_cast<const uint8_t*>(s.data()), s.size())) {
        EXPECT_FALSE(b.truncated) << b.type;
        t.push_back(b.type);
    }
    return t;
}

struct Encoded {
    std::string init;
    std::vector<Fragment> frags;
};

Encoded encode_n(const EncoderOptions& o, int n, int64_t start_us, const std::function<FrameControl(int)>& ctl = {}) {
    auto enc = create_fmp4_encoder(o);
    EXPECT_TRUE(enc.is_ok()) << enc.status().message();
    Encoded e;
    if (!enc.is_ok()) return e;
    e.init = (*enc)->init_segment();
    for (int i = 0; i < n; ++i) {
        const Frame f = make_frame(640, 480, i);
        const FrameControl c = ctl ? ctl(i) : FrameControl{};
        const Status st = (*enc)->encode(f, start_us + int64_t(i) * 33333, 1000 + i, c, e.frags);
        EXPECT_TRUE(st.is_ok()) << st.message();
    }
    EXPECT_TRUE((*enc)->flush(e.frags).is_ok());
    return e;
}

}  // namespace

TEST(Encoder, InitSegmentThenMoofMdatFragments) {
    const Encoded e = encode_n(small_options(), 90, 100'000'000);
    EXPECT_EQ(box_types(e.init), (std::vector<std::string>{"ftyp", "moov"}));
    ASSERT_EQ(e.frags.size(), 90u);  // one frame per fragment
    int64_t last_tfdt = -1;
    for (size_t i = 0; i < e.frags.size(); ++i) {
        const Fragment& f = e.frags[i];
        EXPECT_EQ(box_types(f.data), (std::vector<std::string>{"moof", "mdat"})) << i;
        EXPECT_EQ(f.sequence, i + 1);
        EXPECT_EQ(f.frames, 1);
        EXPECT_EQ(f.keyframe, i % 30 == 0) << i;
        ASSERT_EQ(f.capture_us.size(), 1u);
        EXPECT_EQ(f.capture_us[0], int64_t(1000 + i));
        const int64_t tfdt = mp4_fragment_tfdt(reinterpret_cast<const uint8_t*>(f.data.data()), f.data.size());
        EXPECT_GT(tfdt, last_tfdt) << i;
        // The absolute media time in 90 kHz (not rebased to 0): renditions share one timeline.
        EXPECT_NEAR(double(tfdt), double(f.pts_start_us) * 0.09, 1.0) << i;
        last_tfdt = tfdt;
    }
    EXPECT_NEAR(double(e.frags[0].pts_start_us), 100e6, 1);
}

TEST(Encoder, CodecStringFromTheSps) {
    auto enc = create_fmp4_encoder(small_options());
    ASSERT_TRUE(enc.is_ok()) << enc.status().message();
    const std::string c = (*enc)->codec_string();
    EXPECT_EQ(c.substr(0, 7), "avc1.64") << c;  // High profile
    EXPECT_EQ(c.size(), 11u);
    const uint8_t annexb[] = {0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1E, 0x11};
    EXPECT_EQ(h264_codec_string(annexb, sizeof annexb), "avc1.42C01E");
    const uint8_t avcc[] = {1, 0x4D, 0x40, 0x1F, 0xFF};
    EXPECT_EQ(h264_codec_string(avcc, sizeof avcc), "avc1.4D401F");
}

TEST(Encoder, FragmentDurationAndKeyframeCuts) {
    EncoderOptions o = small_options();
    o.fragment_ms = 500;  // 15 frames at 30 fps; the gop of 30 cuts at 0, 30, 60
    const Encoded e = encode_n(o, 90, 0);
    ASSERT_EQ(e.frags.size(), 6u);
    for (size_t i = 0; i < e.frags.size(); ++i) {
        EXPECT_EQ(e.frags[i].frames, 15) << i;
        EXPECT_EQ(e.frags[i].keyframe, i % 2 == 0) << i;
        EXPECT_NEAR(e.frags[i].duration_s(), 0.5, 0.01);
        EXPECT_EQ(e.frags[i].capture_us.size(), 15u);
    }
    // A forced keyframe starts a fragment of its own.
    const Encoded f = encode_n(o, 40, 0, [](int i) {
        FrameControl c;
        c.force_keyframe = i == 7;
        return c;
    });
    ASSERT_GE(f.frags.size(), 2u);
    EXPECT_EQ(f.frags[0].frames, 7);
    EXPECT_TRUE(f.frags[1].keyframe);
}

TEST(Encoder, FfprobeReadsTheCapturedStreamWithMonotonicTimestamps) {
    if (!have_ffprobe()) GTEST_SKIP() << "ffprobe not installed (scripts/install-deps.sh installs ffmpeg)";
    const Encoded e = encode_n(small_options(), 75, 5'000'000);
    const std::string path = temp_file("itscam_fmp4");
    {
        std::ofstream out(path, std::ios::binary);
        out << e.init;
        for (const auto& f : e.frags) out << f.data;
    }
    int rc = 0;
    const std::string out = run_capture("ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,dts,flags "
                                        "-of csv=p=0 '" + path + "' 2>&1", &rc);
    const std::string info = run_capture("ffprobe -v error -show_entries stream=codec_name,width,height,profile "
                                         "-of default=nw=1 '" + path + "' 2>&1");
    std::filesystem::remove(path);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(info.find("codec_name=h264"), std::string::npos) << info;
    EXPECT_NE(info.find("width=320"), std::string::npos) << info;
    EXPECT_NE(info.find("height=240"), std::string::npos) << info;
    std::istringstream in(out);
    std::string line;
    int n = 0, keys = 0;
    double last = -1;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        ASSERT_EQ(line.find("error"), std::string::npos) << line;
        const double t = std::stod(line.substr(0, line.find(',')));
        EXPECT_GT(t, last) << line;
        last = t;
        if (line.find(",K") != std::string::npos) keys++;
        n++;
    }
    EXPECT_EQ(n, 75);
    EXPECT_EQ(keys, 3);
    EXPECT_NEAR(last, 5.0 + 74 / 30.0, 0.01);
}

TEST(Encoder, RateControlAndRoiChangesTakeEffect) {
    EncoderOptions o = small_options();
    o.keep_recon = true;
    const auto bytes_of = [](const Encoded& e) {
        size_t n = 0;
        for (const auto& f : e.frags) n += f.data.size();
        return n;
    };
    const Encoded q23 = encode_n(o, 60, 0);
    const Encoded q35 = encode_n(o, 60, 0, [](int i) {
        FrameControl c;
        if (i == 0) c.crf = 35;
        return c;
    });
    EXPECT_LT(bytes_of(q35) * 2, bytes_of(q23));
    // Background coarser (frame-wide +0.3), boxes untouched: fewer bits than plain CRF 23.
    const Encoded roi = encode_n(o, 60, 0, [](int i) {
        FrameControl c;
        for (const auto& d : frame_boxes(320, 240, i))
            c.rois.push_back({int(d.x1), int(d.y1), int(d.x2 - d.x1), int(d.y2 - d.y1), -0.1f});
        c.rois.push_back({0, 0, 320, 240, 0.3f});
        return c;
    });
    EXPECT_LT(bytes_of(roi), bytes_of(q23));
    // CBR holds its rate (within the VBV).
    EncoderOptions cbr = small_options();
    cbr.rc = RateControl::kCbr;
    cbr.bitrate_kbps = 300;
    const Encoded c = encode_n(cbr, 90, 0);
    const double kbps = bytes_of(c) * 8.0 / 3.0 / 1000.0;
    EXPECT_GT(kbps, 150);
    EXPECT_LT(kbps, 450);
}

TEST(Encoder, KeyframeMapIsUsedExactlyOnKeyframes) {
    // FrameControl::key_rois replaces rois on the frames x264 makes keyframes: every gop frames, and forced ones.
    auto enc = create_fmp4_encoder(small_options());  // gop 30
    ASSERT_TRUE(enc.is_ok());
    std::vector<Fragment> out;
    int64_t predicted_and_key = 0;
    for (int i = 0; i < 75; ++i) {
        FrameControl c;
        c.rois.push_back({0, 0, 320, 240, 0.1f});
        c.key_rois.push_back({0, 0, 320, 240, -0.1f});
        c.force_keyframe = i == 40;
        const int64_t before_map = (*enc)->stats().key_roi_frames, before_key = (*enc)->stats().keyframes;
        ASSERT_TRUE((*enc)->encode(make_frame(640, 480, i), int64_t(i) * 33333, 0, c, out).is_ok());
        const bool used = (*enc)->stats().key_roi_frames > before_map, key = (*enc)->stats().keyframes > before_key;
        EXPECT_EQ(used, key) << "frame " << i;
        predicted_and_key += used && key;
    }
    EXPECT_EQ(predicted_and_key, 4);  // frames 0, 30, the forced 40, and 70 (x264 counts the gop from the forced one)
}

TEST(Encoder, RejectsBadInput) {
    EncoderOptions o = small_options();
    o.width = 321;
    EXPECT_FALSE(create_fmp4_encoder(o).is_ok());
    auto enc = create_fmp4_encoder(small_options());
    ASSERT_TRUE(enc.is_ok());
    std::vector<Fragment> out;
    EXPECT_TRUE((*enc)->encode(make_frame(64, 48, 0), 1000, 0, {}, out).is_ok());
    EXPECT_EQ((*enc)->encode(make_frame(64, 48, 1), 1000, 0, {}, out).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ((*enc)->encode(Frame{}, 2000, 0, {}, out).code(), StatusCode::kInvalidArgument);
}
