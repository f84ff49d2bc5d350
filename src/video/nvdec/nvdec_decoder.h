// NvdecDecoder: H.264/HEVC Annex-B bitstream in, NV12 pictures in device memory out, in display order, through
// the NVDECODE API (cuvid parser + hardware decoder) in the device's primary context.
//
// The parser calls back from inside decode()/flush(): on a sequence header it checks cuvidGetDecoderCaps (codec,
// 4:2:0, 8-bit, coded size) and creates the hardware decoder, re-creating it when the size changes mid-stream;
// each displayable picture is mapped, copied (its display rectangle, e.g. 1920x1080 of a 1920x1088 coded picture)
// into a device buffer on the decoder's own stream, and unmapped.
//
// Not thread-safe: one thread drives a decoder. Pictures own their device memory and may outlive the decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "core/status.h"
#include "video/frame.h"
#include "video/nvdec/nvdec_buffers.h"
#include "video/nvdec/nvdec_context.h"

namespace itscam::video {

struct NvdecPicture {
    // Device memory of the decoder's device: `height` rows of Y then `height / 2` rows of interleaved UV, every row
    // `stride` bytes apart (stride = width rounded up to 64).
    std::shared_ptr<uint8_t> data;
    int width = 0, height = 0;
    size_t stride = 0;
    int64_t timestamp = 0;  // as given to decode() with the packet that started this picture
};

struct NvdecDecoderOptions {
    std::string codec = "h264";  // "h264" | "hevc"
    int device = 0;              // CUDA device ordinal
    // Where picture memory comes from (device memory of `device`, at least the requested bytes); empty: cuMemAlloc'd
    // buffers that are reused when their last reference goes (DeviceBufferPool).
    BufferAllocator device_allocator;
    // Pictures the parser may hold back before display (0: lowest latency; 1-4 let decode and copy overlap).
    unsigned display_delay = 0;
    unsigned clock_rate = 0;  // timestamp units per second (0: the parser's default, 10 MHz)
    std::string name;         // what messages call the stream (a masked URL)
};

class NvdecDecoder {
  public:
    // Loads the driver (kUnavailable without one), retains the device's primary context and creates the parser.
    static Result<std::unique_ptr<NvdecDecoder>> create(NvdecDecoderOptions opt);
    ~NvdecDecoder();
    NvdecDecoder(const NvdecDecoder&) = delete;
    NvdecDecoder& operator=(const NvdecDecoder&) = delete;

    // Parses Annex-B bytes. `whole_picture`: the bytes are exactly one access unit (a demuxed packet), so it is
    // decoded at once instead of when the next one starts. Pictures ready for display are queued (pop()).
    // kUnsupported when the stream is not 8-bit 4:2:0 or its size is beyond this GPU's NVDEC.
    Status decode(const uint8_t* data, size_t size, const int64_t* timestamp, bool whole_picture);
    // End of stream: the parser's held-back pictures are decoded and queued. decode() may start a new stream after.
    Status flush();
    bool pop(NvdecPicture& out);
    size_t queued() const { return ready_.size(); }
    // Size of the current sequence's display rectangle (0 before the first sequence header).
    int width() const { return out_w_; }
    int height() const { return out_h_; }
    const std::shared_ptr<CudaPrimaryContext>& context() const { return ctx_; }

  private:
    NvdecDecoder(NvdecDecoderOptions opt, const NvdecDriver& driver, std::shared_ptr<CudaPrimaryContext> ctx,
                 cudaVideoCodec codec);
    Status parse(CUVIDSOURCEDATAPACKET& pkt);
    int on_sequence(CUVIDEOFORMAT* fmt);
    int on_decode(CUVIDPICPARAMS* pic);
    int on_display(CUVIDPARSERDISPINFO* disp);
    Status create_decoder(const CUVIDEOFORMAT& fmt, unsigned surfaces);
    void destroy_decoder();
    Result<std::shared_ptr<uint8_t>> allocate(size_t bytes);

    static int CUDAAPI sequence_cb(void* self, CUVIDEOFORMAT* fmt);
    static int CUDAAPI decode_cb(void* self, CUVIDPICPARAMS* pic);
    static int CUDAAPI display_cb(void* self, CUVIDPARSERDISPINFO* disp);

    NvdecDecoderOptions opt_;
    const NvdecDriver& drv_;
    std::shared_ptr<CudaPrimaryContext> ctx_;
    cudaVideoCodec codec_;
    CUvideoparser parser_ = nullptr;
    CUvideodecoder decoder_ = nullptr;
    CUstream stream_ = nullptr;
    CUevent copied_ = nullptr;  // blocking-sync: recorded after each picture's copy
    Status failed_;  // set by a callback that returned failure

    // The current decoder's setup.
    unsigned coded_w_ = 0, coded_h_ = 0, surfaces_ = 0;
    int crop_left_ = 0, crop_top_ = 0, out_w_ = 0, out_h_ = 0;

    std::shared_ptr<DeviceBufferPool> buffers_;  // without opt_.device_allocator
    std::deque<NvdecPicture> ready_;
};

}  // namespace itscam::video
