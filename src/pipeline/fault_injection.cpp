#include "pipeline/fault_injection.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace itscam::pipeline {

namespace {

double clamp01(double p) {
    return p > 0 ? std::min(p, 1.0) : 0.0;  // NaN -> 0
}

// Messages shaped like the CUDA runtime's / PyTorch's, so log scrapers and alert rules see realistic text.
Status injected_error(StatusCode code, uint64_t draw) {
    switch (code) {
        case StatusCode::kDeviceLost:
            return device_lost("injected fault: CUDA error 700 (an illegal memory access was encountered)");
        case StatusCode::kOutOfMemory: {
            const double mib = static_cast<double>(64 << (draw % 4));  // 64..512 MiB
            char buf[160];
            std::snprintf(buf, sizeof buf, "injected fault: CUDA out of memory (tried to allocate %.2f MiB)", mib);
            return out_of_memory(buf);
        }
        case StatusCode::kDevice:
            return device_error("injected fault: CUDA error 999 (unspecified launch failure)");
        default:
            return Status(code, std::string("injected fault: ") + status_code_name(code));
    }
}

class FaultInjectingGraph final : public CompiledGraph {
public:
    FaultInjectingGraph(std::unique_ptr<CompiledGraph> inner, std::shared_ptr<FaultController> faults)
        : inner_(std::move(inner)), faults_(std::move(faults)) {}

    Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) override {
        ITSCAM_RETURN_IF_ERROR(faults_->next_call());
        ITSCAM_RETURN_IF_ERROR(inner_->run(inputs, outputs));
        const double ms = faults_->get().extra_latency_ms;
        if (ms > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
        return Status::ok();
    }
    size_t memory_bytes() const override { return inner_->memory_bytes(); }
    std::string describe() const override { return inner_->describe(); }
    ActivationRanges collected_ranges() const override { return inner_->collected_ranges(); }
    // The inner graph's stream only (work on it is what stream monitoring measures); no device-resident input or
    // output, so callers take run(), where the faults are injected, and never run_device().
    const DeviceBinding* device_binding() const override {
        const DeviceBinding* b = inner_->device_binding();
        if (!b) return nullptr;
        stream_only_ = DeviceBinding{};
        stream_only_.stream = b->stream;
        stream_only_.device_id = b->device_id;
        return &stream_only_;
    }
    std::string tuning() const override { return inner_->tuning(); }

private:
    std::unique_ptr<CompiledGraph> inner_;
    std::shared_ptr<FaultController> faults_;
    mutable DeviceBinding stream_only_;
};

class FaultInjectingBackend final : public Backend {
public:
    FaultInjectingBackend(std::unique_ptr<Backend> inner, std::shared_ptr<FaultController> faults)
        : inner_(std::move(inner)), faults_(std::move(faults)) {}

    std::string name() const override { return inner_->name() + "+faults"; }
    Status supports(const Graph& g, const Node& n) const override { return inner_->supports(g, n); }
    Status supports_precision(Precision p) const override { return inner_->supports_precision(p); }
    Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& opt) const override {
        ITSCAM_ASSIGN_OR_RETURN(auto compiled, inner_->compile(g, opt));
        return make_fault_injecting_graph(std::move(compiled), faults_);
    }

private:
    std::unique_ptr<Backend> inner_;
    std::shared_ptr<FaultController> faults_;
};

}  // namespace

FaultController::FaultController(FaultSpec spec) : rng_(spec.seed) {
    set(spec);
}

void FaultController::set(const FaultSpec& spec) {
    std::lock_guard<std::mutex> lock(mu_);
    spec_ = spec;
    spec_.transient_rate = clamp01(spec.transient_rate);
    spec_.oom_rate = clamp01(spec.oom_rate);
    spec_.sticky_rate = clamp01(spec.sticky_rate);
    spec_.extra_latency_ms = spec.extra_latency_ms > 0 ? spec.extra_latency_ms : 0.0;
    rng_.seed(spec.seed);
}

FaultSpec FaultController::get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return spec_;
}

void FaultController::fail_next(int n, StatusCode code) {
    std::lock_guard<std::mutex> lock(mu_);
    forced_left_ = n;
    forced_code_ = code == StatusCode::kOk ? StatusCode::kDevice : code;
}

void FaultController::heal() {
    std::lock_guard<std::mutex> lock(mu_);
    forced_left_ = 0;
    sticky_ = false;
    spec_.transient_rate = spec_.oom_rate = spec_.sticky_rate = 0;
}

Status FaultController::next_call() {
    calls_.fetch_add(1, std::memory_order_relaxed);
    StatusCode code = StatusCode::kOk;
    uint64_t draw;
    {
        std::lock_guard<std::mutex> lock(mu_);
        // One draw per call whatever the state, so a seed gives the same sequence of outcomes.
        draw = rng_();
        if (sticky_) {
            code = StatusCode::kDeviceLost;
        } else if (forced_left_ != 0) {
            if (forced_left_ > 0) --forced_left_;
            code = forced_code_;
        } else {
            const double u = static_cast<double>(draw >> 11) * 0x1.0p-53;  // [0, 1)
            const double s = spec_.sticky_rate, o = s + spec_.oom_rate, t = o + spec_.transient_rate;
            if (u < s) {
                code = StatusCode::kDeviceLost;
            } else if (u < o) {
                code = StatusCode::kOutOfMemory;
            } else if (u < t) {
                code = StatusCode::kDevice;
            }
        }
        if (code == StatusCode::kDeviceLost) sticky_ = true;
    }
    if (code == StatusCode::kOk) return Status::ok();
    injected_.fetch_add(1, std::memory_order_relaxed);
    return injected_error(code, draw);
}

std::unique_ptr<Backend> make_fault_injecting_backend(std::unique_ptr<Backend> inner,
                                                      std::shared_ptr<FaultController> faults) {
    if (!faults) faults = std::make_shared<FaultController>();
    return std::make_unique<FaultInjectingBackend>(std::move(inner), std::move(faults));
}

std::unique_ptr<CompiledGraph> make_fault_injecting_graph(std::unique_ptr<CompiledGraph> inner,
                                                          std::shared_ptr<FaultController> faults) {
    if (!faults) faults = std::make_shared<FaultController>();
    return std::make_unique<FaultInjectingGraph>(std::move(inner), std::move(faults));
}

}  // namespace itscam::pipeline
