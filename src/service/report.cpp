// The daily performance report (its Markdown summary and its HTML page with the charts) and writing it to files.
#include "service/report.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "service/report_charts.h"
#include "service/report_format.h"
#include "service/report_traffic.h"

namespace itscam::service {

using namespace report_charts;
using namespace report_format;

namespace {

std::string md_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '|')
            o += "\\|";
        else if (c == '\n')
            o += ' ';
        else
            o += c;
    }
    return o;
}

}  // namespace

Result<RenderedReport> render_daily_report(History& h, SystemTime from, SystemTime to) {
    if (to <= from) return invalid_argument("report: the window end must be after its start");
    RenderedReport rep;
    ITSCAM_ASSIGN_OR_RETURN(rep.stats, compute_report_stats(h, from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto samples, h.samples(from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto alerts, h.alerts(from, to));
    const ReportStats& s = rep.stats;
    const double hours = std::chrono::duration<double>(to - from).count() / 3600.0;
    const std::string window = fmt_utc(from) + " to " + fmt_utc(to) + " (" + fmt("%.1f", hours) + " h)";

    // ---- Markdown summary ----
    std::string md;
    md += "# itscam performance report\n\n";
    md += "Window: " + window + ", " + fmt_int(s.samples) + " samples.\n\n";
    md += "## Key numbers\n\n| metric | value |\n|---|---|\n";
    md += "| p99 inference latency (mean) | " + fmt_ms(s.p99_mean_ms) + " |\n";
    md += "| p99 inference latency (max) | " + fmt_ms(s.p99_max_ms) + " |\n";
    md += "| p95 inference latency (mean) | " + fmt_ms(s.p95_mean_ms) + " |\n";
    md += "| p50 inference latency (mean) | " + fmt_ms(s.p50_mean_ms) + " |\n";
    md += "| throughput (mean) | " + fmt_fps(s.fps_mean) + " |\n";
    md += "| frames processed | " + fmt_int(s.frames_processed) + " |\n";
    md += "| frames dropped | " + fmt_int(s.frames_dropped) + " |\n";
    md += "| drop rate | " + fmt_pct2(s.drop_rate) + " |\n";
    md += "| memory pool efficiency (mean) | " + fmt_pct(s.pool_efficiency_mean) + " |\n";
    md += "| GPU utilization (mean) | " + (s.gpu_utilization_mean ? fmt_pct(s.gpu_utilization_mean) : "not available") +
          " |\n";
    md += "| alerts fired | " + fmt_int(s.alerts_fired) + " |\n";
    md += "| circuit opens | " + fmt_int(s.circuit_opens) + " |\n";
    md += "| camera disconnects/failures | " + fmt_int(s.camera_disconnects) + " |\n";
    md += "\n## Alerts fired by rule\n\n";
    if (s.alerts_fired_by_rule.empty()) {
        md += "No alerts fired.\n";
    } else {
        md += "| rule | fired |\n|---|---|\n";
        for (const auto& [rule, n] : s.alerts_fired_by_rule) md += "| " + md_escape(rule) + " | " + fmt_int(n) + " |\n";
    }
    if (s.samples == 0) md += "\nNo metric samples were recorded in this window.\n";
    // Counts, speeds and congestion when the window has analytics rows (report_traffic.h).
    ITSCAM_ASSIGN_OR_RETURN(TrafficSection traffic, render_traffic_section(h, from, to));
    md += traffic.markdown;
    rep.traffic_text = traffic.text;
    rep.markdown = md;

    // ---- HTML ----
    const double t0 = epoch_s(from), t1 = epoch_s(to);
    std::string b;
    b += "<h1>itscam performance report</h1>\n<p>" + html_escape(window) + ", " + fmt_int(s.samples) +
         " samples. Generated " + html_escape(fmt_utc(std::chrono::system_clock::now())) + ".</p>\n";
    b += "<h2>Summary</h2>\n<table>\n";
    auto row = [&](const std::string& k, const std::string& v) {
        b += "<tr><th>" + html_escape(k) + "</th><td class=\"num\">" + html_escape(v) + "</td></tr>\n";
    };
    row("p99 inference latency (mean)", fmt_ms(s.p99_mean_ms));
    row("p99 inference latency (max)", fmt_ms(s.p99_max_ms));
    row("p95 inference latency (mean)", fmt_ms(s.p95_mean_ms));
    row("p50 inference latency (mean)", fmt_ms(s.p50_mean_ms));
    row("throughput (mean)", fmt_fps(s.fps_mean));
    row("frames processed", fmt_int(s.frames_processed));
    row("frames dropped", fmt_int(s.frames_dropped) + " (" + fmt_pct2(s.drop_rate) + ")");
    row("memory pool efficiency (mean)", fmt_pct(s.pool_efficiency_mean));
    row("GPU utilization (mean)", s.gpu_utilization_mean ? fmt_pct(s.gpu_utilization_mean) : "not available");
    row("alerts fired", fmt_int(s.alerts_fired));
    row("circuit opens", fmt_int(s.circuit_opens));
    b += "</table>\n";

    if (samples.empty()) {
        b += "<p class=\"na\">No metric samples were recorded in this window.</p>\n";
    } else {
        auto series = [&](std::string name, std::string color,
                          const std::function<std::optional<double>(const HistorySample&)>& get) {
            Series sr{std::move(name), std::move(color), {}};
            sr.pts.reserve(samples.size());
            for (const auto& x : samples) sr.pts.emplace_back(epoch_s(x.timestamp), get(x));
            return sr;
        };
        auto ms = [](double v) { return fmt("%g ms", v); };
        auto pct = [](double v) { return fmt("%g%%", v * 100); };
        b += "<h2>Inference latency</h2>\n";
        b += svg_chart("Inference latency percentiles (ms)",
                       {series("p50", "#2ca02c", [](const HistorySample& x) { return x.latency_p50_ms; }),
                        series("p95", "#ff7f0e", [](const HistorySample& x) { return x.latency_p95_ms; }),
                        series("p99", "#d62728", [](const HistorySample& x) { return x.latency_p99_ms; })},
                       t0, t1, ms, std::nullopt, std::make_pair(100.0, std::string("p99 alert 100 ms")));
        b += "<h2>Throughput</h2>\n";
        b += svg_chart(
            "Throughput (frames/s)", {series("fps", "#1f77b4", [](const HistorySample& x) { return x.fps; })}, t0, t1,
            [](double v) { return fmt("%g", v); }, std::nullopt);
        b += "<h2>Memory pool efficiency</h2>\n";
        b += svg_chart("Memory pool efficiency (hit rate)",
                       {series("pool efficiency", "#9467bd", [](const HistorySample& x) { return x.pool_efficiency; })},
                       t0, t1, pct, 1.0, std::make_pair(0.6, std::string("alert 60%")));
        b += "<h2>GPU utilization</h2>\n";
        if (s.gpu_utilization_mean) {
            b += svg_chart("GPU utilization",
                           {series("gpu", "#8c564b", [](const HistorySample& x) { return x.gpu_utilization; })}, t0, t1,
                           pct, 1.0, std::make_pair(0.7, std::string("alert 70%")));
        } else {
            b += "<p class=\"na\">GPU utilization: not available (no GPU utilization was recorded).</p>\n";
        }
    }

    b += "<h2>Alerts</h2>\n";
    const auto eps = alert_episodes(alerts, t1);
    if (eps.empty()) {
        b += "<p>No alerts fired in this window.</p>\n";
    } else {
        b += svg_alert_timeline(eps, t0, t1);
    }
    if (!alerts.empty()) {
        b += "<table>\n<tr><th>time (UTC)</th><th>rule</th><th>severity</th><th>transition</th><th>value</th>"
             "<th>message</th></tr>\n";
        const size_t kMaxRows = 500;
        const size_t first = alerts.size() > kMaxRows ? alerts.size() - kMaxRows : 0;
        for (size_t i = first; i < alerts.size(); ++i) {
            const auto& a = alerts[i];
            b += "<tr><td>" + html_escape(fmt_utc(a.timestamp, "%Y-%m-%d %H:%M:%S")) + "</td><td>" +
                 html_escape(a.rule) + "</td><td>" + html_escape(a.severity) + "</td><td>" +
                 html_escape(a.from_state + " -> " + a.to_state) + "</td><td class=\"num\">" + fmt("%.4g", a.value) +
                 "</td><td>" + html_escape(a.message) + "</td></tr>\n";
        }
        b += "</table>\n";
        if (first > 0)
            b += "<p class=\"na\">(" + fmt_int(static_cast<int64_t>(first)) + " earlier events not shown)</p>\n";
    }
    b += traffic.html;
    rep.html = page("itscam performance report " + fmt_utc(to, "%Y-%m-%d %H:%M UTC"), b);
    return rep;
}

Result<std::chrono::seconds> parse_report_duration(const std::string& s) {
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(s, &pos);
    } catch (...) {
        return invalid_argument("bad duration '" + s + "' (expected e.g. 24h, 90m, 7d)");
    }
    const std::string unit = s.substr(pos);
    double mult;
    if (unit.empty() || unit == "s")
        mult = 1;
    else if (unit == "m")
        mult = 60;
    else if (unit == "h")
        mult = 3600;
    else if (unit == "d")
        mult = 86400;
    else if (unit == "w")
        mult = 7 * 86400;
    else
        return invalid_argument("bad duration unit in '" + s + "' (s, m, h, d, w)");
    if (!std::isfinite(v) || v <= 0) return invalid_argument("duration '" + s + "' must be > 0");
    return std::chrono::seconds(static_cast<int64_t>(std::llround(v * mult)));
}

Result<ReportFiles> write_report(History& h, std::chrono::seconds duration, const std::string& out_dir,
                                 SystemTime now) {
    if (duration.count() <= 0) return invalid_argument("report: duration must be > 0");
    if (out_dir.empty()) return invalid_argument("report: empty output directory");
    ITSCAM_ASSIGN_OR_RETURN(RenderedReport rep, render_daily_report(h, now - duration, now));
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) return io_error("report: cannot create output directory '" + out_dir + "': " + ec.message());
    const std::string stem = "report-" + fmt_utc(now, "%Y%m%d-%H%M");
    ReportFiles files;
    files.html_path = (fs::path(out_dir) / (stem + ".html")).string();
    files.markdown_path = (fs::path(out_dir) / (stem + ".md")).string();
    files.traffic_text = rep.traffic_text;
    for (const auto& [path, text] :
         {std::make_pair(files.html_path, &rep.html), std::make_pair(files.markdown_path, &rep.markdown)}) {
        const std::string tmp = path + ".tmp";
        {
            std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
            if (!f) return io_error("report: cannot write '" + tmp + "'");
            f << *text;
            f.flush();
            if (!f) return io_error("report: write to '" + tmp + "' failed");
        }
        fs::rename(tmp, path, ec);
        if (ec) return io_error("report: cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
    }
    return files;
}

}  // namespace itscam::service
