// EtcdClient against a real etcd on loopback: the KV calls, transactions, leases, and clean, fast errors from
// endpoints that are down or do not answer.
#include "cluster/etcd_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "etcd_test_util.h"

namespace itscam::cluster {
namespace {

using namespace etcd_test;  // NOLINT

using EtcdClientTest = WithEtcd;

TEST_F(EtcdClientTest, PutGetRangeDelete) {
    // Keys and values are bytes: base64 on the wire carries any of them.
    const std::string odd_value("v\0\xff\n\"}", 6);
    auto r1 = client_->put("/t/a", "1");
    ASSERT_TRUE(r1.is_ok()) << r1.status().message();
    auto r2 = client_->put("/t/b", odd_value);
    ASSERT_TRUE(r2.is_ok());
    EXPECT_GT(*r2, *r1);
    ASSERT_TRUE(client_->put("/u/c", "x").is_ok());

    auto got = client_->get("/t/b");
    ASSERT_TRUE(got.is_ok()) << got.status().message();
    ASSERT_EQ(got->kvs.size(), 1u);
    EXPECT_EQ(got->kvs[0].key, "/t/b");
    EXPECT_EQ(got->kvs[0].value, odd_value);
    EXPECT_EQ(got->kvs[0].create_revision, *r2);
    EXPECT_EQ(got->kvs[0].version, 1);
    EXPECT_EQ(got->kvs[0].lease, 0);

    auto missing = client_->get("/t/zzz");
    ASSERT_TRUE(missing.is_ok());
    EXPECT_TRUE(missing->kvs.empty());
    EXPECT_EQ(missing->count, 0);

    auto prefix = client_->range_prefix("/t/");
    ASSERT_TRUE(prefix.is_ok());
    ASSERT_EQ(prefix->kvs.size(), 2u);
    EXPECT_EQ(prefix->kvs[0].key, "/t/a");
    EXPECT_EQ(prefix->kvs[1].key, "/t/b");
    EXPECT_EQ(prefix->revision, *r2 + 1);

    auto counted = client_->range_prefix("/t/", 0, /*count_only=*/true);
    ASSERT_TRUE(counted.is_ok());
    EXPECT_EQ(counted->count, 2);
    EXPECT_TRUE(counted->kvs.empty());

    // A read at an older revision sees the store as it was.
    auto old = client_->range_prefix("/t/", *r1);
    ASSERT_TRUE(old.is_ok()) << old.status().message();
    ASSERT_EQ(old->kvs.size(), 1u);
    EXPECT_EQ(old->kvs[0].key, "/t/a");

    auto del = client_->del_prefix("/t/");
    ASSERT_TRUE(del.is_ok());
    EXPECT_EQ(del->deleted, 2);
    auto after = client_->range_prefix("/");
    ASSERT_TRUE(after.is_ok());
    ASSERT_EQ(after->kvs.size(), 1u);
    EXPECT_EQ(after->kvs[0].key, "/u/c");

    // A revision from the future is etcd's error, passed on with the endpoint and the call.
    auto future = client_->range_prefix("/", 1000000);
    ASSERT_FALSE(future.is_ok());
    EXPECT_EQ(future.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(future.status().message().find(etcd_.endpoint() + " /v3/kv/range"), std::string::npos);
    EXPECT_NE(future.status().message().find("future revision"), std::string::npos) << future.status().message();
}

TEST_F(EtcdClientTest, TxnCreatesOnlyWhenAbsentAndDeletesOnlyItsOwnIncarnation) {
    const std::string key = "/owners/cam1";
    auto first = client_->txn({Compare::create_revision(key, 0)}, {TxnOp::put(key, "n1")}, {TxnOp::get(key)});
    ASSERT_TRUE(first.is_ok()) << first.status().message();
    EXPECT_TRUE(first->succeeded);
    const int64_t epoch = first->revision;
    auto got = client_->get(key);
    ASSERT_TRUE(got.is_ok());
    ASSERT_EQ(got->kvs.size(), 1u);
    EXPECT_EQ(got->kvs[0].create_revision, epoch);  // the txn's revision is the key's creation: its epoch

    auto second = client_->txn({Compare::create_revision(key, 0)}, {TxnOp::put(key, "n2")}, {TxnOp::get(key)});
    ASSERT_TRUE(second.is_ok());
    EXPECT_FALSE(second->succeeded);
    ASSERT_EQ(second->ranges.size(), 1u);
    ASSERT_EQ(second->ranges[0].kvs.size(), 1u);
    EXPECT_EQ(second->ranges[0].kvs[0].value, "n1");

    // Recreated: a delete guarded by the old epoch no longer matches.
    ASSERT_TRUE(client_->del(key).is_ok());
    auto again = client_->txn({Compare::create_revision(key, 0)}, {TxnOp::put(key, "n3")});
    ASSERT_TRUE(again.is_ok());
    ASSERT_TRUE(again->succeeded);
    auto stale = client_->txn({Compare::create_revision(key, epoch)}, {TxnOp::del(key)});
    ASSERT_TRUE(stale.is_ok());
    EXPECT_FALSE(stale->succeeded);
    auto fresh = client_->txn({Compare::create_revision(key, again->revision)}, {TxnOp::del(key)});
    ASSERT_TRUE(fresh.is_ok());
    EXPECT_TRUE(fresh->succeeded);
    EXPECT_TRUE(client_->get(key)->kvs.empty());
}

TEST_F(EtcdClientTest, LeaseGrantKeepaliveRevoke) {
    auto lease = client_->lease_grant(5);
    ASSERT_TRUE(lease.is_ok()) << lease.status().message();
    EXPECT_NE(lease->id, 0);
    EXPECT_EQ(lease->ttl_s, 5);
    ASSERT_TRUE(client_->put("/nodes/n1", "{}", lease->id).is_ok());
    auto got = client_->get("/nodes/n1");
    ASSERT_TRUE(got.is_ok());
    ASSERT_EQ(got->kvs.size(), 1u);
    EXPECT_EQ(got->kvs[0].lease, lease->id);

    // A guard on the key's lease.
    auto same = client_->txn({Compare::lease("/nodes/n1", lease->id)}, {TxnOp::put("/nodes/n1", "{}", lease->id)});
    ASSERT_TRUE(same.is_ok());
    EXPECT_TRUE(same->succeeded);

    auto ttl = client_->lease_keepalive(lease->id);
    ASSERT_TRUE(ttl.is_ok()) << ttl.status().message();
    EXPECT_EQ(*ttl, 5);

    ASSERT_TRUE(client_->lease_revoke(lease->id).is_ok());
    EXPECT_TRUE(client_->get("/nodes/n1")->kvs.empty());  // keys under the lease went with it
    auto gone = client_->lease_keepalive(lease->id);
    ASSERT_TRUE(gone.is_ok()) << gone.status().message();
    EXPECT_EQ(*gone, 0);

    const Status again = client_->lease_revoke(lease->id);
    EXPECT_EQ(again.code(), StatusCode::kNotFound) << again.to_string();
    EXPECT_NE(again.message().find("/v3/lease/revoke"), std::string::npos);
    EXPECT_NE(again.message().find("lease not found"), std::string::npos) << again.message();

    // A put under a lease etcd does not have is refused.
    auto orphan = client_->put("/nodes/n2", "{}", lease->id);
    ASSERT_FALSE(orphan.is_ok());
    EXPECT_EQ(orphan.status().code(), StatusCode::kNotFound);

    // etcd raises a TTL below its minimum (about 2 s with the default election timeout).
    auto tiny = client_->lease_grant(1);
    ASSERT_TRUE(tiny.is_ok());
    EXPECT_GE(tiny->ttl_s, 1);
}

TEST_F(EtcdClientTest, FailsOverFromADeadEndpoint) {
    const std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
    auto c = test_client({dead, etcd_.endpoint()});
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->put("/k", "v").is_ok());
    EXPECT_EQ(c->get("/k")->kvs.at(0).value, "v");
    EXPECT_TRUE(c->health().is_ok());
}

TEST(EtcdClientErrors, DeadEndpointIsAFastUnavailableNamingIt) {
    const std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
    auto c = test_client({dead});
    ASSERT_NE(c, nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c->put("/k", "v");
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find("etcd " + dead + " /v3/kv/put"), std::string::npos) << r.status().message();
    EXPECT_LT(seconds_since(t0), 1.0);

    const std::string dead2 = "http://127.0.0.1:" + std::to_string(free_port());
    auto both = test_client({dead, dead2});
    auto g = both->lease_grant(5);
    ASSERT_FALSE(g.is_ok());
    EXPECT_EQ(g.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(g.status().message().find(dead), std::string::npos) << g.status().message();
    EXPECT_NE(g.status().message().find(dead2), std::string::npos) << g.status().message();
}

// A server that accepts connections and never answers: the call ends at the request timeout.
TEST(EtcdClientErrors, SilentEndpointTimesOut) {
    const SilentListener listener;
    ASSERT_GT(listener.port(), 0);
    const std::string silent = "http://127.0.0.1:" + std::to_string(listener.port());
    auto c = test_client({silent});  // request timeout 0.5 s
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c->lease_keepalive(42);
    const double took = seconds_since(t0);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find(silent + " /v3/lease/keepalive"), std::string::npos) << r.status().message();
    EXPECT_GE(took, 0.4);
    EXPECT_LT(took, 2.0);
}

TEST(EtcdClientErrors, BadOptionsAreRefused) {
    EtcdClientOptions o;
    EXPECT_EQ(EtcdClient::create(o).status().code(), StatusCode::kInvalidArgument);
    o.endpoints = {"127.0.0.1:2379"};
    auto r = EtcdClient::create(o);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("'127.0.0.1:2379' is not an http://host:port URL"), std::string::npos)
        << r.status().message();
    o.endpoints = {"http://127.0.0.1:2379"};
    o.request_timeout_s = 0;
    EXPECT_EQ(EtcdClient::create(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace itscam::cluster
