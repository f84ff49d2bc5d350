// The period analysis (`itscam report --period`): the last day or week against the previous one and against the
// baseline P99, as Markdown and as a self-contained HTML page.
#include <cmath>
#include <functional>
#include <vector>

#include "service/report.h"
#include "service/report_format.h"

namespace itscam::service {

using namespace report_format;

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

Result<PeriodAnalysis> render_period_analysis(History& h, AnalysisPeriod period, double baseline_p99_ms, SystemTime end,
                                              const std::string& baseline_source) {
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
                   const std::function<std::string(const std::optional<double>&)>& show, Better better, double rel_tol,
                   double abs_tol) {
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
    add("memory pool efficiency (mean)", p.pool_efficiency_mean, c.pool_efficiency_mean, fmt_pct, Better::kHigher, 0.02,
        0.005);
    add("GPU utilization (mean)", p.gpu_utilization_mean, c.gpu_utilization_mean, fmt_pct, Better::kHigher, 0.02,
        0.005);
    add("alerts fired", opt_if(hp, static_cast<double>(p.alerts_fired)),
        opt_if(hc, static_cast<double>(c.alerts_fired)), cnt, Better::kLower, 0.0, 0.0);
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
    b += "<p>Current " + std::string(unit_name) + ": " + html_escape(fmt_utc(c.from) + " to " + fmt_utc(c.to)) + " (" +
         fmt_int(c.samples) + " samples). Previous: " + html_escape(fmt_utc(p.from) + " to " + fmt_utc(p.to)) + " (" +
         fmt_int(p.samples) + " samples).</p>\n";
    if (!hp) b += "<p class=\"na\">No data for the previous " + std::string(unit_name) + ".</p>\n";
    b += "<table>\n<tr><th>metric</th><th>previous</th><th>current</th><th>change</th><th>verdict</th></tr>\n";
    for (const auto& r : rows)
        b += "<tr><td>" + html_escape(r.metric) + "</td><td class=\"num\">" + html_escape(r.prev) +
             "</td><td class=\"num\">" + html_escape(r.cur) + "</td><td class=\"num\">" + html_escape(r.change) +
             "</td><td class=\"" + (r.verdict == "improved" || r.verdict == "regressed" ? r.verdict : "unchanged") +
             "\">" + html_escape(r.verdict) + "</td></tr>\n";
    b += "</table>\n<h2>Against the baseline</h2>\n<p>Baseline p99 " + fmt("%g ms", baseline_p99_ms) + " (" +
         html_escape(baseline_source) + "), current mean p99 " + fmt_ms(c.p99_mean_ms) + ": " +
         html_escape(baseline_verdict) + ".</p>\n";
    out.html = page(std::string("itscam ") + pname + " analysis", b);
    return out;
}

}  // namespace itscam::service
