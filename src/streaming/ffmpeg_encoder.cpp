// create_fmp4_encoder: libx264 through libavcodec, packaged by our own Fmp4Writer (fmp4_writer.h says why not
// libavformat's mp4 muxer). See encoder.h.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "streaming/encoder.h"
#include "streaming/fmp4_writer.h"
#include "video/ffmpeg_log.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace itscam::streaming {

namespace {

std::string av_err(int e) {
    char b[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(e, b, sizeof b);
    return b;
}

// Every FFmpeg call that can fail: the expression, file and line go into the Status.
#define ITSCAM_FF_CHECK(expr)                                                                               \
    do {                                                                                                    \
        const int itscam_ff_rc_ = (expr);                                                                   \
        if (itscam_ff_rc_ < 0)                                                                              \
            return internal_error(std::string(#expr) + " failed: " + av_err(itscam_ff_rc_) + " (" __FILE__ \
                                  ":" + std::to_string(__LINE__) + ")");                                    \
    } while (0)

int64_t steady_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

constexpr int kTimescale = 90000;

class FfmpegFmp4Encoder final : public StreamEncoder {
public:
    explicit FfmpegFmp4Encoder(EncoderOptions o) : opt_(std::move(o)) {}

    ~FfmpegFmp4Encoder() override {
        avcodec_free_context(&enc_);
        avcodec_free_context(&dec_);
        av_frame_free(&yuv_);
        av_frame_free(&dec_frame_);
        av_packet_free(&pkt_);
        sws_freeContext(sws_);
    }

    Status open() {
        if (opt_.width <= 0 || opt_.height <= 0 || opt_.width % 2 || opt_.height % 2)
            return invalid_argument("encoder size must be positive and even, got " + std::to_string(opt_.width) +
                                    "x" + std::to_string(opt_.height));
        if (!(opt_.fps > 0 && opt_.fps <= 1000)) return invalid_argument("encoder fps must be in (0, 1000]");
        if (opt_.gop < 1) return invalid_argument("gop must be >= 1");
        if (opt_.frames_per_fragment < 1) return invalid_argument("frames_per_fragment must be >= 1");
        // libx264 reports every open and close at INFO level; keep the service log quiet unless asked otherwise.
        if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_ERROR);
        video::install_masked_ffmpeg_log();  // the same masked log lines as the readers'
        const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
        if (!codec) return unsupported("FFmpeg has no libx264 encoder (install libavcodec built with libx264)");
        enc_ = avcodec_alloc_context3(codec);
        if (!enc_) return out_of_memory("avcodec_alloc_context3");
        enc_->width = opt_.width;
        enc_->height = opt_.height;
        enc_->pix_fmt = AV_PIX_FMT_YUV420P;
        enc_->time_base = AVRational{1, kTimescale};
        enc_->framerate = av_d2q(opt_.fps, 100000);
        enc_->gop_size = opt_.gop;
        enc_->keyint_min = std::min(opt_.gop, 25);
        enc_->max_b_frames = 0;
        enc_->thread_count = opt_.threads;
        enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // SPS/PPS in extradata: the moov's avcC
        enc_->color_range = AVCOL_RANGE_MPEG;
        enc_->colorspace = AVCOL_SPC_BT470BG;
        ITSCAM_FF_CHECK(av_opt_set(enc_->priv_data, "preset", opt_.preset.c_str(), 0));
        if (!opt_.tune.empty()) ITSCAM_FF_CHECK(av_opt_set(enc_->priv_data, "tune", opt_.tune.c_str(), 0));
        if (!opt_.profile.empty()) ITSCAM_FF_CHECK(av_opt_set(enc_->priv_data, "profile", opt_.profile.c_str(), 0));
        ITSCAM_FF_CHECK(av_opt_set_int(enc_->priv_data, "forced-idr", 1, 0));
        // Keyframes exactly every gop frames (no scene-cut keyframes): fragments line up and bits are predictable.
        std::string params = "scenecut=0";
        if (!opt_.x264_params.empty()) params += ":" + opt_.x264_params;
        ITSCAM_FF_CHECK(av_opt_set(enc_->priv_data, "x264-params", params.c_str(), 0));
        if (opt_.rc == RateControl::kCbr) {
            const int64_t bps = int64_t(opt_.bitrate_kbps) * 1000;
            enc_->bit_rate = bps;
            enc_->rc_max_rate = bps;
            enc_->rc_min_rate = bps;
            enc_->rc_buffer_size = static_cast<int>(bps * opt_.vbv_seconds);
            ITSCAM_FF_CHECK(av_opt_set(enc_->priv_data, "nal-hrd", "cbr", 0));
            stats_.bitrate_kbps = opt_.bitrate_kbps;
        } else {
            ITSCAM_FF_CHECK(av_opt_set_double(enc_->priv_data, "crf", opt_.crf, 0));
            if (opt_.max_bitrate_kbps > 0) set_cap(opt_.max_bitrate_kbps);
            stats_.crf = opt_.crf;
        }
        ITSCAM_FF_CHECK(avcodec_open2(enc_, codec, nullptr));
        codec_string_ = h264_codec_string(enc_->extradata, static_cast<size_t>(enc_->extradata_size));

        yuv_ = av_frame_alloc();
        pkt_ = av_packet_alloc();
        if (!yuv_ || !pkt_) return out_of_memory("av_frame_alloc");
        yuv_->format = AV_PIX_FMT_YUV420P;
        yuv_->width = opt_.width;
        yuv_->height = opt_.height;
        ITSCAM_FF_CHECK(av_frame_get_buffer(yuv_, 64));

        ITSCAM_RETURN_IF_ERROR(open_muxer());
        if (opt_.keep_recon) ITSCAM_RETURN_IF_ERROR(open_decoder());
        return Status::ok();
    }

    const std::string& init_segment() const override { return init_; }
    std::string codec_string() const override { return codec_string_; }
    int width() const override { return opt_.width; }
    int height() const override { return opt_.height; }
    const EncoderStats& stats() const override { return stats_; }
    const std::vector<uint8_t>& recon_luma() const override { return recon_; }
    const std::vector<uint8_t>& source_luma() const override { return source_; }

    Status encode(const video::Frame& frame, int64_t pts_us, int64_t capture_us, const FrameControl& ctl,
                  std::vector<Fragment>& out) override {
        if (frame.empty()) return invalid_argument("empty frame");
        if (have_last_pts_ && pts_us <= last_pts_us_)
            return invalid_argument("frame pts must increase (" + std::to_string(pts_us) + " after " +
                                    std::to_string(last_pts_us_) + ")");
        const auto t0 = std::chrono::steady_clock::now();
        ITSCAM_RETURN_IF_ERROR(convert(frame));
        apply_rate_control(ctl);
        ITSCAM_FF_CHECK(av_frame_make_writable(yuv_));
        av_frame_remove_side_data(yuv_, AV_FRAME_DATA_REGIONS_OF_INTEREST);
        // Will x264 make this frame a keyframe? (scenecut=0: exactly every gop frames after the last one, or forced.)
        const bool key_next = ctl.force_keyframe || frames_since_key_ < 0 || frames_since_key_ + 1 >= opt_.gop;
        const bool use_key_map = key_next && !ctl.key_rois.empty();
        const std::vector<RoiRegion>& rois = use_key_map ? ctl.key_rois : ctl.rois;
        if (use_key_map) stats_.key_roi_frames++;
        if (!rois.empty()) {
            AVFrameSideData* sd = av_frame_new_side_data(yuv_, AV_FRAME_DATA_REGIONS_OF_INTEREST,
                                                         sizeof(AVRegionOfInterest) * rois.size());
            if (!sd) return out_of_memory("ROI side data");
            auto* r = reinterpret_cast<AVRegionOfInterest*>(sd->data);
            for (size_t i = 0; i < rois.size(); ++i) {
                const RoiRegion& s = rois[i];
                r[i].self_size = sizeof(AVRegionOfInterest);
                r[i].left = std::clamp(s.x, 0, opt_.width);
                r[i].top = std::clamp(s.y, 0, opt_.height);
                r[i].right = std::clamp(s.x + s.w, 0, opt_.width);
                r[i].bottom = std::clamp(s.y + s.h, 0, opt_.height);
                r[i].qoffset = AVRational{static_cast<int>(std::lround(std::clamp(s.qoffset, -1.f, 1.f) * 1000)),
                                          1000};
            }
        }
        const int64_t pts = av_rescale(pts_us, kTimescale, 1000000);
        yuv_->pts = pts;
        yuv_->pict_type = ctl.force_keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        have_last_pts_ = true;
        last_pts_us_ = pts_us;
        pending_capture_.push_back({pts, pts_us, capture_us});
        ITSCAM_FF_CHECK(avcodec_send_frame(enc_, yuv_));
        ITSCAM_RETURN_IF_ERROR(drain(out));
        stats_.last_encode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        return Status::ok();
    }

    Status flush(std::vector<Fragment>& out) override {
        if (!flushed_) {
            flushed_ = true;
            ITSCAM_FF_CHECK(avcodec_send_frame(enc_, nullptr));
            ITSCAM_RETURN_IF_ERROR(drain(out));
        }
        return close_fragment(out);
    }

private:
    struct PendingTime {
        int64_t pts;  // 90 kHz
        int64_t pts_us;
        int64_t capture_us;
    };

    void set_cap(int kbps) {
        const int64_t bps = int64_t(kbps) * 1000;
        enc_->rc_max_rate = bps;
        enc_->rc_buffer_size = static_cast<int>(bps * opt_.vbv_seconds);
    }

    void apply_rate_control(const FrameControl& ctl) {
        // libx264's wrapper reconfigures x264 before each frame when these differ from what is in force.
        if (opt_.rc == RateControl::kCbr) {
            if (ctl.bitrate_kbps > 0 && ctl.bitrate_kbps != stats_.bitrate_kbps) {
                const int64_t bps = int64_t(ctl.bitrate_kbps) * 1000;
                enc_->bit_rate = bps;
                enc_->rc_min_rate = bps;
                set_cap(ctl.bitrate_kbps);
                stats_.bitrate_kbps = ctl.bitrate_kbps;
            }
        } else {
            if (ctl.crf >= 0 && std::fabs(ctl.crf - stats_.crf) > 1e-6) {
                av_opt_set_double(enc_->priv_data, "crf", ctl.crf, 0);
                stats_.crf = ctl.crf;
            }
            if (ctl.bitrate_kbps > 0 && ctl.bitrate_kbps != stats_.bitrate_kbps && opt_.max_bitrate_kbps > 0) {
                set_cap(ctl.bitrate_kbps);
                stats_.bitrate_kbps = ctl.bitrate_kbps;
            }
        }
    }

    Status open_muxer() {
        std::string sps, pps;
        if (!Fmp4Writer::split_sps_pps(enc_->extradata, static_cast<size_t>(enc_->extradata_size), sps, pps))
            return internal_error("libx264 gave no SPS/PPS in its global header");
        writer_ = std::make_unique<Fmp4Writer>(opt_.width, opt_.height, kTimescale, std::move(sps), std::move(pps));
        init_ = writer_->init_segment();
        return Status::ok();
    }

    Status open_decoder() {
        const AVCodec* d = avcodec_find_decoder(AV_CODEC_ID_H264);
        if (!d) return unsupported("no H.264 decoder");
        dec_ = avcodec_alloc_context3(d);
        if (!dec_) return out_of_memory("decoder");
        dec_->extradata = static_cast<uint8_t*>(av_mallocz(enc_->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE));
        std::memcpy(dec_->extradata, enc_->extradata, enc_->extradata_size);
        dec_->extradata_size = enc_->extradata_size;
        dec_->thread_count = 1;
        ITSCAM_FF_CHECK(avcodec_open2(dec_, d, nullptr));
        dec_frame_ = av_frame_alloc();
        if (!dec_frame_) return out_of_memory("decoder frame");
        return Status::ok();
    }

    Status convert(const video::Frame& f) {
        const AVPixelFormat src = f.format == video::PixelFormat::kBGR24 ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_NV12;
        sws_ = sws_getCachedContext(sws_, f.width, f.height, src, opt_.width, opt_.height, AV_PIX_FMT_YUV420P,
                                    SWS_BILINEAR, nullptr, nullptr, nullptr);
        if (!sws_) return internal_error("sws_getCachedContext failed");
        ITSCAM_FF_CHECK(av_frame_make_writable(yuv_));
        const uint8_t* planes[2] = {f.data.get(), nullptr};
        int strides[2] = {static_cast<int>(f.stride), 0};
        if (f.format == video::PixelFormat::kNV12) {
            planes[1] = f.data.get() + f.stride * f.height;
            strides[1] = static_cast<int>(f.stride);
        }
        sws_scale(sws_, planes, strides, 0, f.height, yuv_->data, yuv_->linesize);
        if (opt_.keep_recon) copy_luma(yuv_, source_);
        return Status::ok();
    }

    void copy_luma(const AVFrame* fr, std::vector<uint8_t>& dst) const {
        dst.resize(size_t(opt_.width) * opt_.height);
        for (int y = 0; y < opt_.height; ++y)
            std::memcpy(dst.data() + size_t(y) * opt_.width, fr->data[0] + size_t(y) * fr->linesize[0], opt_.width);
    }

    Status drain(std::vector<Fragment>& out) {
        for (;;) {
            const int rc = avcodec_receive_packet(enc_, pkt_);
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return Status::ok();
            ITSCAM_FF_CHECK(rc);
            const Status st = on_packet(out);
            av_packet_unref(pkt_);
            ITSCAM_RETURN_IF_ERROR(st);
        }
    }

    Status on_packet(std::vector<Fragment>& out) {
        const bool key = (pkt_->flags & AV_PKT_FLAG_KEY) != 0;
        size_t qsize = 0;
        const uint8_t* q = av_packet_get_side_data(pkt_, AV_PKT_DATA_QUALITY_STATS, &qsize);
        if (q && qsize >= 5) {
            const int quality = int(q[0]) | (int(q[1]) << 8) | (int(q[2]) << 16) | (int(q[3]) << 24);
            stats_.last_qp = double(quality) / FF_QP2LAMBDA;
            const int pt = q[4];
            stats_.last_pict_type = pt == AV_PICTURE_TYPE_I ? 'I' : pt == AV_PICTURE_TYPE_P ? 'P' : 'B';
        }
        stats_.last_frame_bytes = pkt_->size;
        stats_.frames++;
        if (key) stats_.keyframes++;
        frames_since_key_ = key ? 0 : frames_since_key_ + 1;
        if (opt_.keep_recon) ITSCAM_RETURN_IF_ERROR(decode_back());

        // Which frame this packet is (no B-frames: packets come in input order).
        PendingTime t{pkt_->pts, av_rescale(pkt_->pts, 1000000, kTimescale), 0};
        while (!pending_capture_.empty() && pending_capture_.front().pts <= pkt_->pts) {
            t = pending_capture_.front();
            pending_capture_.erase(pending_capture_.begin());
        }
        if (key && open_.frames > 0) ITSCAM_RETURN_IF_ERROR(close_fragment(out));
        const int64_t frame_us = static_cast<int64_t>(std::llround(1e6 / opt_.fps));
        if (open_.frames == 0) {
            open_.keyframe = key;
            open_.pts_start_us = t.pts_us;
        }
        open_.frames++;
        open_.pts_end_us = t.pts_us + frame_us;
        open_.capture_us.push_back(t.capture_us);
        Fmp4Sample smp;
        smp.dts = pkt_->pts;
        smp.keyframe = key;
        smp.data = Fmp4Writer::annexb_to_avcc(pkt_->data, static_cast<size_t>(pkt_->size));
        samples_.push_back(std::move(smp));
        const bool by_count = open_.frames >= opt_.frames_per_fragment && opt_.fragment_ms <= 0;
        const bool by_time = opt_.fragment_ms > 0 && double(open_.pts_end_us - open_.pts_start_us) >=
                                                         opt_.fragment_ms * 1000.0 - frame_us / 2.0;
        if (by_count || by_time) ITSCAM_RETURN_IF_ERROR(close_fragment(out));
        return Status::ok();
    }

    Status decode_back() {
        ITSCAM_FF_CHECK(avcodec_send_packet(dec_, pkt_));
        for (;;) {
            const int rc = avcodec_receive_frame(dec_, dec_frame_);
            if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return Status::ok();
            ITSCAM_FF_CHECK(rc);
            copy_luma(dec_frame_, recon_);
            av_frame_unref(dec_frame_);
        }
    }

    Status close_fragment(std::vector<Fragment>& out) {
        if (open_.frames == 0) return Status::ok();
        Fragment f = std::move(open_);
        open_ = Fragment{};
        f.sequence = ++sequence_;
        const uint32_t last_dur = static_cast<uint32_t>(std::llround(kTimescale / opt_.fps));
        f.data = writer_->fragment(samples_, last_dur, static_cast<uint32_t>(f.sequence));
        samples_.clear();
        f.available_us = steady_us();
        stats_.bytes += static_cast<int64_t>(f.data.size());
        stats_.fragments++;
        out.push_back(std::move(f));
        return Status::ok();
    }

    EncoderOptions opt_;
    AVCodecContext* enc_ = nullptr;
    AVCodecContext* dec_ = nullptr;
    AVFrame* yuv_ = nullptr;
    AVFrame* dec_frame_ = nullptr;
    AVPacket* pkt_ = nullptr;
    SwsContext* sws_ = nullptr;
    std::unique_ptr<Fmp4Writer> writer_;
    std::vector<Fmp4Sample> samples_;
    std::string init_, codec_string_;
    Fragment open_;
    uint64_t sequence_ = 0;
    std::vector<PendingTime> pending_capture_;
    bool have_last_pts_ = false, flushed_ = false;
    int frames_since_key_ = -1;  // -1: nothing encoded yet (the first frame is a keyframe)
    int64_t last_pts_us_ = 0;
    EncoderStats stats_;
    std::vector<uint8_t> recon_, source_;
};

}  // namespace

Result<std::unique_ptr<StreamEncoder>> create_fmp4_encoder(const EncoderOptions& opt) {
    auto e = std::make_unique<FfmpegFmp4Encoder>(opt);
    ITSCAM_RETURN_IF_ERROR(e->open());
    return std::unique_ptr<StreamEncoder>(std::move(e));
}

}  // namespace itscam::streaming
