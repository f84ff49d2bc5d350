// ENABLE_CUDA_STREAMS_MONITORING end to end on the CPU: a pipeline on the host device, whose detectors lease host
// streams, reports per-stream busy time and queue depth in its snapshot and in /metrics with the setting on, and
// nothing of it with the setting off. (The GPU side: tests/cuda/cuda_device_test.cpp.)
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "pipeline/pipeline.h"
#include "service/metrics.h"
#include "service_test_util.h"

using namespace itscam;
namespace fs = std::filesystem;

namespace {

const std::string kStreamModel = std::string(ITSCAM_SHARED_DIR) + "/models/yolo11n.onnx";

// One camera, batch 1 only (one engine), no fallback: the smallest pipeline on the host device.
config::Config monitored_config(bool monitoring) {
    config::Config c;
    c.model = kStreamModel;
    c.pipeline.max_batch_size = 1;
    c.pipeline.preferred_batch_sizes = {1};
    c.fallback.enabled = false;
    c.settings.ENABLE_CUDA_STREAMS_MONITORING = monitoring;
    config::CameraConfig cam;
    cam.id = "a";
    cam.url = "synthetic://320x240@30";
    cam.realtime = true;
    c.cameras = {cam};
    return c;
}

// Runs the pipeline until it has processed a few frames; returns its last snapshot.
pipeline::PipelineSnapshot run_a_little(bool monitoring) {
    pipeline::PipelineOptions po;
    po.log = [](const std::string&) {};
    auto p = pipeline::Pipeline::create(monitored_config(monitoring), po);
    EXPECT_TRUE(p.is_ok()) << p.status().to_string();
    if (!p) return {};
    EXPECT_TRUE((*p)->start().is_ok());
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((*p)->snapshot().frames_processed < 5 && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (*p)->stop(true);
    return (*p)->snapshot();
}

}  // namespace

TEST(StreamMetrics, SeriesPerDeviceStreamFromTheSnapshot) {
    pipeline::PipelineSnapshot s;
    pipeline::DeviceSnapshot d;
    d.name = "cuda:1";
    device::StreamStats st;
    st.index = 3;
    st.runs = 40;
    st.busy_ms = 1500;
    st.queue_depth = 2;
    d.streams = {st};
    s.devices = {d};
    const std::string t = service::render_metrics(s, {}, 1.0);
    EXPECT_NE(t.find("itscam_device_stream_busy_seconds_total{device=\"cuda:1\",stream=\"3\"} 1.5"), std::string::npos)
        << t;
    EXPECT_NE(t.find("itscam_device_stream_work_total{device=\"cuda:1\",stream=\"3\"} 40"), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_device_stream_queue_depth{device=\"cuda:1\",stream=\"3\"} 2"), std::string::npos) << t;
    const std::string r = service::test::promtool_check(t);
    if (r.rfind("skip", 0) != 0) {
        EXPECT_EQ(r, "") << t;
    }

    s.devices[0].streams.clear();
    EXPECT_EQ(service::render_metrics(s, {}, 1.0).find("# TYPE itscam_device_stream_"), std::string::npos)
        << "no streams in the snapshot: no stream families";
}

TEST(StreamMetrics, TheSettingGatesTheExportOnTheHostDevice) {
    if (!fs::exists(kStreamModel)) GTEST_SKIP() << "model not found";
    const pipeline::PipelineSnapshot off = run_a_little(false);
    ASSERT_GE(off.frames_processed, 5);
    ASSERT_EQ(off.devices.size(), 1u);
    EXPECT_TRUE(off.devices[0].streams.empty());
    EXPECT_EQ(service::render_metrics(off, {}, 1.0).find("# TYPE itscam_device_stream_"), std::string::npos);

    const pipeline::PipelineSnapshot on = run_a_little(true);
    ASSERT_GE(on.frames_processed, 5);
    ASSERT_EQ(on.devices.size(), 1u);
    const auto& streams = on.devices[0].streams;
    ASSERT_FALSE(streams.empty()) << "monitoring on: the cpu device's streams are in the snapshot";
    uint64_t runs = 0;
    double busy = 0;
    int depth = 0;
    for (const auto& st : streams) {
        runs += st.runs;
        busy += st.busy_ms;
        depth += st.queue_depth;
    }
    // Every batch of the pipeline that ran with monitoring on is one unit of work (warm-up runs Engine::run directly).
    EXPECT_GE(runs, static_cast<uint64_t>(on.batches));
    EXPECT_GT(busy, 0.0);
    EXPECT_EQ(depth, 0) << "the pipeline has stopped: nothing is in flight";
    const std::string t = service::render_metrics(on, {}, 1.0);
    EXPECT_NE(t.find("itscam_device_stream_busy_seconds_total{device=\"cpu\",stream=\""), std::string::npos) << t;
    EXPECT_NE(t.find("itscam_device_stream_queue_depth{device=\"cpu\",stream=\""), std::string::npos) << t;
}
