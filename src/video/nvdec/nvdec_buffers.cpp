#include "video/nvdec/nvdec_buffers.h"

#include <utility>

namespace itscam::video {

DeviceBufferPool::~DeviceBufferPool() {
    for (CUdeviceptr p : free_) free_now(p);
}

void DeviceBufferPool::free_now(CUdeviceptr p) {
    CudaContextScope scope(*ctx_);
    ctx_->driver().cu->cuMemFree(p);
}

Result<std::shared_ptr<uint8_t>> DeviceBufferPool::get(size_t bytes) {
    CUdeviceptr p = 0;
    std::vector<CUdeviceptr> stale;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (bytes != bytes_) {
            stale.swap(free_);
            bytes_ = bytes;
        } else if (!free_.empty()) {
            p = free_.back();
            free_.pop_back();
        }
    }
    for (CUdeviceptr s : stale) free_now(s);
    if (p == 0) {
        const NvdecDriver& d = ctx_->driver();
        ITSCAM_RETURN_IF_ERROR(d.check(d.cu->cuMemAlloc(&p, bytes), "cuMemAlloc"));
    }
    std::shared_ptr<DeviceBufferPool> self = shared_from_this();
    return std::shared_ptr<uint8_t>(reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(p)),
                                    [self, bytes](uint8_t* q) {
                                        self->put(static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(q)), bytes);
                                    });
}

void DeviceBufferPool::put(CUdeviceptr p, size_t bytes) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (bytes == bytes_ && free_.size() < keep_) {
            free_.push_back(p);
            return;
        }
    }
    free_now(p);
}

}  // namespace itscam::video
