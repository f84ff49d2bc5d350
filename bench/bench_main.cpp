// Google Benchmark harness: the stages of one frame's walk (letterbox, engine, decode + NMS) measured in
// isolation. Compare ratios within one run; absolute times on a shared machine are noise.
#include <benchmark/benchmark.h>

#include <opencv2/imgcodecs.hpp>
#include <random>

#include "backend/backend.h"
#include "runtime/engine.h"
#include "runtime/process_setup.h"
#include "vision/letterbox.h"
#include "vision/npy.h"
#include "vision/postprocess.h"

namespace {

const std::string kShared = ITSCAM_SHARED_DIR;

void BM_Letterbox(benchmark::State& st) {
    cv::Mat img = cv::imread(kShared + "/data/images/bus.jpg", cv::IMREAD_COLOR);
    std::vector<float> out(3 * 640 * 640);
    for (auto _ : st) {
        itscam::vision::letterbox_bgr_u8_to_rgb_f32(img.data, img.cols, img.rows, img.step[0], 640, 640, out.data());
        benchmark::DoNotOptimize(out.data());
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Letterbox)->Unit(benchmark::kMillisecond);

void BM_DecodeNms(benchmark::State& st) {
    std::vector<float> out;
    std::vector<int64_t> shape;
    std::string err;
    if (!itscam::vision::npy_load_f32(kShared + "/golden/bus_640.output.npy", out, shape, &err)) {
        st.SkipWithError(err.c_str());
        return;
    }
    itscam::vision::NmsOptions opt;
    opt.conf = st.range(0) / 1000.f;
    size_t n = 0;
    for (auto _ : st) n = itscam::vision::yolo_decode_nms(out.data(), 84, 8400, opt).size();
    st.counters["detections"] = static_cast<double>(n);
}
BENCHMARK(BM_DecodeNms)->Arg(250)->Arg(1)->Unit(benchmark::kMillisecond);

// Engine on random input. Args: batch, threads, precision (0 fp32, 1 bf16).
void BM_Engine(benchmark::State& st) {
    itscam::EngineOptions eo;
    eo.device = "cpu";
    eo.batch = static_cast<int>(st.range(0));
    eo.threads = static_cast<int>(st.range(1));
    eo.precision = st.range(2) ? itscam::Precision::kBF16 : itscam::Precision::kF32;
    auto e = itscam::Engine::load(kShared + "/models/yolo11n.onnx", eo);
    if (!e) {
        st.SkipWithError(e.status().to_string().c_str());
        return;
    }
    itscam::Tensor in = itscam::Tensor::empty(itscam::DType::kF32, {eo.batch, 3, 640, 640});
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (int64_t i = 0; i < in.numel(); ++i) in.data<float>()[i] = u(rng);
    std::vector<itscam::Tensor> outs;
    for (int i = 0; i < 3; ++i) (void)(*e)->run(in, outs);
    for (auto _ : st) {
        auto s = (*e)->run(in, outs);
        if (!s.is_ok()) st.SkipWithError(s.to_string().c_str());
    }
    st.SetItemsProcessed(st.iterations() * eo.batch);
}
BENCHMARK(BM_Engine)
    ->ArgNames({"batch", "threads", "bf16"})
    ->Args({1, 2, 0})
    ->Args({1, 2, 1})
    ->Args({4, 2, 0})
    ->Args({1, 1, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    itscam::prefer_short_openmp_spins(argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
