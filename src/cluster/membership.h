// Cluster membership: this node's lease and its registration under it (<prefix>/nodes/<name>, NodeInfo JSON).
//
// A background thread grants a lease (the TTL etcd returns is the one used), registers the node key under it
// (a txn: created only when absent, so two live processes never share a name), and renews the lease every
// TTL / 3, sooner after a failed renewal. The lease's local deadline is
//   (when the last successful keepalive or grant was SENT) + (the TTL etcd answered) - safety margin,
// on LeaseClock (CLOCK_BOOTTIME): etcd renews the lease when it handles the request, which is after it was sent,
// so the lease can only outlive this deadline. may_publish() is false from the deadline on: a node cut off from
// etcd (or paused, or suspended) stops publishing before another node can take its cameras over.
//
// Once the deadline has passed, the lease is lost for good: the thread revokes it (best effort: this deletes its
// keys at once if etcd kept the lease, as a restarted etcd does) and registers again under a new lease as soon as
// etcd answers. Every lease change (granted, lost, stopped) bumps generation and calls the listener.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/cluster_keys.h"
#include "cluster/etcd_client.h"
#include "cluster/lease_clock.h"

namespace itscam::cluster {

struct MembershipOptions {
    std::string key_prefix = "/itscam";
    NodeInfo node;
    int64_t lease_ttl_s = 10;
    // Taken off the deadline: covers clock-rate differences and messages already on their way at the deadline.
    // Negative: automatic (a tenth of the TTL, within 0.2 .. 1 s).
    double safety_margin_s = -1;
    double retry_interval_s = 0.5;  // after a failed grant or registration, and between keepalive retries (capped
                                    // at TTL / 6)
    // Progress and errors, one line each, from the keepalive thread: must be thread-safe. May be empty.
    std::function<void(const std::string&)> log;
};

struct LeaseState {
    int64_t lease_id = 0;  // 0: no lease (not registered yet, lost, or stopped)
    LeaseClock::time_point deadline{};
    uint64_t generation = 0;
};

class Membership {
public:
    // `client` must outlive this object.
    Membership(EtcdClient& client, MembershipOptions options);
    ~Membership();  // stop(Leave::kRevoke)
    Membership(const Membership&) = delete;
    Membership& operator=(const Membership&) = delete;

    // Starts the keepalive thread (registration happens there, retried until etcd answers). kInvalidArgument for
    // a bad option (empty name, capacity <= 0, TTL < 1).
    Status start();

    enum class Leave {
        kRevoke,   // revoke the lease: the node key (and every key under the lease) goes at once
        kAbandon,  // stop renewing and leave the lease to lapse at etcd, as a crashed node does (final: a later
                   // stop(kRevoke), the destructor's included, revokes nothing)
    };
    void stop(Leave how);

    // Cheap, lock-free, callable from any thread: a lease is held and its deadline has not passed.
    bool may_publish() const;
    // The same, for work done under one lease: `lease` is the current lease and its deadline has not passed. A
    // camera acquired under a lease that was lost publishes nothing more, even once the node holds a new lease
    // (a paused node wakes, registers again within a round trip, and the guard stops its old cameras a moment
    // later: this is what fences that moment).
    bool may_publish(int64_t lease) const;
    // The current lease's deadline; once the lease is lost or given up, when publishing ended (the epoch before
    // the first lease).
    LeaseClock::time_point deadline() const;
    LeaseState lease() const;
    std::string last_error() const;
    const NodeInfo& node() const { return opt_.node; }
    const ClusterKeys& keys() const { return keys_; }
    LeaseClock::duration safety_margin() const { return margin_; }

    // Called (from the keepalive thread or stop()) after every lease change. Once set_listener returns, the
    // previous listener is not running and is not called again.
    void set_listener(std::function<void()> fn);

private:
    void run();
    bool register_node();                 // grant + create the node key; false (and last_error) on failure
    void keepalive_once();                // renew; marks the lease lost when etcd no longer has it
    void set_lease(int64_t id, LeaseClock::time_point deadline);
    void lose_lease(const std::string& why);
    void end_deadline_locked();
    void note_error(const std::string& e);
    void wait_for(LeaseClock::duration d);
    void notify_listener();

    EtcdClient& client_;
    MembershipOptions opt_;
    ClusterKeys keys_;
    LeaseClock::duration margin_{};
    LeaseClock::duration retry_{};
    std::mutex listener_mu_;  // held while the listener runs
    std::function<void()> listener_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool abandoned_ = false;
    LeaseState state_;
    int64_t stale_lease_ = 0;  // a lost lease still to revoke
    int64_t ttl_s_ = 0;        // what etcd granted
    LeaseClock::time_point last_sent_{};  // of the last successful keepalive / grant
    std::string last_error_;
    std::atomic<int64_t> deadline_ns_{0};  // 0: never had a lease
    std::atomic<int64_t> lease_id_{0};     // state_.lease_id, for may_publish(lease)
    std::thread thread_;
};

}  // namespace itscam::cluster
