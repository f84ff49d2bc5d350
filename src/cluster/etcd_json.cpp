#include "cluster/etcd_json.h"

#include <charconv>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "cluster/base64.h"

namespace itscam::cluster {

using nlohmann::json;

namespace {

Status malformed(const std::string& what) { return corrupt("malformed etcd response: " + what); }

Result<json> parse_object(const std::string& body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return malformed("not JSON");
    if (!j.is_object()) return malformed("expected a JSON object");
    return j;
}

// An int64 field: a decimal string (the gateway's form) or a JSON integer; absent or null = 0.
Status get_int64(const json& obj, const char* name, int64_t& out) {
    out = 0;
    const auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return Status::ok();
    if (it->is_number_integer()) {
        out = it->get<int64_t>();
        return Status::ok();
    }
    if (it->is_number_unsigned()) {
        const uint64_t u = it->get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX)) return malformed(std::string(name) + " is out of the int64 range");
        out = static_cast<int64_t>(u);
        return Status::ok();
    }
    if (!it->is_string()) return malformed(std::string(name) + " is not an integer");
    const std::string& s = it->get_ref<const std::string&>();
    const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size())
        return malformed(std::string(name) + " '" + s.substr(0, 40) + "' is not an int64");
    return Status::ok();
}

Status get_bool(const json& obj, const char* name, bool& out) {
    out = false;
    const auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return Status::ok();
    if (!it->is_boolean()) return malformed(std::string(name) + " is not a boolean");
    out = it->get<bool>();
    return Status::ok();
}

// A base64 field as bytes; absent = "".
Status get_bytes(const json& obj, const char* name, std::string& out) {
    out.clear();
    const auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return Status::ok();
    if (!it->is_string()) return malformed(std::string(name) + " is not a base64 string");
    auto bytes = base64_decode(it->get_ref<const std::string&>());
    if (!bytes) return malformed(std::string(name) + " is not valid base64");
    out = std::move(*bytes);
    return Status::ok();
}

// The object member `name` (absent or null: an empty object).
Result<json> get_object(const json& obj, const char* name) {
    const auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return json::object();
    if (!it->is_object()) return malformed(std::string(name) + " is not an object");
    return *it;
}

Result<int64_t> header_revision(const json& obj) {
    ITSCAM_ASSIGN_OR_RETURN(json header, get_object(obj, "header"));
    int64_t rev = 0;
    ITSCAM_RETURN_IF_ERROR(get_int64(header, "revision", rev));
    return rev;
}

Result<RangeResult> range_from(const json& obj) {
    RangeResult r;
    ITSCAM_ASSIGN_OR_RETURN(r.revision, header_revision(obj));
    ITSCAM_RETURN_IF_ERROR(get_int64(obj, "count", r.count));
    ITSCAM_RETURN_IF_ERROR(get_bool(obj, "more", r.more));
    const auto it = obj.find("kvs");
    if (it == obj.end() || it->is_null()) return r;
    if (!it->is_array()) return malformed("kvs is not an array");
    for (const json& item : *it) {
        if (!item.is_object()) return malformed("an entry of kvs is not an object");
        KeyValue kv;
        ITSCAM_RETURN_IF_ERROR(get_bytes(item, "key", kv.key));
        ITSCAM_RETURN_IF_ERROR(get_bytes(item, "value", kv.value));
        ITSCAM_RETURN_IF_ERROR(get_int64(item, "create_revision", kv.create_revision));
        ITSCAM_RETURN_IF_ERROR(get_int64(item, "mod_revision", kv.mod_revision));
        ITSCAM_RETURN_IF_ERROR(get_int64(item, "version", kv.version));
        ITSCAM_RETURN_IF_ERROR(get_int64(item, "lease", kv.lease));
        r.kvs.push_back(std::move(kv));
    }
    return r;
}

const char* target_name(Compare::Target t) {
    switch (t) {
        case Compare::Target::kVersion: return "VERSION";
        case Compare::Target::kCreate: return "CREATE";
        case Compare::Target::kMod: return "MOD";
        case Compare::Target::kValue: return "VALUE";
        case Compare::Target::kLease: return "LEASE";
    }
    return "CREATE";
}

const char* result_name(Compare::Result r) {
    switch (r) {
        case Compare::Result::kEqual: return "EQUAL";
        case Compare::Result::kGreater: return "GREATER";
        case Compare::Result::kLess: return "LESS";
        case Compare::Result::kNotEqual: return "NOT_EQUAL";
    }
    return "EQUAL";
}

json compare_json(const Compare& c) {
    json j = {{"key", base64_encode(c.key)}, {"target", target_name(c.target)}, {"result", result_name(c.result)}};
    switch (c.target) {
        case Compare::Target::kVersion: j["version"] = std::to_string(c.number); break;
        case Compare::Target::kCreate: j["create_revision"] = std::to_string(c.number); break;
        case Compare::Target::kMod: j["mod_revision"] = std::to_string(c.number); break;
        case Compare::Target::kValue: j["value"] = base64_encode(c.value); break;
        case Compare::Target::kLease: j["lease"] = std::to_string(c.number); break;
    }
    return j;
}

json key_range_json(const std::string& key, const std::string& range_end) {
    json j = {{"key", base64_encode(key)}};
    if (!range_end.empty()) j["range_end"] = base64_encode(range_end);
    return j;
}

json put_json(const std::string& key, const std::string& value, int64_t lease) {
    json j = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
    if (lease != 0) j["lease"] = std::to_string(lease);
    return j;
}

json op_json(const TxnOp& op) {
    switch (op.kind) {
        case TxnOp::Kind::kPut: return {{"request_put", put_json(op.key, op.value, op.lease)}};
        case TxnOp::Kind::kDelete: return {{"request_delete_range", key_range_json(op.key, op.range_end)}};
        case TxnOp::Kind::kRange: break;
    }
    return {{"request_range", key_range_json(op.key, op.range_end)}};
}

json ops_json(const std::vector<TxnOp>& ops) {
    json a = json::array();
    for (const TxnOp& op : ops) a.push_back(op_json(op));
    return a;
}

}  // namespace

std::string prefix_range_end(const std::string& prefix) {
    std::string end = prefix;
    while (!end.empty()) {
        if (static_cast<unsigned char>(end.back()) < 0xff) {
            end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');
}

std::string range_request(const std::string& key, const std::string& range_end, int64_t revision, bool count_only) {
    json j = key_range_json(key, range_end);
    if (revision > 0) j["revision"] = std::to_string(revision);
    if (count_only) j["count_only"] = true;
    return j.dump();
}

std::string put_request(const std::string& key, const std::string& value, int64_t lease) {
    return put_json(key, value, lease).dump();
}

std::string delete_request(const std::string& key, const std::string& range_end) {
    return key_range_json(key, range_end).dump();
}

std::string txn_request(const std::vector<Compare>& compare, const std::vector<TxnOp>& success,
                        const std::vector<TxnOp>& failure) {
    json cmp = json::array();
    for (const Compare& c : compare) cmp.push_back(compare_json(c));
    return json{{"compare", cmp}, {"success", ops_json(success)}, {"failure", ops_json(failure)}}.dump();
}

std::string lease_grant_request(int64_t ttl_s) { return json{{"TTL", std::to_string(ttl_s)}}.dump(); }

std::string lease_id_request(int64_t id) { return json{{"ID", std::to_string(id)}}.dump(); }

Result<RangeResult> parse_range_response(const std::string& body) {
    ITSCAM_ASSIGN_OR_RETURN(json j, parse_object(body));
    return range_from(j);
}

Result<int64_t> parse_put_response(const std::string& body) {
    ITSCAM_ASSIGN_OR_RETURN(json j, parse_object(body));
    return header_revision(j);
}

Result<DeleteResult> parse_delete_response(const std::string& body) {
    ITSCAM_ASSIGN_OR_RETURN(json j, parse_object(body));
    DeleteResult r;
    ITSCAM_ASSIGN_OR_RETURN(r.revision, header_revision(j));
    ITSCAM_RETURN_IF_ERROR(get_int64(j, "deleted", r.deleted));
    return r;
}

Result<TxnResult> parse_txn_response(const std::string& body) {
    ITSCAM_ASSIGN_OR_RETURN(json j, parse_object(body));
    TxnResult r;
    ITSCAM_ASSIGN_OR_RETURN(r.revision, header_revision(j));
    ITSCAM_RETURN_IF_ERROR(get_bool(j, "succeeded", r.succeeded));
    const auto it = j.find("responses");
    if (it == j.end() || it->is_null()) return r;
    if (!it->is_array()) return malformed("responses is not an array");
    for (const json& item : *it) {
        if (!item.is_object()) return malformed("an entry of responses is not an object");
        const auto range = item.find("response_range");
        if (range == item.end()) continue;  // put / delete answers carry nothing we use
        if (!range->is_object()) return malformed("response_range is not an object");
        ITSCAM_ASSIGN_OR_RETURN(RangeResult rr, range_from(*range));
        r.ranges.push_back(std::move(rr));
    }
    return r;
}

Result<LeaseGrant> parse_lease_grant_response(const std::string& body) {
    ITSCAM_ASSIGN_OR_RETURN(json j, parse_object(body));
    LeaseGrant g;
    ITSCAM_RETURN_IF_ERROR(get_int64(j, "ID", g.id));
    ITSCAM_RETURN_IF_ERROR(get_int64(j, "TTL", g.ttl_s));
    if (const auto e = j.find("error"); e != j.end() && e->is_string() && !e->get_ref<const std::string&>().empty())
        return unavailable("etcd refused the lease: " + e->get<std::string>());
    if (g.id == 0) return malformed("the lease grant has no ID");
    if (g.ttl_s <= 0) return malformed("the lease grant has no positive TTL");
    return g;
}

Result<int64_t> parse_keepalive_response(const std::string& body) {
    const size_t nl = body.find('\n');
    ITSCAM_ASSIGN_OR_RETURN(json j, parse_object(nl == std::string::npos ? body : body.substr(0, nl)));
    if (j.contains("error")) {
        ITSCAM_ASSIGN_OR_RETURN(json err, get_object(j, "error"));
        int64_t code = 0;
        ITSCAM_RETURN_IF_ERROR(get_int64(err, "grpc_code", code));
        const auto m = err.find("message");
        return unavailable("etcd keepalive stream error: " +
                           (m != err.end() && m->is_string() ? m->get<std::string>() : "code " + std::to_string(code)));
    }
    ITSCAM_ASSIGN_OR_RETURN(json result, get_object(j, "result"));
    if (result.empty()) return malformed("the keepalive answer has no result");
    int64_t ttl = 0;
    ITSCAM_RETURN_IF_ERROR(get_int64(result, "TTL", ttl));
    return ttl < 0 ? 0 : ttl;
}

Status parse_revoke_response(const std::string& body) {
    ITSCAM_ASSIGN_OR_RETURN(json j, parse_object(body));
    return header_revision(j).status();
}

bool is_gateway_error(const std::string& body) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    const auto code = j.find("code"), message = j.find("message");
    return code != j.end() && code->is_number_integer() && message != j.end() && message->is_string();
}

Status gateway_error(int http_status, const std::string& body) {
    std::string message;
    int64_t code = -1;
    json j = json::parse(body, nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
        for (const char* key : {"message", "error"}) {
            const auto it = j.find(key);
            if (message.empty() && it != j.end() && it->is_string()) message = it->get<std::string>();
        }
        if (!get_int64(j, "code", code).is_ok()) code = -1;
    }
    if (message.empty()) message = "HTTP " + std::to_string(http_status);
    switch (code) {
        case 5: return not_found(message);                           // NotFound
        case 3: case 9: case 11: return invalid_argument(message);   // InvalidArgument, FailedPrecondition, OutOfRange
        case 4: case 14: return unavailable(message);                // DeadlineExceeded, Unavailable
        default: break;
    }
    if (http_status == 503 || http_status == 504) return unavailable(message);
    return io_error(message);
}

}  // namespace itscam::cluster
