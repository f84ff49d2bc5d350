#include "video/nvdec/nvdec_context.h"

#include <string>

namespace itscam::video {

Result<std::shared_ptr<CudaPrimaryContext>> CudaPrimaryContext::retain(const NvdecDriver& driver, int device) {
    int count = 0;
    ITSCAM_RETURN_IF_ERROR(driver.check(driver.cu->cuDeviceGetCount(&count), "cuDeviceGetCount"));
    if (device < 0 || device >= count)
        return invalid_argument("CUDA device " + std::to_string(device) + " does not exist (this machine has " +
                                std::to_string(count) + ")");
    CUdevice dev = 0;
    ITSCAM_RETURN_IF_ERROR(driver.check(driver.cu->cuDeviceGet(&dev, device), "cuDeviceGet"));
    CUcontext ctx = nullptr;
    ITSCAM_RETURN_IF_ERROR(driver.check(driver.cu->cuDevicePrimaryCtxRetain(&ctx, dev),
                                        "cuDevicePrimaryCtxRetain(device " + std::to_string(device) + ")"));
    return std::shared_ptr<CudaPrimaryContext>(new CudaPrimaryContext(driver, dev, device, ctx));
}

CudaPrimaryContext::~CudaPrimaryContext() {
    driver_.cu->cuDevicePrimaryCtxRelease(dev_);
}

CudaContextScope::CudaContextScope(const CudaPrimaryContext& ctx) : ctx_(ctx) {
    status_ = ctx.driver().check(ctx.driver().cu->cuCtxPushCurrent(ctx.get()), "cuCtxPushCurrent");
}

CudaContextScope::~CudaContextScope() {
    if (!status_.is_ok()) return;
    CUcontext popped = nullptr;
    ctx_.driver().cu->cuCtxPopCurrent(&popped);
}

}  // namespace itscam::video
