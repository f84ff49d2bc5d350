// Multi-object tracker, one per camera: ByteTrack's two-stage association (high-score detections against every
// track first, then low-score detections against the tracks still unmatched), OC-SORT's observation-centric
// re-update (a track found again after coasting is re-fitted along a virtual path between its last observation and
// the new one, so the Kalman velocity does not carry the error accumulated while it was lost), and a constant-velocity
// Kalman filter in image space over (cx, cy, aspect, height).
//
// Time is in seconds of stream time, not frames: the lost-track buffer and the confirmation rule hold at any frame
// rate and across dropped frames (a 5 fps camera and a 30 fps camera keep a track for the same 1.5 s).
#pragma once

#include <memory>
#include <vector>

#include "analytics/track.h"
#include "core/status.h"
#include "vision/detection.h"

namespace itscam::analytics {

struct TrackerOptions {
    float high_score = 0.5f;     // first association stage: detections with score >= high_score
    float low_score = 0.1f;      // second stage: low_score <= score < high_score (only extend existing tracks)
    float new_track_score = 0.6f;  // an unmatched high detection starts a track only at this score or above
    float match_iou = 0.2f;      // minimum IoU for the first stage (ByteTrack's match_thresh 0.8 as a cost)
    float low_match_iou = 0.5f;  // minimum IoU for the second stage
    double lost_timeout_s = 1.5; // a track unmatched this long is removed (the lost-track buffer)
    double confirm_s = 0.2;      // a track is confirmed once matched at least confirm_hits times over >= confirm_s
    int confirm_hits = 2;
    bool class_aware = false;    // false: a car may match a truck box (class flicker); class smoothed per track
    // Class smoothing: each match votes for its class with its score; votes decay with this time constant [s] ...
    double class_memory_s = 3.0;
    // ... and the reported class changes only when another class's votes exceed the current one's by this factor.
    float class_switch_ratio = 1.5f;
    // OC-SORT: re-fit a track found again after coasting along the straight path from its last observation (ORU).
    bool observation_reupdate = true;
    // OC-SORT: a third stage matching high detections left over to the tracks left over by their last observed box
    // instead of the prediction (a track whose prediction drifted while it was lost).
    bool observation_recovery = true;
    // OC-SORT's momentum term: the first stage adds ocm_weight x score x (pi/2 - |angle|) / pi to the IoU, the
    // angle between the track's direction over its observations of the last ocm_window_s seconds and the direction
    // to the detection. 0: off. Only tracks that moved at least a tenth of their height over the window use it.
    float ocm_weight = 0.2f;
    double ocm_window_s = 0.1;

    bool operator==(const TrackerOptions&) const = default;
};

// Range checks (kInvalidArgument, the message names the field: "tracker.lost_timeout_s: ..."): scores and IoUs in
// [0, 1] with low_score <= high_score, times finite and >= 0 (lost_timeout_s, class_memory_s and ocm_window_s > 0),
// confirm_hits >= 1, class_switch_ratio >= 1, ocm_weight in [0, 1].
Status validate_tracker_options(const TrackerOptions& opt);
// The options with each invalid field at its default (low_score at most high_score).
TrackerOptions sanitized_tracker_options(TrackerOptions opt);

class Tracker {
public:
    // Invalid fields (see validate_tracker_options) are replaced by their defaults.
    explicit Tracker(TrackerOptions opt = {});
    ~Tracker();
    Tracker(Tracker&&) noexcept;
    Tracker& operator=(Tracker&&) noexcept;

    // One frame: detections in source pixels at stream time t_s (seconds, non-decreasing; a step back resets the
    // tracker, as a looped file does). Returns the live tracks: every matched track plus the coasting ones within
    // the lost buffer (matched = false, box = prediction). Order: by track_id.
    std::vector<TrackedObject> update(const std::vector<vision::Detection>& detections, double t_s);

    // Drops every track (a camera reconnect). Ids keep increasing.
    void reset();
    const TrackerOptions& options() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace itscam::analytics
