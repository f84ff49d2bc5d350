#include "backend/cpu/executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace itscam::cpu {

Executor::Executor(const std::vector<Step>& steps, dnnl::stream& stream)
    : steps_(steps), stream_(stream), profile_(std::getenv("ITSCAM_PROFILE")) {}

Executor::~Executor() {
    print_profile();
}

Status Executor::run() {
    try {
        if (!profile_) {
            for (const auto& step : steps_) ITSCAM_RETURN_IF_ERROR(step.run());
        } else {
            step_ms_.resize(steps_.size(), 0.0);
            for (size_t i = 0; i < steps_.size(); ++i) {
                const auto t0 = std::chrono::steady_clock::now();
                ITSCAM_RETURN_IF_ERROR(steps_[i].run());
                stream_.wait();
                step_ms_[i] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            }
            ++profiled_runs_;
        }
        stream_.wait();
    } catch (const dnnl::error& e) {
        return dnnl_status(e, "cpu backend run");
    }
    return Status::ok();
}

void Executor::print_profile() const {
    if (!profile_ || profiled_runs_ == 0) return;
    std::vector<size_t> order(step_ms_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return step_ms_[a] > step_ms_[b]; });
    double total = 0;
    std::map<std::string, double> by_kind;
    for (size_t i = 0; i < step_ms_.size(); ++i) {
        total += step_ms_[i];
        const std::string& d = steps_[i].desc;
        const size_t lb = d.find('[');
        by_kind[lb == std::string::npos ? d : d.substr(lb)] += step_ms_[i];
    }
    std::fprintf(stderr, "itscam cpu profile: %d runs, %.3f ms per run\n", profiled_runs_, total / profiled_runs_);
    for (const auto& [k, v] : by_kind) std::fprintf(stderr, "  %8.3f ms  %s\n", v / profiled_runs_, k.c_str());
    for (size_t i = 0; i < order.size(); ++i)
        std::fprintf(stderr, "  %8.3f ms  %s\n", step_ms_[order[i]] / profiled_runs_, steps_[order[i]].desc.c_str());
}

}  // namespace itscam::cpu
