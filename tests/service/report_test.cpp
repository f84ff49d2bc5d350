#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "service/report.h"

namespace itscam::service {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const SystemTime kDayStart = from_epoch_ms(1'700'006'400'000);  // 2023-11-15 00:00 UTC

// A day of 10-s samples: p99 ~50 ms with a spike to 150 ms from 12:00 to 12:10, one alert episode and a circuit open.
void fill_day(History& h, SystemTime start, double p99_base, double fps, bool with_gpu, bool with_alert) {
    std::vector<HistorySample> v;
    for (int i = 0; i < 8640; ++i) {
        HistorySample s;
        s.timestamp = start + std::chrono::seconds(10 * i);
        const bool spike = with_alert && i >= 4320 && i < 4380;
        const double p99 = spike ? 150.0 : p99_base + (i % 7);
        s.latency_p50_ms = p99 * 0.4;
        s.latency_p95_ms = p99 * 0.8;
        s.latency_p99_ms = p99;
        s.fps = fps;
        s.pool_efficiency = 0.92;
        if (with_gpu) s.gpu_utilization = 0.85;
        s.circuit_state = "closed";
        s.frames_processed = static_cast<int64_t>(fps * 10);
        s.frames_dropped = i % 100 == 0 ? 5 : 0;
        v.push_back(std::move(s));
    }
    ASSERT_TRUE(h.insert_samples(v).is_ok());
    if (with_alert) {
        const SystemTime t = start + 12h;
        ASSERT_TRUE(h.insert_alert({t, "inference_latency_p99_high", "critical", "inactive", "pending", 150, 100,
                                    "inference latency p99 150.0 ms > 100 ms"})
                        .is_ok());
        ASSERT_TRUE(h.insert_alert({t + 30s, "inference_latency_p99_high", "critical", "pending", "firing", 150, 100,
                                    "inference latency p99 150.0 ms > 100 ms"})
                        .is_ok());
        ASSERT_TRUE(h.insert_alert({t + 10min, "inference_latency_p99_high", "critical", "firing", "resolved", 52,
                                    100, "inference latency p99 52.0 ms <= 100 ms"})
                        .is_ok());
        ASSERT_TRUE(h.insert_circuit_transition({t + 1min, "cuda:0", "closed", "open", "15 failures"}).is_ok());
    }
}

std::string line_with(const std::string& text, const std::string& needle) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.find(needle) != std::string::npos) return line;
    return "";
}

TEST(Report, DailyReportIsSelfContainedHtmlWithCharts) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    fill_day(**h, kDayStart, 50, 240, /*gpu=*/false, /*alert=*/true);
    auto rep = render_daily_report(**h, kDayStart, kDayStart + 24h);
    ASSERT_TRUE(rep.is_ok()) << rep.status().to_string();
    const std::string& html = rep->html;
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(html.find("<svg"), std::string::npos);
    EXPECT_NE(html.find("<polyline"), std::string::npos);
    EXPECT_NE(html.find("points=\""), std::string::npos);
    EXPECT_NE(html.find("<style>"), std::string::npos);
    EXPECT_EQ(html.find("http://"), std::string::npos);
    EXPECT_EQ(html.find("https://"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos);
    EXPECT_EQ(html.find("src="), std::string::npos);
    EXPECT_NE(html.find("150.0 ms"), std::string::npos);  // max p99
    EXPECT_NE(html.find("GPU utilization: not available"), std::string::npos);
    EXPECT_NE(html.find("inference_latency_p99_high"), std::string::npos);
    EXPECT_NE(html.find("class=\"crit\""), std::string::npos);  // the alert bar in the timeline
    EXPECT_NE(html.find("12:00"), std::string::npos);           // time axis labels (UTC)
    // The spike survives the downsampling: some p99 point sits at the chart's top region.
    const ReportStats& s = rep->stats;
    EXPECT_EQ(s.samples, 8640);
    EXPECT_DOUBLE_EQ(*s.p99_max_ms, 150);
    EXPECT_EQ(s.frames_processed, 8640 * 2400);
    EXPECT_EQ(s.frames_dropped, 87 * 5);
    EXPECT_EQ(s.alerts_fired, 1);
    EXPECT_EQ(s.circuit_opens, 1);
    EXPECT_FALSE(s.gpu_utilization_mean.has_value());

    const std::string& md = rep->markdown;
    EXPECT_NE(line_with(md, "p99 inference latency (max)").find("150.0 ms"), std::string::npos) << md;
    EXPECT_NE(line_with(md, "frames processed").find("20,736,000"), std::string::npos) << md;
    EXPECT_NE(line_with(md, "circuit opens").find("1"), std::string::npos);
    EXPECT_NE(line_with(md, "| inference_latency_p99_high |").find("| 1 |"), std::string::npos) << md;
    EXPECT_NE(line_with(md, "GPU utilization").find("not available"), std::string::npos);
    EXPECT_NE(line_with(md, "drop rate").find("%"), std::string::npos);
}

TEST(Report, GpuChartWhenRecordedAndEmptyWindow) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    fill_day(**h, kDayStart, 50, 240, /*gpu=*/true, /*alert=*/false);
    auto rep = render_daily_report(**h, kDayStart, kDayStart + 24h);
    ASSERT_TRUE(rep.is_ok());
    EXPECT_NE(rep->html.find("aria-label=\"GPU utilization\""), std::string::npos);
    EXPECT_NE(line_with(rep->markdown, "GPU utilization").find("85.0%"), std::string::npos);
    EXPECT_NE(rep->markdown.find("No alerts fired."), std::string::npos);

    auto empty = render_daily_report(**h, kDayStart - 48h, kDayStart - 24h);
    ASSERT_TRUE(empty.is_ok());
    EXPECT_NE(empty->html.find("No metric samples"), std::string::npos);
    EXPECT_FALSE(render_daily_report(**h, kDayStart, kDayStart).is_ok());
}

TEST(Report, WriteReportFiles) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    fill_day(**h, kDayStart, 50, 240, false, true);
    const fs::path dir = fs::temp_directory_path() / ("itscam_reports_" + std::to_string(::getpid())) / "out";
    fs::remove_all(dir.parent_path());
    auto d = parse_report_duration("24h");
    ASSERT_TRUE(d.is_ok());
    EXPECT_EQ(d->count(), 86400);
    EXPECT_FALSE(parse_report_duration("24x").is_ok());
    auto files = write_report(**h, *d, dir.string(), kDayStart + 24h + 5min);
    ASSERT_TRUE(files.is_ok()) << files.status().to_string();
    EXPECT_EQ(fs::path(files->html_path).filename(), "report-20231116-0005.html");
    EXPECT_EQ(fs::path(files->markdown_path).filename(), "report-20231116-0005.md");
    std::ifstream f(files->html_path);
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_NE(ss.str().find("<svg"), std::string::npos);
    EXPECT_TRUE(fs::exists(files->markdown_path));
    // An output path under a regular file cannot be created.
    auto bad = write_report(**h, *d, files->html_path + "/sub", kDayStart + 24h);
    EXPECT_FALSE(bad.is_ok());
    fs::remove_all(dir.parent_path());
}

TEST(Report, WeeklyAnalysisSaysWhatRegressed) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    // Week 1: p99 ~53 ms at 280 fps; week 2: p99 ~93 ms at 200 fps with an alert.
    for (int d = 0; d < 7; ++d) fill_day(**h, kDayStart + std::chrono::hours(24 * d), 50, 280, false, false);
    for (int d = 7; d < 14; ++d) fill_day(**h, kDayStart + std::chrono::hours(24 * d), 90, 200, false, d == 10);
    auto p = parse_analysis_period("weekly");
    ASSERT_TRUE(p.is_ok());
    auto a = render_period_analysis(**h, *p, 75.0, kDayStart + std::chrono::hours(24 * 14));
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    EXPECT_TRUE(a->has_previous);
    const std::string& md = a->markdown;
    EXPECT_NE(line_with(md, "| p99 latency (mean)").find("regressed"), std::string::npos) << md;
    EXPECT_NE(line_with(md, "| throughput (mean)").find("regressed"), std::string::npos) << md;
    EXPECT_NE(line_with(md, "| throughput (mean)").find("-28.6%"), std::string::npos) << md;
    EXPECT_NE(line_with(md, "| memory pool efficiency").find("unchanged"), std::string::npos) << md;
    EXPECT_NE(line_with(md, "| alerts fired").find("regressed"), std::string::npos) << md;
    EXPECT_NE(md.find("- p99 latency (mean) regressed"), std::string::npos) << md;
    EXPECT_NE(line_with(md, "vs baseline 75 ms").find("regressed"), std::string::npos) << md;
    EXPECT_EQ(a->html.find("http://"), std::string::npos);

    // The other way round: the later week improved.
    auto h2 = History::open(":memory:");
    ASSERT_TRUE(h2.is_ok());
    for (int d = 0; d < 7; ++d) fill_day(**h2, kDayStart + std::chrono::hours(24 * d), 90, 200, false, false);
    for (int d = 7; d < 14; ++d) fill_day(**h2, kDayStart + std::chrono::hours(24 * d), 50, 280, false, false);
    auto b = render_period_analysis(**h2, AnalysisPeriod::kWeekly, 75.0, kDayStart + std::chrono::hours(24 * 14));
    ASSERT_TRUE(b.is_ok());
    EXPECT_NE(line_with(b->markdown, "| p99 latency (mean)").find("improved"), std::string::npos) << b->markdown;
    EXPECT_NE(line_with(b->markdown, "| throughput (mean)").find("improved"), std::string::npos);
    EXPECT_NE(line_with(b->markdown, "vs baseline 75 ms").find("improved"), std::string::npos) << b->markdown;
}

// The baseline of the analysis: --baseline-ms, else the recorded one, else the configured one, else 75 ms; the
// analysis says which.
TEST(Report, AnalysisUsesTheRecordedBaselineAndSaysWhich) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    for (int d = 0; d < 7; ++d) fill_day(**h, kDayStart + std::chrono::hours(24 * d), 50, 240, false, false);
    const SystemTime end = kDayStart + std::chrono::hours(24 * 7);

    auto dflt = choose_report_baseline(**h, std::nullopt, std::nullopt);
    ASSERT_TRUE(dflt.is_ok());
    EXPECT_EQ(dflt->p99_ms, 75.0);
    EXPECT_FALSE(dflt->recorded);
    EXPECT_EQ(dflt->source, "the default (no baseline recorded)");
    auto configured = choose_report_baseline(**h, std::nullopt, 90.0);
    ASSERT_TRUE(configured.is_ok());
    EXPECT_EQ(configured->p99_ms, 90.0);
    EXPECT_EQ(configured->source, "alerts.baseline_p99_ms of the config (no baseline recorded)");

    // A baseline recorded through the API (p99 ~53 ms this week: 40 ms x 1.2 = 48 ms, so a regression).
    ASSERT_TRUE((**h).insert_baseline({kDayStart + 1h, 40.0, 812, "POST /api/v1/baseline"}).is_ok());
    auto rec = choose_report_baseline(**h, std::nullopt, 90.0);
    ASSERT_TRUE(rec.is_ok());
    EXPECT_EQ(rec->p99_ms, 40.0);
    EXPECT_TRUE(rec->recorded);
    EXPECT_EQ(rec->source, "recorded 2023-11-15T01:00:00.000Z through POST /api/v1/baseline (812 samples)");
    auto a = render_period_analysis(**h, AnalysisPeriod::kWeekly, rec->p99_ms, end, rec->source);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    EXPECT_NE(a->markdown.find("- Baseline p99 40 ms: recorded 2023-11-15T01:00:00.000Z through POST "
                               "/api/v1/baseline (812 samples)."),
              std::string::npos)
        << a->markdown;
    EXPECT_NE(line_with(a->markdown, "vs baseline 40 ms").find("regressed"), std::string::npos) << a->markdown;
    EXPECT_NE(a->html.find("recorded 2023-11-15T01:00:00.000Z"), std::string::npos);
    // The configured default would have called the same week an improvement.
    auto d = render_period_analysis(**h, AnalysisPeriod::kWeekly, dflt->p99_ms, end, dflt->source);
    ASSERT_TRUE(d.is_ok());
    EXPECT_NE(d->markdown.find("- Baseline p99 75 ms: the default (no baseline recorded)."), std::string::npos)
        << d->markdown;
    EXPECT_NE(line_with(d->markdown, "vs baseline 75 ms").find("improved"), std::string::npos) << d->markdown;

    // An explicit value wins over the recorded one.
    auto given = choose_report_baseline(**h, 100.0, std::nullopt);
    ASSERT_TRUE(given.is_ok());
    EXPECT_EQ(given->p99_ms, 100.0);
    EXPECT_EQ(given->source, "given with --baseline-ms");
    EXPECT_FALSE(choose_report_baseline(**h, 0.0, std::nullopt).is_ok());
    EXPECT_FALSE(choose_report_baseline(**h, std::nullopt, -1.0).is_ok());
}

TEST(Report, AnalysisWithoutPreviousPeriod) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    fill_day(**h, kDayStart, 50, 240, false, false);
    auto a = render_period_analysis(**h, AnalysisPeriod::kDaily, 75.0, kDayStart + 24h);
    ASSERT_TRUE(a.is_ok());
    EXPECT_FALSE(a->has_previous);
    EXPECT_NE(a->markdown.find("No data for the previous day"), std::string::npos) << a->markdown;
    EXPECT_NE(line_with(a->markdown, "| p99 latency (mean)").find("no data"), std::string::npos);
    auto none = render_period_analysis(**h, AnalysisPeriod::kWeekly, 75.0, kDayStart - 24h * 30);
    ASSERT_TRUE(none.is_ok());
    EXPECT_NE(none->markdown.find("No data for the current week"), std::string::npos);
    EXPECT_FALSE(render_period_analysis(**h, AnalysisPeriod::kWeekly, 0).is_ok());
    EXPECT_FALSE(parse_analysis_period("monthly").is_ok());
}

}  // namespace
}  // namespace itscam::service
