#include "core/status.h"

#include <cstdio>
#include <cstdlib>

namespace itscam {

const char* status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::kOk: return "OK";
        case StatusCode::kInvalidArgument: return "invalid argument";
        case StatusCode::kNotFound: return "not found";
        case StatusCode::kUnsupported: return "unsupported";
        case StatusCode::kCorrupt: return "corrupt input";
        case StatusCode::kIo: return "I/O error";
        case StatusCode::kInternal: return "internal error";
        case StatusCode::kDevice: return "device error";
        case StatusCode::kOutOfMemory: return "out of memory";
        case StatusCode::kDeviceLost: return "device lost";
        case StatusCode::kUnavailable: return "unavailable";
        case StatusCode::kCancelled: return "cancelled";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (is_ok()) return "OK";
    return std::string(status_code_name(code_)) + ": " + message_;
}

Status Status::with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return Status(code_, context + ": " + message_);
}

void check_failed(const char* expr, const char* file, int line, const std::string& msg) {
    std::fprintf(stderr, "itscam: internal check failed: %s at %s:%d %s\n", expr, file, line, msg.c_str());
    std::abort();
}

}  // namespace itscam
