#include "runtime/detector.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "device/registry.h"
#include "vision/letterbox.h"
#include "vision/postprocess.h"

#if defined(ITSCAM_HAVE_CUDA)
#include "vision/cuda/gpu_vision.h"
#endif

namespace itscam {

#if defined(ITSCAM_HAVE_CUDA)
struct Detector::GpuPath {
    std::unique_ptr<vision::gpu::GpuLetterbox> letterbox;
    std::unique_ptr<vision::gpu::GpuDecodeNms> nms;
    std::vector<vision::gpu::FrameRef> frames;
    std::vector<vision::LetterboxInfo> infos;
    std::vector<std::vector<vision::Detection>> dets;
    bool direct = false;  // letterbox into DeviceBinding::input_nhwc and run_device_nhwc()
    // Stage boundaries on the stream (timing events): the stages run back to back on the device, the host waits
    // once, for the detections.
    device::Event started, letterboxed, inferred;
};
#else
struct Detector::GpuPath {};
#endif

Detector::~Detector() = default;

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
    // The stream the detector's work runs on: the engine's where it has one, else one of its device's own.
    const DeviceBinding* bind = d->engine_->compiled().device_binding();
    if (bind && bind->stream) {
        d->stream_ = bind->stream;
    } else {
        ITSCAM_ASSIGN_OR_RETURN(device::Device * dev, device::device_get(d->engine_->options().device));
        ITSCAM_ASSIGN_OR_RETURN(d->own_stream_, dev->stream_acquire());
        d->stream_ = &d->own_stream_;
    }
#if defined(ITSCAM_HAVE_CUDA)
    if (opt.gpu_pre_post && bind && bind->input && bind->output && bind->stream) {
        auto gp = std::make_unique<GpuPath>();
        // Scratch for 1080p frames up front; a larger frame grows it once.
        ITSCAM_ASSIGN_OR_RETURN(gp->letterbox, vision::gpu::GpuLetterbox::create(d->engine_->input_width(),
                                                                                  d->engine_->input_height(),
                                                                                  d->engine_->batch(), 1920, 1080));
        ITSCAM_ASSIGN_OR_RETURN(gp->nms, vision::gpu::GpuDecodeNms::create(d->engine_->batch(), static_cast<int>(os[2]),
                                                                            opt.nms.max_det));
        device::Device* dev = d->stream_->device();
        for (device::Event* e : {&gp->started, &gp->letterboxed, &gp->inferred}) {
            ITSCAM_ASSIGN_OR_RETURN(*e, dev->event_create(true));
        }
        d->gpu_ = std::move(gp);
        if (bind->input_nhwc && bind->input_nhwc_ld >= 3) {
            const Status st = d->check_direct_input();
            d->gpu_->direct = st.is_ok();
            if (opt.engine.log)
                opt.engine.log(st.is_ok() ? "GPU letterbox writes the engine's fp16 NHWC input directly (checked equal "
                                            "to the graph's own conversion)"
                                          : "GPU letterbox into the fp32 input: " + st.to_string());
        }
    }
#endif
    // The host input of detect(images): only the host pre-processing path fills one (the GPU path letterboxes into
    // the engine's device input), so a GPU detector holds none.
    if (!d->gpu_)
        d->input_ = Tensor::zeros(DType::kF32, {d->engine_->batch(), 3, d->engine_->input_height(),
                                                d->engine_->input_width()});
    return d;
}

std::string Detector::class_name(int id) const {
    return id >= 0 && id < static_cast<int>(names_.size()) ? names_[id] : std::to_string(id);
}

Result<std::vector<std::vector<vision::Detection>>> Detector::detect(const std::vector<ImageView>& images) {
    if (gpu_) return detect_gpu(images);
    return detect(images, input_);
}

Result<std::vector<std::vector<vision::Detection>>> Detector::detect(const std::vector<ImageView>& images,
                                                                    Tensor& staging) {
    const Shape want = {engine_->batch(), 3, engine_->input_height(), engine_->input_width()};
    if (staging.dtype() != DType::kF32 || staging.shape() != want)
        return invalid_argument("detect: staging tensor " + shape_str(staging.shape()) + " does not match the engine input " +
                                shape_str(want));
    if (gpu_) return detect_gpu(images);
    std::vector<std::vector<vision::Detection>> results;
    timings_ = {};
    const int b = engine_->batch(), h = engine_->input_height(), w = engine_->input_width();
    const size_t plane = static_cast<size_t>(3) * h * w;
    std::vector<Tensor> outs;
    for (size_t start = 0; start < images.size(); start += b) {
        const size_t count = std::min<size_t>(b, images.size() - start);
        const device::StreamWork work = stream_->work();
        auto t0 = std::chrono::steady_clock::now();
        std::vector<vision::LetterboxInfo> infos(count);
        for (size_t i = 0; i < count; ++i) {
            const ImageView& im = images[start + i];
            if (!im.bgr || im.width <= 0 || im.height <= 0 || im.stride < static_cast<size_t>(im.width) * 3)
                return invalid_argument("image " + std::to_string(start + i) + " is empty or malformed");
            if (im.uv)
                return invalid_argument("image " + std::to_string(start + i) +
                                        " is an NV12 device frame; this detector letterboxes on the host (BGR only)");
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

bool Detector::direct_input() const {
#if defined(ITSCAM_HAVE_CUDA)
    return gpu_ && gpu_->direct;
#else
    return false;
#endif
}

// One 1280x720 BGR pattern letterboxed to the input (scaled and padded) both ways: fp32 NCHW then the graph's own
// conversion, and straight into NHWC fp16. The first frame's slice must be the same bytes, padding channels included.
Status Detector::check_direct_input() {
#if defined(ITSCAM_HAVE_CUDA)
    const DeviceBinding* bind = engine_->compiled().device_binding();
    GpuPath& gp = *gpu_;
    const int fw = 1280, fh = 720;
    std::vector<uint8_t> bgr(static_cast<size_t>(fw) * fh * 3);
    for (int y = 0; y < fh; ++y)
        for (int x = 0; x < fw; ++x)
            for (int c = 0; c < 3; ++c)
                bgr[(static_cast<size_t>(y) * fw + x) * 3 + c] = static_cast<uint8_t>((x * 7 + y * 3 + c * 85) & 255);
    const std::vector<vision::gpu::FrameRef> frame = {{bgr.data(), fw, fh, static_cast<size_t>(fw) * 3}};
    const size_t bytes = static_cast<size_t>(engine_->input_height()) * engine_->input_width() *
                         static_cast<size_t>(bind->input_nhwc_ld) * 2;
    std::vector<uint8_t> converted(bytes), direct(bytes, 0xAB);
    const device::StreamLease& stream = *stream_;
    ITSCAM_RETURN_IF_ERROR(gp.letterbox->run(frame, static_cast<float*>(bind->input), stream, gp.infos));
    ITSCAM_RETURN_IF_ERROR(engine_->compiled().run_device_input_conversion());
    ITSCAM_RETURN_IF_ERROR(vision::gpu::copy_to_host(bind->input_nhwc, bytes, converted.data(), stream));
    ITSCAM_RETURN_IF_ERROR(stream.memset(bind->input_nhwc, 0xCD, bytes));  // nothing left from the conversion
    ITSCAM_RETURN_IF_ERROR(gp.letterbox->run_nhwc_f16(frame, static_cast<uint16_t*>(bind->input_nhwc),
                                                      bind->input_nhwc_ld, stream, gp.infos));
    ITSCAM_RETURN_IF_ERROR(vision::gpu::copy_to_host(bind->input_nhwc, bytes, direct.data(), stream));
    for (size_t i = 0; i < bytes; ++i)
        if (converted[i] != direct[i])
            return internal_error("the NHWC letterbox differs from the graph's conversion at byte " + std::to_string(i) +
                                  " of " + std::to_string(bytes));
    return Status::ok();
#else
    return unsupported("this build has no CUDA support");
#endif
}

// Frames go to the device (pinned frames by DMA), are letterboxed there straight into the engine's input (its fp16
// NHWC convolution input where direct_input()), the graph replays, and decode + NMS run on the device; only the
// detections come back.
Result<std::vector<std::vector<vision::Detection>>> Detector::detect_gpu(const std::vector<ImageView>& images) {
#if defined(ITSCAM_HAVE_CUDA)
    std::vector<std::vector<vision::Detection>> results;
    timings_ = {};
    const int b = engine_->batch();
    const DeviceBinding* bind = engine_->compiled().device_binding();
    const device::StreamLease& stream = *stream_;
    const Graph& g = engine_->graph();
    const Shape& os = g.values.at(g.outputs[0]).shape;
    const int channels = static_cast<int>(os[1]), anchors = static_cast<int>(os[2]);
    for (size_t start = 0; start < images.size(); start += b) {
        const size_t count = std::min<size_t>(b, images.size() - start);
        const device::StreamWork work = stream.work();
        const auto t0 = std::chrono::steady_clock::now();
        GpuPath& gp = *gpu_;
        ITSCAM_RETURN_IF_ERROR(gp.started.record(stream));
        gp.frames.clear();
        for (size_t i = 0; i < count; ++i) {
            const ImageView& im = images[start + i];
            // Sizes and strides are checked by the letterbox (BGR and NV12 rules differ).
            gp.frames.push_back({im.bgr, im.width, im.height, im.stride, im.uv, im.bt709, im.full_range});
        }
        // Into the fp16 NHWC input (direct) or the fp32 NCHW one; the rest of a short last batch is zeros, as on the
        // CPU path (fp16 0 and fp32 0 are both all-zero bytes).
        void* input = gp.direct ? bind->input_nhwc : bind->input;
        const size_t pixels = static_cast<size_t>(engine_->input_height()) * engine_->input_width();
        const size_t frame_bytes = gp.direct ? pixels * static_cast<size_t>(bind->input_nhwc_ld) * 2
                                             : pixels * 3 * sizeof(float);
        ITSCAM_RETURN_IF_ERROR(gp.direct ? gp.letterbox->run_nhwc_f16(gp.frames, static_cast<uint16_t*>(input),
                                                                      bind->input_nhwc_ld, stream, gp.infos)
                                         : gp.letterbox->run(gp.frames, static_cast<float*>(input), stream, gp.infos));
        if (count < static_cast<size_t>(b))
            ITSCAM_RETURN_IF_ERROR(stream.memset(static_cast<uint8_t*>(input) + count * frame_bytes, 0,
                                                 (b - count) * frame_bytes)
                                       .with_context("clearing the batch tail"));
        ITSCAM_RETURN_IF_ERROR(gp.letterboxed.record(stream));
        ITSCAM_RETURN_IF_ERROR(gp.direct ? engine_->compiled().run_device_nhwc() : engine_->compiled().run_device());
        ITSCAM_RETURN_IF_ERROR(gp.inferred.record(stream));
        // The one wait of the batch: decode + NMS synchronize the stream to hand the detections back. Errors of any
        // stage surface here, classified by the device (out of memory, sticky, transient).
        ITSCAM_RETURN_IF_ERROR(gp.nms->run(static_cast<const float*>(bind->output), static_cast<int>(count), channels,
                                           anchors, opt_.nms, stream, gp.dets));
        for (size_t i = 0; i < count; ++i) {
            vision::scale_boxes_to_image(gp.dets[i], gp.infos[i]);
            results.push_back(std::move(gp.dets[i]));
        }
        // Letterbox (with the uploads) and inference: device time between the events; post-processing: the rest of
        // the call (decode + NMS, the copy back, the host's own work and any wait for the stream to start).
        ITSCAM_ASSIGN_OR_RETURN(const double pre, gp.letterboxed.elapsed_ms_since(gp.started));
        ITSCAM_ASSIGN_OR_RETURN(const double inf, gp.inferred.elapsed_ms_since(gp.letterboxed));
        timings_.preprocess_ms += pre;
        timings_.inference_ms += inf;
        timings_.postprocess_ms += std::max(0.0, ms_since(t0) - pre - inf);
    }
    return results;
#else
    return unsupported("this build has no CUDA support");
#endif
}

}  // namespace itscam
