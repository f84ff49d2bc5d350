// Membership against a real etcd: registration under a lease, the local deadline and may_publish(), one live
// process per node name, a crash (lease abandoned) and a clean leave.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include "cluster/cluster_keys.h"
#include "etcd_test_util.h"

namespace itscam::cluster {
namespace {

using namespace etcd_test;  // NOLINT

MembershipOptions options(const std::string& name) {
    MembershipOptions o;
    o.key_prefix = "/t";
    o.node = {name, 2.0, "cpu", "test", "http://127.0.0.1:8000"};
    o.lease_ttl_s = 2;
    o.safety_margin_s = 0.2;
    o.retry_interval_s = 0.1;
    return o;
}

double seconds_until(LeaseClock::time_point t) {
    return std::chrono::duration<double>(t - LeaseClock::now()).count();
}

using MembershipTest = WithEtcd;

TEST_F(MembershipTest, RegistersUnderALeaseAndKeepsItAlive) {
    Membership m(*client_, options("n1"));
    EXPECT_FALSE(m.may_publish());
    ASSERT_TRUE(m.start().is_ok());
    ASSERT_TRUE(wait_until([&] { return m.may_publish(); }, 5)) << m.last_error();
    const LeaseState s = m.lease();
    EXPECT_NE(s.lease_id, 0);
    // deadline = grant sent + TTL - margin: a little under 1.8 s ahead.
    EXPECT_GT(seconds_until(m.deadline()), 1.0);
    EXPECT_LE(seconds_until(m.deadline()), 1.8);

    auto key = client_->get("/t/nodes/n1");
    ASSERT_TRUE(key.is_ok());
    ASSERT_EQ(key->kvs.size(), 1u);
    EXPECT_EQ(key->kvs[0].lease, s.lease_id);
    auto info = parse_node_info(key->kvs[0].value);
    ASSERT_TRUE(info.is_ok());
    EXPECT_EQ(*info, options("n1").node);

    // Past the first deadline the same lease is still held: the keepalives move the deadline forward.
    const auto t0 = LeaseClock::now();
    while (LeaseClock::now() - t0 < std::chrono::milliseconds(2600)) {
        ASSERT_TRUE(m.may_publish()) << m.last_error();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(m.lease().lease_id, s.lease_id);
    EXPECT_EQ(m.lease().generation, s.generation);
    EXPECT_GT(seconds_until(m.deadline()), 0.9);

    m.stop(Membership::Leave::kRevoke);
    EXPECT_FALSE(m.may_publish());
    EXPECT_TRUE(client_->get("/t/nodes/n1")->kvs.empty());  // gone at once, not after the TTL
}

TEST_F(MembershipTest, ANameHasOneLiveProcess) {
    Membership first(*client_, options("dup"));
    ASSERT_TRUE(first.start().is_ok());
    ASSERT_TRUE(wait_until([&] { return first.may_publish(); }, 5));
    auto other_client = test_client({etcd_.endpoint()});
    Membership second(*other_client, options("dup"));
    ASSERT_TRUE(second.start().is_ok());
    ASSERT_TRUE(wait_until([&] { return !second.last_error().empty(); }, 5));
    EXPECT_FALSE(second.may_publish());
    EXPECT_NE(second.last_error().find("node name 'dup' is registered by another live process"), std::string::npos)
        << second.last_error();
    // The second one takes over once the first leaves.
    first.stop(Membership::Leave::kRevoke);
    ASSERT_TRUE(wait_until([&] { return second.may_publish(); }, 5)) << second.last_error();
    EXPECT_EQ(client_->get("/t/nodes/dup")->kvs.at(0).lease, second.lease().lease_id);
}

TEST_F(MembershipTest, AnAbandonedLeaseStopsPublishingAtItsDeadlineBeforeEtcdDropsIt) {
    Membership m(*client_, options("crash"));
    ASSERT_TRUE(m.start().is_ok());
    ASSERT_TRUE(wait_until([&] { return m.may_publish(); }, 5));
    m.stop(Membership::Leave::kAbandon);
    const LeaseClock::time_point deadline = m.deadline();
    EXPECT_TRUE(m.may_publish());  // the lease is still valid until its deadline
    ASSERT_TRUE(wait_until([&] { return !m.may_publish(); }, 3));
    EXPECT_GE(LeaseClock::now(), deadline);
    // etcd still has the node: the local deadline comes first ...
    auto key = client_->get("/t/nodes/crash");
    ASSERT_TRUE(key.is_ok());
    EXPECT_EQ(key->kvs.size(), 1u);
    // ... and etcd drops it once the TTL is over (its expiry check runs every 0.5 s).
    ASSERT_TRUE(wait_until([&] { return client_->get("/t/nodes/crash")->kvs.empty(); }, 3));
    EXPECT_LT(std::chrono::duration<double>(LeaseClock::now() - deadline).count(), 1.5);
}

// The lease is revoked under the node (as when etcd lost it): the node registers again under a new lease, and
// work taken under the old one may not publish any more although the node may publish again (a paused node that
// wakes re-registers within a round trip, before the guard has stopped its old cameras).
TEST_F(MembershipTest, WorkUnderAReplacedLeaseStaysFenced) {
    Membership m(*client_, options("n1"));
    EXPECT_FALSE(m.may_publish(0));
    ASSERT_TRUE(m.start().is_ok());
    ASSERT_TRUE(wait_until([&] { return m.may_publish(); }, 5)) << m.last_error();
    const int64_t old_lease = m.lease().lease_id;
    EXPECT_TRUE(m.may_publish(old_lease));
    EXPECT_FALSE(m.may_publish(old_lease + 1));
    EXPECT_FALSE(m.may_publish(0));
    ASSERT_TRUE(client_->lease_revoke(old_lease).is_ok());
    ASSERT_TRUE(wait_until([&] { return m.lease().lease_id != 0 && m.lease().lease_id != old_lease; }, 5))
        << m.last_error();
    const int64_t new_lease = m.lease().lease_id;
    EXPECT_TRUE(m.may_publish());
    EXPECT_TRUE(m.may_publish(new_lease));
    EXPECT_FALSE(m.may_publish(old_lease));
    m.stop(Membership::Leave::kRevoke);
    EXPECT_FALSE(m.may_publish(new_lease));
}

TEST(MembershipOptions, BadOptionsAreRefused) {
    auto client = test_client({"http://127.0.0.1:1"});
    MembershipOptions o = options("");
    EXPECT_EQ(Membership(*client, o).start().code(), StatusCode::kInvalidArgument);
    o = options("n");
    o.node.capacity = 0;
    EXPECT_EQ(Membership(*client, o).start().code(), StatusCode::kInvalidArgument);
    o = options("n");
    o.safety_margin_s = 3;
    EXPECT_EQ(Membership(*client, o).start().code(), StatusCode::kInvalidArgument);
}

TEST(MembershipNoEtcd, KeepsTryingAndSaysWhy) {
    const std::string dead = "http://127.0.0.1:" + std::to_string(free_port());
    auto client = test_client({dead});
    Membership m(*client, options("n"));
    ASSERT_TRUE(m.start().is_ok());
    ASSERT_TRUE(wait_until([&] { return !m.last_error().empty(); }, 3));
    EXPECT_FALSE(m.may_publish());
    EXPECT_NE(m.last_error().find("lease grant: etcd " + dead), std::string::npos) << m.last_error();
}

}  // namespace
}  // namespace itscam::cluster
