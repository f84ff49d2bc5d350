// GPU pre- and post-processing for the detector: a batched letterbox (BGR uint8 frames -> the model's float32 NCHW
// RGB input, on the device) and a batched YOLO decode + class-aware NMS (the raw device output -> detections on the
// host). Both reproduce the CPU functions of vision/letterbox.h and vision/postprocess.h bit for bit (see
// preprocess_impl.h / postprocess_impl.h for the details and the one -0.0 score caveat).
//
// Memory: every device and pinned buffer is allocated by create() for the sizes given there and reused by run();
// run() never allocates unless a call needs more than any call before (a bigger batch, frame, anchor count or
// max_det), in which case the buffer is grown once, to the new size, after waiting for the work that used it.
//
// Streams: work is enqueued on a device::StreamLease of a CUDA device (device/device.h), e.g. the engine's
// (DeviceBinding::stream); a stream of another device is kInvalidArgument. This header exposes no CUDA types.
//
// Threading: an object is not thread-safe; use one per stream / worker. A GpuLetterbox may be used with different
// streams from one thread (it orders its scratch reuse with events).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "device/device.h"
#include "vision/detection.h"
#include "vision/letterbox.h"

namespace itscam::vision::gpu {

// One frame: BGR 8-bit interleaved, or NV12 (when uv is set: bgr is then the Y plane and uv the interleaved CbCr
// plane, both `stride` bytes per row, w and h even, converted with vision/yuv.h). Either may live in
//   device memory             (an NVDEC picture): read in place by the kernel;
//   mapped page-locked memory (cudaHostAllocMapped): read in place by the kernel, over the bus (uv must then be in
//                             the same allocation as bgr);
//   pinned page-locked memory (cudaHostAlloc without the mapped flag, cudaHostRegister): copied by DMA;
//   pageable host memory:     copied by this thread into pinned staging, then by DMA.
// The kind is detected per call (cudaPointerGetAttributes, cudaHostGetFlags).
struct FrameRef {
    const uint8_t* bgr = nullptr;
    int w = 0;
    int h = 0;
    size_t stride = 0;  // bytes between rows, >= 3 * w (BGR) or >= w (NV12)
    const uint8_t* uv = nullptr;
    bool bt709 = false;       // NV12: BT.709 matrix, else BT.601
    bool full_range = false;  // NV12: Y'CbCr span 0..255
};

class GpuLetterbox {
public:
    // dst_w x dst_h: the model input. max_batch, max_frame_w x max_frame_h: the sizes the scratch is allocated for
    // (device copies of the frames + a pinned staging area for pageable frames); larger ones grow it on first use.
    static Result<std::unique_ptr<GpuLetterbox>> create(int dst_w, int dst_h, int max_batch, int max_frame_w,
                                                        int max_frame_h);
    ~GpuLetterbox();
    GpuLetterbox(const GpuLetterbox&) = delete;
    GpuLetterbox& operator=(const GpuLetterbox&) = delete;

    // Letterboxes frames[i] into dst_device + i * 3 * dst_h * dst_w (dense [B, 3, dst_h, dst_w], RGB, value / 255,
    // pad 114 / 255) and sets infos[i] = letterbox_info(w, h, dst_w, dst_h). Everything is enqueued on `stream`:
    // pageable frames are first copied by this thread into pinned staging (so they may be reused on return), pinned
    // frames are copied asynchronously (keep them unchanged until `stream` has passed this point), device frames are
    // read in place by the kernel (likewise), mapped frames likewise. The result is ready once `stream` reaches this point; the call blocks
    // only if the previous call's uploads are still pending. An empty batch does nothing.
    Status run(const std::vector<FrameRef>& frames, float* dst_device, const device::StreamLease& stream,
               std::vector<LetterboxInfo>& infos);
    // Same with fp16 output (IEEE half bit patterns: each value is the float above rounded to nearest).
    Status run_f16(const std::vector<FrameRef>& frames, uint16_t* dst_device, const device::StreamLease& stream,
                   std::vector<LetterboxInfo>& infos);
    // Same fp16 values, written NHWC: frame i's pixel (y, x) at dst_device + ((i * dst_h + y) * dst_w + x) * ld, R,
    // G, B then ld - 3 zeros. That is the CUDA backend's fp16 convolution input (DeviceBinding::input_nhwc), so the
    // engine skips its own conversion. kInvalidArgument for ld < 3.
    Status run_nhwc_f16(const std::vector<FrameRef>& frames, uint16_t* dst_device, int ld,
                        const device::StreamLease& stream, std::vector<LetterboxInfo>& infos);

    int dst_w() const { return dst_w_; }
    int dst_h() const { return dst_h_; }

private:
    struct Impl;
    GpuLetterbox(int dst_w, int dst_h);
    Status run_impl(const std::vector<FrameRef>& frames, void* dst_device, bool f16, int nhwc_ld,
                    const device::StreamLease& stream, std::vector<LetterboxInfo>& infos);

    int dst_w_;
    int dst_h_;
    std::unique_ptr<Impl> impl_;
};

class GpuDecodeNms {
public:
    // Scratch for max_batch images of `anchors` anchors and results for max_det detections per image.
    static Result<std::unique_ptr<GpuDecodeNms>> create(int max_batch, int anchors, int max_det = 300);
    ~GpuDecodeNms();
    GpuDecodeNms(const GpuDecodeNms&) = delete;
    GpuDecodeNms& operator=(const GpuDecodeNms&) = delete;

    // out_device: the raw model output, dense float32 [batch, channels, anchors] (channels = 4 + classes) on the
    // device, produced on `stream` (or before). Fills out[b] with image b's detections exactly as
    // yolo_decode_nms(out + b * channels * anchors, channels, anchors, opt) does, in model-input pixels (best first).
    // Enqueues the kernels and one device -> pinned copy of the results, then synchronizes `stream`.
    // opt.max_det <= 0 gives empty results; a bad layout is kInvalidArgument.
    Status run(const float* out_device, int batch, int channels, int anchors, const NmsOptions& opt,
               const device::StreamLease& stream, std::vector<std::vector<Detection>>& out);

private:
    struct Impl;
    GpuDecodeNms();
    std::unique_ptr<Impl> impl_;
};

// Copies `bytes` of device memory to host memory in `stream`'s order and waits for it (checks, tests).
Status copy_to_host(const void* device_src, size_t bytes, void* host_dst, const device::StreamLease& stream);

}  // namespace itscam::vision::gpu
