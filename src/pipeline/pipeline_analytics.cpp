// Pipeline::Impl's analytics (pipeline_impl.h): each camera's tracker and counters fed with its frames in order,
// the results attached to the frame's record, and the live snapshots and closed intervals for the service.
#include <cmath>
#include <limits>

#include "analytics/cross_class_dedup.h"
#include "pipeline/pipeline_impl.h"

namespace itscam::pipeline {

void Pipeline::Impl::run_analytics(Camera& cam, const std::vector<vision::Detection>& all, DetectionRecord& rec) {
    std::lock_guard<std::mutex> lk(cam.analytics_mu);
    if (!cam.analytics) return;
    if (cam.analytics_last_frame < 0 && rec.width > 0 && rec.height > 0) {
        // The geometry was checked when the config was read, but the frame size is known only now: a line or zone
        // outside the frame is the camera's configuration error (logged, analytics off), not a silent zero count.
        Status st = analytics::validate_analytics(cam.analytics->config(), rec.width, rec.height);
        if (!st) {
            const std::string msg = "analytics disabled: " + st.message() + " (frame " + std::to_string(rec.width) +
                                    "x" + std::to_string(rec.height) + ")";
            log("camera " + cam.cfg.id + ": " + msg);
            if (opt.on_camera_event) opt.on_camera_event(cam.cfg.id, "analytics_error", msg);
            cam.analytics.reset();
            return;
        }
    }
    // With several workers, two batches of one camera can finish out of order. The tracker needs frames in
    // order: a frame older than the last one fed is reported without analytics (counted as late) rather than
    // rewinding every track.
    if (rec.frame <= cam.analytics_last_frame) {
        cam.analytics_late++;
        return;
    }
    // A newer frame with an earlier timestamp: a looped file started over, or a camera reconnected with a new
    // clock. The tracks end there (counts are kept).
    if (cam.analytics_last_frame >= 0 && rec.pts < cam.analytics_last_pts) cam.analytics->reset_tracks();
    cam.analytics_last_frame = rec.frame;
    cam.analytics_last_pts = rec.pts;

    // One box per object for the tracker (the detector's NMS is per class: a bus can also be a truck box).
    const std::vector<vision::Detection> tracked = analytics::drop_cross_class_duplicates(all);
    analytics::FrameAnalytics fa = cam.analytics->process(tracked, rec.frame, rec.pts, rec.wall_time_us);
    // Reported detections get their confirmed track's id: the tracker names the input detection each track
    // matched; a reported detection is found in `tracked` by value (both keep the detector's order).
    std::vector<int64_t> track_of(tracked.size(), 0);
    std::vector<float> speed_of(tracked.size(), std::numeric_limits<float>::quiet_NaN());
    for (const auto& t : fa.tracks) {
        if (!t.confirmed || t.detection_index < 0 || t.detection_index >= static_cast<int>(tracked.size())) continue;
        track_of[t.detection_index] = t.track_id;
        auto sp = fa.speeds_kmh.find(t.track_id);
        if (sp != fa.speeds_kmh.end()) speed_of[t.detection_index] = static_cast<float>(sp->second);
    }
    rec.track_ids.assign(rec.detections.size(), 0);
    rec.speeds_kmh.assign(rec.detections.size(), std::numeric_limits<float>::quiet_NaN());
    size_t cursor = 0;
    for (size_t j = 0; j < rec.detections.size(); ++j) {
        const vision::Detection& d = rec.detections[j];
        for (size_t i = cursor; i < tracked.size(); ++i) {
            const vision::Detection& a = tracked[i];
            if (a.class_id == d.class_id && a.score == d.score && a.x1 == d.x1 && a.y1 == d.y1 && a.x2 == d.x2 &&
                a.y2 == d.y2) {
                rec.track_ids[j] = track_of[i];
                rec.speeds_kmh[j] = speed_of[i];
                cursor = i + 1;
                break;
            }
        }
    }
    rec.events = std::move(fa.events);
    for (auto& e : rec.events) e.epoch = cam.epoch;
}

Result<analytics::AnalyticsSnapshot> Pipeline::analytics(const std::string& id) const {
    std::shared_ptr<Camera> cam;
    {
        std::shared_lock<std::shared_mutex> lk(impl_->cams_mu);
        auto it = impl_->cameras.find(id);
        if (it == impl_->cameras.end()) return not_found("camera '" + id + "' does not exist");
        cam = it->second;
    }
    std::lock_guard<std::mutex> lk(cam->analytics_mu);
    if (!cam->analytics) return not_found("camera '" + id + "' has no analytics section");
    return cam->analytics->snapshot();
}

std::vector<analytics::IntervalAggregate> Pipeline::take_intervals(bool flush) {
    std::vector<analytics::IntervalAggregate> out;
    {
        std::lock_guard<std::mutex> lk(impl_->removed_intervals_mu);
        out.swap(impl_->removed_intervals);
    }
    std::vector<std::shared_ptr<Camera>> cams;
    {
        std::shared_lock<std::shared_mutex> lk(impl_->cams_mu);
        for (auto& [id, c] : impl_->cameras) cams.push_back(c);
    }
    for (auto& c : cams) {
        std::lock_guard<std::mutex> lk(c->analytics_mu);
        if (!c->analytics) continue;
        auto iv = c->analytics->take_intervals(flush);
        for (auto& a : iv) a.epoch = c->epoch;
        out.insert(out.end(), std::make_move_iterator(iv.begin()), std::make_move_iterator(iv.end()));
    }
    return out;
}

}  // namespace itscam::pipeline
