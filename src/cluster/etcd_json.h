// The etcd v3 JSON gateway's wire format (etcd 3.4, served under /v3/): request bodies and response parsers.
// Keys and values travel as base64, int64 fields as JSON strings (numbers are accepted too). Every parser returns
// kCorrupt naming what is wrong for a body that is not the expected JSON, never throws, and ignores fields it does
// not know. gateway_error() turns an error answer ({"error", "code", "message"}) into a Status.
#pragma once

#include <string>
#include <vector>

#include "cluster/etcd_types.h"
#include "core/status.h"

namespace itscam::cluster {

// Request bodies.
std::string range_request(const std::string& key, const std::string& range_end, int64_t revision, bool count_only);
std::string put_request(const std::string& key, const std::string& value, int64_t lease);
std::string delete_request(const std::string& key, const std::string& range_end);
std::string txn_request(const std::vector<Compare>& compare, const std::vector<TxnOp>& success,
                        const std::vector<TxnOp>& failure);
std::string lease_grant_request(int64_t ttl_s);
std::string lease_id_request(int64_t id);  // keepalive, revoke

// Response parsers (the body of a 200 answer).
Result<RangeResult> parse_range_response(const std::string& body);
Result<int64_t> parse_put_response(const std::string& body);  // header.revision
Result<DeleteResult> parse_delete_response(const std::string& body);
Result<TxnResult> parse_txn_response(const std::string& body);
Result<LeaseGrant> parse_lease_grant_response(const std::string& body);
// The lease's remaining TTL after the keepalive; 0 when etcd no longer knows the lease (expired or revoked). The
// gateway streams keepalive answers one JSON object per line ({"result": {...}}): the first one is read.
Result<int64_t> parse_keepalive_response(const std::string& body);
Status parse_revoke_response(const std::string& body);

// A non-200 answer: the gateway's gRPC code mapped to a StatusCode (NotFound -> kNotFound, InvalidArgument /
// FailedPrecondition / OutOfRange -> kInvalidArgument, Unavailable / DeadlineExceeded -> kUnavailable, others kIo),
// the message etcd gave ("etcdserver: requested lease not found") or the HTTP status when the body says nothing.
Status gateway_error(int http_status, const std::string& body);
// `body` is a complete gateway error object (a JSON object with an integer "code" and a string "message").
bool is_gateway_error(const std::string& body);

}  // namespace itscam::cluster
