// AlertEngine: the in-process alert rule engine (SEED_SETTINGS.md "Alert rules" and "Regression detection").
//
// Each evaluate() takes one MetricsSample; every enabled rule whose metric is present in the sample is checked.
// Per rule: inactive -> pending (condition true) -> firing (condition held for `for_s`, measured with the sample
// timestamps, so tests drive time through the samples) -> resolved (the value crossed back past the threshold by
// the hysteresis margin; the rule is inactive again and a new episode can start). A pending rule whose condition
// clears before `for_s` goes back to inactive without firing. A rule whose metric is absent from a sample keeps
// its state (it is "not evaluated"). Thread-safe; callbacks run outside the lock.
//
// Default rules (names are stable ids operators can key on):
//   critical  inference_latency_p99_high    p99 > 100 ms                      for 30 s
//   critical  gpu_utilization_low           util < 0.70 while work_queued > 0 for 60 s
//   critical  memory_pool_efficiency_low    pool hit rate < 0.60              for 60 s
//   critical  circuit_breaker_open          circuit open                      for 0 s (fires on the first sample)
//   critical  error_rate_high               error rate > 0.01                 for 30 s
//   warning   inference_latency_p95_high    p95 > 80 ms                       for 60 s
//   warning   memory_allocation_time_high   allocation p99 > 10 ms            for 60 s
//   warning   gpu_memory_pressure_high      pressure > 0.90                   for 60 s
//   warning   streaming_bandwidth_high      bandwidth ratio > 1.10 of baseline for 300 s
// (service::Server feeds these two from NVML and the stream hub's egress: samples.h.)
//   warning   inference_latency_regression  p99 > baseline_p99 (75 ms) x 1.2  for 300 s
// The regression rule is a warning: a regression against the recorded baseline is a trend to investigate, while
// the absolute 100 ms P99 limit is the critical page. Hysteresis defaults to 10% of the threshold for every rule.
// Fractions (utilization, efficiency, error rate, pressure) are 0..1, never percent.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace itscam::service {

using SystemTime = std::chrono::system_clock::time_point;

enum class AlertSeverity { kWarning, kCritical };
const char* alert_severity_name(AlertSeverity s);  // "warning" | "critical"
Result<AlertSeverity> parse_alert_severity(const std::string& s);

enum class AlertState { kInactive, kPending, kFiring, kResolved };
const char* alert_state_name(AlertState s);  // "inactive" | "pending" | "firing" | "resolved"
Result<AlertState> parse_alert_state(const std::string& s);

enum class AlertComparison { kGreater, kLess };  // condition: value > threshold | value < threshold

// One evaluation's input. Absent fields: the rules on them are not evaluated (their state is kept).
struct MetricsSample {
    SystemTime timestamp = std::chrono::system_clock::now();
    std::optional<double> inference_latency_p99_ms;
    std::optional<double> inference_latency_p95_ms;
    std::optional<double> gpu_utilization;         // 0..1
    std::optional<double> work_queued;             // pending frames; > 0 means work is queued
    std::optional<double> memory_pool_efficiency;  // 0..1 (pool hit rate)
    std::optional<bool> circuit_open;
    std::optional<double> error_rate;                // 0..1
    std::optional<double> memory_allocation_p99_ms;  // allocation time
    std::optional<double> gpu_memory_pressure;        // 0..1: used / total memory of the fullest configured GPU
    std::optional<double> streaming_bandwidth_ratio;  // bytes/s each video viewer received / streaming.bitrate_kbps
};

// Metric a rule watches (the MetricsSample field of the same name).
enum class AlertMetric {
    kInferenceLatencyP99Ms,
    kInferenceLatencyP95Ms,
    kGpuUtilization,
    kMemoryPoolEfficiency,
    kCircuitOpen,
    kErrorRate,
    kMemoryAllocationP99Ms,
    kGpuMemoryPressure,
    kStreamingBandwidthRatio,
};
const char* alert_metric_name(AlertMetric m);  // the MetricsSample field name

struct AlertRule {
    std::string name;  // stable snake_case id
    AlertMetric metric = AlertMetric::kInferenceLatencyP99Ms;
    AlertSeverity severity = AlertSeverity::kWarning;
    AlertComparison comparison = AlertComparison::kGreater;
    double threshold = 0;
    double for_s = 0;         // how long the condition must hold before firing (0: at once)
    double hysteresis = 0.1;  // fraction of |threshold|: a firing alert resolves only past threshold -/+ margin
    bool enabled = true;
    bool requires_work_queued = false;  // only evaluated as true while MetricsSample::work_queued > 0
    bool is_regression = false;         // threshold = baseline_p99_ms * regression_factor (kept in sync)
};

struct AlertRulesConfig {
    double baseline_p99_ms = 75.0;   // regression baseline (default, or a recorded one)
    double regression_factor = 1.2;  // alert when p99 > baseline * factor
    std::vector<AlertRule> rules;    // default_alert_rules() unless changed

    static AlertRulesConfig defaults();
    AlertRule* find(const std::string& name);
    const AlertRule* find(const std::string& name) const;
};

std::vector<AlertRule> default_alert_rules(double baseline_p99_ms = 75.0, double regression_factor = 1.2);

// Fills an AlertRulesConfig from the `alerts:` section (as JSON), starting from the defaults:
//   { "baseline_p99_ms": 75, "regression_factor": 1.2, "hysteresis": 0.1,        (hysteresis: all rules)
//     "rules": { "inference_latency_p99_high": { "threshold": 100, "for": "30s", "hysteresis": 0.1,
//                                                "severity": "critical", "enabled": true }, ... } }
// `for` (or `for_s`) is seconds as a number or a string "500ms" | "30s" | "5m" | "1h". Unknown keys, unknown rule
// names, wrong types, negative durations, fractions outside 0..1 are errors naming the offending key.
Result<AlertRulesConfig> alert_rules_from_json(const nlohmann::json& j);
Status validate_alert_rules(const AlertRulesConfig& cfg);

// The state of one rule (the current episode, or the last one once resolved).
struct Alert {
    std::string rule;
    AlertSeverity severity = AlertSeverity::kWarning;
    AlertState state = AlertState::kInactive;
    double value = 0;      // the value at the last evaluation of this rule
    double threshold = 0;
    std::optional<SystemTime> pending_since, fired_at, resolved_at;
    std::string message;   // "inference latency p99 134.2 ms > 100 ms"
};

struct AlertTransition {
    AlertState from = AlertState::kInactive, to = AlertState::kInactive;
    SystemTime at{};
    Alert alert;  // snapshot after the transition (alert.state == to)
};

struct AlertRuleStats {
    std::string rule;
    AlertSeverity severity = AlertSeverity::kWarning;
    AlertState state = AlertState::kInactive;
    int64_t times_pending = 0, times_fired = 0, times_resolved = 0;
};

class AlertEngine {
public:
    using TransitionCallback = std::function<void(const AlertTransition&)>;

    explicit AlertEngine(AlertRulesConfig cfg = AlertRulesConfig::defaults());

    // Replaces the rules (validated); rule states are reset, counters kept for rules that stay.
    Status set_config(AlertRulesConfig cfg);
    AlertRulesConfig config() const;
    // Records a new regression baseline (ms); the regression rule's threshold becomes baseline * factor.
    Status set_baseline(double p99_ms);
    double baseline_p99_ms() const;

    // Evaluates every rule on `s`; returns the transitions this call caused (in rule order; a rule with for_s 0
    // yields inactive->pending and pending->firing in the same call). Callbacks run before it returns.
    std::vector<AlertTransition> evaluate(const MetricsSample& s);

    std::vector<Alert> active() const;                      // pending + firing
    std::vector<AlertTransition> history(size_t n) const;   // the last n transitions, oldest first (1024 kept)
    std::vector<AlertRuleStats> stats() const;
    int64_t times_fired(const std::string& rule) const;
    void on_transition(TransitionCallback cb);  // adds to the callbacks already set

private:
    struct RuleState {
        Alert alert;
        int64_t times_pending = 0, times_fired = 0, times_resolved = 0;
    };
    void transition_locked(RuleState& rs, AlertState to, SystemTime at, std::vector<AlertTransition>& out);

    mutable std::mutex mu_;
    AlertRulesConfig cfg_;
    std::vector<RuleState> states_;  // parallel to cfg_.rules
    static constexpr size_t kMaxHistory = 1024;
    std::vector<AlertTransition> ring_;
    size_t ring_pos_ = 0;
    std::vector<std::shared_ptr<TransitionCallback>> callbacks_;
};

// JSON for a transition (the webhook payload body and API output):
// {"rule","severity","state","previous_state","at","value","threshold","message","pending_since","fired_at",
//  "resolved_at"} with times as RFC 3339 UTC strings.
nlohmann::json alert_transition_to_json(const AlertTransition& t);

}  // namespace itscam::service
