#include "video/ffmpeg_demux.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/regular_file.h"
#include "video/ffmpeg_log.h"

extern "C" {
#include <libavutil/avutil.h>
#include <libavutil/error.h>
}

namespace itscam::video {

namespace {

int64_t monotonic_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int64_t seconds_to_ns(double s) {
    if (!(s > 0)) return 0;
    return static_cast<int64_t>(std::min(s, 1e6) * 1e9);
}

}  // namespace

void ffmpeg_global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        install_masked_ffmpeg_log();  // FFmpeg's messages may quote the URL, password included
        avformat_network_init();
        // Keep FFmpeg's chatter (missing reference frames after joining a live stream mid-GOP, ...) out of the logs
        // unless someone configured a level on purpose.
        if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_FATAL);
    });
}

std::string av_error_text(int err) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(err, buf, sizeof(buf));
    return buf;
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3g s", s);
    return buf;
}

Status map_ffmpeg_error(const std::string& url, int err, const char* during, bool interrupted, bool timed_out,
                        double timeout_s) {
    if (interrupted) return cancelled(url + ": interrupted while " + during);
    if (err == AVERROR_EXIT || err == AVERROR(ETIMEDOUT) || timed_out)
        return unavailable(url + ": timed out after " + seconds_text(timeout_s) + " while " + during);
    const std::string detail = " (" + av_error_text(err) + ")";
    switch (err) {
        case AVERROR(ENOENT):
            return not_found(url + ": no such file");
        case AVERROR(EACCES):
            return io_error(url + ": permission denied");
        case AVERROR(EISDIR):
            return invalid_argument(url + ": is a directory, not a video file");
        case AVERROR(ECONNREFUSED):
            return unavailable(url + ": connection refused");
        case AVERROR(ECONNRESET):
        case AVERROR(EPIPE):
            return unavailable(url + ": connection lost while " + during);
        case AVERROR(EHOSTUNREACH):
        case AVERROR(ENETUNREACH):
            return unavailable(url + ": host unreachable");
        case AVERROR(EIO):
            return io_error(url + ": I/O error while " + during + detail);
        case AVERROR_INVALIDDATA:
            return corrupt(url + ": not a video file or stream FFmpeg recognizes, or damaged data, while " + during +
                           detail);
        case AVERROR_PROTOCOL_NOT_FOUND:
            return unsupported(url + ": unsupported protocol");
        case AVERROR_DEMUXER_NOT_FOUND:
            return unsupported(url + ": unsupported container format");
        case AVERROR_HTTP_NOT_FOUND:
            return not_found(url + ": server says the stream does not exist (404)");
        case AVERROR_HTTP_UNAUTHORIZED:
        case AVERROR_HTTP_FORBIDDEN:
            return io_error(url + ": server refused access (401/403)");
        case AVERROR_HTTP_BAD_REQUEST:
            return io_error(url + ": server rejected the request (400)");
        case AVERROR_HTTP_SERVER_ERROR:
            return unavailable(url + ": server error (5xx)");
        case AVERROR_EOF:
            return io_error(url + ": unexpected end of data while " + during);
        default:
            break;
    }
    return io_error(url + ": error while " + during + detail);
}

double FrameClock::seconds(int64_t ts) {
    double pts;
    if (ts != AV_NOPTS_VALUE && time_base_.den > 0) {
        pts = static_cast<double>(ts) * av_q2d(time_base_);
    } else {
        const double fps = fps_ > 0 ? fps_ : 25.0;
        pts = have_last_pts_ ? last_pts_ + 1.0 / fps : static_cast<double>(frames_) / fps;
    }
    last_pts_ = pts;
    have_last_pts_ = true;
    return pts;
}

void FrameClock::stamp(Frame& f, double pts, std::chrono::steady_clock::time_point t0) {
    const auto t1 = std::chrono::steady_clock::now();
    f.index = frames_++;
    f.pts = pts;
    f.capture_time = t1;
    f.wall_time_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    f.decode_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
}

void FfmpegDemuxer::set_deadline(double seconds) {
    timed_out_ = false;
    const int64_t ns = seconds_to_ns(seconds);
    deadline_ns_ = ns > 0 ? monotonic_ns() + ns : 0;
}

int FfmpegDemuxer::interrupt_cb(void* opaque) {
    auto* self = static_cast<FfmpegDemuxer*>(opaque);
    if (self->interrupted_.load(std::memory_order_relaxed)) return 1;
    const int64_t d = self->deadline_ns_.load(std::memory_order_relaxed);
    if (d != 0 && monotonic_ns() > d) {
        self->timed_out_ = true;
        return 1;
    }
    return 0;
}

void FfmpegDemuxer::close() {
    // Closing an RTSP session sends TEARDOWN; never let a hung server hold us here.
    set_deadline(1.0);
    if (fmt_) avformat_close_input(&fmt_);
    stream_ = -1;
}

Status FfmpegDemuxer::open(const std::string& url, const std::string& shown, const ReaderOptions& opt,
                           const AVCodec** decoder) {
    ffmpeg_global_init();
    shown_ = shown;
    opt_ = opt;
    if (fmt_) return internal_error(shown_ + ": open() called twice");
    if (interrupted_) return cancelled(shown_ + ": interrupted before opening");

    // Schemes are case-insensitive (config accepts RTSP://); FFmpeg's protocol names are lower case.
    std::string target = url;
    const size_t sep = target.find("://");
    std::string scheme = sep == std::string::npos ? std::string() : target.substr(0, sep);
    for (char& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (scheme == "file") {
        target = target.substr(sep + 3);
    } else if (!scheme.empty()) {
        target = scheme + target.substr(sep);
    }
    live_ = is_live_url(url);
    const bool local = scheme.empty() || scheme == "file";
    if (local) {
        // A pipe would block FFmpeg's open (and a device or /proc file never ends): name what it is instead.
        struct stat sb {};
        if (::stat(target.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode))
            return invalid_argument(shown_ + ": is a directory, not a video file");
        ITSCAM_RETURN_IF_ERROR(check_regular_file(target, shown_ + ": "));
        if (sb.st_size == 0) return corrupt(shown_ + ": file is empty");
        // Through FFmpeg's file protocol by name, so that nothing in the path ("concat:", "subfile,") can select
        // another protocol.
        target = "file:" + target;
    }

    fmt_ = avformat_alloc_context();
    if (!fmt_) return out_of_memory(shown_ + ": cannot allocate FFmpeg contexts");
    fmt_->interrupt_callback.callback = &FfmpegDemuxer::interrupt_cb;
    fmt_->interrupt_callback.opaque = this;

    AVDictionary* opts = nullptr;
    const int64_t io_timeout_us = static_cast<int64_t>(std::max(opt_.read_timeout_s, 0.001) * 1e6);
    if (scheme == "rtsp" || scheme == "rtsps") {
        av_dict_set(&opts, "rtsp_transport", opt_.rtsp_transport.c_str(), 0);
        av_dict_set_int(&opts, "timeout", io_timeout_us, 0);  // socket I/O timeout (µs) in FFmpeg >= 5
    } else if (live_) {
        av_dict_set_int(&opts, "rw_timeout", io_timeout_us, 0);
        av_dict_set_int(&opts, "timeout", io_timeout_us, 0);
    }
    // The protocols each camera scheme may reach underneath (a playlist or redirect cannot switch an http camera to
    // file: or gopher:; config_limits.cpp allows only these schemes for cameras).
    const char* whitelist = nullptr;
    if (local) {
        whitelist = "file,crypto";
    } else if (scheme == "rtsp" || scheme == "rtsps") {
        whitelist = "rtsp,rtsps,rtp,srtp,udp,tcp,tls,http,https,httpproxy";
    } else if (scheme == "http" || scheme == "https") {
        whitelist = "http,https,tls,tcp,crypto,httpproxy";
    }
    if (whitelist) av_dict_set(&opts, "protocol_whitelist", whitelist, 0);

    set_deadline(opt_.open_timeout_s);
    int err = avformat_open_input(&fmt_, target.c_str(), nullptr, &opts);
    av_dict_free(&opts);
    if (err < 0) {
        // avformat_open_input frees the context on failure.
        return map_ffmpeg_error(shown_, err, "opening", interrupted_, timed_out_, opt_.open_timeout_s);
    }
    err = avformat_find_stream_info(fmt_, nullptr);
    if (err < 0)
        return map_ffmpeg_error(shown_, err, "reading stream info", interrupted_, timed_out_, opt_.open_timeout_s);
    if (interrupted_) return cancelled(shown_ + ": interrupted while opening");

    err = av_find_best_stream(fmt_, AVMEDIA_TYPE_VIDEO, -1, -1, decoder, 0);
    if (err == AVERROR_STREAM_NOT_FOUND) return unsupported(shown_ + ": contains no video stream");
    if (decoder && (err == AVERROR_DECODER_NOT_FOUND || (err >= 0 && !*decoder))) {
        const AVStream* st = err >= 0 ? fmt_->streams[err] : nullptr;
        return unsupported(shown_ + ": no decoder for the video codec" +
                           (st ? std::string(" '") + avcodec_get_name(st->codecpar->codec_id) + "'" : ""));
    }
    if (err < 0) return map_ffmpeg_error(shown_, err, "finding the video stream", interrupted_, timed_out_, 0);
    stream_ = err;
    for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
        if (static_cast<int>(i) != stream_) fmt_->streams[i]->discard = AVDISCARD_ALL;
    }
    AVStream* st = fmt_->streams[stream_];
    time_base_ = st->time_base;
    const AVRational fr = av_guess_frame_rate(fmt_, st, nullptr);
    fps_ = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    set_deadline(0);
    return Status::ok();
}

StreamInfo FfmpegDemuxer::stream_info() const {
    StreamInfo info;
    if (const AVStream* st = stream()) {
        info.codec = avcodec_get_name(st->codecpar->codec_id);
        info.width = st->codecpar->width;
        info.height = st->codecpar->height;
    }
    info.fps = fps_;
    info.live = live_;
    return info;
}

Status FfmpegDemuxer::rewind() {
    if (!fmt_) return internal_error(shown_ + ": rewind before a successful open()");
    if (live_) return unsupported(shown_ + ": a live stream does not rewind");
    const AVStream* st = fmt_->streams[stream_];
    const int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    set_deadline(opt_.read_timeout_s);
    const int err = av_seek_frame(fmt_, stream_, start, AVSEEK_FLAG_BACKWARD);
    if (err < 0) return map_ffmpeg_error(shown_, err, "seeking to the start", interrupted_, timed_out_, opt_.read_timeout_s);
    pending_ = Status::ok();
    return Status::ok();
}

Result<bool> FfmpegDemuxer::next_packet(AVPacket* pkt) {
    if (!fmt_) return internal_error(shown_ + ": read before a successful open()");
    for (;;) {
        if (interrupted_) return cancelled(shown_ + ": interrupted while reading");
        set_deadline(opt_.read_timeout_s);
        const int err = av_read_frame(fmt_, pkt);
        if (err < 0) {
            if (interrupted_) return cancelled(shown_ + ": interrupted while reading");
            if (err == AVERROR(EAGAIN)) continue;
            if (err != AVERROR_EOF) {
                Status st = map_ffmpeg_error(shown_, err, "reading", false, timed_out_, opt_.read_timeout_s);
                if (timed_out_ || live_) {
                    if (timed_out_)
                        st = unavailable(shown_ + ": no data for " + seconds_text(opt_.read_timeout_s) +
                                         " (stream stalled or server gone)");
                    return st;
                }
                // A damaged or truncated file: the decoder still delivers what it holds, then this is reported.
                pending_ = st;
            }
            return false;
        }
        if (pkt->stream_index == stream_) return true;
        av_packet_unref(pkt);
    }
}

}  // namespace itscam::video
