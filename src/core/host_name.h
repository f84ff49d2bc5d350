// This machine's name as an identifier: the host name with anything outside [A-Za-z0-9_.-] replaced by '_'
// ("itscam" when it cannot be read). The default node name of MQTT status topics and of cluster membership.
#pragma once

#include <string>

namespace itscam {

std::string sanitized_host_name();

}  // namespace itscam
