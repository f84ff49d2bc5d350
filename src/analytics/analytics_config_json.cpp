// AnalyticsConfig -> the JSON form parse_analytics_config() reads (analytics_config.h): the same keys as a camera's
// `analytics:` section in YAML (docs/analytics.md).
#include <nlohmann/json.hpp>

#include "analytics/analytics_config.h"

namespace itscam::analytics {

namespace {

nlohmann::json point_json(const Point& p) { return nlohmann::json::array({p.x, p.y}); }

nlohmann::json points_json(const std::vector<Point>& ps) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& p : ps) a.push_back(point_json(p));
    return a;
}

}  // namespace

std::string analytics_config_json(const AnalyticsConfig& cfg) {
    nlohmann::json j = nlohmann::json::object();
    nlohmann::json lines = nlohmann::json::array();
    for (const auto& l : cfg.lines) {
        lines.push_back({{"name", l.name},
                         {"a", point_json(l.a)},
                         {"b", point_json(l.b)},
                         {"forward", l.forward_name},
                         {"backward", l.backward_name},
                         {"count", l.count},
                         {"classes", l.classes}});
    }
    if (!lines.empty()) j["lines"] = std::move(lines);
    nlohmann::json zones = nlohmann::json::array();
    for (const auto& z : cfg.zones) {
        zones.push_back({{"name", z.name},
                         {"polygon", points_json(z.polygon)},
                         {"classes", z.classes},
                         {"overcrowd_threshold", z.overcrowd_threshold},
                         {"queue_speed_kmh", z.queue_speed_kmh},
                         {"queue_speed_px_s", z.queue_speed_px_s},
                         {"slow_speed_kmh", z.slow_speed_kmh},
                         {"queued_speed_kmh", z.queued_speed_kmh},
                         {"queued_min_queue", z.queued_min_queue},
                         {"hold_s", z.hold_s}});
    }
    if (!zones.empty()) j["zones"] = std::move(zones);
    if (cfg.speed) {
        const SpeedCalibration& s = *cfg.speed;
        nlohmann::json sp = {{"points", points_json(s.image_points)},
                             {"edges_m", s.edge_lengths_m},
                             {"max_speed_kmh", s.max_speed_kmh},
                             {"window_s", s.window_s}};
        if (s.diagonal_m) sp["diagonal_m"] = *s.diagonal_m;
        if (!s.area.empty()) sp["area"] = points_json(s.area);
        j["speed"] = std::move(sp);
    }
    const TrackerOptions& t = cfg.tracker;
    j["tracker"] = {{"high_score", t.high_score},         {"low_score", t.low_score},
                    {"new_track_score", t.new_track_score}, {"match_iou", t.match_iou},
                    {"low_match_iou", t.low_match_iou},   {"lost_timeout_s", t.lost_timeout_s},
                    {"confirm_s", t.confirm_s},           {"confirm_hits", t.confirm_hits},
                    {"class_aware", t.class_aware},       {"class_memory_s", t.class_memory_s},
                    {"class_switch_ratio", t.class_switch_ratio},
                    {"observation_reupdate", t.observation_reupdate},
                    {"observation_recovery", t.observation_recovery},
                    {"ocm_weight", t.ocm_weight},         {"ocm_window_s", t.ocm_window_s}};
    j["interval_s"] = cfg.interval_s;
    return j.dump();
}

}  // namespace itscam::analytics
