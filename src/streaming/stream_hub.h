// StreamHub: live annotated video and detection events per camera, shared by every viewer (docs/streaming.md).
//
//   Pipeline worker --push(frame, detections)--> latest-frame slot per camera (O(1); an untaken frame is replaced
//        and counted as dropped, so a slow encode never slows inference)
//   encode thread per camera: annotate (boxes + labels) -> ContentController (CRF, VBV cap, ROI) -> one x264 encode
//        per rendition that has viewers (started on the first viewer, stopped idle_stop_s after the last)
//        -> fragments -> every viewer's bounded queue; detection events (JSON, pts on the video's timeline) -> every
//        event viewer's bounded queue
//   viewer (one HTTP connection each): init segment, then fragments from a keyframe on; a viewer whose queue
//        overflows skips to the latest keyframe fragment (never unbounded buffering); its NetworkController moves it
//        between renditions by measured throughput (a switch sends the new init segment, then a keyframe).
//
// Media time: a fragment's tfdt and an event's "pts" are the frame's capture pts (Frame::pts, seconds since the
// source started, strictly increasing), so every rendition and the event stream share one timeline.
// Egress: every byte written to a video viewer is counted (egress()), with the viewer-seconds it was written over,
// so a caller can tell the bytes per second each viewer received over any interval (the service's
// streaming_bandwidth_high alert compares that with streaming.bitrate_kbps).
// Thread-safety: every public method may be called from any thread. Viewers must be closed (VideoViewer::close or
// destruction) to free their slot; close_all() ends every viewer (HttpService::stop calls it first).
// Files: stream_hub.cpp (cameras, viewers' slots, the frame hook), viewers.cpp (VideoViewer, EventViewer, fragment
// delivery), encode_loop.cpp (the per-camera encode thread), stream_report.cpp (JSON for the API, metrics()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "core/status.h"
#include "pipeline/sink.h"
#include "streaming/adaptive_quality.h"
#include "streaming/encoder.h"
#include "video/frame.h"

namespace itscam::streaming {

struct StreamHubOptions {
    config::StreamingConfig cfg;
    bool adaptive = true;              // ENABLE_ADAPTIVE_QUALITY
    double target_reduction = 0.25;    // TARGET_BANDWIDTH_REDUCTION
    bool network_aware = true;         // ENABLE_NETWORK_AWARE_STREAMING
    double fps_hint = 30;              // nominal rate before a camera's own is measured
    NetworkControllerOptions network;  // thresholds (tests shorten the hold times)
    int max_events_queued = 64;        // per event viewer; the oldest are dropped past it

    static StreamHubOptions from_config(const config::Config& c);
};

class StreamHub;
struct CameraStream;
struct RenditionState;

// What the hub has sent to video viewers since it was created (monotonic; differences give a rate).
struct StreamEgress {
    int64_t bytes = 0;          // written to video viewers (init segments and fragments)
    double viewer_seconds = 0;  // the integral of open video viewers over time
    int video_viewers = 0;      // open now
};

// A point-in-time copy of what the hub counts, for /metrics (service/metrics_streams.cpp writes it out; the names
// there are the operators' series). Rates in bytes per second, durations in seconds.
struct StreamHubMetrics {
    struct Rendition {
        std::string name;
        int viewers = 0;
        double bitrate_bytes_per_second = 0;  // encoded rate (EWMA over ~2 s); 0 while the rendition does not run
        double crf = 0, qp = 0;
        double fragment_seconds = 0;  // configured fragment duration (0: one frame)
        int64_t bytes = 0;            // encoded fragment bytes
    };
    struct Viewer {
        uint64_t id = 0;
        int rendition = 0;                        // rung index, 0 = best
        double throughput_bytes_per_second = -1;  // measured delivery throughput (-1: keeps up)
        double fragment_seconds = 0;
        int64_t skips = 0;
        int64_t queued_bytes = 0;
    };
    struct Camera {
        std::string id;
        std::vector<Rendition> renditions;
        std::vector<Viewer> viewers;
        int64_t frames_encoded = 0, frames_dropped = 0;
        double latency_p50_seconds = 0, latency_p99_seconds = 0;  // capture -> fragment available, last 60 s
        double activity = 0;                                      // the controller's scene activity 0..1
        size_t roi_regions = 0;
    };
    std::vector<Camera> cameras;
    int connections = 0;   // open streaming connections (video and events)
    int64_t rejected = 0;  // refused at max_viewers
    StreamEgress egress;
};

// One /live.mp4 connection. next() hands out what to write, in order; written() reports how the write went.
class VideoViewer {
  public:
    ~VideoViewer();
    // The next bytes to write (an init segment or a fragment): nullptr after `timeout` with nothing to send, or
    // when closed (then closed() is true). Shared, immutable: write straight from it.
    std::shared_ptr<const std::string> next(std::chrono::milliseconds timeout);
    // A write of n bytes took `seconds` (feeds the network controller; may switch renditions).
    void written(size_t n, double seconds);
    void close();
    bool closed() const;
    uint64_t id() const { return id_; }
    const std::string& camera() const { return camera_; }

    struct Stats {
        int64_t bytes = 0, fragments = 0, skips = 0, dropped_fragments = 0;
        int64_t queued_fragments = 0, queued_bytes = 0, max_queued_bytes = 0;
        int rendition = 0;
        double throughput_kbps = -1;
        double fragment_ms = 0;
        bool auto_rendition = true;
    };
    Stats stats() const;

  private:
    friend class StreamHub;
    friend struct CameraStream;
    VideoViewer() = default;

    StreamHub* hub_ = nullptr;
    std::shared_ptr<CameraStream> cam_;
    uint64_t id_ = 0;
    std::string camera_;
    bool auto_rendition_ = true;
    std::unique_ptr<NetworkController> net_;  // touched by the viewer's thread only
    int64_t skips_seen_ = 0;                  // viewer's thread only

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<const std::string>> queue_;  // init segments and fragment bytes
    std::deque<bool> queue_is_key_;                         // per entry: a keyframe fragment (skip target)
    int64_t queued_bytes_ = 0;
    bool need_keyframe_ = true;
    int init_sent_for_ = -1;  // rendition whose init segment this viewer has
    int rendition_ = 0;       // rendition it is subscribed to
    bool closed_ = false;
    Stats stats_;
};

// One /detections (SSE) connection.
class EventViewer {
  public:
    ~EventViewer();
    std::shared_ptr<const std::string> next(std::chrono::milliseconds timeout);  // one JSON event, or nullptr
    void close();
    bool closed() const;
    int64_t dropped() const;

  private:
    friend class StreamHub;
    friend struct CameraStream;
    EventViewer() = default;
    StreamHub* hub_ = nullptr;
    std::shared_ptr<CameraStream> cam_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<const std::string>> queue_;
    bool closed_ = false;
    int64_t dropped_ = 0;
    size_t max_queued_ = 64;
};

class StreamHub {
  public:
    explicit StreamHub(StreamHubOptions opt);
    ~StreamHub();  // close_all() and joins the encode threads
    StreamHub(const StreamHub&) = delete;
    StreamHub& operator=(const StreamHub&) = delete;

    // The pipeline's frame hook (Pipeline options on_frame): replaces the camera's latest-frame slot and wakes its
    // encode thread. Never blocks on encoding; allocation only on a camera's first frame.
    void push(const video::Frame& frame, const pipeline::DetectionRecord& rec);
    // Makes a camera known before its first frame (viewers can connect and wait). push() does it on its own.
    void add_camera(const std::string& id);
    // Forgets a camera: its viewers end, its thread stops.
    void remove_camera(const std::string& id);
    bool has_camera(const std::string& id) const;

    // A viewer of `camera` at `rendition` ("" or "auto": the network-aware choice, starting at the best rung).
    // kNotFound: unknown camera; kInvalidArgument: unknown rendition; kUnavailable: max_viewers connections are open
    // (or streaming is disabled).
    Result<std::shared_ptr<VideoViewer>> open_video(const std::string& camera, const std::string& rendition = "");
    Result<std::shared_ptr<EventViewer>> open_events(const std::string& camera);
    // Ends every viewer (their next() returns nullptr at once); new ones are refused afterwards.
    void close_all();

    // GET /streams/{id}: renditions (size, MSE mime with the codec string, bitrate, fragment duration, viewers),
    // the controller's current decision and latency; kNotFound for an unknown camera.
    Result<nlohmann::json> stream_json(const std::string& camera);
    // GET /api/v1/streams
    nlohmann::json streams_json();
    // Everything /metrics reports about streaming (a consistent copy per camera).
    StreamHubMetrics metrics();
    // Bytes sent to video viewers and the viewer-seconds they were sent over, since the hub was created.
    StreamEgress egress() const;

    const StreamHubOptions& options() const { return opt_; }
    const std::vector<config::RenditionConfig>& renditions() const { return ladder_; }
    int open_connections() const { return connections_.load(); }

  private:
    friend class VideoViewer;
    friend class EventViewer;
    friend struct CameraStream;

    std::shared_ptr<CameraStream> find(const std::string& id) const;
    std::shared_ptr<CameraStream> get_or_create(const std::string& id);
    bool acquire_slot();
    // The camera's stream with a connection slot taken: kNotFound (unknown camera), kUnavailable (max_viewers).
    Result<std::shared_ptr<CameraStream>> claim_slot(const std::string& camera);
    void release_slot(bool video);
    void count_video_viewer(int delta);  // a video viewer opened (+1) or closed (-1)
    void count_egress(size_t bytes);
    void egress_advance_locked(std::chrono::steady_clock::time_point now) const;
    void encode_loop(CameraStream& c);
    // encode_loop's steps: the detections to every event viewer; a rendition's encoder for this frame's size.
    static void publish_event(CameraStream& c, const pipeline::DetectionRecord& rec);
    void start_encoder(CameraStream& c, RenditionState& r, const video::Frame& frame, const QualityDecision& qd,
                       double fps);
    void switch_rendition(VideoViewer& v, int to);
    // Queues a fragment of rendition ri for a viewer (caller holds the camera's and the viewer's locks).
    static void deliver(VideoViewer& v, int ri, const std::shared_ptr<const std::string>& init,
                        const std::shared_ptr<const std::string>& bytes, bool key, size_t max_frags, int64_t max_bytes,
                        bool& skipped);

    StreamHubOptions opt_;
    std::vector<config::RenditionConfig> ladder_;
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<CameraStream>> cams_;
    std::atomic<int> connections_{0};
    std::atomic<int64_t> rejected_{0};
    std::atomic<uint64_t> next_viewer_id_{1};
    std::atomic<bool> closing_{false};
    // Egress (under egress_mu_): bytes to video viewers and the viewer-seconds integral up to egress_at_.
    mutable std::mutex egress_mu_;
    mutable StreamEgress egress_;
    mutable std::chrono::steady_clock::time_point egress_at_ = std::chrono::steady_clock::now();
};

}  // namespace itscam::streaming
