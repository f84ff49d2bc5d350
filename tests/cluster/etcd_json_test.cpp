// The JSON gateway codec: answers recorded from etcd 3.4.23 parse to the right values, and malformed answers (a
// table of them, fed to every parser) are kCorrupt errors, never crashes or exceptions. Also base64, key ranges,
// the cluster's key values and the gateway's error answers.
#include "cluster/etcd_json.h"

#include <gtest/gtest.h>

#include <functional>

#include "cluster/base64.h"
#include "cluster/cluster_keys.h"

namespace itscam::cluster {
namespace {

const char* kHeader = R"("header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"7","raft_term":"2"})";

std::string obj(const std::string& body) { return std::string("{") + kHeader + (body.empty() ? "" : "," + body) + "}"; }

TEST(Base64, RoundTripsEveryLengthAndByte) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (size_t n = 0; n <= all.size(); n += (n < 8 ? 1 : 37)) {
        const std::string s = all.substr(0, n);
        const auto back = base64_decode(base64_encode(s));
        ASSERT_TRUE(back.has_value()) << n;
        EXPECT_EQ(*back, s);
    }
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(*base64_decode(""), "");
}

TEST(Base64, RefusesWhatIsNotCanonical) {
    for (const char* bad : {"Zm9", "Zm9v=", "Z===", "Zm=v", "Zm9v!A==", "Zh==", "Zm9=", "=Zm9", "Zm 9v", "Zg=A"})
        EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

TEST(EtcdJson, PrefixRangeEnd) {
    EXPECT_EQ(prefix_range_end("/itscam/"), "/itscam0");
    EXPECT_EQ(prefix_range_end("a\xff"), "b");
    EXPECT_EQ(prefix_range_end("\xff\xff"), std::string(1, '\0'));
    EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(EtcdJson, RequestsCarryBase64AndStringInts) {
    EXPECT_EQ(put_request("foo", "bar", 0), R"({"key":"Zm9v","value":"YmFy"})");
    EXPECT_EQ(put_request("foo", "bar", 42), R"({"key":"Zm9v","lease":"42","value":"YmFy"})");
    EXPECT_EQ(range_request("a", "b", 5, true), R"({"count_only":true,"key":"YQ==","range_end":"Yg==","revision":"5"})");
    EXPECT_EQ(lease_grant_request(10), R"({"TTL":"10"})");
    EXPECT_EQ(lease_id_request(-3), R"({"ID":"-3"})");
    EXPECT_EQ(txn_request({Compare::create_revision("k", 0)}, {TxnOp::put("k", "v", 9)}, {TxnOp::get("k")}),
              R"({"compare":[{"create_revision":"0","key":"aw==","result":"EQUAL","target":"CREATE"}],)"
              R"("failure":[{"request_range":{"key":"aw=="}}],)"
              R"("success":[{"request_put":{"key":"aw==","lease":"9","value":"dg=="}}]})");
    EXPECT_EQ(txn_request({Compare::lease("k", 9)}, {TxnOp::del("k")}, {}),
              R"({"compare":[{"key":"aw==","lease":"9","result":"EQUAL","target":"LEASE"}],"failure":[],)"
              R"("success":[{"request_delete_range":{"key":"aw=="}}]})");
}

TEST(EtcdJson, ParsesRecordedAnswers) {
    auto range = parse_range_response(obj(
        R"("kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmFy","lease":"99"}],"count":"1")"));
    ASSERT_TRUE(range.is_ok()) << range.status().message();
    EXPECT_EQ(range->revision, 7);
    ASSERT_EQ(range->kvs.size(), 1u);
    EXPECT_EQ(range->kvs[0].key, "foo");
    EXPECT_EQ(range->kvs[0].value, "bar");
    EXPECT_EQ(range->kvs[0].create_revision, 2);
    EXPECT_EQ(range->kvs[0].mod_revision, 3);
    EXPECT_EQ(range->kvs[0].version, 2);
    EXPECT_EQ(range->kvs[0].lease, 99);
    EXPECT_EQ(range->count, 1);

    auto empty = parse_range_response(obj(""));  // no kvs, no count: the gateway leaves out defaults
    ASSERT_TRUE(empty.is_ok());
    EXPECT_TRUE(empty->kvs.empty());
    EXPECT_EQ(empty->count, 0);

    auto txn_ok = parse_txn_response(obj(R"("succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}])"));
    ASSERT_TRUE(txn_ok.is_ok());
    EXPECT_TRUE(txn_ok->succeeded);
    EXPECT_EQ(txn_ok->revision, 7);
    EXPECT_TRUE(txn_ok->ranges.empty());
    auto txn_failed = parse_txn_response(obj(
        R"("responses":[{"response_range":{"header":{"revision":"3"},"kvs":[{"key":"YQ==","create_revision":"3","mod_revision":"3","version":"1","value":"MQ=="}],"count":"1"}}])"));
    ASSERT_TRUE(txn_failed.is_ok());
    EXPECT_FALSE(txn_failed->succeeded);
    ASSERT_EQ(txn_failed->ranges.size(), 1u);
    EXPECT_EQ(txn_failed->ranges[0].kvs.at(0).value, "1");

    auto grant = parse_lease_grant_response(obj(R"("ID":"4111120419493468167","TTL":"2")"));
    ASSERT_TRUE(grant.is_ok());
    EXPECT_EQ(grant->id, 4111120419493468167);
    EXPECT_EQ(grant->ttl_s, 2);

    const std::string alive = std::string(R"({"result":{)") + kHeader + R"(,"ID":"5","TTL":"3"}})";
    EXPECT_EQ(*parse_keepalive_response(alive), 3);
    EXPECT_EQ(*parse_keepalive_response(alive + "\n" + alive + "\n"), 3);  // streamed: one object per line
    EXPECT_EQ(*parse_keepalive_response(std::string(R"({"result":{)") + kHeader + R"(,"ID":"12345"}})"), 0);

    auto del = parse_delete_response(obj(R"("deleted":"2")"));
    ASSERT_TRUE(del.is_ok());
    EXPECT_EQ(del->deleted, 2);
    EXPECT_EQ(*parse_put_response(obj("")), 7);
    EXPECT_TRUE(parse_revoke_response(obj("")).is_ok());
}

// Every parser against every malformed body: an error (kCorrupt unless etcd reported an error), no exception.
TEST(EtcdJson, MalformedAnswersAreErrorsNeverCrashes) {
    const std::vector<std::string> bad = {
        "",
        "not json",
        "{",
        "[]",
        "null",
        "42",
        "\"text\"",
        R"({"header":[]})",
        R"({"header":{"revision":"abc"}})",
        R"({"header":{"revision":"99999999999999999999"}})",
        R"({"header":{"revision":"12x"}})",
        R"({"header":{"revision":1.5}})",
        R"({"header":{"revision":true}})",
        R"({"header":{"revision":18446744073709551615}})",
        R"({"kvs":{}})",
        R"({"kvs":[1]})",
        R"({"kvs":[{"key":"!!!"}]})",
        R"({"kvs":[{"key":5}]})",
        R"({"kvs":[{"key":"YQ==","value":"Y"}]})",
        R"({"kvs":[{"key":"YQ==","create_revision":{}}]})",
        R"({"count":[]})",
        R"({"more":"yes"})",
        R"({"succeeded":"true"})",
        R"({"responses":{}})",
        R"({"responses":[7]})",
        R"({"responses":[{"response_range":[]}]})",
        R"({"responses":[{"response_range":{"kvs":"x"}}]})",
        R"({"deleted":"-"})",
        R"({"ID":"x","TTL":"5"})",
        R"({"ID":"5"})",
        R"({"ID":"5","TTL":"0"})",
        R"({"TTL":"5"})",
        R"({"ID":"5","TTL":"5","error":"lease exists"})",
        R"({"result":[]})",
        R"({"result":{}})",
        R"({"result":{"TTL":"x"}})",
        R"({"error":{"grpc_code":14,"message":"etcdserver: no leader"}})",
        R"({"error":"x"})",
        std::string(100000, '['),
        "{\"header\":{\"revision\":\"1\"}}trailing",
        "\xff\xfe{}",
    };
    const std::vector<std::pair<const char*, std::function<Status(const std::string&)>>> parsers = {
        {"range", [](const std::string& b) { return parse_range_response(b).status(); }},
        {"put", [](const std::string& b) { return parse_put_response(b).status(); }},
        {"delete", [](const std::string& b) { return parse_delete_response(b).status(); }},
        {"txn", [](const std::string& b) { return parse_txn_response(b).status(); }},
        {"grant", [](const std::string& b) { return parse_lease_grant_response(b).status(); }},
        {"keepalive", [](const std::string& b) { return parse_keepalive_response(b).status(); }},
        {"revoke", [](const std::string& b) { return parse_revoke_response(b); }},
    };
    int errors = 0;
    for (const std::string& body : bad) {
        for (const auto& [name, parse] : parsers) {
            Status st;
            ASSERT_NO_THROW(st = parse(body)) << name << " on " << body.substr(0, 80);
            if (!st.is_ok()) {
                ++errors;
                EXPECT_TRUE(st.code() == StatusCode::kCorrupt || st.code() == StatusCode::kUnavailable)
                    << name << ": " << st.to_string();
                EXPECT_FALSE(st.message().empty());
            }
        }
    }
    // Bodies that are not a JSON object fail every parser; the rest fail at least the parser they target.
    for (size_t i = 0; i < 7; ++i)
        for (const auto& [name, parse] : parsers) EXPECT_FALSE(parse(bad[i]).is_ok()) << name << " on " << bad[i];
    EXPECT_FALSE(parse_range_response(R"({"kvs":[{"key":"!!!"}]})").is_ok());
    EXPECT_FALSE(parse_txn_response(R"({"responses":[{"response_range":{"kvs":"x"}}]})").is_ok());
    EXPECT_FALSE(parse_keepalive_response(R"({"result":{}})").is_ok());
    EXPECT_EQ(parse_keepalive_response(R"({"error":{"grpc_code":14,"message":"etcdserver: no leader"}})").status().code(),
              StatusCode::kUnavailable);
    EXPECT_FALSE(parse_lease_grant_response(R"({"ID":"5","TTL":"5","error":"lease exists"})").is_ok());
    EXPECT_GT(errors, static_cast<int>(bad.size()) * 3);
}

TEST(EtcdJson, GatewayErrorsMapToStatusCodes) {
    const Status nf = gateway_error(404, R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})");
    EXPECT_EQ(nf.code(), StatusCode::kNotFound);
    EXPECT_EQ(nf.message(), "etcdserver: requested lease not found");
    EXPECT_EQ(gateway_error(400, R"({"message":"bad","code":3})").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(gateway_error(400, R"({"message":"future revision","code":11})").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(gateway_error(503, R"({"message":"etcdserver: no leader","code":14})").code(), StatusCode::kUnavailable);
    EXPECT_EQ(gateway_error(503, "<html>").code(), StatusCode::kUnavailable);
    const Status other = gateway_error(500, "not json");
    EXPECT_EQ(other.code(), StatusCode::kIo);
    EXPECT_EQ(other.message(), "HTTP 500");
    EXPECT_EQ(gateway_error(500, R"({"code":"x"})").code(), StatusCode::kIo);
}

TEST(ClusterKeys, LayoutAndValues) {
    const ClusterKeys k("/itscam/");
    EXPECT_EQ(k.prefix(), "/itscam");
    EXPECT_EQ(k.node("n1"), "/itscam/nodes/n1");
    EXPECT_EQ(k.camera("cam1"), "/itscam/cameras/cam1");
    EXPECT_EQ(k.owner("cam1"), "/itscam/owners/cam1");
    EXPECT_EQ(k.all(), "/itscam/");

    const NodeInfo n{"n1", 2.5, "cuda:0", "0.9.0", "http://10.0.0.1:8000"};
    auto back = parse_node_info(node_info_json(n));
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(*back, n);
    EXPECT_TRUE(parse_node_info(R"({"name":"n","capacity":1})").is_ok());
    for (const char* bad : {"", "[]", R"({"capacity":1})", R"({"name":"","capacity":1})", R"({"name":"n"})",
                            R"({"name":"n","capacity":"1"})", R"({"name":"n","capacity":1,"api":5})"})
        EXPECT_EQ(parse_node_info(bad).status().code(), StatusCode::kCorrupt) << bad;

    const OwnerRecord r{"n1", 4111120419493468167};
    EXPECT_EQ(*parse_owner_record(owner_record_json(r)), r);
    for (const char* bad : {"x", R"({"lease":"1"})", R"({"node":"n","lease":"x"})", R"({"node":"n","lease":5})",
                            R"({"node":"n","lease":"99999999999999999999"})"})
        EXPECT_FALSE(parse_owner_record(bad).is_ok()) << bad;
}

}  // namespace
}  // namespace itscam::cluster
