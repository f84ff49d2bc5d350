// Inline SVG charts of the HTML reports: metric line charts and the alert timeline.
#include "service/report_charts.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "service/report_format.h"

namespace itscam::service::report_charts {

using namespace report_format;

namespace {

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

}  // namespace

// A line chart: axes, y grid with labels, UTC time labels, a legend, one polyline per contiguous run of values.
std::string svg_chart(const std::string& title, const std::vector<Series>& series, double t0, double t1,
                      const std::function<std::string(double)>& ylabel, std::optional<double> ymax_fixed,
                      std::optional<std::pair<double, std::string>> ref_line) {
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
            if (v)
                seg.emplace_back(t, *v);
            else
                flush();
        }
        flush();
        o += "<rect x=\"" + fmt("%.1f", lx) + "\" y=\"10\" width=\"12\" height=\"4\" fill=\"" + s.color + "\"/>";
        o += "<text x=\"" + fmt("%.1f", lx + 16) + "\" y=\"16\" class=\"lg\">" + html_escape(s.name) + "</text>\n";
        lx += 110;
    }
    o += "</svg>\n";
    return o;
}

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
                    fmt("%.0f", W) + "\" height=\"" + fmt("%.0f", H) +
                    "\" role=\"img\" aria-label=\"alerts timeline\">\n";
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
             fmt_utc(from_epoch_ms(static_cast<int64_t>(t * 1000)), long_span ? "%m-%d %H:%M" : "%H:%M") + "</text>";
    }
    o += "<line x1=\"" + fmt("%.1f", L) + "\" y1=\"" + fmt("%.1f", ya) + "\" x2=\"" + fmt("%.1f", L + pw) + "\" y2=\"" +
         fmt("%.1f", ya) + "\" class=\"axis\"/>\n</svg>\n";
    return o;
}

}  // namespace itscam::service::report_charts
