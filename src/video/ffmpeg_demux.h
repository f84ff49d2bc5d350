// The libavformat side shared by the FFmpeg readers (the CPU decoder in ffmpeg_reader.cpp and NVDEC in
// nvdec/nvdec_reader.cpp): opening a URL with its timeouts, protocol whitelist and interrupt callback, picking the
// video stream, and reading its packets with the stall deadline. Only compiled with ITSCAM_WITH_FFMPEG; FFmpeg
// types appear here, so only .cpp files include it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "video/video_reader.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace itscam::video {

// avformat_network_init and the masked log callback, once per process.
void ffmpeg_global_init();
std::string av_error_text(int err);
std::string seconds_text(double s);

// Turns an FFmpeg error from opening/reading `url` into a Status with a plain-words message.
Status map_ffmpeg_error(const std::string& url, int err, const char* during, bool interrupted, bool timed_out,
                        double timeout_s);

// Timestamps and counters of the frames a reader delivers, as every FFmpeg-fed reader stamps them.
class FrameClock {
  public:
    FrameClock() = default;
    FrameClock(AVRational time_base, double fps) : time_base_(time_base), fps_(fps) {}
    // Seconds of a stream timestamp; without one (AV_NOPTS_VALUE), one nominal frame (25 fps when unknown) after
    // the last frame.
    double seconds(int64_t ts);
    // Fills index (frames so far), pts, capture_time and wall_time_us (now) and decode_ms (since `t0`).
    void stamp(Frame& f, double pts, std::chrono::steady_clock::time_point t0);

  private:
    AVRational time_base_{0, 1};
    double fps_ = 0;
    int64_t frames_ = 0;
    double last_pts_ = 0;
    bool have_last_pts_ = false;
};

class FfmpegDemuxer {
  public:
    FfmpegDemuxer() = default;
    ~FfmpegDemuxer() { close(); }
    FfmpegDemuxer(const FfmpegDemuxer&) = delete;
    FfmpegDemuxer& operator=(const FfmpegDemuxer&) = delete;

    // Opens `url` (messages show `shown`) and selects the best video stream; the other streams are discarded.
    // `decoder`: when not null, receives libavcodec's decoder for that stream (and a stream without one is an
    // error, as av_find_best_stream reports it); null for readers that decode elsewhere (NVDEC).
    Status open(const std::string& url, const std::string& shown, const ReaderOptions& opt, const AVCodec** decoder);
    // The next packet of the video stream: true with `pkt` filled; false at the end (a damaged or truncated file's
    // read error is kept in `pending()`, to report once the decoder has been drained); an error status when
    // interrupted, when no data came for read_timeout_s, or on a live stream's read error.
    Result<bool> next_packet(AVPacket* pkt);
    void interrupt() { interrupted_ = true; }
    bool interrupted() const { return interrupted_; }
    // Back to the first packet of a seekable input (a file); kUnsupported for live streams, an error when the
    // container cannot seek. Clears a pending read error of the previous pass.
    Status rewind();
    // Closes the input (an RTSP TEARDOWN gets at most a second).
    void close();

    bool is_open() const { return fmt_ != nullptr; }
    AVStream* stream() const { return fmt_ && stream_ >= 0 ? fmt_->streams[stream_] : nullptr; }
    AVRational time_base() const { return time_base_; }
    double fps() const { return fps_; }
    bool live() const { return live_; }
    const Status& pending() const { return pending_; }
    // StreamInfo from the stream's parameters (codec, coded size, nominal rate, live).
    StreamInfo stream_info() const;

  private:
    void set_deadline(double seconds);
    static int interrupt_cb(void* opaque);

    std::string shown_;
    ReaderOptions opt_;
    AVFormatContext* fmt_ = nullptr;
    int stream_ = -1;
    AVRational time_base_{0, 1};
    double fps_ = 0;
    bool live_ = false;
    Status pending_;

    std::atomic<bool> interrupted_{false};
    std::atomic<int64_t> deadline_ns_{0};  // 0: none
    std::atomic<bool> timed_out_{false};   // the interrupt callback fired because of the deadline
};

}  // namespace itscam::video
