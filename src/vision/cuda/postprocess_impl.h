// Launcher of the GPU YOLO decode + batched class-aware NMS (vision/cuda/postprocess.cu). This header sees no
// framework types: plain pointers, ints and a cudaStream_t, so that the .cu file builds with nvcc alone. The launcher
// only enqueues work on `stream` and returns cudaGetLastError() (launch errors; execution errors surface at the next
// synchronization).
//
// Semantics are those of vision/postprocess.cpp (yolo_decode_nms), per image of the batch:
//   best class = first maximum over the class rows; candidate if best > conf (strict) and, when a class list is
//   given, best class in it; candidates ordered by score descending, ties by anchor index ascending (= the CPU's
//   stable sort); cut to max_nms; greedy NMS in double precision with class offsets class_id * max_wh (none when
//   agnostic), suppressing while !(IoU <= iou_thres), IoU = inter / (area_i + area_j - inter + 1e-9); at most max_det
//   kept, best first. Boxes are in model-input pixels, x1 = cx - w / 2 etc. in float32.
// The results are bit-identical to the CPU's (the floating-point steps use IEEE round-to-nearest intrinsics that
// --use_fast_math does not touch). Known differences, none reachable with real model outputs: a score of -0.0 is
// reported as +0.0, and denormal box coordinates are flushed to zero (fast-math's FTZ) before the IoU.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace itscam::vision::cuda_impl {

// One output detection (24 bytes).
struct GpuDetection {
    float x1, y1, x2, y2;
    float score;
    int class_id;
};

struct DecodeNmsParams {
    int batch = 0;     // images in the output tensor
    int channels = 0;  // 4 + number of classes (>= 5)
    int anchors = 0;   // > 0
    float conf = 0.25f;
    double iou_thres = 0.7;  // compared in double (the CPU passes the float's shortest decimal, e.g. exactly 0.7)
    double max_wh = 7680.0;  // class offset
    int max_det = 300;       // > 0; also the per-image stride of the result buffer
    int max_nms = 30000;     // < 0: no cap
    int agnostic = 0;
    int num_classes = 0;           // 0: all classes
    const int* classes = nullptr;  // device array of num_classes class ids
};

// Device scratch the launcher needs for `batch` images of `anchors` anchors (one allocation, 256-byte aligned).
size_t decode_nms_scratch_bytes(int batch, int anchors);

// Layout of the result buffer: `batch` int counts, then at decode_nms_result_dets_offset(batch) the detections,
// image b's at [b * max_det, b * max_det + counts[b]). The buffer is written as a whole by the launch, so one copy of
// decode_nms_result_bytes() bytes brings all results back.
size_t decode_nms_result_dets_offset(int batch);
size_t decode_nms_result_bytes(int batch, int max_det);

// Decodes and suppresses out (device, dense float32 [batch, channels, anchors]) into `result` (device, laid out as
// above). scratch must hold decode_nms_scratch_bytes(batch, anchors) bytes. Enqueues a memset, two kernels.
cudaError_t decode_nms(const float* out, const DecodeNmsParams& p, void* scratch, size_t scratch_bytes, void* result,
                       cudaStream_t stream);

}  // namespace itscam::vision::cuda_impl
