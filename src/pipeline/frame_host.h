// Host pixels for the consumers that read them (the CPU detector of the circuit breaker's fallback, the live-stream
// encoder) when a frame lives on a GPU (an NVDEC picture, NV12 in device memory).
#pragma once

#include "core/status.h"
#include "video/frame.h"

namespace itscam::pipeline {

// A BGR24 frame in host memory: `f` itself when it already is one; a device or NV12 frame is copied down and
// converted (vision/yuv.h, the conversion the GPU letterbox applies). Timestamps and ids are kept.
Result<video::Frame> host_bgr_frame(const video::Frame& f);

}  // namespace itscam::pipeline
