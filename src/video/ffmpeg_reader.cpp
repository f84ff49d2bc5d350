#include "video/ffmpeg_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "core/redact.h"
#include "video/ffmpeg_log.h"
#include "core/regular_file.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace itscam::video {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

int64_t seconds_to_ns(double s) {
    if (!(s > 0)) return 0;
    return static_cast<int64_t>(std::min(s, 1e6) * 1e9);
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

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        install_masked_ffmpeg_log();  // FFmpeg's messages may quote the URL, password included
        avformat_network_init();
        // Keep FFmpeg's chatter (missing reference frames after joining a live stream mid-GOP, ...) out of the logs
        // unless someone configured a level on purpose.
        if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_FATAL);
    });
}

size_t align64(size_t v) {
    return (v + 63) / 64 * 64;
}

// libswscale warns about the deprecated full-range "J" formats; map them to the plain ones and say "full range".
AVPixelFormat normalize_pix_fmt(AVPixelFormat f, bool& full_range) {
    switch (f) {
        case AV_PIX_FMT_YUVJ420P:
            full_range = true;
            return AV_PIX_FMT_YUV420P;
        case AV_PIX_FMT_YUVJ422P:
            full_range = true;
            return AV_PIX_FMT_YUV422P;
        case AV_PIX_FMT_YUVJ444P:
            full_range = true;
            return AV_PIX_FMT_YUV444P;
        case AV_PIX_FMT_YUVJ440P:
            full_range = true;
            return AV_PIX_FMT_YUV440P;
        case AV_PIX_FMT_YUVJ411P:
            full_range = true;
            return AV_PIX_FMT_YUV411P;
        default:
            return f;
    }
}

}  // namespace

bool ffmpeg_protocol_supported(const std::string& scheme) {
    global_init();
    void* opaque = nullptr;
    while (const char* name = avio_enum_protocols(&opaque, 0)) {
        if (scheme == name) return true;
    }
    // Demuxer-level "protocols" that are not avio protocols.
    return scheme == "rtsp" || scheme == "rtsps" || scheme == "sdp";
}

struct FfmpegReader::Impl {
    AVFormatContext* fmt = nullptr;
    AVCodecContext* dec = nullptr;
    SwsContext* sws = nullptr;
    AVPacket* pkt = nullptr;
    AVFrame* frame = nullptr;
    int stream = -1;
    AVRational time_base{0, 1};
    double fps = 0;
    bool live = false;

    std::atomic<bool> interrupted{false};
    std::atomic<int64_t> deadline_ns{0};  // 0: none
    std::atomic<bool> timed_out{false};   // the interrupt callback fired because of the deadline

    bool flushing = false;  // sent the decoder its end-of-stream packet
    bool ended = false;
    Status pending;  // a read error, reported after the decoder has been drained
    int64_t frames = 0;
    double last_pts = 0;
    bool have_last_pts = false;
    int bad_packets = 0;  // consecutive undecodable packets

    // Current swscale setup, rebuilt when the decoded size or pixel format changes.
    int sws_w = 0, sws_h = 0;
    int sws_fmt = AV_PIX_FMT_NONE;
    int sws_colorspace = -1, sws_range = -1;

    void set_deadline(double seconds) {
        timed_out = false;
        const int64_t ns = seconds_to_ns(seconds);
        deadline_ns = ns > 0 ? now_ns() + ns : 0;
    }

    static int interrupt_cb(void* opaque) {
        auto* self = static_cast<Impl*>(opaque);
        if (self->interrupted.load(std::memory_order_relaxed)) return 1;
        const int64_t d = self->deadline_ns.load(std::memory_order_relaxed);
        if (d != 0 && now_ns() > d) {
            self->timed_out = true;
            return 1;
        }
        return 0;
    }
};

FfmpegReader::FfmpegReader(std::string url, ReaderOptions opt)
    : url_(std::move(url)), shown_(mask_url_userinfo(url_)), opt_(std::move(opt)), impl_(std::make_unique<Impl>()) {
    if (!opt_.allocator) opt_.allocator = heap_allocator();
}

FfmpegReader::~FfmpegReader() {
    close();
}

void FfmpegReader::interrupt() {
    impl_->interrupted = true;
}

void FfmpegReader::close() {
    Impl& m = *impl_;
    // Closing an RTSP session sends TEARDOWN; never let a hung server hold us here.
    m.set_deadline(1.0);
    if (m.sws) sws_freeContext(m.sws);
    m.sws = nullptr;
    if (m.dec) avcodec_free_context(&m.dec);
    if (m.fmt) avformat_close_input(&m.fmt);
    if (m.pkt) av_packet_free(&m.pkt);
    if (m.frame) av_frame_free(&m.frame);
    m.stream = -1;
}

namespace {

// Turns an FFmpeg error from opening/reading `url` into a Status with a plain-words message.
Status map_error(const std::string& url, int err, const char* during, bool interrupted, bool timed_out,
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

}  // namespace

Status FfmpegReader::open() {
    global_init();
    Impl& m = *impl_;
    if (m.fmt) return internal_error(shown_ + ": open() called twice");
    if (m.interrupted) return cancelled(shown_ + ": interrupted before opening");

    // Schemes are case-insensitive (config accepts RTSP://); FFmpeg's protocol names are lower case.
    std::string target = url_;
    const size_t sep = target.find("://");
    std::string scheme = sep == std::string::npos ? std::string() : target.substr(0, sep);
    for (char& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (scheme == "file") {
        target = target.substr(sep + 3);
    } else if (!scheme.empty()) {
        target = scheme + target.substr(sep);
    }
    m.live = is_live_url(url_);
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

    m.fmt = avformat_alloc_context();
    m.pkt = av_packet_alloc();
    m.frame = av_frame_alloc();
    if (!m.fmt || !m.pkt || !m.frame) return out_of_memory(shown_ + ": cannot allocate FFmpeg contexts");
    m.fmt->interrupt_callback.callback = &Impl::interrupt_cb;
    m.fmt->interrupt_callback.opaque = &m;

    AVDictionary* opts = nullptr;
    const int64_t io_timeout_us = static_cast<int64_t>(std::max(opt_.read_timeout_s, 0.001) * 1e6);
    if (scheme == "rtsp" || scheme == "rtsps") {
        av_dict_set(&opts, "rtsp_transport", opt_.rtsp_transport.c_str(), 0);
        av_dict_set_int(&opts, "timeout", io_timeout_us, 0);  // socket I/O timeout (µs) in FFmpeg >= 5
    } else if (m.live) {
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

    m.set_deadline(opt_.open_timeout_s);
    int err = avformat_open_input(&m.fmt, target.c_str(), nullptr, &opts);
    av_dict_free(&opts);
    if (err < 0) {
        // avformat_open_input frees the context on failure.
        return map_error(shown_, err, "opening", m.interrupted, m.timed_out, opt_.open_timeout_s);
    }
    err = avformat_find_stream_info(m.fmt, nullptr);
    if (err < 0) return map_error(shown_, err, "reading stream info", m.interrupted, m.timed_out, opt_.open_timeout_s);
    if (m.interrupted) return cancelled(shown_ + ": interrupted while opening");

    const AVCodec* codec = nullptr;
    err = av_find_best_stream(m.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (err == AVERROR_STREAM_NOT_FOUND) return unsupported(shown_ + ": contains no video stream");
    if (err == AVERROR_DECODER_NOT_FOUND || (err >= 0 && !codec)) {
        const AVStream* st = err >= 0 ? m.fmt->streams[err] : nullptr;
        return unsupported(shown_ + ": no decoder for the video codec" +
                           (st ? std::string(" '") + avcodec_get_name(st->codecpar->codec_id) + "'" : ""));
    }
    if (err < 0) return map_error(shown_, err, "finding the video stream", m.interrupted, m.timed_out, 0);
    m.stream = err;
    for (unsigned i = 0; i < m.fmt->nb_streams; ++i) {
        if (static_cast<int>(i) != m.stream) m.fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    AVStream* st = m.fmt->streams[m.stream];
    m.time_base = st->time_base;

    m.dec = avcodec_alloc_context3(codec);
    if (!m.dec) return out_of_memory(shown_ + ": cannot allocate the decoder");
    err = avcodec_parameters_to_context(m.dec, st->codecpar);
    if (err < 0) return map_error(shown_, err, "setting up the decoder", false, false, 0);
    m.dec->pkt_timebase = st->time_base;
    m.dec->thread_count = opt_.decode_threads;  // 0: FFmpeg picks
    m.dec->thread_type = FF_THREAD_FRAME;
    err = avcodec_open2(m.dec, codec, nullptr);
    if (err < 0)
        return unsupported(shown_ + ": cannot open the " + codec->name + " decoder (" + av_error_text(err) + ")");

    const AVRational fr = av_guess_frame_rate(m.fmt, st, nullptr);
    m.fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    info_.codec = avcodec_get_name(st->codecpar->codec_id);
    info_.width = st->codecpar->width;
    info_.height = st->codecpar->height;
    info_.fps = m.fps;
    info_.live = m.live;
    m.set_deadline(0);
    return Status::ok();
}

Result<bool> FfmpegReader::read(Frame& out) {
    Impl& m = *impl_;
    if (!m.fmt || !m.dec) return internal_error(shown_ + ": read() before a successful open()");
    if (m.ended) return false;
    const auto t0 = Clock::now();
    constexpr int kMaxBadPackets = 300;
    constexpr int kMaxDim = 32768;

    for (;;) {
        if (m.interrupted) return cancelled(shown_ + ": interrupted while reading");
        int err = avcodec_receive_frame(m.dec, m.frame);
        if (err == 0) {
            bool full_range = m.frame->color_range == AVCOL_RANGE_JPEG;
            const AVPixelFormat src_fmt = normalize_pix_fmt(static_cast<AVPixelFormat>(m.frame->format), full_range);
            int w = m.frame->width, h = m.frame->height;
            if (opt_.format == PixelFormat::kNV12) {
                w &= ~1;  // NV12 needs even sizes: drop an odd last column/row
                h &= ~1;
            }
            if (w <= 0 || h <= 0 || w > kMaxDim || h > kMaxDim || src_fmt == AV_PIX_FMT_NONE) {
                av_frame_unref(m.frame);
                continue;  // nothing usable in this one
            }
            const int colorspace = m.frame->colorspace;
            if (!m.sws || w != m.sws_w || h != m.sws_h || src_fmt != m.sws_fmt || colorspace != m.sws_colorspace ||
                static_cast<int>(full_range) != m.sws_range) {
                const AVPixelFormat dst_fmt = opt_.format == PixelFormat::kNV12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_BGR24;
                m.sws =
                    sws_getCachedContext(m.sws, w, h, src_fmt, w, h, dst_fmt, SWS_BILINEAR, nullptr, nullptr, nullptr);
                if (!m.sws) {
                    av_frame_unref(m.frame);
                    return unsupported(shown_ + ": cannot convert decoded pixel format '" +
                                       (av_get_pix_fmt_name(src_fmt) ? av_get_pix_fmt_name(src_fmt) : "?") + "' to " +
                                       pixel_format_name(opt_.format));
                }
                // Matrix from the stream (BT.601 when unspecified), output in limited range for NV12, full for BGR.
                const int cs =
                    colorspace == AVCOL_SPC_UNSPECIFIED || colorspace == AVCOL_SPC_RGB ? SWS_CS_DEFAULT : colorspace;
                const int* coefs = sws_getCoefficients(cs);
                sws_setColorspaceDetails(m.sws, coefs, full_range ? 1 : 0, coefs,
                                         opt_.format == PixelFormat::kNV12 ? 0 : 1, 0, 1 << 16, 1 << 16);
                m.sws_w = w;
                m.sws_h = h;
                m.sws_fmt = src_fmt;
                m.sws_colorspace = colorspace;
                m.sws_range = full_range ? 1 : 0;
            }

            Frame f;
            f.format = opt_.format;
            f.width = w;
            f.height = h;
            f.yuv_matrix = colorspace == AVCOL_SPC_BT709 ? YuvMatrix::kBT709 : YuvMatrix::kBT601;  // NV12: limited
                                                                                                  // range (above)
            f.stride = align64(opt_.format == PixelFormat::kNV12 ? static_cast<size_t>(w) : static_cast<size_t>(w) * 3);
            f.data = opt_.allocator(f.bytes());
            if (!f.data) {
                av_frame_unref(m.frame);
                return out_of_memory(shown_ + ": frame allocator returned no buffer");
            }
            uint8_t* dst[4] = {f.data.get(), nullptr, nullptr, nullptr};
            int dst_stride[4] = {static_cast<int>(f.stride), 0, 0, 0};
            if (opt_.format == PixelFormat::kNV12) {
                dst[1] = f.data.get() + f.stride * static_cast<size_t>(h);
                dst_stride[1] = static_cast<int>(f.stride);
            }
            sws_scale(m.sws, m.frame->data, m.frame->linesize, 0, h, dst, dst_stride);

            const int64_t ts = m.frame->best_effort_timestamp;
            double pts;
            if (ts != AV_NOPTS_VALUE && m.time_base.den > 0) {
                pts = static_cast<double>(ts) * av_q2d(m.time_base);
            } else {
                const double fps = m.fps > 0 ? m.fps : 25.0;
                pts = m.have_last_pts ? m.last_pts + 1.0 / fps : static_cast<double>(m.frames) / fps;
            }
            av_frame_unref(m.frame);
            m.last_pts = pts;
            m.have_last_pts = true;

            const auto t1 = Clock::now();
            f.index = m.frames++;
            f.pts = pts;
            f.capture_time = t1;
            f.wall_time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
            f.decode_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
            out = std::move(f);
            return true;
        }
        if (err == AVERROR_EOF) {
            m.ended = true;
            if (!m.pending.is_ok()) return m.pending;
            return false;
        }
        if (err != AVERROR(EAGAIN)) {
            // A broken frame inside the decoder: skip it, but give up on a stream that is nothing but errors.
            if (++m.bad_packets > kMaxBadPackets)
                return corrupt(shown_ + ": video data cannot be decoded (" + av_error_text(err) + ")");
            if (m.flushing) {
                m.ended = true;
                return m.pending.is_ok() ? Result<bool>(false) : Result<bool>(m.pending);
            }
            continue;
        }
        if (m.flushing) {  // EAGAIN after a flush should not happen; treat it as the end
            m.ended = true;
            return m.pending.is_ok() ? Result<bool>(false) : Result<bool>(m.pending);
        }

        // The decoder wants input.
        m.set_deadline(opt_.read_timeout_s);
        err = av_read_frame(m.fmt, m.pkt);
        if (err < 0) {
            if (m.interrupted) return cancelled(shown_ + ": interrupted while reading");
            if (err == AVERROR(EAGAIN)) continue;
            if (err != AVERROR_EOF) {
                Status st = map_error(shown_, err, "reading", false, m.timed_out, opt_.read_timeout_s);
                if (m.timed_out || m.live) {
                    if (m.timed_out)
                        st = unavailable(shown_ + ": no data for " + seconds_text(opt_.read_timeout_s) +
                                         " (stream stalled or server gone)");
                    return st;
                }
                // A damaged or truncated file: deliver what the decoder still holds, then report the error.
                m.pending = st;
            }
            m.flushing = true;
            avcodec_send_packet(m.dec, nullptr);
            continue;
        }
        if (m.pkt->stream_index != m.stream) {
            av_packet_unref(m.pkt);
            continue;
        }
        err = avcodec_send_packet(m.dec, m.pkt);
        av_packet_unref(m.pkt);
        if (err < 0 && err != AVERROR(EAGAIN)) {
            if (err == AVERROR(ENOMEM)) return out_of_memory(shown_ + ": out of memory while decoding");
            if (++m.bad_packets > kMaxBadPackets)
                return corrupt(shown_ + ": video data cannot be decoded (" + av_error_text(err) + ")");
            continue;
        }
        if (err == 0) m.bad_packets = 0;
    }
}

}  // namespace itscam::video
