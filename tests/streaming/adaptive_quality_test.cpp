// The adaptive quality controller, as pure logic: a quiet scene gets a higher CRF (fewer bits) than a busy one;
// detections become a ROI map (objects first with a negative QP offset, then the frame-wide background); the
// bandwidth budget pushes the CRF up while over it; a poor link moves a viewer down the ladder (longer fragments)
// and a good one back up after a hold; disabled flags leave everything fixed.
#include <gtest/gtest.h>

#include "streaming/adaptive_quality.h"

using namespace itscam;
using namespace itscam::video;
using namespace itscam::streaming;

namespace {

std::vector<vision::Detection> cars(int n, float size = 60) {
    std::vector<vision::Detection> d;
    for (int i = 0; i < n; ++i) d.push_back({2, 0.8f, 10.f + i * 70, 100.f, 10.f + i * 70 + size, 100.f + size});
    return d;
}

std::vector<Rung> ladder() { return {{"source", 2500, 0}, {"mid", 1000, 500}, {"low", 300, 1000}}; }

}  // namespace

TEST(ContentController, QuietSceneGetsFewerBitsThanRushHour) {
    ContentController quiet, busy;
    const auto none = cars(0);
    const auto many = cars(14);
    ContentSample q{0.1, 1280, 720, &none, 0};
    ContentSample b{6.0, 1280, 720, &many, 0};
    const QualityDecision dq = quiet.decide(q), db = busy.decide(b);
    EXPECT_NEAR(dq.activity, 0, 1e-9);
    EXPECT_NEAR(db.activity, 1, 1e-9);
    EXPECT_GT(dq.crf, db.crf + 2);  // higher CRF = fewer bits
    EXPECT_EQ(dq.crf, 25);          // base 23 + 2
    EXPECT_EQ(db.crf, 22);          // base 23 - 1
    // Motion alone, or detections alone, make a scene busy.
    const QualityDecision dm = ContentController().decide({3.0, 1280, 720, &none, 0});
    EXPECT_NEAR(dm.activity, 1, 1e-9);
}

TEST(ContentController, DetectionsBecomeARoiMap) {
    ContentControllerOptions o;
    o.background_qoffset = 0.04f;  // off by default (it cost more SSIM than bits it saved); the mechanism stays
    ContentController c(o);
    std::vector<vision::Detection> d = cars(3);
    d.push_back({56, 0.9f, 500, 500, 560, 560});  // a chair: not a ROI class
    const QualityDecision q = c.decide({1.0, 1280, 720, &d, 0});
    ASSERT_EQ(q.rois.size(), 4u);  // three cars, then the background
    for (int i = 0; i < 3; ++i) {
        EXPECT_LT(q.rois[i].qoffset, 0);
        EXPECT_LE(q.rois[i].x, int(d[i].x1));  // grown by the margin (and upwards for the label)
        EXPECT_LT(q.rois[i].y, int(d[i].y1) - 8);
        EXPECT_GE(q.rois[i].x + q.rois[i].w, int(d[i].x2));
    }
    EXPECT_GT(q.rois[3].qoffset, 0);
    EXPECT_EQ(q.rois[3].w, 1280);
    EXPECT_EQ(q.rois[3].h, 720);
    // Scaled for a smaller rendition.
    const auto s = scale_rois(q.rois, 1280, 720, 640, 360);
    EXPECT_EQ(s[3].w, 640);
    EXPECT_EQ(s[0].x, q.rois[0].x / 2);
}

TEST(ContentController, BudgetPushesTheCrfUpWhileOver) {
    ContentControllerOptions o;
    o.baseline_kbps = 4000;
    o.target_reduction = 0.25;  // budget 3000 kbps
    ContentController c(o);
    const auto none = cars(0);
    QualityDecision d;
    // 30 fps x 25 kB = 6000 kbps: twice the budget.
    for (int i = 0; i < 300; ++i) d = c.decide({0.1, 1280, 720, &none, 25000});
    EXPECT_GT(d.budget_correction, 2);
    EXPECT_GT(d.crf, 25 + 2);
    EXPECT_EQ(d.cap_kbps, 4500);
    // Under budget: the correction decays to zero.
    for (int i = 0; i < 2000; ++i) d = c.decide({0.1, 1280, 720, &none, 2000});
    EXPECT_EQ(d.budget_correction, 0);
}

// TARGET_BANDWIDTH_REDUCTION is a budget per second: the measured bitrate is bits per frame x the camera's measured
// frame rate (ContentSample::fps), so a 15 fps camera may spend twice the bytes per frame of a 30 fps one.
TEST(ContentController, BudgetIsPerSecondAtTheCamerasMeasuredRate) {
    ContentControllerOptions o;
    o.baseline_kbps = 4000;
    o.target_reduction = 0.25;  // budget 3000 kbps = 25000 B/frame at 15 fps, 12500 B/frame at 30 fps
    const auto none = cars(0);
    auto run = [&](double fps, int frame_bytes) {
        ContentController c(o);
        ContentSample s{0.1, 1280, 720, &none, frame_bytes};
        s.fps = fps;
        QualityDecision d;
        for (int i = 0; i < 600; ++i) d = c.decide(s);
        return d;
    };
    // 23000 B/frame: 2760 kbps at 15 fps (under budget), 5520 kbps at 30 fps (over).
    const QualityDecision at15 = run(15, 23000), at30 = run(30, 23000);
    EXPECT_NEAR(at15.bitrate_kbps, 2760, 1);
    EXPECT_EQ(at15.budget_correction, 0) << "a 15 fps camera under its budget was treated as over it";
    EXPECT_EQ(at15.crf, 25);
    EXPECT_NEAR(at30.bitrate_kbps, 5520, 1);
    EXPECT_GT(at30.budget_correction, 2);
    // The same per-second rate on both sides of the budget at either frame rate.
    EXPECT_EQ(run(30, 11500).budget_correction, 0);    // 2760 kbps
    EXPECT_GT(run(15, 27000).budget_correction, 2);    // 3240 kbps
    EXPECT_GT(run(30, 13500).budget_correction, 2);    // 3240 kbps
    // The VBV cap is the per-second budget x 1.5 whatever the rate.
    EXPECT_EQ(at15.cap_kbps, 4500);
    EXPECT_EQ(at30.cap_kbps, 4500);
    // Before a rate is measured (fps 0) the options' nominal rate (30) is used.
    EXPECT_NEAR(run(0, 23000).bitrate_kbps, 5520, 1);
}

TEST(ContentController, StaticTilesAreSharperOnKeyframesAndCoarserBetween) {
    ContentControllerOptions o;
    o.tile_px = 64;
    o.static_frames = 4;
    o.static_key_qoffset = -0.06f;
    o.static_qoffset = 0.06f;
    o.background_qoffset = 0;
    ContentController c(o);
    const auto none = cars(0);
    // 256x128 frame, thumbnail step 8 = 32x16: 4x2 tiles. The top-left tile changes every frame.
    std::vector<uint8_t> thumb(32 * 16, 50);
    QualityDecision d;
    for (int i = 0; i < 10; ++i) {
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x) thumb[size_t(y) * 32 + x] = uint8_t(i % 2 ? 200 : 20);
        ContentSample s{0.5, 256, 128, &none, 0};
        s.thumb = &thumb;
        s.thumb_w = 32;
        s.thumb_h = 16;
        d = c.decide(s);
    }
    EXPECT_NEAR(d.static_share, 7.0 / 8, 1e-9);
    // Row 0: tiles 1..3 as one run; row 1: all four.
    ASSERT_EQ(d.rois.size(), 2u);
    ASSERT_EQ(d.key_rois.size(), 2u);
    EXPECT_EQ(d.rois[0].x, 64);
    EXPECT_EQ(d.rois[0].w, 192);
    EXPECT_EQ(d.rois[1].y, 64);
    EXPECT_EQ(d.rois[1].w, 256);
    EXPECT_GT(d.rois[0].qoffset, 0);      // between keyframes: static blocks mostly skip
    EXPECT_LT(d.key_rois[0].qoffset, 0);  // the keyframe they copy from is sharper
    // Detections still come first in both maps.
    const auto car = cars(1);
    ContentSample s{0.5, 256, 128, &car, 0};
    s.thumb = &thumb;
    s.thumb_w = 32;
    s.thumb_h = 16;
    d = c.decide(s);
    ASSERT_GE(d.rois.size(), 2u);
    EXPECT_LT(d.rois[0].qoffset, 0);
    EXPECT_LT(d.key_rois[0].qoffset, 0);
    EXPECT_EQ(d.rois[0].w, d.key_rois[0].w);
}

TEST(ContentController, DefaultRoiIsObjectsOnly) {
    const auto d = cars(2);
    const QualityDecision q = ContentController().decide({1.0, 1280, 720, &d, 0});
    ASSERT_EQ(q.rois.size(), 2u);
    for (const auto& r : q.rois) EXPECT_LT(r.qoffset, 0);
    EXPECT_TRUE(q.key_rois.empty());  // no static-tile offsets by default: one map for every frame
}

TEST(ContentController, DisabledMeansFixedCrfAndNoRoi) {
    ContentControllerOptions o;
    o.enabled = false;
    ContentController c(o);
    const auto many = cars(5);
    const QualityDecision d = c.decide({5, 1280, 720, &many, 9000});
    EXPECT_EQ(d.crf, 23);
    EXPECT_TRUE(d.rois.empty());
}

TEST(Motion, FrameDifferenceOnThumbnails) {
    Frame a;
    a.width = 64;
    a.height = 32;
    a.stride = 64 * 3;
    a.data = std::shared_ptr<uint8_t>(new uint8_t[64 * 32 * 3](), std::default_delete<uint8_t[]>());
    Frame b = a;
    b.data = std::shared_ptr<uint8_t>(new uint8_t[64 * 32 * 3], std::default_delete<uint8_t[]>());
    std::fill(b.data.get(), b.data.get() + 64 * 32 * 3, 100);
    int tw, th;
    const auto ta = luma_thumbnail(a, 4, tw, th);
    EXPECT_EQ(tw, 16);
    EXPECT_EQ(th, 8);
    const auto tb = luma_thumbnail(b, 4, tw, th);
    EXPECT_NEAR(frame_motion(ta, tb), 100, 1);
    EXPECT_EQ(frame_motion(ta, ta), 0);
}

TEST(NetworkController, PoorLinkMovesDownToLongerFragments) {
    NetworkControllerOptions o;
    NetworkController n(o, 0);
    double t = 0;
    NetworkDecision d;
    // Writes block at ~800 kbit/s: below the 2500k source rung, then below the 1000k mid rung.
    for (int i = 0; i < 200; ++i, t += 0.1) {
        n.on_write(t, 10000, 0.1);
        d = n.decide(t, ladder());
    }
    EXPECT_EQ(d.rung, 1 + 1);
    EXPECT_NEAR(d.throughput_kbps, 800, 1);
    EXPECT_EQ(d.fragment_ms, 1000);  // the lowest rung: the longest fragments
    EXPECT_GT(d.fragment_ms, ladder()[0].fragment_ms);
}

TEST(NetworkController, GoodLinkMovesBackUpAfterAHold) {
    NetworkControllerOptions o;
    NetworkController n(o, 2);
    double t = 0;
    NetworkDecision d;
    // Writes never block: the link keeps up, throughput not measurable (-1) = room.
    for (int i = 0; i < 50; ++i, t += 0.1) {
        n.on_write(t, 4000, 0.0001);
        d = n.decide(t, ladder());
    }
    EXPECT_EQ(d.rung, 2) << "not before up_hold_s";
    for (int i = 0; i < 200; ++i, t += 0.1) {
        n.on_write(t, 4000, 0.0001);
        d = n.decide(t, ladder());
    }
    EXPECT_EQ(d.rung, 0);
    EXPECT_EQ(d.fragment_ms, 0);  // the best rung: one frame per fragment
}

TEST(NetworkController, SkipsCountAsCongestionAndDisabledStays) {
    NetworkController n({}, 0);
    n.on_skip(1.0);
    EXPECT_EQ(n.decide(1.0, ladder()).rung, 1);
    n.on_skip(1.2);  // within down_hold_s: one step at a time
    EXPECT_EQ(n.decide(1.2, ladder()).rung, 1);
    NetworkControllerOptions off;
    off.enabled = false;
    NetworkController m(off, 0);
    m.on_skip(1.0);
    for (int i = 0; i < 50; ++i) m.on_write(1.0 + i * 0.1, 10000, 0.1);
    EXPECT_EQ(m.decide(6.0, ladder()).rung, 0);
}
