#include "service/metrics_events.h"

namespace itscam::service {

std::vector<prometheus::MetricFamily> event_metric_families(const events::PublisherStats& s) {
    FamilyBuilder b;
    b.single_gauge("itscam_mqtt_connected", "1 while connected to the MQTT broker, else 0.", s.connected ? 1 : 0);
    b.single_gauge("itscam_mqtt_spooled_messages", "Events waiting in the on-disk spool for the MQTT broker.",
                   static_cast<double>(s.spooled));
    b.single_gauge("itscam_mqtt_spool_bytes", "Bytes of the events waiting in the MQTT spool.",
                   static_cast<double>(s.spool_bytes));
    b.single_counter("itscam_mqtt_published_total", "Events the MQTT broker acknowledged.",
                     static_cast<double>(s.published));
    b.single_counter("itscam_mqtt_dropped_total", "Oldest events dropped because the MQTT spool was full.",
                     static_cast<double>(s.dropped));
    b.single_counter("itscam_mqtt_reconnects_total", "Connections to the MQTT broker made again after one was lost.",
                     static_cast<double>(s.reconnects));
    return b.take();
}

std::vector<prometheus::MetricFamily> PublisherCollector::Collect() const {
    return event_metric_families(p_->stats());
}

}  // namespace itscam::service
