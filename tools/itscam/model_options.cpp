#include "model_options.h"

#if defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

#include "runtime/plan.h"
#include "vision/letterbox.h"

namespace itscam::cli {

void add_model_options(CLI::App& app, ModelArgs& a) {
    app.add_option("-m,--model", a.model,
                   "ONNX model (Ultralytics YOLO11 detect export) or itscam plan (from `itscam optimize`)")
        ->required();
    a.device_opt = app.add_option("--device", a.device,
                                  "Backend: cpu (oneDNN), ref (reference oracle) or cuda[:N] (GPU N, CUDA builds); "
                                  "a plan's own device when not given")
                       ->capture_default_str();
    a.precision_opt = app.add_option("--precision", a.precision,
                                     "fp32 (default); opt-in bf16 (AVX512-BF16/AMX), int8 (VNNI, needs --calib), "
                                     "fp16 (cuda), fp8 (E4M3, emulated on ref, needs --calib); a plan's own precision "
                                     "when not given")
                          ->capture_default_str();
    app.add_option("--calib", a.calib,
                   "int8 and fp8: folder of calibration images (traffic frames like the ones you run on)");
    app.add_option("--threads", a.threads, "Worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
    app.add_option("--imgsz", a.imgsz, "Input size (0 = the model's imgsz; fixed-size exports only run at theirs)")
        ->check(CLI::Range(0, 8192));
    app.add_flag("--no-optimize", a.no_optimize,
                 "Plain execution, as ENABLE_TENSORRT: false: no fusion passes, the backend's default algorithms (no "
                 "autotuning, no recorded plan tuning)");
}

bool to_engine_options(const ModelArgs& a, EngineOptions& e, std::string& err) {
    e.device = a.device;
    if ((!a.device_opt || a.device_opt->count() == 0) && is_plan_file(a.model)) {
        // A targeted plan runs on the backend it was built for (GPU 0 for cuda) unless --device says otherwise.
        auto info = plan_read_info(a.model);
        if (info && !info->portable()) e.device = info->backend;
    }
    e.threads = a.threads;
    e.height = e.width = a.imgsz;
    e.optimize = !a.no_optimize;
    auto p = parse_precision(a.precision);
    if (!p) {
        err = p.status().message();
        return false;
    }
    e.precision = *p;
    e.precision_explicit = a.precision_opt && a.precision_opt->count() > 0;
    if (!a.calib.empty() && e.precision_explicit && !needs_calibration(e.precision)) {
        err = std::string("--calib applies to --precision int8 and fp8 only, not ") + precision_name(e.precision);
        return false;
    }
    if (!a.calib.empty()) {
#if !(defined(ITSCAM_HAVE_OPENCV) && ITSCAM_HAVE_OPENCV)
        err = "--calib needs image decoding, and this build has no OpenCV (configure with -DITSCAM_WITH_OPENCV=ON)";
        return false;
#else
        std::vector<std::string> files;
        if (!collect_images({a.calib}, files, err)) {
            err = "--calib: " + err;
            return false;
        }
        const std::string prec = precision_name(e.precision);
        e.calibration = [files, prec](int h, int w) -> Result<std::vector<Tensor> > {
            std::vector<Tensor> out;
            for (const auto& f : files) {
                cv::Mat img = cv::imread(f, cv::IMREAD_COLOR);
                if (img.empty()) return io_error("cannot read calibration image '" + f + "'");
                Tensor t = Tensor::empty(DType::kF32, {1, 3, h, w});
                vision::letterbox_bgr_u8_to_rgb_f32(img.data, img.cols, img.rows, img.step[0], w, h, t.data<float>());
                out.push_back(t);
            }
            std::fprintf(stderr, "%s: calibrated on %zu images from --calib\n", prec.c_str(), out.size());
            return out;
        };
#endif
    }
    return true;
}

}  // namespace itscam::cli
