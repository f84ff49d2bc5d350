// Camera ownership with several in-process nodes (each with its own client, lease and controller) against one real
// etcd: every camera runs on exactly one node, the rendezvous choice, with the owner key's create revision as its
// epoch; a crashed node's cameras move to the survivors; a joining node takes its share; an etcd outage stops the
// cameras at the lease deadline and everything is owned again once etcd is back. Throughout, no camera ever runs on
// two nodes at overlapping times.
#include "cluster/ownership.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "cluster/cluster_view.h"
#include "etcd_test_util.h"

namespace itscam::cluster {
namespace {

using namespace etcd_test;  // NOLINT

constexpr const char* kPrefix = "/t";
constexpr int kCameras = 30;
constexpr double kTtl = 2;

// One run of a camera on a node: [start, stop) on LeaseClock, with the epoch it was started with.
struct Interval {
    std::string node, camera;
    int64_t epoch = 0;
    LeaseClock::time_point start, stop = LeaseClock::time_point::max();
    std::string reason;
};

// Every start and stop of every node, and what runs now.
class Journal {
public:
    OwnershipCallbacks callbacks(const std::string& node) {
        OwnershipCallbacks cb;
        cb.start = [this, node](const std::string& id, const std::string& spec, int64_t epoch, int64_t) -> Status {
            std::lock_guard<std::mutex> lk(mu_);
            if (spec.find("\"fail\"") != std::string::npos) return invalid_argument("this spec cannot start");
            runs_.push_back({node, id, epoch, LeaseClock::now(), LeaseClock::time_point::max(), ""});
            return Status::ok();
        };
        cb.stop = [this, node](const std::string& id, const std::string& reason) {
            std::lock_guard<std::mutex> lk(mu_);
            for (Interval& r : runs_)
                if (r.node == node && r.camera == id && r.stop == LeaseClock::time_point::max()) {
                    r.stop = LeaseClock::now();
                    r.reason = reason;
                    return;
                }
            ADD_FAILURE() << node << " stopped " << id << ", which it was not running";
        };
        return cb;
    }

    std::vector<Interval> runs() const {
        std::lock_guard<std::mutex> lk(mu_);
        return runs_;
    }

    // camera -> the nodes running it now (with their epochs).
    std::map<std::string, std::vector<std::pair<std::string, int64_t>>> running() const {
        std::map<std::string, std::vector<std::pair<std::string, int64_t>>> out;
        for (const Interval& r : runs())
            if (r.stop == LeaseClock::time_point::max()) out[r.camera].emplace_back(r.node, r.epoch);
        return out;
    }

    // No camera ever ran on two nodes at overlapping times, and a camera's epoch never went backwards.
    void expect_no_overlap() const {
        std::map<std::string, std::vector<Interval>> by_camera;
        for (const Interval& r : runs()) by_camera[r.camera].push_back(r);
        for (auto& [camera, runs] : by_camera) {
            std::sort(runs.begin(), runs.end(), [](const Interval& a, const Interval& b) { return a.start < b.start; });
            for (size_t i = 1; i < runs.size(); ++i) {
                EXPECT_LE(runs[i - 1].stop, runs[i].start)
                    << camera << ": started on " << runs[i].node << " (epoch " << runs[i].epoch << ") while "
                    << runs[i - 1].node << " (epoch " << runs[i - 1].epoch << ") still ran it";
                EXPECT_LE(runs[i - 1].epoch, runs[i].epoch) << camera;
                if (runs[i].node != runs[i - 1].node) {
                    EXPECT_LT(runs[i - 1].epoch, runs[i].epoch) << camera;
                }
            }
        }
    }

private:
    mutable std::mutex mu_;
    std::vector<Interval> runs_;
};

struct Node {
    std::string name;
    std::unique_ptr<EtcdClient> client;
    std::unique_ptr<Membership> membership;
    std::unique_ptr<OwnershipController> controller;
};

class OwnershipTest : public WithEtcd {
protected:
    void SetUp() override {
        WithEtcd::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        for (int i = 0; i < kCameras; ++i) put_spec("cam-" + std::to_string(i), "{}");
    }
    void TearDown() override {
        for (auto& n : nodes_) {
            if (n->controller) n->controller->stop();
            if (n->membership) n->membership->stop(Membership::Leave::kRevoke);
        }
        journal_.expect_no_overlap();
    }

    void put_spec(const std::string& id, const std::string& json) {
        ASSERT_TRUE(client_->put(keys_.camera(id), json).is_ok());
    }

    Node& add_node(const std::string& name) {
        auto n = std::make_unique<Node>();
        n->name = name;
        n->client = test_client({etcd_.endpoint()});
        MembershipOptions mo;
        mo.key_prefix = kPrefix;
        mo.node = {name, 1.0, "cpu", "test", ""};
        mo.lease_ttl_s = static_cast<int64_t>(kTtl);
        mo.safety_margin_s = 0.2;
        mo.retry_interval_s = 0.1;
        n->membership = std::make_unique<Membership>(*n->client, mo);
        OwnershipOptions oo;
        oo.reconcile_interval_s = 0.1;
        oo.settle_s = 0.3;
        n->controller = std::make_unique<OwnershipController>(*n->client, *n->membership, oo, journal_.callbacks(name));
        EXPECT_TRUE(n->membership->start().is_ok());
        EXPECT_TRUE(n->controller->start().is_ok());
        nodes_.push_back(std::move(n));
        return *nodes_.back();
    }

    Result<ClusterView> view() {
        auto all = client_->range_prefix(keys_.all());
        if (!all) return all.status();
        return make_cluster_view(*all, keys_, nullptr);
    }

    // Every camera runs on exactly one node: its rendezvous choice among `members` (who must all be registered),
    // with the owner key's create revision as its epoch. "" when so, else what is off.
    std::string check_assignment(const std::set<std::string>& members) {
        auto v = view();
        if (!v) return v.status().message();
        std::set<std::string> registered;
        for (const auto& [name, m] : v->members) registered.insert(name);
        if (registered != members) return "members are not yet the expected ones";
        const auto desired = desired_owners(*v);
        const auto running = journal_.running();
        if (v->cameras.size() != desired.size()) return "not every camera has a desired owner";
        for (const auto& [id, owner] : desired) {
            const auto o = v->owners.find(id);
            if (o == v->owners.end()) return id + " has no owner key";
            if (o->second.node != owner) return id + " is held by " + o->second.node + ", wanted " + owner;
            const auto r = running.find(id);
            if (r == running.end() || r->second.size() != 1) return id + " does not run on exactly one node";
            if (r->second[0].first != owner) return id + " runs on " + r->second[0].first + ", wanted " + owner;
            if (r->second[0].second != o->second.epoch) return id + " runs with another epoch than its owner key's";
        }
        for (const auto& [id, nodes] : running)
            if (!desired.count(id)) return id + " runs but has no spec";
        return "";
    }

    void await_assignment(const std::set<std::string>& members, double timeout_s) {
        std::string why;
        const bool ok = wait_until([&] { return (why = check_assignment(members)).empty(); }, timeout_s);
        ASSERT_TRUE(ok) << why << "\n" << errors();
    }

    std::string errors() const {
        std::string e;
        for (const auto& n : nodes_)
            e += n->name + ": membership '" + n->membership->last_error() + "', ownership '" +
                 n->controller->last_error() + "'\n";
        return e;
    }

    std::map<std::string, std::string> owners_now() {
        std::map<std::string, std::string> out;
        for (const auto& [id, nodes] : journal_.running())
            if (nodes.size() == 1) out[id] = nodes[0].first;
        return out;
    }

    ClusterKeys keys_{kPrefix};
    Journal journal_;
    std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(OwnershipTest, ThreeNodesRunEveryCameraOnceWhereRendezvousSays) {
    for (const char* n : {"n1", "n2", "n3"}) add_node(n);
    await_assignment({"n1", "n2", "n3"}, 10);
    // Every node got a share, and each held camera's epoch is its owner key's create revision.
    std::map<std::string, int> share;
    for (const auto& [id, node] : owners_now()) ++share[node];
    EXPECT_EQ(share.size(), 3u);
    auto v = view();
    ASSERT_TRUE(v.is_ok());
    for (const auto& n : nodes_)
        for (const HeldCamera& h : n->controller->held()) {
            EXPECT_EQ(h.epoch, v->owners.at(h.id).epoch);
            EXPECT_EQ(h.lease, n->membership->lease().lease_id);
            EXPECT_TRUE(h.running);
        }
}

TEST_F(OwnershipTest, ACrashedNodesCamerasMoveToTheSurvivors) {
    for (const char* n : {"n1", "n2", "n3"}) add_node(n);
    await_assignment({"n1", "n2", "n3"}, 10);
    Node& victim = *nodes_[0];
    const auto before = owners_now();
    // The crash: keepalives stop, nothing is revoked; its controller goes on (a paused process that wakes up).
    victim.membership->stop(Membership::Leave::kAbandon);
    const LeaseClock::time_point deadline = victim.membership->deadline();
    const auto t0 = std::chrono::steady_clock::now();
    await_assignment({"n2", "n3"}, kTtl + 3);
    EXPECT_LT(seconds_since(t0), kTtl + 3);
    // The victim stopped its cameras at its own deadline, before anyone else started them.
    for (const Interval& r : journal_.runs()) {
        if (r.node != victim.name) continue;
        ASSERT_NE(r.stop, LeaseClock::time_point::max()) << r.camera;
        EXPECT_GE(r.stop, deadline);
        EXPECT_LT(r.stop - deadline, std::chrono::milliseconds(300)) << r.camera;
    }
    // Only the victim's cameras moved.
    for (const auto& [id, node] : owners_now())
        if (before.at(id) != victim.name) {
            EXPECT_EQ(node, before.at(id)) << id;
        }
}

TEST_F(OwnershipTest, AJoiningNodeTakesAboutAQuarterFromTheOthers) {
    for (const char* n : {"n1", "n2", "n3"}) add_node(n);
    await_assignment({"n1", "n2", "n3"}, 10);
    const auto before = owners_now();
    add_node("n4");
    await_assignment({"n1", "n2", "n3", "n4"}, 5);
    int moved = 0;
    for (const auto& [id, node] : owners_now()) {
        if (node == before.at(id)) continue;
        ++moved;
        EXPECT_EQ(node, "n4") << id << " moved between old nodes";
    }
    // 30 cameras, 4 equal nodes: about 7.5; rendezvous puts 7 of these 30 names on n4.
    EXPECT_GE(moved, 4);
    EXPECT_LE(moved, 11);
}

TEST_F(OwnershipTest, ALeavingNodeHandsItsCamerasOverWithoutWaitingForItsLease) {
    for (const char* n : {"n1", "n2", "n3"}) add_node(n);
    await_assignment({"n1", "n2", "n3"}, 10);
    Node& leaver = *nodes_[1];
    const auto t0 = std::chrono::steady_clock::now();
    leaver.controller->stop();
    leaver.membership->stop(Membership::Leave::kRevoke);
    await_assignment({"n1", "n3"}, 5);
    EXPECT_LT(seconds_since(t0), kTtl);  // a handover, not a lease expiry
    for (const Interval& r : journal_.runs())
        if (r.node == leaver.name) {
            EXPECT_EQ(r.reason, "node leaving the cluster");
        }
}

TEST_F(OwnershipTest, SpecChangesRestartRemovalsStopAndAFailedStartWaitsForANewSpec) {
    add_node("solo");
    await_assignment({"solo"}, 10);
    auto epoch_of = [&](const std::string& id) {
        for (const auto& [cam, nodes] : journal_.running())
            if (cam == id && nodes.size() == 1) return nodes[0].second;
        return int64_t{-1};
    };
    const int64_t epoch = epoch_of("cam-1");
    put_spec("cam-1", R"({"max_fps": 5})");
    ASSERT_TRUE(wait_until([&] { return journal_.runs().size() == kCameras + 1; }, 3));
    EXPECT_EQ(epoch_of("cam-1"), epoch);  // the same owner key: the same epoch
    for (const Interval& r : journal_.runs())
        if (r.camera == "cam-1" && r.stop != LeaseClock::time_point::max()) {
            EXPECT_EQ(r.reason, "spec changed");
        }

    ASSERT_TRUE(client_->del(keys_.camera("cam-2")).is_ok());
    ASSERT_TRUE(wait_until([&] { return epoch_of("cam-2") < 0; }, 3));
    ASSERT_TRUE(wait_until([&] { return client_->get(keys_.owner("cam-2"))->kvs.empty(); }, 3));

    put_spec("cam-new", R"({"fail": true})");
    ASSERT_TRUE(wait_until([&] { return !client_->get(keys_.owner("cam-new"))->kvs.empty(); }, 3));
    ASSERT_TRUE(wait_until([&] { return !nodes_[0]->controller->last_error().empty(); }, 3));
    EXPECT_NE(nodes_[0]->controller->last_error().find("camera cam-new: start failed: this spec cannot start"),
              std::string::npos);
    EXPECT_LT(epoch_of("cam-new"), 0);
    put_spec("cam-new", "{}");
    ASSERT_TRUE(wait_until([&] { return epoch_of("cam-new") > 0; }, 3));
    await_assignment({"solo"}, 3);
}

TEST_F(OwnershipTest, AnEtcdOutageStopsCamerasAtTheDeadlineAndEverythingReturnsWithIt) {
    for (const char* n : {"n1", "n2", "n3"}) add_node(n);
    await_assignment({"n1", "n2", "n3"}, 10);
    std::map<std::string, int64_t> old_epoch;
    for (const auto& [id, nodes] : journal_.running()) old_epoch[id] = nodes[0].second;

    etcd_.kill();
    const auto killed = LeaseClock::now();
    // Each node keeps its cameras until its own deadline, then may_publish() turns false and they stop.
    std::map<std::string, LeaseClock::time_point> deadline;
    for (const auto& n : nodes_) {
        ASSERT_TRUE(wait_until([&] { return !n->membership->may_publish(); }, kTtl + 1)) << n->name;
        deadline[n->name] = n->membership->deadline();
        EXPECT_LE(deadline[n->name], LeaseClock::now());
        EXPECT_GT(deadline[n->name], killed);
    }
    ASSERT_TRUE(wait_until([&] { return journal_.running().empty(); }, 1)) << "cameras still run past the deadline";
    for (const Interval& r : journal_.runs()) {
        EXPECT_GE(r.stop, deadline[r.node]) << r.camera << " on " << r.node << " stopped before its deadline";
        EXPECT_LT(r.stop - deadline[r.node], std::chrono::milliseconds(300)) << r.camera;
        EXPECT_NE(r.reason.find("lease lost"), std::string::npos) << r.reason;
    }

    ASSERT_TRUE(etcd_.start()) << etcd_.log();
    await_assignment({"n1", "n2", "n3"}, 6);
    // New leases, new owner keys: every camera has a newer epoch.
    for (const auto& [id, nodes] : journal_.running()) EXPECT_GT(nodes[0].second, old_epoch.at(id)) << id;
}

}  // namespace
}  // namespace itscam::cluster
