// A device's primary CUDA context, retained for as long as anything (a decoder, a decoded frame's memory) uses it,
// and a scope that makes it current on the calling thread. The primary context is the one the CUDA runtime uses,
// so device pointers made here are valid for cudart code (the engine) in the same process.
#pragma once

#include <memory>

#include "core/status.h"
#include "video/nvdec/nvdec_driver.h"

namespace itscam::video {

class CudaPrimaryContext {
  public:
    // Retains device `device`'s primary context; kInvalidArgument for a device that does not exist.
    static Result<std::shared_ptr<CudaPrimaryContext>> retain(const NvdecDriver& driver, int device);
    ~CudaPrimaryContext();
    CudaPrimaryContext(const CudaPrimaryContext&) = delete;
    CudaPrimaryContext& operator=(const CudaPrimaryContext&) = delete;

    CUcontext get() const { return ctx_; }
    int device() const { return ordinal_; }
    const NvdecDriver& driver() const { return driver_; }

  private:
    CudaPrimaryContext(const NvdecDriver& driver, CUdevice dev, int ordinal, CUcontext ctx)
        : driver_(driver), dev_(dev), ordinal_(ordinal), ctx_(ctx) {}
    const NvdecDriver& driver_;
    CUdevice dev_;
    int ordinal_;
    CUcontext ctx_;
};

// Pushes the context on construction and pops it on destruction (always on the same thread).
class CudaContextScope {
  public:
    explicit CudaContextScope(const CudaPrimaryContext& ctx);
    ~CudaContextScope();
    CudaContextScope(const CudaContextScope&) = delete;
    CudaContextScope& operator=(const CudaContextScope&) = delete;
    const Status& status() const { return status_; }

  private:
    const CudaPrimaryContext& ctx_;
    Status status_;
};

}  // namespace itscam::video
