// video_reader.h's nvdec_available() and download_frame() in a build with NVDEC: through the driver tables the
// decoder loaded (no link to the CUDA runtime), in the device's primary context.
#include <cstdint>

#include "video/nvdec/nvdec_context.h"
#include "video/nvdec/nvdec_reader.h"

namespace itscam::video {

bool nvdec_available(std::string* why) {
    const Status st = nvdec_load_status();
    if (!st && why) *why = st.message();
    return st.is_ok();
}

Result<Frame> download_frame(const Frame& f) {
    if (!f.on_device()) return f;
    if (f.empty()) return invalid_argument("download_frame: an empty frame");
    ITSCAM_ASSIGN_OR_RETURN(const NvdecDriver* d, nvdec_driver());
    ITSCAM_ASSIGN_OR_RETURN(auto ctx, CudaPrimaryContext::retain(*d, f.device));
    CudaContextScope scope(*ctx);
    ITSCAM_RETURN_IF_ERROR(scope.status());
    Frame h = f;
    h.device = -1;
    h.data = heap_allocator()(f.bytes());
    if (!h.data) return out_of_memory("download_frame: no host memory for " + std::to_string(f.bytes()) + " bytes");
    ITSCAM_RETURN_IF_ERROR(d->check(
        d->cu->cuMemcpyDtoH(h.data.get(), static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(f.data.get())),
                            f.bytes()),
        "copying a " + std::to_string(f.width) + "x" + std::to_string(f.height) + " frame from cuda:" +
            std::to_string(f.device)));
    return h;
}

}  // namespace itscam::video
