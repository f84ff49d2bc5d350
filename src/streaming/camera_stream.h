// Internal to the stream hub (stream_hub.cpp, viewers.cpp, encode_loop.cpp, stream_report.cpp): one camera's
// stream state, shared by its encode thread, the pipeline's frame hook and the viewers' HTTP threads.
//
// Locking: CameraStream::mu guards everything not marked "encode thread only"; a viewer's own mutex is taken
// inside it (camera -> viewer, never the other way round). StreamHub::mu_ (the camera map) is never held while
// taking a camera's lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config/config.h"
#include "pipeline/latency.h"
#include "pipeline/sink.h"
#include "streaming/adaptive_quality.h"
#include "streaming/encoder.h"
#include "streaming/stream_hub.h"
#include "video/frame.h"

namespace itscam::streaming {

// One rendition of one camera: its encoder (encode thread only) and its viewers (under CameraStream::mu).
struct RenditionState {
    config::RenditionConfig cfg;
    std::unique_ptr<StreamEncoder> enc;  // encode thread only (stream_json reads whether it is set, under mu)
    int src_w = 0, src_h = 0;            // input size the encoder was made for
    // Under CameraStream::mu:
    std::shared_ptr<const std::string> init;
    std::string codec;
    int width = 0, height = 0;
    std::vector<std::weak_ptr<VideoViewer>> viewers;
    bool force_keyframe = false;
    double last_viewer_s = 0;
    int64_t bytes = 0, frames = 0, fragments = 0;
    double bitrate_kbps = 0;  // EWMA of the encoded rate
    double crf = 0, qp = 0;
    int cap_kbps = 0;
    std::string error;
};

struct CameraStream {
    std::string id;
    mutable std::mutex mu;
    std::condition_variable cv;
    // latest-frame slot
    bool has_frame = false;
    video::Frame frame;
    pipeline::DetectionRecord rec;
    std::vector<std::string> names;
    const std::vector<std::string>* names_src = nullptr;
    bool stop = false;
    int64_t frames_in = 0, frames_dropped = 0, frames_encoded = 0, frames_out_of_order = 0;
    double last_pts = -1;
    double fps = 0;  // measured from pts
    std::vector<RenditionState> rend;
    std::vector<std::weak_ptr<EventViewer>> events;
    QualityDecision decision;
    int last_frame_w = 0, last_frame_h = 0;
    pipeline::LatencyRecorder latency{4096, 60.0};  // capture -> fragment available
    std::thread th;

    // encode thread only
    std::vector<uint8_t> prev_thumb;
    std::vector<uint8_t> scratch;
    std::unique_ptr<ContentController> content;
};

// Seconds on the steady clock (idle timers, controllers).
inline double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The per-camera content controller's options (the encode loop's, and what /streams reports).
ContentControllerOptions content_options(const StreamHubOptions& o);

// The output size of a rung for a frame of fw x fh: the rung's height (never above the frame's), the frame's
// aspect, both even and at least 2.
std::pair<int, int> rendition_size(const config::RenditionConfig& r, int fw, int fh);

}  // namespace itscam::streaming
