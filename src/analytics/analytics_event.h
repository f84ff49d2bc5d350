// What the analytics emit: events (a line crossing, a zone entry or exit, a congestion change) and per-interval
// aggregates. Both become JSON with a schema version and a unique event id (JSONL sink, MQTT, SSE).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace itscam::analytics {

inline constexpr int kEventSchemaVersion = 1;

enum class EventKind { kLineCrossing, kZoneEnter, kZoneExit, kCongestionChange };
const char* event_kind_name(EventKind k);  // line_crossing | zone_enter | zone_exit | congestion_change

struct AnalyticsEvent {
    EventKind kind = EventKind::kLineCrossing;
    std::string id;              // unique: "<camera>-<epoch>-<seq>" (set by the camera's analytics)
    std::string camera;
    int64_t frame = 0;
    double pts = 0;              // stream seconds
    int64_t wall_time_us = 0;    // capture time, system clock
    int64_t track_id = 0;        // 0 for congestion changes
    int class_id = -1;
    std::string class_name;
    std::string line;            // line crossings
    std::string direction;       // the line's forward_name or backward_name
    std::string zone;            // zone events and congestion changes
    std::optional<double> speed_kmh;  // when calibrated and the track is in the calibrated area
    std::optional<double> dwell_s;    // zone exits
    std::string level, previous_level;  // congestion changes: free | slow | queued
    int64_t epoch = 0;  // cluster mode: the camera's ownership epoch (docs/cluster.md); 0 (not in the JSON) otherwise
};

// One aggregation interval of one camera (interval_s long, aligned to wall-clock multiples of it).
struct IntervalAggregate {
    std::string camera;
    int64_t start_us = 0, end_us = 0;  // system clock
    int64_t epoch = 0;  // cluster mode: the camera's ownership epoch; 0 (not in the JSON) otherwise
    // (line, direction, class name) -> crossings
    std::map<std::tuple<std::string, std::string, std::string>, int64_t> line_counts;
    struct Zone {
        double occupancy_pct = 0;    // share of frames in the interval with at least one object in the zone
        double mean_occupancy = 0;   // mean objects in the zone per frame
        int max_queue = 0;
        int64_t entries = 0, exits = 0;
        std::optional<double> mean_speed_kmh;
        std::string congestion;      // level at the end of the interval
        std::map<std::string, int64_t> class_entries;  // class name -> entries
    };
    std::map<std::string, Zone> zones;
    std::vector<double> speeds_kmh;  // every speed reported at a crossing in the interval
};

std::string event_json(const AnalyticsEvent& e);        // one line, with "schema": kEventSchemaVersion
std::string aggregate_json(const IntervalAggregate& a);  // one line, with "schema"

}  // namespace itscam::analytics
