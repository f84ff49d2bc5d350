// Device buffers for decoded pictures when the caller gives no allocator: cuMemAlloc'd, and reused once their last
// frame goes (cuMemFree synchronises the whole device, too costly once per frame). Keeps up to `keep` free
// buffers of the current size; a new size frees the old ones. Buffers may be released from any thread and may
// outlive the decoder; the pool (and the primary context) lives until the last one is gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "video/nvdec/nvdec_context.h"

namespace itscam::video {

class DeviceBufferPool : public std::enable_shared_from_this<DeviceBufferPool> {
  public:
    DeviceBufferPool(std::shared_ptr<CudaPrimaryContext> ctx, size_t keep) : ctx_(std::move(ctx)), keep_(keep) {}
    ~DeviceBufferPool();
    DeviceBufferPool(const DeviceBufferPool&) = delete;
    DeviceBufferPool& operator=(const DeviceBufferPool&) = delete;

    // A buffer of `bytes`; the context must be current on the calling thread.
    Result<std::shared_ptr<uint8_t>> get(size_t bytes);

  private:
    void put(CUdeviceptr p, size_t bytes);
    void free_now(CUdeviceptr p);

    std::shared_ptr<CudaPrimaryContext> ctx_;
    const size_t keep_;
    std::mutex mu_;
    size_t bytes_ = 0;               // size of the buffers in free_
    std::vector<CUdeviceptr> free_;  // guarded by mu_
};

}  // namespace itscam::video
