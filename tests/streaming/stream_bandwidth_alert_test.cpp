// streaming_bandwidth_high from its real input path: a real pipeline (YOLO11n on a synthetic camera) feeds the
// stream hub through the Server's frame hook, a real HTTP viewer reads /streams/a/live.mp4, and the Server's timers
// turn the hub's egress (bytes per viewer-second) over streaming.bitrate_kbps into the rule's input. The baseline is
// set far below what the stream needs, so the rule fires while the viewer watches and resolves once it leaves.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "pipeline/pipeline.h"
#include "service/server.h"
#include "../service/service_test_util.h"

using namespace itscam;
using namespace itscam::service;
namespace fs = std::filesystem;
using itscam::service::test::wait_for;

namespace {

const std::string kModel = service::test::kYoloModel;

}  // namespace

TEST(StreamBandwidthAlert, FiresWhileAViewerReceivesMoreThanTheBaselineAndResolvesWhenItLeaves) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found: " << kModel;
    const fs::path dir = fs::temp_directory_path() / ("itscam_bw_alert_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    config::Config cfg = service::test::small_cpu_config();
    cfg.settings.ENABLE_ADAPTIVE_QUALITY = false;  // plain CRF: no budget cap pulling the rate under the baseline
    config::CameraConfig cam;
    cam.id = "a";
    cam.url = "synthetic://640x360@10";
    cfg.cameras = {cam};
    cfg.server.port = 0;
    cfg.history.path = (dir / "history.db").string();
    cfg.streaming.preset = "ultrafast";
    cfg.streaming.crf = 16;
    cfg.streaming.gop = 10;
    cfg.streaming.bitrate_kbps = 50;  // the baseline: 6.25 kB/s per viewer
    cfg.reserved_json.sections["alerts"] = R"({"rules": {"streaming_bandwidth_high": {"for": 0.5}}})";

    ServerOptions so;
    so.alert_interval_s = 0.25;
    so.log = [](const std::string&) {};
    auto s = Server::create(cfg, so);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    std::unique_ptr<Server> server = std::move(s).value();
    std::mutex mu;
    std::vector<AlertTransition> seen;
    server->alerts().on_transition([&](const AlertTransition& t) {
        if (t.alert.rule != "streaming_bandwidth_high") return;
        std::lock_guard<std::mutex> lk(mu);
        seen.push_back(t);
    });
    auto last = [&] {
        std::lock_guard<std::mutex> lk(mu);
        return seen.empty() ? AlertState::kInactive : seen.back().to;
    };
    pipeline::PipelineOptions po;
    po.log = [](const std::string&) {};
    server->attach(po);
    ASSERT_TRUE(server->streams()) << "streaming and the server are on: attach() creates the hub";
    auto p = pipeline::Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    std::unique_ptr<pipeline::Pipeline> pipe = std::move(p).value();
    ASSERT_TRUE(server->start(*pipe).is_ok());
    ASSERT_TRUE(pipe->start().is_ok());
    ASSERT_TRUE(wait_for([&] { return server->streams()->has_camera("a"); }, 60)) << "no frame reached the hub";

    // Nobody watches: nothing is sent, the rule stays quiet.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    EXPECT_EQ(last(), AlertState::kInactive);

    // A viewer: the encode starts and the egress runs far above 50 kbit/s.
    std::atomic<bool> leave{false};
    std::atomic<int64_t> received{0};
    std::thread viewer([&] {
        httplib::Client cli("127.0.0.1", server->http()->port());
        cli.set_read_timeout(5, 0);
        cli.Get("/streams/a/live.mp4?rendition=source", [&](const char*, size_t n) {
            received += static_cast<int64_t>(n);
            return !leave.load();
        });
    });
    const bool fired = wait_for([&] { return last() == AlertState::kFiring; }, 30);
    const int64_t got = received.load();
    leave = true;
    viewer.join();
    ASSERT_TRUE(fired) << "received " << got << " bytes";
    AlertTransition firing;
    {
        std::lock_guard<std::mutex> lk(mu);
        firing = seen.back();
    }
    EXPECT_GT(firing.alert.value, 1.10);
    EXPECT_NE(firing.alert.message.find("streaming bandwidth vs baseline"), std::string::npos) << firing.alert.message;
    const streaming::StreamEgress e = server->streams()->egress();
    EXPECT_GE(e.bytes, got) << "the hub counts every byte the viewer got";
    EXPECT_GT(e.viewer_seconds, 0);

    // The viewer left: no egress, the ratio drops to 0 and the alert resolves.
    ASSERT_TRUE(wait_for([&] { return last() == AlertState::kResolved; }, 30));
    EXPECT_EQ(server->streams()->egress().video_viewers, 0);
    const std::string metrics = server->http()->metrics_text();
    EXPECT_NE(metrics.find("itscam_stream_egress_bytes_total "), std::string::npos);

    server->stop();
    pipe->stop(false);
    server->finish(pipe->snapshot());
    pipe.reset();
    server.reset();
    fs::remove_all(dir);
}
