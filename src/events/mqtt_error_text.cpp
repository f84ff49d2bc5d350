#include "events/mqtt_error_text.h"

#include <mosquitto.h>

#include <cstring>

namespace itscam::events {

bool mqtt_refused_credentials(int c) { return c == 4 || c == 5 || c == 134 || c == 135; }

std::string mqtt_connack_text(const std::string& endpoint, int c) {
    const std::string broker = "MQTT broker " + endpoint;
    switch (c) {
        case 4: return broker + " refused the credentials (bad user name or password)";
        case 5: return broker + " refused the credentials (not authorised)";
        case 134: return broker + " refused the credentials (bad user name or password)";
        case 135: return broker + " refused the credentials (not authorised)";
        case 1: return broker + " refused the connection (unacceptable protocol version)";
        case 2: return broker + " refused the connection (client identifier rejected)";
        case 3: return broker + " refused the connection (server unavailable)";
        default: break;
    }
    const char* reason = c >= 128 ? mosquitto_reason_string(c) : mosquitto_connack_string(c);
    return broker + " refused the connection (" + (reason ? reason : "code " + std::to_string(c)) + ", code " +
           std::to_string(c) + ")";
}

std::string mqtt_error_text(const std::string& endpoint, int rc, int err, bool connected) {
    const std::string head =
        connected ? "lost the connection to MQTT broker " + endpoint : "cannot connect to MQTT broker " + endpoint;
    switch (rc) {
        case MOSQ_ERR_ERRNO: return head + ": " + (err ? std::strerror(err) : "system error");
        case MOSQ_ERR_EAI: return head + ": the host name does not resolve";
        case MOSQ_ERR_TLS:
        case MOSQ_ERR_TLS_HANDSHAKE:
            return "TLS handshake with MQTT broker " + endpoint +
                   " failed (certificate not signed by mqtt.tls_ca_file, host name mismatch, or not a TLS port)";
        case MOSQ_ERR_KEEPALIVE: return head + ": no answer within the keepalive";
        case MOSQ_ERR_CONN_LOST:
        case MOSQ_ERR_NO_CONN: return head + ": the connection was closed";
        case MOSQ_ERR_PROTOCOL:
        case MOSQ_ERR_MALFORMED_PACKET: return head + ": MQTT protocol error (is it an MQTT port?)";
        default: break;
    }
    return head + ": " + mosquitto_strerror(rc);
}

}  // namespace itscam::events
