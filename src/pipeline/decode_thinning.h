// Decode thinning: under overload, a camera's decoder skips the frames no other frame references (non-reference B-
// and P-frames), instead of decoding them only for the latest-frame queue to drop them.
//
// When the cameras offer more frames than the node serves, every frame that is decoded and then replaced in its
// camera's queue costs decode time (and colour conversion) for nothing. On the CPU decode path those frames took most
// of the cores (15.2 of 16 at 256 cameras of 720p on the H200), so the frames that could have been served were
// decoded late or not at all, and throughput fell below what the node served at capacity. Skipping non-reference
// frames needs no other frame to change: the ones kept decode exactly as before. On the shared 720p clip (x264,
// B-frames) it keeps 491 of 751 frames for 75% of the decode time; a stream of I- and P-frames only has nothing to
// skip, and decodes as before.
//
// The policy, per camera, from the queue's own outcome at each push (a push that replaced a waiting frame is a drop):
// - full decode -> thinning when, over a window of kWindow, at least kStartDropShare of the pushes dropped a frame;
// - thinning -> full decode after kCalmWindows windows in a row without a drop (the consumer took every frame it was
//   offered: try decoding them all again; if it cannot keep up, the drops start thinning again).
// Why 40%: thinning pays only while the camera still offers more than is taken after the skip, and the skip takes a
// third of a typical B-frame stream. Near capacity it cost throughput: at 1.5x (6 cameras of the 720p clip on 2
// cores, 26% drops) a 20% start thinned the cameras below what they were served, 101.7 against 110.9 fps, toggling
// 16 times in 20 s. From 40% (the consumer takes at most 60% of the frames) the thinned stream still overflows.
#pragma once

#include <chrono>
#include <cstdint>

namespace itscam::pipeline {

class DecodeThinning {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds kWindow{1000};
    static constexpr double kStartDropShare = 0.4;
    static constexpr int kCalmWindows = 5;
    static constexpr int kMinPushes = 4;  // a window with fewer pushes decides nothing (a camera at 1-3 fps)

    // One push of the camera's frame; `dropped`: it replaced a frame still waiting. Returns whether the decoder
    // should skip non-reference frames from now on. Called by the camera's capture thread only.
    bool on_push(bool dropped, Clock::time_point now);
    bool thinning() const { return thinning_; }
    int64_t activations() const { return activations_; }  // full decode -> thinning transitions

private:
    bool thinning_ = false;
    bool started_ = false;
    Clock::time_point window_start_{};
    int pushes_ = 0, drops_ = 0;
    int calm_windows_ = 0;
    int64_t activations_ = 0;
};

}  // namespace itscam::pipeline
