// The alert series of /metrics: itscam_alert_active{rule,severity} = 1 pending, 2 firing (only rules that are
// pending or firing have a sample). Rule names are label values, escaped by the serializer like any other.
#pragma once

#include <vector>

#include "service/alerts.h"
#include "service/metrics_registry.h"

namespace itscam::service {

std::vector<prometheus::MetricFamily> alert_metric_families(const std::vector<Alert>& active);

// alert_metric_families of an engine's active alerts. The engine must outlive the collector's use; thread-safe.
class AlertCollector : public prometheus::Collectable {
  public:
    explicit AlertCollector(const AlertEngine& engine) : engine_(engine) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    const AlertEngine& engine_;
};

}  // namespace itscam::service
