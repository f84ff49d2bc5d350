// Pipeline: many cameras -> latest-frame queues -> deadline-aware batcher -> inference workers -> sinks.
//
//   CaptureLoop (thread per camera, FFmpeg or synthetic; reconnects on its own)
//        | frames in pooled buffers
//   BatchScheduler (one per model: bounded latest-frame queue per camera, round-robin dynamic batching)
//        | batches of preferred sizes, formed at max batch or at the deadline
//   Workers (per device: one Detector per served batch size, staging tensors from pools)
//        | guarded by the device's CircuitBreaker; while it is open, batches run on the fallback backend
//        | (degraded: lower input size and/or per-camera frame-rate cap), and move back when it closes
//   Sinks (JSON Lines) + per-camera latest detections + per-stage latency statistics
//
// One camera's failure (dead URL, bad file, stall) never affects another: capture runs per camera and a frame
// either reaches the queue or it does not. Inference failures on the primary device are retried on the fallback
// for the same batch, so frames are not lost when the GPU faults.
// Thread-safety: every public method may be called from any thread (the HTTP API adds and removes cameras while
// the pipeline runs).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "analytics/camera_analytics.h"
#include "config/config.h"
#include "core/status.h"
#include "device/device.h"
#include "pipeline/circuit_breaker.h"
#include "pipeline/fault_injection.h"
#include "pipeline/latency.h"
#include "pipeline/memory_pool.h"
#include "pipeline/sink.h"
#include "video/capture.h"

namespace itscam::pipeline {

struct CameraSnapshot {
    std::string id, url, model;
    bool enabled = true;
    std::string state;          // capture state: starting | streaming | reconnecting | ended | failed | stopped
    int width = 0, height = 0;
    int64_t frames_captured = 0;   // delivered by the capture loop
    int64_t frames_processed = 0;  // detections emitted
    int64_t frames_dropped = 0;    // latest-frame policy drops (queue full)
    int64_t frames_skipped = 0;    // max_fps and degraded-mode frame-rate caps
    int64_t reconnects = 0, errors = 0, stalls = 0, format_changes = 0;
    std::string decoder = "cpu";     // where the source is decoded now: cpu | nvdec
    int64_t decoder_fallbacks = 0;   // GPU decoder failures that moved the camera to the CPU decoder
    bool skipping_nonref = false;    // its decoder skips non-reference frames now (skip_nonref_under_overload)
    int64_t nonref_skip_starts = 0;  // times the camera's overload started that
    double fps = 0;                // processed frames per second over the last 5 s
    int queue_depth = 0;
    LatencySummary latency;        // capture -> detections
    std::string last_error;
    bool degraded = false;         // last frame was served by the fallback
    int64_t analytics_late_frames = 0;  // frames that finished after a newer one (several workers): no analytics
};

struct DeviceSnapshot {
    std::string name;              // "cpu", "cuda:0"
    CircuitState circuit = CircuitState::kClosed;
    CircuitStats circuit_stats;
    int64_t batches = 0, frames = 0, failures = 0, fallback_batches = 0;
    // Batches this device's workers handed to another device's, whose circuit was closed, while this one's could not
    // serve them (instead of the fallback).
    int64_t handoffs = 0;
    // Share of wall time the device's regular workers spent in inference (last 5 s; elastic workers' batches count as
    // busy time too, so under pressure it reaches 1).
    double busy_fraction = 0;
    int workers = 0;               // the elastic ones included
    int elastic_workers = 0;       // past inference_workers (pipeline.max_inference_workers)
    int64_t elastic_batches = 0;   // batches those took, under queueing pressure
    // ENABLE_CUDA_STREAMS_MONITORING only (else empty): the device's streams in use (leased now, or with finished
    // work) with their busy time and queue depth (device/device.h). Streams are process-wide: they count the work
    // of every pipeline on the device.
    std::vector<device::StreamStats> streams;
};

struct PipelineSnapshot {
    double uptime_s = 0;
    bool ready = false;
    std::string not_ready_reason;
    int64_t frames_processed = 0;   // "requests" in Triton terms
    int64_t batches = 0;            // "executions"
    int64_t frames_dropped = 0, frames_skipped = 0;
    int64_t frames_failed = 0;      // frames whose batch failed on every backend
    int64_t frames_fenced = 0;      // cluster mode: frames processed while may_publish() was false (not published)
    double fps = 0;                 // processed frames per second over the last 5 s
    std::map<int, int64_t> batch_sizes;           // batch size -> executions
    std::map<std::string, LatencySummary> stages;  // decode, queue, batch_wait, preprocess, inference, nms, e2e
    std::map<std::string, std::vector<int64_t>> stage_buckets;  // cumulative histogram buckets per stage
    std::vector<PoolStats> pools;
    PoolStats pool_total;
    std::vector<CameraSnapshot> cameras;
    std::vector<DeviceSnapshot> devices;
    int64_t circuit_transitions = 0;
    // CPU decode slots (pipeline.decode_slots; 0: no limit) and the decodes that queued for one, and for how long.
    int decode_slots = 0;
    int64_t decode_slot_waits = 0;
    double decode_slot_wait_s = 0;

    // The worst circuit over the devices: open > half_open > closed (what the service reports as one state).
    CircuitState worst_circuit() const {
        CircuitState w = CircuitState::kClosed;
        for (const auto& d : devices) {
            if (d.circuit == CircuitState::kOpen) return CircuitState::kOpen;
            if (d.circuit == CircuitState::kHalfOpen) w = CircuitState::kHalfOpen;
        }
        return w;
    }
};

struct PipelineOptions {
    // Extra sinks (tests, the HTTP layer); the config's sinks are opened by the pipeline itself.
    std::vector<std::shared_ptr<DetectionSink>> sinks;
    // When set, every primary-device engine is wrapped with fault injection driven by this controller.
    std::shared_ptr<FaultController> faults;
    // Fault injection for one device's primary engines (by device name), instead of `faults` there.
    std::map<std::string, std::shared_ptr<FaultController>> device_faults;
    // The devices to serve on instead of the config's (`device` expanded by device_ids): several devices on a
    // machine without two GPUs, e.g. {"cpu", "ref"} in tests of the hand-over between devices. Names must differ.
    std::vector<std::string> devices;
    // Log lines (transitions, camera events); default: stderr with a timestamp.
    std::function<void(const std::string&)> log;
    // Camera events for history/alerting: kind is a capture event name (connected, disconnected, reconnecting,
    // format_changed, ended, failed, stall) or "added" / "removed". Called from capture or API threads.
    std::function<void(const std::string& camera, const std::string& kind, const std::string& message)> on_camera_event;
    // Every circuit transition of a device. Called outside the breaker's lock.
    std::function<void(const std::string& device, const CircuitTransition&)> on_circuit_transition;
    // Every processed frame with its detections (after the sinks): the live stream encoder's feed
    // (StreamHub::push). Called on an inference worker thread for each frame of a batch, so it must return at once
    // (hand the frame over, never encode or block here); the Frame shares the pooled pixels, keep it only briefly.
    std::function<void(const video::Frame& frame, const DetectionRecord& rec)> on_frame;
    // Every analytics event (line crossing, zone entry/exit, congestion change) of every camera, in frame order per
    // camera, after the sinks (the MQTT publisher, history, metrics). Called on an inference worker thread: it must
    // return at once.
    std::function<void(const analytics::AnalyticsEvent&)> on_event;
    // Service start time or cluster epoch: part of every event id (camera_analytics.h). 0: the pipeline's creation
    // time in seconds.
    int64_t analytics_epoch = 0;
    // Cluster mode (docs/cluster.md): asked with the camera's epoch (Pipeline::add_camera) before a frame's record
    // and events go to the sinks, on_event and the analytics counters; when it answers false the frame is only
    // counted (frames_fenced), so a node that lost (or may have lost) the lease it took the camera under never
    // publishes what the camera's next owner publishes too, not even once it holds a new lease. Called on
    // inference worker threads: must be cheap (Membership::may_publish(lease)). Unset: always publish.
    std::function<bool(int64_t epoch)> may_publish;
    // Cluster mode: this node's name, stamped with the epoch on the records of cameras added with one.
    std::string node;
    // create() returns at once and load() builds the engines (the HTTP API can answer "not ready" meanwhile).
    bool defer_load = false;
};

class Pipeline {
public:
    // Validates the config, builds pools and engines (one Detector per served batch size per worker, plus the
    // fallback's), warms up when MEMORY_WARMUP_ON_START. Does not start cameras yet.
    static Result<std::unique_ptr<Pipeline>> create(const config::Config& cfg, PipelineOptions opt = {});
    // Builds the engines (and warms them up); ready() turns true when it succeeds. create() calls it unless
    // PipelineOptions.defer_load; call it once, from any thread, before start().
    Status load();
    ~Pipeline();  // stop(drain=false) if still running

    // Starts the workers and every enabled camera.
    Status start();
    // Stops the cameras; with drain, processes the frames already queued before stopping the workers; flushes sinks.
    void stop(bool drain = true);
    // Blocks until every camera has ended on its own (files without loop) and their frames are processed, or
    // stop() is called. With no cameras at all it waits for stop() (cameras may still come from the API).
    void wait_cameras_ended();

    // `epoch` > 0 (cluster mode): the camera's ownership epoch, stamped on its records, events and intervals (with
    // PipelineOptions::node) and part of its event ids.
    Status add_camera(const config::CameraConfig& cam, int64_t epoch = 0);
    Status remove_camera(const std::string& id);
    std::vector<std::string> camera_ids() const;
    // A camera's configuration as it runs now (also for cameras added after start); kNotFound when unknown.
    Result<config::CameraConfig> camera_config(const std::string& id) const;
    // The latest detections of a camera (empty record when none yet); kNotFound for an unknown camera.
    Result<DetectionRecord> latest(const std::string& id) const;

    // A camera's live analytics (counts since start, zones now); kNotFound for an unknown camera and for a
    // camera without an `analytics:` section (the message says which).
    Result<analytics::AnalyticsSnapshot> analytics(const std::string& id) const;
    // The aggregation intervals that closed since the last call, of every camera with analytics (oldest first per
    // camera); flush closes the running ones too (shutdown). One consumer (the service's history writer) calls it.
    std::vector<analytics::IntervalAggregate> take_intervals(bool flush = false);

    PipelineSnapshot snapshot() const;
    bool ready() const;
    const config::Config& config() const;
    std::shared_ptr<FaultController> faults() const;

    struct Impl;

private:
    explicit Pipeline(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace itscam::pipeline
