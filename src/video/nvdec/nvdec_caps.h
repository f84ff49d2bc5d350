// What this GPU's NVDEC decodes: the codecs itscam feeds it (H.264, HEVC; 8-bit 4:2:0) and their size limits
// from cuvidGetDecoderCaps.
#pragma once

#include <string>

#include "core/status.h"
#include "video/nvdec/nvdec_driver.h"

namespace itscam::video {

// cudaVideoCodec for an FFmpeg codec name ("h264", "hevc"); kUnsupported for any other.
Result<cudaVideoCodec> nvdec_codec(const std::string& codec);
const char* nvdec_codec_name(cudaVideoCodec codec);

// The decoder's caps for 8-bit 4:2:0 `codec`; needs a current context.
Result<CUVIDDECODECAPS> nvdec_caps(const NvdecDriver& driver, cudaVideoCodec codec);

// OK when `caps` allow coded pictures of width x height with NV12 output; otherwise kUnsupported saying why.
Status nvdec_caps_allow(const CUVIDDECODECAPS& caps, cudaVideoCodec codec, unsigned width, unsigned height);

}  // namespace itscam::video
