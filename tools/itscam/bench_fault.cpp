#include "bench_fault.h"

#include <cmath>
#include <cstdio>

namespace itscam::cli {

Result<std::unique_ptr<FaultDrill>> FaultDrill::create(const FaultDrillOptions& opt, double measure_s) {
    StatusCode code;
    if (opt.kind == "transient") {
        code = StatusCode::kDevice;
    } else if (opt.kind == "oom") {
        code = StatusCode::kOutOfMemory;
    } else if (opt.kind == "sticky") {
        code = StatusCode::kDeviceLost;
    } else {
        return invalid_argument("--fault: expected transient, oom or sticky, got '" + opt.kind + "'");
    }
    const double at = opt.at_s < 0 ? measure_s / 4 : opt.at_s;
    const double len = opt.for_s < 0 ? measure_s / 4 : opt.for_s;
    if (!(len > 0)) return invalid_argument("--fault-for must be more than 0 s");
    if (at + len >= measure_s) {
        char msg[200];
        std::snprintf(msg, sizeof msg,
                      "--fault-at %.3g s + --fault-for %.3g s must end inside the measurement (--duration %.3g s), "
                      "so that the recovery is seen",
                      at, len, measure_s);
        return invalid_argument(msg);
    }
    return std::unique_ptr<FaultDrill>(new FaultDrill(opt.kind, code, at, len, opt.device));
}

FaultDrill::FaultDrill(std::string kind, StatusCode code, double at_s, double for_s, std::string device)
    : kind_(std::move(kind)),
      device_(std::move(device)),
      code_(code),
      at_s_(at_s),
      for_s_(for_s),
      faults_(std::make_shared<pipeline::FaultController>()) {}

const pipeline::DeviceSnapshot* FaultDrill::watched(const pipeline::PipelineSnapshot& s) const {
    for (const auto& d : s.devices)
        if (device_.empty() || d.name == device_) return &d;
    return nullptr;
}

void FaultDrill::step(double t, const pipeline::PipelineSnapshot& s) {
    const pipeline::DeviceSnapshot* d = watched(s);
    if (!started_ && t >= at_s_) {
        faults_->fail_next(-1, code_);  // every run fails until heal()
        started_ = true;
        processed_at_start_ = s.frames_processed;
    }
    if (started_ && !healed_ && t >= heal_s()) {
        faults_->heal();
        healed_ = true;
        processed_at_heal_ = s.frames_processed;
    }
    if (!d) return;
    if (started_ && opened_s_ < 0 && d->circuit == pipeline::CircuitState::kOpen) opened_s_ = t;
    if (healed_ && opened_s_ >= 0 && closed_s_ < 0 && d->circuit == pipeline::CircuitState::kClosed) closed_s_ = t;
}

nlohmann::json FaultDrill::result(const pipeline::PipelineSnapshot& first, const pipeline::PipelineSnapshot& last) const {
    nlohmann::json j;
    j["kind"] = kind_;
    j["at_s"] = at_s_;
    j["for_s"] = for_s_;
    j["injected_errors"] = faults_->injected();
    const pipeline::DeviceSnapshot* d0 = watched(first);
    const pipeline::DeviceSnapshot* d1 = watched(last);
    if (d0 && d1) {
        j["device"] = d1->name;
        j["circuit_opens"] = d1->circuit_stats.opens - d0->circuit_stats.opens;
        j["fallback_batches"] = d1->fallback_batches - d0->fallback_batches;
        j["device_failures"] = d1->failures - d0->failures;
        j["handoff_batches"] = d1->handoffs - d0->handoffs;  // to another device whose circuit was closed
        j["circuit_at_end"] = pipeline::circuit_state_name(d1->circuit);
    }
    j["frames_failed"] = last.frames_failed - first.frames_failed;  // lost: their batch failed on every backend
    j["opened_after_s"] = opened_s_ >= 0 ? nlohmann::json(opened_s_ - at_s_) : nlohmann::json(nullptr);
    j["closed_after_heal_s"] = closed_s_ >= 0 ? nlohmann::json(closed_s_ - heal_s()) : nlohmann::json(nullptr);
    if (processed_at_start_ >= 0 && processed_at_heal_ >= 0)
        j["fps_during_fault"] = static_cast<double>(processed_at_heal_ - processed_at_start_) / for_s_;
    return j;
}

std::string FaultDrill::describe(const nlohmann::json& r) {
    auto secs = [&](const char* k, const char* fmt, const char* none) -> std::string {
        if (!r.contains(k) || r[k].is_null()) return none;
        char b[96];
        std::snprintf(b, sizeof b, fmt, r[k].get<double>());
        return b;
    };
    char line[640];
    std::snprintf(line, sizeof line,
                  "fault %s at %.1f s for %.1f s on %s: %lld injected errors; circuit %s (%lld opens), "
                  "%s (%s at the end); %lld batches on the fallback, %lld handed to another device, %.1f fps during the "
                  "fault; %lld frames lost",
                  r.value("kind", "?").c_str(), r.value("at_s", 0.0), r.value("for_s", 0.0),
                  r.value("device", "?").c_str(), static_cast<long long>(r.value("injected_errors", int64_t{0})),
                  secs("opened_after_s", "opened after %.2f s", "never opened").c_str(), static_cast<long long>(r.value("circuit_opens", int64_t{0})),
                  secs("closed_after_heal_s", "closed again %.2f s after the heal", "not closed again").c_str(),
                  r.value("circuit_at_end", "?").c_str(), static_cast<long long>(r.value("fallback_batches", int64_t{0})),
                  static_cast<long long>(r.value("handoff_batches", int64_t{0})),
                  r.value("fps_during_fault", NAN), static_cast<long long>(r.value("frames_failed", int64_t{0})));
    return line;
}

}  // namespace itscam::cli
