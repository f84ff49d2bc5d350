// The per-camera encode thread of the stream hub: takes the latest frame, sends its detections to the event
// viewers, and (only while someone watches video) annotates it, asks the content controller for CRF / cap / ROI,
// encodes every watched rendition and queues the fragments for that rendition's viewers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include <nlohmann/json.hpp>

#include "pipeline/frame_host.h"
#include "streaming/camera_stream.h"
#include "streaming/stream_hub.h"

#ifdef ITSCAM_HAVE_OPENCV
#include "vision/draw.h"
#endif

namespace itscam::streaming {

using json = nlohmann::json;

namespace {

int64_t steady_us(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

json detection_event_json(const pipeline::DetectionRecord& r, const std::vector<std::string>& names) {
    // Cameras with analytics: track ids and speeds run parallel to the detections (sink.h); a record whose
    // vectors do not match is served without them rather than misattributed.
    const bool tracked = r.track_ids.size() == r.detections.size();
    const bool speeds = r.speeds_kmh.size() == r.detections.size();
    json dets = json::array();
    for (size_t i = 0; i < r.detections.size(); ++i) {
        const auto& d = r.detections[i];
        const std::string name = d.class_id >= 0 && static_cast<size_t>(d.class_id) < names.size()
                                     ? names[static_cast<size_t>(d.class_id)]
                                     : std::to_string(d.class_id);
        json o{{"class_id", d.class_id},
               {"name", name},
               {"score", std::round(d.score * 1000) / 1000},
               {"box",
                {std::round(d.x1 * 10) / 10, std::round(d.y1 * 10) / 10, std::round(d.x2 * 10) / 10,
                 std::round(d.y2 * 10) / 10}}};
        if (tracked && r.track_ids[i] > 0) o["track_id"] = r.track_ids[i];
        if (speeds && std::isfinite(r.speeds_kmh[i]))
            o["speed_kmh"] = std::round(static_cast<double>(r.speeds_kmh[i]) * 10) / 10;  // 47.3, not 47.2999992
        dets.push_back(std::move(o));
    }
    json j{{"camera", r.camera},
           {"frame", r.frame},
           {"pts", r.pts},
           {"wall_time_us", r.wall_time_us},
           {"width", r.width},
           {"height", r.height},
           {"latency_ms", r.latency_ms},
           {"detections", std::move(dets)}};
    if (!r.events.empty()) {
        json evs = json::array();
        for (const auto& e : r.events) evs.push_back(json::parse(analytics::event_json(e), nullptr, false));
        j["events"] = std::move(evs);
    }
    return j;
}

// Drops closed viewers; a rendition nobody has watched for idle_stop_s loses its encoder (a new viewer starts a
// fresh one). Caller holds c.mu.
void prune_viewers_locked(CameraStream& c, double idle_stop_s) {
    const double t = now_s();
    for (auto& r : c.rend) {
        r.viewers.erase(std::remove_if(r.viewers.begin(), r.viewers.end(),
                                       [](const std::weak_ptr<VideoViewer>& w) {
                                           auto v = w.lock();
                                           return !v || v->closed();
                                       }),
                        r.viewers.end());
        if (!r.viewers.empty())
            r.last_viewer_s = t;
        else if (r.enc && t - r.last_viewer_s > idle_stop_s)
            r.enc.reset();
    }
    c.events.erase(std::remove_if(c.events.begin(), c.events.end(),
                                  [](const std::weak_ptr<EventViewer>& w) {
                                      auto e = w.lock();
                                      return !e || e->closed();
                                  }),
                   c.events.end());
}

// The frame in the slot, if any (false: none, or out of order). Updates the measured rate. Caller holds c.mu.
bool take_frame_locked(CameraStream& c, video::Frame& frame, pipeline::DetectionRecord& rec) {
    if (!c.has_frame) return false;
    frame = std::move(c.frame);
    rec = std::move(c.rec);
    c.frame = video::Frame{};
    c.has_frame = false;
    if (c.last_pts >= 0 && frame.pts <= c.last_pts) {
        c.frames_out_of_order++;
        return false;
    }
    if (c.last_pts >= 0) {
        const double dt = frame.pts - c.last_pts;
        if (dt > 0 && dt < 2) c.fps = c.fps <= 0 ? 1 / dt : c.fps * 0.95 + 0.05 / dt;
    }
    c.last_pts = frame.pts;
    c.last_frame_w = frame.width;
    c.last_frame_h = frame.height;
    return true;
}

// The frame to encode: with annotation, boxes and labels drawn on a private copy (the pipeline's buffer stays
// untouched and goes back to its pool).
video::Frame annotated(CameraStream& c, const video::Frame& frame, const pipeline::DetectionRecord& rec,
                       bool annotate) {
    video::Frame work = frame;
#ifdef ITSCAM_HAVE_OPENCV
    if (annotate && frame.format == video::PixelFormat::kBGR24) {
        const size_t row = static_cast<size_t>(frame.width) * 3;
        c.scratch.resize(row * static_cast<size_t>(frame.height));
        for (int y = 0; y < frame.height; ++y)
            std::memcpy(c.scratch.data() + row * static_cast<size_t>(y),
                        frame.data.get() + frame.stride * static_cast<size_t>(y), row);
        cv::Mat m(frame.height, frame.width, CV_8UC3, c.scratch.data(), row);
        vision::draw_detections(m, rec.detections, c.names,
                                rec.track_ids.size() == rec.detections.size() ? &rec.track_ids : nullptr);
        work.data = std::shared_ptr<uint8_t>(std::shared_ptr<void>(), c.scratch.data());
        work.stride = row;
    }
#else
    (void)c;
    (void)rec;
    (void)annotate;
#endif
    return work;
}

// The controller's decision for this frame (motion from the luma thumbnail, detections, the last frame's size).
// `fps` is the camera's measured rate: the bandwidth budget is per second, not per 30 frames.
QualityDecision decide_quality(CameraStream& c, const video::Frame& frame, const pipeline::DetectionRecord& rec,
                               double fps) {
    int tw = 0, th = 0;
    std::vector<uint8_t> thumb = luma_thumbnail(frame, 8, tw, th);
    ContentSample cs;
    cs.motion = frame_motion(thumb, c.prev_thumb);
    c.prev_thumb = std::move(thumb);
    cs.thumb = &c.prev_thumb;  // this frame's (static-region map)
    cs.thumb_w = tw;
    cs.thumb_h = th;
    cs.thumb_step = 8;
    cs.width = frame.width;
    cs.height = frame.height;
    cs.detections = &rec.detections;
    int last_bytes = 0;
    for (auto& r : c.rend)
        if (r.enc && r.cfg.bitrate_kbps == 0) last_bytes = r.enc->stats().last_frame_bytes;
    cs.last_frame_bytes = last_bytes;
    cs.fps = fps;
    return c.content->decide(cs);
}

}  // namespace

void StreamHub::publish_event(CameraStream& c, const pipeline::DetectionRecord& rec) {
    std::vector<std::shared_ptr<EventViewer>> es;
    {
        std::lock_guard<std::mutex> lk(c.mu);
        for (auto& w : c.events)
            if (auto e = w.lock()) es.push_back(e);
    }
    if (es.empty()) return;
    auto ev = std::make_shared<const std::string>(
        detection_event_json(rec, c.names).dump(-1, ' ', false, json::error_handler_t::replace));
    for (auto& e : es) {
        {
            std::lock_guard<std::mutex> el(e->mu_);
            if (e->closed_) continue;
            if (e->queue_.size() >= e->max_queued_) {
                e->queue_.pop_front();
                e->dropped_++;
            }
            e->queue_.push_back(ev);
        }
        e->cv_.notify_one();
    }
}

void StreamHub::start_encoder(CameraStream& c, RenditionState& r, const video::Frame& frame, const QualityDecision& qd,
                              double fps) {
    const auto& sc = opt_.cfg;
    EncoderOptions eo;
    std::tie(eo.width, eo.height) = rendition_size(r.cfg, frame.width, frame.height);
    eo.fps = fps;
    eo.preset = sc.preset;
    eo.gop = sc.gop;
    eo.threads = sc.encoder_threads;
    eo.fragment_ms = r.cfg.fragment_ms;
    eo.frames_per_fragment = 1;
    if (r.cfg.bitrate_kbps > 0) {
        eo.rc = RateControl::kCbr;
        eo.bitrate_kbps = r.cfg.bitrate_kbps;
    } else if (sc.rate_control == "cbr") {
        eo.rc = RateControl::kCbr;
        eo.bitrate_kbps = sc.bitrate_kbps;
    } else {
        eo.rc = RateControl::kCrf;
        eo.crf = sc.crf;
        eo.max_bitrate_kbps =
            sc.max_bitrate_kbps > 0 ? sc.max_bitrate_kbps : (opt_.adaptive ? std::max(qd.cap_kbps, 0) : 0);
        // The controller's x264 tuning (SSIM-oriented AQ, deeper motion search) on the rendition it drives.
        if (opt_.adaptive) eo.x264_params = c.content->options().x264_params;
    }
    auto e = create_fmp4_encoder(eo);
    std::lock_guard<std::mutex> lk(c.mu);
    if (!e) {
        r.error = e.status().message();
        return;
    }
    r.enc = std::move(e).value();
    r.src_w = frame.width;
    r.src_h = frame.height;
    r.init = std::make_shared<const std::string>(r.enc->init_segment());
    r.codec = r.enc->codec_string();
    r.width = eo.width;
    r.height = eo.height;
    r.error.clear();
    // Every viewer of this rung needs the new init segment and a keyframe.
    for (auto& w : r.viewers)
        if (auto v = w.lock()) {
            std::lock_guard<std::mutex> vl(v->mu_);
            v->init_sent_for_ = -1;
            v->need_keyframe_ = true;
        }
}

void StreamHub::encode_loop(CameraStream& c) {
    const auto& sc = opt_.cfg;
    c.content = std::make_unique<ContentController>(content_options(opt_));
    std::vector<Fragment> frags;
    for (;;) {
        video::Frame frame;
        pipeline::DetectionRecord rec;
        {
            std::unique_lock<std::mutex> lk(c.mu);
            c.cv.wait_for(lk, std::chrono::milliseconds(500), [&] { return c.stop || c.has_frame; });
            if (c.stop) break;
            prune_viewers_locked(c, sc.idle_stop_s);
            if (!take_frame_locked(c, frame, rec)) continue;
        }

        // Detection events: for everyone watching the overlay, whether or not video is encoded.
        publish_event(c, rec);

        bool any = false;
        {
            std::lock_guard<std::mutex> lk(c.mu);
            for (auto& r : c.rend) any = any || !r.viewers.empty();
        }
        if (!any) continue;
        if (frame.on_device()) {
            // An NVDEC picture: copied down (and converted) only here, when someone watches.
            auto host = pipeline::host_bgr_frame(frame);
            if (!host) {
                std::lock_guard<std::mutex> lk(c.mu);
                c.frames_dropped++;
                continue;
            }
            frame = std::move(host).value();
        }

        const video::Frame work = annotated(c, frame, rec, sc.annotate);
        const double fps = c.fps > 0 ? c.fps : opt_.fps_hint;
        const QualityDecision qd = decide_quality(c, frame, rec, fps);
        const int64_t pts_us = static_cast<int64_t>(std::llround(frame.pts * 1e6));
        const int64_t cap_us = steady_us(frame.capture_time);

        for (size_t ri = 0; ri < c.rend.size(); ++ri) {
            RenditionState& r = c.rend[ri];
            bool watched = false, force = false;
            {
                std::lock_guard<std::mutex> lk(c.mu);
                watched = !r.viewers.empty();
                force = r.force_keyframe;
                r.force_keyframe = false;
            }
            if (!watched) continue;
            if (r.enc && (r.src_w != frame.width || r.src_h != frame.height)) r.enc.reset();  // format change
            if (!r.enc) start_encoder(c, r, frame, qd, fps);
            if (!r.enc) continue;
            FrameControl ctl;
            ctl.force_keyframe = force;
            if (r.cfg.bitrate_kbps == 0 && sc.rate_control == "crf" && opt_.adaptive) {
                ctl.crf = qd.crf;
                ctl.bitrate_kbps = qd.cap_kbps;
            }
            if (opt_.adaptive) {
                ctl.rois = scale_rois(qd.rois, frame.width, frame.height, r.width, r.height);
                ctl.key_rois = scale_rois(qd.key_rois, frame.width, frame.height, r.width, r.height);
            }
            frags.clear();
            const Status st = r.enc->encode(work, pts_us, cap_us, ctl, frags);
            const EncoderStats es = r.enc->stats();
            std::vector<std::shared_ptr<VideoViewer>> notify;
            {
                std::lock_guard<std::mutex> lk(c.mu);
                if (!st) {
                    r.error = st.message();
                    r.enc.reset();
                    continue;
                }
                r.frames++;
                r.crf = es.crf;
                r.qp = es.last_qp;
                r.cap_kbps = ctl.bitrate_kbps;
                const double a = 1.0 / std::max(1.0, 2.0 * fps);
                const double kbps = es.last_frame_bytes * 8.0 * fps / 1000.0;
                r.bitrate_kbps = r.bitrate_kbps <= 0 ? kbps : r.bitrate_kbps * (1 - a) + kbps * a;
                if (ri == 0) c.decision = qd;
                const size_t max_frags = static_cast<size_t>(sc.viewer_queue_fragments);
                const int64_t max_bytes = int64_t(sc.viewer_queue_kib) * 1024;
                for (auto& f : frags) {
                    r.bytes += static_cast<int64_t>(f.data.size());
                    r.fragments++;
                    for (int64_t cu : f.capture_us) c.latency.record(double(f.available_us - cu) / 1000.0);
                    auto bytes = std::make_shared<const std::string>(std::move(f.data));
                    for (auto& w : r.viewers) {
                        auto v = w.lock();
                        if (!v) continue;
                        bool skipped = false;
                        {
                            std::lock_guard<std::mutex> vl(v->mu_);
                            if (v->rendition_ != static_cast<int>(ri)) continue;
                            deliver(*v, static_cast<int>(ri), r.init, bytes, f.keyframe, max_frags, max_bytes, skipped);
                        }
                        notify.push_back(v);
                    }
                }
            }
            for (auto& v : notify) v->cv_.notify_one();
        }
        std::lock_guard<std::mutex> lk(c.mu);
        c.frames_encoded++;
    }
    // Thread ends: encoders go with it.
    for (auto& r : c.rend) r.enc.reset();
}

}  // namespace itscam::streaming
