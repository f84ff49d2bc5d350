#include "pipeline/frame_host.h"

#include "video/video_reader.h"
#include "vision/yuv.h"

namespace itscam::pipeline {

Result<video::Frame> host_bgr_frame(const video::Frame& f) {
    if (!f.on_device() && f.format == video::PixelFormat::kBGR24) return f;
    ITSCAM_ASSIGN_OR_RETURN(video::Frame h, video::download_frame(f));
    if (h.format == video::PixelFormat::kBGR24) return h;
    video::Frame out = h;
    out.format = video::PixelFormat::kBGR24;
    out.stride = (static_cast<size_t>(h.width) * 3 + 63) / 64 * 64;
    out.data = video::heap_allocator()(out.bytes());
    if (!out.data) return out_of_memory("no memory for a " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                                        " BGR copy of a frame");
    const uint8_t* y = h.data.get();
    vision::nv12_to_bgr(y, y + h.stride * h.height, h.stride, h.width, h.height,
                        h.yuv_matrix == video::YuvMatrix::kBT709, h.yuv_full_range, out.data.get(), out.stride);
    return out;
}

}  // namespace itscam::pipeline
