// One zone (a polygon): which confirmed tracks are in it (foot point inside), entries and exits with dwell time,
// the queue (members stopped or slow), the overcrowded flag, the members' mean speed, the congestion level, and the
// per-interval statistics traffic detectors report (occupancy %, mean occupancy, max queue, entries by class).
//
// Membership has a little hysteresis: a member leaves only when its foot point is outside the polygon by at least
// max(4 px, 5% of its box height), so a car standing on the boundary does not enter and exit every frame. A coasting
// track (no detection this frame) keeps its membership; a track that ends exits at its last detection.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "analytics/analytics_config.h"
#include "analytics/congestion.h"
#include "analytics/speed_estimator.h"
#include "analytics/track.h"

namespace itscam::analytics {

struct ZoneTransition {
    TrackedObject track;
    bool enter = true;
    std::optional<double> dwell_s;    // exits
    std::optional<double> speed_kmh;  // current calibrated speed, when known
};

struct ZoneIntervalStats {
    int64_t frames = 0;
    double occupancy_pct = 0;     // frames with at least one member / frames, in percent
    double mean_occupancy = 0;    // members per frame
    int max_queue = 0;
    int64_t entries = 0, exits = 0;
    std::optional<double> mean_speed_kmh;  // over every member's speed sample in the interval
    std::map<int, int64_t> class_entries;  // smoothed class id -> entries
};

// The exit margin for a box of height box_h: max(4, 0.05 * box_h) pixels.
double zone_exit_margin_px(double box_h);

class ZoneMonitor {
public:
    explicit ZoneMonitor(ZoneConfig cfg);

    // One frame's live tracks at stream time t_s, with their speeds. Returns this frame's entries and exits.
    std::vector<ZoneTransition> update(const std::vector<TrackedObject>& tracks, const SpeedEstimator& speeds,
                                       double t_s);
    // The congestion level after this frame; set when it changed in this frame's update().
    std::optional<CongestionLevel> congestion_change() const { return change_; }
    CongestionLevel congestion() const { return congestion_.level(); }
    CongestionLevel previous_congestion() const { return previous_; }

    int occupancy() const { return occupancy_; }
    int queue() const { return queue_; }
    bool overcrowded() const { return cfg_.overcrowd_threshold > 0 && occupancy_ >= cfg_.overcrowd_threshold; }
    std::optional<double> mean_speed_kmh() const { return mean_speed_; }
    int64_t entries() const { return entries_; }
    int64_t exits() const { return exits_; }
    const ZoneConfig& config() const { return cfg_; }

    // The statistics since the last call, and a fresh interval.
    ZoneIntervalStats take_interval();

private:
    struct Member {
        bool inside = false;        // by the polygon test with the exit margin
        bool announced = false;     // enter event sent (confirmed, class wanted)
        double inside_since = 0;    // stream time of the first observation inside
        TrackedObject obj;
        bool seen = false;
    };
    bool wanted(const TrackedObject& t) const;

    ZoneConfig cfg_;
    std::unordered_map<int64_t, Member> members_;
    int occupancy_ = 0, queue_ = 0;
    std::optional<double> mean_speed_;
    int64_t entries_ = 0, exits_ = 0;
    CongestionState congestion_;
    CongestionLevel previous_ = CongestionLevel::kFree;
    std::optional<CongestionLevel> change_;
    // The running interval.
    ZoneIntervalStats cur_;
    int64_t occupied_frames_ = 0;
    double occupancy_sum_ = 0, speed_sum_ = 0;
    int64_t speed_n_ = 0;
};

}  // namespace itscam::analytics
