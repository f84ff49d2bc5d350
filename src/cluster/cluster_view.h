// One consistent read of the cluster (every key under the prefix at one revision) and what follows from it: the
// live members, the camera specs, the owner keys, and each camera's desired owner by weighted rendezvous.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/cluster_keys.h"
#include "cluster/etcd_types.h"

namespace itscam::cluster {

struct LiveMember {
    NodeInfo info;
    int64_t lease = 0;
};

struct CameraSpec {
    std::string json;
    int64_t mod_revision = 0;
};

struct OwnerKey {
    std::string node;  // from the record ("" when unreadable)
    int64_t lease = 0;
    int64_t epoch = 0;  // create_revision
};

struct ClusterView {
    int64_t revision = 0;
    std::map<std::string, LiveMember> members;  // by name: node keys bound to a lease, with readable info
    std::map<std::string, CameraSpec> cameras;  // by id
    std::map<std::string, OwnerKey> owners;     // by camera id
};

// `range` holds every key under keys.all(). Keys that cannot be used (a node key without a lease, unreadable node
// info, a name that differs from its key) are left out, each with a line in `problems`.
ClusterView make_cluster_view(const RangeResult& range, const ClusterKeys& keys, std::vector<std::string>* problems);

// Each camera's desired owner (camera id -> member name) by weighted rendezvous over the members (weight =
// capacity). Empty without members.
std::map<std::string, std::string> desired_owners(const ClusterView& view);

}  // namespace itscam::cluster
