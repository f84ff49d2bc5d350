// Events to a message broker. The pipeline hands each event/aggregate as (topic, JSON payload, unique id); a
// publisher delivers them in order, at least once (QoS 1: a duplicate after a reconnect carries the same id).
#pragma once

#include <cstdint>
#include <string>

namespace itscam::events {

struct PublisherStats {
    bool connected = false;
    std::string last_error;        // e.g. "broker refused the credentials (not authorised)"
    int64_t published = 0;         // acknowledged by the broker (PUBACK)
    int64_t spooled = 0;           // messages now waiting in the on-disk spool
    int64_t spool_bytes = 0;
    int64_t dropped = 0;           // spool full: oldest dropped (counted, logged)
    int64_t reconnects = 0;
};

class EventPublisher {
public:
    virtual ~EventPublisher() = default;
    // Never blocks on the network: the message goes to the spool (memory + disk) and is sent by the publisher's
    // own thread.
    virtual void publish(const std::string& topic, const std::string& payload, const std::string& id) = 0;
    virtual PublisherStats stats() const = 0;
    // Waits up to timeout_s for the spool to drain (shutdown); returns true when empty.
    virtual bool flush(double timeout_s) = 0;
};

}  // namespace itscam::events
