// The traffic section of the daily report: counts by hour and class, speed distribution, congestion timeline;
// absent when the window has no analytics rows.
#include <gtest/gtest.h>

#include <cmath>

#include "service/report.h"
#include "service/report_traffic.h"

namespace itscam::service {
namespace {

using namespace std::chrono_literals;

const int64_t kReportT0ms = 1'700'006'400'000;  // 2023-11-15 00:00 UTC
const SystemTime kReportT0 = from_epoch_ms(kReportT0ms);

// Two hours of one-minute intervals of camera "junction": cars northbound every minute, a truck every 10th minute,
// speeds 30..59 km/h, and zone "stopbar" queued from 00:30 to 00:45.
void fill(History& h) {
    std::vector<analytics::IntervalAggregate> v;
    for (int m = 0; m < 120; ++m) {
        analytics::IntervalAggregate a;
        a.camera = "junction";
        a.start_us = (kReportT0ms + m * 60'000LL) * 1000;
        a.end_us = a.start_us + 60'000'000;
        a.line_counts[{"north", "inbound", "car"}] = 2;
        if (m % 10 == 0) a.line_counts[{"north", "inbound", "truck"}] = 1;
        a.speeds_kmh = {30.0 + m % 30};
        auto& z = a.zones["stopbar"];
        z.congestion = m >= 30 && m < 45 ? "queued" : "free";
        v.push_back(std::move(a));
    }
    ASSERT_TRUE(h.record_intervals(v).is_ok());
    analytics::AnalyticsEvent e;
    e.kind = analytics::EventKind::kCongestionChange;
    e.camera = "junction";
    e.zone = "stopbar";
    e.id = "junction-1-1";
    e.wall_time_us = (kReportT0ms + 30 * 60'000LL) * 1000;
    e.previous_level = "free";
    e.level = "queued";
    ASSERT_TRUE(h.record_event(e).is_ok());
    e.id = "junction-1-2";
    e.wall_time_us = (kReportT0ms + 45 * 60'000LL) * 1000;
    e.previous_level = "queued";
    e.level = "free";
    ASSERT_TRUE(h.record_event(e).is_ok());
}

TEST(ReportTraffic, SpeedStatsPercentilesAndHistogram) {
    std::vector<double> v;
    for (int i = 1; i <= 100; ++i) v.push_back(i);  // 1..100 km/h
    v.push_back(NAN);                               // ignored
    const SpeedStats s = speed_stats(v);
    EXPECT_EQ(s.n, 100);
    EXPECT_DOUBLE_EQ(s.mean, 50.5);
    EXPECT_DOUBLE_EQ(s.p50, 50.5);
    EXPECT_NEAR(s.p85, 85.15, 1e-9);
    EXPECT_DOUBLE_EQ(s.max, 100);
    ASSERT_EQ(s.histogram.size(), SpeedStats::bounds_kmh().size() + 1);
    EXPECT_EQ(s.histogram[0], 10);  // 1..10
    EXPECT_EQ(s.histogram[9], 10);  // 91..100
    EXPECT_EQ(s.histogram.back(), 0);
    EXPECT_EQ(speed_stats({}).n, 0);
}

TEST(ReportTraffic, SectionHasHourlyCountsSpeedsAndCongestion) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    fill(**h);
    auto t = render_traffic_section(**h, kReportT0, kReportT0 + 2h);
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    ASSERT_TRUE(t->present);
    const std::string& md = t->markdown;
    // Hour rows: 60 minutes x 2 cars = 120 cars, 6 trucks per hour.
    EXPECT_NE(md.find("camera junction, line north, inbound** (252)"), std::string::npos) << md;
    EXPECT_NE(md.find("| 2023-11-15 00:00 | 120 | 6 | 126 |"), std::string::npos) << md;
    EXPECT_NE(md.find("| 2023-11-15 01:00 | 120 | 6 | 126 |"), std::string::npos) << md;
    // Speeds 30..59 four times over: mean 44.5.
    EXPECT_NE(md.find("120 vehicles, mean 44.5"), std::string::npos) << md;
    EXPECT_NE(md.find("| 20-30 km/h | 4 |"), std::string::npos) << md;  // 30 itself is in the 20-30 bucket (le)
    // 15 of 120 minutes queued.
    EXPECT_NE(md.find("free 87.5%, slow 0.0%, queued 12.5%"), std::string::npos) << md;
    EXPECT_NE(md.find("| 2023-11-15 00:30:00 | junction | stopbar | free -> queued |"), std::string::npos) << md;
    EXPECT_NE(t->text.find("camera junction, line north, inbound: 252 crossings"), std::string::npos) << t->text;
    EXPECT_NE(t->html.find("fill=\"#d62728\""), std::string::npos);  // queued segments in the timeline

    // In the daily report, Markdown and HTML.
    auto rep = render_daily_report(**h, kReportT0, kReportT0 + 2h);
    ASSERT_TRUE(rep.is_ok()) << rep.status().to_string();
    EXPECT_NE(rep->markdown.find("## Traffic"), std::string::npos);
    EXPECT_NE(rep->html.find("<h2>Traffic</h2>"), std::string::npos);
    EXPECT_EQ(rep->html.find("<script"), std::string::npos);
    EXPECT_EQ(rep->traffic_text, t->text);
}

TEST(ReportTraffic, AbsentWithoutAnalyticsRows) {
    auto h = History::open(":memory:");
    ASSERT_TRUE(h.is_ok());
    fill(**h);
    auto t = render_traffic_section(**h, kReportT0 + 3h, kReportT0 + 4h);  // after the rows
    ASSERT_TRUE(t.is_ok());
    EXPECT_FALSE(t->present);
    EXPECT_TRUE(t->markdown.empty());
    auto rep = render_daily_report(**h, kReportT0 + 3h, kReportT0 + 4h);
    ASSERT_TRUE(rep.is_ok());
    EXPECT_EQ(rep->markdown.find("Traffic"), std::string::npos);
    EXPECT_EQ(render_traffic_section(**h, kReportT0, kReportT0).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace itscam::service
