#include "cluster/cluster_config.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/host_name.h"

namespace itscam::cluster {

namespace {

constexpr size_t kMaxNodeBytes = 64;
constexpr size_t kMaxPrefixBytes = 256;
constexpr size_t kMaxEndpoints = 32;

std::string quoted(const std::string& s) {
    std::string r = "'";
    for (size_t i = 0; i < s.size() && i < 80; ++i) {
        const unsigned char ch = static_cast<unsigned char>(s[i]);
        r += (ch < 0x20 || ch == 0x7f) ? '?' : static_cast<char>(ch);
    }
    return r + (s.size() > 80 ? "...'" : "'");
}

std::string number(double v) {
    std::string s = std::to_string(v);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

bool name_char(char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-';
}

bool host_ok(const std::string& h) {
    if (h.empty() || h.size() > 253) return false;
    if (h.front() == '[') {  // [IPv6]
        if (h.size() < 3 || h.back() != ']') return false;
        return std::all_of(h.begin() + 1, h.end() - 1,
                           [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.'; });
    }
    return std::all_of(h.begin(), h.end(),
                       [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-'; });
}

Status check_url(const std::string& url, const std::string& what) {
    const Status bad = invalid_argument(what + ": " + quoted(url) + " is not an http://host:port URL");
    const std::string scheme = "http://";
    if (url.rfind("https://", 0) == 0)
        return invalid_argument(what + ": " + quoted(url) +
                                ": https is not supported yet (etcd over TLS): use http://host:port on a trusted network");
    if (url.rfind(scheme, 0) != 0) return bad;
    const std::string rest = url.substr(scheme.size());
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos || colon + 1 >= rest.size()) return bad;
    const std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
    if (!host_ok(host) || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) return bad;
    const int p = std::stoi(port);
    if (p < 1 || p > 65535) return invalid_argument(what + ": " + quoted(url) + ": port " + port + " is out of range 1..65535");
    return Status::ok();
}

Status check_node_name(const std::string& n) {
    if (n.size() > kMaxNodeBytes || n == "." || n == ".." || !std::all_of(n.begin(), n.end(), name_char))
        return invalid_argument("cluster.node: " + quoted(n) + " must match [A-Za-z0-9_.-]{1,64} (not . or ..)");
    return Status::ok();
}

Status check_prefix(const std::string& p) {
    const std::string key = "cluster.key_prefix: ";
    if (p.empty() || p.front() != '/') return invalid_argument(key + quoted(p) + " must start with '/'");
    if (p.size() > 1 && p.back() == '/') return invalid_argument(key + quoted(p) + " must not end with '/'");
    if (p.size() > kMaxPrefixBytes) return invalid_argument(key + "longer than 256 bytes");
    for (unsigned char ch : p)
        if (ch < 0x20 || ch == 0x7f) return invalid_argument(key + quoted(p) + " holds a control character");
    return Status::ok();
}

}  // namespace

Status check_etcd_endpoint(const std::string& url, const std::string& what) { return check_url(url, what); }

Status validate_cluster_config(const ClusterConfig& c) {
    if (!c.enabled) return Status::ok();
    if (c.endpoints.empty()) return invalid_argument("cluster.endpoints: at least one etcd endpoint is needed");
    if (c.endpoints.size() > kMaxEndpoints)
        return invalid_argument("cluster.endpoints: " + std::to_string(c.endpoints.size()) +
                                " endpoints, at most 32 are allowed");
    for (size_t i = 0; i < c.endpoints.size(); ++i)
        ITSCAM_RETURN_IF_ERROR(check_url(c.endpoints[i], "cluster.endpoints[" + std::to_string(i) + "]"));
    if (!c.node.empty()) ITSCAM_RETURN_IF_ERROR(check_node_name(c.node));
    if (!std::isfinite(c.capacity) || c.capacity <= 0 || c.capacity > 1e6)
        return invalid_argument("cluster.capacity: " + number(c.capacity) + " must be > 0 and at most 1000000");
    if (c.lease_ttl_s < 2 || c.lease_ttl_s > 300)
        return invalid_argument("cluster.lease_ttl_s: " + std::to_string(c.lease_ttl_s) + " is out of range 2..300");
    if (!std::isfinite(c.reconcile_interval_s) ||
        (c.reconcile_interval_s != 0 && (c.reconcile_interval_s < 0.05 || c.reconcile_interval_s > c.lease_ttl_s / 2.0)))
        return invalid_argument("cluster.reconcile_interval_s: " + number(c.reconcile_interval_s) +
                                " must be 0 (automatic) or 0.05 .. lease_ttl_s / 2 (" + number(c.lease_ttl_s / 2.0) +
                                ") seconds");
    if (!std::isfinite(c.request_timeout_s) ||
        (c.request_timeout_s != 0 && (c.request_timeout_s < 0.1 || c.request_timeout_s > c.lease_ttl_s / 3.0)))
        return invalid_argument("cluster.request_timeout_s: " + number(c.request_timeout_s) +
                                " must be 0 (automatic) or 0.1 .. lease_ttl_s / 3 (" + number(c.lease_ttl_s / 3.0) +
                                ") seconds: a keepalive is sent every lease_ttl_s / 3");
    if (!c.advertise.empty()) ITSCAM_RETURN_IF_ERROR(check_url(c.advertise, "cluster.advertise"));
    ITSCAM_RETURN_IF_ERROR(check_prefix(c.key_prefix));
    return Status::ok();
}

std::string default_cluster_node() {
    std::string n = sanitized_host_name();
    if (n.size() > kMaxNodeBytes) n.resize(kMaxNodeBytes);
    if (n == "." || n == "..") n = "itscam";
    return n;
}

std::string effective_cluster_node(const ClusterConfig& c) { return c.node.empty() ? default_cluster_node() : c.node; }

double effective_reconcile_interval_s(const ClusterConfig& c) {
    if (c.reconcile_interval_s > 0) return c.reconcile_interval_s;
    return std::min(1.0, c.lease_ttl_s / 5.0);
}

double effective_request_timeout_s(const ClusterConfig& c) {
    if (c.request_timeout_s > 0) return c.request_timeout_s;
    return std::min(2.0, c.lease_ttl_s / 3.0);
}

}  // namespace itscam::cluster
