// Camera ownership: which cameras this node runs, decided by weighted rendezvous over the live members and made
// exclusive by etcd transactions on owner keys (docs/cluster.md).
//
// A reconcile thread polls etcd every interval (one count_only range answers the store's revision; only when it
// moved, or something is still pending, is the cluster read again, all at that one revision) and then:
//   - stops and releases each camera it holds that is gone, moved to another desired owner, or whose owner key is
//     no longer its own (stop callback first, then a txn deletes the owner key only if its create_revision is
//     still the epoch this node created);
//   - restarts a held camera whose spec changed (same epoch: the key never changed hands);
//   - acquires each camera it is the desired owner of and that has no owner key: txn compare create_revision == 0
//     -> put the owner key under this node's lease; the put's revision is the camera's epoch, handed to start();
//     a camera whose owner key is another node's waits until that key is released or its lease lapses;
//   - acquires only once the member list has been unchanged for `settle_s` (a cluster starting up does not hand
//     cameras around while its members register).
// A guard thread fences: at the lease deadline (Membership::deadline) and on every lease change it stops each
// camera held under a lease that is no longer valid, without waiting on etcd.
//
// Callbacks run on the controller's threads, one at a time (under its lock): they should return promptly (hand the
// camera to the pipeline, not wait for its first frame).
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_view.h"
#include "cluster/etcd_client.h"
#include "cluster/membership.h"

namespace itscam::cluster {

struct OwnershipCallbacks {
    // Start camera `id` from its spec (the JSON under <prefix>/cameras/<id>); everything it publishes carries
    // `epoch`, and is published only while Membership::may_publish(lease) holds (`lease`: the one its owner key
    // was put under). A failure is logged and the node keeps the camera without running it until its spec changes
    // (any other node would fail on the same spec).
    std::function<Status(const std::string& id, const std::string& spec_json, int64_t epoch, int64_t lease)> start;
    std::function<void(const std::string& id, const std::string& reason)> stop;
};

struct OwnershipOptions {
    double reconcile_interval_s = 1.0;
    double settle_s = -1;  // negative: one reconcile interval
    // Progress and errors, one line each, from the controller's threads: must be thread-safe. May be empty.
    std::function<void(const std::string&)> log;
};

struct HeldCamera {
    std::string id;
    int64_t epoch = 0;
    int64_t lease = 0;
    int64_t spec_revision = 0;
    bool running = false;  // false: start failed (kept until the spec changes)
};

class OwnershipController {
public:
    // `client` and `membership` must outlive the controller.
    OwnershipController(EtcdClient& client, Membership& membership, OwnershipOptions options,
                        OwnershipCallbacks callbacks);
    ~OwnershipController();  // stop()
    OwnershipController(const OwnershipController&) = delete;
    OwnershipController& operator=(const OwnershipController&) = delete;

    Status start();
    // Stops every held camera, releases its owner key (best effort) and joins the threads.
    void stop();
    // Reconcile now instead of at the next interval.
    void poke();

    std::vector<HeldCamera> held() const;
    std::string last_error() const;

private:
    void reconcile_loop();
    void guard_loop();
    void tick();
    void apply(const ClusterView& view, const LeaseState& ls, bool may_acquire);
    void release(const std::string& id, const std::string& reason);
    void delete_owner_key(const std::string& id, int64_t epoch);
    void acquire(const std::string& id, const CameraSpec& spec, const LeaseState& ls);
    // Under mu_.
    void start_locked(HeldCamera& h, const std::string& spec_json);
    void stop_locked(HeldCamera& h, const std::string& reason);
    void fence_locked();
    void note(const std::string& line);
    void note_error(const std::string& e);

    EtcdClient& client_;
    Membership& membership_;
    OwnershipOptions opt_;
    OwnershipCallbacks cb_;
    ClusterKeys keys_;

    mutable std::mutex mu_;
    std::condition_variable cv_;        // reconcile loop: poke / stop
    std::condition_variable guard_cv_;  // guard: lease change / stop
    bool stopping_ = false;
    bool poked_ = false;
    std::map<std::string, HeldCamera> held_;
    std::string last_error_;
    std::thread reconcile_thread_, guard_thread_;

    // The reconcile thread's own state.
    int64_t seen_revision_ = -1;
    uint64_t seen_generation_ = 0;
    bool dirty_ = true;
    std::string members_seen_;
    LeaseClock::time_point members_changed_at_{};
};

}  // namespace itscam::cluster
