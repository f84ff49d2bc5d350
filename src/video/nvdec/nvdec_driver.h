// The CUDA driver and NVCUVID function tables for NVDEC, loaded at run time (dlopen of libcuda.so.1 and
// libnvcuvid.so.1 through the ffnvcodec loader, as FFmpeg does): nothing links against the driver, so a build with
// NVDEC runs (and reports a clear error) on machines without an NVIDIA driver. Internal to src/video/nvdec: it
// brings the ffnvcodec types.
#pragma once

#include <string>

#include "core/status.h"

namespace itscam::video::nvdec_detail {
// The loader's messages ("Cannot load libnvcuvid.so.1") go to the std::string that `ctx` points to.
void loader_log(void* ctx, const char* fmt, ...);
}  // namespace itscam::video::nvdec_detail

#ifndef FFNV_LOG_FUNC
#define FFNV_LOG_FUNC(logctx, msg, ...) ::itscam::video::nvdec_detail::loader_log((logctx), (msg), __VA_ARGS__)
#define FFNV_DEBUG_LOG_FUNC(logctx, msg, ...)
#endif
#include <ffnvcodec/dynlink_loader.h>

namespace itscam::video {

struct NvdecDriver {
    CudaFunctions* cu = nullptr;
    CuvidFunctions* cuvid = nullptr;

    // "CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
    std::string error_text(CUresult r) const;
    // OK for CUDA_SUCCESS, else a status naming `what` and the error: out of memory, a lost device (illegal address,
    // ECC...), or a device error.
    Status check(CUresult r, const std::string& what) const;
};

// Loads both libraries and runs cuInit once per process (thread-safe); every call returns the same tables, or the
// same kUnavailable error ("NVDEC unavailable: libnvcuvid.so.1 not found ...").
Result<const NvdecDriver*> nvdec_driver();

}  // namespace itscam::video
