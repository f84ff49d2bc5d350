#include "service/metrics_alerts.h"

namespace itscam::service {

std::vector<prometheus::MetricFamily> alert_metric_families(const std::vector<Alert>& active) {
    FamilyBuilder b;
    auto& f =
        b.family("itscam_alert_active", "Alerts pending (1) or firing (2), by rule.", prometheus::MetricType::Gauge);
    for (const auto& al : active)
        FamilyBuilder::gauge(f, {{"rule", al.rule}, {"severity", alert_severity_name(al.severity)}},
                             al.state == AlertState::kFiring ? 2 : 1);
    return b.take();
}

std::vector<prometheus::MetricFamily> AlertCollector::Collect() const {
    return alert_metric_families(engine_.active());
}

}  // namespace itscam::service
