// The JSON of the traffic analytics endpoints (http_service.h lists them):
//   GET /api/v1/cameras/{id}/counts?since=&until=&interval=   counts per bucket (counts_json)
//   GET /api/v1/cameras/{id}/analytics                          live geometry and state (camera_analytics_json)
// and the parsing of the counts query. Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analytics/analytics_config.h"
#include "analytics/camera_analytics.h"
#include "core/status.h"
#include "service/history_analytics.h"

namespace itscam::service {

// A time as the API takes it: ISO 8601 ("2026-12-03T10:15:00Z", "2026-12-03T10:15:00.5+01:00", "2026-12-03";
// no zone means UTC) or Unix seconds ("1764756900", "1764756900.25"). kInvalidArgument otherwise.
Result<SystemTime> parse_api_time(const std::string& text);

struct CountsQuery {
    SystemTime since{}, until{};
    int64_t bucket_s = 60;
    std::string interval = "1m";  // as given: 1m | 5m | 15m | 1h
};

// The query of GET .../counts; absent parameters are nullopt. Defaults: until = now, since = until - 1 h,
// interval 1m. Errors are kInvalidArgument and start with the parameter's name ("since: ...").
Result<CountsQuery> parse_counts_query(const std::optional<std::string>& since, const std::optional<std::string>& until,
                                       const std::optional<std::string>& interval, SystemTime now);

// source: where the buckets came from ("history": SQLite; "memory": the service's ring of recent intervals).
nlohmann::json counts_json(const std::string& camera, const CountsQuery& q, const std::vector<CountBucket>& buckets,
                           const std::string& source);

// The camera's analytics configuration (lines with their end points and direction names, zones with their
// polygons, in source pixels of a width x height frame; 0 when not known yet) and its live snapshot.
nlohmann::json camera_analytics_json(const std::string& camera, const analytics::AnalyticsConfig& cfg,
                                     const analytics::AnalyticsSnapshot& s, int width, int height);

}  // namespace itscam::service
