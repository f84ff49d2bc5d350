// Per-track speed of the foot point: current speed = displacement over the last window_s (road metres through the
// ground-plane homography), smoothed; average = time-weighted mean of those window speeds over the track's time in
// the calibrated area. Speeds are reported only while the track is in the calibrated area (both ends of the window
// inside it) and never above max_speed_kmh (a detection glitch, not a car). The pixel speed of the foot point over
// the same window is always kept: zones use it for queues without calibration.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "analytics/homography.h"
#include "analytics/track.h"

namespace itscam::analytics {

struct TrackSpeed {
    std::optional<double> current_kmh;   // calibrated area only
    std::optional<double> average_kmh;   // over the track's window speeds in the calibrated area
    std::optional<double> pixel_speed;   // foot point, px/s, once the track spans half a window
    bool in_calibrated_area = false;     // the latest observation
};

class SpeedEstimator {
public:
    // plane: nullopt without calibration (pixel speeds only).
    SpeedEstimator(std::optional<GroundPlane> plane, double window_s, double max_speed_kmh);

    // One frame's live tracks at stream time t_s. Only matched observations are samples; a coasting track keeps
    // its last speeds; a track missing from the list is forgotten; a step back in time forgets every track.
    void update(const std::vector<TrackedObject>& tracks, double t_s);
    void reset();

    TrackSpeed speed(int64_t track_id) const;  // empty when unknown
    bool calibrated() const { return plane_.has_value(); }
    const std::optional<GroundPlane>& plane() const { return plane_; }

private:
    struct Sample {
        double t = 0;
        Point image;
        std::optional<Point> world;  // set when in the calibrated area
    };
    struct State {
        std::deque<Sample> samples;
        TrackSpeed out;
        std::optional<double> smoothed;  // km/h, unclipped
        double weighted_sum = 0, weight = 0;
        bool seen = false;
    };
    void observe(State& s, const TrackedObject& t, double t_s) const;

    std::optional<GroundPlane> plane_;
    double window_s_, max_kmh_;
    double last_t_ = -1e300;
    std::unordered_map<int64_t, State> tracks_;
};

}  // namespace itscam::analytics
