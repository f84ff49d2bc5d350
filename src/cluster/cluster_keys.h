// The cluster's layout in etcd under a prefix (default /itscam), and the JSON values of its keys:
//   <prefix>/nodes/<name>    a live member: NodeInfo JSON, bound to the member's lease (vanishes when it lapses)
//   <prefix>/cameras/<id>    a camera's spec: the camera's config as JSON (written by an operator or the API)
//   <prefix>/owners/<id>     the camera's current owner: OwnerRecord JSON, bound to the owner's lease; its
//                            create_revision is the camera's epoch
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace itscam::cluster {

class ClusterKeys {
public:
    explicit ClusterKeys(std::string prefix);  // "/itscam"; a trailing '/' is dropped

    const std::string& prefix() const { return prefix_; }
    std::string all() const { return prefix_ + "/"; }  // every key of the cluster
    std::string nodes() const { return prefix_ + "/nodes/"; }
    std::string cameras() const { return prefix_ + "/cameras/"; }
    std::string owners() const { return prefix_ + "/owners/"; }
    std::string node(const std::string& name) const { return nodes() + name; }
    std::string camera(const std::string& id) const { return cameras() + id; }
    std::string owner(const std::string& id) const { return owners() + id; }

private:
    std::string prefix_;
};

// What a member registers about itself.
struct NodeInfo {
    std::string name;
    double capacity = 1.0;  // rendezvous weight
    std::string device;     // "cpu", "cuda:0", ...
    std::string version;    // itscam's version
    std::string api;        // "http://host:port": where other nodes reach its HTTP API

    bool operator==(const NodeInfo&) const = default;
};

std::string node_info_json(const NodeInfo& n);
// kCorrupt for text that is not a JSON object with a string "name" and a finite "capacity"; the other fields are
// optional.
Result<NodeInfo> parse_node_info(const std::string& json_text);

// Who holds an owner key.
struct OwnerRecord {
    std::string node;
    int64_t lease = 0;

    bool operator==(const OwnerRecord&) const = default;
};

std::string owner_record_json(const OwnerRecord& r);
Result<OwnerRecord> parse_owner_record(const std::string& json_text);

}  // namespace itscam::cluster
