// The device registry: a device by its configured name. "cpu" and "ref" are the host; "cuda" is "cuda:0";
// "cuda:N" is GPU N (builds with ITSCAM_WITH_CUDA; elsewhere kUnsupported). Devices are created on first use and
// live until the process exits (never destroyed: the GPU runtime may already be gone at exit). Getting a GPU
// device does not touch the GPU; Device::available() says whether it can be used.
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <string>

#include "device/device.h"

namespace itscam::device {

// The device `name` stands for; kInvalidArgument for a bad or unknown name, kUnsupported for a kind this build
// lacks.
Result<Device*> device_get(const std::string& name);
// The host device.
Device& device_host();
// The first GPU ("cuda:0") when this build has GPU support and the device is available; else an error that says
// why not (no GPU support in this build, no device, no driver).
Result<Device*> device_first_gpu();
// Applies `s` to every device, now and at creation (the pipeline calls this with the config's settings).
void devices_configure(const DeviceSettings& s);
DeviceSettings devices_settings();

}  // namespace itscam::device
