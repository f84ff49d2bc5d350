#include "analytics/line_counter.h"

#include <algorithm>

#include "analytics/geometry.h"

namespace itscam::analytics {

double line_clearance_px(double box_h) { return std::max(8.0, 0.1 * box_h); }

LineCounter::LineCounter(LineConfig cfg) : cfg_(std::move(cfg)) {}

void LineCounter::reset() { state_.clear(); }

bool LineCounter::wanted(const TrackedObject& t, bool forward) const {
    if (cfg_.count == "forward" && !forward) return false;
    if (cfg_.count == "backward" && forward) return false;
    return cfg_.classes.empty() || std::find(cfg_.classes.begin(), cfg_.classes.end(), t.class_id) != cfg_.classes.end();
}

void LineCounter::count(TrackState& s, bool forward, std::vector<LineCrossing>& out) const {
    if (!s.obj.confirmed) {
        s.held.push_back(forward);
        return;
    }
    if (wanted(s.obj, forward)) out.push_back({s.obj, forward});
}

std::vector<LineCrossing> LineCounter::update(const std::vector<TrackedObject>& tracks) {
    std::vector<LineCrossing> out;
    for (auto& [id, s] : state_) s.seen = false;
    for (const TrackedObject& t : tracks) {
        TrackState& s = state_[t.track_id];
        s.seen = true;
        s.obj = t;
        // Released at confirmation: the crossings the track made before it was confirmed.
        if (t.confirmed && !s.held.empty()) {
            for (bool fwd : s.held)
                if (wanted(t, fwd)) out.push_back({t, fwd});
            s.held.clear();
        }
        if (!t.matched) continue;  // a coasting box is a prediction, not an observation
        const Point p{t.foot_x(), t.foot_y()};
        const int side = side_of(cfg_.a, cfg_.b, p);
        if (side == 0) continue;  // exactly on the line: not yet across; the last point off it stays the reference
        if (s.last_side != 0 && side != s.last_side) {
            // Across the infinite line: through the segment sets the crossing; beside an end of it cancels one.
            s.crossed_to = segment_crossing(cfg_.a, cfg_.b, s.last, p) != 0 ? side : 0;
        }
        s.last = p;
        s.last_side = side;
        if (distance_to_line(cfg_.a, cfg_.b, p) < line_clearance_px(static_cast<double>(t.y2 - t.y1))) continue;
        // Clearly on `side`: a flip of the established side after a crossing onto it is a count.
        if (side != s.established && s.crossed_to == side) count(s, side > 0, out);
        s.established = side;
        s.crossed_to = 0;
    }
    // Tracks that ended: one that crossed onto the far side, coming clearly from the near side, but vanished before
    // clearing the line still counts (if it was confirmed; held crossings of an unconfirmed track die with it).
    for (auto it = state_.begin(); it != state_.end();) {
        TrackState& s = it->second;
        if (s.seen) {
            ++it;
            continue;
        }
        if (s.obj.confirmed && s.crossed_to != 0 && s.established == -s.crossed_to && s.last_side == s.crossed_to &&
            wanted(s.obj, s.crossed_to > 0))
            out.push_back({s.obj, s.crossed_to > 0});
        it = state_.erase(it);
    }
    return out;
}

}  // namespace itscam::analytics
