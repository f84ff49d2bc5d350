// Counting on one line: per track, a crossing of the segment (the on-the-segment rule on the foot point's move
// between two real observations) that the track then confirms by moving clearly away on the far side.
//
// Why the clearance: a vehicle that stops on the line jitters across it frame after frame. A crossing is counted
// only when the track's established side (the side it was last seen clearly on: foot point at least
// max(8 px, 10% of the box height) from the line) flips, and the last on-segment crossing led to the new side. So
// every count needs a real traversal, and a track counts once per line unless it comes back (a U-turn counts the
// other direction, after the same clearance). A track that vanishes (tracker timeout) after crossing onto the far
// side, having come clearly from the near side, is counted then.
//
// Unconfirmed tracks are followed too: a track confirmed after its crossing still counts it, at confirmation. The
// class filter and the `count` setting use the track's smoothed class and apply when the count is made.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "analytics/analytics_config.h"
#include "analytics/track.h"

namespace itscam::analytics {

struct LineCrossing {
    TrackedObject track;   // the track when the count was made
    bool forward = true;   // left of a->b to right (screen, y down)
};

// The clearance in pixels for a box of height box_h: max(8, 0.1 * box_h).
double line_clearance_px(double box_h);

class LineCounter {
public:
    explicit LineCounter(LineConfig cfg);

    // One frame's live tracks (the tracker's output, coasting ones included: only matched observations move the
    // state; a track missing from the list has ended). Returns the crossings counted in this frame.
    std::vector<LineCrossing> update(const std::vector<TrackedObject>& tracks);
    // Drops every track's state (tracker reset); counts made so far stay made.
    void reset();

    const LineConfig& config() const { return cfg_; }
    const std::string& direction_name(bool forward) const { return forward ? cfg_.forward_name : cfg_.backward_name; }
    size_t tracked() const { return state_.size(); }

private:
    struct TrackState {
        int established = 0;     // side the track was last clearly on (0: never clear of the line yet)
        int crossed_to = 0;      // side of the latest on-the-segment crossing since then (0: none)
        Point last;              // last matched foot point off the line
        int last_side = 0;       // its side
        std::vector<bool> held;  // directions counted while unconfirmed, released at confirmation
        TrackedObject obj;       // latest report
        bool seen = false;       // in this frame's list
    };
    bool wanted(const TrackedObject& t, bool forward) const;
    void count(TrackState& s, bool forward, std::vector<LineCrossing>& out) const;

    LineConfig cfg_;
    std::unordered_map<int64_t, TrackState> state_;
};

}  // namespace itscam::analytics
