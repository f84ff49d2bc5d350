#include "model_options.h"

namespace itscam::cli {

void add_model_options(CLI::App& app, ModelArgs& a) {
    app.add_option("-m,--model", a.model, "ONNX model (Ultralytics YOLO11 detect export)")->required();
    app.add_option("--device", a.device, "Backend: cpu (oneDNN) or ref (reference oracle)")->capture_default_str();
    app.add_option("--precision", a.precision, "fp32 (default) or bf16 (opt-in, CPUs with AVX512-BF16/AMX)")
        ->capture_default_str();
    app.add_option("--threads", a.threads, "Worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
    app.add_option("--imgsz", a.imgsz, "Input size (0 = the model's imgsz; fixed-size exports only run at theirs)")
        ->check(CLI::Range(0, 8192));
}

bool to_engine_options(const ModelArgs& a, EngineOptions& e, std::string& err) {
    e.device = a.device;
    e.threads = a.threads;
    e.height = e.width = a.imgsz;
    auto p = parse_precision(a.precision);
    if (!p) {
        err = p.status().message();
        return false;
    }
    e.precision = *p;
    return true;
}

}  // namespace itscam::cli
