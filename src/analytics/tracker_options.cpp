// Range checks of TrackerOptions, shared by the config reader (which reports them) and the Tracker (which falls back
// to the default of a bad field rather than run with, say, a NaN lost buffer that would never drop a track).
#include <algorithm>
#include <cmath>
#include <string>

#include "analytics/tracker.h"

namespace itscam::analytics {

namespace {

bool unit(double v) { return std::isfinite(v) && v >= 0 && v <= 1; }
bool positive(double v) { return std::isfinite(v) && v > 0; }
bool non_negative(double v) { return std::isfinite(v) && v >= 0; }

// Calls bad(field, why) for each invalid field, in declaration order.
template <typename Bad>
void check(const TrackerOptions& o, Bad bad) {
    if (!unit(o.high_score)) bad("high_score", "must be in [0, 1]");
    if (!unit(o.low_score)) bad("low_score", "must be in [0, 1]");
    else if (unit(o.high_score) && o.low_score > o.high_score) bad("low_score", "must not exceed high_score");
    if (!unit(o.new_track_score)) bad("new_track_score", "must be in [0, 1]");
    if (!unit(o.match_iou)) bad("match_iou", "must be in [0, 1]");
    if (!unit(o.low_match_iou)) bad("low_match_iou", "must be in [0, 1]");
    if (!positive(o.lost_timeout_s)) bad("lost_timeout_s", "must be a number of seconds > 0");
    if (!non_negative(o.confirm_s)) bad("confirm_s", "must be a number of seconds >= 0");
    if (o.confirm_hits < 1) bad("confirm_hits", "must be >= 1");
    if (!positive(o.class_memory_s)) bad("class_memory_s", "must be a number of seconds > 0");
    if (!(std::isfinite(o.class_switch_ratio) && o.class_switch_ratio >= 1)) bad("class_switch_ratio", "must be >= 1");
    if (!unit(o.ocm_weight)) bad("ocm_weight", "must be in [0, 1]");
    if (!positive(o.ocm_window_s)) bad("ocm_window_s", "must be a number of seconds > 0");
}

}  // namespace

Status validate_tracker_options(const TrackerOptions& opt) {
    std::string first;
    check(opt, [&](const char* field, const char* why) {
        if (first.empty()) first = std::string("tracker.") + field + ": " + why;
    });
    if (!first.empty()) return invalid_argument(first);
    return Status::ok();
}

TrackerOptions sanitized_tracker_options(TrackerOptions o) {
    const TrackerOptions d;
    auto reset = [&](const std::string& field, const char*) {
        if (field == "high_score") o.high_score = d.high_score;
        if (field == "low_score") o.low_score = std::min(d.low_score, o.high_score);
        if (field == "new_track_score") o.new_track_score = d.new_track_score;
        if (field == "match_iou") o.match_iou = d.match_iou;
        if (field == "low_match_iou") o.low_match_iou = d.low_match_iou;
        if (field == "lost_timeout_s") o.lost_timeout_s = d.lost_timeout_s;
        if (field == "confirm_s") o.confirm_s = d.confirm_s;
        if (field == "confirm_hits") o.confirm_hits = d.confirm_hits;
        if (field == "class_memory_s") o.class_memory_s = d.class_memory_s;
        if (field == "class_switch_ratio") o.class_switch_ratio = d.class_switch_ratio;
        if (field == "ocm_weight") o.ocm_weight = d.ocm_weight;
        if (field == "ocm_window_s") o.ocm_window_s = d.ocm_window_s;
    };
    // Twice: a high_score put back to its default can leave low_score above it, which the second pass fixes.
    check(o, reset);
    check(o, reset);
    return o;
}

}  // namespace itscam::analytics
