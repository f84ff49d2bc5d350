// Traffic analytics in the history (schema version 3; the History methods are in history.h, their code in
// history_analytics.cpp): what the per-interval rows hold when read back, and the bucketing of intervals into the
// 1m / 5m / 15m / 1h buckets of GET /api/v1/cameras/{id}/counts and of `itscam report` (history_buckets.cpp), shared
// by the SQLite path and the service's in-memory ring of recent intervals.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "analytics/analytics_event.h"
#include "core/status.h"
#include "service/alerts.h"  // SystemTime

namespace itscam::service {

// (line, direction, class name)
using LineCountKey = std::tuple<std::string, std::string, std::string>;

// A zone over one bucket: the intervals' figures combined (occupancy figures weighted by interval length, queue as
// the maximum, entries and exits summed, mean speed weighted by the intervals that had one).
struct ZoneBucket {
    double occupancy_pct = 0;
    double mean_occupancy = 0;
    int max_queue = 0;
    int64_t entries = 0, exits = 0;
    std::optional<double> mean_speed_kmh;
    std::string congestion;        // the level at the end of the bucket's last interval
    std::string worst_congestion;  // the worst level at the end of any of its intervals (free < slow < queued)
};

struct CountBucket {
    SystemTime start{}, end{};
    int intervals = 0;                        // aggregation intervals that started in the bucket
    std::map<LineCountKey, int64_t> counts;   // crossings
    std::map<std::string, ZoneBucket> zones;
    int64_t speed_samples = 0;                // speeds reported at crossings
    std::optional<double> mean_speed_kmh;     // their mean
};

// The buckets of `bucket_s` seconds (aligned to multiples of it since the epoch) that overlap [from, to), every one
// of them (empty buckets too, so a series has no holes), oldest first; each interval goes to the bucket its start
// falls in. Intervals of other cameras are the caller's to leave out. kInvalidArgument: bucket_s <= 0, to <= from,
// or more than kMaxCountBuckets buckets.
inline constexpr int64_t kMaxCountBuckets = 10000;
Result<std::vector<CountBucket>> bucket_intervals(const std::vector<analytics::IntervalAggregate>& intervals,
                                                  SystemTime from, SystemTime to, int64_t bucket_s);

// free 0, slow 1, queued 2; -1 for anything else (the metrics' and the report's scale).
int congestion_rank(const std::string& level);

// A stored congestion change (table analytics_events): the event's own JSON (analytics::event_json's fields).
struct AnalyticsEventRow {
    SystemTime timestamp{};
    std::string camera_id, kind, event_id;
    std::string payload_json;
    // Parsed from the payload for the report: the zone, the level it changed to and the one before.
    std::string zone, level, previous_level;
};

// A speed reported at a line crossing (table speed_samples: ts = the start of its interval).
struct SpeedSampleRow {
    SystemTime timestamp{};
    std::string camera_id;
    double speed_kmh = 0;
};

}  // namespace itscam::service
