// Events and interval aggregates as one-line JSON. Keys in a fixed, readable order (ordered_json); optional
// fields are left out when absent rather than written as null, so consumers test for presence.
#include "analytics/analytics_event.h"

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/time_format.h"

namespace itscam::analytics {

namespace {

using Json = nlohmann::ordered_json;

double round_to(double v, double scale) { return std::round(v * scale) / scale; }

std::string iso(int64_t us) {
    return iso8601_utc(std::chrono::system_clock::time_point(std::chrono::microseconds(us)));
}

}  // namespace

const char* event_kind_name(EventKind k) {
    switch (k) {
        case EventKind::kLineCrossing: return "line_crossing";
        case EventKind::kZoneEnter: return "zone_enter";
        case EventKind::kZoneExit: return "zone_exit";
        case EventKind::kCongestionChange: return "congestion_change";
    }
    return "unknown";
}

std::string event_json(const AnalyticsEvent& e) {
    Json j;
    j["schema"] = kEventSchemaVersion;
    j["id"] = e.id;
    j["type"] = event_kind_name(e.kind);
    j["camera"] = e.camera;
    if (e.epoch > 0) j["epoch"] = e.epoch;
    j["time"] = iso(e.wall_time_us);
    j["wall_time_us"] = e.wall_time_us;
    j["frame"] = e.frame;
    j["pts"] = round_to(e.pts, 1e6);
    if (e.track_id != 0) j["track_id"] = e.track_id;
    if (e.class_id >= 0) {
        j["class_id"] = e.class_id;
        j["class"] = e.class_name;
    }
    if (!e.line.empty()) j["line"] = e.line;
    if (!e.direction.empty()) j["direction"] = e.direction;
    if (!e.zone.empty()) j["zone"] = e.zone;
    if (e.speed_kmh) j["speed_kmh"] = round_to(*e.speed_kmh, 100);
    if (e.dwell_s) j["dwell_s"] = round_to(*e.dwell_s, 1000);
    if (!e.level.empty()) j["level"] = e.level;
    if (!e.previous_level.empty()) j["previous_level"] = e.previous_level;
    return j.dump();
}

std::string aggregate_json(const IntervalAggregate& a) {
    Json j;
    j["schema"] = kEventSchemaVersion;
    j["type"] = "interval";
    j["camera"] = a.camera;
    if (a.epoch > 0) j["epoch"] = a.epoch;
    j["start"] = iso(a.start_us);
    j["end"] = iso(a.end_us);
    j["start_us"] = a.start_us;
    j["end_us"] = a.end_us;
    // lines: {line: {direction: {class: count}}}
    Json lines = Json::object();
    for (const auto& [k, n] : a.line_counts) {
        const auto& [line, direction, cls] = k;
        lines[line][direction][cls] = n;
    }
    j["lines"] = std::move(lines);
    Json zones = Json::object();
    for (const auto& [name, z] : a.zones) {
        Json o;
        o["occupancy_pct"] = round_to(z.occupancy_pct, 100);
        o["mean_occupancy"] = round_to(z.mean_occupancy, 1000);
        o["max_queue"] = z.max_queue;
        o["entries"] = z.entries;
        o["exits"] = z.exits;
        if (z.mean_speed_kmh) o["mean_speed_kmh"] = round_to(*z.mean_speed_kmh, 100);
        o["congestion"] = z.congestion;
        Json ce = Json::object();
        for (const auto& [cls, n] : z.class_entries) ce[cls] = n;
        o["class_entries"] = std::move(ce);
        zones[name] = std::move(o);
    }
    j["zones"] = std::move(zones);
    Json speeds = Json::array();
    for (double s : a.speeds_kmh) speeds.push_back(round_to(s, 100));
    j["speeds_kmh"] = std::move(speeds);
    return j.dump();
}

}  // namespace itscam::analytics
