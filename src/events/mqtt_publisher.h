// MqttPublisher: events to an MQTT broker through libmosquitto, from an on-disk spool (docs/mqtt.md).
//
// publish() appends to the EventSpool (memory + local disk) and returns; one thread per publisher connects (with
// backoff), sends from the spool in sequence with at most max_inflight unacknowledged, and advances the spool's
// acknowledged position in order as the broker acknowledges (PUBACK at QoS 1). After a reconnect it resends from
// the first unacknowledged event: a duplicate is byte-identical, so the "id" inside the payload (written by the
// caller; never rewritten here) tells it apart. Each connection uses a fresh libmosquitto client, so the library's
// own resend queue never doubles ours.
// Status topic "<prefix>/<node>/status" (retained, QoS 1): "online" on each connect, "offline" on a clean stop, and
// "offline" as the last will, published by the broker when the connection dies without a DISCONNECT.
// Secrets (password) never appear in the log or last_error.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "events/event_publisher.h"
#include "events/events_config.h"

namespace itscam::events {

class MqttPublisher : public EventPublisher {
public:
    // Validates `cfg`, opens the spool (events left by a previous run are sent first) and starts the thread; the
    // connection is made in the background (stats().connected, last_error). `log` receives one line per event
    // worth telling (connected, connection lost or refused, spool drops); it may be empty and must be thread-safe.
    static Result<std::unique_ptr<MqttPublisher>> create(const MqttConfig& cfg,
                                                         std::function<void(const std::string&)> log);
    // Publishes "offline", disconnects and stops the thread; waits at most about 3 s (a thread stuck in a DNS
    // look-up is left to finish on its own). Undelivered events stay in the spool for the next run.
    ~MqttPublisher() override;

    void publish(const std::string& topic, const std::string& payload, const std::string& id) override;
    // last_error is empty while connected; otherwise why the last connection attempt failed or the connection was
    // lost (e.g. "MQTT broker 127.0.0.1:1883 refused the credentials (not authorised)").
    PublisherStats stats() const override;
    bool flush(double timeout_s) override;

    const std::string& status_topic() const;
    const std::string& client_id() const;

    // Tests: stops the thread and closes the socket without DISCONNECT and without "offline", as a crash would (the
    // broker then publishes the last will). The publisher sends nothing afterwards.
    void kill_connection_for_test();

    struct Core;

private:
    explicit MqttPublisher(std::shared_ptr<Core> core);
    void stop(bool abrupt);

    std::shared_ptr<Core> core_;
    std::thread thread_;
};

}  // namespace itscam::events
