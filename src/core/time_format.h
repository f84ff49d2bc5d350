// Wall-clock time as text.
#pragma once

#include <chrono>
#include <string>

namespace itscam {

// ISO 8601 UTC with milliseconds: "2026-11-30T01:02:03.456Z" (times before 1970 round down, like the rest).
std::string iso8601_utc(std::chrono::system_clock::time_point t);

}  // namespace itscam
