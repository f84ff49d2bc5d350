#include "cluster/membership.h"

#include <algorithm>
#include <cmath>

namespace itscam::cluster {

namespace {

int64_t to_ns(LeaseClock::time_point t) { return t.time_since_epoch().count(); }

std::string lease_name(int64_t id) { return std::to_string(id); }

}  // namespace

Membership::Membership(EtcdClient& client, MembershipOptions options)
    : client_(client), opt_(std::move(options)), keys_(opt_.key_prefix) {
    const double ttl = static_cast<double>(opt_.lease_ttl_s);
    const double margin = opt_.safety_margin_s >= 0 ? opt_.safety_margin_s : std::clamp(ttl / 10, 0.2, 1.0);
    margin_ = seconds_to_lease_duration(margin);
    retry_ = seconds_to_lease_duration(std::max(0.01, opt_.retry_interval_s));
}

Membership::~Membership() { stop(Leave::kRevoke); }

Status Membership::start() {
    if (opt_.node.name.empty()) return invalid_argument("cluster membership: the node has no name");
    if (!(opt_.node.capacity > 0) || !std::isfinite(opt_.node.capacity))
        return invalid_argument("cluster membership: capacity must be > 0");
    if (opt_.lease_ttl_s < 1) return invalid_argument("cluster membership: lease TTL must be >= 1 s");
    if (margin_ >= std::chrono::seconds(opt_.lease_ttl_s))
        return invalid_argument("cluster membership: the safety margin must be shorter than the lease TTL");
    std::lock_guard<std::mutex> lk(mu_);
    if (thread_.joinable() || abandoned_) return invalid_argument("cluster membership: already started");
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
    return Status::ok();
}

void Membership::stop(Leave how) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    int64_t id = 0;
    {
        std::lock_guard<std::mutex> lk(mu_);
        // Abandoned: the lease lapses at etcd and may_publish() turns false at its deadline, whatever comes next.
        if (how == Leave::kAbandon) abandoned_ = true;
        if (abandoned_ || state_.lease_id == 0) return;
        id = state_.lease_id;
        state_.lease_id = 0;
        ++state_.generation;
        end_deadline_locked();
        lease_id_.store(0);
    }
    if (Status st = client_.lease_revoke(id); !st && st.code() != StatusCode::kNotFound)
        note_error("revoking lease " + lease_name(id) + " on leave: " + st.message());
    notify_listener();
}

// The deadline becomes now, unless it has already passed: may_publish() is false from here on, and deadline()
// still says when publishing ended.
void Membership::end_deadline_locked() {
    const int64_t now = to_ns(LeaseClock::now());
    if (deadline_ns_.load() > now) deadline_ns_.store(now, std::memory_order_release);
    state_.deadline = deadline();
}

void Membership::set_listener(std::function<void()> fn) {
    std::lock_guard<std::mutex> lk(listener_mu_);
    listener_ = std::move(fn);
}

void Membership::notify_listener() {
    std::lock_guard<std::mutex> lk(listener_mu_);
    if (listener_) listener_();
}

bool Membership::may_publish() const {
    const int64_t d = deadline_ns_.load(std::memory_order_acquire);
    return d != 0 && to_ns(LeaseClock::now()) < d;
}

// A lease change stores deadline 0, then the id, then the new deadline (set_lease): an id read twice, unchanged,
// around the deadline pairs that deadline with that id, or the deadline is 0 (no publishing, for the moment of
// the change).
bool Membership::may_publish(int64_t lease) const {
    if (lease == 0) return false;
    for (;;) {
        const int64_t id = lease_id_.load();
        const int64_t d = deadline_ns_.load();
        if (lease_id_.load() != id) continue;
        return id == lease && d != 0 && to_ns(LeaseClock::now()) < d;
    }
}

LeaseClock::time_point Membership::deadline() const {
    return LeaseClock::time_point(LeaseClock::duration(deadline_ns_.load(std::memory_order_acquire)));
}

LeaseState Membership::lease() const {
    std::lock_guard<std::mutex> lk(mu_);
    return state_;
}

std::string Membership::last_error() const {
    std::lock_guard<std::mutex> lk(mu_);
    return last_error_;
}

void Membership::note_error(const std::string& e) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        last_error_ = e;
    }
    if (opt_.log) opt_.log("cluster: " + opt_.node.name + ": " + e);
}

void Membership::wait_for(LeaseClock::duration d) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::max(d, LeaseClock::duration::zero()), [&] { return stopping_; });
}

void Membership::set_lease(int64_t id, LeaseClock::time_point deadline) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        const bool changed = state_.lease_id != id;
        state_.lease_id = id;
        state_.deadline = deadline;
        if (changed) {
            ++state_.generation;
            deadline_ns_.store(0);
            lease_id_.store(id);
        }
        deadline_ns_.store(to_ns(deadline));
        last_error_.clear();
        if (!changed) return;
    }
    notify_listener();
}

void Membership::lose_lease(const std::string& why) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (state_.lease_id == 0) return;
        stale_lease_ = state_.lease_id;
        state_.lease_id = 0;
        ++state_.generation;
        end_deadline_locked();
        lease_id_.store(0);
    }
    note_error("lease " + lease_name(stale_lease_) + " lost: " + why);
    notify_listener();
}

bool Membership::register_node() {
    if (stale_lease_ != 0) {
        // Revoking deletes the old node and owner keys at once (a restarted etcd keeps leases alive for another
        // TTL); a lease etcd no longer has is already gone.
        const Status st = client_.lease_revoke(stale_lease_);
        if (st || st.code() == StatusCode::kNotFound) {
            stale_lease_ = 0;
        } else {
            note_error("revoking the lost lease: " + st.message());
            return false;
        }
    }
    const LeaseClock::time_point sent = LeaseClock::now();
    auto grant = client_.lease_grant(opt_.lease_ttl_s);
    if (!grant) {
        note_error("lease grant: " + grant.status().message());
        return false;
    }
    const std::string key = keys_.node(opt_.node.name);
    auto txn = client_.txn({Compare::create_revision(key, 0)}, {TxnOp::put(key, node_info_json(opt_.node), grant->id)},
                           {TxnOp::get(key)});
    std::string failure;
    if (!txn) {
        failure = "registering " + key + ": " + txn.status().message();
    } else if (!txn->succeeded) {
        int64_t holder = 0;
        if (!txn->ranges.empty() && !txn->ranges[0].kvs.empty()) holder = txn->ranges[0].kvs[0].lease;
        failure = "node name '" + opt_.node.name + "' is registered by another live process (lease " +
                  lease_name(holder) + "): waiting for it to leave or its lease to lapse";
    }
    const LeaseClock::time_point deadline = sent + std::chrono::seconds(grant->ttl_s) - margin_;
    if (failure.empty() && LeaseClock::now() >= deadline) failure = "registration took longer than the lease";
    if (!failure.empty()) {
        if (Status st = client_.lease_revoke(grant->id); !st) stale_lease_ = grant->id;  // retried before the next
        note_error(failure);
        return false;
    }
    {
        std::lock_guard<std::mutex> lk(mu_);
        ttl_s_ = grant->ttl_s;
        last_sent_ = sent;
    }
    set_lease(grant->id, deadline);
    if (opt_.log)
        opt_.log("cluster: " + opt_.node.name + ": registered with lease " + lease_name(grant->id) + " (TTL " +
                 std::to_string(grant->ttl_s) + " s)");
    return true;
}

void Membership::keepalive_once() {
    const LeaseState s = lease();
    const LeaseClock::time_point sent = LeaseClock::now();
    auto ttl = client_.lease_keepalive(s.lease_id);
    if (!ttl) {
        note_error("keepalive: " + ttl.status().message());
        return;
    }
    if (*ttl <= 0) {
        lose_lease("etcd no longer has it (expired or revoked)");
        return;
    }
    // A deadline that has passed is never revived: the answer may have come back after it.
    if (LeaseClock::now() >= s.deadline) {
        lose_lease("the keepalive answered after the deadline");
        return;
    }
    {
        std::lock_guard<std::mutex> lk(mu_);
        ttl_s_ = *ttl;
        last_sent_ = sent;
    }
    set_lease(s.lease_id, sent + std::chrono::seconds(*ttl) - margin_);
}

void Membership::run() {
    for (;;) {
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (stopping_) return;
        }
        const LeaseState s = lease();
        if (s.lease_id == 0) {
            if (!register_node()) wait_for(retry_);
            continue;
        }
        LeaseClock::time_point next;
        LeaseClock::duration retry;
        {
            std::lock_guard<std::mutex> lk(mu_);
            const LeaseClock::duration period = std::chrono::seconds(ttl_s_) / 3;
            next = last_sent_ + period;
            retry = std::min(retry_, period / 2);
        }
        // After a failed keepalive (next already behind us) the next try comes after `retry`.
        const LeaseClock::time_point now = LeaseClock::now();
        if (next <= now) next = now + retry;
        wait_for(std::min(next, s.deadline) - now);
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (stopping_) return;
        }
        if (LeaseClock::now() >= s.deadline) {
            lose_lease("no keepalive succeeded before the deadline");
            continue;
        }
        keepalive_once();
    }
}

}  // namespace itscam::cluster
