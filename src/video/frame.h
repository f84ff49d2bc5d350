// Frame: one decoded picture with its timestamps. Pixels are owned through a shared buffer (usually from a pool),
// so a Frame is cheap to move and copy and its memory returns to the pool when the last copy goes away.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace itscam::video {

enum class PixelFormat { kBGR24, kNV12 };
// NV12 only: the matrix that maps Y'CbCr to RGB (from the stream; BT.601 when the stream does not say).
enum class YuvMatrix : uint8_t { kBT601, kBT709 };
const char* pixel_format_name(PixelFormat f);

struct Frame {
    std::shared_ptr<uint8_t> data;  // owns the pixels
    PixelFormat format = PixelFormat::kBGR24;
    int width = 0;
    int height = 0;
    // BGR24: bytes per row. NV12: bytes per row of the Y plane; the interleaved UV plane (height/2 rows of the same
    // stride) starts at data + stride * height.
    size_t stride = 0;
    int64_t index = 0;     // frames delivered by this source since it started (continues across reconnects)
    double pts = 0;        // seconds; strictly increasing per source, also across loops and reconnects
    int64_t wall_time_us = 0;  // system_clock time (µs since epoch) when the frame was decoded
    std::chrono::steady_clock::time_point capture_time{};  // steady clock, same instant: latency measurement
    double decode_ms = 0;       // time spent reading and decoding this frame
    uint32_t generation = 0;    // increments on every (re)connect and every mid-stream format change
    // Where the pixels live: -1 host memory (pageable or pinned); >= 0 the CUDA device with this ordinal (device
    // memory in the primary context, e.g. an NVDEC picture). Device frames are never read by host code: consumers
    // that need host pixels (the live-stream encoder) copy them down first.
    int device = -1;
    YuvMatrix yuv_matrix = YuvMatrix::kBT601;  // NV12 only
    bool yuv_full_range = false;               // NV12 only: Y and CbCr span 0..255 (JPEG range), not 16..235/240
    bool on_device() const { return device >= 0; }

    bool empty() const { return !data || width <= 0 || height <= 0; }
    size_t bytes() const { return format == PixelFormat::kBGR24 ? stride * height : stride * height * 3 / 2; }
};

// The row pitch the readers use: the row's bytes (width, or 3 * width for BGR24) rounded up to 64.
inline size_t default_stride(PixelFormat f, int width) {
    const size_t row = static_cast<size_t>(width) * (f == PixelFormat::kBGR24 ? 3 : 1);
    return (row + 63) / 64 * 64;
}

// Gives a buffer of at least `bytes` bytes (64-byte aligned). Sources take their frame memory from it so that the
// pipeline can back frames with a pool; the default allocates from the heap.
using BufferAllocator = std::function<std::shared_ptr<uint8_t>(size_t bytes)>;
BufferAllocator heap_allocator();

}  // namespace itscam::video
