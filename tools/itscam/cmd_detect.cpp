#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "model_options.h"
#include "vision/image_io.h"
#if defined(ITSCAM_HAVE_OPENCV)
#include <opencv2/imgcodecs.hpp>

#include "vision/draw.h"
#else
#include "vision/draw_boxes.h"
#endif

namespace itscam::cli {

namespace fs = std::filesystem;

namespace {

struct DetectArgs {
    ModelArgs m;
    float conf = 0.25f, iou = 0.7f;
    int max_det = 300;
    std::string classes;
    bool agnostic = false;
    std::string save_dir, json_out;
    std::vector<std::string> inputs;
    bool quiet = false;
};

double round_to(double v, int digits) {
    const double k = std::pow(10.0, digits);
    return std::round(v * k) / k;
}

// The annotated copy of an image in save_dir: with OpenCV in the input's format (a PPM input gives a PPM),
// labelled; without it always a PPM (<stem>.ppm), boxes only. Returns the path written, or "" with err set.
std::string save_annotated(vision::ImageBgr& img, const std::vector<vision::Detection>& dets, const Detector& d,
                           const std::string& save_dir, const std::string& input, std::string& err) {
#if defined(ITSCAM_HAVE_OPENCV)
    const std::string out = (fs::path(save_dir) / fs::path(input).filename()).string();
    cv::Mat m(img.height, img.width, CV_8UC3, img.bgr.data());
    vision::draw_detections(m, dets, d.class_names());
    if (!cv::imwrite(out, m)) {
        err = "cannot write '" + out + "'";
        return {};
    }
#else
    const std::string out = (fs::path(save_dir) / fs::path(input).filename().replace_extension(".ppm")).string();
    vision::draw_boxes(img, dets);
    if (!vision::write_ppm(out, img, &err)) return {};
#endif
    return out;
}

int run_detect(const DetectArgs& a) {
    std::string err;
    std::vector<std::string> files;
    if (!collect_images(a.inputs, files, err)) return fail(err, 2);
    DetectorOptions opt;
    if (!to_engine_options(a.m, opt.engine, err)) return fail(err, 2);
    opt.nms.conf = a.conf;
    opt.nms.iou = a.iou;
    opt.nms.max_det = a.max_det;
    opt.nms.agnostic = a.agnostic;
    if (!a.classes.empty() && !parse_int_csv(a.classes, opt.nms.classes, err)) return fail("--classes: " + err, 2);
    auto det = Detector::create(a.m.model, opt);
    if (!det) return fail(det.status().to_string(), 2);
    Detector& d = **det;
    if (!a.save_dir.empty()) {
        std::error_code ec;
        fs::create_directories(a.save_dir, ec);
        if (ec) return fail("cannot create --save-dir '" + a.save_dir + "': " + ec.message());
    }
    nlohmann::json all = nlohmann::json::array();
    int failures = 0;
    for (const auto& path : files) {
        vision::ImageBgr img;
        if (!vision::read_image_bgr(path, img, &err)) {
            std::fprintf(stderr, "itscam: error: %s\n", err.c_str());
            ++failures;
            continue;
        }
        ImageView v{img.bgr.data(), img.width, img.height, static_cast<size_t>(img.width) * 3};
        auto r = d.detect({v});
        if (!r) return fail(path + ": " + r.status().to_string());
        const auto& dets = (*r)[0];
        nlohmann::json j;
        j["model"] = fs::path(a.m.model).filename().string();
        j["image"] = fs::path(path).filename().string();
        j["image_size"] = {img.width, img.height};
        j["input_size"] = {d.engine().input_height(), d.engine().input_width()};
        j["conf"] = a.conf;
        j["iou"] = a.iou;
        j["detections"] = nlohmann::json::array();
        std::map<std::string, int> counts;
        for (const auto& x : dets) {
            j["detections"].push_back({{"class_id", x.class_id},
                                       {"name", d.class_name(x.class_id)},
                                       {"score", round_to(x.score, 5)},
                                       {"box", {round_to(x.x1, 2), round_to(x.y1, 2), round_to(x.x2, 2), round_to(x.y2, 2)}}});
            counts[d.class_name(x.class_id)]++;
        }
        all.push_back(j);
        if (!a.quiet) {
            std::string summary;
            for (const auto& [name, c] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(c) + " " + name;
            const auto& t = d.last_timings();
            std::printf("%s: %dx%d %s (%.1f ms preprocess, %.1f ms inference, %.1f ms postprocess)\n",
                        path.c_str(), img.width, img.height, summary.empty() ? "no detections" : summary.c_str(),
                        t.preprocess_ms, t.inference_ms, t.postprocess_ms);
        }
        if (!a.save_dir.empty()) {
            const std::string out = save_annotated(img, dets, d, a.save_dir, path, err);
            if (out.empty()) return fail(err);
            if (!a.quiet) std::printf("  saved %s\n", out.c_str());
        }
    }
    if (!a.json_out.empty()) {
        std::ofstream f(a.json_out);
        if (!f) return fail("cannot write --json '" + a.json_out + "'");
        f << (all.size() == 1 ? all[0] : all).dump(1) << "\n";
        if (!f) return fail("cannot write --json '" + a.json_out + "'");
    }
    if (failures) return fail(std::to_string(failures) + " of " + std::to_string(files.size()) + " images could not be read", 1);
    return 0;
}

}  // namespace

RunFn add_detect_command(CLI::App& app) {
    auto a = std::make_shared<DetectArgs>();
    add_model_options(app, a->m);
    app.add_option("--conf", a->conf, "Confidence threshold")->check(CLI::Range(0.0, 1.0))->capture_default_str();
    app.add_option("--iou", a->iou, "NMS IoU threshold")->check(CLI::Range(0.0, 1.0))->capture_default_str();
    app.add_option("--max-det", a->max_det, "Maximum detections per image")->check(CLI::Range(1, 100000))
        ->capture_default_str();
    app.add_option("--classes", a->classes, "Keep only these class ids, e.g. 2,5,7 (car, bus, truck)");
    app.add_flag("--agnostic", a->agnostic, "Class-agnostic NMS");
    app.add_option("--save-dir", a->save_dir,
                   "Write annotated images here (without OpenCV: as PPM, boxes without labels)");
    app.add_option("--json", a->json_out, "Write detections as JSON (an object for one image, a list for several)");
    app.add_flag("-q,--quiet", a->quiet, "Print nothing but errors");
#if defined(ITSCAM_HAVE_OPENCV)
    app.add_option("inputs", a->inputs, "Images or directories of images")->required();
#else
    app.add_option("inputs", a->inputs, "PPM/PGM images (binary P6/P5: this build has no OpenCV) or directories")
        ->required();
#endif
    return [a] { return run_detect(*a); };
}

}  // namespace itscam::cli
