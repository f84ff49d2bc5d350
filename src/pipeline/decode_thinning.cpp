#include "pipeline/decode_thinning.h"

namespace itscam::pipeline {

bool DecodeThinning::on_push(bool dropped, Clock::time_point now) {
    if (!started_) {
        started_ = true;
        window_start_ = now;
    }
    // Close the windows that ended before this push.
    while (now - window_start_ >= kWindow) {
        if (pushes_ >= kMinPushes) {
            if (!thinning_ && drops_ >= kStartDropShare * pushes_) {
                thinning_ = true;
                ++activations_;
                calm_windows_ = 0;
            } else if (thinning_) {
                calm_windows_ = drops_ == 0 ? calm_windows_ + 1 : 0;
            }
        } else if (thinning_ && drops_ == 0) {
            ++calm_windows_;
        }
        if (thinning_ && calm_windows_ >= kCalmWindows) {
            thinning_ = false;
            calm_windows_ = 0;
        }
        pushes_ = drops_ = 0;
        // A long gap (a stalled camera): restart the windows at this push instead of stepping through each.
        window_start_ = now - window_start_ >= 2 * kWindow ? now : window_start_ + kWindow;
    }
    ++pushes_;
    if (dropped) ++drops_;
    return thinning_;
}

}  // namespace itscam::pipeline
