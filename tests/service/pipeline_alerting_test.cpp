// Alert rules driven end to end through the service::Server that `itscam run` uses (its own timer thread, rules
// from the config's `alerts:` section, transitions into the history) over a real pipeline (real model, synthetic
// cameras) with injected faults: latency (extra time per inference), a failing device (circuit opens, CPU fallback
// serves) and failing batches with no fallback (error rate). Each rule goes pending -> firing -> resolved.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "service/server.h"

using namespace itscam;
using namespace itscam::service;
namespace fs = std::filesystem;

namespace {

const std::string kShared = ITSCAM_SHARED_DIR;
const std::string kAlertingModel = kShared + "/models/yolo11n.onnx";
const std::string kModel320 = kShared + "/models/yolo11n_int8_320.onnx";

// Every rule with `for: 0.5` (and any per-rule overrides), as the config's `alerts:` section.
std::string fast_alerts(const nlohmann::json& overrides = nlohmann::json::object()) {
    nlohmann::json rules = nlohmann::json::object();
    for (const auto& r : default_alert_rules()) rules[r.name] = {{"for", 0.5}};
    for (const auto& [name, v] : overrides.items()) rules[name].update(v);
    return nlohmann::json{{"rules", rules}}.dump();
}

config::Config base_config(const std::string& alerts) {
    config::Config c;
    c.model = kAlertingModel;
    c.threads = 2;
    c.pipeline.max_batch_size = 1;
    c.pipeline.preferred_batch_sizes = {1};
    c.pipeline.latency_window_s = 1.5;  // latency percentiles forget a spike 1.5 s after it ends
    c.settings.MEMORY_POOL_SIZE = 2;
    config::CameraConfig cam;
    cam.id = "a";
    cam.url = "synthetic://320x240@10";
    c.cameras = {cam};
    c.server.enabled = false;  // the timers, not the API, are under test here
    c.reserved_json.sections["alerts"] = alerts;
    return c;
}

// The transitions the Server's engine went through, as its timer thread evaluates them.
struct Watcher {
    std::mutex mu;
    std::vector<AlertTransition> seen;

    explicit Watcher(AlertEngine& e) {
        e.on_transition([this](const AlertTransition& t) {
            std::lock_guard<std::mutex> lk(mu);
            seen.push_back(t);
        });
    }
    std::vector<AlertState> states(const std::string& rule) {
        std::lock_guard<std::mutex> lk(mu);
        std::vector<AlertState> out;
        for (const auto& t : seen)
            if (t.alert.rule == rule) out.push_back(t.to);
        return out;
    }
    // Waits until `rule`'s latest transition is to `want`.
    bool until(const std::string& rule, AlertState want, double timeout_s) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (std::chrono::steady_clock::now() < end) {
            const auto s = states(rule);
            if (!s.empty() && s.back() == want) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }
    bool went_through(const std::string& rule, std::initializer_list<AlertState> want) {
        size_t i = 0;
        for (AlertState st : states(rule))
            if (i < want.size() && st == *(want.begin() + i)) ++i;
        return i == want.size();
    }
    // Injects a fault until `rule` fires, clears it until the rule resolves: pending -> firing -> resolved.
    ::testing::AssertionResult cycle(const std::string& rule, const std::function<void()>& inject,
                                     const std::function<void()>& clear) {
        inject();
        if (!until(rule, AlertState::kFiring, 30)) return ::testing::AssertionFailure() << rule << " did not fire";
        clear();
        if (!until(rule, AlertState::kResolved, 30)) return ::testing::AssertionFailure() << rule << " did not resolve";
        if (!went_through(rule, {AlertState::kPending, AlertState::kFiring, AlertState::kResolved}))
            return ::testing::AssertionFailure() << rule << " skipped a state";
        return ::testing::AssertionSuccess();
    }
};

// A Server over a pipeline created with its hooks and fault injection; evaluation every 100 ms; transitions
// watched from the start; the history in a folder of its own.
struct Running {
    fs::path dir;
    std::shared_ptr<pipeline::FaultController> faults = std::make_shared<pipeline::FaultController>();
    std::unique_ptr<Server> server;
    std::unique_ptr<pipeline::Pipeline> pipe;
    std::unique_ptr<Watcher> watch;

    Running(config::Config cfg, const std::string& stem)
        : dir(fs::temp_directory_path() / (stem + "_" + std::to_string(::getpid()))) {
        fs::remove_all(dir);
        cfg.history.path = (dir / "history.db").string();
        ServerOptions so;
        so.alert_interval_s = 0.1;
        so.log = [](const std::string&) {};
        auto s = Server::create(cfg, so);
        EXPECT_TRUE(s.is_ok()) << s.status().to_string();
        if (!s) return;
        server = std::move(s).value();
        watch = std::make_unique<Watcher>(server->alerts());
        pipeline::PipelineOptions po;
        po.faults = faults;
        po.log = [](const std::string&) {};
        server->attach(po);
        auto p = pipeline::Pipeline::create(cfg, po);
        EXPECT_TRUE(p.is_ok()) << p.status().to_string();
        if (!p) return;
        pipe = std::move(p).value();
        EXPECT_TRUE(server->start(*pipe).is_ok());
        EXPECT_TRUE(pipe->start().is_ok());
    }
    ~Running() {
        if (server) server->stop();
        if (pipe) pipe->stop(false);
        if (server && pipe) server->finish(pipe->snapshot());
        pipe.reset();
        server.reset();
        fs::remove_all(dir);
    }
};

}  // namespace

TEST(PipelineAlerting, LatencyAndCircuitRulesFireAndResolveOnInjectedFaults) {
    if (!fs::exists(kAlertingModel) || !fs::exists(kModel320)) GTEST_SKIP() << "models not found";
    // 300 ms: above this machine's normal CPU latency.
    config::Config cfg = base_config(fast_alerts({{"inference_latency_p99_high", {{"threshold", 300}}}}));
    cfg.settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD = 2;
    cfg.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 0.5;
    cfg.settings.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS = 1;
    cfg.fallback.enabled = true;
    cfg.fallback.model = kModel320;
    Running run(cfg, "itscam_alerting");
    ASSERT_TRUE(run.server && run.pipe);
    pipeline::FaultController& faults = *run.faults;

    // Latency: +400 ms per inference.
    pipeline::FaultSpec slow;
    slow.extra_latency_ms = 400;
    EXPECT_TRUE(run.watch->cycle(
        "inference_latency_p99_high", [&] { faults.set(slow); }, [&] { faults.set({}); }));
    EXPECT_EQ(run.server->alerts().times_fired("inference_latency_p99_high"), 1);

    // The device fails: the circuit opens (the fallback serves), then it heals and closes.
    EXPECT_TRUE(run.watch->cycle(
        "circuit_breaker_open", [&] { faults.fail_next(-1, StatusCode::kDevice); }, [&] { faults.heal(); }));

    // The Server stored every transition, and the circuit's own, in the history.
    const auto from = std::chrono::system_clock::now() - std::chrono::hours(1);
    const auto to = std::chrono::system_clock::now() + std::chrono::hours(1);
    auto rows = run.server->history()->alerts(from, to);
    ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
    int fired = 0;
    for (const auto& r : *rows) fired += r.to_state == "firing";
    EXPECT_GE(fired, 2);
    auto circuit = run.server->history()->circuit_transitions(from, to);
    ASSERT_TRUE(circuit.is_ok());
    EXPECT_FALSE(circuit->empty()) << "attach() routes circuit transitions to the history";
}

TEST(PipelineAlerting, ErrorRateRuleFiresWhenBatchesFailWithoutFallback) {
    if (!fs::exists(kAlertingModel)) GTEST_SKIP() << "model not found";
    config::Config cfg = base_config(fast_alerts());
    cfg.settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD = 1000;  // keep the circuit closed: every batch fails
    cfg.fallback.enabled = false;
    Running run(cfg, "itscam_alerting_errors");
    ASSERT_TRUE(run.server && run.pipe);
    pipeline::FaultSpec flaky;
    flaky.transient_rate = 0.5;
    EXPECT_TRUE(run.watch->cycle(
        "error_rate_high", [&] { run.faults->set(flaky); }, [&] { run.faults->heal(); }));
    EXPECT_GT(run.pipe->snapshot().frames_failed, 0);
}
