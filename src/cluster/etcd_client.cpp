#include "cluster/etcd_client.h"

#include <httplib.h>

#include <chrono>
#include <cmath>

#include "cluster/cluster_config.h"
#include "cluster/etcd_json.h"

namespace itscam::cluster {

namespace {

std::chrono::microseconds micros(double s) { return std::chrono::microseconds(static_cast<int64_t>(s * 1e6)); }

bool timeout_ok(double s) { return std::isfinite(s) && s > 0 && s <= 300; }

// Answers worth trying on another endpoint: that one is down or without a leader.
bool try_next(const Status& st) { return st.code() == StatusCode::kUnavailable; }

}  // namespace

Result<std::unique_ptr<EtcdClient>> EtcdClient::create(EtcdClientOptions o) {
    if (o.endpoints.empty()) return invalid_argument("etcd client: no endpoint");
    for (const std::string& ep : o.endpoints) ITSCAM_RETURN_IF_ERROR(check_etcd_endpoint(ep, "etcd endpoint"));
    if (!timeout_ok(o.connect_timeout_s) || !timeout_ok(o.request_timeout_s))
        return invalid_argument("etcd client: timeouts must be in (0, 300] seconds");
    if (o.max_response_bytes == 0) return invalid_argument("etcd client: max_response_bytes must be > 0");
    return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(o)));
}

Result<std::string> EtcdClient::call(const char* method, const char* path, const std::string& body) {
    const size_t n = opt_.endpoints.size();
    const size_t first = preferred_.load(std::memory_order_relaxed) % n;
    std::string errors;
    Status last;
    for (size_t k = 0; k < n; ++k) {
        const size_t i = (first + k) % n;
        const std::string& ep = opt_.endpoints[i];
        const std::string where = "etcd " + ep + " " + path;
        Status st;
        try {
            httplib::Client cli(ep);
            cli.set_connection_timeout(micros(opt_.connect_timeout_s));
            cli.set_read_timeout(micros(opt_.request_timeout_s));
            cli.set_write_timeout(micros(opt_.request_timeout_s));
            cli.set_keep_alive(false);
            httplib::Request req;
            req.method = method;
            req.path = path;
            req.body = body;
            if (!body.empty()) req.set_header("Content-Type", "application/json");
            std::string answer;
            bool too_big = false;
            req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
                if (answer.size() + len > opt_.max_response_bytes) {
                    too_big = true;
                    return false;
                }
                answer.append(data, len);
                return true;
            };
            httplib::Response res;
            httplib::Error error = httplib::Error::Success;
            const bool ok = cli.send(req, res, error);
            // The gateway ends its error answers (chunked) with an HTTP trailer, which cpp-httplib 0.11 does not
            // read: the call then fails with a read error after the status line and the whole body arrived. Such
            // an answer counts when its body is the gateway's complete error object.
            const bool error_answer = res.status > 0 && res.status != 200 &&
                                      (ok || (error == httplib::Error::Read && is_gateway_error(answer)));
            if (too_big) {
                st = corrupt(where + ": the answer is larger than " + std::to_string(opt_.max_response_bytes) +
                             " bytes");
            } else if (error_answer) {
                const Status e = gateway_error(res.status, answer);
                st = Status(e.code(), where + ": " + e.message());
            } else if (!ok) {
                st = unavailable(where + ": " + httplib::to_string(error));
            } else if (res.status == 200) {
                preferred_.store(i, std::memory_order_relaxed);
                return answer;
            } else {
                st = unavailable(where + ": HTTP " + std::to_string(res.status));
            }
        } catch (const std::exception& e) {
            st = unavailable(where + ": " + e.what());
        }
        if (!try_next(st)) return st;
        errors += (errors.empty() ? "" : "; ") + st.message();
        last = st;
    }
    return n == 1 ? last : unavailable("no etcd endpoint answered: " + errors);
}

Result<RangeResult> EtcdClient::get(const std::string& key) { return range(key, "", 0, false); }

Result<RangeResult> EtcdClient::range(const std::string& key, const std::string& range_end, int64_t revision,
                                      bool count_only) {
    ITSCAM_ASSIGN_OR_RETURN(std::string body,
                            call("POST", "/v3/kv/range", range_request(key, range_end, revision, count_only)));
    return parse_range_response(body);
}

Result<RangeResult> EtcdClient::range_prefix(const std::string& prefix, int64_t revision, bool count_only) {
    return range(prefix.empty() ? std::string(1, '\0') : prefix, prefix_range_end(prefix), revision, count_only);
}

Result<int64_t> EtcdClient::put(const std::string& key, const std::string& value, int64_t lease) {
    ITSCAM_ASSIGN_OR_RETURN(std::string body, call("POST", "/v3/kv/put", put_request(key, value, lease)));
    return parse_put_response(body);
}

Result<DeleteResult> EtcdClient::del(const std::string& key, const std::string& range_end) {
    ITSCAM_ASSIGN_OR_RETURN(std::string body, call("POST", "/v3/kv/deleterange", delete_request(key, range_end)));
    return parse_delete_response(body);
}

Result<DeleteResult> EtcdClient::del_prefix(const std::string& prefix) {
    return del(prefix.empty() ? std::string(1, '\0') : prefix, prefix_range_end(prefix));
}

Result<TxnResult> EtcdClient::txn(const std::vector<Compare>& compare, const std::vector<TxnOp>& success,
                                  const std::vector<TxnOp>& failure) {
    ITSCAM_ASSIGN_OR_RETURN(std::string body, call("POST", "/v3/kv/txn", txn_request(compare, success, failure)));
    return parse_txn_response(body);
}

Result<LeaseGrant> EtcdClient::lease_grant(int64_t ttl_s) {
    if (ttl_s <= 0) return invalid_argument("etcd lease grant: TTL must be > 0 seconds");
    ITSCAM_ASSIGN_OR_RETURN(std::string body, call("POST", "/v3/lease/grant", lease_grant_request(ttl_s)));
    return parse_lease_grant_response(body);
}

Result<int64_t> EtcdClient::lease_keepalive(int64_t id) {
    ITSCAM_ASSIGN_OR_RETURN(std::string body, call("POST", "/v3/lease/keepalive", lease_id_request(id)));
    return parse_keepalive_response(body);
}

Status EtcdClient::lease_revoke(int64_t id) {
    ITSCAM_ASSIGN_OR_RETURN(std::string body, call("POST", "/v3/lease/revoke", lease_id_request(id)));
    return parse_revoke_response(body);
}

Status EtcdClient::health() {
    ITSCAM_ASSIGN_OR_RETURN(std::string body, call("GET", "/health", ""));
    if (body.find("\"health\":\"true\"") == std::string::npos)
        return unavailable("etcd " + opt_.endpoints[preferred_.load() % opt_.endpoints.size()] +
                           " /health: not healthy: " + body.substr(0, 200));
    return Status::ok();
}

}  // namespace itscam::cluster
