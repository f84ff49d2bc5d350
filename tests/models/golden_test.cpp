// Golden tests: the real YOLO11n weights on real images, against ONNX Runtime's reference outputs in
// ../shared/golden (tolerances from golden/README.md).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "backend/backend.h"
#include "runtime/detector.h"
#include "vision/letterbox.h"
#include "vision/npy.h"

namespace itscam {
namespace {

namespace fs = std::filesystem;
const std::string kShared = ITSCAM_SHARED_DIR;
const std::string kModel = kShared + "/models/yolo11n.onnx";
const std::string kInt8 = kShared + "/models/yolo11n_int8_320.onnx";

bool has_backend(const std::string& name) {
    auto v = backend_names();
    return std::find(v.begin(), v.end(), name) != v.end();
}

struct GoldenDet {
    int class_id;
    float score;
    float box[4];
};

std::vector<GoldenDet> load_golden(const std::string& path, int* w = nullptr, int* h = nullptr) {
    std::ifstream f(path);
    EXPECT_TRUE(f.good()) << path;
    nlohmann::json j = nlohmann::json::parse(f);
    std::vector<GoldenDet> out;
    for (const auto& d : j["detections"])
        out.push_back({d["class_id"].get<int>(), d["score"].get<float>(),
                       {d["box"][0].get<float>(), d["box"][1].get<float>(), d["box"][2].get<float>(),
                        d["box"][3].get<float>()}});
    if (w) *w = j["image_size"][0].get<int>();
    if (h) *h = j["image_size"][1].get<int>();
    return out;
}

float iou(const float* a, const vision::Detection& b) {
    const float ix = std::max(0.f, std::min(a[2], b.x2) - std::max(a[0], b.x1));
    const float iy = std::max(0.f, std::min(a[3], b.y2) - std::max(a[1], b.y1));
    const float inter = ix * iy;
    const float ua = (a[2] - a[0]) * (a[3] - a[1]) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return ua > 0 ? inter / ua : 0.f;
}

// One-to-one match by class; detections within `edge` of the confidence threshold may be missing on either side.
void expect_detections_match(const std::vector<GoldenDet>& golden, const std::vector<vision::Detection>& got,
                             float min_iou, float max_score_delta, float conf, const std::string& what,
                             float edge = 0.01f) {
    std::vector<bool> used(got.size(), false);
    int matched = 0;
    for (const auto& g : golden) {
        int best = -1;
        float best_iou = 0.f;
        for (size_t i = 0; i < got.size(); ++i) {
            if (used[i] || got[i].class_id != g.class_id) continue;
            const float v = iou(g.box, got[i]);
            if (v > best_iou) best_iou = v, best = static_cast<int>(i);
        }
        if (best < 0 || best_iou < min_iou) {
            EXPECT_LT(g.score, conf + edge) << what << ": golden class " << g.class_id << " score " << g.score
                                            << " not found (best IoU " << best_iou << ")";
            continue;
        }
        used[best] = true;
        ++matched;
        EXPECT_NEAR(got[best].score, g.score, max_score_delta) << what << ": class " << g.class_id;
    }
    for (size_t i = 0; i < got.size(); ++i) {
        if (used[i]) continue;
        EXPECT_LT(got[i].score, conf + edge) << what << ": extra detection class " << got[i].class_id << " score "
                                             << got[i].score;
    }
    EXPECT_GT(matched, 0) << what;
}

Tensor load_input_png(const std::string& path) {
    cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
    EXPECT_FALSE(img.empty()) << path;
    Tensor t = Tensor::empty(DType::kF32, {1, 3, img.rows, img.cols});
    float* p = t.data<float>();
    const int64_t plane = static_cast<int64_t>(img.rows) * img.cols;
    for (int y = 0; y < img.rows; ++y)
        for (int x = 0; x < img.cols; ++x) {
            const uint8_t* px = img.ptr<uint8_t>(y) + 3 * x;
            for (int c = 0; c < 3; ++c) p[c * plane + y * img.cols + x] = px[2 - c] / 255.f;  // BGR -> RGB
        }
    return t;
}

// Runs golden/<image>_640.input.png through `e` and compares the raw output with ONNX Runtime's: boxes within
// 1e-2 px, class scores within 1e-4.
void expect_raw_output_matches(Engine& e, const std::string& image, const std::string& what) {
    std::vector<Tensor> outs;
    ASSERT_TRUE(e.run(load_input_png(kShared + "/golden/" + image + "_640.input.png"), outs).is_ok());
    std::vector<float> ref;
    std::vector<int64_t> shape;
    std::string err;
    ASSERT_TRUE(vision::npy_load_f32(kShared + "/golden/" + image + "_640.output.npy", ref, shape, &err)) << err;
    ASSERT_EQ(outs[0].shape(), Shape(shape.begin(), shape.end()));
    const int64_t anchors = shape[2];
    const float* got = outs[0].data<float>();
    float max_box = 0, max_cls = 0;
    for (int64_t c = 0; c < shape[1]; ++c)
        for (int64_t a = 0; a < anchors; ++a) {
            const float d = std::fabs(got[c * anchors + a] - ref[c * anchors + a]);
            ASSERT_FALSE(std::isnan(got[c * anchors + a]));
            (c < 4 ? max_box : max_cls) = std::max(c < 4 ? max_box : max_cls, d);
        }
    EXPECT_LE(max_box, 1e-2f) << what;
    EXPECT_LE(max_cls, 1e-4f) << what;
    std::printf("[%s %s] max |delta| boxes %.3g px, class scores %.3g\n", what.c_str(), image.c_str(), max_box,
                max_cls);
}

class RawOutput : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

// The exact letterboxed input through the engine: boxes within 1e-2 px, class scores within 1e-4.
TEST_P(RawOutput, MatchesOnnxRuntime) {
    const auto& [device, image] = GetParam();
    if (!has_backend(device)) GTEST_SKIP() << "backend " << device << " not built";
    EngineOptions eo;
    eo.device = device;
    auto e = Engine::load(kModel, eo);
    ASSERT_TRUE(e) << e.status().to_string();
    expect_raw_output_matches(**e, image, device);
}

INSTANTIATE_TEST_SUITE_P(Golden, RawOutput,
                         ::testing::Combine(::testing::Values("cpu"), ::testing::Values("bus", "zidane")));

std::unique_ptr<Detector> make_detector(const std::string& model, const std::string& device, int batch = 1,
                                        Precision prec = Precision::kF32) {
    DetectorOptions o;
    o.engine.device = device;
    o.engine.batch = batch;
    o.engine.precision = prec;
    auto d = Detector::create(model, o);
    EXPECT_TRUE(d) << d.status().to_string();
    return d ? std::move(d).value() : nullptr;
}

std::vector<vision::Detection> detect_file(Detector& d, const std::string& path) {
    cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
    EXPECT_FALSE(img.empty()) << path;
    auto r = d.detect({ImageView{img.data, img.cols, img.rows, img.step[0]}});
    EXPECT_TRUE(r) << r.status().to_string();
    return r ? (*r)[0] : std::vector<vision::Detection>{};
}

class GoldenDetections : public ::testing::TestWithParam<std::string> {};

// End to end: JPEG/PNG decode, letterbox, engine, NMS, scaling; class equal, IoU >= 0.98, |score delta| <= 0.01.
TEST_P(GoldenDetections, MatchOnnxRuntimeFp32) {
    if (!has_backend("cpu")) GTEST_SKIP() << "cpu backend not built";
    const std::string image = GetParam();
    auto d = make_detector(kModel, "cpu");
    ASSERT_TRUE(d);
    std::string file;
    for (const char* ext : {".jpg", ".png"})
        if (fs::exists(kShared + "/data/images/" + image + ext)) file = kShared + "/data/images/" + image + ext;
    ASSERT_FALSE(file.empty());
    auto golden = load_golden(kShared + "/golden/" + image + "_640.json");
    expect_detections_match(golden, detect_file(*d, file), 0.98f, 0.01f, 0.25f, image);
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenDetections,
                         ::testing::Values("bus", "zidane", "highway_trucks", "highway_trucks_720p_t10",
                                           "urban_360p_t5"));

int count_op(const Graph& g, const std::string& op) {
    int n = 0;
    for (const auto& node : g.nodes) n += node.op == op;
    return n;
}

// ENABLE_TENSORRT: false (EngineOptions::optimize false, `--no-optimize`): the engine runs the unfused graph with the
// backend's default algorithms, and still gives ONNX Runtime's outputs and detections.
TEST(PlainExecution, UnfusedGraphGivesTheGoldenDetections) {
    if (!has_backend("cpu")) GTEST_SKIP() << "cpu backend not built";
    auto optimized = make_detector(kModel, "cpu");
    DetectorOptions o;
    o.engine.optimize = false;
    auto plain = Detector::create(kModel, o);
    ASSERT_TRUE(optimized);
    ASSERT_TRUE(plain) << plain.status().to_string();
    const Engine& eo = optimized->engine();
    Engine& ep = (*plain)->engine();
    const Graph& go = eo.graph();
    const Graph& gp = ep.graph();

    // The fusions ran on the optimized engine ...
    EXPECT_EQ(eo.pass_stats().at("fuse_conv_activation"), 77);
    EXPECT_EQ(eo.pass_stats().at("fuse_conv_residual"), 14);
    EXPECT_EQ(eo.pass_stats().at("fuse_dfl"), 1);
    EXPECT_EQ(count_op(go, "DflDecode"), 1);
    // ... and none on the plain one: every Conv stays a plain Conv, the SiLU Sigmoid/Mul pairs, the residual Adds
    // and the DFL's Transpose/Softmax/Conv are all there.
    for (const auto& [pass, n] : ep.pass_stats()) EXPECT_EQ(pass.rfind("fuse_", 0), std::string::npos) << pass;
    EXPECT_EQ(count_op(gp, "DflDecode"), 0);
    EXPECT_EQ(count_op(gp, "Conv"), 88);
    EXPECT_EQ(count_op(gp, "Sigmoid"), count_op(go, "Sigmoid") + 77);
    EXPECT_EQ(count_op(gp, "Add"), count_op(go, "Add") + 14);
    EXPECT_EQ(count_op(gp, "Softmax"), count_op(go, "Softmax") + 1);
    for (const auto& n : gp.nodes) {
        if (n.op != "Conv") continue;
        EXPECT_EQ(n.attr_string("activation", ""), "") << n.name;
        EXPECT_LE(n.num_inputs(), 3) << n.name << " has a fused residual";
    }
    EXPECT_GT(gp.nodes.size(), go.nodes.size() + 77 + 14);
    std::printf("yolo11n nodes: optimized %zu, plain %zu\n", go.nodes.size(), gp.nodes.size());
    // Default algorithms: no 1x1 convolution was timed against oneDNN matmul (autotuning), none fused an activation.
    const std::string steps = ep.compiled().describe();
    EXPECT_EQ(steps.find("matmul"), std::string::npos) << steps;
    EXPECT_EQ(steps.find("+silu"), std::string::npos) << steps;
    EXPECT_EQ(steps.find("+residual"), std::string::npos) << steps;

    expect_raw_output_matches(ep, "bus", "cpu plain");
    for (const char* image : {"bus", "zidane"}) {
        auto golden = load_golden(kShared + "/golden/" + std::string(image) + "_640.json");
        expect_detections_match(golden, detect_file(**plain, kShared + "/data/images/" + image + ".jpg"), 0.98f,
                                0.01f, 0.25f, std::string(image) + " plain");
    }
}

// The int8 dynamic-quant export, imported by dequantizing its weights: IoU >= 0.95, |score delta| <= 0.03.
TEST(GoldenInt8, DequantizedDetectionsMatch) {
    if (!has_backend("cpu")) GTEST_SKIP() << "cpu backend not built";
    auto d = make_detector(kInt8, "cpu");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->engine().input_height(), 320);
    for (const char* image : {"bus", "zidane"}) {
        const std::string file = kShared + "/data/images/" + image + ".jpg";
        auto golden = load_golden(kShared + "/golden/" + image + "_int8_320.json");
        expect_detections_match(golden, detect_file(*d, file), 0.95f, 0.03f, 0.25f, image);
    }
}

// A batch-1 export runs at batch 3; every image's detections equal its batch-1 detections.
TEST(Batch, BatchOfThreeEqualsBatchOfOne) {
    if (!has_backend("cpu")) GTEST_SKIP() << "cpu backend not built";
    auto d1 = make_detector(kModel, "cpu", 1);
    auto d3 = make_detector(kModel, "cpu", 3);
    ASSERT_TRUE(d1 && d3);
    std::vector<cv::Mat> imgs;
    for (const char* f : {"bus.jpg", "zidane.jpg", "highway_trucks.jpg", "bus.jpg"})
        imgs.push_back(cv::imread(kShared + "/data/images/" + f, cv::IMREAD_COLOR));
    std::vector<ImageView> views;
    for (auto& m : imgs) views.push_back({m.data, m.cols, m.rows, m.step[0]});
    auto r3 = d3->detect(views);  // 4 images: one full batch of 3 and a zero-padded batch of 1
    ASSERT_TRUE(r3) << r3.status().to_string();
    ASSERT_EQ(r3->size(), 4u);
    for (size_t i = 0; i < views.size(); ++i) {
        auto r1 = d1->detect({views[i]});
        ASSERT_TRUE(r1);
        ASSERT_EQ((*r1)[0].size(), (*r3)[i].size()) << "image " << i;
        for (size_t k = 0; k < (*r1)[0].size(); ++k) {
            EXPECT_EQ((*r1)[0][k].class_id, (*r3)[i][k].class_id);
            EXPECT_NEAR((*r1)[0][k].score, (*r3)[i][k].score, 1e-4);
            EXPECT_NEAR((*r1)[0][k].x1, (*r3)[i][k].x1, 1e-2);
            EXPECT_NEAR((*r1)[0][k].y2, (*r3)[i][k].y2, 1e-2);
        }
    }
}

// The opt-in bf16 path keeps the same objects on the bus image (looser: bf16 has an 8-bit mantissa).
TEST(Bf16, KeepsTheSameObjects) {
    if (!has_backend("cpu")) GTEST_SKIP() << "cpu backend not built";
    DetectorOptions o;
    o.engine.precision = Precision::kBF16;
    auto d = Detector::create(kModel, o);
    if (!d && d.status().code() == StatusCode::kUnsupported) GTEST_SKIP() << d.status().to_string();
    ASSERT_TRUE(d) << d.status().to_string();
    auto golden = load_golden(kShared + "/golden/bus_640.json");
    expect_detections_match(golden, detect_file(**d, kShared + "/data/images/bus.jpg"), 0.9f, 0.05f, 0.25f, "bus bf16");
}

// The opt-in int8 path (calibrated on the shared traffic stills) keeps the same objects on the golden images.
TEST(Int8, KeepsTheSameObjects) {
    if (!has_backend("cpu")) GTEST_SKIP() << "cpu backend not built";
    DetectorOptions o;
    o.engine.precision = Precision::kInt8;
    o.engine.calibration = [](int h, int w) -> Result<std::vector<Tensor>> {
        std::vector<Tensor> out;
        for (const char* f : {"bus.jpg", "zidane.jpg", "highway_trucks.jpg", "highway_trucks_720p_t10.png",
                              "urban_360p_t5.png"}) {
            cv::Mat img = cv::imread(kShared + "/data/images/" + f, cv::IMREAD_COLOR);
            if (img.empty()) return io_error(f);
            Tensor t = Tensor::empty(DType::kF32, {1, 3, h, w});
            vision::letterbox_bgr_u8_to_rgb_f32(img.data, img.cols, img.rows, img.step[0], w, h, t.data<float>());
            out.push_back(t);
        }
        return out;
    };
    auto d = Detector::create(kModel, o);
    // A CPU without AVX-512 runs no bf16, so no int8 (its activations are bf16): a clear kUnsupported
    // (cli_test.sh cpu_isa_limit).
    if (!d && d.status().code() == StatusCode::kUnsupported) GTEST_SKIP() << d.status().to_string();
    ASSERT_TRUE(d) << d.status().to_string();
    for (const char* image : {"bus", "zidane"}) {
        auto golden = load_golden(kShared + "/golden/" + std::string(image) + "_640.json");
        // 8-bit activations move individual scores by up to ~0.06 (zidane's tie: 0.357 -> 0.416); the accuracy bar
        // for int8 is coco128 mAP (docs/benchmarks.md), this test guards against wrong scales or layouts.
        // Near-threshold detections may appear or vanish: zidane's second tie box scores 0.289 in int8.
        expect_detections_match(golden, detect_file(**d, kShared + "/data/images/" + image + ".jpg"), 0.9f, 0.08f,
                                0.25f, std::string(image) + " int8", 0.05f);
    }
}

TEST(Int8, WithoutCalibrationIsAClearError) {
    if (!has_backend("cpu")) GTEST_SKIP() << "cpu backend not built";
    DetectorOptions o;
    o.engine.precision = Precision::kInt8;
    auto d = Detector::create(kModel, o);
    ASSERT_FALSE(d);
    EXPECT_NE(d.status().message().find("calibration"), std::string::npos) << d.status().to_string();
}

}  // namespace
}  // namespace itscam
