#include "device/device_name.h"

namespace itscam::device {

namespace {
constexpr const char* kKnown = "use cpu, ref, cuda or cuda:N";
}  // namespace

std::string DeviceName::str() const {
    return has_ordinal ? kind + ":" + std::to_string(ordinal) : kind;
}

Result<DeviceName> device_name_parse(const std::string& name) {
    DeviceName n;
    const size_t colon = name.find(':');
    if (colon == std::string::npos) {
        if (name.empty()) return invalid_argument(std::string("empty device name (") + kKnown + ")");
        n.kind = name;
        return n;
    }
    const std::string kind = name.substr(0, colon), id = name.substr(colon + 1);
    if (kind.empty() || id.empty() || id.size() > 4 || id.find_first_not_of("0123456789") != std::string::npos)
        return invalid_argument("bad device '" + name + "' (" + kKnown + ")");
    n.kind = kind;
    n.ordinal = std::stoi(id);
    n.has_ordinal = true;
    return n;
}

bool device_kind_has_ordinals(const std::string& kind) {
    return kind == "cuda";
}

int device_gpu_ordinal(const std::string& name) {
    auto n = device_name_parse(name);
    return n.is_ok() && device_kind_has_ordinals(n->kind) ? n->ordinal : -1;
}

Status device_name_check(const DeviceName& n) {
    if (n.kind != "cpu" && n.kind != "ref" && !device_kind_has_ordinals(n.kind))
        return invalid_argument("unknown device '" + n.str() + "' (" + kKnown + ")");
    if (n.has_ordinal && !device_kind_has_ordinals(n.kind))
        return invalid_argument("device '" + n.str() + "': only GPU devices take an ordinal (cuda:N)");
    return Status::ok();
}

Status device_name_validate(const std::string& name) {
    ITSCAM_ASSIGN_OR_RETURN(DeviceName n, device_name_parse(name));
    return device_name_check(n);
}

std::vector<std::string> device_names_expand(const std::string& configured, const std::vector<int>& ids) {
    auto n = device_name_parse(configured);
    if (!n || n->has_ordinal || !device_kind_has_ordinals(n->kind)) return {configured};
    std::vector<std::string> out;
    for (int id : ids) out.push_back(n->kind + ":" + std::to_string(id));
    return out;
}

}  // namespace itscam::device
