// MQTT delivery settings (the `events: mqtt:` section, docs/mqtt.md), their validation and the topic names.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace itscam::events {

struct MqttConfig {
    bool enabled = false;
    std::string host = "127.0.0.1";
    int port = 1883;
    std::string client_id;  // "" = "itscam-<node>"
    std::string node;       // "" = this host's name; the status topic is per node
    std::string username, password;  // password usually "${MQTT_PASSWORD}" in the file
    // TLS is on when tls_ca_file is set (the CA bundle that signed the broker's certificate). A client certificate
    // needs both tls_cert_file and tls_key_file (unencrypted key).
    std::string tls_ca_file, tls_cert_file, tls_key_file;
    bool tls_insecure = false;  // skip the broker host name check (never the chain check)
    int keepalive_s = 30;
    std::string topic_prefix = "itscam";
    int qos = 1;
    int max_inflight = 20;  // messages sent and not yet acknowledged (ordering needs a bound: resend from the first)
    std::string spool_dir = "runs/mqtt-spool";
    double spool_max_mb = 64;  // MiB on disk; past it the oldest events are dropped (0.0625 = 64 KiB .. 1 TiB)
    double reconnect_min_s = 0.5, reconnect_max_s = 10;

    int64_t spool_max_bytes() const { return static_cast<int64_t>(spool_max_mb * 1048576.0); }
    bool operator==(const MqttConfig&) const = default;
};

// OK, or kInvalidArgument naming the key ("mqtt.port: 70000 is out of range 1..65535"); TLS files that are missing
// or unreadable are kNotFound / kIo / kInvalidArgument naming the key and the path. A disabled section is not
// checked.
Status validate_mqtt_config(const MqttConfig& c);

// The node name used when `node` is empty: the host name, with anything outside [A-Za-z0-9_.-] replaced by '_'
// ("itscam" when it cannot be read).
std::string default_mqtt_node();
std::string effective_mqtt_node(const MqttConfig& c);       // c.node, or default_mqtt_node()
std::string effective_mqtt_client_id(const MqttConfig& c);  // c.client_id, or "itscam-<node>"

// "<prefix>/<camera>/events", "<prefix>/<camera>/counts", "<prefix>/<node>/status". A camera or node that is
// empty or holds '/', '+', '#' or a control byte is kInvalidArgument (it would change the topic's levels or turn
// it into a wildcard).
Result<std::string> mqtt_events_topic(const MqttConfig& c, const std::string& camera);
Result<std::string> mqtt_counts_topic(const MqttConfig& c, const std::string& camera);
Result<std::string> mqtt_status_topic(const MqttConfig& c);

}  // namespace itscam::events
