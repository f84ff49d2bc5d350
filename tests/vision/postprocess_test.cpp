#include "vision/postprocess.h"

#include <cstdio>
#include <vector>

#include <gtest/gtest.h>

#include "vision_test_util.h"
#include "vision/npy.h"

namespace itscam::vision {
namespace {

// A synthetic [4 + nc][anchors] head output, all scores zero until set.
struct RawOutput {
    int nc, anchors;
    std::vector<float> data;
    RawOutput(int nc_, int anchors_) : nc(nc_), anchors(anchors_), data(static_cast<size_t>(4 + nc_) * anchors_) {}
    void set_box(int a, float cx, float cy, float w, float h) {
        data[0 * anchors + a] = cx;
        data[1 * anchors + a] = cy;
        data[2 * anchors + a] = w;
        data[3 * anchors + a] = h;
    }
    void set_score(int a, int cls, float s) { data[static_cast<size_t>(4 + cls) * anchors + a] = s; }
    // Box given as corners, one class score.
    void set(int a, float x1, float y1, float x2, float y2, int cls, float s) {
        set_box(a, (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1);
        set_score(a, cls, s);
    }
    std::vector<Detection> decode(const NmsOptions& opt = {}) const {
        return yolo_decode_nms(data.data(), 4 + nc, anchors, opt);
    }
};

TEST(Decode, EmptyAndInvalidInputs) {
    RawOutput raw(3, 50);
    EXPECT_TRUE(raw.decode().empty());  // all scores 0
    raw.set(7, 0, 0, 10, 10, 1, 0.9f);
    EXPECT_EQ(raw.decode().size(), 1u);
    EXPECT_TRUE(yolo_decode_nms(nullptr, 7, 50, {}).empty());
    EXPECT_TRUE(yolo_decode_nms(raw.data.data(), 4, 50, {}).empty());
    EXPECT_TRUE(yolo_decode_nms(raw.data.data(), 7, 0, {}).empty());
    NmsOptions none;
    none.max_det = 0;
    EXPECT_TRUE(raw.decode(none).empty());
}

TEST(Decode, ConvertsCenterSizeToCorners) {
    RawOutput raw(2, 4);
    raw.set_box(2, 100.f, 50.f, 40.f, 20.f);
    raw.set_score(2, 1, 0.8f);
    const auto d = raw.decode();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].class_id, 1);
    EXPECT_FLOAT_EQ(d[0].score, 0.8f);
    EXPECT_FLOAT_EQ(d[0].x1, 80.f);
    EXPECT_FLOAT_EQ(d[0].y1, 40.f);
    EXPECT_FLOAT_EQ(d[0].x2, 120.f);
    EXPECT_FLOAT_EQ(d[0].y2, 60.f);
}

TEST(Decode, ConfidenceIsStrictAndArgmaxTakesFirstMaximum) {
    RawOutput raw(3, 3);
    raw.set(0, 0, 0, 10, 10, 0, 0.25f);  // == conf: dropped
    raw.set(1, 100, 0, 110, 10, 0, 0.2501f);
    raw.set(2, 200, 0, 210, 10, 1, 0.6f);
    raw.set_score(2, 2, 0.6f);  // tie between class 1 and 2: class 1 wins
    const auto d = raw.decode();
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].class_id, 1);
    EXPECT_FLOAT_EQ(d[0].score, 0.6f);
    EXPECT_FLOAT_EQ(d[1].score, 0.2501f);
}

TEST(Decode, OnlyTheBestClassCountsPerAnchor) {
    // multi_label=False: a second class above conf on the same anchor does not produce a second detection, and the
    // class filter applies to the best class only.
    RawOutput raw(3, 1);
    raw.set(0, 0, 0, 10, 10, 0, 0.9f);
    raw.set_score(0, 2, 0.8f);
    EXPECT_EQ(raw.decode().size(), 1u);
    NmsOptions only2;
    only2.classes = {2};
    EXPECT_TRUE(raw.decode(only2).empty());
}

TEST(Decode, SortsByScoreDescending) {
    RawOutput raw(1, 5);
    const float scores[5] = {0.3f, 0.9f, 0.5f, 0.7f, 0.4f};
    for (int a = 0; a < 5; ++a) raw.set(a, a * 100.f, 0, a * 100.f + 50, 50, 0, scores[a]);
    const auto d = raw.decode();
    ASSERT_EQ(d.size(), 5u);
    for (size_t i = 1; i < d.size(); ++i) EXPECT_GT(d[i - 1].score, d[i].score);
    EXPECT_FLOAT_EQ(d[0].x1, 100.f);
}

TEST(Nms, SuppressesOverlapsAboveThresholdOnly) {
    RawOutput raw(1, 4);
    raw.set(0, 0, 0, 100, 100, 0, 0.9f);
    raw.set(1, 0, 0, 100, 90, 0, 0.8f);     // IoU 0.9 with #0: suppressed
    raw.set(2, 0, 0, 100, 50, 0, 0.7f);     // IoU 0.5: kept
    raw.set(3, 500, 0, 600, 100, 0, 0.6f);  // disjoint: kept
    const auto d = raw.decode();
    ASSERT_EQ(d.size(), 3u);
    EXPECT_FLOAT_EQ(d[0].score, 0.9f);
    EXPECT_FLOAT_EQ(d[1].score, 0.7f);
    EXPECT_FLOAT_EQ(d[2].score, 0.6f);
}

TEST(Nms, IouEqualToThresholdIsKept) {
    // IoU = 70 / 100 exactly, minus the 1e-9 guard: <= 0.7 (the Python double), so kept. Comparing against
    // float(0.7) = 0.69999999 would wrongly suppress it.
    RawOutput raw(1, 2);
    raw.set(0, 0, 0, 10, 10, 0, 0.9f);
    raw.set(1, 0, 0, 10, 7, 0, 0.8f);
    EXPECT_EQ(raw.decode().size(), 2u);
    NmsOptions tighter;
    tighter.iou = 0.69f;
    EXPECT_EQ(raw.decode(tighter).size(), 1u);
}

TEST(Nms, LaterBoxesAreOnlySuppressedByKeptOnes) {
    // B overlaps A (suppressed), C overlaps B but not A: C survives because B was removed.
    RawOutput raw(1, 3);
    raw.set(0, 0, 0, 100, 100, 0, 0.9f);
    raw.set(1, 20, 0, 120, 100, 0, 0.8f);  // IoU(A,B) = 80/120 = 0.67 -> with iou 0.5 suppressed
    raw.set(2, 40, 0, 140, 100, 0, 0.7f);  // IoU(A,C) = 60/140 = 0.43, IoU(B,C) = 80/120 = 0.67
    NmsOptions opt;
    opt.iou = 0.5f;
    const auto d = raw.decode(opt);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_FLOAT_EQ(d[1].score, 0.7f);
}

TEST(Nms, ClassAwareUnlessAgnostic) {
    RawOutput raw(2, 2);
    raw.set(0, 0, 0, 100, 100, 0, 0.9f);
    raw.set(1, 0, 0, 100, 100, 1, 0.8f);
    EXPECT_EQ(raw.decode().size(), 2u);
    NmsOptions agnostic;
    agnostic.agnostic = true;
    const auto d = raw.decode(agnostic);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].class_id, 0);
}

TEST(Nms, ClassFilter) {
    RawOutput raw(4, 4);
    for (int a = 0; a < 4; ++a) raw.set(a, a * 100.f, 0, a * 100.f + 50, 50, a, 0.5f + a * 0.1f);
    NmsOptions opt;
    opt.classes = {1, 3};
    const auto d = raw.decode(opt);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].class_id, 3);
    EXPECT_EQ(d[1].class_id, 1);
}

TEST(Nms, MaxDetAndMaxNms) {
    RawOutput raw(1, 10);
    for (int a = 0; a < 10; ++a) raw.set(a, a * 100.f, 0, a * 100.f + 50, 50, 0, 0.3f + a * 0.05f);
    NmsOptions opt;
    opt.max_det = 3;
    auto d = raw.decode(opt);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_FLOAT_EQ(d[0].score, 0.75f);
    EXPECT_FLOAT_EQ(d[2].score, 0.65f);

    // max_nms cuts candidates before NMS: with the best box suppressing nothing, only the top 4 remain.
    NmsOptions cut;
    cut.max_nms = 4;
    d = raw.decode(cut);
    ASSERT_EQ(d.size(), 4u);
    EXPECT_FLOAT_EQ(d[3].score, 0.6f);
}

TEST(Nms, MaxDetCountsKeptBoxesNotCandidates) {
    // The two best boxes overlap; max_det 2 must return the best and the next surviving one.
    RawOutput raw(1, 3);
    raw.set(0, 0, 0, 100, 100, 0, 0.9f);
    raw.set(1, 1, 1, 100, 100, 0, 0.8f);
    raw.set(2, 300, 300, 400, 400, 0, 0.7f);
    NmsOptions opt;
    opt.max_det = 2;
    const auto d = raw.decode(opt);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_FLOAT_EQ(d[1].score, 0.7f);
}

TEST(Nms, SortedHelper) {
    std::vector<Detection> dets = {{0, 0.9f, 0, 0, 10, 10}, {0, 0.8f, 1, 1, 10, 10}, {1, 0.7f, 1, 1, 10, 10}};
    EXPECT_EQ(nms_sorted(dets, 0.7f, false), (std::vector<int>{0, 2}));
    EXPECT_EQ(nms_sorted(dets, 0.7f, true), (std::vector<int>{0}));
    EXPECT_TRUE(nms_sorted({}, 0.7f, false).empty());
}

TEST(ScaleBoxes, RemovesPaddingAndClips) {
    const LetterboxInfo info = letterbox_info(810, 1080, 640, 640);  // scale 0.5926, pad_x 80
    std::vector<Detection> d = {{0, 0.9f, 80.f, 0.f, 560.f, 640.f},
                                {0, 0.9f, 10.f, -20.f, 700.f, 700.f},
                                {0, 0.9f, 200.f, 320.f, 320.f, 400.f}};
    scale_boxes_to_image(d, info);
    EXPECT_NEAR(d[0].x1, 0.f, 1e-3);
    EXPECT_NEAR(d[0].y1, 0.f, 1e-3);
    EXPECT_NEAR(d[0].x2, 810.f, 1e-3);
    EXPECT_NEAR(d[0].y2, 1080.f, 1e-3);
    EXPECT_EQ(d[1].x1, 0.f);  // clipped
    EXPECT_EQ(d[1].y1, 0.f);
    EXPECT_EQ(d[1].x2, 810.f);
    EXPECT_EQ(d[1].y2, 1080.f);
    EXPECT_NEAR(d[2].x1, 120.f * 1.6875f, 1e-3);
    EXPECT_NEAR(d[2].y1, 540.f, 1e-3);
    EXPECT_NEAR(d[2].x2, 240.f * 1.6875f, 1e-3);
    EXPECT_NEAR(d[2].y2, 675.f, 1e-3);
}

// Decodes a golden raw output and compares with the reference detections: the README's criteria, and, since the
// input tensor is identical, a much tighter element-wise check (JSON rounds boxes to 2 and scores to 5 decimals).
void check_golden(const std::string& stem, int src_w, int src_h, int size) {
    std::vector<float> raw;
    std::vector<int64_t> shape;
    std::string err;
    ASSERT_TRUE(npy_load_f32(test::shared_path("golden/" + stem + ".output.npy"), raw, shape, &err)) << err;
    ASSERT_EQ(shape.size(), 3u);
    ASSERT_EQ(shape[0], 1);
    ASSERT_EQ(shape[1], 84);
    const int anchors = static_cast<int>(shape[2]);
    const int expect_anchors = (size / 8) * (size / 8) + (size / 16) * (size / 16) + (size / 32) * (size / 32);
    ASSERT_EQ(anchors, expect_anchors);

    const nlohmann::json j = test::load_json(test::shared_path("golden/" + stem + ".json"));
    ASSERT_FALSE(j.is_null());
    ASSERT_EQ(j.at("image_size")[0].get<int>(), src_w);
    ASSERT_EQ(j.at("image_size")[1].get<int>(), src_h);
    const std::vector<Detection> want = test::detections_from_json(j);

    std::vector<Detection> got = yolo_decode_nms(raw.data(), 84, anchors, NmsOptions{});
    scale_boxes_to_image(got, letterbox_info(src_w, src_h, size, size));
    std::printf("[ golden ] %s: %zu detections (reference %zu)\n", stem.c_str(), got.size(), want.size());
    test::expect_detections_match(got, want);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].class_id, want[i].class_id) << i;
        EXPECT_NEAR(got[i].score, want[i].score, 6e-6) << i;
        EXPECT_NEAR(got[i].x1, want[i].x1, 0.006) << i;
        EXPECT_NEAR(got[i].y1, want[i].y1, 0.006) << i;
        EXPECT_NEAR(got[i].x2, want[i].x2, 0.006) << i;
        EXPECT_NEAR(got[i].y2, want[i].y2, 0.006) << i;
    }
}

TEST(DecodeGolden, Bus640) {
    check_golden("bus_640", 810, 1080, 640);
}
TEST(DecodeGolden, Zidane640) {
    check_golden("zidane_640", 1280, 720, 640);
}
TEST(DecodeGolden, BusInt8At320) {
    check_golden("bus_int8_320", 810, 1080, 320);
}
TEST(DecodeGolden, ZidaneInt8At320) {
    check_golden("zidane_int8_320", 1280, 720, 320);
}

TEST(DecodeGolden, LowConfidenceHonoursMaxDet) {
    // conf 0.001 as in validation: thousands of candidates; the result stays sorted, above conf, within max_det, and
    // its first boxes are those of the full run (max_det only truncates).
    std::vector<float> raw;
    std::vector<int64_t> shape;
    std::string err;
    ASSERT_TRUE(npy_load_f32(test::shared_path("golden/bus_640.output.npy"), raw, shape, &err)) << err;
    NmsOptions opt;
    opt.conf = 0.001f;
    const auto all = yolo_decode_nms(raw.data(), 84, static_cast<int>(shape[2]), opt);
    std::printf("[ decode ] bus_640 at conf 0.001: %zu detections\n", all.size());
    ASSERT_GT(all.size(), 100u);
    ASSERT_LE(all.size(), 300u);
    for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].score, all[i].score);
    for (const auto& x : all) EXPECT_GT(x.score, 0.001f);
    opt.max_det = 50;
    const auto top = yolo_decode_nms(raw.data(), 84, static_cast<int>(shape[2]), opt);
    ASSERT_EQ(top.size(), 50u);
    for (size_t i = 0; i < top.size(); ++i) {
        EXPECT_EQ(top[i].class_id, all[i].class_id);
        EXPECT_EQ(top[i].score, all[i].score);
        EXPECT_EQ(top[i].x1, all[i].x1);
    }
}

}  // namespace
}  // namespace itscam::vision
