// The event-broker series of /metrics (docs/mqtt.md), from an EventPublisher's stats:
//   itscam_mqtt_connected                       gauge: 1 while connected to the broker
//   itscam_mqtt_spooled_messages, itscam_mqtt_spool_bytes   gauges: events waiting in the on-disk spool
//   itscam_mqtt_published_total                 counter: events the broker acknowledged (PUBACK)
//   itscam_mqtt_dropped_total                   counter: oldest events dropped because the spool was full
//   itscam_mqtt_reconnects_total                counter: connections made again after one was lost
#pragma once

#include <memory>
#include <vector>

#include "events/event_publisher.h"
#include "service/metrics_registry.h"

namespace itscam::service {

std::vector<prometheus::MetricFamily> event_metric_families(const events::PublisherStats& s);

// event_metric_families of a live publisher (thread-safe: stats() is).
class PublisherCollector : public prometheus::Collectable {
  public:
    explicit PublisherCollector(std::shared_ptr<const events::EventPublisher> p) : p_(std::move(p)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    std::shared_ptr<const events::EventPublisher> p_;
};

}  // namespace itscam::service
