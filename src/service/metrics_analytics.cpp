#include "service/metrics_analytics.h"

#include <cmath>

#include "service/history_analytics.h"  // congestion_rank
#include "service/report_traffic.h"     // SpeedStats::bounds_kmh

namespace itscam::service {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<MetricFamily> analytics_metric_families(
    const std::vector<std::pair<std::string, analytics::AnalyticsSnapshot>>& cameras) {
    FamilyBuilder b;
    auto& crossings = b.family("itscam_line_crossings_total",
                               "Objects counted crossing a line, by camera, line, direction and class.",
                               MetricType::Counter);
    auto& occupancy = b.family("itscam_zone_occupancy", "Confirmed tracks inside the zone now.", MetricType::Gauge);
    auto& queue = b.family("itscam_zone_queue_length", "Tracks in the zone that are stopped or slow (the queue).",
                           MetricType::Gauge);
    auto& congestion = b.family("itscam_zone_congestion_level", "Congestion level of the zone: 0 free, 1 slow, 2 queued.",
                                MetricType::Gauge);
    auto& entries = b.family("itscam_zone_entries_total", "Tracks that entered the zone.", MetricType::Counter);
    auto& exits = b.family("itscam_zone_exits_total", "Tracks that left the zone.", MetricType::Counter);
    auto& active = b.family("itscam_active_tracks", "Confirmed tracks of the camera now.", MetricType::Gauge);
    for (const auto& [cam, s] : cameras) {
        for (const auto& [key, n] : s.line_counts) {
            const auto& [line, direction, cls] = key;
            FamilyBuilder::counter(crossings,
                                   {{"camera", cam}, {"line", line}, {"direction", direction}, {"class", cls}},
                                   static_cast<double>(n));
        }
        for (const auto& z : s.zones) {
            const MetricLabels l = {{"camera", cam}, {"zone", z.name}};
            FamilyBuilder::gauge(occupancy, l, z.occupancy);
            FamilyBuilder::gauge(queue, l, z.queue);
            FamilyBuilder::gauge(congestion, l, std::max(0, congestion_rank(z.congestion)));
            FamilyBuilder::counter(entries, l, static_cast<double>(z.entries));
            FamilyBuilder::counter(exits, l, static_cast<double>(z.exits));
        }
        FamilyBuilder::gauge(active, {{"camera", cam}}, s.active_tracks);
    }
    return b.take();
}

std::vector<MetricFamily> AnalyticsCollector::Collect() const {
    std::vector<std::pair<std::string, analytics::AnalyticsSnapshot>> cams;
    for (const auto& id : pipe_.camera_ids()) {
        auto s = pipe_.analytics(id);  // kFailedPrecondition without analytics, kNotFound if just removed
        if (s.is_ok()) cams.emplace_back(id, std::move(s).value());
    }
    return analytics_metric_families(cams);
}

const std::vector<double>& SpeedHistogram::bounds_kmh() {
    return SpeedStats::bounds_kmh();  // the report's histogram has the same buckets
}

void SpeedHistogram::observe(const analytics::AnalyticsEvent& e) {
    if (e.kind == analytics::EventKind::kLineCrossing && e.speed_kmh) observe(e.camera, *e.speed_kmh);
}

void SpeedHistogram::observe(const std::string& camera, double kmh) {
    if (!std::isfinite(kmh) || kmh < 0) return;
    const auto& bounds = bounds_kmh();
    size_t i = 0;
    while (i < bounds.size() && kmh > bounds[i]) ++i;  // le: a value on a bound belongs to that bucket
    std::lock_guard<std::mutex> lk(mu_);
    Series& s = by_camera_[camera];
    if (s.buckets.empty()) s.buckets.assign(bounds.size(), 0);
    if (i < bounds.size()) ++s.buckets[i];
    ++s.count;
    s.sum += kmh;
}

std::vector<MetricFamily> SpeedHistogram::Collect() const {
    FamilyBuilder b;
    auto& h = b.family("itscam_vehicle_speed_kmh", "Speeds of objects crossing a counting line (calibrated cameras).",
                       MetricType::Histogram);
    const auto& bounds = bounds_kmh();
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [cam, s] : by_camera_) {
        ClientMetric m;
        m.label = {{"camera", cam}};
        m.histogram.sample_count = s.count;
        m.histogram.sample_sum = s.sum;
        uint64_t cum = 0;
        for (size_t i = 0; i < bounds.size(); ++i) {
            cum += s.buckets[i];
            m.histogram.bucket.push_back({cum, bounds[i]});  // +Inf is written by the serializer from sample_count
        }
        h.metric.push_back(std::move(m));
    }
    return b.take();
}

}  // namespace itscam::service
