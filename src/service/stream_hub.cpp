#include "service/stream_hub.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "pipeline/latency.h"

#ifdef ITSCAM_HAVE_OPENCV
#include "vision/draw.h"
#endif

namespace itscam::service {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

int64_t steady_us(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

std::string mime_for(const std::string& codec) { return "video/mp4; codecs=\"" + codec + "\""; }

std::string prom_escape(const std::string& s) {
    std::string o;
    for (char ch : s) {
        if (ch == '\\' || ch == '"') o += '\\';
        if (ch == '\n') {
            o += "\\n";
            continue;
        }
        o += ch;
    }
    return o;
}

}  // namespace

StreamHubOptions StreamHubOptions::from_config(const config::Config& c) {
    StreamHubOptions o;
    o.cfg = c.streaming;
    o.adaptive = c.settings.ENABLE_ADAPTIVE_QUALITY;
    o.target_reduction = c.settings.TARGET_BANDWIDTH_REDUCTION;
    o.network_aware = c.settings.ENABLE_NETWORK_AWARE_STREAMING;
    return o;
}

// One rendition of one camera: its encoder (encode thread only) and its viewers (under CameraStream::mu).
struct RenditionState {
    config::RenditionConfig cfg;
    std::unique_ptr<video::StreamEncoder> enc;  // encode thread only
    int src_w = 0, src_h = 0;                   // input size the encoder was made for
    // Under CameraStream::mu:
    std::shared_ptr<const std::string> init;
    std::string codec;
    int width = 0, height = 0;
    std::vector<std::weak_ptr<VideoViewer>> viewers;
    bool force_keyframe = false;
    double last_viewer_s = 0;
    int64_t bytes = 0, frames = 0, fragments = 0;
    double bitrate_kbps = 0;  // EWMA of the encoded rate
    double crf = 0, qp = 0;
    int cap_kbps = 0;
    std::string error;
};

struct CameraStream {
    std::string id;
    mutable std::mutex mu;
    std::condition_variable cv;
    // latest-frame slot
    bool has_frame = false;
    video::Frame frame;
    pipeline::DetectionRecord rec;
    std::vector<std::string> names;
    const std::vector<std::string>* names_src = nullptr;
    bool stop = false;
    int64_t frames_in = 0, frames_dropped = 0, frames_encoded = 0, frames_out_of_order = 0;
    double last_pts = -1;
    double fps = 0;  // measured from pts
    std::vector<RenditionState> rend;
    std::vector<std::weak_ptr<EventViewer>> events;
    video::QualityDecision decision;
    int last_frame_w = 0, last_frame_h = 0;
    pipeline::LatencyRecorder latency{4096, 60.0};  // capture -> fragment available
    std::thread th;

    // encode thread only
    std::vector<uint8_t> prev_thumb;
    std::vector<uint8_t> scratch;
    std::unique_ptr<video::ContentController> content;
};

// ---------------------------------------------------------------- viewers

VideoViewer::~VideoViewer() { close(); }

std::shared_ptr<const std::string> VideoViewer::next(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return closed_ || !queue_.empty(); });
    if (closed_ || queue_.empty()) return nullptr;
    auto b = std::move(queue_.front());
    queue_.pop_front();
    queue_is_key_.pop_front();
    queued_bytes_ -= static_cast<int64_t>(b->size());
    return b;
}

void VideoViewer::written(size_t n, double seconds) {
    int switch_to = -1;
    int64_t skips = 0;
    {
        std::lock_guard<std::mutex> lk(mu_);
        stats_.bytes += static_cast<int64_t>(n);
        stats_.fragments++;
        skips = stats_.skips;
    }
    if (!net_ || !hub_) return;
    const double t = now_s();
    net_->on_write(t, n, seconds);
    if (skips > skips_seen_) {  // the encode thread skipped fragments for us since the last write
        skips_seen_ = skips;
        net_->on_skip(t);
    }
    std::vector<video::Rung> rungs;
    {
        std::lock_guard<std::mutex> lk(cam_->mu);
        for (const auto& r : cam_->rend) {
            // The rung's real rate when it runs, else its configured cap (or the top rung's guess).
            double kbps = r.bitrate_kbps > 0 ? r.bitrate_kbps : r.cfg.bitrate_kbps;
            if (kbps <= 0) kbps = hub_->opt_.cfg.bitrate_kbps * (1.0 - hub_->opt_.target_reduction);
            rungs.push_back({r.cfg.name, kbps, r.cfg.fragment_ms});
        }
    }
    const video::NetworkDecision d = net_->decide(t, rungs);
    {
        std::lock_guard<std::mutex> lk(mu_);
        stats_.throughput_kbps = d.throughput_kbps;
        stats_.fragment_ms = d.fragment_ms;
        if (d.rung != rendition_) switch_to = d.rung;
    }
    if (switch_to >= 0) hub_->switch_rendition(*this, switch_to);
}

void VideoViewer::close() {
    bool was_open = false;
    {
        std::lock_guard<std::mutex> lk(mu_);
        was_open = !closed_;
        closed_ = true;
        queue_.clear();
        queue_is_key_.clear();
        queued_bytes_ = 0;
    }
    cv_.notify_all();
    if (was_open && hub_) hub_->release_slot();
}

bool VideoViewer::closed() const {
    std::lock_guard<std::mutex> lk(mu_);
    return closed_;
}

VideoViewer::Stats VideoViewer::stats() const {
    std::lock_guard<std::mutex> lk(mu_);
    Stats s = stats_;
    s.queued_fragments = static_cast<int64_t>(queue_.size());
    s.queued_bytes = queued_bytes_;
    s.rendition = rendition_;
    s.auto_rendition = auto_rendition_;
    return s;
}

EventViewer::~EventViewer() { close(); }

std::shared_ptr<const std::string> EventViewer::next(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return closed_ || !queue_.empty(); });
    if (closed_ || queue_.empty()) return nullptr;
    auto e = std::move(queue_.front());
    queue_.pop_front();
    return e;
}

void EventViewer::close() {
    bool was_open = false;
    {
        std::lock_guard<std::mutex> lk(mu_);
        was_open = !closed_;
        closed_ = true;
        queue_.clear();
    }
    cv_.notify_all();
    if (was_open && hub_) hub_->release_slot();
}

bool EventViewer::closed() const {
    std::lock_guard<std::mutex> lk(mu_);
    return closed_;
}

int64_t EventViewer::dropped() const {
    std::lock_guard<std::mutex> lk(mu_);
    return dropped_;
}

namespace {

// Queues a fragment for a viewer subscribed to rendition `ri` (caller holds the camera's lock). A viewer that
// needs a keyframe skips non-key fragments; one whose queue is full skips to the latest keyframe fragment it holds,
// or drops everything and waits for the next keyframe.
}  // namespace

void StreamHub::deliver(VideoViewer& v, int ri, const std::shared_ptr<const std::string>& init,
                        const std::shared_ptr<const std::string>& bytes, bool key, size_t max_frags,
                        int64_t max_bytes, bool& skipped) {
    skipped = false;
    if (v.closed_) return;
    if (v.need_keyframe_) {
        if (!key) return;
        v.need_keyframe_ = false;
    }
    if (v.init_sent_for_ != ri && init) {
        v.queue_.push_back(init);
        v.queue_is_key_.push_back(false);
        v.queued_bytes_ += static_cast<int64_t>(init->size());
        v.init_sent_for_ = ri;
    }
    const auto over = [&] {
        return v.queue_.size() + 1 > max_frags || v.queued_bytes_ + static_cast<int64_t>(bytes->size()) > max_bytes;
    };
    if (over()) {
        skipped = true;
        v.stats_.skips++;
        // Keep the init segment if it is still queued (the viewer has not got it yet).
        std::shared_ptr<const std::string> pending_init;
        if (!v.queue_.empty() && v.queue_.front() == init && v.init_sent_for_ == ri) pending_init = v.queue_.front();
        if (key) {
            v.stats_.dropped_fragments += static_cast<int64_t>(v.queue_.size()) - (pending_init ? 1 : 0);
            v.queue_.clear();
            v.queue_is_key_.clear();
            v.queued_bytes_ = 0;
        } else {
            // The latest keyframe fragment already queued, if any, becomes the head.
            size_t last_key = v.queue_.size();
            for (size_t i = v.queue_.size(); i-- > 0;)
                if (v.queue_is_key_[i]) {
                    last_key = i;
                    break;
                }
            if (last_key > 0 && last_key < v.queue_.size()) {
                for (size_t i = 0; i < last_key; ++i) {
                    v.queued_bytes_ -= static_cast<int64_t>(v.queue_.front()->size());
                    v.queue_.pop_front();
                    v.queue_is_key_.pop_front();
                    v.stats_.dropped_fragments++;
                }
            }
            if (last_key == v.queue_.size() || over()) {
                v.stats_.dropped_fragments += static_cast<int64_t>(v.queue_.size()) + 1;
                v.queue_.clear();
                v.queue_is_key_.clear();
                v.queued_bytes_ = 0;
                v.need_keyframe_ = true;
                if (pending_init) v.init_sent_for_ = -1;
                return;
            }
        }
        if (pending_init) {
            v.queue_.push_front(pending_init);
            v.queue_is_key_.push_front(false);
            v.queued_bytes_ += static_cast<int64_t>(pending_init->size());
        }
    }
    v.queue_.push_back(bytes);
    v.queue_is_key_.push_back(key);
    v.queued_bytes_ += static_cast<int64_t>(bytes->size());
    v.stats_.max_queued_bytes = std::max(v.stats_.max_queued_bytes, v.queued_bytes_);
}

// ---------------------------------------------------------------- hub

StreamHub::StreamHub(StreamHubOptions opt) : opt_(std::move(opt)) {
    ladder_ = opt_.cfg.renditions.empty() ? config::default_renditions() : opt_.cfg.renditions;
    opt_.network.enabled = opt_.network_aware;
}

StreamHub::~StreamHub() {
    close_all();
    std::map<std::string, std::shared_ptr<CameraStream>> cams;
    {
        std::lock_guard<std::mutex> lk(mu_);
        cams.swap(cams_);
    }
    for (auto& [id, c] : cams) {
        {
            std::lock_guard<std::mutex> lk(c->mu);
            c->stop = true;
        }
        c->cv.notify_all();
        if (c->th.joinable()) c->th.join();
    }
}

std::shared_ptr<CameraStream> StreamHub::find(const std::string& id) const {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = cams_.find(id);
    return it == cams_.end() ? nullptr : it->second;
}

bool StreamHub::has_camera(const std::string& id) const { return find(id) != nullptr; }

std::shared_ptr<CameraStream> StreamHub::get_or_create(const std::string& id) {
    if (std::shared_ptr<CameraStream> c = find(id)) return c;
    std::lock_guard<std::mutex> lk(mu_);
    if (closing_) return nullptr;
    auto& slot = cams_[id];
    if (!slot) {
        slot = std::make_shared<CameraStream>();
        slot->id = id;
        slot->rend.resize(ladder_.size());
        for (size_t i = 0; i < ladder_.size(); ++i) slot->rend[i].cfg = ladder_[i];
        CameraStream* raw = slot.get();
        slot->th = std::thread([this, raw] { encode_loop(*raw); });
    }
    return slot;
}

void StreamHub::add_camera(const std::string& id) {
    if (opt_.cfg.enabled) (void)get_or_create(id);
}

void StreamHub::push(const video::Frame& frame, const pipeline::DetectionRecord& rec) {
    if (!opt_.cfg.enabled || closing_ || frame.empty()) return;
    std::shared_ptr<CameraStream> c = get_or_create(rec.camera);
    if (!c) return;
    {
        std::lock_guard<std::mutex> lk(c->mu);
        if (c->has_frame) c->frames_dropped++;
        c->frame = frame;  // shares the pixels (pooled buffer): no copy here
        c->rec = rec;
        if (rec.class_names && rec.class_names != c->names_src) {
            c->names = *rec.class_names;
            c->names_src = rec.class_names;
        }
        c->rec.class_names = nullptr;
        c->has_frame = true;
        c->frames_in++;
    }
    c->cv.notify_one();
}

void StreamHub::remove_camera(const std::string& id) {
    std::shared_ptr<CameraStream> c;
    {
        std::lock_guard<std::mutex> lk(mu_);
        auto it = cams_.find(id);
        if (it == cams_.end()) return;
        c = it->second;
        cams_.erase(it);
    }
    std::vector<std::shared_ptr<VideoViewer>> vs;
    std::vector<std::shared_ptr<EventViewer>> es;
    {
        std::lock_guard<std::mutex> lk(c->mu);
        c->stop = true;
        for (auto& r : c->rend)
            for (auto& w : r.viewers)
                if (auto v = w.lock()) vs.push_back(v);
        for (auto& w : c->events)
            if (auto e = w.lock()) es.push_back(e);
    }
    c->cv.notify_all();
    for (auto& v : vs) v->close();
    for (auto& e : es) e->close();
    if (c->th.joinable()) c->th.join();
}

bool StreamHub::acquire_slot() {
    if (closing_) return false;
    int cur = connections_.load();
    while (cur < opt_.cfg.max_viewers) {
        if (connections_.compare_exchange_weak(cur, cur + 1)) return true;
    }
    rejected_++;
    return false;
}

void StreamHub::release_slot() { connections_--; }

Result<std::shared_ptr<VideoViewer>> StreamHub::open_video(const std::string& camera, const std::string& rendition) {
    if (!opt_.cfg.enabled) return unavailable("streaming is disabled (streaming.enabled: false)");
    int ri = 0;
    bool automatic = rendition.empty() || rendition == "auto";
    if (!automatic) {
        ri = -1;
        for (size_t i = 0; i < ladder_.size(); ++i)
            if (ladder_[i].name == rendition) ri = static_cast<int>(i);
        if (ri < 0) {
            std::string names;
            for (const auto& r : ladder_) names += (names.empty() ? "" : ", ") + r.name;
            return invalid_argument("unknown rendition '" + rendition + "' (have: auto, " + names + ")");
        }
    }
    std::shared_ptr<CameraStream> c = find(camera);
    if (!c) return not_found("camera '" + camera + "' has no stream (unknown camera, or no frame processed yet)");
    if (!acquire_slot())
        return unavailable("too many streaming viewers (streaming.max_viewers = " +
                           std::to_string(opt_.cfg.max_viewers) + ")");
    std::shared_ptr<VideoViewer> v(new VideoViewer());
    v->hub_ = this;
    v->cam_ = c;
    v->id_ = next_viewer_id_++;
    v->camera_ = camera;
    v->auto_rendition_ = automatic;
    v->rendition_ = ri;
    if (automatic) v->net_ = std::make_unique<video::NetworkController>(opt_.network, ri);
    {
        std::lock_guard<std::mutex> lk(c->mu);
        RenditionState& r = c->rend[static_cast<size_t>(ri)];
        r.viewers.push_back(v);
        r.force_keyframe = true;  // start the newcomer now rather than at the next scheduled keyframe
        r.last_viewer_s = now_s();
    }
    c->cv.notify_one();
    return v;
}

void StreamHub::switch_rendition(VideoViewer& v, int to) {
    std::shared_ptr<CameraStream> c = v.cam_;
    if (!c) return;
    std::lock_guard<std::mutex> lk(c->mu);
    if (to < 0 || to >= static_cast<int>(c->rend.size())) return;
    std::shared_ptr<VideoViewer> self;
    {
        std::lock_guard<std::mutex> vl(v.mu_);
        if (v.closed_ || v.rendition_ == to) return;
        auto& old = c->rend[static_cast<size_t>(v.rendition_)].viewers;
        for (auto it = old.begin(); it != old.end(); ++it) {
            if (auto sp = it->lock(); sp.get() == &v) {
                self = sp;
                old.erase(it);
                break;
            }
        }
        v.rendition_ = to;
        v.need_keyframe_ = true;  // the new rung's init segment, then its next keyframe
    }
    if (!self) return;
    RenditionState& r = c->rend[static_cast<size_t>(to)];
    r.viewers.push_back(self);
    r.force_keyframe = true;
    r.last_viewer_s = now_s();
    c->cv.notify_one();
}

Result<std::shared_ptr<EventViewer>> StreamHub::open_events(const std::string& camera) {
    if (!opt_.cfg.enabled) return unavailable("streaming is disabled (streaming.enabled: false)");
    std::shared_ptr<CameraStream> c = find(camera);
    if (!c) return not_found("camera '" + camera + "' has no stream (unknown camera, or no frame processed yet)");
    if (!acquire_slot())
        return unavailable("too many streaming viewers (streaming.max_viewers = " +
                           std::to_string(opt_.cfg.max_viewers) + ")");
    std::shared_ptr<EventViewer> e(new EventViewer());
    e->hub_ = this;
    e->cam_ = c;
    e->max_queued_ = static_cast<size_t>(std::max(1, opt_.max_events_queued));
    std::lock_guard<std::mutex> lk(c->mu);
    c->events.push_back(e);
    return e;
}

void StreamHub::close_all() {
    closing_ = true;
    std::vector<std::shared_ptr<CameraStream>> cams;
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (auto& [id, c] : cams_) cams.push_back(c);
    }
    for (auto& c : cams) {
        std::vector<std::shared_ptr<VideoViewer>> vs;
        std::vector<std::shared_ptr<EventViewer>> es;
        {
            std::lock_guard<std::mutex> lk(c->mu);
            for (auto& r : c->rend)
                for (auto& w : r.viewers)
                    if (auto v = w.lock()) vs.push_back(v);
            for (auto& w : c->events)
                if (auto e = w.lock()) es.push_back(e);
        }
        for (auto& v : vs) v->close();
        for (auto& e : es) e->close();
    }
}

namespace {

json detection_event_json(const pipeline::DetectionRecord& r, const std::vector<std::string>& names) {
    json dets = json::array();
    for (const auto& d : r.detections) {
        const std::string name = d.class_id >= 0 && static_cast<size_t>(d.class_id) < names.size()
                                     ? names[static_cast<size_t>(d.class_id)]
                                     : std::to_string(d.class_id);
        dets.push_back({{"class_id", d.class_id},
                        {"name", name},
                        {"score", std::round(d.score * 1000) / 1000},
                        {"box", {std::round(d.x1 * 10) / 10, std::round(d.y1 * 10) / 10, std::round(d.x2 * 10) / 10,
                                 std::round(d.y2 * 10) / 10}}});
    }
    return json{{"camera", r.camera},         {"frame", r.frame},   {"pts", r.pts},
                {"wall_time_us", r.wall_time_us}, {"width", r.width}, {"height", r.height},
                {"latency_ms", r.latency_ms}, {"detections", std::move(dets)}};
}

}  // namespace

// The per-camera controller's options (the encode loop's, and what /streams reports).
static video::ContentControllerOptions content_options(const StreamHubOptions& o) {
    video::ContentControllerOptions co;
    co.enabled = o.adaptive;
    co.base_crf = o.cfg.crf;
    co.baseline_kbps = o.cfg.bitrate_kbps;
    co.target_reduction = o.target_reduction;
    co.fps = o.fps_hint;
    return co;
}

void StreamHub::encode_loop(CameraStream& c) {
    const auto& sc = opt_.cfg;
    c.content = std::make_unique<video::ContentController>(content_options(opt_));
    std::vector<video::Fragment> frags;
    for (;;) {
        video::Frame frame;
        pipeline::DetectionRecord rec;
        {
            std::unique_lock<std::mutex> lk(c.mu);
            c.cv.wait_for(lk, std::chrono::milliseconds(500), [&] { return c.stop || c.has_frame; });
            if (c.stop) break;
            // Idle renditions stop (their encoder state is dropped; a new viewer starts a fresh one).
            const double t = now_s();
            for (auto& r : c.rend) {
                r.viewers.erase(std::remove_if(r.viewers.begin(), r.viewers.end(),
                                               [](const std::weak_ptr<VideoViewer>& w) {
                                                   auto v = w.lock();
                                                   return !v || v->closed();
                                               }),
                                r.viewers.end());
                if (!r.viewers.empty()) r.last_viewer_s = t;
                else if (r.enc && t - r.last_viewer_s > sc.idle_stop_s) r.enc.reset();
            }
            c.events.erase(std::remove_if(c.events.begin(), c.events.end(),
                                          [](const std::weak_ptr<EventViewer>& w) {
                                              auto e = w.lock();
                                              return !e || e->closed();
                                          }),
                           c.events.end());
            if (!c.has_frame) continue;
            frame = std::move(c.frame);
            rec = std::move(c.rec);
            c.frame = video::Frame{};
            c.has_frame = false;
            if (c.last_pts >= 0 && frame.pts <= c.last_pts) {
                c.frames_out_of_order++;
                continue;
            }
            if (c.last_pts >= 0) {
                const double dt = frame.pts - c.last_pts;
                if (dt > 0 && dt < 2) c.fps = c.fps <= 0 ? 1 / dt : c.fps * 0.95 + 0.05 / dt;
            }
            c.last_pts = frame.pts;
            c.last_frame_w = frame.width;
            c.last_frame_h = frame.height;
        }

        // Detection events: for everyone watching the overlay, whether or not video is encoded.
        {
            std::vector<std::shared_ptr<EventViewer>> es;
            {
                std::lock_guard<std::mutex> lk(c.mu);
                for (auto& w : c.events)
                    if (auto e = w.lock()) es.push_back(e);
            }
            if (!es.empty()) {
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
        }

        bool any = false;
        {
            std::lock_guard<std::mutex> lk(c.mu);
            for (auto& r : c.rend) any = any || !r.viewers.empty();
        }
        if (!any) continue;

        // Annotate a private copy (the pipeline's buffer stays untouched and goes back to its pool).
        video::Frame work = frame;
        if (sc.annotate && frame.format == video::PixelFormat::kBGR24) {
#ifdef ITSCAM_HAVE_OPENCV
            const size_t row = static_cast<size_t>(frame.width) * 3;
            c.scratch.resize(row * static_cast<size_t>(frame.height));
            for (int y = 0; y < frame.height; ++y)
                std::memcpy(c.scratch.data() + row * static_cast<size_t>(y),
                            frame.data.get() + frame.stride * static_cast<size_t>(y), row);
            cv::Mat m(frame.height, frame.width, CV_8UC3, c.scratch.data(), row);
            vision::draw_detections(m, rec.detections, c.names);
            work.data = std::shared_ptr<uint8_t>(std::shared_ptr<void>(), c.scratch.data());
            work.stride = row;
#endif
        }
        int tw = 0, th = 0;
        std::vector<uint8_t> thumb = video::luma_thumbnail(frame, 8, tw, th);
        video::ContentSample cs;
        cs.motion = video::frame_motion(thumb, c.prev_thumb);
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
        const double fps = c.fps > 0 ? c.fps : opt_.fps_hint;
        cs.fps = fps;  // the camera's measured rate: the budget is per second, not per 30 frames
        const video::QualityDecision qd = c.content->decide(cs);
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
            if (!r.enc) {
                video::EncoderOptions eo;
                int h = r.cfg.height > 0 ? std::min(r.cfg.height, frame.height) : frame.height;
                h &= ~1;
                int w = static_cast<int>(std::lround(double(frame.width) * h / std::max(1, frame.height)));
                w &= ~1;
                eo.width = std::max(2, w);
                eo.height = std::max(2, h);
                eo.fps = fps;
                eo.preset = sc.preset;
                eo.gop = sc.gop;
                eo.threads = sc.encoder_threads;
                eo.fragment_ms = r.cfg.fragment_ms;
                eo.frames_per_fragment = 1;
                if (r.cfg.bitrate_kbps > 0) {
                    eo.rc = video::RateControl::kCbr;
                    eo.bitrate_kbps = r.cfg.bitrate_kbps;
                } else if (sc.rate_control == "cbr") {
                    eo.rc = video::RateControl::kCbr;
                    eo.bitrate_kbps = sc.bitrate_kbps;
                } else {
                    eo.rc = video::RateControl::kCrf;
                    eo.crf = sc.crf;
                    eo.max_bitrate_kbps = sc.max_bitrate_kbps > 0 ? sc.max_bitrate_kbps
                                                                  : (opt_.adaptive ? std::max(qd.cap_kbps, 0) : 0);
                    // The controller's x264 tuning (SSIM-oriented AQ, deeper motion search) on the rendition it drives.
                    if (opt_.adaptive) eo.x264_params = c.content->options().x264_params;
                }
                auto e = video::create_fmp4_encoder(eo);
                std::lock_guard<std::mutex> lk(c.mu);
                if (!e) {
                    r.error = e.status().message();
                    continue;
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
            video::FrameControl ctl;
            ctl.force_keyframe = force;
            if (r.cfg.bitrate_kbps == 0 && sc.rate_control == "crf" && opt_.adaptive) {
                ctl.crf = qd.crf;
                ctl.bitrate_kbps = qd.cap_kbps;
            }
            if (opt_.adaptive) {
                ctl.rois = video::scale_rois(qd.rois, frame.width, frame.height, r.width, r.height);
                ctl.key_rois = video::scale_rois(qd.key_rois, frame.width, frame.height, r.width, r.height);
            }
            frags.clear();
            const Status st = r.enc->encode(work, pts_us, cap_us, ctl, frags);
            const video::EncoderStats es = r.enc->stats();
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
                            deliver(*v, static_cast<int>(ri), r.init, bytes, f.keyframe, max_frags, max_bytes,
                                    skipped);
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

Result<json> StreamHub::stream_json(const std::string& camera) {
    std::shared_ptr<CameraStream> c = find(camera);
    if (!c) return not_found("camera '" + camera + "' has no stream (unknown camera, or no frame processed yet)");
    int fw = 0, fh = 0;
    {
        std::lock_guard<std::mutex> lk(c->mu);
        fw = c->last_frame_w;
        fh = c->last_frame_h;
    }
    // A rung that has not run yet: open a throwaway encoder for its codec string (the SPS's profile and level).
    std::vector<std::string> codecs(c->rend.size());
    std::vector<std::pair<int, int>> sizes(c->rend.size());
    for (size_t i = 0; i < c->rend.size(); ++i) {
        {
            std::lock_guard<std::mutex> lk(c->mu);
            codecs[i] = c->rend[i].codec;
            sizes[i] = {c->rend[i].width, c->rend[i].height};
        }
        if (!codecs[i].empty() || fw <= 0) continue;
        video::EncoderOptions eo;
        int h = ladder_[i].height > 0 ? std::min(ladder_[i].height, fh) : fh;
        h &= ~1;
        int w = static_cast<int>(std::lround(double(fw) * h / std::max(1, fh))) & ~1;
        eo.width = w;
        eo.height = h;
        eo.preset = opt_.cfg.preset;
        eo.fps = c->fps > 0 ? c->fps : opt_.fps_hint;
        if (auto e = video::create_fmp4_encoder(eo)) {
            codecs[i] = (*e)->codec_string();
            sizes[i] = {w, h};
            std::lock_guard<std::mutex> lk(c->mu);
            if (c->rend[i].codec.empty()) c->rend[i].codec = codecs[i];
        }
    }
    std::lock_guard<std::mutex> lk(c->mu);
    json rs = json::array();
    for (size_t i = 0; i < c->rend.size(); ++i) {
        const RenditionState& r = c->rend[i];
        int viewers = 0;
        for (auto& w : r.viewers)
            if (auto v = w.lock(); v && !v->closed()) viewers++;
        json j{{"name", r.cfg.name},
               {"width", sizes[i].first},
               {"height", sizes[i].second},
               {"codec", codecs[i]},
               {"mime", codecs[i].empty() ? "" : mime_for(codecs[i])},
               {"configured_bitrate_kbps", r.cfg.bitrate_kbps},
               {"bitrate_kbps", std::round(r.bitrate_kbps * 10) / 10},
               {"fragment_ms", r.cfg.fragment_ms},
               {"active", r.enc != nullptr},
               {"viewers", viewers},
               {"frames", r.frames},
               {"bytes", r.bytes},
               {"crf", r.crf},
               {"qp", r.qp},
               {"url", "/streams/" + camera + "/live.mp4?rendition=" + r.cfg.name}};
        if (!r.error.empty()) j["error"] = r.error;
        rs.push_back(std::move(j));
    }
    const auto lat = c->latency.summary();
    int events = 0;
    for (auto& w : c->events)
        if (auto e = w.lock(); e && !e->closed()) events++;
    const video::QualityDecision& d = c->decision;
    return json{{"camera", camera},
                {"live_url", "/streams/" + camera + "/live.mp4"},
                {"events_url", "/streams/" + camera + "/detections"},
                {"mime", codecs.empty() || codecs[0].empty() ? "" : mime_for(codecs[0])},
                {"width", fw},
                {"height", fh},
                {"fps", std::round(c->fps * 100) / 100},
                {"renditions", std::move(rs)},
                {"event_viewers", events},
                {"frames_in", c->frames_in},
                {"frames_encoded", c->frames_encoded},
                {"frames_dropped", c->frames_dropped},
                {"latency_ms", {{"p50", lat.p50_ms}, {"p99", lat.p99_ms}, {"max", lat.max_ms}, {"count", lat.count}}},
                {"controller",
                 {{"adaptive", opt_.adaptive},
                  {"network_aware", opt_.network_aware},
                  {"crf", d.crf},
                  {"cap_kbps", d.cap_kbps},
                  {"activity", d.activity},
                  {"motion", d.motion},
                  {"density", d.density},
                  {"roi_regions", d.rois.size()},
                  {"keyframe_roi_regions", d.key_rois.empty() ? d.rois.size() : d.key_rois.size()},
                  {"static_share", d.static_share},
                  {"x264_params", opt_.adaptive ? content_options(opt_).x264_params : std::string()},
                  {"budget_correction", d.budget_correction}}}};
}

json StreamHub::streams_json() {
    std::vector<std::string> ids;
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (auto& [id, c] : cams_) ids.push_back(id);
    }
    json arr = json::array();
    for (const auto& id : ids)
        if (auto j = stream_json(id)) arr.push_back(*j);
    json ladder = json::array();
    for (const auto& r : ladder_)
        ladder.push_back({{"name", r.name}, {"height", r.height}, {"bitrate_kbps", r.bitrate_kbps},
                          {"fragment_ms", r.fragment_ms}});
    return json{{"streams", std::move(arr)},
                {"connections", connections_.load()},
                {"max_viewers", opt_.cfg.max_viewers},
                {"rejected", rejected_.load()},
                {"ladder", std::move(ladder)}};
}

std::string StreamHub::metrics_text() {
    struct Fam {
        const char* name;
        const char* help;
        const char* type;
        std::string lines;
    };
    std::vector<Fam> f = {
        {"itscam_stream_viewers", "Video viewers by camera and rendition.", "gauge", ""},
        {"itscam_stream_bitrate_bytes_per_second", "Encoded rate (EWMA over ~2 s) by camera and rendition.", "gauge", ""},
        {"itscam_stream_crf", "CRF in force (the adaptive controller's choice) by camera and rendition.", "gauge", ""},
        {"itscam_stream_qp", "Average QP of the last encoded frame by camera and rendition.", "gauge", ""},
        {"itscam_stream_fragment_duration_seconds", "Fragment duration of the rendition (0: one frame).", "gauge", ""},
        {"itscam_stream_bytes_total", "Encoded fragment bytes by camera and rendition.", "counter", ""},
        {"itscam_stream_frames_encoded_total", "Frames encoded (any rendition) by camera.", "counter", ""},
        {"itscam_stream_frames_dropped_total", "Frames replaced in the latest-frame slot before encoding.", "counter", ""},
        {"itscam_stream_latency_p50_seconds", "Capture to fragment available, p50 over the last 60 s.", "gauge", ""},
        {"itscam_stream_latency_p99_seconds", "Capture to fragment available, p99 over the last 60 s.", "gauge", ""},
        {"itscam_stream_activity_ratio", "Scene activity 0..1 (motion, detection density) seen by the controller.", "gauge", ""},
        {"itscam_stream_roi_regions", "ROI regions in the last frame's quantizer map.", "gauge", ""},
        {"itscam_stream_viewer_rendition", "Rung index (0 = best) a viewer is on.", "gauge", ""},
        {"itscam_stream_viewer_throughput_bytes_per_second", "Measured delivery throughput of a viewer (-1: keeps up).", "gauge", ""},
        {"itscam_stream_viewer_fragment_duration_seconds", "Fragment duration a viewer receives.", "gauge", ""},
        {"itscam_stream_viewer_skips_total", "Times a viewer fell a queue behind and skipped to a keyframe.", "counter", ""},
        {"itscam_stream_viewer_queued_bytes", "Bytes queued for a viewer.", "gauge", ""},
        {"itscam_stream_connections", "Open streaming connections (video and events).", "gauge", ""},
        {"itscam_stream_rejected_total", "Streaming connections refused at streaming.max_viewers.", "counter", ""},
    };
    auto add = [&](size_t i, const std::string& labels, double v) {
        char b[64];
        std::snprintf(b, sizeof b, "%.6g", v);
        f[i].lines += std::string(f[i].name) + (labels.empty() ? "" : "{" + labels + "}") + " " + b + "\n";
    };
    std::vector<std::shared_ptr<CameraStream>> cams;
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (auto& [id, c] : cams_) cams.push_back(c);
    }
    for (auto& c : cams) {
        std::vector<std::shared_ptr<VideoViewer>> vs;
        const std::string cl = "camera=\"" + prom_escape(c->id) + "\"";
        {
            std::lock_guard<std::mutex> lk(c->mu);
            for (const auto& r : c->rend) {
                const std::string l = cl + ",rendition=\"" + prom_escape(r.cfg.name) + "\"";
                int viewers = 0;
                for (auto& w : r.viewers)
                    if (auto v = w.lock(); v && !v->closed()) {
                        viewers++;
                        vs.push_back(v);
                    }
                add(0, l, viewers);
                add(1, l, r.enc ? r.bitrate_kbps * 125 : 0);
                add(2, l, r.crf);
                add(3, l, r.qp);
                add(4, l, r.cfg.fragment_ms / 1000.0);
                add(5, l, double(r.bytes));
            }
            add(6, cl, double(c->frames_encoded));
            add(7, cl, double(c->frames_dropped));
            const auto lat = c->latency.summary();
            add(8, cl, lat.p50_ms / 1000.0);
            add(9, cl, lat.p99_ms / 1000.0);
            add(10, cl, c->decision.activity);
            add(11, cl, double(c->decision.rois.size()));
        }
        for (auto& v : vs) {
            const auto s = v->stats();
            const std::string l = cl + ",viewer=\"" + std::to_string(v->id()) + "\"";
            add(12, l, s.rendition);
            add(13, l, s.throughput_kbps < 0 ? -1 : s.throughput_kbps * 125);
            add(14, l, ladder_[static_cast<size_t>(s.rendition)].fragment_ms / 1000.0);
            add(15, l, double(s.skips));
            add(16, l, double(s.queued_bytes));
        }
    }
    add(17, "", connections_.load());
    add(18, "", double(rejected_.load()));
    std::string out;
    for (const auto& x : f) {
        if (x.lines.empty()) continue;
        out += std::string("# HELP ") + x.name + " " + x.help + "\n# TYPE " + x.name + " " + x.type + "\n" + x.lines;
    }
    return out;
}

}  // namespace itscam::service
