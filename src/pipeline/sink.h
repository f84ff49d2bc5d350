// Detection sinks: where the pipeline's per-frame results go. JSON Lines to a file or stdout (one object per
// frame: camera id, frame index, pts, wall-clock time, latency, boxes in source pixels), or a callback.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "analytics/analytics_event.h"
#include "core/status.h"
#include "vision/detection.h"

namespace itscam::pipeline {

struct DetectionRecord {
    std::string camera;
    int64_t frame = 0;         // Frame.index
    double pts = 0;            // seconds
    int64_t wall_time_us = 0;  // capture time, system clock
    int width = 0, height = 0;
    double latency_ms = 0;     // capture -> detections
    bool degraded = false;     // served by the fallback backend
    std::string device;        // backend that produced it ("cpu", "cuda:0", "cpu(fallback)")
    // Cluster mode (docs/cluster.md): the camera's ownership epoch and the node that owns it; 0 and "" (neither in
    // the JSON) otherwise.
    int64_t epoch = 0;
    std::string node;
    std::vector<vision::Detection> detections;
    const std::vector<std::string>* class_names = nullptr;  // for labels; may be null
    // Cameras with an `analytics:` section (docs/analytics.md); empty otherwise. track_ids and speeds_kmh run
    // parallel to detections: the id of the confirmed track the detection belongs to (0: none yet), and its current
    // speed (NaN: not calibrated or outside the calibrated area).
    std::vector<int64_t> track_ids;
    std::vector<float> speeds_kmh;
    std::vector<analytics::AnalyticsEvent> events;  // raised by this frame (line crossings, zone entries/exits, ...)
};

class DetectionSink {
public:
    virtual ~DetectionSink() = default;
    virtual void write(const DetectionRecord& r) = 0;
    virtual void flush() {}
};

// One JSON object per line, appended (a restart never overwrites earlier output); missing folders are created.
// Path "-" is stdout. Lines are written whole (never interleaved) and flushed after
// each batch so that a crash loses at most the batch in flight.
class JsonlSink : public DetectionSink {
public:
    static Result<std::unique_ptr<JsonlSink>> open(const std::string& path);
    ~JsonlSink() override;
    void write(const DetectionRecord& r) override;
    void flush() override;
    int64_t lines() const { return lines_; }

private:
    JsonlSink() = default;
    std::mutex mu_;
    FILE* f_ = nullptr;
    bool owns_ = false;
    int64_t lines_ = 0;
};

class CallbackSink : public DetectionSink {
public:
    explicit CallbackSink(std::function<void(const DetectionRecord&)> fn) : fn_(std::move(fn)) {}
    void write(const DetectionRecord& r) override { fn_(r); }

private:
    std::function<void(const DetectionRecord&)> fn_;
};

// The record as one JSON line (no trailing newline).
std::string detection_record_json(const DetectionRecord& r);

}  // namespace itscam::pipeline
