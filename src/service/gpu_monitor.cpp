#include "service/gpu_monitor.h"

#include <dlfcn.h>

#include <utility>

namespace itscam::service {

namespace {

// The few NVML declarations we need (ABI-stable since NVML 5; no header needed at build time).
using nvmlReturn_t = int;  // NVML_SUCCESS == 0
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
struct nvmlUtilization_t {
    unsigned int gpu;     // percent of time a kernel was running
    unsigned int memory;  // percent of time device memory was read or written
};
struct nvmlMemory_t {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;

}  // namespace

struct GpuMonitor::Api {
    nvmlReturn_t (*init)() = nullptr;
    nvmlReturn_t (*shutdown)() = nullptr;
    nvmlReturn_t (*get_count)(unsigned int*) = nullptr;
    nvmlReturn_t (*get_handle)(unsigned int, nvmlDevice_t*) = nullptr;
    nvmlReturn_t (*get_utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
    nvmlReturn_t (*get_memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
    nvmlReturn_t (*get_name)(nvmlDevice_t, char*, unsigned int) = nullptr;
    const char* (*error_string)(nvmlReturn_t) = nullptr;
};

namespace {

template <typename F>
bool resolve(void* lib, const char* name, F& fn) {
    fn = reinterpret_cast<F>(dlsym(lib, name));
    return fn != nullptr;
}

}  // namespace

GpuMonitor::GpuMonitor(std::string library, double cache_s) : cache_s_(cache_s) {
    lib_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) {
        const char* e = dlerror();
        reason_ = e ? e : (library + ": cannot be loaded");
        return;
    }
    auto api = std::make_unique<Api>();
    const char* missing = nullptr;
    if (!resolve(lib_, "nvmlInit_v2", api->init)) missing = "nvmlInit_v2";
    else if (!resolve(lib_, "nvmlShutdown", api->shutdown)) missing = "nvmlShutdown";
    else if (!resolve(lib_, "nvmlDeviceGetCount_v2", api->get_count)) missing = "nvmlDeviceGetCount_v2";
    else if (!resolve(lib_, "nvmlDeviceGetHandleByIndex_v2", api->get_handle)) missing = "nvmlDeviceGetHandleByIndex_v2";
    else if (!resolve(lib_, "nvmlDeviceGetUtilizationRates", api->get_utilization))
        missing = "nvmlDeviceGetUtilizationRates";
    else if (!resolve(lib_, "nvmlDeviceGetMemoryInfo", api->get_memory)) missing = "nvmlDeviceGetMemoryInfo";
    else if (!resolve(lib_, "nvmlDeviceGetName", api->get_name)) missing = "nvmlDeviceGetName";
    resolve(lib_, "nvmlErrorString", api->error_string);  // optional
    if (missing) {
        reason_ = library + ": symbol " + missing + " not found";
        dlclose(lib_);
        lib_ = nullptr;
        return;
    }
    const nvmlReturn_t rc = api->init();
    if (rc != kNvmlSuccess) {
        reason_ = "nvmlInit_v2 failed: " +
                  (api->error_string ? std::string(api->error_string(rc)) : "error " + std::to_string(rc));
        dlclose(lib_);
        lib_ = nullptr;
        return;
    }
    unsigned int n = 0;
    if (api->get_count(&n) != kNvmlSuccess || n == 0) {
        reason_ = "NVML reports no GPU";
        api->shutdown();
        dlclose(lib_);
        lib_ = nullptr;
        return;
    }
    count_ = static_cast<int>(n);
    api_ = std::move(api);
    available_ = true;
}

GpuMonitor::~GpuMonitor() {
    if (lib_) {
        if (api_ && available_) api_->shutdown();
        dlclose(lib_);
    }
}

std::vector<GpuSample> GpuMonitor::sample() {
    if (!available_) return {};
    std::lock_guard<std::mutex> lk(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (have_sample_ && std::chrono::duration<double>(now - sampled_at_).count() < cache_s_) return cache_;
    std::vector<GpuSample> out;
    for (int i = 0; i < count_; ++i) {
        nvmlDevice_t dev = nullptr;
        if (api_->get_handle(static_cast<unsigned int>(i), &dev) != kNvmlSuccess) continue;
        GpuSample s;
        s.index = i;
        char name[96] = {};
        if (api_->get_name(dev, name, sizeof(name)) == kNvmlSuccess) s.name = name;
        nvmlUtilization_t u{};
        if (api_->get_utilization(dev, &u) != kNvmlSuccess) continue;  // no utilization: no sample, never a fake 0
        s.utilization = u.gpu / 100.0;
        s.memory_utilization = u.memory / 100.0;
        nvmlMemory_t m{};
        if (api_->get_memory(dev, &m) == kNvmlSuccess) {
            s.memory_used_bytes = m.used;
            s.memory_total_bytes = m.total;
            s.memory_known = true;
        }
        out.push_back(std::move(s));
    }
    cache_ = out;
    sampled_at_ = now;
    have_sample_ = true;
    return out;
}

std::optional<double> GpuMonitor::mean_utilization() {
    const auto s = sample();
    if (s.empty()) return std::nullopt;
    double sum = 0;
    for (const auto& g : s) sum += g.utilization;
    return sum / static_cast<double>(s.size());
}

}  // namespace itscam::service
