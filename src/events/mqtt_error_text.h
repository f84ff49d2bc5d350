// What an operator reads when the MQTT connection fails: one line naming the broker, from libmosquitto's codes.
// Never holds a secret (the codes carry none; the user name and password are not part of any text).
#pragma once

#include <string>

namespace itscam::events {

// A CONNACK that refuses the credentials: MQTT 3.1.1 return codes 4 (bad user name or password) and 5 (not
// authorised), MQTT 5 reason codes 134 and 135.
bool mqtt_refused_credentials(int connack_code);

// "MQTT broker host:port refused the credentials (not authorised)", "MQTT broker host:port refused the connection
// (identifier rejected)", ...
std::string mqtt_connack_text(const std::string& endpoint, int connack_code);

// A libmosquitto error (MOSQ_ERR_*) while connecting (`connected` false) or on a live connection; `err` is errno
// for MOSQ_ERR_ERRNO. "cannot connect to MQTT broker host:port: Connection refused", "lost the connection to MQTT
// broker host:port: ...", "TLS handshake with MQTT broker host:port failed (...)".
std::string mqtt_error_text(const std::string& endpoint, int mosq_err, int err, bool connected);

}  // namespace itscam::events
