// optimize_graph on the real YOLO11n exports: the fusions fire as many times as the architecture says, the
// optimized graph on the reference backend reproduces the ONNX Runtime golden outputs (golden/README.md), and the
// PSA attention block is found as the CUDA backend fuses it.
// The reference backend takes seconds per image, so there are only a few full-model runs here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "backend/attention_pattern.h"
#include "graph_builder_test_util.h"
#include "onnx/onnx_importer.h"
#include "passes/passes.h"
#include "vision/npy.h"

#ifdef ITSCAM_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace itscam {
namespace {

using test::count_op;
using test::shared_path;

#if defined(ITSCAM_HAVE_ONNX) && defined(ITSCAM_HAVE_OPENCV)

// Reads one of golden/<name>.input.png as the exact float NCHW model input (RGB / 255).
Tensor load_golden_input(const std::string& name) {
    const std::string path = shared_path("golden/" + name + ".input.png");
    cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    EXPECT_FALSE(bgr.empty()) << "cannot read " << path;
    if (bgr.empty()) return {};
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const int64_t h = rgb.rows, w = rgb.cols;
    Tensor t = Tensor::empty(DType::kF32, {1, 3, h, w});
    float* p = t.data<float>();
    for (int64_t y = 0; y < h; ++y) {
        const uint8_t* row = rgb.ptr<uint8_t>(static_cast<int>(y));
        for (int64_t x = 0; x < w; ++x)
            for (int64_t c = 0; c < 3; ++c) p[(c * h + y) * w + x] = static_cast<float>(row[x * 3 + c]) / 255.f;
    }
    return t;
}

struct Golden {
    std::vector<float> data;
    Shape shape;
};
Golden load_golden_output(const std::string& name) {
    Golden g;
    std::string err;
    EXPECT_TRUE(vision::npy_load_f32(shared_path("golden/" + name + ".output.npy"), g.data, g.shape, &err)) << err;
    return g;
}

// Max |a - b| over rows [r0, r1) of a [1, rows, anchors] output.
double max_row_diff(const Tensor& got, const Golden& want, int64_t r0, int64_t r1) {
    const int64_t anchors = want.shape[2];
    double m = 0;
    for (int64_t r = r0; r < r1; ++r)
        for (int64_t a = 0; a < anchors; ++a) {
            const double d = std::fabs(double(got.data<float>()[r * anchors + a]) - want.data[r * anchors + a]);
            m = std::max(m, std::isnan(d) ? INFINITY : d);
        }
    return m;
}

Graph import_model(const std::string& file) {
    auto g = onnx_import_file(shared_path("models/" + file));
    EXPECT_TRUE(g.is_ok()) << g.status().to_string();
    return g.is_ok() ? std::move(g).value() : Graph{};
}

// Number of Sigmoid nodes whose input is a Conv output and whose output feeds a Mul with that same Conv output.
int silu_pairs_around_convs(const Graph& g) {
    int n = 0;
    for (const auto& s : g.nodes) {
        if (s.op != "Sigmoid") continue;
        const int p = g.producer(s.inputs[0]);
        if (p < 0 || g.nodes[p].op != "Conv") continue;
        for (const auto& m : g.nodes)
            if (m.op == "Mul" && std::count(m.inputs.begin(), m.inputs.end(), s.outputs[0]) &&
                std::count(m.inputs.begin(), m.inputs.end(), s.inputs[0]))
                ++n;
    }
    return n;
}

int count_activation(const Graph& g, const std::string& act) {
    int n = 0;
    for (const auto& node : g.nodes) n += node.op == "Conv" && node.attr_string("activation", "") == act;
    return n;
}

TEST(OptimizeYolo11n, FusesEveryConvActivationAndMatchesGolden) {
    Graph g = import_model("yolo11n.onnx");
    ASSERT_FALSE(g.nodes.empty());
    EXPECT_EQ(count_op(g, "Conv"), 88);
    EXPECT_EQ(count_op(g, "Sigmoid"), 78);
    EXPECT_EQ(silu_pairs_around_convs(g), 77);

    {
        // Without fuse_dfl every one of the 88 convolutions stays a Conv.
        Graph g2 = g;
        PassOptions po;
        po.disabled = {"fuse_dfl"};
        ASSERT_TRUE(optimize_graph(g2, 1, 640, 640, po).is_ok());
        EXPECT_EQ(count_op(g2, "Conv"), 88);
        EXPECT_EQ(count_op(g2, "Sigmoid"), 1);
        EXPECT_EQ(count_activation(g2, "silu"), 77);
    }
    std::map<std::string, int> stats;
    Status st = optimize_graph(g, 1, 640, 640, PassOptions{}, &stats);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    // The DFL's 1x1 Conv (and its Transpose/Softmax/Transpose) become one DflDecode: 87 + 1.
    EXPECT_EQ(count_op(g, "Conv"), 87);
    EXPECT_EQ(count_op(g, "DflDecode"), 1);
    EXPECT_EQ(stats["fuse_dfl"], 1);
    EXPECT_EQ(count_op(g, "Softmax"), 1);    // the attention's
    EXPECT_EQ(count_op(g, "Transpose"), 2);  // the attention's
    EXPECT_EQ(count_op(g, "Sigmoid"), 1);    // only the head's class sigmoid
    EXPECT_EQ(silu_pairs_around_convs(g), 0);
    EXPECT_EQ(count_activation(g, "silu"), 77);
    EXPECT_EQ(stats["fuse_conv_activation"], 77);
    // 14 residual Adds (C3k2 bottlenecks, C2PSA attention/FFN); the 2 left are the head's box decoding.
    EXPECT_EQ(stats["fuse_conv_residual"], 14);
    EXPECT_EQ(count_op(g, "Add"), 2);
    EXPECT_EQ(count_op(g, "BatchNormalization"), 0);
    const Node* sig = nullptr;
    for (const auto& n : g.nodes)
        if (n.op == "Sigmoid") sig = &n;
    ASSERT_NE(sig, nullptr);
    EXPECT_NE(g.nodes[g.producer(sig->inputs[0])].op, "Conv") << "the remaining Sigmoid is the class-score one";
    EXPECT_EQ(g.info(g.outputs[0])->shape, (Shape{1, 84, 8400}));

    const Tensor input = load_golden_input("bus_640");
    ASSERT_TRUE(input.defined());
    ASSERT_EQ(input.shape(), (Shape{1, 3, 640, 640}));
    const Golden want = load_golden_output("bus_640");
    ASSERT_EQ(want.shape, (Shape{1, 84, 8400}));
    const auto out = test::run_ref(g, {input});
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].shape(), want.shape);
    const double box = max_row_diff(out[0], want, 0, 4), cls = max_row_diff(out[0], want, 4, 84);
    std::printf("yolo11n fp32 vs golden bus_640: box rows max |d| = %.3g px, class rows max |d| = %.3g\n", box, cls);
    RecordProperty("box_max_abs_diff", std::to_string(box));
    RecordProperty("class_max_abs_diff", std::to_string(cls));
    EXPECT_LE(box, 1e-2);
    EXPECT_LE(cls, 1e-4);
}

// Differences of an int8 run from the ONNX Runtime int8 golden. With dynamic quantization a tiny change in one
// layer's output (ORT's approximate Sigmoid, float activations instead of int8) moves the next layer's min/max, so
// its scale, so many rounded values: the outputs agree closely on the whole but a few anchors move a lot.
struct Int8Diff {
    double cls_max = 0;            // max |d| over class rows
    int64_t cls_over_005 = 0;      // class entries with |d| > 0.05
    double box_mean = 0;           // mean |d| over box rows (pixels)
    double box_max_confident = 0;  // max box |d| over anchors the golden scores >= 0.25 (the detections)
    double box_max = 0;
};
Int8Diff int8_diff(const Tensor& got, const Golden& want) {
    Int8Diff r;
    const int64_t anchors = want.shape[2];
    const float* o = got.data<float>();
    for (int64_t a = 0; a < anchors; ++a) {
        float best = 0;
        for (int64_t c = 4; c < 84; ++c) {
            const double d = std::fabs(double(o[c * anchors + a]) - want.data[c * anchors + a]);
            r.cls_max = std::max(r.cls_max, std::isnan(d) ? INFINITY : d);
            r.cls_over_005 += !(d <= 0.05);
            best = std::max(best, want.data[c * anchors + a]);
        }
        for (int64_t c = 0; c < 4; ++c) {
            const double d = std::fabs(double(o[c * anchors + a]) - want.data[c * anchors + a]);
            r.box_mean += std::isnan(d) ? INFINITY : d / (4.0 * anchors);
            r.box_max = std::max(r.box_max, d);
            if (best >= 0.25f) r.box_max_confident = std::max(r.box_max_confident, d);
        }
    }
    return r;
}

void expect_close_to_int8_golden(const Graph& g, const std::string& image, double cls_max_limit) {
    SCOPED_TRACE(image);
    const Tensor input = load_golden_input(image);
    ASSERT_EQ(input.shape(), (Shape{1, 3, 320, 320}));
    const Golden want = load_golden_output(image);
    ASSERT_EQ(want.shape, (Shape{1, 84, 2100}));
    const auto out = test::run_ref(g, {input});
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].shape(), want.shape);
    const Int8Diff d = int8_diff(out[0], want);
    std::printf(
        "%s vs golden %s: class rows max |d| = %.3g (%lld of %d over 0.05), box rows mean |d| = %.3g px, "
        "max %.3g px, max over confident anchors %.3g px\n",
        count_op(g, "ConvInteger") ? "int8 path" : "dequantized fp32", image.c_str(), d.cls_max,
        static_cast<long long>(d.cls_over_005), 80 * 2100, d.box_mean, d.box_max, d.box_max_confident);
    ::testing::Test::RecordProperty(image + "_class_max_abs_diff", std::to_string(d.cls_max));
    ::testing::Test::RecordProperty(image + "_box_max_abs_diff", std::to_string(d.box_max));
    EXPECT_LE(d.cls_max, cls_max_limit);
    EXPECT_LE(d.cls_over_005, 80 * 2100 / 10000) << "more than 0.01% of the class scores are off by over 0.05";
    EXPECT_LE(d.box_mean, 2.0);
    EXPECT_LE(d.box_max_confident, 5.0);
}

// The optimized YOLO11n has one PSA attention block in the shape the CUDA backend runs as one kernel
// (backend/attention_pattern.h): C2PSA at the 20x20 level, two heads of 32 key and 64 value channels, at the bound
// batch.
TEST(OptimizeYolo11n, HasOnePsaAttentionBlock) {
    Graph g = import_model("yolo11n.onnx");
    ASSERT_FALSE(g.nodes.empty());
    ASSERT_TRUE(optimize_graph(g, 2, 640, 640, PassOptions{}).is_ok());
    const auto blocks = find_attention_blocks(g);
    ASSERT_EQ(blocks.size(), 1u);
    const AttentionBlock& b = blocks[0];
    EXPECT_EQ(b.qkv, "/model.10/m/m.0/attn/qkv/conv/Conv_output_0");
    EXPECT_EQ(b.batch, 2);
    EXPECT_EQ(b.heads, 2);
    EXPECT_EQ(b.dk, 32);
    EXPECT_EQ(b.dv, 64);
    EXPECT_EQ(b.hw, 400);
    EXPECT_NEAR(b.scale, 1.0 / std::sqrt(32.0), 1e-6);
    EXPECT_EQ(b.nodes.size(), 10u);
}

TEST(OptimizeYolo11nInt8, DequantizesEveryConvAndIsCloseToGolden) {
    Graph g = import_model("yolo11n_int8_320.onnx");
    ASSERT_FALSE(g.nodes.empty());
    EXPECT_EQ(count_op(g, "ConvInteger"), 88);
    EXPECT_EQ(count_op(g, "DynamicQuantizeLinear"), 80);  // some convs share their input's quantization

    std::map<std::string, int> stats;
    Status st = optimize_graph(g, 1, 320, 320, PassOptions{}, &stats);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(stats["dequantize_weights"], 88);
    EXPECT_EQ(count_op(g, "Conv") + count_op(g, "DflDecode"), 88);
    EXPECT_EQ(count_op(g, "DflDecode"), 1);
    EXPECT_EQ(count_op(g, "ConvInteger"), 0);
    EXPECT_EQ(count_op(g, "DynamicQuantizeLinear"), 0);
    EXPECT_EQ(count_op(g, "Cast"), 0);
    EXPECT_EQ(count_op(g, "Sigmoid"), 1);
    EXPECT_EQ(count_activation(g, "silu"), 77);
    for (const auto& n : g.nodes) {
        if (n.op == "Conv") {
            EXPECT_EQ(g.constant(n.inputs[1])->dtype(), DType::kF32) << n.name;
        }
    }
    // The golden ran int8 activations; we run float activations on dequantized weights. On zidane every class
    // score is within 0.05; on bus one stride-32 anchor of the bus itself moves by 0.23 (the int8 path below,
    // which quantizes activations like ORT, moves another one by 0.22): sensitivity of dynamic quantization,
    // not an error of the rewrite, whose exactness the DequantizeWeights unit tests check.
    expect_close_to_int8_golden(g, "zidane_int8_320", 0.05);
    expect_close_to_int8_golden(g, "bus_int8_320", 0.3);
}

TEST(OptimizeYolo11nInt8, PlainExecutionStillDequantizes) {
    // Without fusions (ENABLE_TENSORRT: false) the weights are still dequantized: the cpu and cuda backends have no
    // ConvInteger kernel. Nothing is fused: the SiLU pairs and the DFL stay.
    Graph g = import_model("yolo11n_int8_320.onnx");
    ASSERT_FALSE(g.nodes.empty());
    PassOptions po;
    po.optimize = false;
    std::map<std::string, int> stats;
    Status st = optimize_graph(g, 1, 320, 320, po, &stats);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(stats["dequantize_weights"], 88);
    EXPECT_EQ(count_op(g, "ConvInteger"), 0);
    EXPECT_EQ(count_op(g, "Conv"), 88);
    EXPECT_EQ(count_op(g, "DflDecode"), 0);
    EXPECT_EQ(silu_pairs_around_convs(g), 77);
    EXPECT_EQ(count_activation(g, "silu"), 0);
    expect_close_to_int8_golden(g, "bus_int8_320", 0.3);
}

TEST(OptimizeYolo11nInt8, Int8ReferencePathIsCloseToGolden) {
    // Without dequantize_weights the reference backend runs DynamicQuantizeLinear + ConvInteger as ORT does.
    Graph g = import_model("yolo11n_int8_320.onnx");
    ASSERT_FALSE(g.nodes.empty());
    PassOptions po;
    po.disabled = {"dequantize_weights"};
    Status st = optimize_graph(g, 1, 320, 320, po);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(count_op(g, "ConvInteger"), 88);
    expect_close_to_int8_golden(g, "bus_int8_320", 0.3);
}

TEST(OptimizeYolo11nInt8, BatchOfTwoMatchesTwoSingleImages) {
    // bind_input_shape rebinds the head's Reshape targets ([1, 144, -1] ...) of this static batch-1 export.
    const Graph exported = import_model("yolo11n_int8_320.onnx");
    ASSERT_FALSE(exported.nodes.empty());
    Graph g1 = exported, g2 = exported;
    ASSERT_TRUE(optimize_graph(g1, 1, 320, 320, PassOptions{}).is_ok());
    Status st = optimize_graph(g2, 2, 320, 320, PassOptions{});
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(g2.info(g2.outputs[0])->shape, (Shape{2, 84, 2100}));

    const Tensor a = load_golden_input("bus_int8_320"), b = load_golden_input("zidane_int8_320");
    ASSERT_TRUE(a.defined() && b.defined());
    Tensor ab = Tensor::empty(DType::kF32, {2, 3, 320, 320});
    std::memcpy(ab.data<float>(), a.raw(), a.nbytes());
    std::memcpy(ab.data<float>() + a.numel(), b.raw(), b.nbytes());
    const auto out2 = test::run_ref(g2, {ab});
    ASSERT_EQ(out2.size(), 1u);
    ASSERT_EQ(out2[0].shape(), (Shape{2, 84, 2100}));
    const int64_t per = 84 * 2100;
    for (int i = 0; i < 2; ++i) {
        const auto out1 = test::run_ref(g1, {i == 0 ? a : b});
        ASSERT_EQ(out1.size(), 1u);
        double m = 0;
        for (int64_t k = 0; k < per; ++k)
            m = std::max(m, double(std::fabs(out2[0].data<float>()[i * per + k] - out1[0].data<float>()[k])));
        EXPECT_LE(m, 1e-4) << "image " << i << " differs between batch 2 and batch 1";
    }
}

#else

TEST(OptimizeYolo11n, NeedsOnnxAndOpenCv) {
    GTEST_SKIP() << "built without ONNX import or OpenCV";
}

#endif

}  // namespace
}  // namespace itscam
