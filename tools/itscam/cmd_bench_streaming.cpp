// itscam bench streaming: the live-video encoders compared on the same annotated frames of real clips.
//
//   decode -> detect (CPU YOLO, or none) -> draw boxes/labels -> the annotated frame (the quality reference)
//     encoded three ways (same preset, GOP, zerolatency, fMP4 packaging):
//       baseline   fixed 4000 kbps CBR (the seed's)
//       crf-peer   plain x264 CRF, the CRF searched so that its whole-frame SSIM matches the adaptive stream's
//       adaptive   our ContentController: CRF from motion + detection density + bandwidth budget, ROI map
//   quality: SSIM (8x8 windows on a 4-pixel grid, as FFmpeg's ssim filter and x264 compute it) and PSNR on the luma
//   plane, computed here against the annotated frame's luma before encoding (the encoder's own colour conversion),
//   over whole frames and over the vehicle detections' boxes; bitrate from the fMP4 bytes; latency: capture
//   (decode done) -> detections -> annotate -> controller -> encode -> fragment available, sequentially per frame.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "commands.h"
#include "runtime/detector.h"
#include "streaming/adaptive_quality.h"
#include "streaming/encoder.h"
#include "video/video_reader.h"
#include "vision/draw.h"

namespace itscam::cli {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct StreamBenchArgs {
    std::vector<std::string> clips = {"../shared/data/videos/highway_overpass_trucks_720p.mp4",
                                      "../shared/data/videos/intersection_cctv_480p.mp4",
                                      "../shared/data/videos/urban_road_cctv_360p.mp4"};
    std::string model = "../shared/models/yolo11n.onnx";
    std::string detections = "cpu";  // cpu | none
    int frames = 300;                // per clip (0: all)
    std::string preset = "veryfast";
    int gop = 60;
    int baseline_kbps = 4000;
    double base_crf = 23;
    double target_reduction = 0.25;
    int threads = 0;
    std::string json_out;
    std::string x264_params = "default";   // the adaptive encoder's x264 tuning ("default": the controller's)
    std::vector<std::string> set;          // controller overrides key=value (experiments)
};

// The adaptive controller's options as the bench uses them (both the live pass and the measured pass).
Result<streaming::ContentControllerOptions> controller_options(const StreamBenchArgs& a, double fps) {
    streaming::ContentControllerOptions co;
    co.base_crf = a.base_crf;
    co.baseline_kbps = a.baseline_kbps;
    co.target_reduction = a.target_reduction;
    co.fps = fps;
    if (a.x264_params != "default") co.x264_params = a.x264_params;
    for (const auto& kv : a.set) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos) return invalid_argument("--set wants key=value, got " + kv);
        const std::string k = kv.substr(0, eq);
        const double v = std::atof(kv.c_str() + eq + 1);
        if (k == "object_qoffset") co.object_qoffset = float(v);
        else if (k == "background_qoffset") co.background_qoffset = float(v);
        else if (k == "quiet_crf_bonus") co.quiet_crf_bonus = v;
        else if (k == "busy_crf_bonus") co.busy_crf_bonus = v;
        else if (k == "cap_headroom") co.cap_headroom = v;
        else if (k == "roi_margin") co.roi_margin = int(v);
        else if (k == "roi_min_area") co.roi_min_area = v;
        else if (k == "roi") co.roi = v != 0;
        else if (k == "tile_px") co.tile_px = int(v);
        else if (k == "tile_motion") co.tile_motion = v;
        else if (k == "static_frames") co.static_frames = int(v);
        else if (k == "static_qoffset") co.static_qoffset = float(v);
        else if (k == "static_key_qoffset") co.static_key_qoffset = float(v);
        else if (k == "min_crf") co.min_crf = v;
        else return invalid_argument("--set: unknown key " + k);
    }
    return co;
}

// SSIM over 8x8 windows on a 4-pixel grid (x264/FFmpeg style) and squared error, whole frame and inside boxes.
struct Quality {
    double ssim_sum = 0, ssim_n = 0, roi_ssim_sum = 0, roi_ssim_n = 0;
    double se = 0, n = 0, roi_se = 0, roi_n = 0;
};

void measure(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int w, int h,
             const std::vector<uint8_t>& mask, Quality& q) {
    constexpr double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    for (int y = 0; y + 8 <= h; y += 4) {
        for (int x = 0; x + 8 <= w; x += 4) {
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
            for (int j = 0; j < 8; ++j) {
                const uint8_t* pa = a.data() + size_t(y + j) * w + x;
                const uint8_t* pb = b.data() + size_t(y + j) * w + x;
                for (int i = 0; i < 8; ++i) {
                    const double va = pa[i], vb = pb[i];
                    sa += va;
                    sb += vb;
                    saa += va * va;
                    sbb += vb * vb;
                    sab += va * vb;
                }
            }
            const double n = 64, ma = sa / n, mb = sb / n;
            const double va = saa / n - ma * ma, vb = sbb / n - mb * mb, cov = sab / n - ma * mb;
            const double s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            q.ssim_sum += s;
            q.ssim_n += 1;
            if (mask[size_t(y + 4) * w + x + 4]) {
                q.roi_ssim_sum += s;
                q.roi_ssim_n += 1;
            }
        }
    }
    for (size_t i = 0; i < a.size(); ++i) {
        const double d = double(a[i]) - double(b[i]);
        q.se += d * d;
        q.n += 1;
        if (mask[i]) {
            q.roi_se += d * d;
            q.roi_n += 1;
        }
    }
}

double psnr(double se, double n) { return n > 0 && se > 0 ? 10 * std::log10(255.0 * 255.0 / (se / n)) : 99; }

struct Clip {
    std::string path;
    int width = 0, height = 0;
    double fps = 25;
    std::vector<video::Frame> annotated;  // BGR, owned copies
    std::vector<std::vector<vision::Detection>> dets;
    std::vector<std::vector<uint8_t>> masks;  // vehicle boxes, per pixel
    std::vector<double> motion;
    std::vector<std::vector<uint8_t>> thumbs;  // luma thumbnails (step 8) of the source frames
    int thumb_w = 0, thumb_h = 0;
};

struct PassResult {
    std::string name;
    double kbps = 0, ssim = 0, roi_ssim = 0, psnr_db = 0, roi_psnr_db = 0, crf = 0, mean_crf = 0;
    std::vector<double> latency_ms;
};

bool is_vehicle(int c) { return c == 2 || c == 3 || c == 5 || c == 7; }

enum class Mode { kCbr, kCrf, kAdaptive };

Result<PassResult> encode_pass(const Clip& clip, const StreamBenchArgs& a, Mode mode, double crf) {
    streaming::EncoderOptions eo;
    eo.width = clip.width & ~1;
    eo.height = clip.height & ~1;
    eo.fps = clip.fps;
    eo.preset = a.preset;
    eo.gop = a.gop;
    eo.threads = 1;
    eo.keep_recon = true;
    ITSCAM_ASSIGN_OR_RETURN(streaming::ContentControllerOptions co, controller_options(a, clip.fps));
    streaming::ContentController ctl(co);
    if (mode == Mode::kCbr) {
        eo.rc = streaming::RateControl::kCbr;
        eo.bitrate_kbps = a.baseline_kbps;
    } else {
        eo.rc = streaming::RateControl::kCrf;
        eo.crf = mode == Mode::kCrf ? crf : a.base_crf;
        if (mode == Mode::kAdaptive) {
            eo.max_bitrate_kbps = int(std::lround(a.baseline_kbps * (1 - a.target_reduction) * co.cap_headroom));
            eo.x264_params = co.x264_params;
        }
    }
    ITSCAM_ASSIGN_OR_RETURN(auto enc, streaming::create_fmp4_encoder(eo));
    Quality q;
    int64_t bytes = 0;
    double crf_sum = 0;
    std::vector<streaming::Fragment> frags;
    PassResult r;
    for (size_t i = 0; i < clip.annotated.size(); ++i) {
        const auto t0 = Clock::now();
        streaming::FrameControl fc;
        if (mode == Mode::kAdaptive) {
            streaming::ContentSample cs{clip.motion[i], clip.width, clip.height, &clip.dets[i],
                                    enc->stats().last_frame_bytes};
            cs.thumb = &clip.thumbs[i];
            cs.thumb_w = clip.thumb_w;
            cs.thumb_h = clip.thumb_h;
            const streaming::QualityDecision d = ctl.decide(cs);
            fc.crf = d.crf;
            fc.bitrate_kbps = d.cap_kbps;
            fc.rois = d.rois;
            fc.key_rois = d.key_rois;
            crf_sum += d.crf;
        }
        frags.clear();
        const int64_t pts = int64_t(std::llround(i * 1e6 / clip.fps));
        ITSCAM_RETURN_IF_ERROR(enc->encode(clip.annotated[i], pts, 0, fc, frags));
        r.latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        for (const auto& f : frags) bytes += int64_t(f.data.size());
        measure(enc->source_luma(), enc->recon_luma(), eo.width, eo.height, clip.masks[i], q);
    }
    frags.clear();
    ITSCAM_RETURN_IF_ERROR(enc->flush(frags));
    for (const auto& f : frags) bytes += int64_t(f.data.size());
    const double secs = clip.annotated.size() / clip.fps;
    r.kbps = bytes * 8.0 / secs / 1000.0;
    r.ssim = q.ssim_sum / std::max(1.0, q.ssim_n);
    r.roi_ssim = q.roi_ssim_n > 0 ? q.roi_ssim_sum / q.roi_ssim_n : 0;
    r.psnr_db = psnr(q.se, q.n);
    r.roi_psnr_db = psnr(q.roi_se, q.roi_n);
    r.crf = crf;
    r.mean_crf = mode == Mode::kAdaptive ? crf_sum / std::max<size_t>(1, clip.annotated.size()) : crf;
    return r;
}

double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t k = std::min(v.size() - 1, size_t(std::ceil(p / 100.0 * v.size())) - (p > 0 ? 1 : 0));
    return v[k];
}

json pass_json(const PassResult& r) {
    return json{{"name", r.name},         {"kbps", r.kbps},         {"ssim", r.ssim},
                {"vehicle_ssim", r.roi_ssim}, {"psnr_db", r.psnr_db}, {"vehicle_psnr_db", r.roi_psnr_db},
                {"crf", r.mean_crf}};
}

int run_bench_streaming(const StreamBenchArgs& a) {
    std::unique_ptr<Detector> det;
    if (a.detections == "cpu") {
        DetectorOptions o;
        o.engine.device = "cpu";
        o.engine.threads = a.threads;
        auto d = Detector::create(a.model, o);
        if (!d) return fail("detector: " + d.status().to_string(), exit_code_for(d.status()));
        det = std::move(d).value();
    } else if (a.detections != "none") {
        return fail("--detections must be cpu or none", 2);
    }
    json out = json::array();
    std::printf("%-38s %-9s %9s %8s %8s %8s %8s %6s\n", "clip", "encoder", "kbps", "SSIM", "veh.SSIM", "PSNR",
                "veh.PSNR", "CRF");
    for (const auto& path : a.clips) {
        video::ReaderOptions ro;
        ro.decode_threads = 1;
        auto rd = video::make_reader(path, ro);
        if (!rd) return fail(path + ": " + rd.status().to_string(), exit_code_for(rd.status()));
        if (Status st = (*rd)->open(); !st) return fail(path + ": " + st.to_string(), exit_code_for(st));
        Clip clip;
        clip.path = path;
        clip.fps = (*rd)->info().fps > 0 ? (*rd)->info().fps : 25;
        std::vector<double> e2e_ms, stream_ms;
        std::vector<uint8_t> prev_thumb;
        // Pass 0: decode, detect, annotate, and the adaptive encoder in line (latency as a camera would see it).
        streaming::EncoderOptions leo;
        std::unique_ptr<streaming::StreamEncoder> live;
        auto lco_r = controller_options(a, clip.fps);
        if (!lco_r) return fail(lco_r.status().to_string(), 2);
        streaming::ContentControllerOptions lco = *lco_r;
        streaming::ContentController live_ctl(lco);
        std::vector<streaming::Fragment> frags;
        for (int i = 0; a.frames <= 0 || i < a.frames; ++i) {
            video::Frame f;
            auto got = (*rd)->read(f);
            if (!got) return fail(path + ": " + got.status().to_string());
            if (!*got) break;
            const auto captured = Clock::now();  // decode done
            std::vector<vision::Detection> d;
            if (det) {
                ImageView v{f.data.get(), f.width, f.height, f.stride};
                auto r = det->detect({v});
                if (!r) return fail("detect: " + r.status().to_string());
                d = std::move((*r)[0]);
            }
            const auto t_stream = Clock::now();
            video::Frame ann;
            ann.width = f.width;
            ann.height = f.height;
            ann.stride = size_t(f.width) * 3;
            ann.data = std::shared_ptr<uint8_t>(new uint8_t[ann.stride * f.height], std::default_delete<uint8_t[]>());
            for (int y = 0; y < f.height; ++y)
                std::memcpy(ann.data.get() + ann.stride * y, f.data.get() + f.stride * y, ann.stride);
            cv::Mat m(f.height, f.width, CV_8UC3, ann.data.get(), ann.stride);
            vision::draw_detections(m, d, det ? det->class_names() : std::vector<std::string>{});
            int tw = 0, th = 0;
            auto thumb = streaming::luma_thumbnail(f, 8, tw, th);
            const double motion = streaming::frame_motion(thumb, prev_thumb);
            prev_thumb = thumb;
            if (!live) {
                clip.width = f.width;
                clip.height = f.height;
                leo.width = f.width & ~1;
                leo.height = f.height & ~1;
                leo.fps = clip.fps;
                leo.preset = a.preset;
                leo.gop = a.gop;
                leo.threads = 1;
                leo.max_bitrate_kbps = int(std::lround(a.baseline_kbps * (1 - a.target_reduction) * lco.cap_headroom));
                leo.x264_params = lco.x264_params;
                auto e = streaming::create_fmp4_encoder(leo);
                if (!e) return fail(e.status().to_string());
                live = std::move(e).value();
            }
            streaming::ContentSample lcs{motion, f.width, f.height, &d, live->stats().last_frame_bytes};
            lcs.thumb = &prev_thumb;
            lcs.thumb_w = tw;
            lcs.thumb_h = th;
            const streaming::QualityDecision qd = live_ctl.decide(lcs);
            streaming::FrameControl fc;
            fc.crf = qd.crf;
            fc.bitrate_kbps = qd.cap_kbps;
            fc.rois = qd.rois;
            fc.key_rois = qd.key_rois;
            frags.clear();
            if (Status st = live->encode(ann, int64_t(std::llround(i * 1e6 / clip.fps)), 0, fc, frags); !st)
                return fail(st.to_string());
            const auto avail = Clock::now();  // one frame per fragment: available now
            e2e_ms.push_back(std::chrono::duration<double, std::milli>(avail - captured).count());
            stream_ms.push_back(std::chrono::duration<double, std::milli>(avail - t_stream).count());

            std::vector<uint8_t> mask(size_t(f.width) * f.height, 0);
            for (const auto& b : d) {
                if (!is_vehicle(b.class_id)) continue;
                const int x1 = std::clamp(int(b.x1), 0, f.width), x2 = std::clamp(int(std::ceil(b.x2)), 0, f.width);
                const int y1 = std::clamp(int(b.y1), 0, f.height), y2 = std::clamp(int(std::ceil(b.y2)), 0, f.height);
                for (int y = y1; y < y2; ++y) std::memset(mask.data() + size_t(y) * f.width + x1, 1, size_t(x2 - x1));
            }
            clip.annotated.push_back(std::move(ann));
            clip.dets.push_back(std::move(d));
            clip.masks.push_back(std::move(mask));
            clip.motion.push_back(motion);
            clip.thumbs.push_back(prev_thumb);
            clip.thumb_w = tw;
            clip.thumb_h = th;
        }
        if (clip.annotated.empty()) return fail(path + ": no frames");
        std::fprintf(stderr, "itscam: %s: %zu frames %dx%d @ %.2f fps; encoding...\n", path.c_str(),
                     clip.annotated.size(), clip.width, clip.height, clip.fps);

        auto base = encode_pass(clip, a, Mode::kCbr, 0);
        if (!base) return fail(base.status().to_string());
        base->name = "cbr4000";
        auto adapt = encode_pass(clip, a, Mode::kAdaptive, 0);
        if (!adapt) return fail(adapt.status().to_string());
        adapt->name = "adaptive";
        // The peer: the CRF (quarter steps) whose whole-frame SSIM is closest to the adaptive stream's, from above.
        double lo = 10, hi = 40;
        PassResult peer;
        bool have = false;
        for (int it = 0; it < 7; ++it) {
            const double c = std::round((lo + hi) / 2 * 4) / 4;
            auto p = encode_pass(clip, a, Mode::kCrf, c);
            if (!p) return fail(p.status().to_string());
            if (p->ssim >= adapt->ssim) {
                peer = *p;
                have = true;
                lo = c;
            } else {
                hi = c;
            }
            if (hi - lo <= 0.25) break;
        }
        if (!have) {
            auto p = encode_pass(clip, a, Mode::kCrf, lo);
            if (!p) return fail(p.status().to_string());
            peer = *p;
        }
        peer.name = "crf-peer";
        auto crf23 = encode_pass(clip, a, Mode::kCrf, a.base_crf);
        if (!crf23) return fail(crf23.status().to_string());
        crf23->name = "crf" + std::to_string(int(a.base_crf));

        std::string shown = path.substr(path.find_last_of('/') + 1);
        for (const PassResult* r : {&*base, &peer, &*crf23, &*adapt})
            std::printf("%-38s %-9s %9.0f %8.4f %8.4f %8.2f %8.2f %6.2f\n", shown.c_str(), r->name.c_str(), r->kbps,
                        r->ssim, r->roi_ssim, r->psnr_db, r->roi_psnr_db, r->mean_crf);
        const double vs_base = 1 - adapt->kbps / base->kbps, vs_peer = 1 - adapt->kbps / peer.kbps;
        std::printf("%-38s adaptive vs cbr4000: %.1f%% fewer bits, SSIM %+.4f, vehicle SSIM %+.4f | vs crf-peer: "
                    "%.1f%% fewer bits, vehicle SSIM %+.4f\n",
                    shown.c_str(), 100 * vs_base, adapt->ssim - base->ssim, adapt->roi_ssim - base->roi_ssim,
                    100 * vs_peer, adapt->roi_ssim - peer.roi_ssim);
        std::printf("%-38s latency capture->fragment (decode done -> %s -> annotate -> encode -> fMP4): p50 %.1f ms, "
                    "p99 %.1f ms; streaming stage alone p50 %.1f ms, p99 %.1f ms\n",
                    shown.c_str(), det ? "CPU YOLO11n" : "no detector", pct(e2e_ms, 50), pct(e2e_ms, 99),
                    pct(stream_ms, 50), pct(stream_ms, 99));
        std::fflush(stdout);
        out.push_back({{"clip", path},
                       {"frames", clip.annotated.size()},
                       {"width", clip.width},
                       {"height", clip.height},
                       {"fps", clip.fps},
                       {"detections", a.detections},
                       {"preset", a.preset},
                       {"gop", a.gop},
                       {"encoders", {pass_json(*base), pass_json(peer), pass_json(*crf23), pass_json(*adapt)}},
                       {"adaptive_vs_baseline", {{"bit_reduction", vs_base},
                                                 {"ssim_delta", adapt->ssim - base->ssim},
                                                 {"vehicle_ssim_delta", adapt->roi_ssim - base->roi_ssim}}},
                       {"adaptive_vs_peer", {{"bit_reduction", vs_peer},
                                             {"ssim_delta", adapt->ssim - peer.ssim},
                                             {"vehicle_ssim_delta", adapt->roi_ssim - peer.roi_ssim}}},
                       {"latency_ms", {{"capture_to_fragment_p50", pct(e2e_ms, 50)},
                                       {"capture_to_fragment_p99", pct(e2e_ms, 99)},
                                       {"stream_stage_p50", pct(stream_ms, 50)},
                                       {"stream_stage_p99", pct(stream_ms, 99)}}}});
    }
    if (!a.json_out.empty()) {
        std::ofstream f(a.json_out);
        f << out.dump(2) << "\n";
        if (!f) return fail("cannot write " + a.json_out);
    }
    return 0;
}

}  // namespace

RunFn add_bench_streaming_command(CLI::App& app) {
    auto a = std::make_shared<StreamBenchArgs>();
    app.add_option("clips", a->clips, "Video files (default: the three shared clips)");
    app.add_option("--model", a->model, "Detector model (ONNX or plan)")->capture_default_str();
    app.add_option("--detections", a->detections, "cpu (YOLO on the CPU) | none")->capture_default_str();
    app.add_option("--frames", a->frames, "Frames per clip (0: all)")->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--preset", a->preset, "x264 preset (all encoders)")->capture_default_str();
    app.add_option("--gop", a->gop, "Keyframe interval in frames (all encoders)")->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("--baseline-kbps", a->baseline_kbps, "The fixed-bitrate baseline")->capture_default_str();
    app.add_option("--crf", a->base_crf, "The adaptive controller's base CRF")->capture_default_str();
    app.add_option("--target-reduction", a->target_reduction, "TARGET_BANDWIDTH_REDUCTION")->capture_default_str();
    app.add_option("--threads", a->threads, "Detector threads (0: all cores)")->check(CLI::NonNegativeNumber);
    app.add_option("--json", a->json_out, "Write results as JSON");
    app.add_option("--x264-params", a->x264_params,
                   "The adaptive encoder's extra x264 params (default: the controller's tuning; \"\" for none)");
    app.add_option("--set", a->set, "Controller option overrides key=value (experiments)");
    return [a] { return run_bench_streaming(*a); };
}

}  // namespace itscam::cli
