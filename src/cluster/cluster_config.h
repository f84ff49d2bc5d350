// Cluster mode settings (the `cluster:` section, docs/cluster.md) and their validation. Without the section (or
// with enabled: false) nothing of the cluster runs and nothing else changes.
//
//   cluster:
//     enabled: true
//     endpoints: [http://10.0.0.5:2379, http://10.0.0.6:2379]
//     node: edge-3            # default: the host name
//     capacity: 8             # rendezvous weight: this node's share of the cameras is capacity / sum(capacities)
//     lease_ttl_s: 10         # 2..300
//     advertise: http://10.0.0.13:8000
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace itscam::cluster {

struct ClusterConfig {
    bool enabled = false;
    std::vector<std::string> endpoints = {"http://127.0.0.1:2379"};  // etcd's client URLs, http://host:port
    std::string node;               // [A-Za-z0-9_.-]{1,64}; "" = the host name (default_cluster_node())
    double capacity = 1.0;          // > 0, at most 1e6
    int lease_ttl_s = 10;           // 2..300: a dead node's cameras move after about this long
    double reconcile_interval_s = 0;  // 0 = lease_ttl_s / 5 capped at 1 s; else 0.05 .. lease_ttl_s / 2
    double request_timeout_s = 0;   // each etcd call; 0 = min(2 s, lease_ttl_s / 3); else 0.1 .. lease_ttl_s / 3
                                    // (keepalives go every TTL / 3)
    std::string advertise;          // "http://host:port" other nodes reach this node's API at; "" = from server:
    std::string key_prefix = "/itscam";  // starts with '/', no trailing '/', no control bytes, at most 256 bytes

    bool operator==(const ClusterConfig&) const = default;
};

// OK, or kInvalidArgument whose message starts with the key ("cluster.lease_ttl_s: 1 is out of range 2..300",
// "cluster.endpoints[1]: 'ftp://x' is not an http://host:port URL"). A disabled section is not checked.
Status validate_cluster_config(const ClusterConfig& c);

// `url` is "http://host:port" (host: a name, an IPv4 address or a bracketed IPv6 address; no path, no user info).
// kInvalidArgument naming `what` otherwise.
Status check_etcd_endpoint(const std::string& url, const std::string& what);

// The node name when `node` is empty: the host name with anything outside [A-Za-z0-9_.-] replaced by '_', cut to
// 64 bytes ("itscam" when it cannot be read).
std::string default_cluster_node();
std::string effective_cluster_node(const ClusterConfig& c);
// reconcile_interval_s and request_timeout_s with 0 resolved.
double effective_reconcile_interval_s(const ClusterConfig& c);
double effective_request_timeout_s(const ClusterConfig& c);

}  // namespace itscam::cluster
