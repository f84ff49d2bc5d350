#include "service/metrics_registry.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace itscam::service {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily& FamilyBuilder::family(const std::string& name, const std::string& help, MetricType type) {
    fams_.push_back(MetricFamily{name, help, type, {}});
    return fams_.back();
}

void FamilyBuilder::gauge(MetricFamily& f, MetricLabels labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = v;
    f.metric.push_back(std::move(m));
}

void FamilyBuilder::counter(MetricFamily& f, MetricLabels labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = v;
    f.metric.push_back(std::move(m));
}

void FamilyBuilder::single_gauge(const std::string& name, const std::string& help, double v) {
    gauge(family(name, help, MetricType::Gauge), {}, v);
}

void FamilyBuilder::single_counter(const std::string& name, const std::string& help, double v) {
    counter(family(name, help, MetricType::Counter), {}, v);
}

std::vector<MetricFamily> FamilyBuilder::take() {
    std::vector<MetricFamily> out;
    for (auto& f : fams_)
        if (!f.metric.empty()) out.push_back(std::move(f));
    fams_.clear();
    return out;
}

std::string serialize_metrics(const std::vector<MetricFamily>& families) {
    std::ostringstream os;
    prometheus::TextSerializer().Serialize(os, families);
    return os.str();
}

void MetricsRegistry::add(std::shared_ptr<prometheus::Collectable> c) {
    if (!c) return;
    std::lock_guard<std::mutex> lk(mu_);
    sources_.push_back(std::move(c));
}

std::string MetricsRegistry::text() const {
    std::vector<std::shared_ptr<prometheus::Collectable>> sources;
    {
        std::lock_guard<std::mutex> lk(mu_);
        sources = sources_;
    }
    std::vector<MetricFamily> all;
    for (const auto& s : sources) {
        std::vector<MetricFamily> f = s->Collect();
        all.insert(all.end(), std::make_move_iterator(f.begin()), std::make_move_iterator(f.end()));
    }
    return serialize_metrics(all);
}

}  // namespace itscam::service
