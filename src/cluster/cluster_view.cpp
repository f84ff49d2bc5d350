#include "cluster/cluster_view.h"

#include "cluster/rendezvous.h"

namespace itscam::cluster {

namespace {

// The rest of `key` after `prefix`, or false when it does not start with it.
bool suffix_of(const std::string& key, const std::string& prefix, std::string& rest) {
    if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0) return false;
    rest = key.substr(prefix.size());
    return true;
}

}  // namespace

ClusterView make_cluster_view(const RangeResult& range, const ClusterKeys& keys, std::vector<std::string>* problems) {
    ClusterView v;
    v.revision = range.revision;
    auto problem = [&](const std::string& p) {
        if (problems) problems->push_back(p);
    };
    const std::string nodes = keys.nodes(), cameras = keys.cameras(), owners = keys.owners();
    for (const KeyValue& kv : range.kvs) {
        std::string name;
        if (suffix_of(kv.key, nodes, name)) {
            if (kv.lease == 0) {
                problem(kv.key + ": a node key without a lease is not a live member");
                continue;
            }
            auto info = parse_node_info(kv.value);
            if (!info) {
                problem(kv.key + ": " + info.status().message());
                continue;
            }
            if (info->name != name) {
                problem(kv.key + ": names node '" + info->name + "'");
                continue;
            }
            v.members[name] = {std::move(*info), kv.lease};
        } else if (suffix_of(kv.key, cameras, name)) {
            v.cameras[name] = {kv.value, kv.mod_revision};
        } else if (suffix_of(kv.key, owners, name)) {
            OwnerKey o;
            o.lease = kv.lease;
            o.epoch = kv.create_revision;
            if (auto rec = parse_owner_record(kv.value)) o.node = rec->node;
            v.owners[name] = std::move(o);
        }
    }
    return v;
}

std::map<std::string, std::string> desired_owners(const ClusterView& view) {
    std::vector<WeightedMember> members;
    for (const auto& [name, m] : view.members) members.push_back({name, m.info.capacity});
    std::map<std::string, std::string> out;
    if (members.empty()) return out;
    for (const auto& [id, spec] : view.cameras) {
        const int i = rendezvous_owner(members, id);
        if (i >= 0) out[id] = members[static_cast<size_t>(i)].name;
    }
    return out;
}

}  // namespace itscam::cluster
