// A tracked object as the tracker reports it for one frame: a stable per-camera id, the class smoothed over the
// track's life, and the box in source-image pixels.
#pragma once

#include <cstdint>

namespace itscam::analytics {

struct TrackedObject {
    int64_t track_id = 0;      // per camera, from 1, never reused while the camera runs
    int class_id = 0;          // smoothed over the track (majority of score-weighted votes), not this frame's class
    int raw_class_id = 0;      // this frame's detection class (equal to class_id unless it flickered)
    float score = 0;           // this frame's detection score (the last matched one when coasting)
    float x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // source pixels: the matched detection's box, or the prediction when coasting
    bool matched = true;       // a detection was associated with the track in this frame
    int detection_index = -1;  // that detection's index in the update()'s input (-1 when coasting)
    bool confirmed = false;    // passed the confirmation rule (tracker.h); unconfirmed tracks are never counted
    double first_seen_s = 0;   // stream time of the first detection
    double last_seen_s = 0;    // stream time of the last associated detection

    // The point analytics use: the bottom centre of the box (where the vehicle meets the road).
    float foot_x() const { return 0.5f * (x1 + x2); }
    float foot_y() const { return y2; }
};

}  // namespace itscam::analytics
