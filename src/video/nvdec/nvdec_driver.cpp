#include "video/nvdec/nvdec_driver.h"

#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace itscam::video {

namespace {

// The libraries the ffnvcodec loader opens (its own names are #undef'd at the end of its header).
constexpr const char* kCudaLib = "libcuda.so.1";
constexpr const char* kCuvidLib = "libnvcuvid.so.1";

// CUresult values that ffnvcodec's reduced enum does not name (the numbers are the driver API's).
constexpr int kErrOutOfMemory = 2;
constexpr int kErrEccUncorrectable = 214;
constexpr int kErrIllegalAddress = 700;
constexpr int kErrContextIsDestroyed = 709;
constexpr int kErrLaunchFailed = 719;

}  // namespace

namespace nvdec_detail {

void loader_log(void* ctx, const char* fmt, ...) {
    if (ctx == nullptr) return;
    // The loader logs right after a failed dlopen/dlsym: keep the system's reason with it.
    const char* why = dlerror();
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    std::string line = buf;
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    if (why != nullptr) line += std::string(" (") + why + ")";
    auto* out = static_cast<std::string*>(ctx);
    if (!out->empty()) *out += "; ";
    *out += line;
}

}  // namespace nvdec_detail

std::string NvdecDriver::error_text(CUresult r) const {
    const char* name = nullptr;
    const char* text = nullptr;
    if (cu != nullptr && cu->cuGetErrorName != nullptr) cu->cuGetErrorName(r, &name);
    if (cu != nullptr && cu->cuGetErrorString != nullptr) cu->cuGetErrorString(r, &text);
    std::string s = name != nullptr ? name : "CUDA error " + std::to_string(static_cast<int>(r));
    if (text != nullptr) s += std::string(" (") + text + ")";
    return s;
}

Status NvdecDriver::check(CUresult r, const std::string& what) const {
    if (r == CUDA_SUCCESS) return Status::ok();
    const std::string msg = what + ": " + error_text(r);
    switch (static_cast<int>(r)) {
        case kErrOutOfMemory:
            return out_of_memory(msg);
        case kErrIllegalAddress:
        case kErrEccUncorrectable:
        case kErrLaunchFailed:
        case kErrContextIsDestroyed:
            return device_lost(msg);
        default:
            return device_error(msg);
    }
}

namespace {

struct Loaded {
    NvdecDriver driver;
    Status status;
};

Loaded load() {
    Loaded out;
    std::string log;
    if (cuda_load_functions(&out.driver.cu, &log) != 0) {
        out.driver.cu = nullptr;
        out.status = unavailable(std::string("NVDEC unavailable: ") + kCudaLib +
                                 " not found or incomplete (no NVIDIA driver?): " + log);
        return out;
    }
    log.clear();
    if (cuvid_load_functions(&out.driver.cuvid, &log) != 0) {
        out.driver.cuvid = nullptr;
        out.status = unavailable(std::string("NVDEC unavailable: ") + kCuvidLib +
                                 " not found or incomplete (the driver's video decode library): " + log);
        return out;
    }
    if (out.driver.cuvid->cuvidGetDecoderCaps == nullptr) {
        out.status = unavailable(std::string("NVDEC unavailable: ") + kCuvidLib +
                                 " has no cuvidGetDecoderCaps (driver too old)");
        return out;
    }
    const CUresult r = out.driver.cu->cuInit(0);
    if (r != CUDA_SUCCESS) {
        out.status = unavailable("NVDEC unavailable: cuInit failed: " + out.driver.error_text(r));
        return out;
    }
    int count = 0;
    const CUresult rc = out.driver.cu->cuDeviceGetCount(&count);
    if (rc != CUDA_SUCCESS || count <= 0)
        out.status = unavailable("NVDEC unavailable: no CUDA device" +
                                 (rc != CUDA_SUCCESS ? " (" + out.driver.error_text(rc) + ")" : std::string()));
    return out;
}

}  // namespace

Result<const NvdecDriver*> nvdec_driver() {
    // Loaded once and kept for the life of the process (the tables are never unloaded: frames may outlive readers).
    static const Loaded* loaded = [] { return new Loaded(load()); }();
    if (!loaded->status.is_ok()) return loaded->status;
    return &loaded->driver;
}

}  // namespace itscam::video
