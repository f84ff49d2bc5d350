// Reports from recorded history (SEED_SETTINGS.md "Reports"):
//  - the daily performance report: a self-contained HTML page (inline CSS, inline SVG polyline charts drawn here,
//    no external resources, no scripts) with latency percentiles, throughput, pool efficiency, GPU utilization and
//    an alerts timeline, plus a Markdown summary of the key numbers;
//  - the period analysis (`--period weekly`): the last period against the previous one and against a baseline
//    P99, saying what improved or regressed, with numbers.
// When the window has traffic analytics rows, the daily report adds a traffic section (report_traffic.h): counts by
// hour and class per line and direction, the speed distribution, the congestion timeline per zone.
// All times are shown in UTC. Only pipeline-wide samples (camera_id empty) are used.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/status.h"
#include "service/history.h"

namespace itscam::service {

// Key numbers of one time window.
struct ReportStats {
    SystemTime from{}, to{};
    int64_t samples = 0;
    std::optional<double> p50_mean_ms, p95_mean_ms, p99_mean_ms, p99_max_ms;
    std::optional<double> fps_mean, fps_min;
    std::optional<double> pool_efficiency_mean, gpu_utilization_mean, error_rate_mean;
    int64_t frames_processed = 0, frames_dropped = 0;
    std::optional<double> drop_rate;  // dropped / (processed + dropped); absent with no frames
    int64_t alerts_fired = 0;
    std::map<std::string, int64_t> alerts_fired_by_rule;
    int64_t circuit_opens = 0;
    int64_t camera_disconnects = 0;  // disconnected + failed events
};

Result<ReportStats> compute_report_stats(History& h, SystemTime from, SystemTime to);

struct RenderedReport {
    std::string html;
    std::string markdown;
    ReportStats stats;
    std::string traffic_text;  // the traffic section as plain text lines (empty: no analytics rows in the window)
};

// Daily report over [from, to).
Result<RenderedReport> render_daily_report(History& h, SystemTime from, SystemTime to);

struct ReportFiles {
    std::string html_path, markdown_path;
    std::string traffic_text;  // RenderedReport::traffic_text, for the command's summary on stdout
};

// Renders [now - duration, now) and writes out_dir/report-YYYYMMDD-HHMM.html and .md (UTC of `now`), creating
// out_dir if needed.
Result<ReportFiles> write_report(History& h, std::chrono::seconds duration, const std::string& out_dir,
                                 SystemTime now = std::chrono::system_clock::now());

// "24h", "90m", "3600s", "7d", or plain seconds.
Result<std::chrono::seconds> parse_report_duration(const std::string& s);

enum class AnalysisPeriod { kDaily, kWeekly };
Result<AnalysisPeriod> parse_analysis_period(const std::string& s);  // "daily" | "weekly"
std::chrono::seconds analysis_period_length(AnalysisPeriod p);

struct PeriodAnalysis {
    std::string markdown;
    std::string html;  // the same content as a self-contained page
    ReportStats current, previous;
    bool has_previous = false;  // the previous period had samples
};

// Compares [end - P, end) with [end - 2P, end - P) and the current mean P99 with `baseline_p99_ms` (regression
// when above baseline x 1.2). A change within 2% (relative) is reported as "unchanged". `baseline_source` says
// where the baseline came from (ReportBaseline::source); the report prints it beside the value.
Result<PeriodAnalysis> render_period_analysis(History& h, AnalysisPeriod period = AnalysisPeriod::kWeekly,
                                              double baseline_p99_ms = 75.0,
                                              SystemTime end = std::chrono::system_clock::now(),
                                              const std::string& baseline_source = "the default");

// The regression baseline a report compares against, and where it came from.
struct ReportBaseline {
    double p99_ms = 75.0;
    std::string source;  // e.g. "recorded 2026-05-01T10:00:00.000Z through POST /api/v1/baseline (812 samples)"
    bool recorded = false;  // it is the history's recorded baseline
};
// In order: `explicit_ms` (`--baseline-ms`) when given; else the baseline recorded in the history
// (History::latest_baseline, POST /api/v1/baseline); else `configured_ms` (alerts.baseline_p99_ms of the config);
// else the default 75 ms. A value that is not > 0 is kInvalidArgument.
Result<ReportBaseline> choose_report_baseline(History& h, std::optional<double> explicit_ms,
                                              std::optional<double> configured_ms);

}  // namespace itscam::service
