// The etcd v3 values this library exchanges with the JSON gateway (docs/cluster.md): key-value pairs with their
// revisions, range / txn results, comparisons and operations of a transaction, lease grants. Keys and values are
// raw bytes here; the gateway's base64 is the codec's business (etcd_json.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace itscam::cluster {

struct KeyValue {
    std::string key, value;
    int64_t create_revision = 0;  // the revision that created this incarnation of the key
    int64_t mod_revision = 0;
    int64_t version = 0;
    int64_t lease = 0;  // 0: none
};

struct RangeResult {
    int64_t revision = 0;  // the store's revision the range was read at (header.revision)
    std::vector<KeyValue> kvs;
    int64_t count = 0;  // keys in the range (also with count_only, when kvs is empty)
    bool more = false;  // a limit cut the answer
};

struct DeleteResult {
    int64_t revision = 0;
    int64_t deleted = 0;
};

// One comparison of a transaction's guard: `target` of `key` `result` the number (create / mod revision, version,
// lease) or the value.
struct Compare {
    enum class Target { kVersion, kCreate, kMod, kValue, kLease };
    enum class Result { kEqual, kGreater, kLess, kNotEqual };
    std::string key;
    Target target = Target::kCreate;
    Result result = Result::kEqual;
    int64_t number = 0;
    std::string value;

    static Compare create_revision(std::string key, int64_t rev) {
        return {std::move(key), Target::kCreate, Result::kEqual, rev, {}};
    }
    static Compare lease(std::string key, int64_t lease) {
        return {std::move(key), Target::kLease, Result::kEqual, lease, {}};
    }
};

// One operation of a transaction branch. range_end "" means the single key `key`.
struct TxnOp {
    enum class Kind { kRange, kPut, kDelete };
    Kind kind = Kind::kRange;
    std::string key, range_end, value;
    int64_t lease = 0;

    static TxnOp get(std::string key) { return {Kind::kRange, std::move(key), {}, {}, 0}; }
    static TxnOp put(std::string key, std::string value, int64_t lease = 0) {
        return {Kind::kPut, std::move(key), {}, std::move(value), lease};
    }
    static TxnOp del(std::string key) { return {Kind::kDelete, std::move(key), {}, {}, 0}; }
};

struct TxnResult {
    int64_t revision = 0;  // the store's revision after the txn (a put in it has this as its mod revision)
    bool succeeded = false;  // the guard held (the success branch ran)
    std::vector<RangeResult> ranges;  // the answers to the branch's range operations, in order
};

struct LeaseGrant {
    int64_t id = 0;
    int64_t ttl_s = 0;  // what etcd granted (it raises a TTL below its minimum)
};

// The first key after every key that starts with `prefix` (etcd's range_end for a prefix); "\0" (all keys) for an
// empty prefix.
std::string prefix_range_end(const std::string& prefix);

}  // namespace itscam::cluster
