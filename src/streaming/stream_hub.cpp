// StreamHub: cameras (one encode thread each), the viewers' connection slots, the pipeline's frame hook and the
// egress count. The encode thread is encode_loop.cpp, the viewers viewers.cpp, the API's JSON and the metrics
// snapshot stream_report.cpp.
#include "streaming/stream_hub.h"

#include <algorithm>
#include <cmath>

#include "core/thread_info.h"
#include "streaming/camera_stream.h"

namespace itscam::streaming {

StreamHubOptions StreamHubOptions::from_config(const config::Config& c) {
    StreamHubOptions o;
    o.cfg = c.streaming;
    o.adaptive = c.settings.ENABLE_ADAPTIVE_QUALITY;
    o.target_reduction = c.settings.TARGET_BANDWIDTH_REDUCTION;
    o.network_aware = c.settings.ENABLE_NETWORK_AWARE_STREAMING;
    return o;
}

ContentControllerOptions content_options(const StreamHubOptions& o) {
    ContentControllerOptions co;
    co.enabled = o.adaptive;
    co.base_crf = o.cfg.crf;
    co.baseline_kbps = o.cfg.bitrate_kbps;
    co.target_reduction = o.target_reduction;
    co.fps = o.fps_hint;
    return co;
}

std::pair<int, int> rendition_size(const config::RenditionConfig& r, int fw, int fh) {
    int h = r.height > 0 ? std::min(r.height, fh) : fh;
    h &= ~1;
    int w = static_cast<int>(std::lround(double(fw) * h / std::max(1, fh)));
    w &= ~1;
    return {std::max(2, w), std::max(2, h)};
}

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

bool StreamHub::has_camera(const std::string& id) const {
    return find(id) != nullptr;
}

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
        slot->th = std::thread([this, raw] {
            set_thread_name("enc:" + raw->id);
            encode_loop(*raw);
        });
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

Result<std::shared_ptr<CameraStream>> StreamHub::claim_slot(const std::string& camera) {
    std::shared_ptr<CameraStream> c = find(camera);
    if (!c) return not_found("camera '" + camera + "' has no stream (unknown camera, or no frame processed yet)");
    if (!acquire_slot())
        return unavailable(
            "too many streaming viewers (streaming.max_viewers = " + std::to_string(opt_.cfg.max_viewers) + ")");
    return c;
}

void StreamHub::release_slot(bool video) {
    connections_--;
    if (video) count_video_viewer(-1);
}

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
    ITSCAM_ASSIGN_OR_RETURN(std::shared_ptr<CameraStream> c, claim_slot(camera));
    std::shared_ptr<VideoViewer> v(new VideoViewer());
    v->hub_ = this;
    v->cam_ = c;
    v->id_ = next_viewer_id_++;
    v->camera_ = camera;
    v->auto_rendition_ = automatic;
    v->rendition_ = ri;
    if (automatic) v->net_ = std::make_unique<NetworkController>(opt_.network, ri);
    count_video_viewer(+1);
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
    ITSCAM_ASSIGN_OR_RETURN(std::shared_ptr<CameraStream> c, claim_slot(camera));
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

void StreamHub::egress_advance_locked(std::chrono::steady_clock::time_point now) const {
    egress_.viewer_seconds += egress_.video_viewers * std::chrono::duration<double>(now - egress_at_).count();
    egress_at_ = now;
}

void StreamHub::count_video_viewer(int delta) {
    std::lock_guard<std::mutex> lk(egress_mu_);
    egress_advance_locked(std::chrono::steady_clock::now());
    egress_.video_viewers += delta;
}

void StreamHub::count_egress(size_t bytes) {
    std::lock_guard<std::mutex> lk(egress_mu_);
    egress_.bytes += static_cast<int64_t>(bytes);
}

StreamEgress StreamHub::egress() const {
    std::lock_guard<std::mutex> lk(egress_mu_);
    egress_advance_locked(std::chrono::steady_clock::now());
    return egress_;
}

}  // namespace itscam::streaming
