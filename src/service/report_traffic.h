// The traffic section of `itscam report` (from the history's analytics tables, history_analytics.h): counts by
// hour and class per camera, line and direction; the distribution of speeds at crossings (percentiles and a
// histogram); and the congestion timeline of every zone (time share per level, the changes, an inline SVG bar).
// Internal to src/service/report*.cpp and the report command. Pure functions of the history: thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "service/history.h"

namespace itscam::service {

struct SpeedStats {
    int64_t n = 0;
    double mean = 0, p50 = 0, p85 = 0, p95 = 0, max = 0;
    std::vector<int64_t> histogram;  // per bucket of SpeedStats::bounds_kmh (the last: above the last bound)
    static const std::vector<double>& bounds_kmh();
};
// Percentiles by linear interpolation between order statistics; n = 0 leaves zeros.
SpeedStats speed_stats(std::vector<double> speeds_kmh);

struct TrafficSection {
    bool present = false;  // the window has analytics rows; the strings are empty otherwise
    std::string markdown, html, text;
};

// The section over [from, to). kInvalidArgument when to <= from.
Result<TrafficSection> render_traffic_section(History& h, SystemTime from, SystemTime to);

}  // namespace itscam::service
