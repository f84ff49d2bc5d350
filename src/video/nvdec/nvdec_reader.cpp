#include "video/nvdec/nvdec_reader.h"

#include <chrono>
#include <utility>

#include "core/redact.h"
#include "video/ffmpeg_demux.h"
#include "video/ffmpeg_reader.h"
#include "video/nvdec/nvdec_decoder.h"
#include "video/nvdec/nvdec_sessions.h"

extern "C" {
#include <libavcodec/bsf.h>
#include <libavutil/pixdesc.h>
}

namespace itscam::video {

struct NvdecReader::Impl {
    FfmpegDemuxer demux;
    AVBSFContext* bsf = nullptr;  // h264_mp4toannexb / hevc_mp4toannexb: MP4/MKV length prefixes to start codes
    AVPacket* pkt = nullptr;
    std::unique_ptr<NvdecDecoder> decoder;
    FrameClock clock;
    bool timestamps = false;  // packets carry pts or dts (otherwise frames are one nominal period apart)
    bool flushed = false;  // the decoder got its end of stream
    bool ended = false;

    ~Impl() {
        decoder.reset();
        if (bsf) av_bsf_free(&bsf);
        if (pkt) av_packet_free(&pkt);
        demux.close();
    }

    // Feeds the bitstream filter's output for the packet in `pkt` (end: the end of the stream) to the decoder.
    Status feed(bool end) {
        int err = av_bsf_send_packet(bsf, end ? nullptr : pkt);  // takes the packet's reference on success
        if (err < 0) {
            av_packet_unref(pkt);
            return corrupt("bitstream filter rejected a packet (" + av_error_text(err) + ")");
        }
        for (;;) {
            err = av_bsf_receive_packet(bsf, pkt);
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::ok();
            if (err < 0) return corrupt("bitstream filter failed (" + av_error_text(err) + ")");
            const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            const Status st = decoder->decode(pkt->data, static_cast<size_t>(pkt->size),
                                              ts != AV_NOPTS_VALUE ? &ts : nullptr, true);
            av_packet_unref(pkt);
            ITSCAM_RETURN_IF_ERROR(st);
        }
    }
};

NvdecReader::NvdecReader(std::string url, ReaderOptions opt)
    : url_(std::move(url)), shown_(mask_url_userinfo(url_)), opt_(std::move(opt)), impl_(std::make_unique<Impl>()) {}

NvdecReader::~NvdecReader() = default;

void NvdecReader::interrupt() {
    impl_->demux.interrupt();
}

Status NvdecReader::open() {
    Impl& m = *impl_;
    if (m.decoder) return internal_error(shown_ + ": open() called twice");
    ITSCAM_RETURN_IF_ERROR(m.demux.open(url_, shown_, opt_, nullptr));
    // From here on every failure is the GPU decoder's (codec, format, driver, session), not the source's.
    const Status st = open_decoder();
    decoder_failed_ = !st.is_ok();
    return st;
}

Status NvdecReader::open_decoder() {
    Impl& m = *impl_;
    const AVStream* st = m.demux.stream();
    const AVCodecParameters* par = st->codecpar;
    // As FfmpegReader: the stream's matrix (BT.601 when unspecified), its range.
    matrix_ = par->color_space == AVCOL_SPC_BT709 ? YuvMatrix::kBT709 : YuvMatrix::kBT601;
    full_range_ = par->color_range == AVCOL_RANGE_JPEG || par->format == AV_PIX_FMT_YUVJ420P;
    const char* codec = avcodec_get_name(par->codec_id);
    const char* filter = par->codec_id == AV_CODEC_ID_H264   ? "h264_mp4toannexb"
                         : par->codec_id == AV_CODEC_ID_HEVC ? "hevc_mp4toannexb"
                                                             : nullptr;
    if (filter == nullptr)
        return unsupported(shown_ + ": codec '" + codec + "' is not decoded with NVDEC (H.264 and HEVC only)");
    const auto pix = static_cast<AVPixelFormat>(par->format);
    if (pix != AV_PIX_FMT_NONE && pix != AV_PIX_FMT_YUV420P && pix != AV_PIX_FMT_YUVJ420P)
        return unsupported(shown_ + ": pixel format '" + (av_get_pix_fmt_name(pix) ? av_get_pix_fmt_name(pix) : "?") +
                           "': NVDEC decodes 8-bit 4:2:0 only");

    // The stream is one NVDEC would take: now the driver (kUnavailable without one).
    ITSCAM_RETURN_IF_ERROR(nvdec_load_status().with_context(shown_));

    const AVBitStreamFilter* f = av_bsf_get_by_name(filter);
    if (f == nullptr) return unsupported(shown_ + ": this FFmpeg has no " + filter + " bitstream filter");
    int err = av_bsf_alloc(f, &m.bsf);
    if (err < 0) return out_of_memory(shown_ + ": cannot allocate the bitstream filter");
    err = avcodec_parameters_copy(m.bsf->par_in, par);
    if (err >= 0) {
        m.bsf->time_base_in = st->time_base;
        err = av_bsf_init(m.bsf);
    }
    if (err < 0) return corrupt(shown_ + ": " + filter + " cannot start (" + av_error_text(err) + ")");
    m.pkt = av_packet_alloc();
    if (!m.pkt) return out_of_memory(shown_ + ": cannot allocate a packet");

    NvdecDecoderOptions dopt;
    dopt.codec = codec;
    dopt.device = opt_.cuda_device;
    dopt.device_allocator = opt_.device_allocator;
    // Live streams: each picture as soon as it is decoded. Files: a short queue lets decoding run ahead.
    dopt.display_delay = m.demux.live() ? 0 : 2;
    const AVRational tb = m.demux.time_base();
    // Timestamps go through the parser in the stream's own units (it only interpolates missing ones with the rate).
    dopt.clock_rate = tb.num == 1 && tb.den > 0 ? static_cast<unsigned>(tb.den) : 0;
    dopt.name = shown_;
    ITSCAM_ASSIGN_OR_RETURN(m.decoder, NvdecDecoder::create(std::move(dopt)));
    m.clock = FrameClock(tb, m.demux.fps());
    info_ = m.demux.stream_info();
    return Status::ok();
}

Result<bool> NvdecReader::read(Frame& out) {
    Impl& m = *impl_;
    if (!m.decoder) return internal_error(shown_ + ": read() before a successful open()");
    const auto t0 = std::chrono::steady_clock::now();
    for (;;) {
        if (m.demux.interrupted()) return cancelled(shown_ + ": interrupted while reading");
        NvdecPicture pic;
        if (m.decoder->pop(pic)) {
            Frame f;
            f.data = std::move(pic.data);
            f.format = PixelFormat::kNV12;
            f.width = pic.width;
            f.height = pic.height;
            f.stride = pic.stride;
            f.device = m.decoder->context()->device();
            f.yuv_matrix = matrix_;
            f.yuv_full_range = full_range_;
            m.clock.stamp(f, m.clock.seconds(m.timestamps ? pic.timestamp : AV_NOPTS_VALUE), t0);
            out = std::move(f);
            return true;
        }
        if (m.ended) return m.demux.pending().is_ok() ? Result<bool>(false) : Result<bool>(m.demux.pending());
        if (m.flushed) {
            m.ended = true;
            continue;
        }
        const Result<bool> got = m.demux.next_packet(m.pkt);
        if (!got.is_ok()) return got.status();
        if (*got) {
            if (m.pkt->pts != AV_NOPTS_VALUE || m.pkt->dts != AV_NOPTS_VALUE) m.timestamps = true;
            ITSCAM_RETURN_IF_ERROR(decoder_error(m.feed(false).with_context(shown_)));
            continue;
        }
        // End of the input: drain the filter and the parser's held-back pictures.
        m.flushed = true;
        ITSCAM_RETURN_IF_ERROR(decoder_error(m.feed(true).with_context(shown_)));
        ITSCAM_RETURN_IF_ERROR(decoder_error(m.decoder->flush()));
    }
}

Status NvdecReader::rewind() {
    Impl& m = *impl_;
    if (!m.decoder) return internal_error(shown_ + ": rewind() before a successful open()");
    if (!m.ended) return invalid_argument(shown_ + ": rewind() before the end of the stream");
    ITSCAM_RETURN_IF_ERROR(m.demux.rewind());
    // The filter and the parser were drained at the end; both take a new stream after it. The hardware decoder
    // stays: the same sequence header finds it (NvdecDecoder::on_sequence).
    av_bsf_flush(m.bsf);
    m.flushed = false;
    m.ended = false;
    return Status::ok();
}

Result<std::unique_ptr<VideoReader>> make_nvdec_reader(const std::string& url, const ReaderOptions& opt) {
    ITSCAM_RETURN_IF_ERROR(check_reader_options(url, opt));
    const std::string scheme = url_scheme(url);
    if (scheme == "synthetic") return unsupported(url + ": synthetic sources are not decoded with NVDEC");
    if (!scheme.empty() && scheme != "file" && !ffmpeg_protocol_supported(scheme))
        return unsupported(mask_url_userinfo(url) + ": unknown or unsupported URL scheme '" + scheme + "://'");
    if (opt.cuda_device < 0)
        return invalid_argument(mask_url_userinfo(url) + ": NVDEC needs a CUDA device, not " +
                                std::to_string(opt.cuda_device));
    ITSCAM_RETURN_IF_ERROR(nvdec_load_status());
    // kUnavailable at once while the GPU has no decoder session free: the capture loop decodes on the CPU instead.
    ITSCAM_RETURN_IF_ERROR(NvdecSessions::of_device(opt.cuda_device).check(mask_url_userinfo(url)));
    return std::unique_ptr<VideoReader>(std::make_unique<NvdecReader>(url, opt));
}

}  // namespace itscam::video
