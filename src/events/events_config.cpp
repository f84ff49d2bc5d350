#include "events/events_config.h"

#include <climits>
#include <cmath>

#include "core/host_name.h"
#include "core/regular_file.h"

namespace itscam::events {

namespace {

constexpr int64_t kMinSpoolBytes = int64_t{64} << 10;
constexpr int64_t kMaxSpoolBytes = int64_t{1} << 40;
constexpr size_t kMaxMqttString = 65535;  // MQTT's UTF-8 string length field is 16 bits

bool has_control(const std::string& s) {
    for (unsigned char ch : s)
        if (ch < 0x20 || ch == 0x7f) return true;
    return false;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// A camera or node id used as one topic level.
Status check_topic_part(const std::string& what, const std::string& part) {
    if (part.empty()) return invalid_argument(what + " is empty: it cannot be an MQTT topic level");
    if (part.size() > 1024) return invalid_argument(what + " is longer than 1024 bytes");
    if (has_control(part)) return invalid_argument(what + " " + quoted(part) + " holds a control character");
    for (char ch : part)
        if (ch == '/' || ch == '+' || ch == '#')
            return invalid_argument(what + " " + quoted(part) + " holds '" + std::string(1, ch) +
                                    "', which is not allowed in an MQTT topic level");
    return Status::ok();
}

Status check_prefix(const std::string& p) {
    const std::string key = "mqtt.topic_prefix";
    if (p.empty()) return invalid_argument(key + " is empty");
    if (p.size() > 1024) return invalid_argument(key + " is longer than 1024 bytes");
    if (has_control(p)) return invalid_argument(key + " " + quoted(p) + " holds a control character");
    if (p.find_first_of("+#") != std::string::npos)
        return invalid_argument(key + " " + quoted(p) + " holds an MQTT wildcard ('+' or '#')");
    if (p.front() == '/' || p.back() == '/' || p.find("//") != std::string::npos)
        return invalid_argument(key + " " + quoted(p) + " has an empty topic level (a leading, trailing or double '/')");
    if (p.front() == '$') return invalid_argument(key + " " + quoted(p) + " starts with '$' (reserved for the broker)");
    return Status::ok();
}

Status check_file(const std::string& key, const std::string& path) {
    auto f = RegularFile::open(path, key + " " + quoted(path) + ": ");
    return f.status();
}

Status check_tls(const MqttConfig& c) {
    if (!c.tls_cert_file.empty() && c.tls_key_file.empty())
        return invalid_argument("mqtt.tls_cert_file is set without mqtt.tls_key_file (a client certificate needs its key)");
    if (c.tls_cert_file.empty() && !c.tls_key_file.empty())
        return invalid_argument("mqtt.tls_key_file is set without mqtt.tls_cert_file");
    if (c.tls_ca_file.empty()) {
        if (!c.tls_cert_file.empty())
            return invalid_argument("mqtt.tls_cert_file needs mqtt.tls_ca_file (TLS is on only with a CA file)");
        if (c.tls_insecure)
            return invalid_argument("mqtt.tls_insecure is set but TLS is off (no mqtt.tls_ca_file)");
        return Status::ok();
    }
    ITSCAM_RETURN_IF_ERROR(check_file("mqtt.tls_ca_file", c.tls_ca_file));
    if (!c.tls_cert_file.empty()) {
        ITSCAM_RETURN_IF_ERROR(check_file("mqtt.tls_cert_file", c.tls_cert_file));
        ITSCAM_RETURN_IF_ERROR(check_file("mqtt.tls_key_file", c.tls_key_file));
    }
    return Status::ok();
}

Result<std::string> topic(const MqttConfig& c, const std::string& what, const std::string& part,
                          const char* leaf) {
    ITSCAM_RETURN_IF_ERROR(check_prefix(c.topic_prefix));
    ITSCAM_RETURN_IF_ERROR(check_topic_part(what, part));
    return c.topic_prefix + "/" + part + "/" + leaf;
}

}  // namespace

Status validate_mqtt_config(const MqttConfig& c) {
    if (!c.enabled) return Status::ok();
    if (c.host.empty()) return invalid_argument("mqtt.host is empty");
    if (c.host.size() > 255 || has_control(c.host) || c.host.find(' ') != std::string::npos)
        return invalid_argument("mqtt.host " + quoted(c.host) + " is not a host name or address");
    if (c.port < 1 || c.port > 65535)
        return invalid_argument("mqtt.port: " + std::to_string(c.port) + " is out of range 1..65535");
    if (c.qos < 0 || c.qos > 2) return invalid_argument("mqtt.qos: " + std::to_string(c.qos) + " is not 0, 1 or 2");
    if (c.keepalive_s < 5 || c.keepalive_s > 65535)
        return invalid_argument("mqtt.keepalive_s: " + std::to_string(c.keepalive_s) + " is out of range 5..65535");
    if (c.max_inflight < 1 || c.max_inflight > 65535)
        return invalid_argument("mqtt.max_inflight: " + std::to_string(c.max_inflight) +
                                " is out of range 1..65535");
    ITSCAM_RETURN_IF_ERROR(check_prefix(c.topic_prefix));
    if (!c.node.empty()) ITSCAM_RETURN_IF_ERROR(check_topic_part("mqtt.node", c.node));
    if (c.client_id.size() > kMaxMqttString || has_control(c.client_id))
        return invalid_argument("mqtt.client_id is longer than 65535 bytes or holds a control character");
    if (c.username.size() > kMaxMqttString || has_control(c.username))
        return invalid_argument("mqtt.username is longer than 65535 bytes or holds a control character");
    if (c.password.size() > kMaxMqttString) return invalid_argument("mqtt.password is longer than 65535 bytes");
    if (!c.password.empty() && c.username.empty())
        return invalid_argument("mqtt.password is set without mqtt.username (MQTT sends a password only with a user)");
    ITSCAM_RETURN_IF_ERROR(check_tls(c));
    if (c.spool_dir.empty()) return invalid_argument("mqtt.spool_dir is empty");
    if (c.spool_dir.find('\0') != std::string::npos) return invalid_argument("mqtt.spool_dir holds a NUL byte");
    if (!std::isfinite(c.spool_max_mb) || c.spool_max_mb * 1048576.0 < static_cast<double>(kMinSpoolBytes) ||
        c.spool_max_mb * 1048576.0 > static_cast<double>(kMaxSpoolBytes))
        return invalid_argument("mqtt.spool_max_mb: " + std::to_string(c.spool_max_mb) +
                                " is out of range 0.0625..1048576 (64 KiB..1 TiB)");
    if (!std::isfinite(c.reconnect_min_s) || c.reconnect_min_s < 0.01 || c.reconnect_min_s > 3600)
        return invalid_argument("mqtt.reconnect_min_s must be 0.01..3600 seconds");
    if (!std::isfinite(c.reconnect_max_s) || c.reconnect_max_s < c.reconnect_min_s || c.reconnect_max_s > 3600)
        return invalid_argument("mqtt.reconnect_max_s must be reconnect_min_s..3600 seconds");
    return Status::ok();
}

std::string default_mqtt_node() { return sanitized_host_name(); }

std::string effective_mqtt_node(const MqttConfig& c) { return c.node.empty() ? default_mqtt_node() : c.node; }

std::string effective_mqtt_client_id(const MqttConfig& c) {
    return c.client_id.empty() ? "itscam-" + effective_mqtt_node(c) : c.client_id;
}

Result<std::string> mqtt_events_topic(const MqttConfig& c, const std::string& camera) {
    return topic(c, "camera id", camera, "events");
}

Result<std::string> mqtt_counts_topic(const MqttConfig& c, const std::string& camera) {
    return topic(c, "camera id", camera, "counts");
}

Result<std::string> mqtt_status_topic(const MqttConfig& c) {
    return topic(c, "mqtt.node", effective_mqtt_node(c), "status");
}

}  // namespace itscam::events
