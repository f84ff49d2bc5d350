#include "device/device_error.h"

namespace itscam::device {

DeviceErrorClass classify_device_error(const Status& st) {
    switch (st.code()) {
        case StatusCode::kOk:
            return DeviceErrorClass::kNone;
        case StatusCode::kOutOfMemory:
            return DeviceErrorClass::kOutOfMemory;
        case StatusCode::kDeviceLost:
            return DeviceErrorClass::kSticky;
        case StatusCode::kInvalidArgument:
        case StatusCode::kCorrupt:
        case StatusCode::kUnsupported:
        case StatusCode::kCancelled:
            return DeviceErrorClass::kNotDevice;
        default:
            return DeviceErrorClass::kTransient;
    }
}

const char* device_error_class_name(DeviceErrorClass c) {
    switch (c) {
        case DeviceErrorClass::kNone:
            return "none";
        case DeviceErrorClass::kTransient:
            return "transient";
        case DeviceErrorClass::kOutOfMemory:
            return "out_of_memory";
        case DeviceErrorClass::kSticky:
            return "sticky";
        case DeviceErrorClass::kNotDevice:
            return "not_device";
    }
    return "?";
}

}  // namespace itscam::device
