// The viewers of the stream hub: VideoViewer (one /live.mp4 connection) and EventViewer (one /detections SSE
// connection), and how a fragment is queued for a video viewer (StreamHub::deliver: bounded queue, skip to a
// keyframe on overflow).
#include <algorithm>

#include "streaming/camera_stream.h"
#include "streaming/stream_hub.h"

namespace itscam::streaming {

VideoViewer::~VideoViewer() {
    close();
}

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
    if (hub_) hub_->count_egress(n);
    if (!net_ || !hub_) return;
    const double t = now_s();
    net_->on_write(t, n, seconds);
    if (skips > skips_seen_) {  // the encode thread skipped fragments for us since the last write
        skips_seen_ = skips;
        net_->on_skip(t);
    }
    std::vector<Rung> rungs;
    {
        std::lock_guard<std::mutex> lk(cam_->mu);
        for (const auto& r : cam_->rend) {
            // The rung's real rate when it runs, else its configured cap (or the top rung's guess).
            double kbps = r.bitrate_kbps > 0 ? r.bitrate_kbps : r.cfg.bitrate_kbps;
            if (kbps <= 0) kbps = hub_->opt_.cfg.bitrate_kbps * (1.0 - hub_->opt_.target_reduction);
            rungs.push_back({r.cfg.name, kbps, r.cfg.fragment_ms});
        }
    }
    const NetworkDecision d = net_->decide(t, rungs);
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
    if (was_open && hub_) hub_->release_slot(true);
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

EventViewer::~EventViewer() {
    close();
}

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
    if (was_open && hub_) hub_->release_slot(false);
}

bool EventViewer::closed() const {
    std::lock_guard<std::mutex> lk(mu_);
    return closed_;
}

int64_t EventViewer::dropped() const {
    std::lock_guard<std::mutex> lk(mu_);
    return dropped_;
}

// Queues a fragment for a viewer subscribed to rendition `ri` (caller holds the camera's lock). A viewer that
// needs a keyframe skips non-key fragments; one whose queue is full skips to the latest keyframe fragment it holds,
// or drops everything and waits for the next keyframe.
void StreamHub::deliver(VideoViewer& v, int ri, const std::shared_ptr<const std::string>& init,
                        const std::shared_ptr<const std::string>& bytes, bool key, size_t max_frags, int64_t max_bytes,
                        bool& skipped) {
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

}  // namespace itscam::streaming
