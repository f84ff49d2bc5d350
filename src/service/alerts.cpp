#include "service/alerts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "core/time_format.h"

namespace itscam::service {

const char* alert_severity_name(AlertSeverity s) {
    switch (s) {
        case AlertSeverity::kWarning: return "warning";
        case AlertSeverity::kCritical: return "critical";
    }
    return "?";
}

Result<AlertSeverity> parse_alert_severity(const std::string& s) {
    if (s == "warning") return AlertSeverity::kWarning;
    if (s == "critical") return AlertSeverity::kCritical;
    return invalid_argument("unknown alert severity '" + s + "' (expected warning | critical)");
}

const char* alert_state_name(AlertState s) {
    switch (s) {
        case AlertState::kInactive: return "inactive";
        case AlertState::kPending: return "pending";
        case AlertState::kFiring: return "firing";
        case AlertState::kResolved: return "resolved";
    }
    return "?";
}

Result<AlertState> parse_alert_state(const std::string& s) {
    for (AlertState st : {AlertState::kInactive, AlertState::kPending, AlertState::kFiring, AlertState::kResolved})
        if (s == alert_state_name(st)) return st;
    return invalid_argument("unknown alert state '" + s + "'");
}

const char* alert_metric_name(AlertMetric m) {
    switch (m) {
        case AlertMetric::kInferenceLatencyP99Ms: return "inference_latency_p99_ms";
        case AlertMetric::kInferenceLatencyP95Ms: return "inference_latency_p95_ms";
        case AlertMetric::kGpuUtilization: return "gpu_utilization";
        case AlertMetric::kMemoryPoolEfficiency: return "memory_pool_efficiency";
        case AlertMetric::kCircuitOpen: return "circuit_open";
        case AlertMetric::kErrorRate: return "error_rate";
        case AlertMetric::kMemoryAllocationP99Ms: return "memory_allocation_p99_ms";
        case AlertMetric::kGpuMemoryPressure: return "gpu_memory_pressure";
        case AlertMetric::kStreamingBandwidthRatio: return "streaming_bandwidth_ratio";
    }
    return "?";
}

namespace {

// How a metric is shown in messages.
enum class Unit { kMs, kFraction, kRatio, kBool };

Unit metric_unit(AlertMetric m) {
    switch (m) {
        case AlertMetric::kInferenceLatencyP99Ms:
        case AlertMetric::kInferenceLatencyP95Ms:
        case AlertMetric::kMemoryAllocationP99Ms: return Unit::kMs;
        case AlertMetric::kGpuUtilization:
        case AlertMetric::kMemoryPoolEfficiency:
        case AlertMetric::kErrorRate:
        case AlertMetric::kGpuMemoryPressure: return Unit::kFraction;
        case AlertMetric::kStreamingBandwidthRatio: return Unit::kRatio;
        case AlertMetric::kCircuitOpen: return Unit::kBool;
    }
    return Unit::kRatio;
}

const char* metric_label(AlertMetric m) {
    switch (m) {
        case AlertMetric::kInferenceLatencyP99Ms: return "inference latency p99";
        case AlertMetric::kInferenceLatencyP95Ms: return "inference latency p95";
        case AlertMetric::kGpuUtilization: return "gpu utilization";
        case AlertMetric::kMemoryPoolEfficiency: return "memory pool efficiency";
        case AlertMetric::kCircuitOpen: return "circuit breaker";
        case AlertMetric::kErrorRate: return "error rate";
        case AlertMetric::kMemoryAllocationP99Ms: return "memory allocation time p99";
        case AlertMetric::kGpuMemoryPressure: return "gpu memory pressure";
        case AlertMetric::kStreamingBandwidthRatio: return "streaming bandwidth vs baseline";
    }
    return "?";
}

std::string fmt_value(Unit u, double v) {
    char buf[64];
    switch (u) {
        case Unit::kMs: std::snprintf(buf, sizeof buf, "%.1f ms", v); break;
        case Unit::kFraction: std::snprintf(buf, sizeof buf, "%.1f%%", v * 100.0); break;
        case Unit::kRatio: std::snprintf(buf, sizeof buf, "%.2fx", v); break;
        case Unit::kBool: return v > 0.5 ? "open" : "closed";
    }
    return buf;
}

std::string fmt_threshold(Unit u, double v) {
    char buf[64];
    switch (u) {
        case Unit::kMs: std::snprintf(buf, sizeof buf, "%g ms", v); break;
        case Unit::kFraction: std::snprintf(buf, sizeof buf, "%g%%", v * 100.0); break;
        case Unit::kRatio: std::snprintf(buf, sizeof buf, "%gx", v); break;
        case Unit::kBool: return "open";
    }
    return buf;
}

std::optional<double> metric_value(const MetricsSample& s, AlertMetric m) {
    switch (m) {
        case AlertMetric::kInferenceLatencyP99Ms: return s.inference_latency_p99_ms;
        case AlertMetric::kInferenceLatencyP95Ms: return s.inference_latency_p95_ms;
        case AlertMetric::kGpuUtilization: return s.gpu_utilization;
        case AlertMetric::kMemoryPoolEfficiency: return s.memory_pool_efficiency;
        case AlertMetric::kCircuitOpen:
            if (!s.circuit_open) return std::nullopt;
            return *s.circuit_open ? 1.0 : 0.0;
        case AlertMetric::kErrorRate: return s.error_rate;
        case AlertMetric::kMemoryAllocationP99Ms: return s.memory_allocation_p99_ms;
        case AlertMetric::kGpuMemoryPressure: return s.gpu_memory_pressure;
        case AlertMetric::kStreamingBandwidthRatio: return s.streaming_bandwidth_ratio;
    }
    return std::nullopt;
}

std::string make_message(const AlertRule& r, double v, bool cond, bool work_queued_note, double baseline,
                         double factor) {
    const Unit u = metric_unit(r.metric);
    std::string m = metric_label(r.metric);
    if (u == Unit::kBool) return m + (v > 0.5 ? " is open" : " is closed");
    m += ' ';
    m += fmt_value(u, v);
    m += r.comparison == AlertComparison::kGreater ? (cond ? " > " : " <= ") : (cond ? " < " : " >= ");
    m += fmt_threshold(u, r.threshold);
    if (r.is_regression) {
        char buf[96];
        std::snprintf(buf, sizeof buf, " (baseline %g ms x %g)", baseline, factor);
        m += buf;
    }
    if (work_queued_note) m += " while work is queued";
    return m;
}

AlertRule rule(std::string name, AlertMetric m, AlertSeverity sev, AlertComparison cmp, double thr, double for_s) {
    AlertRule r;
    r.name = std::move(name);
    r.metric = m;
    r.severity = sev;
    r.comparison = cmp;
    r.threshold = thr;
    r.for_s = for_s;
    return r;
}

bool is_fraction_metric(AlertMetric m) { return metric_unit(m) == Unit::kFraction; }

// Seconds from a JSON number or a "500ms" | "30s" | "5m" | "1h" string.
Result<double> parse_duration_s(const nlohmann::json& v, const std::string& key) {
    double s = 0;
    if (v.is_number()) {
        s = v.get<double>();
    } else if (v.is_string()) {
        const std::string str = v.get<std::string>();
        size_t pos = 0;
        double num = 0;
        try {
            num = std::stod(str, &pos);
        } catch (...) {
            return invalid_argument("alerts: '" + key + "': bad duration '" + str + "' (expected e.g. 30s, 5m)");
        }
        const std::string unit = str.substr(pos);
        if (unit == "ms") s = num / 1000.0;
        else if (unit == "s" || unit.empty()) s = num;
        else if (unit == "m") s = num * 60.0;
        else if (unit == "h") s = num * 3600.0;
        else return invalid_argument("alerts: '" + key + "': bad duration unit in '" + str + "' (ms, s, m, h)");
    } else {
        return invalid_argument("alerts: '" + key + "': expected a duration (number of seconds or \"30s\")");
    }
    if (!std::isfinite(s) || s < 0) return invalid_argument("alerts: '" + key + "': duration must be >= 0");
    return s;
}

Result<double> get_number(const nlohmann::json& v, const std::string& key) {
    if (!v.is_number()) return invalid_argument("alerts: '" + key + "': expected a number, got " + v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d)) return invalid_argument("alerts: '" + key + "': not a finite number");
    return d;
}

}  // namespace

std::vector<AlertRule> default_alert_rules(double baseline_p99_ms, double regression_factor) {
    using M = AlertMetric;
    using S = AlertSeverity;
    using C = AlertComparison;
    std::vector<AlertRule> r;
    r.push_back(rule("inference_latency_p99_high", M::kInferenceLatencyP99Ms, S::kCritical, C::kGreater, 100.0, 30));
    r.push_back(rule("gpu_utilization_low", M::kGpuUtilization, S::kCritical, C::kLess, 0.70, 60));
    r.back().requires_work_queued = true;
    r.push_back(rule("memory_pool_efficiency_low", M::kMemoryPoolEfficiency, S::kCritical, C::kLess, 0.60, 60));
    r.push_back(rule("circuit_breaker_open", M::kCircuitOpen, S::kCritical, C::kGreater, 0.5, 0));
    r.back().hysteresis = 0;
    r.push_back(rule("error_rate_high", M::kErrorRate, S::kCritical, C::kGreater, 0.01, 30));
    r.push_back(rule("inference_latency_p95_high", M::kInferenceLatencyP95Ms, S::kWarning, C::kGreater, 80.0, 60));
    r.push_back(rule("memory_allocation_time_high", M::kMemoryAllocationP99Ms, S::kWarning, C::kGreater, 10.0, 60));
    r.push_back(rule("gpu_memory_pressure_high", M::kGpuMemoryPressure, S::kWarning, C::kGreater, 0.90, 60));
    r.push_back(rule("streaming_bandwidth_high", M::kStreamingBandwidthRatio, S::kWarning, C::kGreater, 1.10, 300));
    r.push_back(rule("inference_latency_regression", M::kInferenceLatencyP99Ms, S::kWarning, C::kGreater,
                     baseline_p99_ms * regression_factor, 300));
    r.back().is_regression = true;
    return r;
}

AlertRulesConfig AlertRulesConfig::defaults() {
    AlertRulesConfig c;
    c.rules = default_alert_rules(c.baseline_p99_ms, c.regression_factor);
    return c;
}

AlertRule* AlertRulesConfig::find(const std::string& name) {
    for (auto& r : rules)
        if (r.name == name) return &r;
    return nullptr;
}

const AlertRule* AlertRulesConfig::find(const std::string& name) const {
    for (const auto& r : rules)
        if (r.name == name) return &r;
    return nullptr;
}

Status validate_alert_rules(const AlertRulesConfig& cfg) {
    if (!std::isfinite(cfg.baseline_p99_ms) || cfg.baseline_p99_ms <= 0)
        return invalid_argument("alerts: baseline_p99_ms must be > 0");
    if (!std::isfinite(cfg.regression_factor) || cfg.regression_factor <= 0)
        return invalid_argument("alerts: regression_factor must be > 0");
    std::set<std::string> names;
    for (const auto& r : cfg.rules) {
        if (r.name.empty()) return invalid_argument("alerts: a rule has an empty name");
        if (!names.insert(r.name).second) return invalid_argument("alerts: duplicate rule '" + r.name + "'");
        if (!std::isfinite(r.threshold)) return invalid_argument("alerts: " + r.name + ": threshold not finite");
        if (!std::isfinite(r.for_s) || r.for_s < 0) return invalid_argument("alerts: " + r.name + ": for must be >= 0");
        if (!std::isfinite(r.hysteresis) || r.hysteresis < 0 || r.hysteresis >= 1)
            return invalid_argument("alerts: " + r.name + ": hysteresis must be a fraction in [0, 1)");
        if (is_fraction_metric(r.metric) && (r.threshold < 0 || r.threshold > 1))
            return invalid_argument("alerts: " + r.name + ": threshold " + std::to_string(r.threshold) +
                                    " out of range: use a fraction 0..1 (70% = 0.7)");
        if (metric_unit(r.metric) == Unit::kMs && r.threshold <= 0)
            return invalid_argument("alerts: " + r.name + ": threshold must be > 0 ms");
    }
    return Status::ok();
}

Result<AlertRulesConfig> alert_rules_from_json(const nlohmann::json& j) {
    AlertRulesConfig cfg = AlertRulesConfig::defaults();
    if (j.is_null()) return cfg;
    if (!j.is_object()) return invalid_argument("alerts: expected a mapping, got " + std::string(j.type_name()));
    std::optional<double> all_hysteresis;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        if (key == "baseline_p99_ms") {
            ITSCAM_ASSIGN_OR_RETURN(cfg.baseline_p99_ms, get_number(it.value(), key));
        } else if (key == "regression_factor") {
            ITSCAM_ASSIGN_OR_RETURN(cfg.regression_factor, get_number(it.value(), key));
        } else if (key == "hysteresis") {
            ITSCAM_ASSIGN_OR_RETURN(double h, get_number(it.value(), key));
            all_hysteresis = h;
        } else if (key != "rules") {
            return invalid_argument("alerts: unknown key '" + key +
                                    "' (expected baseline_p99_ms, regression_factor, hysteresis, rules)");
        }
    }
    if (all_hysteresis)
        for (auto& r : cfg.rules) r.hysteresis = *all_hysteresis;
    if (j.contains("rules")) {
        const auto& rules = j.at("rules");
        if (!rules.is_object() && !rules.is_null())
            return invalid_argument("alerts: 'rules' must be a mapping of rule name -> settings");
        if (rules.is_object()) {
            for (auto it = rules.begin(); it != rules.end(); ++it) {
                AlertRule* r = cfg.find(it.key());
                if (!r) {
                    std::string known;
                    for (const auto& d : cfg.rules) known += (known.empty() ? "" : ", ") + d.name;
                    return invalid_argument("alerts: unknown rule '" + it.key() + "' (known: " + known + ")");
                }
                const std::string prefix = "rules." + it.key() + ".";
                if (it.value().is_boolean()) {  // `rule_name: false` disables it
                    r->enabled = it.value().get<bool>();
                    continue;
                }
                if (!it.value().is_object())
                    return invalid_argument("alerts: '" + prefix.substr(0, prefix.size() - 1) +
                                            "' must be a mapping (threshold, for, hysteresis, severity, enabled)");
                for (auto f = it.value().begin(); f != it.value().end(); ++f) {
                    const std::string k = f.key();
                    if (k == "threshold") {
                        if (r->is_regression)
                            return invalid_argument("alerts: '" + prefix + k +
                                                    "': the regression rule's threshold is baseline_p99_ms x "
                                                    "regression_factor; set those instead");
                        ITSCAM_ASSIGN_OR_RETURN(r->threshold, get_number(f.value(), prefix + k));
                    } else if (k == "for" || k == "for_s") {
                        ITSCAM_ASSIGN_OR_RETURN(r->for_s, parse_duration_s(f.value(), prefix + k));
                    } else if (k == "hysteresis") {
                        ITSCAM_ASSIGN_OR_RETURN(r->hysteresis, get_number(f.value(), prefix + k));
                    } else if (k == "severity") {
                        if (!f.value().is_string())
                            return invalid_argument("alerts: '" + prefix + k + "': expected warning | critical");
                        auto sev = parse_alert_severity(f.value().get<std::string>());
                        if (!sev) return sev.status().with_context("alerts: '" + prefix + k + "'");
                        r->severity = *sev;
                    } else if (k == "enabled") {
                        if (!f.value().is_boolean())
                            return invalid_argument("alerts: '" + prefix + k + "': expected true | false");
                        r->enabled = f.value().get<bool>();
                    } else {
                        return invalid_argument("alerts: unknown key '" + prefix + k +
                                                "' (expected threshold, for, hysteresis, severity, enabled)");
                    }
                }
            }
        }
    }
    for (auto& r : cfg.rules)
        if (r.is_regression) r.threshold = cfg.baseline_p99_ms * cfg.regression_factor;
    ITSCAM_RETURN_IF_ERROR(validate_alert_rules(cfg));
    return cfg;
}

// ---------------------------------------------------------------------------------------------------------------

AlertEngine::AlertEngine(AlertRulesConfig cfg) {
    Status st = set_config(std::move(cfg));
    if (!st.is_ok()) {
        // An invalid config falls back to the defaults (constructors cannot return a Status).
        (void)set_config(AlertRulesConfig::defaults());
    }
    ring_.reserve(kMaxHistory);
}

Status AlertEngine::set_config(AlertRulesConfig cfg) {
    for (auto& r : cfg.rules)
        if (r.is_regression) r.threshold = cfg.baseline_p99_ms * cfg.regression_factor;
    ITSCAM_RETURN_IF_ERROR(validate_alert_rules(cfg));
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<RuleState> fresh(cfg.rules.size());
    for (size_t i = 0; i < cfg.rules.size(); ++i) {
        RuleState& rs = fresh[i];
        rs.alert.rule = cfg.rules[i].name;
        rs.alert.severity = cfg.rules[i].severity;
        rs.alert.threshold = cfg.rules[i].threshold;
        for (const auto& old : states_) {
            if (old.alert.rule == rs.alert.rule) {
                rs.times_pending = old.times_pending;
                rs.times_fired = old.times_fired;
                rs.times_resolved = old.times_resolved;
            }
        }
    }
    cfg_ = std::move(cfg);
    states_ = std::move(fresh);
    return Status::ok();
}

AlertRulesConfig AlertEngine::config() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cfg_;
}

Status AlertEngine::set_baseline(double p99_ms) {
    if (!std::isfinite(p99_ms) || p99_ms <= 0) return invalid_argument("baseline p99 must be > 0 ms");
    std::lock_guard<std::mutex> lock(mu_);
    cfg_.baseline_p99_ms = p99_ms;
    for (size_t i = 0; i < cfg_.rules.size(); ++i) {
        if (!cfg_.rules[i].is_regression) continue;
        cfg_.rules[i].threshold = p99_ms * cfg_.regression_factor;
        states_[i].alert.threshold = cfg_.rules[i].threshold;
    }
    return Status::ok();
}

double AlertEngine::baseline_p99_ms() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cfg_.baseline_p99_ms;
}

void AlertEngine::transition_locked(RuleState& rs, AlertState to, SystemTime at, std::vector<AlertTransition>& out) {
    AlertTransition t;
    t.from = rs.alert.state;
    t.to = to;
    t.at = at;
    switch (to) {
        case AlertState::kPending:
            ++rs.times_pending;
            rs.alert.pending_since = at;
            rs.alert.fired_at.reset();
            rs.alert.resolved_at.reset();
            break;
        case AlertState::kFiring:
            ++rs.times_fired;
            rs.alert.fired_at = at;
            break;
        case AlertState::kResolved:
            ++rs.times_resolved;
            rs.alert.resolved_at = at;
            break;
        case AlertState::kInactive: break;
    }
    rs.alert.state = to;
    t.alert = rs.alert;
    // A resolved episode is over: the rule is inactive again (its timestamps stay until the next episode).
    if (to == AlertState::kResolved) rs.alert.state = AlertState::kInactive;
    if (ring_.size() < kMaxHistory) {
        ring_.push_back(t);
    } else {
        ring_[ring_pos_] = t;
        ring_pos_ = (ring_pos_ + 1) % kMaxHistory;
    }
    out.push_back(std::move(t));
}

std::vector<AlertTransition> AlertEngine::evaluate(const MetricsSample& s) {
    std::vector<AlertTransition> out;
    std::vector<std::shared_ptr<TransitionCallback>> cbs;
    {
        std::lock_guard<std::mutex> lock(mu_);
        const bool queued = s.work_queued && *s.work_queued > 0;
        for (size_t i = 0; i < cfg_.rules.size(); ++i) {
            const AlertRule& r = cfg_.rules[i];
            RuleState& rs = states_[i];
            if (!r.enabled) continue;
            const std::optional<double> v = metric_value(s, r.metric);
            if (!v || !std::isfinite(*v)) continue;
            if (r.requires_work_queued && !s.work_queued) continue;  // cannot tell whether the GPU should be busy
            const double margin = r.hysteresis * std::fabs(r.threshold);
            bool cond, clear;
            if (r.comparison == AlertComparison::kGreater) {
                cond = *v > r.threshold;
                clear = *v <= r.threshold - margin;
            } else {
                cond = *v < r.threshold;
                clear = *v >= r.threshold + margin;
            }
            if (r.requires_work_queued && !queued) {  // idle GPU with nothing queued is fine
                cond = false;
                clear = true;
            }
            rs.alert.value = *v;
            rs.alert.threshold = r.threshold;
            rs.alert.severity = r.severity;
            rs.alert.message = make_message(r, *v, cond, r.requires_work_queued && queued, cfg_.baseline_p99_ms, cfg_.regression_factor);
            switch (rs.alert.state) {
                case AlertState::kInactive:
                case AlertState::kResolved:
                    if (!cond) break;
                    transition_locked(rs, AlertState::kPending, s.timestamp, out);
                    [[fallthrough]];
                case AlertState::kPending: {
                    if (!cond) {
                        transition_locked(rs, AlertState::kInactive, s.timestamp, out);
                        break;
                    }
                    const double held = std::chrono::duration<double>(s.timestamp - *rs.alert.pending_since).count();
                    if (held >= r.for_s) transition_locked(rs, AlertState::kFiring, s.timestamp, out);
                    break;
                }
                case AlertState::kFiring:
                    if (clear) transition_locked(rs, AlertState::kResolved, s.timestamp, out);
                    break;
            }
        }
        if (!out.empty()) cbs = callbacks_;
    }
    for (const auto& t : out)
        for (const auto& cb : cbs) (*cb)(t);
    return out;
}

std::vector<Alert> AlertEngine::active() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Alert> out;
    for (const auto& rs : states_)
        if (rs.alert.state == AlertState::kPending || rs.alert.state == AlertState::kFiring) out.push_back(rs.alert);
    return out;
}

std::vector<AlertTransition> AlertEngine::history(size_t n) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<AlertTransition> all;
    all.reserve(ring_.size());
    for (size_t i = 0; i < ring_.size(); ++i) all.push_back(ring_[(ring_pos_ + i) % ring_.size()]);
    if (all.size() > n) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(n));
    return all;
}

std::vector<AlertRuleStats> AlertEngine::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<AlertRuleStats> out;
    for (const auto& rs : states_) {
        AlertRuleStats st;
        st.rule = rs.alert.rule;
        st.severity = rs.alert.severity;
        st.state = rs.alert.state;
        st.times_pending = rs.times_pending;
        st.times_fired = rs.times_fired;
        st.times_resolved = rs.times_resolved;
        out.push_back(std::move(st));
    }
    return out;
}

int64_t AlertEngine::times_fired(const std::string& rule) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& rs : states_)
        if (rs.alert.rule == rule) return rs.times_fired;
    return 0;
}

void AlertEngine::on_transition(TransitionCallback cb) {
    if (!cb) return;
    std::lock_guard<std::mutex> lock(mu_);
    callbacks_.push_back(std::make_shared<TransitionCallback>(std::move(cb)));
}

nlohmann::json alert_transition_to_json(const AlertTransition& t) {
    nlohmann::json j;
    j["rule"] = t.alert.rule;
    j["severity"] = alert_severity_name(t.alert.severity);
    j["state"] = alert_state_name(t.to);
    j["previous_state"] = alert_state_name(t.from);
    j["at"] = iso8601_utc(t.at);
    j["value"] = t.alert.value;
    j["threshold"] = t.alert.threshold;
    j["message"] = t.alert.message;
    auto opt = [](const std::optional<SystemTime>& tp) -> nlohmann::json {
        return tp ? nlohmann::json(iso8601_utc(*tp)) : nlohmann::json(nullptr);
    };
    j["pending_since"] = opt(t.alert.pending_since);
    j["fired_at"] = opt(t.alert.fired_at);
    j["resolved_at"] = opt(t.alert.resolved_at);
    return j;
}

}  // namespace itscam::service
