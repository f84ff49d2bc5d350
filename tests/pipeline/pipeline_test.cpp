// End-to-end pipeline tests on the real YOLO11n model and the real traffic clips: detections flow, frames are
// accounted for, the circuit breaker moves serving to the CPU fallback and back, overload stays bounded, cameras
// come and go at run time, and a dead camera does not disturb the others.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "video/video_reader.h"

using namespace itscam;
using namespace itscam::pipeline;
namespace fs = std::filesystem;

namespace {

const std::string kShared = ITSCAM_SHARED_DIR;
const std::string kModel = kShared + "/models/yolo11n.onnx";
// The original int8 export at 320: the degraded (lighter) model the CPU fallback serves with.
const std::string kModel320 = kShared + "/models/yolo11n_int8_320.onnx";
const std::string kClipSmall = kShared + "/data/videos/urban_road_cctv_360p.mp4";
const std::string kClipMid = kShared + "/data/videos/intersection_cctv_480p.mp4";

struct Recorder {
    std::mutex mu;
    std::vector<DetectionRecord> recs;
    std::shared_ptr<DetectionSink> sink() {
        return std::make_shared<CallbackSink>([this](const DetectionRecord& r) {
            std::lock_guard<std::mutex> lk(mu);
            DetectionRecord c = r;
            c.class_names = nullptr;
            recs.push_back(std::move(c));
        });
    }
    std::vector<DetectionRecord> snapshot() {
        std::lock_guard<std::mutex> lk(mu);
        return recs;
    }
    size_t size() {
        std::lock_guard<std::mutex> lk(mu);
        return recs.size();
    }
};

config::Config base_config() {
    config::Config c;
    c.device = "cpu";
    c.model = kModel;
    c.threads = 2;
    c.pipeline.max_batch_size = 4;
    c.pipeline.preferred_batch_sizes = {1, 2, 4};
    c.pipeline.max_queue_delay_ms = 5;
    c.pipeline.queue_capacity = 2;
    c.fallback.enabled = false;
    c.settings.MEMORY_POOL_SIZE = 2;
    return c;
}

config::CameraConfig camera(const std::string& id, const std::string& url, bool realtime = true) {
    config::CameraConfig c;
    c.id = id;
    c.url = url;
    c.realtime = realtime;
    return c;
}

bool wait_for(const std::function<bool()>& pred, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

const CameraSnapshot* find_cam(const PipelineSnapshot& s, const std::string& id) {
    for (const auto& c : s.cameras)
        if (c.id == id) return &c;
    return nullptr;
}

bool have_inputs() { return fs::exists(kModel) && fs::exists(kClipSmall) && fs::exists(kClipMid); }

}  // namespace

#define REQUIRE_CLIPS()                                                                   \
    do {                                                                                  \
        if (!have_inputs()) GTEST_SKIP() << "shared model/clips not found under " << kShared; \
        if (!video::ffmpeg_available()) GTEST_SKIP() << "built without FFmpeg";           \
    } while (0)

TEST(Pipeline, RealClipsEveryFrameAccountedAndVehiclesDetected) {
    REQUIRE_CLIPS();
    config::Config cfg = base_config();
    // Decode as fast as possible but keep 2 frames per second of video (by pts), and queue them all: every
    // decoded frame is then either skipped by the rate cap or processed, and the totals must match the clips'
    // exact decoded frame counts.
    cfg.pipeline.queue_capacity = 256;
    // Both cameras decode flat out through one decode slot: they take turns, and no frame goes missing.
    cfg.pipeline.decode_slots = 1;
    cfg.cameras = {camera("urban", kClipSmall, false), camera("intersection", kClipMid, false)};
    for (auto& c : cfg.cameras) c.max_fps = 2;
    Recorder rec;
    PipelineOptions po;
    po.sinks = {rec.sink()};
    po.log = [](const std::string&) {};
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    ASSERT_TRUE((*p)->ready());
    ASSERT_TRUE((*p)->start().is_ok());
    (*p)->wait_cameras_ended();
    (*p)->stop(true);
    const PipelineSnapshot s = (*p)->snapshot();
    const auto recs = rec.snapshot();

    const std::map<std::string, int64_t> clip_frames = {{"urban", 1190}, {"intersection", 909}};
    for (const auto& c : s.cameras) {
        EXPECT_EQ(c.state, "ended") << c.id;
        EXPECT_EQ(c.frames_captured + c.frames_skipped, clip_frames.at(c.id)) << c.id;
        EXPECT_EQ(c.frames_dropped, 0) << c.id;
        EXPECT_EQ(c.frames_processed, c.frames_captured) << c.id;
        EXPECT_GT(c.frames_processed, clip_frames.at(c.id) / 20) << c.id;  // ~2 of 25-30 fps
    }
    EXPECT_EQ(s.frames_failed, 0);
    EXPECT_EQ(static_cast<int64_t>(recs.size()), s.frames_processed);
    EXPECT_EQ(s.decode_slots, 1);
    EXPECT_GT(s.decode_slot_waits, 0) << "two cameras decoding flat out never waited for the one slot";

    // Per camera: frame indices and pts strictly increase in the output; vehicles are found.
    std::map<std::string, std::pair<int64_t, double>> last;
    std::map<std::string, int> with_vehicles, total;
    for (const auto& r : recs) {
        auto it = last.find(r.camera);
        if (it != last.end()) {
            EXPECT_GT(r.frame, it->second.first) << r.camera;
            EXPECT_GT(r.pts, it->second.second) << r.camera;
        }
        last[r.camera] = {r.frame, r.pts};
        total[r.camera]++;
        bool vehicle = false;
        for (const auto& d : r.detections) {
            EXPECT_GT(d.score, 0.25f);
            EXPECT_GE(d.x1, -1.f);
            EXPECT_LE(d.x2, r.width + 1.f);
            vehicle |= d.class_id == 2 || d.class_id == 5 || d.class_id == 7;  // car, bus, truck
        }
        with_vehicles[r.camera] += vehicle;
        EXPECT_GE(r.latency_ms, 0.0);
        EXPECT_EQ(r.device, "cpu");
        EXPECT_FALSE(r.degraded);
    }
    for (const auto& [cam, n] : total) EXPECT_GT(with_vehicles[cam], n / 2) << cam << ": vehicles in too few frames";
    // Stage statistics were recorded.
    for (const char* st : {"decode", "queue", "preprocess", "inference", "nms", "e2e"})
        EXPECT_GT(s.stages.at(st).count, 0) << st;
    EXPECT_GT(s.pool_total.acquires, 0);
}

TEST(Pipeline, CircuitOpensOnInjectedFaultsServesFromCpuFallbackAndCloses) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config();
    cfg.settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD = 3;
    cfg.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 0.4;
    cfg.settings.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS = 2;
    cfg.fallback.enabled = true;
    cfg.fallback.device = "cpu";
    cfg.fallback.model = kModel320;  // degradation: a lighter model (320 input) while on the fallback
    cfg.cameras = {camera("a", "synthetic://640x360@20"), camera("b", "synthetic://640x360@20")};
    Recorder rec;
    PipelineOptions po;
    po.sinks = {rec.sink()};
    po.faults = std::make_shared<FaultController>();
    std::mutex log_mu;
    std::vector<std::string> logs;
    po.log = [&](const std::string& m) {
        std::lock_guard<std::mutex> lk(log_mu);
        logs.push_back(m);
    };
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    Pipeline& pipe = **p;
    ASSERT_TRUE(pipe.start().is_ok());
    ASSERT_TRUE(wait_for([&] { return rec.size() >= 10; }, 30));
    EXPECT_EQ(pipe.snapshot().devices.at(0).circuit, CircuitState::kClosed);

    // The GPU (here: the primary backend with fault injection) starts failing.
    po.faults->fail_next(-1, StatusCode::kDevice);
    ASSERT_TRUE(wait_for([&] { return pipe.snapshot().devices.at(0).circuit != CircuitState::kClosed; }, 20));
    const size_t mark = rec.size();
    ASSERT_TRUE(wait_for([&] { return rec.size() >= mark + 10; }, 30)) << "fallback does not serve";
    {
        auto recs = rec.snapshot();
        int degraded = 0;
        for (size_t i = mark; i < recs.size(); ++i) {
            degraded += recs[i].degraded;
            if (recs[i].degraded) {
                EXPECT_EQ(recs[i].device, "cpu(fallback)");
            }
        }
        EXPECT_GT(degraded, 5);
    }
    EXPECT_TRUE(pipe.ready()) << "the fallback serves, so the service is ready";
    // While faults persist, half-open trials fail and the circuit reopens.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    PipelineSnapshot s = pipe.snapshot();
    EXPECT_GE(s.devices[0].circuit_stats.opens, 2) << "half-open trials should have failed and reopened it";
    EXPECT_EQ(s.frames_failed, 0) << "failed primary batches must be retried on the fallback";

    // The device heals: a half-open trial succeeds and serving moves back.
    po.faults->heal();
    ASSERT_TRUE(wait_for([&] { return pipe.snapshot().devices.at(0).circuit == CircuitState::kClosed; }, 20));
    const size_t mark2 = rec.size();
    ASSERT_TRUE(wait_for([&] { return rec.size() >= mark2 + 10; }, 30));
    {
        auto recs = rec.snapshot();
        EXPECT_FALSE(recs.back().degraded);
        EXPECT_EQ(recs.back().device, "cpu");
    }
    pipe.stop(true);
    s = pipe.snapshot();
    EXPECT_GE(s.circuit_transitions, 5);  // closed->open, open->half_open, half_open->open, ..., half_open->closed
    EXPECT_GT(s.devices[0].fallback_batches, 0);
    EXPECT_EQ(s.frames_failed, 0);
    std::lock_guard<std::mutex> lk(log_mu);
    bool logged_open = false, logged_close = false;
    for (const auto& m : logs) {
        logged_open |= m.find("closed -> open") != std::string::npos;
        logged_close |= m.find("half_open -> closed") != std::string::npos;
    }
    EXPECT_TRUE(logged_open);
    EXPECT_TRUE(logged_close);
}

// Two devices (the CPU and the reference backend stand in for two GPUs on a machine without them). A lost device
// (sticky fault) on the second opens its circuit; its batches go to the first device, whose circuit is closed, not
// to the fallback, and no frame is lost; after the heal its engines are rebuilt and it serves again.
TEST(Pipeline, BatchesOfAFailedDeviceGoToTheHealthyDevice) {
    if (!fs::exists(kModel320)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config();
    cfg.model = kModel320;
    cfg.pipeline.max_batch_size = 2;
    cfg.pipeline.preferred_batch_sizes = {1, 2};
    cfg.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 0.5;
    cfg.settings.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS = 1;
    cfg.fallback.enabled = true;  // there, but not to be used while a device serves
    cfg.fallback.device = "cpu";
    cfg.cameras = {camera("a", "synthetic://640x360@6"), camera("b", "synthetic://640x360@6")};
    Recorder rec;
    PipelineOptions po;
    po.sinks = {rec.sink()};
    po.devices = {"cpu", "ref"};
    auto ref_faults = std::make_shared<FaultController>();
    po.device_faults["ref"] = ref_faults;
    // The CPU device is made slower than the cameras (250 ms a batch; they send 6 batches a second), so that the
    // reference device always finds batches waiting when it asks. Left as fast as it is, the CPU's idle workers can
    // take every batch: a fresh-ci run (2026-12-07) saw no handoff in the 30 s after the fault, most likely because
    // the reference device got no batch to fail on in that time.
    FaultSpec slow_cpu;
    slow_cpu.extra_latency_ms = 250;
    po.device_faults["cpu"] = std::make_shared<FaultController>(slow_cpu);
    po.log = [](const std::string&) {};
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    Pipeline& pipe = **p;
    ASSERT_TRUE(pipe.start().is_ok());
    auto dev = [&](const char* name) {
        for (const auto& d : pipe.snapshot().devices)
            if (d.name == name) return d;
        ADD_FAILURE() << "no device " << name;
        return DeviceSnapshot{};
    };
    ASSERT_EQ(pipe.snapshot().devices.size(), 2u);
    ASSERT_TRUE(wait_for([&] { return dev("cpu").batches > 0 && dev("ref").batches > 0; }, 60))
        << "both devices serve while healthy";

    ref_faults->fail_next(-1, StatusCode::kDeviceLost);
    ASSERT_TRUE(wait_for([&] { return dev("ref").handoffs > 0; }, 30)) << "the failed device hands its batches over";
    EXPECT_NE(dev("ref").circuit, CircuitState::kClosed);
    const int64_t cpu_mark = dev("cpu").batches;
    // After the recovery timeout a trial (on a blank frame: no camera's) rebuilds the engines and fails again.
    EXPECT_TRUE(wait_for([&] { return dev("ref").circuit_stats.opens >= 2; }, 30))
        << "the trials after the recovery timeout failed and reopened it";
    DeviceSnapshot r = dev("ref"), c = dev("cpu");
    EXPECT_GT(c.batches, cpu_mark) << "the healthy device serves the cameras";
    EXPECT_EQ(r.fallback_batches + c.fallback_batches, 0) << "no batch went to the fallback while a device served";
    EXPECT_EQ(pipe.snapshot().frames_failed, 0);

    ref_faults->heal();
    ASSERT_TRUE(wait_for([&] { return dev("ref").circuit == CircuitState::kClosed; }, 30))
        << "the healed device's trial passes: its workers take batches again";
    EXPECT_FALSE(dev("ref").circuit_stats.needs_rebuild) << "its engines were rebuilt after the sticky error";
    pipe.stop(true);
    const PipelineSnapshot s = pipe.snapshot();
    EXPECT_EQ(s.frames_failed, 0);
    for (const auto& d : s.devices) EXPECT_EQ(d.fallback_batches, 0) << d.name;
    std::map<std::string, int> served;
    for (const auto& rr : rec.snapshot()) served[rr.device]++;
    for (const auto& [name, n] : served) EXPECT_TRUE(name == "cpu" || name == "ref") << n << " records from " << name;
    EXPECT_GT(served["cpu"], 0);
    EXPECT_GT(served["ref"], 0);  // before the fault (afterwards the faster CPU may take every batch at this load)
    // Every frame handed over was served once: records = frames processed.
    EXPECT_EQ(static_cast<int64_t>(rec.size()), s.frames_processed);
}

TEST(Pipeline, DevicesNamedTwiceAreRefused) {
    config::Config cfg = base_config();
    PipelineOptions po;
    po.devices = {"cpu", "cpu"};
    auto p = Pipeline::create(cfg, po);
    ASSERT_FALSE(p.is_ok());
    EXPECT_NE(p.status().message().find("named twice"), std::string::npos) << p.status().to_string();
}

TEST(Pipeline, FallbackIdenticalToThePrimaryServesWithItsEngines) {
    if (!fs::exists(kModel) || !fs::exists(kModel320)) GTEST_SKIP() << "models not found";
    const std::string reuse = "serves with the primary's engines";
    // Creates (and, with a camera, runs) a pipeline; returns whether it logged the reuse.
    auto reuses = [&](const config::Config& cfg, std::shared_ptr<FaultController> faults) {
        std::mutex mu;
        std::vector<std::string> logs;
        Recorder rec;
        PipelineOptions po;
        po.sinks = {rec.sink()};
        po.faults = std::move(faults);
        po.log = [&](const std::string& m) {
            std::lock_guard<std::mutex> lk(mu);
            logs.push_back(m);
        };
        auto p = Pipeline::create(cfg, po);
        EXPECT_TRUE(p.is_ok()) << p.status().to_string();
        if (!p.is_ok()) return false;
        if (!cfg.cameras.empty()) {
            EXPECT_TRUE((*p)->start().is_ok());
            EXPECT_TRUE(wait_for([&] { return rec.size() >= 3; }, 60)) << "no detections";
            (*p)->stop(true);
        }
        std::lock_guard<std::mutex> lk(mu);
        return std::any_of(logs.begin(), logs.end(), [&](const std::string& m) { return m.find(reuse) != std::string::npos; });
    };
    config::Config cfg = base_config();
    cfg.pipeline.preferred_batch_sizes = {1};
    cfg.pipeline.max_batch_size = 1;
    cfg.fallback.enabled = true;  // cpu, the camera's model, the primary's input size and threads
    config::Config serving = cfg;
    serving.cameras = {camera("a", "synthetic://320x240@30")};
    EXPECT_TRUE(reuses(serving, nullptr));
    // Anything that differs builds the fallback's own engines: threads, model, fault injection on the primary.
    config::Config other = cfg;
    other.fallback.threads = 1;
    EXPECT_FALSE(reuses(other, nullptr));
    other = cfg;
    other.fallback.model = kModel320;
    EXPECT_FALSE(reuses(other, nullptr));
    EXPECT_FALSE(reuses(cfg, std::make_shared<FaultController>()));
}

TEST(Pipeline, OutOfMemoryOpensTheCircuitAtItsOwnThreshold) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config();
    cfg.settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD = 1000;
    cfg.settings.gpu_memory_failure_threshold = 3;
    cfg.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 60;
    cfg.pipeline.preferred_batch_sizes = {1};
    cfg.pipeline.max_batch_size = 1;
    cfg.fallback.enabled = true;
    cfg.fallback.model = kModel320;
    cfg.cameras = {camera("a", "synthetic://320x240@30")};
    PipelineOptions po;
    po.faults = std::make_shared<FaultController>();
    po.log = [](const std::string&) {};
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    po.faults->fail_next(-1, StatusCode::kOutOfMemory);
    ASSERT_TRUE((*p)->start().is_ok());
    ASSERT_TRUE(wait_for([&] { return (*p)->snapshot().devices.at(0).circuit == CircuitState::kOpen; }, 20));
    const PipelineSnapshot s = (*p)->snapshot();
    EXPECT_EQ(s.devices[0].failures, 3);  // opened after exactly 3 OOMs, far below the general threshold
    (*p)->stop(false);
}

TEST(Pipeline, NoFallbackMeansNotReadyWhileTheCircuitIsOpen) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config();
    cfg.settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD = 2;
    cfg.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 60;
    cfg.pipeline.preferred_batch_sizes = {1};
    cfg.pipeline.max_batch_size = 1;
    cfg.cameras = {camera("a", "synthetic://320x240@30")};
    PipelineOptions po;
    po.faults = std::make_shared<FaultController>();
    po.log = [](const std::string&) {};
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    EXPECT_TRUE((*p)->ready());
    po.faults->fail_next(-1, StatusCode::kDeviceLost);
    ASSERT_TRUE((*p)->start().is_ok());
    ASSERT_TRUE(wait_for([&] { return !(*p)->ready(); }, 20));
    const PipelineSnapshot s = (*p)->snapshot();
    EXPECT_FALSE(s.ready);
    EXPECT_FALSE(s.not_ready_reason.empty());
    EXPECT_TRUE(s.devices[0].circuit_stats.needs_rebuild) << "a sticky error asks for a context rebuild";
    EXPECT_GT(s.frames_failed, 0);
    (*p)->stop(false);
}

TEST(Pipeline, OverloadKeepsLatencyBoundedAndCountsDrops) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config();
    // ~40 ms per 640x640 frame on 2 cores: 8 cameras x 30 fps is several times what it can serve.
    cfg.cameras.clear();
    for (const char* id : {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"})
        cfg.cameras.push_back(camera(id, "synthetic://1280x720@30"));
    PipelineOptions po;
    po.log = [](const std::string&) {};
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    ASSERT_TRUE((*p)->start().is_ok());
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const PipelineSnapshot warm = (*p)->snapshot();
    std::this_thread::sleep_for(std::chrono::seconds(4));
    const PipelineSnapshot s = (*p)->snapshot();
    (*p)->stop(false);
    // Steady state: the pools serve (nearly) every acquire from pre-allocated buffers.
    const int64_t acq = s.pool_total.acquires - warm.pool_total.acquires;
    const int64_t hits = s.pool_total.hits - warm.pool_total.hits;
    ASSERT_GT(acq, 100);
    EXPECT_GE(static_cast<double>(hits) / static_cast<double>(acq), 0.99) << "steady-state pool hit rate";
    int64_t captured = 0, processed = 0;
    for (const auto& c : s.cameras) {
        captured += c.frames_captured;
        processed += c.frames_processed;
        EXPECT_GT(c.frames_processed, 0) << c.id << " starved";
        EXPECT_LE(c.queue_depth, cfg.pipeline.queue_capacity);
    }
    EXPECT_GT(s.frames_dropped, 0);
    EXPECT_LT(processed, captured);
    // Bounded: a frame waits at most for its queue (2 deep) plus a couple of batches, never for a backlog.
    // A generous bound that still fails if frames were buffered without limit (6 s of backlog would show).
    EXPECT_LT(s.stages.at("e2e").p99_ms, 2500.0);
    // Fairness: no camera gets more than twice the frames of another.
    int64_t mn = INT64_MAX, mx = 0;
    for (const auto& c : s.cameras) {
        mn = std::min(mn, c.frames_processed);
        mx = std::max(mx, c.frames_processed);
    }
    EXPECT_LE(mx, 2 * mn + 4);
}

// pipeline.max_inference_workers: a worker past inference_workers takes batches only under queueing pressure (a full
// batch waiting while every regular worker is busy). Under light load it stays parked; under overload it serves.
TEST(Pipeline, ElasticWorkerServesOnlyUnderPressure) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found";
    auto run = [](int cameras, int fps, double seconds) {
        config::Config cfg = base_config();
        cfg.pipeline.preferred_batch_sizes = {4};  // one engine per worker: a faster start
        cfg.pipeline.inference_workers = 1;
        cfg.pipeline.max_inference_workers = 2;
        cfg.cameras.clear();
        for (int i = 0; i < cameras; ++i)
            cfg.cameras.push_back(camera("c" + std::to_string(i), "synthetic://640x360@" + std::to_string(fps)));
        PipelineOptions po;
        po.log = [](const std::string&) {};
        auto p = Pipeline::create(cfg, po);
        EXPECT_TRUE(p.is_ok()) << p.status().to_string();
        if (!p.is_ok()) return PipelineSnapshot{};
        EXPECT_TRUE((*p)->start().is_ok());
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        PipelineSnapshot s = (*p)->snapshot();
        (*p)->stop(false);
        return s;
    };
    // Light: one camera at 2 fps (a frame every 500 ms, served in about 40 ms): never a full batch waiting.
    const PipelineSnapshot light = run(1, 2, 3.0);
    ASSERT_EQ(light.devices.size(), 1u);
    EXPECT_EQ(light.devices[0].workers, 2);
    EXPECT_EQ(light.devices[0].elastic_workers, 1);
    EXPECT_GT(light.frames_processed, 0);
    EXPECT_EQ(light.devices[0].elastic_batches, 0) << "the elastic worker served without pressure";
    // Overload: 8 cameras at 30 fps, several times what one worker serves on 2 cores.
    const PipelineSnapshot heavy = run(8, 30, 4.0);
    ASSERT_EQ(heavy.devices.size(), 1u);
    EXPECT_GT(heavy.devices[0].elastic_batches, 0) << "the elastic worker stayed parked under overload";
    EXPECT_LT(heavy.devices[0].elastic_batches, heavy.devices[0].batches);
}

TEST(Pipeline, CamerasAddedAndRemovedAtRunTimeWithoutDisturbingOthers) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config();
    cfg.cameras = {camera("steady", "synthetic://320x240@15")};
    PipelineOptions po;
    po.log = [](const std::string&) {};
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    Pipeline& pipe = **p;
    ASSERT_TRUE(pipe.start().is_ok());
    auto processed = [&](const std::string& id) -> int64_t {
        auto s = pipe.snapshot();
        auto* c = find_cam(s, id);
        return c ? c->frames_processed : -1;
    };
    ASSERT_TRUE(wait_for([&] { return processed("steady") >= 5; }, 30));
    ASSERT_TRUE(pipe.add_camera(camera("extra", "synthetic://640x480@15")).is_ok());
    EXPECT_EQ(pipe.add_camera(camera("extra", "synthetic://640x480@15")).code(), StatusCode::kInvalidArgument);
    config::CameraConfig bad = camera("bad id!", "synthetic://640x480@15");
    EXPECT_FALSE(pipe.add_camera(bad).is_ok());
    // At run time (the API) a local file needs server.allow_file_cameras (off by default).
    const Status file = pipe.add_camera(camera("file", "/etc/passwd"));
    EXPECT_EQ(file.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(file.message().find("server.allow_file_cameras"), std::string::npos) << file.message();
    ASSERT_TRUE(wait_for([&] { return processed("extra") >= 5; }, 30));
    const int64_t before = processed("steady");
    ASSERT_TRUE(pipe.remove_camera("extra").is_ok());
    EXPECT_EQ(pipe.remove_camera("extra").code(), StatusCode::kNotFound);
    EXPECT_EQ(processed("extra"), -1);
    EXPECT_EQ(pipe.latest("extra").status().code(), StatusCode::kNotFound);
    ASSERT_TRUE(wait_for([&] { return processed("steady") >= before + 5; }, 30)) << "steady camera stalled";
    auto latest = pipe.latest("steady");
    ASSERT_TRUE(latest.is_ok());
    EXPECT_EQ(latest->camera, "steady");
    EXPECT_GT(latest->frame, 0);
    pipe.stop(true);
}

TEST(Pipeline, DeadCameraDoesNotDisturbTheOthers) {
    if (!fs::exists(kModel)) GTEST_SKIP() << "model not found";
    if (!video::ffmpeg_available()) GTEST_SKIP() << "built without FFmpeg";
    config::Config cfg = base_config();
    cfg.pipeline.reconnect_initial_s = 0.1;
    cfg.pipeline.reconnect_max_s = 0.3;
    cfg.cameras = {camera("live", "synthetic://320x240@20"), camera("dead", "rtsp://127.0.0.1:9/nothing"),
                   camera("missing", "/nonexistent/clip.mp4")};
    PipelineOptions po;
    po.log = [](const std::string&) {};
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    Pipeline& pipe = **p;
    ASSERT_TRUE(pipe.start().is_ok());
    ASSERT_TRUE(wait_for([&] {
        auto s = pipe.snapshot();
        return find_cam(s, "live")->frames_processed >= 20 && find_cam(s, "dead")->errors >= 2;
    }, 30));
    auto s = pipe.snapshot();
    EXPECT_EQ(find_cam(s, "dead")->frames_captured, 0);
    EXPECT_FALSE(find_cam(s, "dead")->last_error.empty());
    EXPECT_EQ(find_cam(s, "missing")->state, "failed");
    EXPECT_FALSE(find_cam(s, "missing")->last_error.empty());
    const auto t0 = std::chrono::steady_clock::now();
    pipe.stop(true);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0)
        << "stop must not hang on a dead camera";
}

TEST(Pipeline, InvalidConfigIsRejected) {
    config::Config cfg = base_config();
    cfg.model = "/nonexistent/model.onnx";
    auto p = Pipeline::create(cfg, {});
    ASSERT_FALSE(p.is_ok());
    EXPECT_NE(p.status().message().find("/nonexistent/model.onnx"), std::string::npos) << p.status().to_string();
    cfg = base_config();
    cfg.cameras = {camera("x", "synthetic://10x10@5"), camera("x", "synthetic://10x10@5")};
    p = Pipeline::create(cfg, {});
    EXPECT_FALSE(p.is_ok());
}

// Cluster mode's hooks (docs/cluster.md, "Fencing in the node"), on the small model and two synthetic cameras: a
// camera added with an epoch stamps it (and the node) on its records; while PipelineOptions::may_publish answers
// false for an epoch nothing of that camera reaches the sinks and its frames are counted as fenced, while the other
// camera goes on publishing; publishing resumes when it turns true again.
TEST(Pipeline, ClusterEpochStampedAndNothingPublishedPastTheDeadline) {
    if (!fs::exists(kModel320)) GTEST_SKIP() << "model not found: " << kModel320;
    config::Config cfg = base_config();
    cfg.model = kModel320;
    cfg.pipeline.max_batch_size = 1;
    cfg.pipeline.preferred_batch_sizes = {1};
    Recorder rec;
    std::atomic<int64_t> fenced_epoch{0};
    PipelineOptions po;
    po.log = [](const std::string&) {};
    po.sinks = {rec.sink()};
    po.may_publish = [&](int64_t epoch) { return epoch != fenced_epoch.load(); };
    po.node = "edge-1";
    auto p = Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    Pipeline& pipe = **p;
    ASSERT_TRUE(pipe.start().is_ok());
    ASSERT_TRUE(pipe.add_camera(camera("c1", "synthetic://96x64@20"), 42).is_ok());
    ASSERT_TRUE(pipe.add_camera(camera("c2", "synthetic://96x64@20"), 43).is_ok());
    auto count = [&](const std::string& cam) {
        size_t n = 0;
        for (const auto& r : rec.snapshot()) n += r.camera == cam;
        return n;
    };
    ASSERT_TRUE(wait_for([&] { return count("c1") >= 3 && count("c2") >= 3; }, 30));
    for (const DetectionRecord& r : rec.snapshot()) {
        EXPECT_EQ(r.epoch, r.camera == "c1" ? 42 : 43);
        EXPECT_EQ(r.node, "edge-1");
    }
    const auto j = nlohmann::json::parse(detection_record_json(rec.snapshot().front()));
    EXPECT_TRUE(j["epoch"] == 42 || j["epoch"] == 43) << j.dump();
    EXPECT_EQ(j["node"], "edge-1");

    // Past the deadline of c1's tenure: processed, counted, not published; c2 goes on.
    fenced_epoch = 42;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a frame already past the check may still land
    const size_t c1_before = count("c1"), c2_before = count("c2");
    const int64_t fenced0 = pipe.snapshot().frames_fenced;
    ASSERT_TRUE(wait_for([&] { return pipe.snapshot().frames_fenced >= fenced0 + 5 && count("c2") >= c2_before + 5; },
                         30));
    EXPECT_EQ(count("c1"), c1_before) << "a record of epoch 42 was published while may_publish(42) was false";
    fenced_epoch = 0;
    ASSERT_TRUE(wait_for([&] { return count("c1") >= c1_before + 3; }, 30));
    pipe.stop(false);

    // A stand-alone camera's record carries neither field.
    DetectionRecord plain;
    plain.camera = "x";
    const auto pj = nlohmann::json::parse(detection_record_json(plain));
    EXPECT_FALSE(pj.contains("epoch"));
    EXPECT_FALSE(pj.contains("node"));
}
