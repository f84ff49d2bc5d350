// parse_analytics_config / validate_analytics. The accepted keys (JSON form of a camera's `analytics:` YAML
// section; docs/analytics.md has the reference and a full example):
//
//   lines[]:   name (required), a: [x, y] (required), b: [x, y] (required), forward: str, backward: str,
//              count: both | forward | backward, classes: [int]
//   zones[]:   name (required), polygon: [[x, y], ...] (required, >= 3), classes: [int], overcrowd_threshold: int,
//              queue_speed_kmh, queue_speed_px_s, slow_speed_kmh, queued_speed_kmh: number,
//              queued_min_queue: int, hold_s: number
//   speed:     points: [[x, y] x 4] (required), edges_m: [4 numbers] (required), diagonal_m, max_speed_kmh,
//              window_s: number, area: [[x, y], ...] (>= 3)
//   tracker:   high_score, low_score, new_track_score, match_iou, low_match_iou, lost_timeout_s, confirm_s: number,
//              confirm_hits: int, class_aware: bool, class_memory_s, class_switch_ratio: number,
//              observation_reupdate, observation_recovery: bool, ocm_weight, ocm_window_s: number
//   interval_s: number
//
// Any other key, and any value of the wrong type, is an error that starts with the value's path
// ("zones[0].polygon[2]: ..."): a typo must not silently turn a feature off.
#include "analytics/analytics_config.h"

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analytics/geometry.h"
#include "analytics/homography.h"

namespace itscam::analytics {

namespace {

using nlohmann::json;

Status at(const std::string& path, const std::string& msg) { return invalid_argument(path + ": " + msg); }

std::string idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }
std::string key(const std::string& path, const std::string& k) { return path.empty() ? k : path + "." + k; }

const char* type_name(const json& j) {
    if (j.is_boolean()) return "a boolean";
    if (j.is_number()) return "a number";
    if (j.is_string()) return "a string";
    if (j.is_array()) return "a list";
    if (j.is_object()) return "a mapping";
    return "null";
}

Status expect_object(const json& j, const std::string& path, std::initializer_list<const char*> allowed) {
    if (!j.is_object()) return at(path.empty() ? "analytics" : path, std::string("must be a mapping, not ") + type_name(j));
    for (const auto& [k, v] : j.items()) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || k == a;
        if (!ok) {
            std::string list;
            for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            return at(key(path, k), "unknown key (expected one of: " + list + ")");
        }
    }
    return Status::ok();
}

Result<double> number(const json& j, const std::string& path) {
    if (!j.is_number()) return at(path, std::string("must be a number, not ") + type_name(j));
    const double v = j.get<double>();
    if (!std::isfinite(v)) return at(path, "must be finite");
    return v;
}

Result<int> integer(const json& j, const std::string& path) {
    if (!j.is_number_integer()) return at(path, std::string("must be an integer, not ") + type_name(j));
    const int64_t v = j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())
                          ? std::numeric_limits<int64_t>::max()
                          : j.get<int64_t>();
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return at(path, "out of range");
    return static_cast<int>(v);
}

Result<std::string> string(const json& j, const std::string& path) {
    if (!j.is_string()) return at(path, std::string("must be a string, not ") + type_name(j));
    return j.get<std::string>();
}

Result<Point> point(const json& j, const std::string& path) {
    if (!j.is_array() || j.size() != 2) return at(path, "must be a point [x, y]");
    ITSCAM_ASSIGN_OR_RETURN(double x, number(j[0], idx(path, 0)));
    ITSCAM_ASSIGN_OR_RETURN(double y, number(j[1], idx(path, 1)));
    return Point{x, y};
}

Result<std::vector<Point>> points(const json& j, const std::string& path) {
    if (!j.is_array()) return at(path, std::string("must be a list of points [[x, y], ...], not ") + type_name(j));
    std::vector<Point> out;
    for (size_t i = 0; i < j.size(); ++i) {
        ITSCAM_ASSIGN_OR_RETURN(Point p, point(j[i], idx(path, i)));
        out.push_back(p);
    }
    return out;
}

Result<std::vector<int>> integers(const json& j, const std::string& path) {
    if (!j.is_array()) return at(path, std::string("must be a list of class ids, not ") + type_name(j));
    std::vector<int> out;
    for (size_t i = 0; i < j.size(); ++i) {
        ITSCAM_ASSIGN_OR_RETURN(int v, integer(j[i], idx(path, i)));
        out.push_back(v);
    }
    return out;
}

Result<std::vector<double>> numbers(const json& j, const std::string& path) {
    if (!j.is_array()) return at(path, std::string("must be a list of numbers, not ") + type_name(j));
    std::vector<double> out;
    for (size_t i = 0; i < j.size(); ++i) {
        ITSCAM_ASSIGN_OR_RETURN(double v, number(j[i], idx(path, i)));
        out.push_back(v);
    }
    return out;
}

// Reads an optional member into `out` with `read`; a missing key leaves the default.
template <typename T, typename F>
Status opt(const json& obj, const std::string& path, const char* k, T& out, F read) {
    const auto it = obj.find(k);
    if (it == obj.end()) return Status::ok();
    auto r = read(*it, key(path, k));
    if (!r.is_ok()) return r.status();
    out = static_cast<T>(*r);
    return Status::ok();
}

template <typename T, typename F>
Status req(const json& obj, const std::string& path, const char* k, T& out, F read) {
    if (!obj.contains(k)) return at(key(path, k), "missing (required)");
    return opt(obj, path, k, out, read);
}

Result<LineConfig> parse_line(const json& j, const std::string& path) {
    ITSCAM_RETURN_IF_ERROR(expect_object(j, path, {"name", "a", "b", "forward", "backward", "count", "classes"}));
    LineConfig l;
    ITSCAM_RETURN_IF_ERROR(req(j, path, "name", l.name, string));
    ITSCAM_RETURN_IF_ERROR(req(j, path, "a", l.a, point));
    ITSCAM_RETURN_IF_ERROR(req(j, path, "b", l.b, point));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "forward", l.forward_name, string));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "backward", l.backward_name, string));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "count", l.count, string));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "classes", l.classes, integers));
    return l;
}

Result<ZoneConfig> parse_zone(const json& j, const std::string& path) {
    ITSCAM_RETURN_IF_ERROR(expect_object(
        j, path,
        {"name", "polygon", "classes", "overcrowd_threshold", "queue_speed_kmh", "queue_speed_px_s", "slow_speed_kmh",
         "queued_speed_kmh", "queued_min_queue", "hold_s"}));
    ZoneConfig z;
    ITSCAM_RETURN_IF_ERROR(req(j, path, "name", z.name, string));
    ITSCAM_RETURN_IF_ERROR(req(j, path, "polygon", z.polygon, points));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "classes", z.classes, integers));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "overcrowd_threshold", z.overcrowd_threshold, integer));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "queue_speed_kmh", z.queue_speed_kmh, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "queue_speed_px_s", z.queue_speed_px_s, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "slow_speed_kmh", z.slow_speed_kmh, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "queued_speed_kmh", z.queued_speed_kmh, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "queued_min_queue", z.queued_min_queue, integer));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "hold_s", z.hold_s, number));
    return z;
}

Result<SpeedCalibration> parse_speed(const json& j, const std::string& path) {
    ITSCAM_RETURN_IF_ERROR(expect_object(j, path, {"points", "edges_m", "diagonal_m", "max_speed_kmh", "window_s", "area"}));
    SpeedCalibration s;
    ITSCAM_RETURN_IF_ERROR(req(j, path, "points", s.image_points, points));
    ITSCAM_RETURN_IF_ERROR(req(j, path, "edges_m", s.edge_lengths_m, numbers));
    double diag = 0;
    if (j.contains("diagonal_m")) {
        ITSCAM_RETURN_IF_ERROR(opt(j, path, "diagonal_m", diag, number));
        s.diagonal_m = diag;
    }
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "max_speed_kmh", s.max_speed_kmh, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "window_s", s.window_s, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "area", s.area, points));
    return s;
}

Result<bool> boolean(const json& j, const std::string& path) {
    if (!j.is_boolean()) return at(path, std::string("must be true or false, not ") + type_name(j));
    return j.get<bool>();
}

Status parse_tracker(const json& j, const std::string& path, TrackerOptions& t) {
    ITSCAM_RETURN_IF_ERROR(expect_object(j, path,
                                         {"high_score", "low_score", "new_track_score", "match_iou", "low_match_iou",
                                          "lost_timeout_s", "confirm_s", "confirm_hits", "class_aware",
                                          "class_memory_s", "class_switch_ratio", "observation_reupdate",
                                          "observation_recovery", "ocm_weight", "ocm_window_s"}));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "high_score", t.high_score, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "low_score", t.low_score, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "new_track_score", t.new_track_score, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "match_iou", t.match_iou, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "low_match_iou", t.low_match_iou, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "lost_timeout_s", t.lost_timeout_s, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "confirm_s", t.confirm_s, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "confirm_hits", t.confirm_hits, integer));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "class_aware", t.class_aware, boolean));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "class_memory_s", t.class_memory_s, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "class_switch_ratio", t.class_switch_ratio, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "observation_reupdate", t.observation_reupdate, boolean));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "observation_recovery", t.observation_recovery, boolean));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "ocm_weight", t.ocm_weight, number));
    ITSCAM_RETURN_IF_ERROR(opt(j, path, "ocm_window_s", t.ocm_window_s, number));
    return Status::ok();
}

// ---- validation ----

bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
    return true;
}

std::string fmt_point(Point p) {
    std::ostringstream os;
    os << "(" << p.x << ", " << p.y << ")";
    return os.str();
}

Status in_frame(Point p, const std::string& path, int w, int h) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) return at(path, "coordinates must be finite");
    if (w > 0 && h > 0 && (p.x < 0 || p.y < 0 || p.x > w || p.y > h))
        return at(path, fmt_point(p) + " is outside the " + std::to_string(w) + "x" + std::to_string(h) + " frame");
    return Status::ok();
}

Status check_classes(const std::vector<int>& classes, const std::string& path) {
    for (size_t i = 0; i < classes.size(); ++i)
        if (classes[i] < 0) return at(idx(path, i), "class ids are >= 0, got " + std::to_string(classes[i]));
    return Status::ok();
}

Status check_range(double v, double lo, double hi, const std::string& path, bool lo_open = false) {
    if (!std::isfinite(v) || v < lo || v > hi || (lo_open && v == lo)) {
        std::ostringstream os;
        os << "must be " << (lo_open ? "> " : ">= ") << lo << " and <= " << hi << ", got " << v;
        return at(path, os.str());
    }
    return Status::ok();
}

Status check_line(const LineConfig& l, const std::string& p, int w, int h) {
    if (!valid_name(l.name)) return at(key(p, "name"), "'" + l.name + "' must be 1-64 of [A-Za-z0-9_.-]");
    ITSCAM_RETURN_IF_ERROR(in_frame(l.a, key(p, "a"), w, h));
    ITSCAM_RETURN_IF_ERROR(in_frame(l.b, key(p, "b"), w, h));
    if (l.a == l.b) return at(key(p, "b"), "same point as a " + fmt_point(l.a) + ": a zero-length line");
    if (distance(l.a, l.b) < 1) return at(key(p, "b"), "zero-length line (a and b less than 1 pixel apart)");
    for (const auto* n : {&l.forward_name, &l.backward_name}) {
        const std::string k = n == &l.forward_name ? "forward" : "backward";
        if (n->empty() || n->size() > 64) return at(key(p, k), "a direction name of 1-64 characters");
    }
    if (l.forward_name == l.backward_name)
        return at(key(p, "backward"), "'" + l.backward_name + "' is the forward name too; the directions need two names");
    if (l.count != "both" && l.count != "forward" && l.count != "backward")
        return at(key(p, "count"), "'" + l.count + "' is not one of both, forward, backward");
    return check_classes(l.classes, key(p, "classes"));
}

Status check_zone(const ZoneConfig& z, const std::string& p, int w, int h) {
    if (!valid_name(z.name)) return at(key(p, "name"), "'" + z.name + "' must be 1-64 of [A-Za-z0-9_.-]");
    const std::string pp = key(p, "polygon");
    if (z.polygon.size() < 3)
        return at(pp, "needs at least 3 points, got " + std::to_string(z.polygon.size()));
    for (size_t i = 0; i < z.polygon.size(); ++i) {
        ITSCAM_RETURN_IF_ERROR(in_frame(z.polygon[i], idx(pp, i), w, h));
        for (size_t k = 0; k < i; ++k)
            if (z.polygon[k] == z.polygon[i])
                return at(idx(pp, i), "same point as polygon[" + std::to_string(k) + "] " + fmt_point(z.polygon[i]));
    }
    // All points on one line first (such a polygon also "folds back" on itself), then crossings, then slivers.
    size_t far = 0;
    for (size_t i = 1; i < z.polygon.size(); ++i)
        if (distance(z.polygon[0], z.polygon[i]) > distance(z.polygon[0], z.polygon[far])) far = i;
    bool on_one_line = true;
    for (const Point& q : z.polygon)
        on_one_line = on_one_line && distance_to_line(z.polygon[0], z.polygon[far], q) < 0.5;
    if (on_one_line) return at(pp, "zero area (the points are on one line)");
    if (const auto e = self_intersection(z.polygon))
        return at(pp, "self-intersecting: edge " + std::to_string(e->i) + " (polygon[" + std::to_string(e->i) +
                          "] to the next point) crosses edge " + std::to_string(e->j));
    if (polygon_area(z.polygon) < 1) return at(pp, "zero area (less than 1 square pixel)");
    ITSCAM_RETURN_IF_ERROR(check_classes(z.classes, key(p, "classes")));
    if (z.overcrowd_threshold < 0) return at(key(p, "overcrowd_threshold"), "must be >= 0 (0: off)");
    ITSCAM_RETURN_IF_ERROR(check_range(z.queue_speed_kmh, 0, 1000, key(p, "queue_speed_kmh")));
    ITSCAM_RETURN_IF_ERROR(check_range(z.queue_speed_px_s, 0, 1e5, key(p, "queue_speed_px_s")));
    ITSCAM_RETURN_IF_ERROR(check_range(z.slow_speed_kmh, 0, 1000, key(p, "slow_speed_kmh")));
    ITSCAM_RETURN_IF_ERROR(check_range(z.queued_speed_kmh, 0, z.slow_speed_kmh, key(p, "queued_speed_kmh")));
    if (z.queued_min_queue < 1) return at(key(p, "queued_min_queue"), "must be >= 1");
    return check_range(z.hold_s, 0, 3600, key(p, "hold_s"));
}

Status check_speed(const SpeedCalibration& s, int w, int h) {
    if (s.image_points.size() != 4)
        return at("speed.points", "needs exactly 4 points, got " + std::to_string(s.image_points.size()));
    for (size_t i = 0; i < 4; ++i) {
        ITSCAM_RETURN_IF_ERROR(in_frame(s.image_points[i], idx("speed.points", i), w, h));
        for (size_t k = 0; k < i; ++k)
            if (s.image_points[k] == s.image_points[i])
                return at(idx("speed.points", i), "same point as points[" + std::to_string(k) + "]");
    }
    if (s.edge_lengths_m.size() != 4)
        return at("speed.edges_m", "needs exactly 4 lengths, got " + std::to_string(s.edge_lengths_m.size()));
    for (size_t i = 0; i < 4; ++i)
        ITSCAM_RETURN_IF_ERROR(check_range(s.edge_lengths_m[i], 0, 10000, idx("speed.edges_m", i), true));
    if (s.diagonal_m) ITSCAM_RETURN_IF_ERROR(check_range(*s.diagonal_m, 0, 20000, "speed.diagonal_m", true));
    ITSCAM_RETURN_IF_ERROR(check_range(s.max_speed_kmh, 0, 1000, "speed.max_speed_kmh", true));
    ITSCAM_RETURN_IF_ERROR(check_range(s.window_s, 0, 30, "speed.window_s", true));
    if (!s.area.empty()) {
        const std::string pp = "speed.area";
        if (s.area.size() < 3) return at(pp, "needs at least 3 points, got " + std::to_string(s.area.size()));
        for (size_t i = 0; i < s.area.size(); ++i) ITSCAM_RETURN_IF_ERROR(in_frame(s.area[i], idx(pp, i), w, h));
        if (const auto e = self_intersection(s.area))
            return at(pp, "self-intersecting: edge " + std::to_string(e->i) + " crosses edge " + std::to_string(e->j));
        if (polygon_area(s.area) < 1) return at(pp, "zero area (less than 1 square pixel)");
    }
    const auto g = GroundPlane::create(s);
    if (!g.is_ok()) {
        const std::string& m = g.status().message();
        const bool keyed = m.rfind("edges_m", 0) == 0 || m.rfind("diagonal_m", 0) == 0 || m.rfind("points:", 0) == 0 ||
                           m.rfind("area", 0) == 0;
        return invalid_argument((keyed ? "speed." : "speed.points: ") + m);
    }
    return Status::ok();
}

}  // namespace

Status validate_analytics(const AnalyticsConfig& cfg, int frame_w, int frame_h) {
    std::map<std::string, std::string> names;  // name -> path of its first use
    auto claim = [&](const std::string& name, const std::string& path) -> Status {
        const auto [it, fresh] = names.emplace(name, path);
        if (!fresh) return at(key(path, "name"), "'" + name + "' is already used by " + it->second);
        return Status::ok();
    };
    for (size_t i = 0; i < cfg.lines.size(); ++i) {
        const std::string p = idx("lines", i);
        ITSCAM_RETURN_IF_ERROR(check_line(cfg.lines[i], p, frame_w, frame_h));
        ITSCAM_RETURN_IF_ERROR(claim(cfg.lines[i].name, p));
    }
    for (size_t i = 0; i < cfg.zones.size(); ++i) {
        const std::string p = idx("zones", i);
        ITSCAM_RETURN_IF_ERROR(check_zone(cfg.zones[i], p, frame_w, frame_h));
        ITSCAM_RETURN_IF_ERROR(claim(cfg.zones[i].name, p));
    }
    if (cfg.speed) ITSCAM_RETURN_IF_ERROR(check_speed(*cfg.speed, frame_w, frame_h));
    ITSCAM_RETURN_IF_ERROR(validate_tracker_options(cfg.tracker));  // "tracker.<field>: ..."
    return check_range(cfg.interval_s, 1, 86400, "interval_s");
}

Result<AnalyticsConfig> parse_analytics_config(const std::string& json_text, int frame_w, int frame_h) {
    const json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) return invalid_argument("analytics: not valid JSON");
    AnalyticsConfig cfg;
    if (root.is_null()) return cfg;  // `analytics:` with no value: nothing configured
    ITSCAM_RETURN_IF_ERROR(expect_object(root, "", {"lines", "zones", "speed", "tracker", "interval_s"}));
    if (const auto it = root.find("lines"); it != root.end()) {
        if (!it->is_array()) return at("lines", std::string("must be a list, not ") + type_name(*it));
        for (size_t i = 0; i < it->size(); ++i) {
            ITSCAM_ASSIGN_OR_RETURN(LineConfig l, parse_line((*it)[i], idx("lines", i)));
            cfg.lines.push_back(std::move(l));
        }
    }
    if (const auto it = root.find("zones"); it != root.end()) {
        if (!it->is_array()) return at("zones", std::string("must be a list, not ") + type_name(*it));
        for (size_t i = 0; i < it->size(); ++i) {
            ITSCAM_ASSIGN_OR_RETURN(ZoneConfig z, parse_zone((*it)[i], idx("zones", i)));
            cfg.zones.push_back(std::move(z));
        }
    }
    if (const auto it = root.find("speed"); it != root.end()) {
        ITSCAM_ASSIGN_OR_RETURN(SpeedCalibration s, parse_speed(*it, "speed"));
        cfg.speed = std::move(s);
    }
    if (const auto it = root.find("tracker"); it != root.end())
        ITSCAM_RETURN_IF_ERROR(parse_tracker(*it, "tracker", cfg.tracker));
    ITSCAM_RETURN_IF_ERROR(opt(root, "", "interval_s", cfg.interval_s, number));
    ITSCAM_RETURN_IF_ERROR(validate_analytics(cfg, frame_w, frame_h));
    return cfg;
}

}  // namespace itscam::analytics
