// The traffic analytics series of /metrics (docs/analytics.md):
//   itscam_line_crossings_total{camera,line,direction,class}   counter: crossings since start (Pipeline::analytics
//                                                              snapshots, read at scrape time)
//   itscam_zone_occupancy{camera,zone}                          gauge: confirmed tracks in the zone now
//   itscam_zone_queue_length{camera,zone}                       gauge: of those, stopped or slow
//   itscam_zone_congestion_level{camera,zone}                   gauge: 0 free, 1 slow, 2 queued
//   itscam_zone_entries_total, itscam_zone_exits_total{camera,zone}   counters
//   itscam_active_tracks{camera}                                gauge: confirmed tracks
//   itscam_vehicle_speed_kmh{camera}                            histogram (10..200 km/h): speeds reported at line
//                                                               crossings (SpeedHistogram, fed from the events)
// Cameras without an `analytics:` section have no series.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "analytics/analytics_event.h"
#include "analytics/camera_analytics.h"
#include "pipeline/pipeline.h"
#include "service/metrics_registry.h"

namespace itscam::service {

// The snapshot families of the given cameras (id, snapshot), in that order.
std::vector<prometheus::MetricFamily> analytics_metric_families(
    const std::vector<std::pair<std::string, analytics::AnalyticsSnapshot>>& cameras);

// analytics_metric_families of every camera of a running pipeline that has analytics. The pipeline must outlive
// the collector's use; thread-safe (Pipeline::analytics is).
class AnalyticsCollector : public prometheus::Collectable {
  public:
    explicit AnalyticsCollector(const pipeline::Pipeline& pipe) : pipe_(pipe) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    const pipeline::Pipeline& pipe_;
};

// itscam_vehicle_speed_kmh: the speeds of line crossings, per camera. observe() takes every analytics event and
// keeps the crossings that carry a finite speed; it only takes a lock and bumps counters (fine on a pipeline
// thread). Thread-safe.
class SpeedHistogram : public prometheus::Collectable {
  public:
    static const std::vector<double>& bounds_kmh();  // 10, 20, ... 100, 120, ... 200
    void observe(const analytics::AnalyticsEvent& e);
    void observe(const std::string& camera, double kmh);
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    struct Series {
        std::vector<uint64_t> buckets;  // non-cumulative, one per bound
        uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mu_;
    std::map<std::string, Series> by_camera_;
};

}  // namespace itscam::service
