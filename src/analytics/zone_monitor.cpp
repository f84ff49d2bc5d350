#include "analytics/zone_monitor.h"

#include <algorithm>

#include "analytics/geometry.h"

namespace itscam::analytics {

double zone_exit_margin_px(double box_h) { return std::max(4.0, 0.05 * box_h); }

ZoneMonitor::ZoneMonitor(ZoneConfig cfg) : cfg_(std::move(cfg)), congestion_(cfg_.hold_s) {}

bool ZoneMonitor::wanted(const TrackedObject& t) const {
    return cfg_.classes.empty() || std::find(cfg_.classes.begin(), cfg_.classes.end(), t.class_id) != cfg_.classes.end();
}

std::vector<ZoneTransition> ZoneMonitor::update(const std::vector<TrackedObject>& tracks,
                                                const SpeedEstimator& speeds, double t_s) {
    std::vector<ZoneTransition> out;
    for (auto& [id, m] : members_) m.seen = false;
    int occupancy = 0, queue = 0, n_speed = 0;
    double speed_sum = 0;
    for (const TrackedObject& t : tracks) {
        Member& m = members_[t.track_id];
        m.seen = true;
        m.obj = t;
        const TrackSpeed sp = speeds.speed(t.track_id);
        if (t.matched) {  // a coasting box is a guess: membership changes on detections only
            const Point p{t.foot_x(), t.foot_y()};
            const bool in_poly = point_in_polygon(cfg_.polygon, p);
            if (!m.inside && in_poly) {
                m.inside = true;
                m.inside_since = t_s;
            } else if (m.inside && !in_poly &&
                       distance_to_polygon_edges(cfg_.polygon, p) >= zone_exit_margin_px(t.y2 - t.y1)) {
                m.inside = false;
                if (m.announced) {
                    m.announced = false;
                    ++exits_;
                    ++cur_.exits;
                    out.push_back({t, false, std::max(0.0, t_s - m.inside_since), sp.current_kmh});
                }
            }
        }
        if (m.inside && !m.announced && t.confirmed && wanted(t)) {
            // Entered (or confirmed while inside, which counts from its first observation inside).
            m.announced = true;
            ++entries_;
            ++cur_.entries;
            ++cur_.class_entries[t.class_id];
            out.push_back({t, true, std::nullopt, sp.current_kmh});
        }
        if (!m.announced) continue;
        ++occupancy;
        // Queued: slower than queue_speed_kmh where calibrated, else slower than queue_speed_px_s in the image.
        if (sp.current_kmh ? *sp.current_kmh < cfg_.queue_speed_kmh
                           : (sp.pixel_speed && *sp.pixel_speed < cfg_.queue_speed_px_s))
            ++queue;
        if (sp.current_kmh) {
            speed_sum += *sp.current_kmh;
            ++n_speed;
        }
    }
    // Ended tracks leave at their last detection.
    for (auto it = members_.begin(); it != members_.end();) {
        Member& m = it->second;
        if (m.seen) {
            ++it;
            continue;
        }
        if (m.announced) {
            ++exits_;
            ++cur_.exits;
            out.push_back({m.obj, false, std::max(0.0, m.obj.last_seen_s - m.inside_since), std::nullopt});
        }
        it = members_.erase(it);
    }
    occupancy_ = occupancy;
    queue_ = queue;
    mean_speed_ = n_speed ? std::optional<double>(speed_sum / n_speed) : std::nullopt;
    const CongestionLevel before = congestion_.level();
    change_ = congestion_.update(congestion_condition(cfg_, occupancy, queue, mean_speed_), t_s);
    if (change_) previous_ = before;
    ++cur_.frames;
    if (occupancy > 0) ++occupied_frames_;
    occupancy_sum_ += occupancy;
    cur_.max_queue = std::max(cur_.max_queue, queue);
    speed_sum_ += speed_sum;
    speed_n_ += n_speed;
    return out;
}

ZoneIntervalStats ZoneMonitor::take_interval() {
    ZoneIntervalStats s = std::move(cur_);
    if (s.frames > 0) {
        s.occupancy_pct = 100.0 * static_cast<double>(occupied_frames_) / static_cast<double>(s.frames);
        s.mean_occupancy = occupancy_sum_ / static_cast<double>(s.frames);
    }
    if (speed_n_ > 0) s.mean_speed_kmh = speed_sum_ / static_cast<double>(speed_n_);
    cur_ = {};
    occupied_frames_ = 0;
    occupancy_sum_ = speed_sum_ = 0;
    speed_n_ = 0;
    return s;
}

}  // namespace itscam::analytics
