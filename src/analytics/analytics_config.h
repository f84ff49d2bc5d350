// A camera's `analytics:` section: counting lines, zones, the ground-plane calibration for speed, congestion
// thresholds and the tracker's options. Plain data; parse_analytics_config() reads it from the JSON form of the YAML
// section and validate_analytics() checks the geometry (errors say which line/zone/point is wrong; the YAML reader
// adds file:line).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analytics/tracker.h"
#include "core/status.h"

namespace itscam::analytics {

struct Point {
    double x = 0, y = 0;
    bool operator==(const Point&) const = default;
};

// A counting line from a to b (source pixels). An object crosses it when its foot point (bottom centre of the box)
// moves from one side of the line to the other while its projection falls on the segment (DeepStream's
// "on the segment" rule, not the infinite line). "forward" is a crossing from the left of a->b to its right in image
// coordinates (y down): for a = (0,y), b = (W,y), forward is top to bottom.
struct LineConfig {
    std::string name;              // [A-Za-z0-9_.-]{1,64}, unique per camera
    Point a, b;
    std::string forward_name = "forward";    // the label of each direction in counts and events
    std::string backward_name = "backward";
    std::string count = "both";    // both | forward | backward: which directions are counted
    std::vector<int> classes;      // empty: every class
    bool operator==(const LineConfig&) const = default;
};

struct ZoneConfig {
    std::string name;              // unique per camera (zones and lines share one name space)
    std::vector<Point> polygon;    // >= 3 points, simple (not self-intersecting), inside the frame when known
    std::vector<int> classes;      // empty: every class
    int overcrowd_threshold = 0;   // occupancy at or above this raises an overcrowded flag (0: off)
    double queue_speed_kmh = 5;    // a track in the zone slower than this (calibrated) counts as queued ...
    double queue_speed_px_s = 8;   // ... or, without calibration, whose foot point moves slower than this
    // Congestion level from mean speed and occupancy, with hysteresis: the level changes only after the condition
    // has held for hold_s.
    double slow_speed_kmh = 30;    // mean speed below this (calibrated) -> at least "slow"
    double queued_speed_kmh = 10;  // mean speed below this, or queue >= queued_min_queue -> "queued"
    int queued_min_queue = 3;
    double hold_s = 5;
    bool operator==(const ZoneConfig&) const = default;
};

// Ground-plane homography from 4 image points (a quadrilateral on the road, in order) and the real lengths of its
// edges in metres: edge i runs from image_points[i] to image_points[(i+1) % 4]. The quadrilateral is taken to be a
// rectangle in the world when its opposite edges are equal within 10%, and otherwise a general quadrilateral whose
// shape is solved from the four lengths plus the diagonal (`diagonal_m`, from point 0 to point 2).
struct SpeedCalibration {
    std::vector<Point> image_points;   // exactly 4
    std::vector<double> edge_lengths_m;  // exactly 4, > 0
    std::optional<double> diagonal_m;  // needed when the quadrilateral is not a rectangle
    // The image region where speeds are reported (>= 3 points, source pixels; every point in front of the horizon).
    // Empty: the quadrilateral grown by 10 %. Set it when the markings measured span one lane but the speeds of
    // the whole carriageway between them are wanted: the plane model holds across the road at the same distance.
    std::vector<Point> area;
    double max_speed_kmh = 250;        // speeds above this are not reported (glitches)
    double window_s = 1.0;             // current speed = displacement over this window
    bool operator==(const SpeedCalibration&) const = default;
};

struct AnalyticsConfig {
    std::vector<LineConfig> lines;
    std::vector<ZoneConfig> zones;
    std::optional<SpeedCalibration> speed;
    TrackerOptions tracker;
    double interval_s = 60;   // aggregation interval for per-interval counts, occupancy % and history rows
    // The camera has an `analytics:` section, even one without lines or zones: the tracker runs and track ids
    // appear in the outputs (set by the config reader).
    bool enabled = false;

    bool empty() const { return !enabled && lines.empty() && zones.empty() && !speed; }
    bool operator==(const AnalyticsConfig&) const = default;
};

// From the JSON text of a camera's `analytics:` value. Unknown keys, wrong types and bad geometry are errors of
// kInvalidArgument whose message starts with the path of the offending value ("lines[1].a: ..."), so that the YAML
// reader can point at it. frame_w/frame_h (0: unknown) let it refuse zones and lines outside the frame.
Result<AnalyticsConfig> parse_analytics_config(const std::string& json_text, int frame_w = 0, int frame_h = 0);
// The JSON form that parse_analytics_config() reads back to an equal config (--print-config, the API).
std::string analytics_config_json(const AnalyticsConfig& cfg);
// The geometry checks alone: identical points, a zero-length line, a self-intersecting or zero-area polygon, a
// degenerate homography (collinear points), points outside the frame.
Status validate_analytics(const AnalyticsConfig& cfg, int frame_w = 0, int frame_h = 0);

}  // namespace itscam::analytics
