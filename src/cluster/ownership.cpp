#include "cluster/ownership.h"

#include <algorithm>
#include <set>

namespace itscam::cluster {

namespace {

// Member names and capacities: when this changes, the desired owners may change.
std::string members_fingerprint(const ClusterView& v) {
    std::string f;
    for (const auto& [name, m] : v.members) f += name + "=" + std::to_string(m.info.capacity) + ";";
    return f;
}

}  // namespace

OwnershipController::OwnershipController(EtcdClient& client, Membership& membership, OwnershipOptions options,
                                         OwnershipCallbacks callbacks)
    : client_(client),
      membership_(membership),
      opt_(std::move(options)),
      cb_(std::move(callbacks)),
      keys_(membership.keys()) {}

OwnershipController::~OwnershipController() { stop(); }

Status OwnershipController::start() {
    if (!cb_.start || !cb_.stop) return invalid_argument("cluster ownership: start and stop callbacks are required");
    if (!(opt_.reconcile_interval_s > 0)) return invalid_argument("cluster ownership: reconcile interval must be > 0");
    if (reconcile_thread_.joinable()) return invalid_argument("cluster ownership: already started");
    // Lock order: the membership's listener lock, then mu_ (poke); so the listener is set outside mu_.
    membership_.set_listener([this] { poke(); });
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = false;
    reconcile_thread_ = std::thread([this] { reconcile_loop(); });
    guard_thread_ = std::thread([this] { guard_loop(); });
    return Status::ok();
}

void OwnershipController::stop() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    guard_cv_.notify_all();
    membership_.set_listener(nullptr);
    if (reconcile_thread_.joinable()) reconcile_thread_.join();
    if (guard_thread_.joinable()) guard_thread_.join();
    std::vector<std::pair<std::string, int64_t>> keys;
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (auto& [id, h] : held_) {
            stop_locked(h, "node leaving the cluster");
            keys.emplace_back(id, h.epoch);
        }
        held_.clear();
    }
    if (membership_.may_publish())
        for (const auto& [id, epoch] : keys) delete_owner_key(id, epoch);
}

void OwnershipController::poke() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        poked_ = true;
    }
    cv_.notify_all();
    guard_cv_.notify_all();
}

std::vector<HeldCamera> OwnershipController::held() const {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<HeldCamera> out;
    for (const auto& [id, h] : held_) out.push_back(h);
    return out;
}

std::string OwnershipController::last_error() const {
    std::lock_guard<std::mutex> lk(mu_);
    return last_error_;
}

void OwnershipController::note(const std::string& line) {
    if (opt_.log) opt_.log("cluster: " + membership_.node().name + ": " + line);
}

void OwnershipController::note_error(const std::string& e) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        last_error_ = e;
    }
    note(e);
}

void OwnershipController::start_locked(HeldCamera& h, const std::string& spec_json) {
    Status st;
    try {
        st = cb_.start(h.id, spec_json, h.epoch, h.lease);
    } catch (const std::exception& e) {
        st = internal_error(std::string("start threw: ") + e.what());
    } catch (...) {
        st = internal_error("start threw");
    }
    h.running = st.is_ok();
    if (st.is_ok()) {
        note("started camera " + h.id + " (epoch " + std::to_string(h.epoch) + ")");
    } else {
        last_error_ = "camera " + h.id + ": start failed: " + st.message();
        note(last_error_);
    }
}

void OwnershipController::stop_locked(HeldCamera& h, const std::string& reason) {
    if (!h.running) return;
    h.running = false;
    try {
        cb_.stop(h.id, reason);
    } catch (...) {
        last_error_ = "camera " + h.id + ": stop threw";
    }
    note("stopped camera " + h.id + " (epoch " + std::to_string(h.epoch) + "): " + reason);
}

// Every camera held under a lease that is no longer valid stops now; its owner key goes with the lease.
void OwnershipController::fence_locked() {
    for (auto it = held_.begin(); it != held_.end();) {
        if (membership_.may_publish(it->second.lease)) {
            ++it;
            continue;
        }
        stop_locked(it->second, "lease lost (deadline passed or lease replaced)");
        it = held_.erase(it);
    }
}

void OwnershipController::guard_loop() {
    std::unique_lock<std::mutex> lk(mu_);
    while (!stopping_) {
        fence_locked();
        // Wake at the deadline (it moves forward with every keepalive), on a lease change, or after an interval.
        const LeaseClock::time_point deadline = membership_.deadline();
        const LeaseClock::duration interval = seconds_to_lease_duration(opt_.reconcile_interval_s);
        LeaseClock::duration wait = interval;
        if (!held_.empty()) wait = std::min(wait, deadline - LeaseClock::now());
        guard_cv_.wait_for(lk, std::max(wait, LeaseClock::duration::zero()) + std::chrono::microseconds(200));
    }
}

void OwnershipController::reconcile_loop() {
    const auto interval = seconds_to_lease_duration(opt_.reconcile_interval_s);
    for (;;) {
        tick();
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait_for(lk, interval, [&] { return stopping_ || poked_; });
        if (stopping_) return;
        poked_ = false;
    }
}

void OwnershipController::tick() {
    const LeaseState ls = membership_.lease();
    if (!membership_.may_publish(ls.lease_id)) return;  // the guard fences; nothing to acquire
    auto head = client_.range_prefix(keys_.all(), 0, /*count_only=*/true);
    if (!head) {
        note_error("polling etcd: " + head.status().message());
        return;
    }
    if (head->revision == seen_revision_ && ls.generation == seen_generation_ && !dirty_) return;
    auto all = client_.range_prefix(keys_.all(), head->revision);
    if (!all) {
        note_error("reading the cluster: " + all.status().message());
        return;
    }
    std::vector<std::string> problems;
    const ClusterView view = make_cluster_view(*all, keys_, &problems);
    for (const std::string& p : problems) note("ignored " + p);
    seen_revision_ = head->revision;
    seen_generation_ = ls.generation;
    dirty_ = false;
    const std::string fp = members_fingerprint(view);
    const LeaseClock::time_point now = LeaseClock::now();
    if (fp != members_seen_) {
        members_seen_ = fp;
        members_changed_at_ = now;
    }
    const double settle = opt_.settle_s >= 0 ? opt_.settle_s : opt_.reconcile_interval_s;
    const bool settled = now - members_changed_at_ >= seconds_to_lease_duration(settle);
    if (!settled) dirty_ = true;  // look again once the member list has settled
    apply(view, ls, settled);
}

void OwnershipController::apply(const ClusterView& view, const LeaseState& ls, bool may_acquire) {
    const std::string& me = membership_.node().name;
    // A node whose own key is missing (or under another lease) is no member: it wants nothing.
    const auto self = view.members.find(me);
    const bool member = self != view.members.end() && self->second.lease == ls.lease_id;
    const std::map<std::string, std::string> desired = member ? desired_owners(view) : std::map<std::string, std::string>{};
    auto wants = [&](const std::string& id) {
        const auto it = desired.find(id);
        return it != desired.end() && it->second == me;
    };

    // 1. What this node holds.
    for (const HeldCamera& h : held()) {
        if (h.lease != ls.lease_id) continue;  // the guard's
        const auto owner = view.owners.find(h.id);
        const auto spec = view.cameras.find(h.id);
        if (owner == view.owners.end() || owner->second.epoch != h.epoch || owner->second.lease != h.lease) {
            std::lock_guard<std::mutex> lk(mu_);
            if (auto it = held_.find(h.id); it != held_.end()) {
                stop_locked(it->second, "owner key gone");
                held_.erase(it);
            }
        } else if (spec == view.cameras.end()) {
            release(h.id, "camera removed");
        } else if (!wants(h.id)) {
            const auto d = desired.find(h.id);
            release(h.id, d == desired.end() ? "this node is not a member" : "moved to " + d->second);
        } else if (spec->second.mod_revision != h.spec_revision) {
            std::lock_guard<std::mutex> lk(mu_);
            if (auto it = held_.find(h.id); it != held_.end() && membership_.may_publish()) {
                stop_locked(it->second, "spec changed");
                it->second.spec_revision = spec->second.mod_revision;
                start_locked(it->second, spec->second.json);
            }
        }
    }
    // 2. Owner keys under this node's lease that it does not hold (a release that failed, a controller restarted
    // under the same lease): adopt them when wanted, else release them.
    for (const auto& [id, o] : view.owners) {
        if (o.lease != ls.lease_id) continue;
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (held_.count(id)) continue;
        }
        const auto spec = view.cameras.find(id);
        if (spec != view.cameras.end() && wants(id)) {
            std::lock_guard<std::mutex> lk(mu_);
            if (!membership_.may_publish(ls.lease_id)) return;
            HeldCamera& h = held_[id];
            h = {id, o.epoch, ls.lease_id, spec->second.mod_revision, false};
            start_locked(h, spec->second.json);
        } else {
            delete_owner_key(id, o.epoch);
        }
    }
    // 3. Cameras this node should own that nobody holds.
    for (const auto& [id, spec] : view.cameras) {
        if (!wants(id) || view.owners.count(id)) continue;
        if (!may_acquire) continue;
        acquire(id, spec, ls);
    }
}

void OwnershipController::release(const std::string& id, const std::string& reason) {
    int64_t epoch = 0;
    {
        std::lock_guard<std::mutex> lk(mu_);
        const auto it = held_.find(id);
        if (it == held_.end()) return;
        stop_locked(it->second, reason);  // stopped before the key goes: the next owner cannot overlap
        epoch = it->second.epoch;
        held_.erase(it);
    }
    delete_owner_key(id, epoch);
}

void OwnershipController::delete_owner_key(const std::string& id, int64_t epoch) {
    const std::string key = keys_.owner(id);
    auto r = client_.txn({Compare::create_revision(key, epoch)}, {TxnOp::del(key)});
    if (!r) {
        dirty_ = true;  // still ours: released again at the next tick
        note_error("releasing " + key + ": " + r.status().message());
    }
}

void OwnershipController::acquire(const std::string& id, const CameraSpec& spec, const LeaseState& ls) {
    const std::string key = keys_.owner(id);
    const std::string record = owner_record_json({membership_.node().name, ls.lease_id});
    auto r = client_.txn({Compare::create_revision(key, 0)}, {TxnOp::put(key, record, ls.lease_id)});
    if (!r) {
        dirty_ = true;
        note_error("acquiring " + key + ": " + r.status().message());
        return;
    }
    if (!r->succeeded) return;  // another node was faster; the next read shows who
    std::lock_guard<std::mutex> lk(mu_);
    // The lease may have been lost while the txn was in flight: the key then lapses with it.
    if (!membership_.may_publish(ls.lease_id)) return;
    HeldCamera& h = held_[id];
    h = {id, r->revision, ls.lease_id, spec.mod_revision, false};
    start_locked(h, spec.json);
}

}  // namespace itscam::cluster
