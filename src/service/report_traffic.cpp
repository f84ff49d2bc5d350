// The traffic section of the reports (report_traffic.h).
#include "service/report_traffic.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "service/report_format.h"

namespace itscam::service {

using namespace report_format;

const std::vector<double>& SpeedStats::bounds_kmh() {
    static const std::vector<double> kBounds = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 120, 140, 160, 180, 200};
    return kBounds;
}

SpeedStats speed_stats(std::vector<double> v) {
    SpeedStats s;
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
    s.histogram.assign(SpeedStats::bounds_kmh().size() + 1, 0);
    s.n = static_cast<int64_t>(v.size());
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    const auto pct = [&](double p) {
        const double pos = p * static_cast<double>(v.size() - 1);
        const size_t lo = static_cast<size_t>(std::floor(pos));
        const size_t hi = std::min(lo + 1, v.size() - 1);
        return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
    };
    double sum = 0;
    const auto& b = SpeedStats::bounds_kmh();
    for (double x : v) {
        sum += x;
        const size_t i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), x) - b.begin());
        ++s.histogram[i];
    }
    s.mean = sum / static_cast<double>(v.size());
    s.p50 = pct(0.50);
    s.p85 = pct(0.85);
    s.p95 = pct(0.95);
    s.max = v.back();
    return s;
}

namespace {

const char* level_color(const std::string& level) {
    if (level == "queued") return "#d62728";
    if (level == "slow") return "#ff9f1c";
    if (level == "free") return "#2ca02c";
    return "#bbbbbb";
}

std::string bucket_label(size_t i) {
    const auto& b = SpeedStats::bounds_kmh();
    if (i == 0) return "<= " + fmt("%g", b[0]) + " km/h";
    if (i >= b.size()) return "> " + fmt("%g", b.back()) + " km/h";
    return fmt("%g", b[i - 1]) + "-" + fmt("%g", b[i]) + " km/h";
}

// (camera, line, direction) -> hour start (ms) -> class -> count
using HourlyCounts = std::map<std::tuple<std::string, std::string, std::string>,
                              std::map<int64_t, std::map<std::string, int64_t>>>;

struct ZoneTimeline {
    std::vector<std::tuple<int64_t, int64_t, std::string>> spans;  // (start ms, end ms, level at its end)
    std::map<std::string, double> seconds;                         // level -> seconds
};

}  // namespace

Result<TrafficSection> render_traffic_section(History& h, SystemTime from, SystemTime to) {
    if (to <= from) return invalid_argument("report: the window end must be after its start");
    ITSCAM_ASSIGN_OR_RETURN(auto intervals, h.query_intervals(from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto changes, h.analytics_events(from, to));
    TrafficSection out;
    if (intervals.empty() && changes.empty()) return out;
    out.present = true;

    HourlyCounts hourly;
    std::map<std::string, std::vector<double>> speeds;                     // camera -> speeds
    std::map<std::pair<std::string, std::string>, ZoneTimeline> zones;    // (camera, zone)
    std::map<std::string, std::set<std::string>> classes_of;               // "camera/line/direction" -> classes
    for (const auto& a : intervals) {
        const int64_t hour = (a.start_us / 1000) / 3'600'000 * 3'600'000;
        for (const auto& [k, n] : a.line_counts) {
            const auto& [line, dir, cls] = k;
            hourly[{a.camera, line, dir}][hour][cls] += n;
        }
        for (double v : a.speeds_kmh) speeds[a.camera].push_back(v);
        for (const auto& [name, z] : a.zones) {
            ZoneTimeline& t = zones[{a.camera, name}];
            t.spans.emplace_back(a.start_us / 1000, a.end_us / 1000, z.congestion);
            t.seconds[z.congestion] += static_cast<double>(a.end_us - a.start_us) / 1e6;
        }
    }

    std::string md = "\n## Traffic\n";
    std::string html = "<h2>Traffic</h2>\n";
    std::string text = "traffic:\n";

    // ---- counts by hour and class ----
    md += "\n### Counts by hour and class\n";
    html += "<h3>Counts by hour and class</h3>\n";
    if (hourly.empty()) {
        md += "\nNo line crossings were counted in this window.\n";
        html += "<p class=\"na\">No line crossings were counted in this window.</p>\n";
    }
    for (const auto& [key, hours] : hourly) {
        const auto& [cam, line, dir] = key;
        std::set<std::string> classes;
        int64_t total = 0;
        for (const auto& [hr, by_class] : hours)
            for (const auto& [c, n] : by_class) {
                classes.insert(c);
                total += n;
            }
        const std::string title = "camera " + cam + ", line " + line + ", " + dir;
        text += "  " + title + ": " + fmt_int(total) + " crossings\n";
        md += "\n**" + title + "** (" + fmt_int(total) + ")\n\n| hour (UTC) |";
        html += "<p><b>" + html_escape(title) + "</b> (" + fmt_int(total) + ")</p>\n<table>\n<tr><th>hour (UTC)</th>";
        for (const auto& c : classes) {
            md += " " + c + " |";
            html += "<th>" + html_escape(c) + "</th>";
        }
        md += " total |\n|---|";
        html += "<th>total</th></tr>\n";
        for (size_t i = 0; i <= classes.size(); ++i) md += "---|";
        md += "\n";
        for (const auto& [hr, by_class] : hours) {
            const std::string when = fmt_utc(from_epoch_ms(hr), "%Y-%m-%d %H:00");
            int64_t row_total = 0;
            md += "| " + when + " |";
            html += "<tr><td>" + html_escape(when) + "</td>";
            for (const auto& c : classes) {
                const auto it = by_class.find(c);
                const int64_t n = it == by_class.end() ? 0 : it->second;
                row_total += n;
                // append(): GCC 12 warns falsely (-Wrestrict) on " " + std::string here.
                md.append(" ").append(fmt_int(n)).append(" |");
                html += "<td class=\"num\">" + fmt_int(n) + "</td>";
            }
            md.append(" ").append(fmt_int(row_total)).append(" |\n");
            html += "<td class=\"num\">" + fmt_int(row_total) + "</td></tr>\n";
        }
        html += "</table>\n";
    }

    // ---- speed distribution ----
    md += "\n### Speed distribution (at line crossings)\n";
    html += "<h3>Speed distribution (at line crossings)</h3>\n";
    if (speeds.empty()) {
        md += "\nNo speeds were measured in this window (no calibrated camera, or no crossings).\n";
        html += "<p class=\"na\">No speeds were measured in this window (no calibrated camera, or no crossings).</p>\n";
    }
    for (const auto& [cam, v] : speeds) {
        const SpeedStats s = speed_stats(v);
        const std::string summary = fmt_int(s.n) + " vehicles, mean " + fmt("%.1f", s.mean) + ", p50 " +
                                    fmt("%.1f", s.p50) + ", p85 " + fmt("%.1f", s.p85) + ", p95 " +
                                    fmt("%.1f", s.p95) + ", max " + fmt("%.1f", s.max) + " km/h";
        text += "  camera " + cam + " speeds: " + summary + "\n";
        md += "\n**camera " + cam + "**: " + summary + "\n\n| speed | vehicles |\n|---|---|\n";
        html += "<p><b>camera " + html_escape(cam) + "</b>: " + html_escape(summary) + "</p>\n<table>\n" +
                "<tr><th>speed</th><th>vehicles</th><th></th></tr>\n";
        const int64_t peak = std::max<int64_t>(1, *std::max_element(s.histogram.begin(), s.histogram.end()));
        for (size_t i = 0; i < s.histogram.size(); ++i) {
            if (s.histogram[i] == 0) continue;
            md += "| " + bucket_label(i) + " | " + fmt_int(s.histogram[i]) + " |\n";
            const int width = static_cast<int>(std::lround(240.0 * static_cast<double>(s.histogram[i]) /
                                                            static_cast<double>(peak)));
            html += "<tr><td>" + html_escape(bucket_label(i)) + "</td><td class=\"num\">" + fmt_int(s.histogram[i]) +
                    "</td><td><svg width=\"240\" height=\"10\"><rect width=\"" + std::to_string(width) +
                    "\" height=\"10\" fill=\"#1f77b4\"/></svg></td></tr>\n";
        }
        html += "</table>\n";
    }

    // ---- congestion timeline ----
    md += "\n### Congestion timeline\n";
    html += "<h3>Congestion timeline</h3>\n";
    if (zones.empty()) {
        md += "\nNo zone figures were recorded in this window.\n";
        html += "<p class=\"na\">No zone figures were recorded in this window.</p>\n";
    }
    const double t0 = static_cast<double>(to_epoch_ms(from)), t1 = static_cast<double>(to_epoch_ms(to));
    for (const auto& [key, t] : zones) {
        const auto& [cam, zone] = key;
        double total = 0;
        for (const auto& [lvl, secs] : t.seconds) total += secs;
        std::string shares;
        for (const char* lvl : {"free", "slow", "queued"}) {
            const auto it = t.seconds.find(lvl);
            const double share = it == t.seconds.end() || total <= 0 ? 0 : it->second / total;
            shares += std::string(shares.empty() ? "" : ", ") + lvl + " " + fmt("%.1f%%", share * 100);
        }
        const std::string title = "camera " + cam + ", zone " + zone;
        text += "  " + title + ": " + shares + "\n";
        md += "\n**" + title + "**: " + shares + "\n";
        html += "<p><b>" + html_escape(title) + "</b>: " + html_escape(shares) + "</p>\n";
        // One bar over the window, a segment per interval in its level's colour.
        html += "<svg class=\"chart\" width=\"900\" height=\"18\" role=\"img\" aria-label=\"" +
                html_escape("congestion of " + title) + "\">";
        for (const auto& [s_ms, e_ms, lvl] : t.spans) {
            const double x0 = 900.0 * std::clamp((static_cast<double>(s_ms) - t0) / (t1 - t0), 0.0, 1.0);
            const double x1 = 900.0 * std::clamp((static_cast<double>(e_ms) - t0) / (t1 - t0), 0.0, 1.0);
            html += "<rect x=\"" + fmt("%.1f", x0) + "\" y=\"0\" width=\"" + fmt("%.1f", std::max(0.5, x1 - x0)) +
                    "\" height=\"18\" fill=\"" + level_color(lvl) + "\"><title>" +
                    html_escape(fmt_utc(from_epoch_ms(s_ms), "%H:%M") + " " + lvl) + "</title></rect>";
        }
        html += "</svg>\n";
    }
    // The recorded changes (hysteresis makes them few), newest 200 at most.
    if (!changes.empty()) {
        const size_t first = changes.size() > 200 ? changes.size() - 200 : 0;
        md += "\n| time (UTC) | camera | zone | change |\n|---|---|---|---|\n";
        html += "<table>\n<tr><th>time (UTC)</th><th>camera</th><th>zone</th><th>change</th></tr>\n";
        for (size_t i = first; i < changes.size(); ++i) {
            const auto& c = changes[i];
            const std::string when = fmt_utc(c.timestamp, "%Y-%m-%d %H:%M:%S");
            const std::string change = c.previous_level + " -> " + c.level;
            md += "| " + when + " | " + c.camera_id + " | " + c.zone + " | " + change + " |\n";
            html += "<tr><td>" + html_escape(when) + "</td><td>" + html_escape(c.camera_id) + "</td><td>" +
                    html_escape(c.zone) + "</td><td>" + html_escape(change) + "</td></tr>\n";
        }
        html += "</table>\n";
        text += "  congestion changes: " + fmt_int(static_cast<int64_t>(changes.size())) + "\n";
    }
    out.markdown = std::move(md);
    out.html = std::move(html);
    out.text = std::move(text);
    return out;
}

}  // namespace itscam::service
