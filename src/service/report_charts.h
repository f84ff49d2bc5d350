// Inline SVG charts of the HTML reports (no scripts, no external resources): line charts of a metric over time
// and the timeline of alert firing episodes. Internal to src/service/report*.cpp.
//
// Pure functions of their arguments: thread-safe, synchronous. Times are epoch seconds; labels are shown in UTC.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "service/history.h"

namespace itscam::service::report_charts {

struct Series {
    std::string name, color;
    std::vector<std::pair<double, std::optional<double>>> pts;  // (epoch s, value); nullopt breaks the line
};

// A line chart: axes, y grid with labels, UTC time labels, a legend, one polyline per contiguous run of values.
// The y axis runs to `ymax_fixed`, or to a round number above the largest value (and `ref_line`, a labelled
// horizontal line). Long series are downsampled keeping each bucket's min and max, so spikes survive.
std::string svg_chart(const std::string& title, const std::vector<Series>& series, double t0, double t1,
                      const std::function<std::string(double)>& ylabel, std::optional<double> ymax_fixed,
                      std::optional<std::pair<double, std::string>> ref_line = std::nullopt);

// Firing intervals per rule from the alert events, drawn as bars.
struct Episode {
    std::string rule, severity;
    double start, end;
    bool open;
};

// The firing episodes in `events` (time order); one still firing at the end runs to `window_end` (open).
std::vector<Episode> alert_episodes(const std::vector<AlertEventRecord>& events, double window_end);

// One row of bars per rule over [t0, t1], critical and warning in their colours.
std::string svg_alert_timeline(const std::vector<Episode>& eps, double t0, double t1);

}  // namespace itscam::service::report_charts
