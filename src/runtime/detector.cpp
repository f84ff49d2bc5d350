#include "runtime/detector.h"

#include <chrono>
#include <cstring>

#include "vision/letterbox.h"
#include "vision/postprocess.h"

namespace itscam {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Result<std::unique_ptr<Detector>> Detector::create(const std::string& model_path, const DetectorOptions& opt) {
    std::unique_ptr<Detector> d(new Detector());
    d->opt_ = opt;
    ITSCAM_ASSIGN_OR_RETURN(d->engine_, Engine::load(model_path, opt.engine));
    const ModelMetadata& md = d->engine_->metadata();
    if (md.task != "detect")
        return unsupported(model_path + ": task '" + md.task + "' is not supported (only 'detect' models)");
    if (d->engine_->graph().outputs.size() != 1)
        return unsupported(model_path + ": a detect model must have one output");
    const Shape& os = d->engine_->graph().values.at(d->engine_->graph().outputs[0]).shape;
    if (os.size() != 3 || os[1] < 5)
        return unsupported(model_path + ": output shape " + shape_str(os) +
                           " is not a YOLO detect head [N, 4+classes, anchors]");
    d->names_ = md.names;
    while (static_cast<int64_t>(d->names_.size()) < os[1] - 4) d->names_.push_back(std::to_string(d->names_.size()));
    if (d->engine_->channels() != 3) return unsupported(model_path + ": the model input must have 3 channels");
    d->input_ = Tensor::zeros(DType::kF32, {d->engine_->batch(), 3, d->engine_->input_height(),
                                            d->engine_->input_width()});
    return d;
}

std::string Detector::class_name(int id) const {
    return id >= 0 && id < static_cast<int>(names_.size()) ? names_[id] : std::to_string(id);
}

Result<std::vector<std::vector<vision::Detection>>> Detector::detect(const std::vector<ImageView>& images) {
    return detect(images, input_);
}

Result<std::vector<std::vector<vision::Detection>>> Detector::detect(const std::vector<ImageView>& images,
                                                                    Tensor& staging) {
    const Shape want = {engine_->batch(), 3, engine_->input_height(), engine_->input_width()};
    if (staging.dtype() != DType::kF32 || staging.shape() != want)
        return invalid_argument("detect: staging tensor " + shape_str(staging.shape()) + " does not match the engine input " +
                                shape_str(want));
    std::vector<std::vector<vision::Detection>> results;
    timings_ = {};
    const int b = engine_->batch(), h = engine_->input_height(), w = engine_->input_width();
    const size_t plane = static_cast<size_t>(3) * h * w;
    std::vector<Tensor> outs;
    for (size_t start = 0; start < images.size(); start += b) {
        const size_t count = std::min<size_t>(b, images.size() - start);
        auto t0 = std::chrono::steady_clock::now();
        std::vector<vision::LetterboxInfo> infos(count);
        for (size_t i = 0; i < count; ++i) {
            const ImageView& im = images[start + i];
            if (!im.bgr || im.width <= 0 || im.height <= 0 || im.stride < static_cast<size_t>(im.width) * 3)
                return invalid_argument("image " + std::to_string(start + i) + " is empty or malformed");
            infos[i] = vision::letterbox_info(im.width, im.height, w, h);
            vision::letterbox_bgr_u8_to_rgb_f32(im.bgr, im.width, im.height, im.stride, w, h,
                                                staging.data<float>() + i * plane);
        }
        if (count < static_cast<size_t>(b))
            std::memset(staging.data<float>() + count * plane, 0, (b - count) * plane * sizeof(float));
        timings_.preprocess_ms += ms_since(t0);
        t0 = std::chrono::steady_clock::now();
        ITSCAM_RETURN_IF_ERROR(engine_->run(staging, outs));
        timings_.inference_ms += ms_since(t0);
        t0 = std::chrono::steady_clock::now();
        const Tensor& o = outs[0];
        const int channels = static_cast<int>(o.dim(1)), anchors = static_cast<int>(o.dim(2));
        for (size_t i = 0; i < count; ++i) {
            auto dets = vision::yolo_decode_nms(o.data<float>() + i * channels * anchors, channels, anchors, opt_.nms);
            vision::scale_boxes_to_image(dets, infos[i]);
            results.push_back(std::move(dets));
        }
        timings_.postprocess_ms += ms_since(t0);
    }
    return results;
}

}  // namespace itscam
