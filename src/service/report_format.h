// Text helpers shared by the report writers (report.cpp: the daily report, report_charts.cpp: its inline SVG
// charts, report_period.cpp: the period analysis): UTC times, numbers with their units, HTML escaping and the
// self-contained HTML page around a report body. Internal to src/service/report*.cpp.
//
// Pure functions of their arguments: thread-safe, synchronous.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "service/history.h"

namespace itscam::service::report_format {

// Seconds since the epoch, with the milliseconds as the fraction.
double epoch_s(SystemTime t);
// `t` in UTC through strftime's `pattern`.
std::string fmt_utc(SystemTime t, const char* pattern = "%Y-%m-%d %H:%M UTC");
// One number through printf's format `f`.
std::string fmt(const char* f, double v);
// "12.3 ms", "45.6%" and "0.12%" (of a fraction), "29.9 fps"; "n/a" when absent.
std::string fmt_ms(const std::optional<double>& v);
std::string fmt_pct(const std::optional<double>& v);
std::string fmt_pct2(const std::optional<double>& v);
std::string fmt_fps(const std::optional<double>& v);
// 1234567 -> "1,234,567".
std::string fmt_int(int64_t v);
std::string html_escape(const std::string& s);
// The whole page: `body` (already HTML) under `title` (escaped here), with the reports' inline CSS; no scripts,
// no external resources.
std::string page(const std::string& title, const std::string& body);

}  // namespace itscam::service::report_format
