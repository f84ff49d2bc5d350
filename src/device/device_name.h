// Device names, parsed in one place: "cpu" and "ref" (the host: oneDNN and the reference oracle), "cuda" and
// "cuda:N" (GPU N). The config, the backend registry, the device registry and the CLI all go through these.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace itscam::device {

struct DeviceName {
    std::string kind;          // "cpu", "ref", "cuda", or another backend's name ("portable" for `optimize`)
    int ordinal = 0;           // N of "cuda:N"; 0 when not given
    bool has_ordinal = false;  // true for "cuda:N"
    // "cuda:1", "cpu": the canonical spelling (with the ordinal only where one was given).
    std::string str() const;
};

// Syntax only: "kind" or "kind:N" with N of 1 to 4 digits. Any kind is accepted here (the backend registry also
// takes "portable"); device_name_check() says whether it names a device.
Result<DeviceName> device_name_parse(const std::string& name);

// True for kinds whose devices are numbered (GPUs: "cuda").
bool device_kind_has_ordinals(const std::string& kind);

// OK when `n` names a device this layer knows (cpu, ref, cuda, cuda:N), whether or not this build has it; else
// kInvalidArgument: "unknown device 'tpu' (use cpu, ref, cuda or cuda:N)", or an ordinal on a host device.
Status device_name_check(const DeviceName& n);

// The GPU a device name stands for: its ordinal ("cuda" 0, "cuda:1" 1); -1 for a host device or a name that does
// not parse.
int device_gpu_ordinal(const std::string& name);

// device_name_parse + device_name_check: what the config accepts as `device`.
Status device_name_validate(const std::string& name);

// The devices a configured name stands for: a numbered kind without an ordinal ("cuda") is one device per entry
// of `ids` ("cuda:0", "cuda:1"); anything else is itself. `configured` must be valid (device_name_validate).
std::vector<std::string> device_names_expand(const std::string& configured, const std::vector<int>& ids);

}  // namespace itscam::device
