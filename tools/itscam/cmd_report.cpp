// itscam report: reports from the recorded history (the SQLite store `itscam run` writes, see history: in the
// config).
//  - `--duration 24h --output DIR`: the self-contained HTML performance report and its Markdown summary for the
//    window [end - duration, end); prints the two paths and the key numbers on stdout.
//  - `--period weekly --analysis optimization`: this period against the previous one and against a baseline p99,
//    as Markdown on stdout (and, with --output, analysis-<period>-YYYYMMDD.md/.html). The baseline is --baseline-ms
//    when given, else the one recorded with POST /api/v1/baseline (history), else alerts.baseline_p99_ms of
//    --config, else 75 ms; the analysis says which.
// Status lines go to stderr; results to stdout.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "service/alerts.h"
#include "service/history.h"
#include "service/report.h"

namespace itscam::cli {

namespace {

namespace fs = std::filesystem;
using service::SystemTime;

struct ReportArgs {
    std::string duration;
    std::string period;
    std::string analysis;
    std::string output;
    std::string db;
    std::string config;
    std::string end = "now";
    double baseline_ms = 75.0;
    CLI::Option* baseline_opt = nullptr;  // given: it beats the recorded and the configured baseline
};

constexpr const char* kDefaultDb = "runs/itscam.db";

std::string fmt_utc(SystemTime t, const char* pattern) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, pattern, &tm);
    return buf;
}

std::string fmt_opt(const std::optional<double>& v, const char* f, double scale = 1.0) {
    if (!v) return "n/a";
    char buf[64];
    std::snprintf(buf, sizeof buf, f, *v * scale);
    return buf;
}

// "now", "latest" (handled by the caller), or an ISO 8601 UTC time: YYYY-MM-DD[(T| )HH:MM[:SS]][Z].
std::optional<SystemTime> parse_iso8601_utc(const std::string& s) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0;
    std::tm tm{};
    size_t pos = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return std::nullopt;
    pos = static_cast<size_t>(n);
    if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
        const char* rest = s.c_str() + pos + 1;
        int m = 0;
        if (std::sscanf(rest, "%2d:%2d%n", &h, &mi, &m) != 2 || m != 5) return std::nullopt;
        pos += 1 + static_cast<size_t>(m);
        if (pos < s.size() && s[pos] == ':') {
            int k = 0;
            if (std::sscanf(s.c_str() + pos + 1, "%2d%n", &sec, &k) != 1 || k != 2) return std::nullopt;
            pos += 1 + static_cast<size_t>(k);
        }
    }
    if (pos < s.size() && s[pos] == 'Z') ++pos;
    if (pos != s.size()) return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970) return std::nullopt;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    const std::time_t t = timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return std::chrono::system_clock::from_time_t(t);
}

// alerts.baseline_p99_ms of the config, validated like `itscam run` does (alert_rules_from_json); none when the
// config does not set it.
Result<std::optional<double>> configured_baseline_ms(const config::Config& cfg) {
    const auto it = cfg.reserved_json.sections.find("alerts");
    if (it == cfg.reserved_json.sections.end()) return std::optional<double>();
    nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
    if (!j.is_object() || !j.contains("baseline_p99_ms")) return std::optional<double>();
    j.erase("webhook");  // the notifier's settings, not rules (cmd_run reads them)
    auto rules = service::alert_rules_from_json(j);
    if (!rules) return rules.status().with_context(cfg.source_path + ": alerts");
    return std::optional<double>(rules->baseline_p99_ms);
}

Status write_text_file(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) return io_error("cannot write '" + tmp + "'");
        f << text;
        f.flush();
        if (!f) return io_error("write to '" + tmp + "' failed");
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) return io_error("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
    return Status::ok();
}

int run_report(const ReportArgs& a) {
    // ---- usage checks ----
    const bool by_duration = !a.duration.empty(), by_period = !a.period.empty();
    if (by_duration && by_period)
        return fail("--duration and --period are mutually exclusive: --duration 24h for the performance report, "
                    "--period weekly --analysis optimization for the period analysis",
                    2);
    if (!by_duration && !by_period)
        return fail("give --duration (e.g. --duration 24h: the performance report) or --period (e.g. --period weekly "
                    "--analysis optimization: the period analysis)",
                    2);
    if (by_duration && !a.analysis.empty())
        return fail("--analysis goes with --period (e.g. --period weekly --analysis optimization)", 2);
    const std::string analysis = a.analysis.empty() ? "optimization" : a.analysis;
    if (analysis != "optimization")
        return fail("unknown --analysis '" + analysis + "' (accepted: optimization)", 2);

    std::chrono::seconds duration{0};
    if (by_duration) {
        auto d = service::parse_report_duration(a.duration);
        if (!d) return fail("--duration: " + d.status().message(), 2);
        duration = *d;
    }
    service::AnalysisPeriod period = service::AnalysisPeriod::kWeekly;
    if (by_period) {
        auto p = service::parse_analysis_period(a.period);
        if (!p) return fail("--period: " + p.status().message(), 2);
        period = *p;
    }
    std::optional<SystemTime> end_at;  // empty: now, or latest (below)
    const bool end_latest = a.end == "latest";
    if (!end_latest && a.end != "now" && !a.end.empty()) {
        end_at = parse_iso8601_utc(a.end);
        if (!end_at)
            return fail("--end: bad time '" + a.end + "' (expected now, latest or UTC YYYY-MM-DD[THH:MM[:SS]][Z])", 2);
    }

    // ---- the database (and the configured regression baseline) ----
    std::string db = a.db;
    std::optional<double> configured_baseline;
    if (!a.config.empty()) {
        const config::Env env = config::process_env();
        auto cfg = config::load_config(a.config, &env);
        if (!cfg) return fail(cfg.status().message(), 2);
        config::register_secrets(*cfg);
        auto cb = configured_baseline_ms(*cfg);
        if (!cb) return fail(cb.status().message(), 2);
        configured_baseline = *cb;
        if (db.empty()) {
            db = cfg->history.path;
            if (!cfg->history.enabled)
                std::fprintf(stderr, "itscam: note: history is disabled in %s (history.enabled: false)\n",
                             a.config.c_str());
        }
    }
    if (db.empty()) {
        const char* e = std::getenv("ITSCAM_HISTORY_PATH");
        db = (e && *e) ? e : kDefaultDb;
    }
    std::error_code ec;
    if (!fs::exists(db, ec))
        return fail("no history at " + db + " (itscam run records it; see history: in the config)", 2);
    if (fs::is_directory(db, ec)) return fail("history path " + db + " is a directory, not a database file", 2);
    auto opened = service::History::open(db);
    if (!opened) return fail(opened.status().message(), exit_code_for(opened.status()));
    service::History& h = **opened;
    auto counts = h.counts();
    if (!counts) return fail(counts.status().message(), exit_code_for(counts.status()));
    std::fprintf(stderr,
                 "itscam: history %s: %" PRId64 " samples, %" PRId64 " alert events, %" PRId64
                 " camera events, %" PRId64 " circuit transitions\n",
                 db.c_str(), counts->samples, counts->alerts, counts->camera_events, counts->circuit_transitions);

    SystemTime end = end_at.value_or(std::chrono::system_clock::now());
    if (end_latest) {
        auto latest = h.latest_sample_time();
        if (!latest) return fail(latest.status().message(), exit_code_for(latest.status()));
        if (*latest) {
            end = **latest + std::chrono::milliseconds(1);  // windows are [from, to): include the newest sample
        } else {
            std::fprintf(stderr, "itscam: no samples recorded yet; --end latest falls back to now\n");
        }
    }

    // ---- the performance report ----
    if (by_duration) {
        const std::string out_dir = a.output.empty() ? "reports" : a.output;
        std::fprintf(stderr, "itscam: rendering the report for %s to %s (UTC)...\n",
                     fmt_utc(end - duration, "%Y-%m-%d %H:%M:%S").c_str(), fmt_utc(end, "%Y-%m-%d %H:%M:%S").c_str());
        auto files = service::write_report(h, duration, out_dir, end);
        if (!files) return fail(files.status().message(), exit_code_for(files.status()));
        auto st = service::compute_report_stats(h, end - duration, end);
        if (!st) return fail(st.status().message(), exit_code_for(st.status()));
        const service::ReportStats& s = *st;
        std::printf("html: %s\n", files->html_path.c_str());
        std::printf("markdown: %s\n", files->markdown_path.c_str());
        std::printf("window: %s to %s, %" PRId64 " samples\n", fmt_utc(s.from, "%Y-%m-%d %H:%M:%S").c_str(),
                    fmt_utc(s.to, "%Y-%m-%d %H:%M:%S UTC").c_str(), s.samples);
        if (s.samples == 0) {
            std::printf("no samples in this period (the report says so)\n");
        } else {
            std::printf("frames processed: %" PRId64 "\n", s.frames_processed);
            std::printf("frames dropped: %" PRId64 " (%s)\n", s.frames_dropped,
                        fmt_opt(s.drop_rate, "%.2f%%", 100.0).c_str());
            std::printf("p99 inference latency: mean %s, max %s\n", fmt_opt(s.p99_mean_ms, "%.1f ms").c_str(),
                        fmt_opt(s.p99_max_ms, "%.1f ms").c_str());
            std::printf("throughput: mean %s\n", fmt_opt(s.fps_mean, "%.1f fps").c_str());
            std::printf("memory pool efficiency: mean %s\n", fmt_opt(s.pool_efficiency_mean, "%.1f%%", 100.0).c_str());
        }
        std::printf("alerts fired: %" PRId64 ", circuit opens: %" PRId64 ", camera disconnects/failures: %" PRId64 "\n",
                    s.alerts_fired, s.circuit_opens, s.camera_disconnects);
        std::fputs(files->traffic_text.c_str(), stdout);  // counts, speeds, congestion (when analytics ran)
        return 0;
    }

    // ---- the period analysis ----
    const bool explicit_baseline = a.baseline_opt && a.baseline_opt->count() > 0;
    auto baseline = service::choose_report_baseline(h, explicit_baseline ? std::optional<double>(a.baseline_ms)
                                                                          : std::nullopt,
                                                    configured_baseline);
    if (!baseline) return fail(baseline.status().message(), exit_code_for(baseline.status()));
    std::fprintf(stderr, "itscam: %s %s analysis ending %s (baseline p99 %g ms: %s)...\n", a.period.c_str(),
                 analysis.c_str(), fmt_utc(end, "%Y-%m-%d %H:%M:%S UTC").c_str(), baseline->p99_ms,
                 baseline->source.c_str());
    auto an = service::render_period_analysis(h, period, baseline->p99_ms, end, baseline->source);
    if (!an) return fail(an.status().message(), exit_code_for(an.status()));
    std::fputs(an->markdown.c_str(), stdout);
    if (!a.output.empty()) {
        fs::create_directories(a.output, ec);
        if (ec) return fail("cannot create output directory '" + a.output + "': " + ec.message(), 2);
        const char* pname = period == service::AnalysisPeriod::kDaily ? "daily" : "weekly";
        const std::string stem = std::string("analysis-") + pname + "-" + fmt_utc(end, "%Y%m%d");
        const std::string md_path = (fs::path(a.output) / (stem + ".md")).string();
        const std::string html_path = (fs::path(a.output) / (stem + ".html")).string();
        if (Status w = write_text_file(md_path, an->markdown); !w) return fail(w.message(), 1);
        if (Status w = write_text_file(html_path, an->html); !w) return fail(w.message(), 1);
        std::fprintf(stderr, "itscam: wrote %s and %s\n", md_path.c_str(), html_path.c_str());
    }
    return 0;
}

}  // namespace

RunFn add_report_command(CLI::App& app) {
    auto a = std::make_shared<ReportArgs>();
    app.add_option("--duration", a->duration,
                   "Performance report over the last DURATION (24h, 90m, 7d, 3600s): HTML + Markdown in --output");
    app.add_option("--period", a->period, "Period analysis: this period vs the previous one and the baseline "
                                          "(daily | weekly)");
    app.add_option("--analysis", a->analysis, "Kind of period analysis (optimization, the default)");
    a->baseline_opt = app.add_option("--baseline-ms", a->baseline_ms,
                                     "Baseline p99 inference latency for the period analysis (ms); default: the "
                                     "baseline recorded with POST /api/v1/baseline, else alerts.baseline_p99_ms of "
                                     "--config, else 75")
                          ->check(CLI::PositiveNumber);
    app.add_option("-o,--output", a->output,
                   "Output folder (created if needed); --duration default: reports; --period: optional");
    app.add_option("--db", a->db, "History database (default: history.path of --config, else $ITSCAM_HISTORY_PATH, "
                                  "else runs/itscam.db)");
    app.add_option("-c,--config", a->config, "YAML config whose history.path names the database")
        ->check(CLI::ExistingFile);
    app.add_option("--end", a->end, "End of the window: now, latest (the newest recorded sample) or UTC "
                                    "YYYY-MM-DD[THH:MM[:SS]][Z]")
        ->capture_default_str();
    app.footer(
        "Examples:\n"
        "  itscam report --duration 24h --output reports/ --db runs/itscam.db\n"
        "  itscam report --period weekly --analysis optimization --config config.yaml");
    return [a] { return run_report(*a); };
}

}  // namespace itscam::cli
