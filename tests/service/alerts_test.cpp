#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/alerts.h"

namespace itscam::service {
namespace {

using namespace std::chrono_literals;

// Samples carry their own time: the test moves it by hand.
struct Clock {
    SystemTime t = SystemTime(std::chrono::hours(24 * 365 * 50));
    MetricsSample at(std::chrono::seconds dt = 0s) {
        t += dt;
        MetricsSample s;
        s.timestamp = t;
        return s;
    }
};

MetricsSample p99(Clock& c, std::chrono::seconds dt, double v) {
    MetricsSample s = c.at(dt);
    s.inference_latency_p99_ms = v;
    return s;
}

AlertRulesConfig only(const std::string& name, double for_s, double hysteresis = 0.1) {
    AlertRulesConfig cfg = AlertRulesConfig::defaults();
    for (auto& r : cfg.rules) r.enabled = r.name == name;
    cfg.find(name)->for_s = for_s;
    cfg.find(name)->hysteresis = hysteresis;
    return cfg;
}

TEST(Alerts, DefaultRulesMatchSeedSettings) {
    const AlertRulesConfig cfg = AlertRulesConfig::defaults();
    ASSERT_EQ(cfg.rules.size(), 10u);
    auto check = [&](const char* name, AlertSeverity sev, AlertComparison cmp, double thr) {
        const AlertRule* r = cfg.find(name);
        ASSERT_NE(r, nullptr) << name;
        EXPECT_EQ(r->severity, sev) << name;
        EXPECT_EQ(r->comparison, cmp) << name;
        EXPECT_DOUBLE_EQ(r->threshold, thr) << name;
    };
    using S = AlertSeverity;
    using C = AlertComparison;
    check("inference_latency_p99_high", S::kCritical, C::kGreater, 100);
    check("gpu_utilization_low", S::kCritical, C::kLess, 0.70);
    check("memory_pool_efficiency_low", S::kCritical, C::kLess, 0.60);
    check("circuit_breaker_open", S::kCritical, C::kGreater, 0.5);
    check("error_rate_high", S::kCritical, C::kGreater, 0.01);
    check("inference_latency_p95_high", S::kWarning, C::kGreater, 80);
    check("memory_allocation_time_high", S::kWarning, C::kGreater, 10);
    check("gpu_memory_pressure_high", S::kWarning, C::kGreater, 0.90);
    check("streaming_bandwidth_high", S::kWarning, C::kGreater, 1.10);
    check("inference_latency_regression", S::kWarning, C::kGreater, 90);  // 75 x 1.2
    EXPECT_TRUE(cfg.find("gpu_utilization_low")->requires_work_queued);
    EXPECT_TRUE(validate_alert_rules(cfg).is_ok());
}

TEST(Alerts, PendingThenFiringAfterForThenResolvedWithHysteresis) {
    Clock c;
    AlertEngine eng(only("inference_latency_p99_high", 30));
    auto t = eng.evaluate(p99(c, 0s, 50));
    EXPECT_TRUE(t.empty());
    t = eng.evaluate(p99(c, 10s, 134.2));
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].from, AlertState::kInactive);
    EXPECT_EQ(t[0].to, AlertState::kPending);
    const SystemTime pending_at = c.t;
    ASSERT_EQ(eng.active().size(), 1u);
    EXPECT_EQ(eng.active()[0].state, AlertState::kPending);
    EXPECT_TRUE(eng.evaluate(p99(c, 20s, 120)).empty());  // held 20 s < 30 s
    t = eng.evaluate(p99(c, 10s, 134.2));                 // held 30 s
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].to, AlertState::kFiring);
    EXPECT_EQ(t[0].alert.pending_since, pending_at);
    EXPECT_EQ(t[0].alert.fired_at, c.t);
    EXPECT_DOUBLE_EQ(t[0].alert.value, 134.2);
    EXPECT_EQ(t[0].alert.message, "inference latency p99 134.2 ms > 100 ms");
    EXPECT_EQ(t[0].alert.severity, AlertSeverity::kCritical);
    EXPECT_EQ(eng.times_fired("inference_latency_p99_high"), 1);
    // Below the threshold but inside the 10% hysteresis band: still firing.
    EXPECT_TRUE(eng.evaluate(p99(c, 10s, 95)).empty());
    EXPECT_TRUE(eng.evaluate(p99(c, 10s, 90.5)).empty());
    ASSERT_EQ(eng.active().size(), 1u);
    EXPECT_EQ(eng.active()[0].state, AlertState::kFiring);
    t = eng.evaluate(p99(c, 10s, 89));
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].from, AlertState::kFiring);
    EXPECT_EQ(t[0].to, AlertState::kResolved);
    EXPECT_EQ(t[0].alert.resolved_at, c.t);
    EXPECT_TRUE(eng.active().empty());
    EXPECT_EQ(eng.history(100).size(), 3u);
    EXPECT_EQ(eng.history(1).back().to, AlertState::kResolved);
    // A new episode can start again.
    t = eng.evaluate(p99(c, 10s, 150));
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].from, AlertState::kInactive);
    EXPECT_EQ(t[0].to, AlertState::kPending);
    EXPECT_FALSE(t[0].alert.fired_at.has_value());
}

TEST(Alerts, PendingThatClearsNeverFires) {
    Clock c;
    AlertEngine eng(only("inference_latency_p99_high", 30));
    ASSERT_EQ(eng.evaluate(p99(c, 0s, 150)).size(), 1u);
    auto t = eng.evaluate(p99(c, 20s, 99));  // not above threshold any more
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].from, AlertState::kPending);
    EXPECT_EQ(t[0].to, AlertState::kInactive);
    EXPECT_TRUE(eng.evaluate(p99(c, 60s, 99)).empty());
    EXPECT_EQ(eng.times_fired("inference_latency_p99_high"), 0);
    EXPECT_TRUE(eng.active().empty());
}

TEST(Alerts, ZeroForFiresAtOnceAndAbsentMetricKeepsState) {
    Clock c;
    AlertEngine eng(only("circuit_breaker_open", 0));
    MetricsSample s = c.at();
    s.circuit_open = true;
    auto t = eng.evaluate(s);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].to, AlertState::kPending);
    EXPECT_EQ(t[1].to, AlertState::kFiring);
    EXPECT_EQ(t[1].alert.message, "circuit breaker is open");
    EXPECT_TRUE(eng.evaluate(c.at(10s)).empty());  // no circuit field: not evaluated
    ASSERT_EQ(eng.active().size(), 1u);
    s = c.at(10s);
    s.circuit_open = false;
    t = eng.evaluate(s);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].to, AlertState::kResolved);
}

TEST(Alerts, GpuUtilizationOnlyWhileWorkQueued) {
    Clock c;
    AlertEngine eng(only("gpu_utilization_low", 0));
    MetricsSample s = c.at();
    s.gpu_utilization = 0.2;
    s.work_queued = 0;
    EXPECT_TRUE(eng.evaluate(s).empty());  // idle and nothing queued: fine
    s = c.at(1s);
    s.gpu_utilization = 0.2;  // work_queued unknown: not evaluated
    EXPECT_TRUE(eng.evaluate(s).empty());
    s = c.at(1s);
    s.gpu_utilization = 0.55;
    s.work_queued = 12;
    auto t = eng.evaluate(s);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[1].to, AlertState::kFiring);
    EXPECT_EQ(t[1].alert.message, "gpu utilization 55.0% < 70% while work is queued");
    // 0.75 is above 0.70 but inside the band (0.70 + 7% = 0.77): still firing.
    s = c.at(1s);
    s.gpu_utilization = 0.75;
    s.work_queued = 3;
    EXPECT_TRUE(eng.evaluate(s).empty());
    s = c.at(1s);
    s.gpu_utilization = 0.80;
    s.work_queued = 3;
    t = eng.evaluate(s);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].to, AlertState::kResolved);
}

TEST(Alerts, EveryDefaultRuleFires) {
    Clock c;
    AlertRulesConfig cfg = AlertRulesConfig::defaults();
    for (auto& r : cfg.rules) r.for_s = 0;
    AlertEngine eng(cfg);
    MetricsSample s = c.at();
    s.inference_latency_p99_ms = 130;
    s.inference_latency_p95_ms = 85;
    s.gpu_utilization = 0.5;
    s.work_queued = 4;
    s.memory_pool_efficiency = 0.4;
    s.circuit_open = true;
    s.error_rate = 0.05;
    s.memory_allocation_p99_ms = 12;
    s.gpu_memory_pressure = 0.95;
    s.streaming_bandwidth_ratio = 1.2;
    eng.evaluate(s);
    EXPECT_EQ(eng.active().size(), 10u);
    for (const auto& st : eng.stats()) EXPECT_EQ(st.times_fired, 1) << st.rule;
    // Healthy values resolve everything.
    s = c.at(10s);
    s.inference_latency_p99_ms = 40;
    s.inference_latency_p95_ms = 30;
    s.gpu_utilization = 0.95;
    s.work_queued = 4;
    s.memory_pool_efficiency = 0.95;
    s.circuit_open = false;
    s.error_rate = 0;
    s.memory_allocation_p99_ms = 1;
    s.gpu_memory_pressure = 0.5;
    s.streaming_bandwidth_ratio = 0.8;
    EXPECT_EQ(eng.evaluate(s).size(), 10u);
    EXPECT_TRUE(eng.active().empty());
}

TEST(Alerts, RegressionUsesRecordedBaseline) {
    Clock c;
    AlertEngine eng(only("inference_latency_regression", 0));
    EXPECT_TRUE(eng.evaluate(p99(c, 0s, 85)).empty());  // 85 <= 75 x 1.2
    ASSERT_TRUE(eng.set_baseline(60).is_ok());         // threshold 72
    EXPECT_DOUBLE_EQ(eng.baseline_p99_ms(), 60);
    auto t = eng.evaluate(p99(c, 10s, 85));
    ASSERT_EQ(t.size(), 2u);
    EXPECT_DOUBLE_EQ(t[1].alert.threshold, 72);
    EXPECT_EQ(t[1].alert.severity, AlertSeverity::kWarning);
    EXPECT_NE(t[1].alert.message.find("baseline 60 ms x 1.2"), std::string::npos) << t[1].alert.message;
    EXPECT_FALSE(eng.set_baseline(-1).is_ok());
}

TEST(Alerts, CallbacksAndJson) {
    Clock c;
    AlertEngine eng(only("error_rate_high", 0));
    std::vector<AlertTransition> seen;
    eng.on_transition([&](const AlertTransition& t) { seen.push_back(t); });
    MetricsSample s = c.at();
    s.error_rate = 0.02;
    eng.evaluate(s);
    ASSERT_EQ(seen.size(), 2u);
    const nlohmann::json j = alert_transition_to_json(seen[1]);
    EXPECT_EQ(j["rule"], "error_rate_high");
    EXPECT_EQ(j["state"], "firing");
    EXPECT_EQ(j["previous_state"], "pending");
    EXPECT_EQ(j["severity"], "critical");
    EXPECT_EQ(j["message"], "error rate 2.0% > 1%");
    EXPECT_TRUE(j["fired_at"].is_string());
    EXPECT_TRUE(j["resolved_at"].is_null());
}

TEST(Alerts, ConfigFromJson) {
    const auto j = nlohmann::json::parse(R"({
        "baseline_p99_ms": 60, "regression_factor": 1.5, "hysteresis": 0.05,
        "rules": {
            "inference_latency_p99_high": {"threshold": 120, "for": "1m", "severity": "warning"},
            "gpu_utilization_low": {"threshold": 0.5, "for_s": 10, "hysteresis": 0.2},
            "streaming_bandwidth_high": false,
            "error_rate_high": {"enabled": false, "for": "500ms"}
        }})");
    auto cfg = alert_rules_from_json(j);
    ASSERT_TRUE(cfg.is_ok()) << cfg.status().to_string();
    const AlertRule* p99r = cfg->find("inference_latency_p99_high");
    EXPECT_DOUBLE_EQ(p99r->threshold, 120);
    EXPECT_DOUBLE_EQ(p99r->for_s, 60);
    EXPECT_DOUBLE_EQ(p99r->hysteresis, 0.05);
    EXPECT_EQ(p99r->severity, AlertSeverity::kWarning);
    EXPECT_DOUBLE_EQ(cfg->find("gpu_utilization_low")->hysteresis, 0.2);
    EXPECT_DOUBLE_EQ(cfg->find("gpu_utilization_low")->for_s, 10);
    EXPECT_FALSE(cfg->find("streaming_bandwidth_high")->enabled);
    EXPECT_FALSE(cfg->find("error_rate_high")->enabled);
    EXPECT_DOUBLE_EQ(cfg->find("error_rate_high")->for_s, 0.5);
    EXPECT_DOUBLE_EQ(cfg->find("inference_latency_regression")->threshold, 90);  // 60 x 1.5
    EXPECT_TRUE(alert_rules_from_json(nlohmann::json()).is_ok());

    auto err = [](const char* text) {
        auto r = alert_rules_from_json(nlohmann::json::parse(text));
        EXPECT_FALSE(r.is_ok()) << text;
        return r.is_ok() ? std::string() : r.status().message();
    };
    EXPECT_NE(err(R"({"rules": {"latency_too_high": {"threshold": 1}}})").find("unknown rule 'latency_too_high'"),
              std::string::npos);
    EXPECT_NE(err(R"({"rules": {"gpu_utilization_low": {"threshold": 70}}})").find("fraction"), std::string::npos);
    EXPECT_NE(err(R"({"rules": {"error_rate_high": {"threshold": "high"}}})").find("expected a number"),
              std::string::npos);
    EXPECT_NE(err(R"({"rules": {"error_rate_high": {"for": "-5s"}}})").find(">= 0"), std::string::npos);
    EXPECT_NE(err(R"({"rules": {"error_rate_high": {"for": "5 parsecs"}}})").find("duration"), std::string::npos);
    EXPECT_NE(err(R"({"rules": {"error_rate_high": {"thresold": 0.1}}})").find("unknown key"), std::string::npos);
    EXPECT_NE(err(R"({"rules": {"error_rate_high": {"severity": "fatal"}}})").find("severity"), std::string::npos);
    EXPECT_NE(err(R"({"rules": {"inference_latency_regression": {"threshold": 80}}})").find("baseline_p99_ms"),
              std::string::npos);
    EXPECT_NE(err(R"({"baseline_p99_ms": 0})").find("baseline"), std::string::npos);
    EXPECT_NE(err(R"({"hysteresis": 1.5})").find("hysteresis"), std::string::npos);
    EXPECT_NE(err(R"({"bogus": 1})").find("unknown key 'bogus'"), std::string::npos);
    EXPECT_NE(err(R"([1, 2])").find("mapping"), std::string::npos);
}

TEST(Alerts, ThreadSafeEvaluate) {
    AlertRulesConfig cfg = AlertRulesConfig::defaults();
    for (auto& r : cfg.rules) r.for_s = 0;
    AlertEngine eng(cfg);
    std::atomic<int> transitions{0};
    eng.on_transition([&](const AlertTransition&) { ++transitions; });
    std::vector<std::thread> ts;
    for (int k = 0; k < 4; ++k) {
        ts.emplace_back([&, k] {
            for (int i = 0; i < 500; ++i) {
                MetricsSample s;
                s.inference_latency_p99_ms = (i + k) % 2 ? 150.0 : 20.0;
                s.error_rate = (i % 3 == 0) ? 0.5 : 0.0;
                eng.evaluate(s);
                (void)eng.active();
                (void)eng.history(10);
            }
        });
    }
    for (auto& t : ts) t.join();
    EXPECT_GT(transitions.load(), 0);
    EXPECT_LE(eng.history(5000).size(), 1024u);
}

}  // namespace
}  // namespace itscam::service
