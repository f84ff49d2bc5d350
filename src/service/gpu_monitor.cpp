#include "service/gpu_monitor.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

#include "device/device_name.h"

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
    nvmlReturn_t (*get_uuid)(nvmlDevice_t, char*, unsigned int) = nullptr;
    nvmlReturn_t (*get_decoder_utilization)(nvmlDevice_t, unsigned int*, unsigned int*) = nullptr;
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
    if (!resolve(lib_, "nvmlInit_v2", api->init))
        missing = "nvmlInit_v2";
    else if (!resolve(lib_, "nvmlShutdown", api->shutdown))
        missing = "nvmlShutdown";
    else if (!resolve(lib_, "nvmlDeviceGetCount_v2", api->get_count))
        missing = "nvmlDeviceGetCount_v2";
    else if (!resolve(lib_, "nvmlDeviceGetHandleByIndex_v2", api->get_handle))
        missing = "nvmlDeviceGetHandleByIndex_v2";
    else if (!resolve(lib_, "nvmlDeviceGetUtilizationRates", api->get_utilization))
        missing = "nvmlDeviceGetUtilizationRates";
    else if (!resolve(lib_, "nvmlDeviceGetMemoryInfo", api->get_memory))
        missing = "nvmlDeviceGetMemoryInfo";
    else if (!resolve(lib_, "nvmlDeviceGetName", api->get_name))
        missing = "nvmlDeviceGetName";
    resolve(lib_, "nvmlErrorString", api->error_string);  // optional
    resolve(lib_, "nvmlDeviceGetUUID", api->get_uuid);    // optional (CUDA_VISIBLE_DEVICES by UUID)
    resolve(lib_, "nvmlDeviceGetDecoderUtilization", api->get_decoder_utilization);  // optional (NVDEC load)
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

GpuMonitor::GpuMonitor(Sampler sampler) : sampler_(std::move(sampler)), available_(sampler_ != nullptr) {
    if (!available_) reason_ = "no sampler";
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
    if (sampler_) return sampler_();
    const auto now = std::chrono::steady_clock::now();
    if (have_sample_ && std::chrono::duration<double>(now - sampled_at_).count() < cache_s_) return cache_;
    cache_ = read_nvml();
    sampled_at_ = now;
    have_sample_ = true;
    return cache_;
}

std::vector<GpuSample> GpuMonitor::read_nvml() {
    std::vector<GpuSample> out;
    for (int i = 0; i < count_; ++i) {
        nvmlDevice_t dev = nullptr;
        if (api_->get_handle(static_cast<unsigned int>(i), &dev) != kNvmlSuccess) continue;
        GpuSample s;
        s.index = i;
        char name[96] = {};
        if (api_->get_name(dev, name, sizeof(name)) == kNvmlSuccess) s.name = name;
        char uuid[96] = {};
        if (api_->get_uuid && api_->get_uuid(dev, uuid, sizeof(uuid)) == kNvmlSuccess) s.uuid = uuid;
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
        unsigned int dec = 0, period_us = 0;
        if (api_->get_decoder_utilization && api_->get_decoder_utilization(dev, &dec, &period_us) == kNvmlSuccess)
            s.decoder_utilization = dec / 100.0;
        out.push_back(std::move(s));
    }
    return out;
}

GpuSelection GpuMonitor::select(const GpuScope& scope) {
    return select_gpus(sample(), scope, reason_);
}

// ---------------------------------------------------------------- which GPUs stand for the pipeline

GpuScope GpuScope::from_config(const config::Config& c) {
    GpuScope s;
    s.device = c.device;
    // The pipeline's inference devices: "cuda" stands for one GPU per configured id, "cuda:N" for GPU N alone.
    for (const std::string& name : device::device_names_expand(c.device, c.settings.device_ids)) {
        const int ordinal = device::device_gpu_ordinal(name);
        if (ordinal < 0) continue;  // the host
        s.cuda = true;
        s.device_ids.push_back(ordinal);
    }
    if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
        s.cuda_visible_devices = v;
        s.cuda_visible_devices_set = true;
    }
    return s;
}

namespace {

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// CUDA_VISIBLE_DEVICES as the CUDA runtime reads it: comma-separated NVML indices or GPU-UUID (prefixes); the list
// ends at the first entry that is neither.
std::vector<std::string> visible_entries(const std::string& v) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at <= v.size()) {
        const size_t comma = std::min(v.find(',', at), v.size());
        const std::string e = trim(v.substr(at, comma - at));
        if (!all_digits(e) && e.rfind("GPU-", 0) != 0) break;
        out.push_back(e);
        at = comma + 1;
    }
    return out;
}

const GpuSample* find_entry(const std::vector<GpuSample>& all, const std::string& entry) {
    for (const auto& g : all) {
        if (all_digits(entry) ? std::to_string(g.index) == entry : (!g.uuid.empty() && g.uuid.rfind(entry, 0) == 0))
            return &g;
    }
    return nullptr;
}

std::string id_list(const std::vector<int>& ids) {
    std::string s;
    for (int id : ids) s += (s.empty() ? "" : ", ") + std::to_string(id);
    return "[" + s + "]";
}

}  // namespace

GpuSelection select_gpus(const std::vector<GpuSample>& all, const GpuScope& scope,
                         const std::string& unavailable_reason) {
    GpuSelection sel;
    if (!scope.cuda) {
        sel.note = "device is " + scope.device + ": the pipeline uses no GPU";
        return sel;
    }
    if (all.empty()) {
        sel.note = "NVML unavailable" + (unavailable_reason.empty() ? std::string() : ": " + unavailable_reason);
        return sel;
    }
    const std::vector<std::string> visible = visible_entries(scope.cuda_visible_devices);
    std::vector<int> missing;
    for (int id : scope.device_ids) {
        std::string entry;
        if (!scope.cuda_visible_devices_set)
            entry = id >= 0 ? std::to_string(id) : "";
        else if (id >= 0 && static_cast<size_t>(id) < visible.size())
            entry = visible[static_cast<size_t>(id)];
        const GpuSample* g = entry.empty() ? nullptr : find_entry(all, entry);
        if (!g) {
            missing.push_back(id);
            continue;
        }
        const bool dup =
            std::any_of(sel.gpus.begin(), sel.gpus.end(), [&](const GpuSample& s) { return s.index == g->index; });
        if (!dup) sel.gpus.push_back(*g);
    }
    if (!missing.empty())
        sel.note = "device_ids " + id_list(missing) + " not among the " + std::to_string(all.size()) +
                   " GPU(s) NVML reports" +
                   (scope.cuda_visible_devices_set ? " (CUDA_VISIBLE_DEVICES=" + scope.cuda_visible_devices + ")"
                                                   : std::string());
    return sel;
}

std::optional<double> GpuSelection::mean_utilization() const {
    if (gpus.empty()) return std::nullopt;
    double sum = 0;
    for (const auto& g : gpus) sum += g.utilization;
    return sum / static_cast<double>(gpus.size());
}

std::optional<double> GpuSelection::mean_decoder_utilization() const {
    double sum = 0;
    int n = 0;
    for (const auto& g : gpus)
        if (g.decoder_utilization) {
            sum += *g.decoder_utilization;
            ++n;
        }
    if (n == 0) return std::nullopt;
    return sum / n;
}

std::optional<double> GpuSelection::memory_pressure() const {
    std::optional<double> worst;
    for (const auto& g : gpus) {
        if (!g.memory_known || g.memory_total_bytes == 0) continue;
        const double p = static_cast<double>(g.memory_used_bytes) / static_cast<double>(g.memory_total_bytes);
        if (!worst || p > *worst) worst = p;
    }
    return worst;
}

}  // namespace itscam::service
