// A client of etcd's v3 JSON gateway (etcd 3.4: POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange, /v3/kv/txn,
// /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke; GET /health), over cpp-httplib.
//
// Every call has a connection timeout and a read/write timeout, and opens its own connection: calls from several
// threads (the keepalive thread, the reconcile loop) never queue behind each other. With several endpoints a call
// starts at the last one that answered and moves on when one cannot be reached or answers Unavailable; any other
// answer of etcd is final. Errors are Status values naming the endpoint and the call:
//   kUnavailable  "etcd http://127.0.0.1:2379 /v3/kv/put: Could not establish connection" (every endpoint failed;
//                 the message lists each one's error)
//   kNotFound / kInvalidArgument / kIo  etcd's own answer ("... /v3/lease/revoke: etcdserver: requested lease not
//                 found"), by the gateway's gRPC code (etcd_json.h gateway_error)
//   kCorrupt      the answer is not the gateway's JSON
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "cluster/etcd_types.h"
#include "core/status.h"

namespace itscam::cluster {

struct EtcdClientOptions {
    std::vector<std::string> endpoints;  // "http://host:port", at least one
    double connect_timeout_s = 1.0;
    double request_timeout_s = 2.0;               // read and write timeouts of one call
    size_t max_response_bytes = size_t{64} << 20;  // a larger answer is an error (kCorrupt)
};

class EtcdClient {
public:
    // kInvalidArgument for no endpoint, an endpoint that is not http://host:port, or timeouts outside
    // (0, 300] seconds.
    static Result<std::unique_ptr<EtcdClient>> create(EtcdClientOptions options);

    Result<RangeResult> get(const std::string& key);
    // Keys in [key, range_end); revision 0 reads the latest; count_only answers count and revision without kvs.
    Result<RangeResult> range(const std::string& key, const std::string& range_end, int64_t revision = 0,
                              bool count_only = false);
    Result<RangeResult> range_prefix(const std::string& prefix, int64_t revision = 0, bool count_only = false);
    Result<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0);  // the new revision
    Result<DeleteResult> del(const std::string& key, const std::string& range_end = "");
    Result<DeleteResult> del_prefix(const std::string& prefix);
    Result<TxnResult> txn(const std::vector<Compare>& compare, const std::vector<TxnOp>& success,
                          const std::vector<TxnOp>& failure = {});
    Result<LeaseGrant> lease_grant(int64_t ttl_s);
    // The lease's remaining TTL in seconds after renewing it; 0 when etcd no longer has the lease.
    Result<int64_t> lease_keepalive(int64_t id);
    Status lease_revoke(int64_t id);
    // GET /health of each endpoint until one says {"health":"true"}.
    Status health();

    const EtcdClientOptions& options() const { return opt_; }

private:
    explicit EtcdClient(EtcdClientOptions options) : opt_(std::move(options)) {}
    // The body of the first endpoint's 200 answer to `method` `path`.
    Result<std::string> call(const char* method, const char* path, const std::string& body);

    EtcdClientOptions opt_;
    std::atomic<size_t> preferred_{0};
};

}  // namespace itscam::cluster
