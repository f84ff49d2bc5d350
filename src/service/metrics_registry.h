// The one Prometheus writer behind /metrics. Every series is a prometheus-cpp MetricFamily, produced on each scrape
// by a prometheus::Collectable (the pipeline and GPUs: metrics.h; the stream hub: metrics_streams.h; the alert
// engine: metrics_alerts.h), and the whole page is serialized once by prometheus-cpp's TextSerializer (text format
// 0.0.4; label values are escaped by the serializer: quotes, backslashes, newlines).
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace itscam::service {

using MetricLabels = std::vector<prometheus::ClientMetric::Label>;

// Builds families for one collection: family() adds one (name, HELP, TYPE), gauge()/counter() add a sample.
// Not thread-safe (one per Collect call).
class FamilyBuilder {
  public:
    prometheus::MetricFamily& family(const std::string& name, const std::string& help, prometheus::MetricType type);
    static void gauge(prometheus::MetricFamily& f, MetricLabels labels, double v);
    static void counter(prometheus::MetricFamily& f, MetricLabels labels, double v);
    void single_gauge(const std::string& name, const std::string& help, double v);
    void single_counter(const std::string& name, const std::string& help, double v);
    // The families that have samples (an empty family would still print HELP/TYPE: legal, but noise).
    std::vector<prometheus::MetricFamily> take();

  private:
    std::deque<prometheus::MetricFamily> fams_;  // deque: references from family() stay valid as families are added
};

// The exposition text of `families` (TextSerializer).
std::string serialize_metrics(const std::vector<prometheus::MetricFamily>& families);

// The collectables of one /metrics page, in the order they were added (like prometheus::Exposer's registry, without
// its HTTP server: ours is the service's). Family names must be unique across collectables. Thread-safe: add() and
// text() may run concurrently (text() runs on HTTP handler threads).
class MetricsRegistry {
  public:
    void add(std::shared_ptr<prometheus::Collectable> c);
    // Collects every collectable and serializes the lot once.
    std::string text() const;

  private:
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<prometheus::Collectable>> sources_;
};

}  // namespace itscam::service
