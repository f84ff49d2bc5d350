// Alert rules driven end to end through a real pipeline (real model, synthetic cameras) with injected faults:
// latency (extra time per inference), a failing device (circuit opens, CPU fallback serves) and failing batches
// with no fallback (error rate). Each rule goes pending -> firing -> resolved.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "pipeline/pipeline.h"
#include "service/alerts.h"
#include "service/pipeline_metrics.h"

using namespace itscam;
using namespace itscam::service;

namespace {

const std::string kShared = ITSCAM_SHARED_DIR;
const std::string kModel = kShared + "/models/yolo11n.onnx";
const std::string kModel320 = kShared + "/models/yolo11n_int8_320.onnx";

config::Config base_config() {
    config::Config c;
    c.model = kModel;
    c.threads = 2;
    c.pipeline.max_batch_size = 1;
    c.pipeline.preferred_batch_sizes = {1};
    c.pipeline.latency_window_s = 1.5;  // latency percentiles forget a spike 1.5 s after it ends
    c.settings.MEMORY_POOL_SIZE = 2;
    config::CameraConfig cam;
    cam.id = "a";
    cam.url = "synthetic://320x240@10";
    c.cameras = {cam};
    return c;
}

// Evaluates every 100 ms until `rule` reaches `want` (or the timeout); records every state the rule went through.
struct Driver {
    pipeline::Pipeline& pipe;
    AlertEngine& engine;
    std::optional<pipeline::PipelineSnapshot> prev;
    std::vector<AlertState> seen;

    bool until(const std::string& rule, AlertState want, double timeout_s) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (std::chrono::steady_clock::now() < end) {
            const auto s = pipe.snapshot();
            for (const auto& t : engine.evaluate(metrics_sample_from(s, prev ? &*prev : nullptr, std::nullopt)))
                if (t.alert.rule == rule) seen.push_back(t.to);
            prev = s;
            if (!seen.empty() && seen.back() == want) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }
    bool went_through(std::initializer_list<AlertState> states) const {
        size_t i = 0;
        for (AlertState st : seen)
            if (i < states.size() && st == *(states.begin() + i)) ++i;
        return i == states.size();
    }
};

AlertRulesConfig fast_rules() {
    AlertRulesConfig c = AlertRulesConfig::defaults();
    for (auto& r : c.rules) r.for_s = 0.5;
    return c;
}

}  // namespace

TEST(PipelineAlerting, LatencyAndCircuitRulesFireAndResolveOnInjectedFaults) {
    if (!std::filesystem::exists(kModel) || !std::filesystem::exists(kModel320)) GTEST_SKIP() << "models not found";
    config::Config cfg = base_config();
    cfg.settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD = 2;
    cfg.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 0.5;
    cfg.settings.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS = 1;
    cfg.fallback.enabled = true;
    cfg.fallback.model = kModel320;
    pipeline::PipelineOptions po;
    po.faults = std::make_shared<pipeline::FaultController>();
    po.log = [](const std::string&) {};
    auto p = pipeline::Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    ASSERT_TRUE((*p)->start().is_ok());

    AlertRulesConfig rules = fast_rules();
    rules.find("inference_latency_p99_high")->threshold = 300;  // above this machine's normal CPU latency
    AlertEngine engine(rules);

    // Latency: +400 ms per inference.
    Driver d{**p, engine, {}, {}};
    pipeline::FaultSpec slow;
    slow.extra_latency_ms = 400;
    po.faults->set(slow);
    ASSERT_TRUE(d.until("inference_latency_p99_high", AlertState::kFiring, 30));
    po.faults->set({});
    ASSERT_TRUE(d.until("inference_latency_p99_high", AlertState::kResolved, 30));
    EXPECT_TRUE(d.went_through({AlertState::kPending, AlertState::kFiring, AlertState::kResolved}));
    EXPECT_EQ(engine.times_fired("inference_latency_p99_high"), 1);

    // The device fails: the circuit opens (the fallback serves), then it heals and closes.
    Driver c{**p, engine, {}, {}};
    po.faults->fail_next(-1, StatusCode::kDevice);
    ASSERT_TRUE(c.until("circuit_breaker_open", AlertState::kFiring, 30));
    po.faults->heal();
    ASSERT_TRUE(c.until("circuit_breaker_open", AlertState::kResolved, 30));
    EXPECT_TRUE(c.went_through({AlertState::kPending, AlertState::kFiring, AlertState::kResolved}));
    (*p)->stop(false);
}

TEST(PipelineAlerting, ErrorRateRuleFiresWhenBatchesFailWithoutFallback) {
    if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config();
    cfg.settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD = 1000;  // keep the circuit closed: every batch fails
    cfg.fallback.enabled = false;
    pipeline::PipelineOptions po;
    po.faults = std::make_shared<pipeline::FaultController>();
    po.log = [](const std::string&) {};
    auto p = pipeline::Pipeline::create(cfg, po);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    ASSERT_TRUE((*p)->start().is_ok());
    AlertEngine engine(fast_rules());
    Driver d{**p, engine, {}, {}};
    pipeline::FaultSpec flaky;
    flaky.transient_rate = 0.5;
    po.faults->set(flaky);
    ASSERT_TRUE(d.until("error_rate_high", AlertState::kFiring, 30));
    po.faults->heal();
    ASSERT_TRUE(d.until("error_rate_high", AlertState::kResolved, 30));
    EXPECT_TRUE(d.went_through({AlertState::kPending, AlertState::kFiring, AlertState::kResolved}));
    const auto s = (*p)->snapshot();
    EXPECT_GT(s.frames_failed, 0);
    (*p)->stop(false);
}
