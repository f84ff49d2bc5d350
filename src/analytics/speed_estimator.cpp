#include "analytics/speed_estimator.h"

#include <cmath>

#include "analytics/geometry.h"

namespace itscam::analytics {

SpeedEstimator::SpeedEstimator(std::optional<GroundPlane> plane, double window_s, double max_speed_kmh)
    : plane_(std::move(plane)), window_s_(window_s > 0 ? window_s : 1.0), max_kmh_(max_speed_kmh) {}

void SpeedEstimator::reset() {
    tracks_.clear();
    last_t_ = -1e300;
}

TrackSpeed SpeedEstimator::speed(int64_t track_id) const {
    const auto it = tracks_.find(track_id);
    return it == tracks_.end() ? TrackSpeed{} : it->second.out;
}

void SpeedEstimator::update(const std::vector<TrackedObject>& tracks, double t_s) {
    if (t_s < last_t_) tracks_.clear();  // a looped file or a clock step: histories no longer line up
    last_t_ = t_s;
    for (auto& [id, s] : tracks_) s.seen = false;
    for (const TrackedObject& t : tracks) {
        State& s = tracks_[t.track_id];
        s.seen = true;
        if (t.matched) observe(s, t, t_s);
    }
    std::erase_if(tracks_, [](const auto& kv) { return !kv.second.seen; });
}

void SpeedEstimator::observe(State& s, const TrackedObject& t, double t_s) const {
    Sample now{t_s, {t.foot_x(), t.foot_y()}, std::nullopt};
    if (plane_ && plane_->in_calibrated_area(now.image)) now.world = plane_->to_world(now.image);
    if (!s.samples.empty() && t_s <= s.samples.back().t) return;  // same instant twice: nothing to learn
    const double step = s.samples.empty() ? 0 : t_s - s.samples.back().t;
    s.samples.push_back(now);
    // Keep one sample at or before the window's start as the reference; older ones are not needed.
    while (s.samples.size() > 2 && s.samples[1].t <= t_s - window_s_) s.samples.pop_front();
    const Sample& ref = s.samples.front();
    const double dt = t_s - ref.t;
    s.out.in_calibrated_area = now.world.has_value();
    if (dt < 0.5 * window_s_) return;  // too short a baseline: jitter would dominate
    s.out.pixel_speed = distance(ref.image, now.image) / dt;
    if (!now.world || !ref.world) {
        // Outside the calibrated area (or only just in): no speed, and the smoothing starts over on re-entry.
        s.out.current_kmh.reset();
        s.smoothed.reset();
        return;
    }
    const double kmh = distance(*ref.world, *now.world) / dt * 3.6;
    if (!(kmh <= max_kmh_)) {  // a glitch (a box jumping to another vehicle): not a speed
        s.out.current_kmh.reset();
        return;
    }
    // Exponential smoothing with a time constant of half the window, in stream time (frame-rate independent).
    const double alpha = s.smoothed ? 1.0 - std::exp(-step / (0.5 * window_s_)) : 1.0;
    s.smoothed = s.smoothed ? *s.smoothed + alpha * (kmh - *s.smoothed) : kmh;
    s.out.current_kmh = s.smoothed;
    const double w = step > 0 ? step : 0;
    s.weighted_sum += kmh * w;
    s.weight += w;
    if (s.weight > 0) s.out.average_kmh = s.weighted_sum / s.weight;
}

}  // namespace itscam::analytics
