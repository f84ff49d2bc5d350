#include "video/ffmpeg_reader.h"

#include <chrono>
#include <cstring>

#include "core/redact.h"
#include "video/ffmpeg_demux.h"

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace itscam::video {

namespace {

using Clock = std::chrono::steady_clock;

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

// Y rows as they are, Cb and Cr interleaved into NV12's CbCr plane (w, h even: the caller drops an odd column/row).
void repack_yuv420p_to_nv12(const uint8_t* const src[], const int src_stride[], int w, int h, uint8_t* y, uint8_t* uv,
                            size_t stride) {
    for (int r = 0; r < h; ++r) std::memcpy(y + stride * r, src[0] + static_cast<ptrdiff_t>(src_stride[0]) * r, w);
    for (int r = 0; r < h / 2; ++r) {
        const uint8_t* cb = src[1] + static_cast<ptrdiff_t>(src_stride[1]) * r;
        const uint8_t* cr = src[2] + static_cast<ptrdiff_t>(src_stride[2]) * r;
        uint8_t* d = uv + stride * r;
        for (int x = 0; x < w / 2; ++x) {
            d[2 * x] = cb[x];
            d[2 * x + 1] = cr[x];
        }
    }
}

}  // namespace

bool ffmpeg_protocol_supported(const std::string& scheme) {
    ffmpeg_global_init();
    void* opaque = nullptr;
    while (const char* name = avio_enum_protocols(&opaque, 0)) {
        if (scheme == name) return true;
    }
    // Demuxer-level "protocols" that are not avio protocols.
    return scheme == "rtsp" || scheme == "rtsps" || scheme == "sdp";
}

struct FfmpegReader::Impl {
    FfmpegDemuxer demux;
    AVCodecContext* dec = nullptr;
    SwsContext* sws = nullptr;
    AVPacket* pkt = nullptr;
    AVFrame* frame = nullptr;

    bool flushing = false;  // sent the decoder its end-of-stream packet
    bool ended = false;
    FrameClock clock;
    int bad_packets = 0;  // consecutive undecodable packets

    // Current swscale setup, rebuilt when the decoded size or pixel format changes.
    int sws_w = 0, sws_h = 0;
    int sws_fmt = AV_PIX_FMT_NONE;
    int sws_colorspace = -1, sws_range = -1;
};

FfmpegReader::FfmpegReader(std::string url, ReaderOptions opt)
    : url_(std::move(url)), shown_(mask_url_userinfo(url_)), opt_(std::move(opt)), impl_(std::make_unique<Impl>()) {
    if (!opt_.allocator) opt_.allocator = heap_allocator();
}

FfmpegReader::~FfmpegReader() {
    close();
}

void FfmpegReader::interrupt() {
    impl_->demux.interrupt();
}

void FfmpegReader::close() {
    Impl& m = *impl_;
    if (m.sws) sws_freeContext(m.sws);
    m.sws = nullptr;
    if (m.dec) avcodec_free_context(&m.dec);
    m.demux.close();
    if (m.pkt) av_packet_free(&m.pkt);
    if (m.frame) av_frame_free(&m.frame);
}

Status FfmpegReader::open() {
    Impl& m = *impl_;
    if (m.dec) return internal_error(shown_ + ": open() called twice");
    const AVCodec* codec = nullptr;
    ITSCAM_RETURN_IF_ERROR(m.demux.open(url_, shown_, opt_, &codec));
    m.clock = FrameClock(m.demux.time_base(), m.demux.fps());
    m.pkt = av_packet_alloc();
    m.frame = av_frame_alloc();
    if (!m.pkt || !m.frame) return out_of_memory(shown_ + ": cannot allocate FFmpeg contexts");
    AVStream* st = m.demux.stream();

    m.dec = avcodec_alloc_context3(codec);
    if (!m.dec) return out_of_memory(shown_ + ": cannot allocate the decoder");
    const int err = avcodec_parameters_to_context(m.dec, st->codecpar);
    if (err < 0) return map_ffmpeg_error(shown_, err, "setting up the decoder", false, false, 0);
    m.dec->pkt_timebase = st->time_base;
    m.dec->thread_count = opt_.decode_threads;  // 0: FFmpeg picks
    m.dec->thread_type = FF_THREAD_FRAME;
    const int opened = avcodec_open2(m.dec, codec, nullptr);
    if (opened < 0)
        return unsupported(shown_ + ": cannot open the " + codec->name + " decoder (" + av_error_text(opened) + ")");
    info_ = m.demux.stream_info();
    return Status::ok();
}

bool FfmpegReader::skip_nonref(bool on) {
    Impl& m = *impl_;
    if (!m.dec) return false;
    // Read by the decoder per packet (and handed to FFmpeg's frame threads with each one).
    m.dec->skip_frame = on ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    return true;
}

Result<bool> FfmpegReader::read(Frame& out) {
    Impl& m = *impl_;
    if (!m.demux.is_open() || !m.dec) return internal_error(shown_ + ": read() before a successful open()");
    if (m.ended) return false;
    const auto t0 = Clock::now();
    constexpr int kMaxBadPackets = 300;
    constexpr int kMaxDim = 32768;
    // The decoder's and the conversion's CPU work runs in one of the pipeline's decode slots; reading a packet
    // (which may wait on the network) does not hold one. One grant per frame in the usual case: the slot is taken
    // before a packet is sent (the decode) and kept through the conversion of the frame it yields; asking the
    // decoder for a frame it already has (or learning it has none) is cheap and takes no slot by itself.
    DecodeGate::Hold slot(opt_.decode_gate.get());

    for (;;) {
        if (m.demux.interrupted()) return cancelled(shown_ + ": interrupted while reading");
        int err = avcodec_receive_frame(m.dec, m.frame);
        if (err == 0) {
            slot.enter();  // the conversion below (held already when this frame came from the packet just sent)
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
            // 4:2:0 planar to NV12 is a repack of the decoder's own samples (range and matrix kept, stated on the
            // frame): the same bytes NVDEC gives for the same stream. Everything else goes through swscale.
            const bool repack = opt_.format == PixelFormat::kNV12 && src_fmt == AV_PIX_FMT_YUV420P;
            if (!repack && (!m.sws || w != m.sws_w || h != m.sws_h || src_fmt != m.sws_fmt || colorspace != m.sws_colorspace ||
                static_cast<int>(full_range) != m.sws_range)) {
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
            f.yuv_matrix = colorspace == AVCOL_SPC_BT709 ? YuvMatrix::kBT709 : YuvMatrix::kBT601;
            f.yuv_full_range = repack && full_range;  // swscale writes NV12 in limited range (above)
            f.stride = default_stride(opt_.format, w);
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
            if (repack)
                repack_yuv420p_to_nv12(m.frame->data, m.frame->linesize, w, h, dst[0], dst[1], f.stride);
            else
                sws_scale(m.sws, m.frame->data, m.frame->linesize, 0, h, dst, dst_stride);

            const double pts = m.clock.seconds(m.frame->best_effort_timestamp);
            av_frame_unref(m.frame);
            m.clock.stamp(f, pts, t0);
            out = std::move(f);
            return true;
        }
        if (err == AVERROR_EOF) {
            m.ended = true;
            if (!m.demux.pending().is_ok()) return m.demux.pending();
            return false;
        }
        if (err != AVERROR(EAGAIN)) {
            // A broken frame inside the decoder: skip it, but give up on a stream that is nothing but errors.
            if (++m.bad_packets > kMaxBadPackets)
                return corrupt(shown_ + ": video data cannot be decoded (" + av_error_text(err) + ")");
            if (m.flushing) {
                m.ended = true;
                return m.demux.pending().is_ok() ? Result<bool>(false) : Result<bool>(m.demux.pending());
            }
            continue;
        }
        if (m.flushing) {  // EAGAIN after a flush should not happen; treat it as the end
            m.ended = true;
            return m.demux.pending().is_ok() ? Result<bool>(false) : Result<bool>(m.demux.pending());
        }

        // The decoder wants input.
        slot.leave();
        const Result<bool> got = m.demux.next_packet(m.pkt);
        if (!got.is_ok()) return got.status();
        slot.enter();  // the decode
        if (!*got) {
            m.flushing = true;
            avcodec_send_packet(m.dec, nullptr);
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
