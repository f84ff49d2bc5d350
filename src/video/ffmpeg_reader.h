// FFmpeg-backed VideoReader: files, RTSP, HTTP(S), UDP... anything libavformat opens. Only compiled when
// ITSCAM_WITH_FFMPEG is on (every ffmpeg_*.cpp is excluded otherwise); FFmpeg types stay out of this header.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "video/video_reader.h"

namespace itscam::video {

// True when libavformat has an input protocol called `scheme` ("rtsp", "http", ...).
bool ffmpeg_protocol_supported(const std::string& scheme);

class FfmpegReader final : public VideoReader {
  public:
    FfmpegReader(std::string url, ReaderOptions opt);
    ~FfmpegReader() override;
    FfmpegReader(const FfmpegReader&) = delete;
    FfmpegReader& operator=(const FfmpegReader&) = delete;

    Status open() override;
    Result<bool> read(Frame& out) override;
    void interrupt() override;
    StreamInfo info() const override { return info_; }
    bool skip_nonref(bool on) override;

    struct Impl;  // FFmpeg state (public so the interrupt callback in the .cpp can reach it)

  private:
    void close();

    std::string url_;    // what is opened
    std::string shown_;  // what messages show: url_ with its userinfo masked
    ReaderOptions opt_;
    StreamInfo info_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace itscam::video
