#include "service/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <vector>

namespace itscam::service {

namespace {

double epoch_s(SystemTime t) { return static_cast<double>(to_epoch_ms(t)) / 1000.0; }

std::tm utc_tm(SystemTime t) {
    std::time_t secs = static_cast<std::time_t>(std::floor(epoch_s(t)));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}

std::string fmt_utc(SystemTime t, const char* pattern = "%Y-%m-%d %H:%M UTC") {
    const std::tm tm = utc_tm(t);
    char buf[64];
    std::strftime(buf, sizeof buf, pattern, &tm);
    return buf;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string fmt_ms(const std::optional<double>& v) { return v ? fmt("%.1f ms", *v) : "n/a"; }
std::string fmt_pct(const std::optional<double>& v) { return v ? fmt("%.1f%%", *v * 100.0) : "n/a"; }
std::string fmt_pct2(const std::optional<double>& v) { return v ? fmt("%.2f%%", *v * 100.0) : "n/a"; }
std::string fmt_fps(const std::optional<double>& v) { return v ? fmt("%.1f fps", *v) : "n/a"; }

std::string fmt_int(int64_t v) {  // 1234567 -> "1,234,567"
    const std::string digits = std::to_string(v < 0 ? -v : v);
    std::string out;
    if (v < 0) out.push_back('-');
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

std::string html_escape(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += c;
        }
    }
    return o;
}

std::string md_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '|') o += "\\|";
        else if (c == '\n') o += ' ';
        else o += c;
    }
    return o;
}

struct Mean {
    double sum = 0;
    int64_t n = 0;
    std::optional<double> max, min;
    void add(const std::optional<double>& v) {
        if (!v || !std::isfinite(*v)) return;
        sum += *v;
        ++n;
        max = max ? std::max(*max, *v) : *v;
        min = min ? std::min(*min, *v) : *v;
    }
    std::optional<double> mean() const { return n ? std::optional<double>(sum / static_cast<double>(n)) : std::nullopt; }
};

// ---- SVG charts ------------------------------------------------------------------------------------------------

struct Series {
    std::string name, color;
    std::vector<std::pair<double, std::optional<double>>> pts;  // (epoch s, value); nullopt breaks the line
};

double nice_ceil(double v) {
    if (v <= 0) return 1;
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (v <= m * p + 1e-12) return m * p;
    return 10 * p;
}

// Keeps at most ~2*buckets points per segment: each bucket contributes its min and max (in time order), so spikes
// survive the downsampling.
std::vector<std::pair<double, double>> downsample(const std::vector<std::pair<double, double>>& seg, size_t buckets) {
    if (seg.size() <= buckets * 2) return seg;
    std::vector<std::pair<double, double>> out;
    const size_t per = (seg.size() + buckets - 1) / buckets;
    for (size_t b = 0; b < seg.size(); b += per) {
        const size_t e = std::min(seg.size(), b + per);
        size_t lo = b, hi = b;
        for (size_t i = b; i < e; ++i) {
            if (seg[i].second < seg[lo].second) lo = i;
            if (seg[i].second > seg[hi].second) hi = i;
        }
        out.push_back(seg[std::min(lo, hi)]);
        if (lo != hi) out.push_back(seg[std::max(lo, hi)]);
    }
    return out;
}

// A line chart: axes, y grid with labels, UTC time labels, a legend, one polyline per contiguous run of values.
std::string svg_chart(const std::string& title, const std::vector<Series>& series, double t0, double t1,
                      const std::function<std::string(double)>& ylabel, std::optional<double> ymax_fixed,
                      std::optional<std::pair<double, std::string>> ref_line = std::nullopt) {
    const double W = 880, H = 260, L = 64, R = 16, T = 28, B = 36;
    const double pw = W - L - R, ph = H - T - B;
    double vmax = 0;
    for (const auto& s : series)
        for (const auto& p : s.pts)
            if (p.second) vmax = std::max(vmax, *p.second);
    if (ref_line) vmax = std::max(vmax, ref_line->first);
    const double ymax = ymax_fixed ? *ymax_fixed : nice_ceil(vmax * 1.05);
    if (t1 <= t0) t1 = t0 + 1;
    auto X = [&](double t) { return L + (t - t0) / (t1 - t0) * pw; };
    auto Y = [&](double v) { return T + ph - std::clamp(v / ymax, 0.0, 1.0) * ph; };
    std::string o;
    o += "<svg class=\"chart\" viewBox=\"0 0 " + fmt("%.0f", W) + " " + fmt("%.0f", H) + "\" width=\"" +
         fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) + "\" role=\"img\" aria-label=\"" + html_escape(title) +
         "\">\n";
    o += "<text x=\"" + fmt("%.0f", L) + "\" y=\"18\" class=\"ct\">" + html_escape(title) + "</text>\n";
    // y grid + labels
    for (int i = 0; i <= 4; ++i) {
        const double v = ymax * i / 4.0, y = Y(v);
        o += "<line x1=\"" + fmt("%.1f", L) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" + fmt("%.1f", L + pw) +
             "\" y2=\"" + fmt("%.1f", y) + "\" class=\"grid\"/>";
        o += "<text x=\"" + fmt("%.1f", L - 6) + "\" y=\"" + fmt("%.1f", y + 4) + "\" class=\"yl\">" +
             html_escape(ylabel(v)) + "</text>\n";
    }
    // x labels
    const bool long_span = (t1 - t0) > 2 * 86400;
    for (int i = 0; i <= 6; ++i) {
        const double t = t0 + (t1 - t0) * i / 6.0, x = X(t);
        const SystemTime tp = from_epoch_ms(static_cast<int64_t>(t * 1000));
        o += "<line x1=\"" + fmt("%.1f", x) + "\" y1=\"" + fmt("%.1f", T + ph) + "\" x2=\"" + fmt("%.1f", x) +
             "\" y2=\"" + fmt("%.1f", T + ph + 4) + "\" class=\"axis\"/>";
        o += "<text x=\"" + fmt("%.1f", x) + "\" y=\"" + fmt("%.1f", T + ph + 18) + "\" class=\"xl\">" +
             fmt_utc(tp, long_span ? "%m-%d %H:%M" : "%H:%M") + "</text>\n";
    }
    // axes
    o += "<line x1=\"" + fmt("%.1f", L) + "\" y1=\"" + fmt("%.1f", T) + "\" x2=\"" + fmt("%.1f", L) + "\" y2=\"" +
         fmt("%.1f", T + ph) + "\" class=\"axis\"/>";
    o += "<line x1=\"" + fmt("%.1f", L) + "\" y1=\"" + fmt("%.1f", T + ph) + "\" x2=\"" + fmt("%.1f", L + pw) +
         "\" y2=\"" + fmt("%.1f", T + ph) + "\" class=\"axis\"/>\n";
    if (ref_line) {
        const double y = Y(ref_line->first);
        o += "<line x1=\"" + fmt("%.1f", L) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" + fmt("%.1f", L + pw) +
             "\" y2=\"" + fmt("%.1f", y) + "\" class=\"ref\"/>";
        o += "<text x=\"" + fmt("%.1f", L + pw - 4) + "\" y=\"" + fmt("%.1f", y - 4) + "\" class=\"refl\">" +
             html_escape(ref_line->second) + "</text>\n";
    }
    // series
    double lx = L + 220;
    for (const auto& s : series) {
        std::vector<std::pair<double, double>> seg;
        auto flush = [&] {
            if (seg.empty()) return;
            const auto pts = downsample(seg, 600);
            std::string p;
            for (const auto& [t, v] : pts) p += fmt("%.1f", X(t)) + "," + fmt("%.1f", Y(v)) + " ";
            if (!p.empty()) p.pop_back();
            o += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"1.5\" points=\"" + p + "\"/>\n";
            seg.clear();
        };
        for (const auto& [t, v] : s.pts) {
            if (v) seg.emplace_back(t, *v);
            else flush();
        }
        flush();
        o += "<rect x=\"" + fmt("%.1f", lx) + "\" y=\"10\" width=\"12\" height=\"4\" fill=\"" + s.color + "\"/>";
        o += "<text x=\"" + fmt("%.1f", lx + 16) + "\" y=\"16\" class=\"lg\">" + html_escape(s.name) + "</text>\n";
        lx += 110;
    }
    o += "</svg>\n";
    return o;
}

// Firing intervals per rule from the alert events, drawn as bars.
struct Episode {
    std::string rule, severity;
    double start, end;
    bool open;
};

std::vector<Episode> alert_episodes(const std::vector<AlertEventRecord>& events, double window_end) {
    std::vector<Episode> out;
    std::map<std::string, size_t> open;  // rule -> index in out
    for (const auto& e : events) {
        if (e.to_state == "firing") {
            if (open.count(e.rule)) continue;
            open[e.rule] = out.size();
            out.push_back({e.rule, e.severity, epoch_s(e.timestamp), window_end, true});
        } else if (e.to_state == "resolved" || e.to_state == "inactive") {
            auto it = open.find(e.rule);
            if (it == open.end()) continue;
            out[it->second].end = epoch_s(e.timestamp);
            out[it->second].open = false;
            open.erase(it);
        }
    }
    return out;
}

std::string svg_alert_timeline(const std::vector<Episode>& eps, double t0, double t1) {
    std::vector<std::string> rules;
    for (const auto& e : eps)
        if (std::find(rules.begin(), rules.end(), e.rule) == rules.end()) rules.push_back(e.rule);
    const double W = 880, L = 220, R = 16, T = 12, row = 22, B = 30;
    const double H = T + row * static_cast<double>(rules.size()) + B, pw = W - L - R;
    if (t1 <= t0) t1 = t0 + 1;
    auto X = [&](double t) { return L + std::clamp((t - t0) / (t1 - t0), 0.0, 1.0) * pw; };
    std::string o = "<svg class=\"chart\" viewBox=\"0 0 " + fmt("%.0f", W) + " " + fmt("%.0f", H) + "\" width=\"" +
                    fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) + "\" role=\"img\" aria-label=\"alerts timeline\">\n";
    for (size_t i = 0; i < rules.size(); ++i) {
        const double y = T + row * static_cast<double>(i);
        o += "<text x=\"" + fmt("%.1f", L - 6) + "\" y=\"" + fmt("%.1f", y + 15) + "\" class=\"yl\">" +
             html_escape(rules[i]) + "</text>";
        o += "<line x1=\"" + fmt("%.1f", L) + "\" y1=\"" + fmt("%.1f", y + row) + "\" x2=\"" + fmt("%.1f", L + pw) +
             "\" y2=\"" + fmt("%.1f", y + row) + "\" class=\"grid\"/>\n";
    }
    for (const auto& e : eps) {
        const size_t i = static_cast<size_t>(std::find(rules.begin(), rules.end(), e.rule) - rules.begin());
        const double y = T + row * static_cast<double>(i) + 4;
        const double x0 = X(e.start), x1 = std::max(X(e.end), x0 + 2);
        o += "<rect x=\"" + fmt("%.1f", x0) + "\" y=\"" + fmt("%.1f", y) + "\" width=\"" + fmt("%.1f", x1 - x0) +
             "\" height=\"14\" class=\"" + (e.severity == "critical" ? "crit" : "warn") + "\"><title>" +
             html_escape(e.rule) + (e.open ? " (still firing)" : "") + "</title></rect>\n";
    }
    const double ya = T + row * static_cast<double>(rules.size());
    const bool long_span = (t1 - t0) > 2 * 86400;
    for (int i = 0; i <= 6; ++i) {
        const double t = t0 + (t1 - t0) * i / 6.0;
        o += "<text x=\"" + fmt("%.1f", X(t)) + "\" y=\"" + fmt("%.1f", ya + 18) + "\" class=\"xl\">" +
             fmt_utc(from_epoch_ms(static_cast<int64_t>(t * 1000)), long_span ? "%m-%d %H:%M" : "%H:%M") +
             "</text>";
    }
    o += "<line x1=\"" + fmt("%.1f", L) + "\" y1=\"" + fmt("%.1f", ya) + "\" x2=\"" + fmt("%.1f", L + pw) +
         "\" y2=\"" + fmt("%.1f", ya) + "\" class=\"axis\"/>\n</svg>\n";
    return o;
}

constexpr const char* kCss =
    "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:940px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left;"
    "font-size:13px}th{background:#f3f3f3}td.num{text-align:right}"
    ".chart{display:block;margin:8px 0;background:#fff}.ct{font-size:13px;font-weight:bold}"
    ".yl{font-size:11px;text-anchor:end;fill:#555}.xl{font-size:11px;text-anchor:middle;fill:#555}"
    ".lg{font-size:11px;fill:#333}.grid{stroke:#eee;stroke-width:1}.axis{stroke:#888;stroke-width:1}"
    ".ref{stroke:#c00;stroke-width:1;stroke-dasharray:4 3}.refl{font-size:10px;fill:#c00;text-anchor:end}"
    ".crit{fill:#d62728}.warn{fill:#ff9f1c}.na{color:#888;font-style:italic}"
    ".improved{color:#1a7f37;font-weight:bold}.regressed{color:#c00;font-weight:bold}.unchanged{color:#555}";

std::string page(const std::string& title, const std::string& body) {
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title) +
           "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n" + body + "</body>\n</html>\n";
}

}  // namespace

Result<ReportStats> compute_report_stats(History& h, SystemTime from, SystemTime to) {
    ReportStats st;
    st.from = from;
    st.to = to;
    ITSCAM_ASSIGN_OR_RETURN(auto samples, h.samples(from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto alerts, h.alerts(from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto circuits, h.circuit_transitions(from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto cams, h.camera_events(from, to));
    Mean p50, p95, p99, fps, pool, gpu, err;
    for (const auto& s : samples) {
        p50.add(s.latency_p50_ms);
        p95.add(s.latency_p95_ms);
        p99.add(s.latency_p99_ms);
        fps.add(s.fps);
        pool.add(s.pool_efficiency);
        gpu.add(s.gpu_utilization);
        err.add(s.error_rate);
        st.frames_processed += s.frames_processed;
        st.frames_dropped += s.frames_dropped;
    }
    st.samples = static_cast<int64_t>(samples.size());
    st.p50_mean_ms = p50.mean();
    st.p95_mean_ms = p95.mean();
    st.p99_mean_ms = p99.mean();
    st.p99_max_ms = p99.max;
    st.fps_mean = fps.mean();
    st.fps_min = fps.min;
    st.pool_efficiency_mean = pool.mean();
    st.gpu_utilization_mean = gpu.mean();
    st.error_rate_mean = err.mean();
    const int64_t total = st.frames_processed + st.frames_dropped;
    if (total > 0) st.drop_rate = static_cast<double>(st.frames_dropped) / static_cast<double>(total);
    for (const auto& a : alerts) {
        if (a.to_state != "firing") continue;
        ++st.alerts_fired;
        ++st.alerts_fired_by_rule[a.rule];
    }
    for (const auto& c : circuits)
        if (c.to_state == "open") ++st.circuit_opens;
    for (const auto& c : cams)
        if (c.kind == CameraEventKind::kDisconnected || c.kind == CameraEventKind::kFailed) ++st.camera_disconnects;
    return st;
}

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
        b += svg_chart("Throughput (frames/s)",
                       {series("fps", "#1f77b4", [](const HistorySample& x) { return x.fps; })}, t0, t1,
                       [](double v) { return fmt("%g", v); }, std::nullopt);
        b += "<h2>Memory pool efficiency</h2>\n";
        b += svg_chart("Memory pool efficiency (hit rate)",
                       {series("pool efficiency", "#9467bd", [](const HistorySample& x) { return x.pool_efficiency; })},
                       t0, t1, pct, 1.0, std::make_pair(0.6, std::string("alert 60%")));
        b += "<h2>GPU utilization</h2>\n";
        if (s.gpu_utilization_mean) {
            b += svg_chart("GPU utilization",
                           {series("gpu", "#8c564b", [](const HistorySample& x) { return x.gpu_utilization; })}, t0,
                           t1, pct, 1.0, std::make_pair(0.7, std::string("alert 70%")));
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
                 html_escape(a.from_state + " -> " + a.to_state) + "</td><td class=\"num\">" +
                 fmt("%.4g", a.value) + "</td><td>" + html_escape(a.message) + "</td></tr>\n";
        }
        b += "</table>\n";
        if (first > 0) b += "<p class=\"na\">(" + fmt_int(static_cast<int64_t>(first)) + " earlier events not shown)</p>\n";
    }
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
    if (unit.empty() || unit == "s") mult = 1;
    else if (unit == "m") mult = 60;
    else if (unit == "h") mult = 3600;
    else if (unit == "d") mult = 86400;
    else if (unit == "w") mult = 7 * 86400;
    else return invalid_argument("bad duration unit in '" + s + "' (s, m, h, d, w)");
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
    for (const auto& [path, text] : {std::make_pair(files.html_path, &rep.html),
                                     std::make_pair(files.markdown_path, &rep.markdown)}) {
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

Result<AnalysisPeriod> parse_analysis_period(const std::string& s) {
    if (s == "daily" || s == "day") return AnalysisPeriod::kDaily;
    if (s == "weekly" || s == "week") return AnalysisPeriod::kWeekly;
    return invalid_argument("unknown period '" + s + "' (expected daily | weekly)");
}

std::chrono::seconds analysis_period_length(AnalysisPeriod p) {
    return p == AnalysisPeriod::kDaily ? std::chrono::seconds(86400) : std::chrono::seconds(7 * 86400);
}

namespace {

enum class Better { kLower, kHigher };

// "improved" | "regressed" | "unchanged" (relative change within rel_tol or absolute within abs_tol).
std::string verdict(double prev, double cur, Better better, double rel_tol, double abs_tol) {
    const double d = cur - prev;
    if (std::fabs(d) <= abs_tol) return "unchanged";
    if (prev != 0 && std::fabs(d) / std::fabs(prev) <= rel_tol) return "unchanged";
    const bool up = d > 0;
    return (up == (better == Better::kHigher)) ? "improved" : "regressed";
}

std::string change_str(double prev, double cur) {
    if (prev == 0) return cur == 0 ? "0" : "new";
    return fmt("%+.1f%%", (cur - prev) / std::fabs(prev) * 100.0);
}

}  // namespace

Result<PeriodAnalysis> render_period_analysis(History& h, AnalysisPeriod period, double baseline_p99_ms,
                                              SystemTime end, const std::string& baseline_source) {
    if (!std::isfinite(baseline_p99_ms) || baseline_p99_ms <= 0)
        return invalid_argument("analysis: baseline p99 must be > 0 ms");
    const auto len = analysis_period_length(period);
    PeriodAnalysis out;
    ITSCAM_ASSIGN_OR_RETURN(out.current, compute_report_stats(h, end - len, end));
    ITSCAM_ASSIGN_OR_RETURN(out.previous, compute_report_stats(h, end - 2 * len, end - len));
    out.has_previous = out.previous.samples > 0;
    const ReportStats& c = out.current;
    const ReportStats& p = out.previous;
    const char* pname = period == AnalysisPeriod::kDaily ? "daily" : "weekly";
    const char* unit_name = period == AnalysisPeriod::kDaily ? "day" : "week";

    struct Row {
        std::string metric, prev, cur, change, verdict;
    };
    std::vector<Row> rows;
    auto add = [&](const std::string& name, const std::optional<double>& pv, const std::optional<double>& cv,
                   const std::function<std::string(const std::optional<double>&)>& show, Better better,
                   double rel_tol, double abs_tol) {
        Row r{name, show(pv), show(cv), "", ""};
        if (pv && cv) {
            r.change = change_str(*pv, *cv);
            r.verdict = verdict(*pv, *cv, better, rel_tol, abs_tol);
        } else {
            r.change = "n/a";
            r.verdict = "no data";
        }
        rows.push_back(std::move(r));
    };
    auto cnt = [](const std::optional<double>& v) { return v ? fmt_int(static_cast<int64_t>(*v)) : "n/a"; };
    auto opt_if = [](bool has, double v) { return has ? std::optional<double>(v) : std::nullopt; };
    const bool hp = out.has_previous, hc = c.samples > 0;
    add("p99 latency (mean)", p.p99_mean_ms, c.p99_mean_ms, fmt_ms, Better::kLower, 0.02, 0.05);
    add("p99 latency (max)", p.p99_max_ms, c.p99_max_ms, fmt_ms, Better::kLower, 0.02, 0.05);
    add("throughput (mean)", p.fps_mean, c.fps_mean, fmt_fps, Better::kHigher, 0.02, 0.05);
    add("drop rate", p.drop_rate, c.drop_rate, fmt_pct2, Better::kLower, 0.02, 0.0001);
    add("memory pool efficiency (mean)", p.pool_efficiency_mean, c.pool_efficiency_mean, fmt_pct, Better::kHigher,
        0.02, 0.005);
    add("GPU utilization (mean)", p.gpu_utilization_mean, c.gpu_utilization_mean, fmt_pct, Better::kHigher, 0.02,
        0.005);
    add("alerts fired", opt_if(hp, static_cast<double>(p.alerts_fired)), opt_if(hc, static_cast<double>(c.alerts_fired)),
        cnt, Better::kLower, 0.0, 0.0);
    add("circuit opens", opt_if(hp, static_cast<double>(p.circuit_opens)),
        opt_if(hc, static_cast<double>(c.circuit_opens)), cnt, Better::kLower, 0.0, 0.0);

    std::string md;
    md += std::string("# itscam ") + pname + " optimization-effectiveness analysis\n\n";
    md += "Current " + std::string(unit_name) + ": " + fmt_utc(c.from) + " to " + fmt_utc(c.to) + " (" +
          fmt_int(c.samples) + " samples).\n";
    md += "Previous " + std::string(unit_name) + ": " + fmt_utc(p.from) + " to " + fmt_utc(p.to) + " (" +
          fmt_int(p.samples) + " samples).\n\n";
    if (!hc) md += "No data for the current " + std::string(unit_name) + ": nothing to analyse.\n\n";
    if (!hp)
        md += "No data for the previous " + std::string(unit_name) +
              ": period-over-period comparison is not available; only the baseline comparison is shown.\n\n";

    md += "## Period over period\n\n| metric | previous | current | change | verdict |\n|---|---|---|---|---|\n";
    for (const auto& r : rows)
        md += "| " + r.metric + " | " + r.prev + " | " + r.cur + " | " + r.change + " | " + r.verdict + " |\n";

    md += "\n## Findings\n\n";
    bool any = false;
    for (const auto& r : rows) {
        if (r.verdict != "improved" && r.verdict != "regressed") continue;
        md += "- " + r.metric + " " + r.verdict + ": " + r.prev + " -> " + r.cur + " (" + r.change + ")\n";
        any = true;
    }
    if (!any) md += hp && hc ? "- No significant change (all metrics within 2%).\n" : "- Not enough data to compare.\n";

    md += "\n## Against the baseline\n\n";
    md += "- Baseline p99 " + fmt("%g ms", baseline_p99_ms) + ": " + baseline_source + ".\n";
    const double limit = baseline_p99_ms * 1.2;
    std::string baseline_verdict = "no data";
    if (c.p99_mean_ms) {
        const double v = *c.p99_mean_ms;
        baseline_verdict = v > limit ? "regressed" : (v <= baseline_p99_ms ? "improved" : "within margin");
        md += "- p99 latency (mean) " + fmt("%.1f ms", v) + " vs baseline " + fmt("%g ms", baseline_p99_ms) + " (" +
              change_str(baseline_p99_ms, v) + "): " + baseline_verdict;
        if (baseline_verdict == "regressed")
            md += " (above the regression threshold baseline x 1.2 = " + fmt("%g ms", limit) + ")";
        else if (baseline_verdict == "within margin")
            md += " (above the baseline but below the regression threshold " + fmt("%g ms", limit) + ")";
        else
            md += " (at or below the baseline)";
        md += "\n";
    } else {
        md += "- No p99 latency recorded in the current " + std::string(unit_name) + ".\n";
    }
    out.markdown = md;

    // HTML: the same content.
    std::string b = std::string("<h1>itscam ") + pname + " optimization-effectiveness analysis</h1>\n";
    b += "<p>Current " + std::string(unit_name) + ": " + html_escape(fmt_utc(c.from) + " to " + fmt_utc(c.to)) +
         " (" + fmt_int(c.samples) + " samples). Previous: " + html_escape(fmt_utc(p.from) + " to " + fmt_utc(p.to)) +
         " (" + fmt_int(p.samples) + " samples).</p>\n";
    if (!hp) b += "<p class=\"na\">No data for the previous " + std::string(unit_name) + ".</p>\n";
    b += "<table>\n<tr><th>metric</th><th>previous</th><th>current</th><th>change</th><th>verdict</th></tr>\n";
    for (const auto& r : rows)
        b += "<tr><td>" + html_escape(r.metric) + "</td><td class=\"num\">" + html_escape(r.prev) +
             "</td><td class=\"num\">" + html_escape(r.cur) + "</td><td class=\"num\">" + html_escape(r.change) +
             "</td><td class=\"" + (r.verdict == "improved" || r.verdict == "regressed" ? r.verdict : "unchanged") +
             "\">" + html_escape(r.verdict) + "</td></tr>\n";
    b += "</table>\n<h2>Against the baseline</h2>\n<p>Baseline p99 " + fmt("%g ms", baseline_p99_ms) + " (" +
         html_escape(baseline_source) + "), current mean p99 " + fmt_ms(c.p99_mean_ms) + ": " + html_escape(baseline_verdict) + ".</p>\n";
    out.html = page(std::string("itscam ") + pname + " analysis", b);
    return out;
}

}  // namespace itscam::service
