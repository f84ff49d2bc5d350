#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "model_options.h"
#include "vision/image_io.h"
#include "vision/metrics_map.h"

namespace itscam::cli {

namespace fs = std::filesystem;

namespace {

struct ValArgs {
    ModelArgs m;
    std::string data, json_out, split;
    float conf = 0.001f, iou = 0.7f;
    int max_det = 300;
    int limit = 0;
};

// YOLO layout: DATA/images/<split>/x.jpg with DATA/labels/<split>/x.txt (split optional). Labels sit where
// "images" is replaced by "labels" in the image path, as Ultralytics resolves them.
bool find_image_dir(const ValArgs& a, fs::path& images, fs::path& labels, std::string& err) {
    fs::path root(a.data);
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
        err = "--data '" + a.data + "' is not a directory";
        return false;
    }
    if (fs::is_directory(root / "images", ec)) {
        images = root / "images";
        labels = root / "labels";
        if (!a.split.empty()) {
            images /= a.split;
            labels /= a.split;
        } else {
            // Take the single split folder when there is one (coco128: images/train2017).
            std::vector<fs::path> subs;
            for (const auto& e : fs::directory_iterator(images, ec))
                if (e.is_directory()) subs.push_back(e.path());
            if (subs.size() == 1) {
                labels /= subs[0].filename();
                images = subs[0];
            } else if (subs.size() > 1) {
                err = "--data has several splits under images/; choose one with --split";
                return false;
            }
        }
    } else {
        images = root;
        labels = root;
    }
    return true;
}

int run_val(const ValArgs& a) {
    std::string err;
    fs::path image_dir, label_dir;
    if (!find_image_dir(a, image_dir, label_dir, err)) return fail(err, 2);
    std::vector<std::string> files;
    if (!collect_images({image_dir.string()}, files, err)) return fail(err, 2);
    if (a.limit > 0 && static_cast<int>(files.size()) > a.limit) files.resize(a.limit);
    DetectorOptions opt;
    if (!to_engine_options(a.m, opt.engine, err)) return fail(err, 2);
    opt.nms.conf = a.conf;
    opt.nms.iou = a.iou;
    opt.nms.max_det = a.max_det;
    auto det = Detector::create(a.m.model, opt);
    if (!det) return fail(det.status().to_string(), 2);
    vision::MapEvaluator eval;
    size_t done = 0, labelled = 0;
    double infer_ms = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& path : files) {
        vision::ImageBgr img;
        if (!vision::read_image_bgr(path, img, &err)) return fail(err);
        std::vector<vision::GroundTruth> gt;
        const fs::path lp = label_dir / (fs::path(path).stem().string() + ".txt");
        if (!vision::load_yolo_labels(lp.string(), img.width, img.height, gt, &err)) return fail(lp.string() + ": " + err, 2);
        if (!gt.empty()) ++labelled;
        auto r = (*det)->detect({ImageView{img.bgr.data(), img.width, img.height, static_cast<size_t>(img.width) * 3}});
        if (!r) return fail(path + ": " + r.status().to_string());
        infer_ms += (*det)->last_timings().inference_ms;
        eval.add_image(gt, (*r)[0]);
        progress(++done, files.size(), "val " + fs::path(path).filename().string());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const vision::MapResult res = eval.compute();
    std::printf("images %d (labelled %zu)  classes %d  mAP50-95 %.4f  mAP50 %.4f  (%.1f s, %.1f ms/img inference)\n",
                res.num_images, labelled, res.num_classes, res.map50_95, res.map50, secs,
                files.empty() ? 0.0 : infer_ms / files.size());
    if (!a.json_out.empty()) {
        nlohmann::json j = {{"model", fs::path(a.m.model).filename().string()},
                            {"data", a.data},
                            {"device", (*det)->engine().options().device},
                            {"precision", precision_name((*det)->engine().options().precision)},
                            {"images", res.num_images},
                            {"classes", res.num_classes},
                            {"map50_95", res.map50_95},
                            {"map50", res.map50},
                            {"conf", a.conf},
                            {"iou", a.iou}};
        std::ofstream f(a.json_out);
        if (!(f << j.dump(1) << "\n")) return fail("cannot write --json '" + a.json_out + "'");
    }
    return 0;
}

}  // namespace

RunFn add_val_command(CLI::App& app) {
    auto a = std::make_shared<ValArgs>();
    add_model_options(app, a->m);
    app.add_option("--data", a->data, "YOLO-format folder (images/<split>/*.jpg + labels/<split>/*.txt)")->required();
    app.add_option("--split", a->split, "Split folder under images/ (default: the only one)");
    app.add_option("--conf", a->conf, "Confidence threshold (Ultralytics val: 0.001)")->capture_default_str();
    app.add_option("--iou", a->iou, "NMS IoU threshold")->capture_default_str();
    app.add_option("--max-det", a->max_det, "Maximum detections per image")->capture_default_str();
    app.add_option("--limit", a->limit, "Only the first N images (0 = all)");
    app.add_option("--json", a->json_out, "Write the metrics as JSON");
    return [a] { return run_val(*a); };
}

}  // namespace itscam::cli
