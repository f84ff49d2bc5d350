// Adaptive quality for the live annotated stream (ENABLE_ADAPTIVE_QUALITY, TARGET_BANDWIDTH_REDUCTION,
// ENABLE_NETWORK_AWARE_STREAMING). Pure logic, no FFmpeg: fed numbers, it returns decisions, so it is unit-tested
// without encoding anything. Not thread-safe (one controller per camera encode / per viewer, on its own thread).
//
// ContentController (per camera, once per frame):
//   activity = max(motion, detection density), both normalized to 0..1
//     motion  = mean |luma(t) - luma(t-1)| on a thumbnail, (m - quiet) / (busy - quiet)
//     density = share of the frame covered by detections / dense_coverage, or count / dense_count
//   crf      = base_crf + quiet_crf_bonus * (1 - activity) - busy_crf_bonus * activity + budget_correction
//              (a quiet road at night gets a higher CRF, i.e. fewer bits; rush hour a lower one)
//   budget_correction: an integrator that nudges the CRF up while the measured bitrate (EWMA over ~2 s of the
//     encoder's own frame sizes x the camera's measured frame rate, ContentSample::fps) exceeds the budget
//     baseline_kbps x (1 - TARGET_BANDWIDTH_REDUCTION), and back down (never below 0) while it is under; the VBV
//     cap is the budget x cap_headroom. The budget is per second whatever the camera's rate: a 15 fps camera may
//     spend twice the bits per frame of a 30 fps one.
//   rois     = every detection of a ROI class (vehicles, persons, plates), grown by roi_margin, with a negative QP
//     offset (object_qoffset) listed first, then one frame-wide region with background_qoffset (libx264 takes the
//     first region that covers a macroblock, so objects keep their quality and only the rest gets coarser).
//     qoffset is a fraction of the QP range (x 51 in libx264): -0.04 = QP -2, +0.04 = QP +2.
//   key_rois = the same with static-tile offsets for a keyframe (see ContentControllerOptions::static_*).
//   x264_params: the encoder tuning the controller's stream runs with.
//
// NetworkController (per viewer, on each delivery):
//   throughput = bytes written / seconds the writes blocked, over a sliding window: while the link keeps up the
//     socket buffer absorbs writes (throughput reads as "more than needed"); when it does not, writes block at
//     the link's rate, which is what is measured. A skip (the viewer fell a queue behind) counts as congestion.
//   rung down when throughput < down_margin x the current rung's bitrate (or on a skip); rung up when
//     throughput > up_margin x the next rung's bitrate for up_hold_s without skips. Rungs are ordered best first;
//     lower rungs have longer fragments (fewer boxes and writes per second on a poor link), the top one the
//     shortest (latency on a good link).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "streaming/encoder.h"
#include "video/frame.h"
#include "vision/detection.h"

namespace itscam::streaming {

struct ContentControllerOptions {
    bool enabled = true;               // ENABLE_ADAPTIVE_QUALITY; false: base_crf, no ROI, no budget
    double base_crf = 23;
    double min_crf = 16, max_crf = 38;
    double quiet_crf_bonus = 2;        // + CRF when nothing moves and nothing is detected
    double busy_crf_bonus = 1;         // - CRF at full activity
    int baseline_kbps = 4000;          // the fixed-bitrate baseline the budget is measured against
    double target_reduction = 0.25;    // TARGET_BANDWIDTH_REDUCTION: budget = baseline x (1 - this)
    double cap_headroom = 1.5;         // VBV cap = budget x this (0: no cap)
    double fps = 30;                   // until the camera's rate is measured (ContentSample::fps)
    double quiet_motion = 0.4;         // mean |luma diff| (0..255) at or below which the scene is still
    double busy_motion = 3.0;          // ... at or above which it is busy
    double dense_coverage = 0.10;      // frame share covered by detections that counts as dense
    int dense_count = 12;              // or this many detections
    bool roi = true;
    // Measured (itscam bench streaming, docs/streaming.md): a mild object offset keeps vehicles at or above the
    // matched-SSIM peer; a frame-wide background offset and larger object offsets cost more bits than they save.
    float object_qoffset = -0.04f;     // QP -2
    float background_qoffset = 0;      // > 0: a frame-wide coarser background after the objects
    int roi_margin = 8;                // pixels around each box (labels sit just above boxes)
    double roi_min_area = 0;           // boxes smaller than this (pixels, before the margin) get no object offset
    // Temporal (static-region) offsets, an mbtree-like use of a static camera: a tile (tile_px square) whose luma
    // has not changed (thumbnail mean |diff| <= tile_motion) for static_frames frames is "static". On a keyframe
    // static tiles get static_key_qoffset (< 0: the picture every later frame of the GOP copies from is sharper);
    // on other frames static_qoffset (> 0: those blocks mostly skip, and coding noise in them is wasted bits).
    // Needs the thumbnails in ContentSample; 0 offsets disable it.
    int tile_px = 64;
    double tile_motion = 2.0;
    int static_frames = 8;
    float static_key_qoffset = 0;
    float static_qoffset = 0;
    // x264 tuning of the adaptive stream (added to the encoder's x264-params when the controller drives it).
    // SSIM-oriented AQ (auto-variance, no psy), deeper motion search / subpel / more references / trellis: all
    // without lookahead or B-frames, so still one packet per frame (zerolatency). ~2x veryfast's CPU time.
    std::string x264_params = "aq-mode=2:psy=0:subme=7:ref=4:trellis=1:me=umh";
    std::vector<int> roi_classes = {0, 1, 2, 3, 5, 7};  // COCO person, bicycle, car, motorcycle, bus, truck
};

struct ContentSample {
    double motion = 0;                 // mean |luma diff| to the previous frame, 0..255 (frame_motion)
    int width = 0, height = 0;         // frame size the detections are in
    const std::vector<vision::Detection>* detections = nullptr;
    int last_frame_bytes = 0;          // the encoder's previous frame (0 before the first)
    // Optional, for the static-region offsets: this frame's luma thumbnail (luma_thumbnail with thumb_step).
    const std::vector<uint8_t>* thumb = nullptr;
    int thumb_w = 0, thumb_h = 0, thumb_step = 8;
    // The rate this camera's frames actually arrive at (frames per second, measured by the caller); 0: not measured
    // yet, ContentControllerOptions::fps is used. The measured bitrate, so the budget, is per second of this rate.
    double fps = 0;
};

struct QualityDecision {
    double crf = 23;
    int cap_kbps = 0;                  // VBV cap (0: none)
    std::vector<RoiRegion> rois;       // in frame pixels (scale for a smaller rendition: scale_rois)
    std::vector<RoiRegion> key_rois;   // the map for a frame that is a keyframe (FrameControl::key_rois)
    double static_share = 0;           // share of tiles that are static (temporal offsets)
    double activity = 0, motion = 0, density = 0;
    double bitrate_kbps = 0;           // EWMA of the measured bitrate
    double budget_correction = 0;
};

class ContentController {
public:
    explicit ContentController(ContentControllerOptions o = {});
    QualityDecision decide(const ContentSample& s);
    const ContentControllerOptions& options() const { return opt_; }

private:
    ContentControllerOptions opt_;
    void static_tiles(const ContentSample& s, QualityDecision& d);

    double ewma_bits_per_frame_ = -1;
    double correction_ = 0;
    std::vector<uint8_t> prev_thumb_;
    std::vector<int> still_;           // per tile: frames since it last changed
    int tiles_x_ = 0, tiles_y_ = 0;
};

// ROI regions scaled from a frame of (sw, sh) to (dw, dh).
std::vector<RoiRegion> scale_rois(const std::vector<RoiRegion>& r, int sw, int sh, int dw, int dh);

// A luma thumbnail of a frame (BGR24 or NV12): every `step`-th pixel of every `step`-th row.
std::vector<uint8_t> luma_thumbnail(const video::Frame& f, int step, int& tw, int& th);
// Mean |a - b| over two equally sized thumbnails (0 when sizes differ or empty).
double frame_motion(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

struct Rung {
    std::string name;
    double bitrate_kbps = 0;           // what the rung's stream uses now (measured or configured)
    double fragment_ms = 0;
};

struct NetworkControllerOptions {
    bool enabled = true;               // ENABLE_NETWORK_AWARE_STREAMING; false: always the start rung
    double window_s = 3.0;             // throughput window
    double min_busy_s = 0.05;          // below this much blocked time in the window the link "keeps up"
    double down_margin = 1.15;         // need throughput >= this x rung bitrate to stay
    double up_margin = 1.6;            // and >= this x the better rung's bitrate ...
    double up_hold_s = 8.0;            // ... for this long, without skips, to move up
    double down_hold_s = 1.5;          // at most one step down per this long
};

struct NetworkDecision {
    int rung = 0;
    double throughput_kbps = -1;       // -1: not measurable yet / the link keeps up
    double fragment_ms = 0;
    bool changed = false;
    std::string reason;
};

class NetworkController {
public:
    NetworkController(NetworkControllerOptions o, int start_rung);
    // A write of `bytes` that took `write_s` seconds, finished at now_s.
    void on_write(double now_s, size_t bytes, double write_s);
    // The viewer fell behind and skipped fragments.
    void on_skip(double now_s);
    NetworkDecision decide(double now_s, const std::vector<Rung>& rungs);
    double throughput_kbps(double now_s);
    int rung() const { return rung_; }

private:
    struct W {
        double t, busy;
        size_t bytes;
    };
    NetworkControllerOptions opt_;
    int rung_;
    std::deque<W> writes_;
    double last_skip_s_ = -1e9, last_down_s_ = -1e9, good_since_s_ = -1;
    bool skipped_ = false;
};

}  // namespace itscam::streaming
