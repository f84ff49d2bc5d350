#include "cluster/cluster_keys.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace itscam::cluster {

using nlohmann::json;

namespace {

Result<json> object_of(const std::string& text, const char* what) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return corrupt(std::string(what) + " is not a JSON object");
    return j;
}

// An optional string member ("" when absent); false when present and not a string.
bool optional_string(const json& j, const char* name, std::string& out) {
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

}  // namespace

ClusterKeys::ClusterKeys(std::string prefix) : prefix_(std::move(prefix)) {
    while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
}

std::string node_info_json(const NodeInfo& n) {
    return json{{"name", n.name}, {"capacity", n.capacity}, {"device", n.device}, {"version", n.version},
                {"api", n.api}}
        .dump();
}

Result<NodeInfo> parse_node_info(const std::string& text) {
    ITSCAM_ASSIGN_OR_RETURN(json j, object_of(text, "node info"));
    NodeInfo n;
    const auto name = j.find("name");
    if (name == j.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
        return corrupt("node info has no name");
    n.name = name->get<std::string>();
    const auto cap = j.find("capacity");
    if (cap == j.end() || !cap->is_number() || !std::isfinite(cap->get<double>()))
        return corrupt("node info of '" + n.name + "' has no numeric capacity");
    n.capacity = cap->get<double>();
    if (!optional_string(j, "device", n.device) || !optional_string(j, "version", n.version) ||
        !optional_string(j, "api", n.api))
        return corrupt("node info of '" + n.name + "': device, version and api must be strings");
    return n;
}

std::string owner_record_json(const OwnerRecord& r) {
    return json{{"node", r.node}, {"lease", std::to_string(r.lease)}}.dump();
}

Result<OwnerRecord> parse_owner_record(const std::string& text) {
    ITSCAM_ASSIGN_OR_RETURN(json j, object_of(text, "owner record"));
    OwnerRecord r;
    if (!optional_string(j, "node", r.node) || r.node.empty()) return corrupt("owner record has no node");
    std::string lease;
    if (!optional_string(j, "lease", lease)) return corrupt("owner record's lease is not a string");
    try {
        size_t used = 0;
        r.lease = lease.empty() ? 0 : std::stoll(lease, &used);
        if (used != lease.size()) return corrupt("owner record's lease '" + lease + "' is not an integer");
    } catch (const std::exception&) {
        return corrupt("owner record's lease '" + lease + "' is not an integer");
    }
    return r;
}

}  // namespace itscam::cluster
