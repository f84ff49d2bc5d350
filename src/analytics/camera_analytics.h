// One camera's analytics: tracker -> line counters, zones, speed, congestion -> events and interval aggregates.
// Owned by the pipeline per camera; process() is called once per processed frame, in frame order, from one thread
// at a time (the pipeline serialises per camera). snapshot()/take_intervals() may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analytics/analytics_config.h"
#include "analytics/analytics_event.h"
#include "analytics/track.h"
#include "vision/detection.h"

namespace itscam::analytics {

struct FrameAnalytics {
    std::vector<TrackedObject> tracks;            // live tracks this frame (tracker.h)
    std::map<int64_t, double> speeds_kmh;         // track id -> current speed, calibrated area only
    std::vector<AnalyticsEvent> events;           // raised by this frame
};

struct ZoneState {
    std::string name;
    int occupancy = 0;                 // confirmed tracks whose foot point is inside now
    int queue = 0;                     // of those, stopped or slow
    bool overcrowded = false;
    std::optional<double> mean_speed_kmh;
    std::string congestion = "free";   // free | slow | queued
    int64_t entries = 0, exits = 0;    // since start
};

struct AnalyticsSnapshot {
    // (line, direction, class name) -> crossings since start
    std::map<std::tuple<std::string, std::string, std::string>, int64_t> line_counts;
    std::vector<ZoneState> zones;
    int active_tracks = 0;             // confirmed
    int64_t tracks_started = 0;
};

class CameraAnalytics {
public:
    // class_names: the model's (for event class names; index = class id; may be empty -> "class<N>").
    // epoch: part of every event id (the service start time, or the cluster epoch), so ids stay unique across
    // restarts.
    CameraAnalytics(std::string camera, AnalyticsConfig cfg, std::vector<std::string> class_names, int64_t epoch);
    ~CameraAnalytics();

    // Detections of one frame in source pixels. pts: stream seconds; wall_us: capture time.
    FrameAnalytics process(const std::vector<vision::Detection>& detections, int64_t frame, double pts,
                           int64_t wall_us);
    // A camera reconnect or a looped file starting over: tracks are dropped, counts kept.
    void reset_tracks();

    AnalyticsSnapshot snapshot() const;
    // Intervals that closed since the last call (wall-clock aligned to cfg.interval_s), oldest first. With
    // flush, the running interval is closed too (shutdown).
    std::vector<IntervalAggregate> take_intervals(bool flush = false);
    const AnalyticsConfig& config() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace itscam::analytics
