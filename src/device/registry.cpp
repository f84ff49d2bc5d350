#include "device/registry.h"

#include <map>
#include <mutex>

#include "device/device_name.h"
#include "device/host_device.h"

#ifdef ITSCAM_HAVE_CUDA
#include "device/cuda/cuda_device.h"
#endif

namespace itscam::device {

namespace {

struct Registry {
    std::mutex mu;
    DeviceSettings settings;
    Device* host = nullptr;
    std::map<int, Device*> gpus;  // by ordinal
};

// Leaked on purpose: devices outlive every static destructor that might still hold a lease.
Registry& registry() {
    static Registry* r = [] {
        auto* reg = new Registry;
        reg->host = new HostDevice;
        reg->host->configure(reg->settings);
        return reg;
    }();
    return *r;
}

}  // namespace

Device& device_host() {
    return *registry().host;
}

Result<Device*> device_get(const std::string& name) {
    ITSCAM_ASSIGN_OR_RETURN(DeviceName n, device_name_parse(name));
    ITSCAM_RETURN_IF_ERROR(device_name_check(n));
    Registry& r = registry();
    if (!device_kind_has_ordinals(n.kind)) return r.host;
#ifdef ITSCAM_HAVE_CUDA
    std::lock_guard<std::mutex> lk(r.mu);
    Device*& d = r.gpus[n.ordinal];
    if (!d) {
        d = new CudaDevice(n.ordinal);
        d->configure(r.settings);
    }
    return d;
#else
    return unsupported("device '" + name + "': this build has no CUDA support (configure with -DITSCAM_WITH_CUDA=ON)");
#endif
}

Result<Device*> device_first_gpu() {
#ifdef ITSCAM_HAVE_CUDA
    ITSCAM_ASSIGN_OR_RETURN(Device * d, device_get("cuda:0"));
    const Status st = d->available();
    if (!st) return unavailable("no CUDA device is available (" + st.message() + ")");
    return d;
#else
    return unsupported("this build has no CUDA support (configure with -DITSCAM_WITH_CUDA=ON)");
#endif
}

void devices_configure(const DeviceSettings& s) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lk(r.mu);
    r.settings = s;
    r.host->configure(s);
    for (auto& [ordinal, d] : r.gpus) d->configure(s);
}

DeviceSettings devices_settings() {
    Registry& r = registry();
    std::lock_guard<std::mutex> lk(r.mu);
    return r.settings;
}

}  // namespace itscam::device
