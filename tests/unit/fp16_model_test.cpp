// An fp16 export (Ultralytics half=True: float16 weights, input and output) imports and runs on the fp32 CPU
// backend through the float16_to_float32 pass. The fp16 model is made here from the real fp32 weights, the way
// the exporter writes it (Resize scales stay float32, as ONNX requires).
#include <gtest/gtest.h>
#include <onnx/onnx-ml.pb.h>

#include <cmath>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>

#include "backend/backend.h"
#include "core/dtype.h"
#include "onnx/onnx_importer.h"
#include "runtime/engine.h"
#include "vision/npy.h"

namespace itscam {
namespace {

const std::string kShared = ITSCAM_SHARED_DIR;

std::string make_fp16_model() {
    std::ifstream f(kShared + "/models/yolo11n.onnx", std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    onnx::ModelProto m;
    EXPECT_TRUE(m.ParseFromString(ss.str()));
    std::set<std::string> keep_f32;
    for (const auto& n : m.graph().node())
        if (n.op_type() == "Resize")
            for (int i = 1; i < n.input_size(); ++i) keep_f32.insert(n.input(i));
    for (auto& t : *m.mutable_graph()->mutable_initializer()) {
        if (t.data_type() != onnx::TensorProto_DataType_FLOAT || keep_f32.count(t.name())) continue;
        const std::string& raw = t.raw_data();
        std::vector<float> v(raw.size() / 4);
        std::memcpy(v.data(), raw.data(), raw.size());
        std::string out(v.size() * 2, '\0');
        for (size_t i = 0; i < v.size(); ++i) {
            const uint16_t h = float_to_half(v[i]);
            std::memcpy(&out[2 * i], &h, 2);
        }
        t.set_data_type(onnx::TensorProto_DataType_FLOAT16);
        t.set_raw_data(out);
    }
    m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto_DataType_FLOAT16);
    m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto_DataType_FLOAT16);
    return m.SerializeAsString();
}

TEST(Fp16Export, RunsOnTheCpuBackendCloseToFp32Reference) {
    auto names = backend_names();
    if (std::find(names.begin(), names.end(), "cpu") == names.end()) GTEST_SKIP() << "cpu backend not built";
    const std::string bytes = make_fp16_model();
    auto g = onnx_import_bytes(bytes.data(), bytes.size());
    ASSERT_TRUE(g) << g.status().to_string();
    EXPECT_EQ(g->values.at(g->inputs[0]).dtype, DType::kF16);
    EngineOptions eo;
    auto e = Engine::from_graph(std::move(g).value(), eo);
    ASSERT_TRUE(e) << e.status().to_string();
    EXPECT_GT((*e)->pass_stats().at("float16_to_float32"), 100);
    for (const auto& [name, t] : (*e)->graph().constants) EXPECT_NE(t.dtype(), DType::kF16) << name;

    cv::Mat img = cv::imread(kShared + "/golden/bus_640.input.png", cv::IMREAD_COLOR);
    ASSERT_FALSE(img.empty());
    Tensor in = Tensor::empty(DType::kF32, {1, 3, 640, 640});
    for (int y = 0; y < 640; ++y)
        for (int x = 0; x < 640; ++x)
            for (int c = 0; c < 3; ++c) in.data<float>()[(c * 640 + y) * 640 + x] = img.ptr<uint8_t>(y)[3 * x + 2 - c] / 255.f;
    std::vector<Tensor> outs;
    ASSERT_TRUE((*e)->run(in, outs).is_ok());
    std::vector<float> ref;
    std::vector<int64_t> shape;
    std::string err;
    ASSERT_TRUE(vision::npy_load_f32(kShared + "/golden/bus_640.output.npy", ref, shape, &err)) << err;
    ASSERT_EQ(outs[0].numel(), static_cast<int64_t>(ref.size()));
    // fp16 weights move results a little: compare the confident class scores and their boxes.
    float max_cls = 0, max_box = 0;
    int confident = 0;
    for (int64_t a = 0; a < 8400; ++a)
        for (int64_t c = 4; c < 84; ++c) {
            const float r = ref[c * 8400 + a], o = outs[0].data<float>()[c * 8400 + a];
            max_cls = std::max(max_cls, std::fabs(r - o));
            if (r > 0.25f) {
                ++confident;
                for (int k = 0; k < 4; ++k)
                    max_box = std::max(max_box, std::fabs(ref[k * 8400 + a] - outs[0].data<float>()[k * 8400 + a]));
            }
        }
    EXPECT_GT(confident, 10);
    EXPECT_LT(max_cls, 0.02f);
    EXPECT_LT(max_box, 2.0f);
    std::printf("fp16 export vs fp32 golden: max class-score delta %.4g, max box delta %.3g px (%d confident)\n",
                max_cls, max_box, confident);
}

}  // namespace
}  // namespace itscam
