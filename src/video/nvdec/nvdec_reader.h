// NVDEC video ingest: a VideoReader that demuxes with libavformat (files, RTSP, HTTP: the FFmpeg reader's URLs,
// timeouts and interrupt()) and decodes H.264/HEVC on the GPU (NvdecDecoder). Frames are NV12 in device memory of
// ReaderOptions::cuda_device (Frame::device), in display order, with the FFmpeg reader's pts.
//
// Built when FFmpeg and the ffnvcodec headers are (ITSCAM_HAVE_NVDEC); the NVIDIA driver is only needed at run time,
// where its absence is a kUnavailable error.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "video/video_reader.h"

namespace itscam::video {

// OK when the driver libraries (libcuda.so.1, libnvcuvid.so.1) loaded and a CUDA device exists; else the
// kUnavailable error that every NVDEC call returns ("NVDEC unavailable: ...").
Status nvdec_load_status();

// Whether `cuda_device`'s NVDEC decodes 8-bit 4:2:0 `codec` ("h264", "hevc"; any other codec: false) at
// width x height (cuvidGetDecoderCaps). An error when the driver or the device is unavailable.
Result<bool> nvdec_supports(const std::string& codec, int width, int height, int cuda_device);

class NvdecReader final : public VideoReader {
  public:
    NvdecReader(std::string url, ReaderOptions opt);
    ~NvdecReader() override;
    NvdecReader(const NvdecReader&) = delete;
    NvdecReader& operator=(const NvdecReader&) = delete;

    // kUnsupported for a codec NVDEC is not used for (with its name) or a pixel format other than 8-bit 4:2:0;
    // kUnavailable without a driver.
    Status open() override;
    Result<bool> read(Frame& out) override;
    void interrupt() override;
    StreamInfo info() const override { return info_; }
    const char* decoder() const override { return "nvdec"; }
    // The last failure came from NVDEC or the bitstream filter feeding it, not from the source (capture loop: decode
    // the camera on the CPU instead).
    bool decoder_failed() const override { return decoder_failed_; }
    // Seeks the file back to its start and feeds the same decoder session on (files; kUnsupported live).
    Status rewind() override;

    struct Impl;

  private:
    Status open_decoder();
    Status decoder_error(Status st) {
        if (!st.is_ok()) decoder_failed_ = true;
        return st;
    }
    std::string url_;
    std::string shown_;
    ReaderOptions opt_;
    StreamInfo info_;
    bool decoder_failed_ = false;
    YuvMatrix matrix_ = YuvMatrix::kBT601;
    bool full_range_ = false;
    std::unique_ptr<Impl> impl_;
};

// Checks the options and the URL's scheme as make_reader() does and returns an unopened NvdecReader; kUnavailable
// when the NVIDIA driver libraries cannot be loaded.
Result<std::unique_ptr<VideoReader>> make_nvdec_reader(const std::string& url, const ReaderOptions& opt);

}  // namespace itscam::video
