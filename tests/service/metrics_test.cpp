// Prometheus exposition and /health/performance logic on hand-built snapshots (no pipeline, no HTTP): real
// histograms from the cumulative buckets (ms -> s), per-camera series, GPU families only with NVML samples,
// promtool-clean output, the healthy/degraded rule, and the NVML loader without a driver.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "service/gpu_monitor.h"
#include "service/http_service.h"
#include "service/metrics.h"
#include "service/metrics_alerts.h"
#include "service/metrics_registry.h"
#include "service/metrics_streams.h"
#include "service_test_util.h"

using namespace itscam;
using namespace itscam::service;
namespace fs = std::filesystem;

namespace {

// Runs `promtool check metrics` on the text. Returns "" when it passes, else its output (or "skip: ..." when
// promtool is not installed).
pipeline::PipelineSnapshot sample_snapshot() {
    pipeline::PipelineSnapshot s;
    s.uptime_s = 12.5;
    s.ready = true;
    s.frames_processed = 100;
    s.batches = 40;
    s.frames_dropped = 3;
    s.frames_skipped = 7;
    s.fps = 9.5;
    s.batch_sizes = {{1, 20}, {4, 20}};
    const size_t nb = pipeline::LatencyRecorder::kBucketsMs.size();
    for (const char* stage : {"decode", "inference", "e2e"}) {
        pipeline::LatencySummary l;
        l.count = 100;
        l.sum_ms = 2500;
        l.window = 100;
        l.p50_ms = 20;
        l.p95_ms = 40;
        l.p99_ms = 45;
        l.max_ms = 60;
        s.stages[stage] = l;
        std::vector<int64_t> b(nb + 1);
        for (size_t i = 0; i < nb; ++i) b[i] = pipeline::LatencyRecorder::kBucketsMs[i] < 10 ? 0 : 100;
        b[nb] = 100;
        s.stage_buckets[stage] = b;
    }
    pipeline::PoolStats p;
    p.name = "staging_b1";
    p.device = "cpu";
    p.acquires = 50;
    p.hits = 45;
    p.misses = 5;
    p.bytes_total = 4096;
    p.buffers_total = 2;
    p.acquire_p50_us = 0.2;
    p.acquire_p99_us = 1.5;
    s.pools = {p};
    s.pool_total = p;
    s.pool_total.name = "total";
    pipeline::CameraSnapshot c;
    c.id = "cam \"1\"";  // needs escaping in label values
    c.state = "streaming";
    c.frames_processed = 60;
    c.fps = 5;
    c.latency.count = 60;
    c.latency.sum_ms = 1800;
    c.latency.window = 60;
    c.latency.p50_ms = 30;
    c.latency.p99_ms = 50;
    pipeline::CameraSnapshot d;
    d.id = "cam2";
    d.state = "reconnecting";
    d.reconnects = 2;
    s.cameras = {c, d};
    pipeline::DeviceSnapshot dev;
    dev.name = "cpu";
    dev.batches = 40;
    dev.busy_fraction = 0.75;
    dev.workers = 1;
    s.devices = {dev};
    s.decode_slots = 3;
    s.decode_slot_waits = 12;
    s.decode_slot_wait_s = 0.25;
    return s;
}

}  // namespace

TEST(Metrics, HistogramsCountersAndCameraSeries) {
    const std::string t = render_metrics(sample_snapshot(), {}, 3.0);
    // Real histograms: bounds in seconds, cumulative, +Inf == count, sum in seconds.
    EXPECT_NE(t.find("# TYPE itscam_stage_latency_seconds histogram"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_stage_latency_seconds_bucket{stage=\"inference\",le=\"0.005\"} 0"), std::string::npos)
        << t;
    EXPECT_NE(t.find("itscam_stage_latency_seconds_bucket{stage=\"inference\",le=\"0.01\"} 100"), std::string::npos)
        << t;
    EXPECT_NE(t.find("itscam_stage_latency_seconds_bucket{stage=\"inference\",le=\"+Inf\"} 100"), std::string::npos)
        << t;
    EXPECT_NE(t.find("itscam_stage_latency_seconds_sum{stage=\"inference\"} 2.5"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_stage_latency_seconds_count{stage=\"e2e\"} 100"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_frames_processed_total 100"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_batches_total 40"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_batch_executions_total{batch_size=\"4\"} 20"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_camera_up{camera=\"cam \\\"1\\\"\"} 1"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_camera_up{camera=\"cam2\"} 0"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_camera_reconnects_total{camera=\"cam2\"} 2"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_camera_latency_seconds{camera=\"cam \\\"1\\\"\",quantile=\"0.99\"} 0.05"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("itscam_camera_latency_seconds_count{camera=\"cam2\"} 0"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_pool_hit_ratio{device=\"cpu\",kind=\"host\",pool=\"staging_b1\"} 0.9"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_pool_misses_total{device=\"cpu\",kind=\"host\",pool=\"staging_b1\"} 5"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_circuit_state{device=\"cpu\"} 0"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_device_busy_ratio{device=\"cpu\"} 0.75"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_uptime_seconds 3"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_decode_slots 3"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_decode_slot_waits_total 12"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_decode_slot_wait_seconds_total 0.25"), std::string::npos) << t;
    // Every family has HELP and TYPE.
    size_t help = 0, type = 0;
    for (size_t p = 0; (p = t.find("# HELP ", p)) != std::string::npos; ++p) ++help;
    for (size_t p = 0; (p = t.find("# TYPE ", p)) != std::string::npos; ++p) ++type;
    EXPECT_EQ(help, type);
    EXPECT_GT(help, 30u);
    // No NVML samples: no GPU metrics at all (never a fake 0).
    EXPECT_EQ(t.find("itscam_gpu_"), std::string::npos);
}

TEST(Metrics, GpuFamiliesOnlyWithSamples) {
    GpuSample g;
    g.index = 0;
    g.name = "NVIDIA H200";
    g.utilization = 0.8;
    g.memory_used_bytes = 1ull << 30;
    g.memory_total_bytes = 141ull << 30;
    g.memory_known = true;
    GpuSample no_decoder = g;
    no_decoder.index = 1;
    g.decoder_utilization = 0.35;
    const std::string t = render_metrics(sample_snapshot(), {g, no_decoder}, 1.0);
    EXPECT_NE(t.find("itscam_gpu_utilization_ratio{gpu=\"0\",name=\"NVIDIA H200\"} 0.8"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_gpu_memory_total_bytes{gpu=\"0\""), std::string::npos) << t;
    // NVDEC load only where NVML reported it.
    EXPECT_NE(t.find("itscam_gpu_decoder_utilization_ratio{gpu=\"0\",name=\"NVIDIA H200\"} 0.35"), std::string::npos)
        << t;
    EXPECT_EQ(t.find("itscam_gpu_decoder_utilization_ratio{gpu=\"1\""), std::string::npos) << t;
    const std::string r = test::promtool_check(t);
    if (r.rfind("skip:", 0) == 0) GTEST_SKIP() << r;
    EXPECT_EQ(r, "") << t;
}

TEST(Metrics, PassesPromtool) {
    const std::string t = render_metrics(sample_snapshot(), {}, 1.0);
    const std::string r = test::promtool_check(t);
    if (r.rfind("skip:", 0) == 0) GTEST_SKIP() << r;
    EXPECT_EQ(r, "") << t;
    // An empty pipeline (no cameras, no stages yet) is valid too.
    const std::string r2 = test::promtool_check(render_metrics(pipeline::PipelineSnapshot{}, {}, 0.1));
    EXPECT_EQ(r2, "");
}

TEST(Metrics, CircuitStateValues) {
    EXPECT_EQ(circuit_state_value(pipeline::CircuitState::kClosed), 0);
    EXPECT_EQ(circuit_state_value(pipeline::CircuitState::kHalfOpen), 1);
    EXPECT_EQ(circuit_state_value(pipeline::CircuitState::kOpen), 2);
}

// A selection with one GPU at `util` (what select_gpus returns for device cuda, device_ids [0]).
GpuSelection one_gpu(double util) {
    GpuSelection g;
    GpuSample s;
    s.utilization = util;
    g.gpus = {s};
    return g;
}

TEST(Performance, HealthyOnlyWhenReadyAndEveryCircuitClosed) {
    const GpuSelection none;
    auto s = sample_snapshot();
    auto j = performance_json(s, none);
    EXPECT_EQ(j["status"], "healthy");
    EXPECT_DOUBLE_EQ(j["inference_latency_p99"].get<double>(), 45.0);
    EXPECT_TRUE(j["gpu_utilization"].is_null());
    EXPECT_NEAR(j["memory_pool_efficiency"].get<double>(), 0.9, 1e-9);
    EXPECT_EQ(j["circuit_breaker_state"], "closed");
    ASSERT_EQ(j["cameras"].size(), 2u);
    EXPECT_EQ(j["cameras"][0]["e2e_latency_p99"], 50.0);
    EXPECT_EQ(j["devices"][0]["busy"], 0.75);
    EXPECT_EQ(j["stages"]["inference"]["p95_ms"], 40.0);

    EXPECT_TRUE(j["gpu_decoder_utilization"].is_null());
    j = performance_json(s, one_gpu(0.42));
    EXPECT_DOUBLE_EQ(j["gpu_utilization"].get<double>(), 0.42);
    // NVDEC load: the mean over the GPUs that report it.
    GpuSelection two = one_gpu(0.42);
    two.gpus.emplace_back().decoder_utilization = 0.5;
    EXPECT_DOUBLE_EQ(performance_json(s, two)["gpu_decoder_utilization"].get<double>(), 0.5);

    pipeline::DeviceSnapshot gpu1;
    gpu1.name = "cuda:1";
    gpu1.circuit = pipeline::CircuitState::kHalfOpen;
    s.devices.push_back(gpu1);
    j = performance_json(s, none);
    EXPECT_EQ(j["status"], "degraded");
    EXPECT_EQ(j["circuit_breaker_state"], "half_open");
    s.devices[0].circuit = pipeline::CircuitState::kOpen;
    EXPECT_EQ(performance_json(s, none)["circuit_breaker_state"], "open");

    auto n = sample_snapshot();
    n.ready = false;
    n.not_ready_reason = "model loading";
    j = performance_json(n, none);
    EXPECT_EQ(j["status"], "degraded");
    EXPECT_NE(j["reasons"][0].get<std::string>().find("model loading"), std::string::npos);
}

TEST(GpuMonitor, MissingLibraryMeansUnavailable) {
    GpuMonitor m("libnvidia-ml-does-not-exist.so.1");
    EXPECT_FALSE(m.available());
    EXPECT_FALSE(m.unavailable_reason().empty());
    EXPECT_TRUE(m.sample().empty());
    GpuScope cuda0;
    cuda0.device = "cuda";
    cuda0.cuda = true;
    cuda0.device_ids = {0};
    const GpuSelection sel = m.select(cuda0);
    EXPECT_FALSE(sel.mean_utilization().has_value());
    EXPECT_FALSE(sel.memory_pressure().has_value());
    EXPECT_EQ(sel.note.rfind("NVML unavailable: ", 0), 0u) << sel.note;
}

TEST(GpuMonitor, RealNvmlWhenPresent) {
    GpuMonitor m;
    if (!m.available()) GTEST_SKIP() << "NVML not available: " << m.unavailable_reason();
    const auto s = m.sample();
    ASSERT_FALSE(s.empty());
    for (const auto& g : s) {
        EXPECT_GE(g.utilization, 0.0);
        EXPECT_LE(g.utilization, 1.0);
        EXPECT_FALSE(g.name.empty());
        EXPECT_GT(g.memory_total_bytes, 0u);
    }
}

TEST(Auth, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("secret", "secret"));
    EXPECT_FALSE(constant_time_equal("secret", "secreT"));
    EXPECT_FALSE(constant_time_equal("secret", "secret2"));
    EXPECT_FALSE(constant_time_equal("secret", ""));
    EXPECT_FALSE(constant_time_equal("", ""));
}

// Alert names are label values like any other: the one writer escapes quotes, backslashes and newlines (the old
// hand-written itscam_alert_active line did not), and the page still passes promtool.
TEST(Metrics, AlertNamesAreEscaped) {
    AlertRulesConfig cfg = AlertRulesConfig::defaults();
    AlertRule odd;
    odd.name = "lat\"ency\\p99\nhigh";  // lat"ency\p99<newline>high
    odd.metric = AlertMetric::kInferenceLatencyP99Ms;
    odd.severity = AlertSeverity::kCritical;
    odd.threshold = 10;
    cfg.rules.push_back(odd);
    AlertEngine engine(cfg);
    ASSERT_EQ(engine.config().rules.size(), cfg.rules.size()) << "the odd name is a valid rule";
    MetricsSample m;
    m.inference_latency_p99_ms = 50;  // above the odd rule's 10 ms only (the default p99 rule: 100 ms)
    engine.evaluate(m);
    const std::string t = serialize_metrics(alert_metric_families(engine.active()));
    EXPECT_NE(t.find("itscam_alert_active{rule=\"lat\\\"ency\\\\p99\\nhigh\",severity=\"critical\"} 2"),
              std::string::npos)
        << t;
    EXPECT_EQ(t.find("\nhigh"), std::string::npos) << "a raw newline inside a label value";
    // Through a registry, after the pipeline's families: one page, still valid.
    MetricsRegistry reg;
    struct Pipe : prometheus::Collectable {
        std::vector<prometheus::MetricFamily> Collect() const override {
            return pipeline_metric_families(sample_snapshot(), {}, 1.0);
        }
    };
    reg.add(std::make_shared<Pipe>());
    reg.add(std::make_shared<AlertCollector>(engine));
    const std::string page = reg.text();
    EXPECT_NE(page.find("itscam_alert_active{rule=\"lat\\\"ency"), std::string::npos);
    EXPECT_NE(page.find("itscam_frames_processed_total 100"), std::string::npos);
    const std::string r = test::promtool_check(page);
    if (r.rfind("skip:", 0) == 0) GTEST_SKIP() << r;
    EXPECT_EQ(r, "") << page;
}

TEST(Metrics, NoActiveAlertNoAlertSeries) {
    AlertEngine engine;
    EXPECT_EQ(serialize_metrics(alert_metric_families(engine.active())), "");
}

// The stream series keep their names and labels (operators' dashboards) now that prometheus-cpp writes them.
TEST(Metrics, StreamFamiliesKeepNamesAndLabels) {
    streaming::StreamHubMetrics m;
    streaming::StreamHubMetrics::Camera c;
    c.id = "gate \"west\"";
    streaming::StreamHubMetrics::Rendition r;
    r.name = "source";
    r.viewers = 2;
    r.bitrate_bytes_per_second = 250000;
    r.crf = 23.5;
    r.bytes = 1234567;
    c.renditions = {r};
    streaming::StreamHubMetrics::Viewer v;
    v.id = 7;
    v.rendition = 1;
    v.skips = 3;
    v.queued_bytes = 4096;
    c.viewers = {v};
    c.frames_encoded = 900;
    c.latency_p99_seconds = 0.04;
    m.cameras = {c};
    m.connections = 2;
    m.rejected = 1;
    m.egress.bytes = 5000000;
    const std::string t = serialize_metrics(stream_metric_families(m));
    const std::string cam = "camera=\"gate \\\"west\\\"\"";
    for (const std::string& want :
         {"itscam_stream_viewers{" + cam + ",rendition=\"source\"} 2",
          "itscam_stream_bitrate_bytes_per_second{" + cam + ",rendition=\"source\"} 250000",
          "itscam_stream_crf{" + cam + ",rendition=\"source\"} 23.5",
          "itscam_stream_bytes_total{" + cam + ",rendition=\"source\"} 1234567",
          "itscam_stream_frames_encoded_total{" + cam + "} 900",
          "itscam_stream_latency_p99_seconds{" + cam + "} 0.04",
          "itscam_stream_viewer_rendition{" + cam + ",viewer=\"7\"} 1",
          "itscam_stream_viewer_skips_total{" + cam + ",viewer=\"7\"} 3",
          "itscam_stream_viewer_queued_bytes{" + cam + ",viewer=\"7\"} 4096",
          std::string("itscam_stream_connections 2"),
          std::string("itscam_stream_rejected_total 1"), std::string("itscam_stream_egress_bytes_total 5000000"),
          std::string("# TYPE itscam_stream_bytes_total counter"), std::string("# TYPE itscam_stream_crf gauge")})
        EXPECT_NE(t.find(want), std::string::npos) << want << "\n" << t;
    const std::string check = test::promtool_check(t);
    if (check.rfind("skip:", 0) == 0) GTEST_SKIP() << check;
    EXPECT_EQ(check, "") << t;
}
