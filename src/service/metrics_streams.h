// The live-streaming series of /metrics (docs/streaming.md), from a StreamHub's metrics snapshot:
//   itscam_stream_viewers, _bitrate_bytes_per_second, _crf, _qp, _fragment_duration_seconds  gauges {camera, rendition}
//   itscam_stream_bytes_total                                                                counter {camera,
//   rendition} itscam_stream_frames_encoded_total, _frames_dropped_total                                counters
//   {camera} itscam_stream_latency_p50_seconds, _latency_p99_seconds, _activity_ratio, _roi_regions   gauges {camera}
//   itscam_stream_viewer_rendition, _throughput_bytes_per_second, _fragment_duration_seconds,
//   _queued_bytes                                                                            gauges {camera, viewer}
//   itscam_stream_viewer_skips_total                                                         counter {camera, viewer}
//   itscam_stream_connections                                                                gauge
//   itscam_stream_rejected_total, itscam_stream_egress_bytes_total (bytes written to video viewers)   counters
#pragma once

#include <memory>
#include <vector>

#include "service/metrics_registry.h"
#include "streaming/stream_hub.h"

namespace itscam::service {

std::vector<prometheus::MetricFamily> stream_metric_families(const streaming::StreamHubMetrics& m);

// stream_metric_families of a live hub (thread-safe: StreamHub::metrics() is).
class StreamHubCollector : public prometheus::Collectable {
  public:
    explicit StreamHubCollector(std::shared_ptr<streaming::StreamHub> hub) : hub_(std::move(hub)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    std::shared_ptr<streaming::StreamHub> hub_;
};

}  // namespace itscam::service
