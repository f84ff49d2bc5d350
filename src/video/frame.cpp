#include "video/frame.h"

#include <cstdlib>
#include <new>

namespace itscam::video {

const char* pixel_format_name(PixelFormat f) {
    switch (f) {
        case PixelFormat::kBGR24:
            return "bgr24";
        case PixelFormat::kNV12:
            return "nv12";
    }
    return "unknown";
}

BufferAllocator heap_allocator() {
    return [](size_t bytes) -> std::shared_ptr<uint8_t> {
        constexpr size_t kAlign = 64;
        // aligned_alloc wants a size that is a multiple of the alignment; never ask for 0 bytes.
        const size_t size = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
        void* p = std::aligned_alloc(kAlign, size);
        if (p == nullptr) throw std::bad_alloc();
        return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
    };
}

}  // namespace itscam::video
