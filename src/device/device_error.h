// The one classification of device errors, used by the circuit breaker. A device implementation maps its native
// errors to Status codes (CUDA: device/cuda/csl.h); this maps the codes to classes:
//   kNone        ok
//   kTransient   kDevice and every code not listed below (a retry may succeed)
//   kOutOfMemory kOutOfMemory (the device or host ran out of memory, or a TOTAL_GPU_MEMORY_GB budget is spent)
//   kSticky      kDeviceLost (illegal address, ECC, lost context: the context must be rebuilt)
//   kNotDevice   kInvalidArgument, kCorrupt, kUnsupported (bad input) and kCancelled (shutdown): they say nothing
//                about the device's health and never count against a circuit
//
// Pure functions; thread-safe.
#pragma once

#include "core/status.h"

namespace itscam::device {

enum class DeviceErrorClass { kNone, kTransient, kOutOfMemory, kSticky, kNotDevice };

DeviceErrorClass classify_device_error(const Status& st);
// "none" | "transient" | "out_of_memory" | "sticky" | "not_device"
const char* device_error_class_name(DeviceErrorClass c);

}  // namespace itscam::device
