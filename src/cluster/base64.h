// Standard base64 (RFC 4648, with padding): the etcd JSON gateway carries keys and values as base64 text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace itscam::cluster {

std::string base64_encode(std::string_view bytes);
// The bytes, or nullopt when `text` is not canonical padded base64 (wrong length, a byte outside the alphabet,
// misplaced '='). An empty text is the empty string.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace itscam::cluster
