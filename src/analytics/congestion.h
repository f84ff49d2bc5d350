// A zone's congestion level, free / slow / queued, from its occupancy, queue and mean speed, with hysteresis so a
// single slow car or one frame's gap does not flap the level.
#pragma once

#include <optional>

#include "analytics/analytics_config.h"

namespace itscam::analytics {

enum class CongestionLevel { kFree, kSlow, kQueued };
const char* congestion_level_name(CongestionLevel l);  // free | slow | queued

// The level the zone's state calls for right now (before hysteresis):
//   empty zone                                                                   -> free
//   queue >= queued_min_queue, or mean speed < queued_speed_kmh                   -> queued
//   mean speed < slow_speed_kmh, overcrowded, or at least half the occupants queued -> slow
//   otherwise                                                                    -> free
// The mean speed is that of the calibrated tracks in the zone (nullopt without calibration: queue and occupancy
// decide alone).
CongestionLevel congestion_condition(const ZoneConfig& z, int occupancy, int queue,
                                     std::optional<double> mean_speed_kmh);

class CongestionState {
public:
    explicit CongestionState(double hold_s) : hold_s_(hold_s) {}
    // The condition at stream time t_s. The level moves to a new condition only once that condition has held
    // without a break for hold_s; returns the new level when it changes.
    std::optional<CongestionLevel> update(CongestionLevel condition, double t_s);
    CongestionLevel level() const { return level_; }

private:
    double hold_s_;
    CongestionLevel level_ = CongestionLevel::kFree;
    std::optional<CongestionLevel> candidate_;
    double since_ = 0;
};

}  // namespace itscam::analytics
