// The alert engine's and the history's samples: the GPU and streaming inputs reach MetricsSample / HistorySample,
// the streaming bandwidth ratio is bytes per viewer-second against streaming.bitrate_kbps, and the two rules that
// used to get no input fire on them.
#include <gtest/gtest.h>

#include "service/samples.h"

using namespace itscam;
using namespace itscam::service;

TEST(Samples, ExternalInputsReachBothSamples) {
    pipeline::PipelineSnapshot s;
    ExternalInputs in;
    MetricsSample m = metrics_sample_from(s, nullptr, in);
    EXPECT_FALSE(m.gpu_utilization.has_value());
    EXPECT_FALSE(m.gpu_memory_pressure.has_value());
    EXPECT_FALSE(m.streaming_bandwidth_ratio.has_value());
    in.gpu_utilization = 0.4;
    in.gpu_memory_pressure = 0.93;
    in.streaming_bandwidth_ratio = 1.3;
    m = metrics_sample_from(s, nullptr, in);
    EXPECT_EQ(m.gpu_utilization.value_or(-1), 0.4);
    EXPECT_EQ(m.gpu_memory_pressure.value_or(-1), 0.93);
    EXPECT_EQ(m.streaming_bandwidth_ratio.value_or(-1), 1.3);
    const HistorySample h = history_sample_from(s, nullptr, in);
    EXPECT_EQ(h.gpu_utilization.value_or(-1), 0.4);
    EXPECT_EQ(h.gpu_memory_pressure.value_or(-1), 0.93);
}

TEST(Samples, StreamingBandwidthRatioPerViewerSecond) {
    streaming::StreamEgress a, b;
    EXPECT_FALSE(streaming_bandwidth_ratio(b, nullptr, 4000).has_value()) << "no interval yet";
    // 2 viewers for 10 s received 12.5 MB: 625 kB/s each = 5000 kbit/s against a 4000 kbit/s baseline.
    b.bytes = 12'500'000;
    b.viewer_seconds = 20;
    EXPECT_NEAR(*streaming_bandwidth_ratio(b, &a, 4000), 1.25, 1e-12);
    EXPECT_FALSE(streaming_bandwidth_ratio(b, &a, 0).has_value()) << "no baseline";
    // Nobody watched in the interval: nothing was sent, the ratio is 0 (a firing alert resolves).
    streaming::StreamEgress c = b;
    EXPECT_EQ(*streaming_bandwidth_ratio(c, &b, 4000), 0.0);
}

TEST(Samples, GpuMemoryAndBandwidthRulesFireOnTheirInputs) {
    AlertRulesConfig cfg = AlertRulesConfig::defaults();
    for (auto& r : cfg.rules) r.for_s = 0;
    AlertEngine engine(cfg);
    pipeline::PipelineSnapshot s;
    ExternalInputs in;
    in.gpu_memory_pressure = 0.95;
    in.streaming_bandwidth_ratio = 1.2;
    engine.evaluate(metrics_sample_from(s, nullptr, in));
    std::vector<std::string> firing;
    for (const auto& a : engine.active())
        if (a.state == AlertState::kFiring) firing.push_back(a.rule);
    EXPECT_EQ(firing, (std::vector<std::string>{"gpu_memory_pressure_high", "streaming_bandwidth_high"}));
    in.gpu_memory_pressure = 0.5;
    in.streaming_bandwidth_ratio = 0.0;
    engine.evaluate(metrics_sample_from(s, nullptr, in));
    EXPECT_TRUE(engine.active().empty());
}
