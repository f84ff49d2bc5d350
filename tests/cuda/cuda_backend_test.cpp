// The CUDA backend on the real YOLO11n model against the ONNX Runtime goldens (../shared/golden): raw outputs in
// fp32 (the CPU tolerances), detections in fp32 and fp16, batches, determinism, plan tuning reuse and bad input.
// Skipped without a CUDA device.
//
// The model is ITSCAM_TEST_MODEL (an ONNX file or an itscam plan: the GPU machine has no ONNX importer, so it is
// given a portable plan) or ../shared/models/yolo11n.onnx. Golden inputs are read from ITSCAM_GOLDEN_DIR (default
// ../shared/golden) as <image>_640.input.npy (float32 1x3x640x640) when present, else decoded from the PNG with
// OpenCV when this build has it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "backend/attention_pattern.h"
#include "backend/backend.h"
#include "backend/cuda/autotune.h"
#include "backend/cuda/lowering_context.h"
#include "backend/cuda/ops/registry.h"
#include "runtime/detector.h"
#include "runtime/engine.h"
#include "runtime/plan.h"
#include "vision/npy.h"
#include "vision/postprocess.h"

#if defined(ITSCAM_HAVE_OPENCV)
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace itscam {
namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& def) {
    const char* v = std::getenv(name);
    return v && *v ? v : def;
}

std::string model_path() { return env_or("ITSCAM_TEST_MODEL", std::string(ITSCAM_SHARED_DIR) + "/models/yolo11n.onnx"); }
std::string golden_dir() { return env_or("ITSCAM_GOLDEN_DIR", std::string(ITSCAM_SHARED_DIR) + "/golden"); }

bool have_gpu() {
    auto b = backend_create("cuda:0");
    return b.is_ok();
}

// A build without the ONNX importer loads plans only.
bool model_loadable() {
#if defined(ITSCAM_HAVE_ONNX)
    return fs::exists(model_path());
#else
    return is_plan_file(model_path());
#endif
}

#define REQUIRE_GPU()                                                                                  \
    do {                                                                                               \
        if (!have_gpu()) GTEST_SKIP() << "no CUDA device";                                             \
        if (!model_loadable()) GTEST_SKIP() << "cannot load " << model_path() << " in this build (set " \
                                            << "ITSCAM_TEST_MODEL to a plan)";                          \
    } while (0)

// The golden model input of `image` as float32 [1,3,640,640], or an undefined tensor when it cannot be read here.
Tensor golden_input(const std::string& image) {
    const std::string npy = golden_dir() + "/" + image + "_640.input.npy";
    std::vector<float> data;
    std::vector<int64_t> shape;
    if (fs::exists(npy) && vision::npy_load_f32(npy, data, shape, nullptr)) {
        if (shape.size() == 3) shape.insert(shape.begin(), 1);
        return Tensor::from_f32(data, shape);
    }
#if defined(ITSCAM_HAVE_OPENCV)
    cv::Mat bgr = cv::imread(golden_dir() + "/" + image + "_640.input.png", cv::IMREAD_COLOR);
    if (bgr.empty()) return {};
    Tensor t = Tensor::empty(DType::kF32, {1, 3, bgr.rows, bgr.cols});
    const int64_t hw = static_cast<int64_t>(bgr.rows) * bgr.cols;
    for (int y = 0; y < bgr.rows; ++y)
        for (int x = 0; x < bgr.cols; ++x) {
            const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
            for (int c = 0; c < 3; ++c) t.data<float>()[c * hw + y * bgr.cols + x] = p[2 - c] / 255.f;
        }
    return t;
#else
    return {};
#endif
}

Tensor golden_output(const std::string& image) {
    std::vector<float> data;
    std::vector<int64_t> shape;
    if (!vision::npy_load_f32(golden_dir() + "/" + image + "_640.output.npy", data, shape, nullptr)) return {};
    return Tensor::from_f32(data, shape);
}

// The options of an engine on cuda:0; autotune as `itscam optimize --target-performance fast` builds a plan.
EngineOptions cuda_options(Precision p, int batch, bool autotune = false) {
    EngineOptions eo;
    eo.device = "cuda:0";
    eo.precision = p;
    eo.batch = batch;
    eo.autotune = autotune;
    return eo;
}

// An environment variable set for one test, unset again at its end (the tests that use one skip where it is set
// outside).
struct ScopedEnv {
    ScopedEnv(const char* name, const char* value) : name(name) { setenv(name, value, 1); }
    ~ScopedEnv() { unsetenv(name); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
    const char* name;
};

std::unique_ptr<Engine> load_engine(Precision p, int batch) {
    auto e = Engine::load(model_path(), cuda_options(p, batch));
    EXPECT_TRUE(e.is_ok()) << e.status().to_string();
    return e.is_ok() ? std::move(*e) : nullptr;
}

std::vector<vision::Detection> decode(const Tensor& out, int64_t image = 0) {
    const int64_t ch = out.dim(1), an = out.dim(2);
    return vision::yolo_decode_nms(out.data<float>() + image * ch * an, static_cast<int>(ch), static_cast<int>(an),
                                   vision::NmsOptions{});
}

float iou(const vision::Detection& a, const vision::Detection& b) {
    const float ix = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
    const float iy = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
    const float inter = ix * iy;
    const float u = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return u > 0 ? inter / u : 0.f;
}

// Every reference detection matched one-to-one by class with IoU >= min_iou and |score delta| <= max_ds; counts equal
// except for detections within 0.01 of the confidence threshold.
void expect_same_detections(const std::vector<vision::Detection>& want, const std::vector<vision::Detection>& got,
                            float min_iou, float max_ds) {
    std::vector<bool> used(got.size(), false);
    int unmatched = 0;
    for (const auto& w : want) {
        int best = -1;
        float best_iou = 0.f;
        for (size_t i = 0; i < got.size(); ++i)
            if (!used[i] && got[i].class_id == w.class_id && iou(w, got[i]) > best_iou) {
                best_iou = iou(w, got[i]);
                best = static_cast<int>(i);
            }
        if (best < 0 || best_iou < min_iou) {
            if (w.score > 0.26f) ADD_FAILURE() << "class " << w.class_id << " score " << w.score << " unmatched (best IoU " << best_iou << ")";
            ++unmatched;
            continue;
        }
        used[best] = true;
        EXPECT_LE(std::fabs(got[best].score - w.score), max_ds) << "class " << w.class_id;
    }
    for (size_t i = 0; i < got.size(); ++i) {
        if (used[i]) continue;
        EXPECT_LE(got[i].score, 0.26f) << "extra detection of class " << got[i].class_id;
    }
    ::testing::Test::RecordProperty("unmatched_near_threshold", unmatched);
}

class CudaGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaGolden, Fp32RawOutputWithinCpuTolerances) {
    REQUIRE_GPU();
    const Tensor in = golden_input(GetParam()), want = golden_output(GetParam());
    if (!in.defined() || !want.defined()) GTEST_SKIP() << "golden input/output of " << GetParam() << " not readable here";
    auto e = load_engine(Precision::kF32, 1);
    ASSERT_TRUE(e);
    std::vector<Tensor> out;
    ASSERT_TRUE(e->run(in, out).is_ok());
    ASSERT_EQ(out[0].shape(), want.shape());
    const int64_t an = want.dim(2);
    double box_err = 0, score_err = 0;
    for (int64_t c = 0; c < want.dim(1); ++c)
        for (int64_t a = 0; a < an; ++a) {
            const double d = std::fabs(out[0].data<float>()[c * an + a] - want.data<float>()[c * an + a]);
            (c < 4 ? box_err : score_err) = std::max(c < 4 ? box_err : score_err, d);
        }
    RecordProperty("max_box_err", std::to_string(box_err));
    RecordProperty("max_score_err", std::to_string(score_err));
    EXPECT_LE(box_err, 1e-2);
    EXPECT_LE(score_err, 1e-4);
    expect_same_detections(decode(want), decode(out[0]), 0.98f, 0.01f);
}

TEST_P(CudaGolden, Fp16DetectionsMatchTheReference) {
    REQUIRE_GPU();
    const Tensor in = golden_input(GetParam()), want = golden_output(GetParam());
    if (!in.defined() || !want.defined()) GTEST_SKIP() << "golden input/output of " << GetParam() << " not readable here";
    auto e = load_engine(Precision::kF16, 1);
    ASSERT_TRUE(e);
    std::vector<Tensor> out;
    ASSERT_TRUE(e->run(in, out).is_ok());
    const auto ref = decode(want), got = decode(out[0]);
    EXPECT_GT(ref.size(), 0u);
    expect_same_detections(ref, got, 0.95f, 0.02f);
}

INSTANTIATE_TEST_SUITE_P(Golden, CudaGolden, ::testing::Values("bus", "zidane"));

// A batch of 8 gives each image the same result as batch 1 (fp32), and a second run is bit-identical.
TEST(CudaBackend, BatchMatchesSingleAndRunsAreDeterministic) {
    REQUIRE_GPU();
    const Tensor a = golden_input("bus"), b = golden_input("zidane");
    if (!a.defined() || !b.defined()) GTEST_SKIP() << "golden inputs not readable here";
    auto e1 = load_engine(Precision::kF32, 1);
    auto e8 = load_engine(Precision::kF32, 8);
    ASSERT_TRUE(e1 && e8);
    Tensor batch = Tensor::empty(DType::kF32, {8, 3, 640, 640});
    const size_t one = a.nbytes();
    for (int i = 0; i < 8; ++i)
        std::memcpy(static_cast<char*>(batch.raw()) + i * one, (i % 2 ? b : a).raw(), one);
    std::vector<Tensor> o1a, o1b, o8, o8again;
    ASSERT_TRUE(e1->run(a, o1a).is_ok());
    Tensor r1a = o1a[0].clone();
    ASSERT_TRUE(e1->run(b, o1b).is_ok());
    Tensor r1b = o1b[0].clone();
    ASSERT_TRUE(e8->run(batch, o8).is_ok());
    Tensor r8 = o8[0].clone();
    ASSERT_TRUE(e8->run(batch, o8again).is_ok());
    EXPECT_EQ(std::memcmp(r8.raw(), o8again[0].raw(), r8.nbytes()), 0) << "two runs of one batch differ";
    const int64_t per = r1a.numel();
    double err = 0;
    for (int i = 0; i < 8; ++i) {
        const float* want = (i % 2 ? r1b : r1a).data<float>();
        const float* got = r8.data<float>() + i * per;
        for (int64_t k = 0; k < per; ++k) err = std::max(err, static_cast<double>(std::fabs(want[k] - got[k])));
    }
    EXPECT_LE(err, 1e-2) << "batch 8 differs from batch 1";
}

// A tuning text without the legacy algorithm of the lines that name a fused engine (the older plan format).
std::string without_fused_algos(const std::string& tuning) {
    std::string out;
    std::istringstream is(tuning);
    for (std::string line; std::getline(is, line);) {
        const size_t a = line.find(" algo="), f = line.find(" fused=");
        if (a != std::string::npos && f != std::string::npos) line = line.substr(0, a) + line.substr(f);
        out += line + "\n";
    }
    return out;
}

// Compiles `g` with the tuning text `tuning` (as loading a plan does) and checks that it reports `want` back and
// computes `first` again on `in` (fp16, max |diff| <= 1e-3). `older_format`: `tuning` lacks the fused lines' legacy
// algorithms, which the compile then chooses itself; only the rest must come back.
void expect_same_engine_from_tuning(Backend& backend, const Graph& g, const std::string& tuning,
                                    const std::string& want, const Tensor& in, const Tensor& first,
                                    bool older_format = false) {
    BackendOptions bo;
    bo.precision = Precision::kF16;
    bo.tuning = tuning;
    auto again = backend.compile(g, bo);
    ASSERT_TRUE(again.is_ok()) << again.status().to_string() << "\n" << tuning;
    if (older_format)
        EXPECT_EQ(without_fused_algos((*again)->tuning()), without_fused_algos(want));
    else
        EXPECT_EQ((*again)->tuning(), want);
    std::vector<Tensor> out;
    ASSERT_TRUE((*again)->run({in}, out).is_ok());
    double err = 0;
    for (int64_t k = 0; k < first.numel(); ++k)
        err = std::max(err, static_cast<double>(std::fabs(first.data<float>()[k] - out[0].data<float>()[k])));
    EXPECT_LE(err, 1e-3);
}

// The tuning a compile reports, fed back (as a plan does), rebuilds the same engine; a tuning for another graph is
// a clear error.
TEST(CudaBackend, TuningRoundTrip) {
    REQUIRE_GPU();
    const Tensor in = golden_input("bus");
    if (!in.defined()) GTEST_SKIP() << "golden input not readable here";
    auto e = load_engine(Precision::kF16, 1);
    ASSERT_TRUE(e);
    const std::string tuning = e->compiled().tuning();
    // One line per convolution run by cuDNN: a legacy algorithm or a fused graph-API engine.
    EXPECT_TRUE(tuning.find(" algo=") != std::string::npos || tuning.find(" fused=") != std::string::npos) << tuning;
    std::vector<Tensor> out;
    ASSERT_TRUE(e->run(in, out).is_ok());
    Tensor first = out[0].clone();

    auto backend = backend_create("cuda:0");
    ASSERT_TRUE(backend.is_ok());
    expect_same_engine_from_tuning(**backend, e->graph(), tuning, tuning, in, first);

    BackendOptions bo;
    bo.precision = Precision::kF16;
    bo.tuning = "some/other/conv algo=1\n";
    auto bad = (*backend)->compile(e->graph(), bo);
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("rebuild"), std::string::npos) << bad.status().to_string();
}

// Autotuned (as `itscam optimize --target-performance fast` builds a plan), the tuning holds fused engines too; fed
// back, every fused convolution is checked against its legacy path, which must run with a chosen algorithm and its
// workspace (a plan's fused entry once left it at the default with none: cudnnConvolutionForward BAD_PARAM at load).
// A plan of the older format (a fused entry without its legacy algorithm) loads too.
TEST(CudaBackend, AutotunedTuningRoundTripWithFusedEngines) {
    REQUIRE_GPU();
    const Tensor in = golden_input("bus");
    if (!in.defined()) GTEST_SKIP() << "golden input not readable here";
    auto e = Engine::load(model_path(), cuda_options(Precision::kF16, 1, /*autotune=*/true));
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    const std::string tuning = (*e)->compiled().tuning();
    std::vector<Tensor> out;
    ASSERT_TRUE((*e)->run(in, out).is_ok());
    const Tensor first = out[0].clone();

    // The older format: " algo=N" dropped from every line that names a fused engine. Its fused engines come back;
    // the legacy algorithms behind them are the compile's own choice (on the H200 it picks algo 1 where autotuning
    // timed 0 fastest).
    auto backend = backend_create("cuda:0");
    ASSERT_TRUE(backend.is_ok());
    expect_same_engine_from_tuning(**backend, (*e)->graph(), tuning, tuning, in, first);
    expect_same_engine_from_tuning(**backend, (*e)->graph(), without_fused_algos(tuning), tuning, in, first,
                                   /*older_format=*/true);
    size_t fused = 0;
    for (size_t at = tuning.find(" fused="); at != std::string::npos; at = tuning.find(" fused=", at + 1)) ++fused;
    std::printf("autotuned batch 1: %zu fused convolutions; %s\n", fused, tuning.substr(0, tuning.find('\n')).c_str());
}

// ITSCAM_CUDA_TUNE_TIMING takes auto (the default), graph or eager; any other value fails an autotuning compile with
// a message that names the variable, rather than timing some way it did not ask for.
TEST(CudaBackend, AutotuneRefusesAnUnknownTimingMode) {
    REQUIRE_GPU();
    if (std::getenv("ITSCAM_CUDA_TUNE_TIMING")) GTEST_SKIP() << "ITSCAM_CUDA_TUNE_TIMING is set outside";
    const ScopedEnv env("ITSCAM_CUDA_TUNE_TIMING", "sometimes");
    auto e = Engine::load(model_path(), cuda_options(Precision::kF16, 1, /*autotune=*/true));
    ASSERT_FALSE(e.is_ok());
    EXPECT_NE(e.status().message().find("ITSCAM_CUDA_TUNE_TIMING='sometimes'"), std::string::npos)
        << e.status().to_string();
}

// The tuning text's latency-kernel line: what a plan records, read back (no GPU needed).
TEST(CudaBackend, TuningTextLatencyLine) {
    auto t = cuda::tuned_latency_kernels(
        "latency_kernels off (measured per replay: 1.25 ms on, 1.125 ms off)\nx algo=1\n");
    ASSERT_TRUE(t.has_value());
    EXPECT_FALSE(t->on);
    EXPECT_DOUBLE_EQ(t->on_ms, 1.25);
    EXPECT_DOUBLE_EQ(t->off_ms, 1.125);
    t = cuda::tuned_latency_kernels("x algo=1\nlatency_kernels on\n");
    ASSERT_TRUE(t.has_value());
    EXPECT_TRUE(t->on);
    EXPECT_EQ(t->on_ms, 0);
    EXPECT_FALSE(cuda::tuned_latency_kernels("x algo=1\n").has_value());        // a plan from before the line
    EXPECT_FALSE(cuda::tuned_latency_kernels("latency_kernels maybe\n").has_value());
}

// An autotuning plan build (tune_alternatives) builds the graph with and without the latency kernels, times the
// replays and keeps the faster; the tuning records the choice and both times, and a compile from that tuning (a
// plan's load) makes the same choice without timing again. Batch 8: the size at which the batch-1 rule of before
// 2026-12-06 turned them off untimed.
TEST(CudaBackend, AutotunedCompileKeepsTheFasterLatencyChoice) {
    REQUIRE_GPU();
    if (std::getenv("ITSCAM_CUDA_LATENCY_KERNELS")) GTEST_SKIP() << "ITSCAM_CUDA_LATENCY_KERNELS forces the choice";
    const Tensor one = golden_input("bus");
    if (!one.defined()) GTEST_SKIP() << "golden input not readable here";
    const int batch = 8;
    Tensor in = Tensor::empty(DType::kF32, {batch, one.dim(1), one.dim(2), one.dim(3)});
    for (int i = 0; i < batch; ++i)
        std::memcpy(in.data<float>() + i * one.numel(), one.data<float>(), one.numel() * sizeof(float));
    EngineOptions eo = cuda_options(Precision::kF16, batch, /*autotune=*/true);
    eo.tune_alternatives = true;  // as itscam optimize builds a plan
    auto e = Engine::load(model_path(), eo);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    const std::string tuning = (*e)->compiled().tuning();
    const auto lt = cuda::tuned_latency_kernels(tuning);
    ASSERT_TRUE(lt.has_value()) << tuning.substr(0, 200);
    ASSERT_GT(lt->on_ms, 0) << "no measurement recorded: " << tuning.substr(0, tuning.find('\n'));
    ASSERT_GT(lt->off_ms, 0);
    EXPECT_LE(lt->on ? lt->on_ms : lt->off_ms, lt->on ? lt->off_ms : lt->on_ms) << "kept the slower graph";
    EXPECT_NE((*e)->compiled().describe().find(lt->on ? "latency kernels on" : "latency kernels off"),
              std::string::npos)
        << (*e)->compiled().describe();
    std::printf("batch %d: %s\n", batch, tuning.substr(0, tuning.find('\n')).c_str());
    std::vector<Tensor> out;
    ASSERT_TRUE((*e)->run(in, out).is_ok());
    auto backend = backend_create("cuda:0");
    ASSERT_TRUE(backend.is_ok());
    expect_same_engine_from_tuning(**backend, (*e)->graph(), tuning, tuning, in, out[0].clone());
}

TEST(CudaBackend, DeviceTimesAndBinding) {
    REQUIRE_GPU();
    auto e = load_engine(Precision::kF16, 1);
    ASSERT_TRUE(e);
    CompiledGraph& c = e->compiled();
    ASSERT_NE(c.device_binding(), nullptr);
    EXPECT_NE(c.device_binding()->input, nullptr);
    EXPECT_NE(c.device_binding()->output, nullptr);
    auto t = c.device_times(5);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    ASSERT_EQ(t->size(), 5u);
    for (double ms : *t) EXPECT_GT(ms, 0.0);
    EXPECT_NE(c.describe().find("CUDA Graph"), std::string::npos) << c.describe();
}

// fp16 at batch 8: the Detector's GPU letterbox writes the engine's NHWC convolution input itself (the graph skips
// its "to NHWC" step; checked byte for byte at create()), and finds what the fp32-input path finds
// (ITSCAM_CUDA_DIRECT_INPUT=0), on the bus golden image in every slot of the batch. Only a graph without the latency
// kernels converts its input (with them, the stem kernel reads the fp32 NCHW input itself), so they are off here.
TEST(CudaBackend, DirectNhwcInputGivesTheSameDetections) {
    REQUIRE_GPU();
    if (std::getenv("ITSCAM_CUDA_LATENCY_KERNELS")) GTEST_SKIP() << "ITSCAM_CUDA_LATENCY_KERNELS is set outside";
    const ScopedEnv env("ITSCAM_CUDA_LATENCY_KERNELS", "off");
    const Tensor in = golden_input("bus");
    if (!in.defined()) GTEST_SKIP() << "no bus golden input under " << golden_dir();
    const int64_t h = in.dim(2), w = in.dim(3);
    std::vector<uint8_t> bgr(static_cast<size_t>(h * w * 3));
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                bgr[static_cast<size_t>((y * w + x) * 3 + c)] =
                    static_cast<uint8_t>(std::lround(in.data<float>()[(2 - c) * h * w + y * w + x] * 255.f));
    const std::vector<ImageView> images(8, ImageView{bgr.data(), static_cast<int>(w), static_cast<int>(h),
                                                     static_cast<size_t>(w) * 3});
    auto make = [&](bool direct) {
        if (!direct) setenv("ITSCAM_CUDA_DIRECT_INPUT", "0", 1);
        DetectorOptions o;
        o.engine.device = "cuda:0";
        o.engine.precision = Precision::kF16;
        o.engine.batch = 8;
        auto d = Detector::create(model_path(), o);
        unsetenv("ITSCAM_CUDA_DIRECT_INPUT");
        EXPECT_TRUE(d.is_ok()) << d.status().to_string();
        return d.is_ok() ? std::move(*d) : nullptr;
    };
    auto direct = make(true), plain = make(false);
    ASSERT_TRUE(direct && plain);
    ASSERT_TRUE(direct->gpu_pre_post());
    EXPECT_TRUE(direct->direct_input())
        << "the fp16 batch-8 graph without latency kernels converts its input first: the letterbox can write it";
    EXPECT_FALSE(plain->direct_input());
    auto a = direct->detect(images);
    auto b = plain->detect(images);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    ASSERT_EQ(a->size(), 8u);
    ASSERT_EQ(b->size(), 8u);
    for (size_t i = 0; i < 8; ++i) {
        EXPECT_GE((*b)[i].size(), 4u) << "the bus image has people and a bus";
        expect_same_detections((*b)[i], (*a)[i], 0.95f, 0.02f);
    }
}

// The CUDA graph with parallel branches (graph_branches.h), forced on, computes what the sequential graph of the same
// tuning computes on a real image, the same bytes in every run (a missed dependency is a race), and its longest chain
// is shorter than the step list (the detect head's branches at least).
TEST(CudaBackend, GraphBranchesGiveTheSequentialOutput) {
    REQUIRE_GPU();
    if (std::getenv("ITSCAM_CUDA_GRAPH_BRANCHES")) GTEST_SKIP() << "ITSCAM_CUDA_GRAPH_BRANCHES is set outside";
    const Tensor in = golden_input("bus");
    if (!in.defined()) GTEST_SKIP() << "no bus golden input under " << golden_dir();
    struct Restore {
        ~Restore() { unsetenv("ITSCAM_CUDA_GRAPH_BRANCHES"); }
    } restore;
    setenv("ITSCAM_CUDA_GRAPH_BRANCHES", "1", 1);
    auto branched = load_engine(Precision::kF16, 1);
    ASSERT_TRUE(branched);
    const std::string d = branched->compiled().describe();
    ASSERT_NE(d.find("parallel branches on (longest chain"), std::string::npos) << d;
    int chain = 0, steps = 0;
    ASSERT_EQ(std::sscanf(d.c_str() + d.find("longest chain"), "longest chain %d of %d steps", &chain, &steps), 2) << d;
    EXPECT_LT(chain, steps) << d;
    std::vector<Tensor> out;
    ASSERT_TRUE(branched->run(in, out).is_ok());
    const Tensor first = out[0].clone();
    for (int r = 0; r < 3; ++r) {
        ASSERT_TRUE(branched->run(in, out).is_ok());
        EXPECT_EQ(std::memcmp(first.raw(), out[0].raw(), first.nbytes()), 0) << "run " << r + 2;
    }

    setenv("ITSCAM_CUDA_GRAPH_BRANCHES", "0", 1);
    auto backend = backend_create("cuda:0");
    ASSERT_TRUE(backend.is_ok());
    BackendOptions bo;
    bo.precision = Precision::kF16;
    bo.tuning = branched->compiled().tuning();
    auto sequential = (*backend)->compile(branched->graph(), bo);
    ASSERT_TRUE(sequential.is_ok()) << sequential.status().to_string();
    EXPECT_NE((*sequential)->describe().find("parallel branches off"), std::string::npos) << (*sequential)->describe();
    ASSERT_TRUE((*sequential)->run({in}, out).is_ok());
    double err = 0;
    for (int64_t k = 0; k < first.numel(); ++k)
        err = std::max(err, static_cast<double>(std::fabs(first.data<float>()[k] - out[0].data<float>()[k])));
    EXPECT_LE(err, 1e-3);
}

// The step count in a CUDA compiled graph's describe() ("cuda:0 f16, 106 steps in one CUDA Graph, ..."), or -1.
int steps_of(const std::string& d) {
    int n = -1;
    return std::sscanf(d.c_str(), "cuda:%*d %*s %d steps", &n) == 1 ? n : -1;
}

// `e`'s graph compiled with its tuning (or none: `tuned` false) under `name`=`value`, the other fusions as they are;
// an error when it does not compile.
Result<std::unique_ptr<CompiledGraph>> compile_under(const Engine& e, Precision p, const char* name, const char* value,
                                                     bool tuned = true) {
    const ScopedEnv env(name, value);
    ITSCAM_ASSIGN_OR_RETURN(auto backend, backend_create("cuda:0"));
    BackendOptions bo;
    bo.precision = p;
    if (tuned) bo.tuning = e.compiled().tuning();
    return backend->compile(e.graph(), bo);
}

// A value of a fusion switch other than 0 or 1 fails the compile, naming the variable and the value.
void expect_switch_refused(const Engine& e, Precision p, const char* name, const char* value) {
    auto bad = compile_under(e, p, name, value);
    ASSERT_FALSE(bad.is_ok()) << name << "=" << value;
    EXPECT_NE(bad.status().to_string().find(std::string(name) + "='" + value + "'"), std::string::npos)
        << bad.status().to_string();
}

// The PSA attention block as one kernel (ops/attention_fused.h): found once in YOLO11n, on by default in fp16, at
// least nine steps fewer, and the graph's output on a real image is what the generic steps compute
// (ITSCAM_CUDA_FUSED_ATTENTION=0), within fp16 rounding, with the reference's detections. A bad value of the
// variable is a clear error.
TEST(CudaBackend, FusedAttentionMatchesTheGenericSteps) {
    REQUIRE_GPU();
    if (std::getenv("ITSCAM_CUDA_FUSED_ATTENTION")) GTEST_SKIP() << "ITSCAM_CUDA_FUSED_ATTENTION is set outside";
    const Tensor in = golden_input("bus"), want = golden_output("bus");
    if (!in.defined() || !want.defined()) GTEST_SKIP() << "no bus golden input/output under " << golden_dir();
    auto e = load_engine(Precision::kF16, 1);
    ASSERT_TRUE(e);
    const auto blocks = find_attention_blocks(e->graph());
    ASSERT_EQ(blocks.size(), 1u);
    EXPECT_EQ(blocks[0].heads, 2);
    EXPECT_EQ(blocks[0].dk, 32);
    EXPECT_EQ(blocks[0].dv, 64);
    EXPECT_EQ(blocks[0].hw, 400);
    EXPECT_EQ(blocks[0].nodes.size(), 10u);
    EXPECT_NEAR(blocks[0].scale, 1.0 / std::sqrt(32.0), 1e-6);
    const std::string fd = e->compiled().describe();
    EXPECT_NE(fd.find("fused attention blocks 1"), std::string::npos) << fd;
    EXPECT_NE(fd.find("Attention fused (2 heads, 400 tokens"), std::string::npos) << fd;
    std::vector<Tensor> out;
    ASSERT_TRUE(e->run(in, out).is_ok());
    const Tensor fused = out[0].clone();

    expect_switch_refused(*e, Precision::kF16, "ITSCAM_CUDA_FUSED_ATTENTION", "yes");
    auto generic = compile_under(*e, Precision::kF16, "ITSCAM_CUDA_FUSED_ATTENTION", "0");
    ASSERT_TRUE(generic.is_ok()) << generic.status().to_string();
    const std::string gd = (*generic)->describe();
    EXPECT_NE(gd.find("fused attention blocks 0"), std::string::npos) << gd;
    RecordProperty("steps_fused", steps_of(fd));
    RecordProperty("steps_generic", steps_of(gd));
    EXPECT_GT(steps_of(fd), 0) << fd;
    EXPECT_GE(steps_of(gd) - steps_of(fd), 9) << fd << gd;
    ASSERT_TRUE((*generic)->run({in}, out).is_ok());
    const int64_t an = fused.dim(2);
    double box_err = 0, score_err = 0;
    for (int64_t c = 0; c < fused.dim(1); ++c)
        for (int64_t a = 0; a < an; ++a) {
            const double d = std::fabs(fused.data<float>()[c * an + a] - out[0].data<float>()[c * an + a]);
            (c < 4 ? box_err : score_err) = std::max(c < 4 ? box_err : score_err, d);
        }
    RecordProperty("max_box_delta", std::to_string(box_err));
    RecordProperty("max_score_delta", std::to_string(score_err));
    EXPECT_LE(box_err, 2.0) << "pixels";
    EXPECT_LE(score_err, 0.02);
    expect_same_detections(decode(out[0]), decode(fused), 0.98f, 0.01f);
    expect_same_detections(decode(want), decode(fused), 0.95f, 0.02f);
}

// SPPF's three MaxPools as one kernel (ops/pool_resize.h): one chain in YOLO11n, on by default, two steps fewer,
// and the same output bytes as the three pools (ITSCAM_CUDA_FUSED_POOLS=0) on a real image, in fp16 and fp32. A bad
// value of the variable is a clear error.
TEST(CudaBackend, FusedMaxPoolChainGivesTheSameBytes) {
    REQUIRE_GPU();
    if (std::getenv("ITSCAM_CUDA_FUSED_POOLS")) GTEST_SKIP() << "ITSCAM_CUDA_FUSED_POOLS is set outside";
    const Tensor in = golden_input("bus");
    if (!in.defined()) GTEST_SKIP() << "no bus golden input under " << golden_dir();
    for (Precision p : {Precision::kF16, Precision::kF32}) {
        SCOPED_TRACE(precision_name(p));
        auto e = load_engine(p, 1);
        ASSERT_TRUE(e);
        const std::string fd = e->compiled().describe();
        EXPECT_NE(fd.find("fused MaxPool chains 1"), std::string::npos) << fd;
        EXPECT_NE(fd.find("MaxPool chain 3 x 5x5 [1,128,20,20] (one kernel)"), std::string::npos) << fd;
        std::vector<Tensor> out;
        ASSERT_TRUE(e->run(in, out).is_ok());
        const Tensor fused = out[0].clone();

        expect_switch_refused(*e, p, "ITSCAM_CUDA_FUSED_POOLS", "on");
        auto three = compile_under(*e, p, "ITSCAM_CUDA_FUSED_POOLS", "0");
        ASSERT_TRUE(three.is_ok()) << three.status().to_string();
        const std::string td = (*three)->describe();
        EXPECT_NE(td.find("fused MaxPool chains 0"), std::string::npos) << td;
        EXPECT_EQ(steps_of(fd) + 2, steps_of(td)) << fd << td;
        ASSERT_TRUE((*three)->run({in}, out).is_ok());
        ASSERT_EQ(out[0].nbytes(), fused.nbytes());
        EXPECT_EQ(std::memcmp(out[0].raw(), fused.raw(), fused.nbytes()), 0);
    }
}

// The Concat members placed in their Concat's buffer and those copied, from describe() ("concat members placed 44 /
// copied 0"); {-1, -1} when the line is missing.
std::pair<int, int> concat_members(const std::string& d) {
    const size_t at = d.find("concat members placed ");
    int placed = -1, copied = -1;
    if (at == std::string::npos ||
        std::sscanf(d.c_str() + at, "concat members placed %d / copied %d", &placed, &copied) != 2)
        return {-1, -1};
    return {placed, copied};
}

// Issue 13 item 3: no Concat member of YOLO11n is copied, in fp16 and fp32, C2PSA's Split output 0 included (its
// Split's input is placed in the Concat, and the PSA block's result overwrites Split output 1 once that is dead:
// ops/data_movement.cpp). Without the latency kernels, Split inputs are not placed, so copies come back: the count
// is what the lowering did. The detections with the placements are checked by the golden tests above.
TEST(CudaBackend, NoConcatMemberOfYolo11nIsCopied) {
    REQUIRE_GPU();
    if (std::getenv("ITSCAM_CUDA_LATENCY_KERNELS")) GTEST_SKIP() << "ITSCAM_CUDA_LATENCY_KERNELS is set outside";
    for (Precision p : {Precision::kF16, Precision::kF32}) {
        SCOPED_TRACE(precision_name(p));
        auto e = load_engine(p, 1);
        ASSERT_TRUE(e);
        const std::string d = e->compiled().describe();
        const auto [placed, copied] = concat_members(d);
        EXPECT_GE(placed, 40) << d;
        EXPECT_EQ(copied, 0) << d;
        // Untuned: the tuning of `e` has no entries for the convolutions that the latency kernels replace.
        auto off = compile_under(*e, p, "ITSCAM_CUDA_LATENCY_KERNELS", "off", /*tuned=*/false);
        ASSERT_TRUE(off.is_ok()) << off.status().to_string();
        const auto [placed_off, copied_off] = concat_members((*off)->describe());
        EXPECT_GT(copied_off, 0) << (*off)->describe();
        EXPECT_GE(placed_off + copied_off, 1) << (*off)->describe();
    }
}

TEST(CudaBackend, BadInputIsAClearError) {
    REQUIRE_GPU();
    auto e = load_engine(Precision::kF16, 1);
    ASSERT_TRUE(e);
    std::vector<Tensor> out;
    const Status st = e->run(Tensor::zeros(DType::kF32, {1, 3, 320, 320}), out);
    EXPECT_FALSE(st.is_ok());
    // The engine still works afterwards.
    EXPECT_TRUE(e->run(Tensor::zeros(DType::kF32, {1, 3, 640, 640}), out).is_ok());
}

TEST(CudaBackend, BadDeviceOrdinalsAreClearErrors) {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
    auto b = backend_create("cuda:99");
    ASSERT_FALSE(b.is_ok());
    EXPECT_NE(b.status().message().find("does not exist"), std::string::npos);
    EXPECT_FALSE(backend_create("cuda:x").is_ok());
    EXPECT_FALSE(backend_create("cpu:1").is_ok());
}

// fp16 and fp32 run; int8 and fp8 are refused by supports_precision, which Engine asks before calibrating.
TEST(CudaBackend, RefusesInt8AndFp8BeforeCalibration) {
    auto b = backend_create("cuda:0");
    if (!b.is_ok()) GTEST_SKIP() << "no CUDA device";
    EXPECT_TRUE((*b)->supports_precision(Precision::kF16).is_ok());
    EXPECT_TRUE((*b)->supports_precision(Precision::kF32).is_ok());
    for (Precision p : {Precision::kInt8, Precision::kFp8, Precision::kBF16}) {
        const Status s = (*b)->supports_precision(p);
        EXPECT_EQ(s.code(), StatusCode::kUnsupported) << precision_name(p);
        EXPECT_NE(s.message().find("on the CUDA backend (use fp16 or fp32)"), std::string::npos) << s.to_string();
    }
}

// The op-family rules (backend/cuda/ops): which rule takes a node, in which layout. Needs no GPU: classification
// reads only the graph.
class CudaRules : public ::testing::Test {
protected:
    void SetUp() override {
        value("x", {1, 8, 16, 16});
        value("y", {1, 8, 16, 16});
        g_.inputs = {"x", "y"};
        g_.constants["w"] = Tensor::zeros(DType::kF32, {8, 8, 3, 3});
        g_.constants["scales"] = Tensor::from_f32({1.f, 1.f, 2.f, 2.f}, {4});
        g_.constants["bins"] = Tensor::zeros(DType::kF32, {16});
        g_.constants["starts"] = Tensor::zeros(DType::kI64, {1});
    }
    void value(const std::string& v, Shape s) { g_.values[v] = ValueInfo{DType::kF32, std::move(s)}; }
    // Adds a node whose output "<name>_out" has shape `out` and returns how the CUDA rules classify it: the rule's
    // family and layout, or "none".
    std::string rule_of(const std::string& op, std::vector<std::string> inputs, Shape out,
                        std::map<std::string, Attr> attrs = {}) {
        Node n;
        n.op = op;
        n.name = op + std::to_string(g_.nodes.size());
        n.inputs = std::move(inputs);
        n.outputs = {n.name + "_out"};
        n.attrs = std::move(attrs);
        value(n.outputs[0], std::move(out));
        g_.nodes.push_back(n);
        cuda::CudaLowering cx(g_, BackendOptions{}, 0);
        const cuda::CudaRule* r = cx.classify(n);
        return r ? r->family + "/" + layout_name(r->layout) : "none";
    }
    Graph g_;
};

TEST_F(CudaRules, EachOpHasItsFamilyAndLayout) {
    const Shape s = {1, 8, 16, 16};
    EXPECT_EQ(rule_of("Conv", {"x", "w"}, s), "conv/nhwc");
    EXPECT_EQ(rule_of("Conv", {"x", "y"}, s), "none");  // weights must be constant
    EXPECT_EQ(rule_of("MaxPool", {"x"}, s), "pool_resize/nhwc");
    EXPECT_EQ(rule_of("MaxPool", {"x"}, s, {{"ceil_mode", Attr::of_int(1)}}), "none");
    EXPECT_EQ(rule_of("Resize", {"x", "", "scales"}, {1, 8, 32, 32}), "pool_resize/nhwc");
    EXPECT_EQ(rule_of("Resize", {"x", "", "scales"}, {1, 8, 32, 32}, {{"mode", Attr::of_string("linear")}}), "none");
    // Channel Concat/Split run on NHWC views; along another axis they are plain copies.
    EXPECT_EQ(rule_of("Concat", {"x", "y"}, {1, 16, 16, 16}, {{"axis", Attr::of_int(1)}}), "data_movement/nhwc");
    EXPECT_EQ(rule_of("Concat", {"x", "y"}, {1, 16, 16, 16}, {{"axis", Attr::of_int(-3)}}), "data_movement/nhwc");
    EXPECT_EQ(rule_of("Concat", {"x", "y"}, {1, 8, 32, 16}, {{"axis", Attr::of_int(2)}}), "data_movement/plain");
    EXPECT_EQ(rule_of("Split", {"x"}, {1, 4, 16, 16}, {{"axis", Attr::of_int(1)}}), "data_movement/nhwc");
    EXPECT_EQ(rule_of("Split", {"x"}, {1, 8, 8, 16}, {{"axis", Attr::of_int(2)}}), "data_movement/plain");
    EXPECT_EQ(rule_of("Reshape", {"x"}, {1, 8, 256}), "data_movement/plain");
    EXPECT_EQ(rule_of("Transpose", {"x"}, {16, 16, 8, 1}), "data_movement/plain");
    EXPECT_EQ(rule_of("Slice", {"x", "starts"}, s), "data_movement/plain");
    EXPECT_EQ(rule_of("Slice", {"x", "y"}, s), "none");  // starts must be constant
    EXPECT_EQ(rule_of("Add", {"x", "y"}, s), "elementwise/plain");
    EXPECT_EQ(rule_of("Sigmoid", {"x"}, s), "elementwise/plain");
    EXPECT_EQ(rule_of("MatMul", {"x", "y"}, s), "attention/plain");
    EXPECT_EQ(rule_of("Softmax", {"x"}, s), "attention/plain");
    EXPECT_EQ(rule_of("DflDecode", {"x", "bins"}, {1, 4, 16}), "head/plain");
    EXPECT_EQ(rule_of("Gelu", {"x"}, s), "none");
    EXPECT_EQ(rule_of("Conv", {"x", "w"}, {1, 8, -1, 16}), "none");  // output shape must be known
}

TEST(CudaRulesRegistry, ListsEveryLoweredOp) {
    const std::vector<std::string> want = {"Add",      "Concat",    "Conv",     "DflDecode", "Div",   "Flatten",
                                           "Identity", "MatMul",    "MaxPool",  "Mul",       "Relu",  "Reshape",
                                           "Resize",   "Sigmoid",   "Slice",    "Softmax",   "Split", "Squeeze",
                                           "Sub",      "Transpose", "Unsqueeze"};
    EXPECT_EQ(cuda::cuda_lowering_registry().ops(), want);
}

}  // namespace
}  // namespace itscam
