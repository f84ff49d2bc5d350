// Detector: letterbox -> engine -> decode + class-aware NMS -> boxes in original image pixels.
// Not thread-safe (owns one Engine and its staging buffer); make one per worker.
// Each engine-sized batch is one unit of monitored work (device/device.h: StreamLease::work) on the detector's
// stream: the engine's stream on a GPU, else a stream leased from the engine's device for the detector's lifetime.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "vision/detection.h"

namespace itscam {

struct ImageView {
    const uint8_t* bgr = nullptr;  // interleaved BGR, 8 bits per channel (NV12: the Y plane)
    int width = 0;
    int height = 0;
    size_t stride = 0;  // bytes per row
    // NV12 (only a detector with gpu_pre_post() takes it), in CUDA device memory (an NVDEC picture) or page-locked
    // host memory (vision/cuda/gpu_vision.h says how each kind is read): the interleaved CbCr plane, rows `stride`
    // bytes apart, and how to convert it (vision/yuv.h).
    const uint8_t* uv = nullptr;
    bool bt709 = false;
    bool full_range = false;
};

struct DetectorOptions {
    EngineOptions engine;
    vision::NmsOptions nms;
    // GPU engines: letterbox, decode and NMS on the device too (only frames go in and detections come out).
    bool gpu_pre_post = true;
};

struct DetectTimings {
    double preprocess_ms = 0, inference_ms = 0, postprocess_ms = 0;
};

class Detector {
public:
    ~Detector();
    static Result<std::unique_ptr<Detector>> create(const std::string& model_path, const DetectorOptions& opt);

    // Runs any number of images; they are processed in engine-sized batches (a short last batch is zero-padded).
    Result<std::vector<std::vector<vision::Detection>>> detect(const std::vector<ImageView>& images);
    // Same, letterboxing into `staging` (float32 [batch, 3, H, W] of this detector's engine, e.g. a pooled
    // buffer) instead of the detector's own input tensor.
    Result<std::vector<std::vector<vision::Detection>>> detect(const std::vector<ImageView>& images,
                                                              Tensor& staging);

    const std::vector<std::string>& class_names() const { return names_; }
    std::string class_name(int id) const;
    Engine& engine() { return *engine_; }
    const Engine& engine() const { return *engine_; }
    vision::NmsOptions& nms() { return opt_.nms; }
    const DetectTimings& last_timings() const { return timings_; }
    // True when letterbox, decode and NMS run on the GPU next to the engine.
    bool gpu_pre_post() const { return gpu_ != nullptr; }
    // True when the GPU letterbox writes the engine's fp16 NHWC input directly (DeviceBinding::input_nhwc), so the
    // graph skips its input conversion. Checked at create(): the letterbox's NHWC output must equal, byte for byte,
    // the graph's own conversion of its fp32 output; otherwise the fp32 input is used and the log says why.
    bool direct_input() const;
    // The stream this detector's work runs on (see the file comment).
    const device::StreamLease& stream() const { return *stream_; }

private:
    struct GpuPath;
    Result<std::vector<std::vector<vision::Detection>>> detect_gpu(const std::vector<ImageView>& images);
    // The create()-time check of the direct NHWC input (see direct_input()).
    Status check_direct_input();
    Detector() = default;
    DetectorOptions opt_;
    std::unique_ptr<Engine> engine_;
    std::vector<std::string> names_;
    Tensor input_;
    DetectTimings timings_;
    device::StreamLease own_stream_;                // leased when the engine has no stream of its own
    const device::StreamLease* stream_ = nullptr;  // the engine's or own_stream_
    std::unique_ptr<GpuPath> gpu_;
};

}  // namespace itscam
