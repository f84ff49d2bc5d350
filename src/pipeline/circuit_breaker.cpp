#include "pipeline/circuit_breaker.h"

#include <algorithm>
#include <cstdio>

namespace itscam::pipeline {

const char* circuit_state_name(CircuitState s) {
    switch (s) {
        case CircuitState::kClosed: return "closed";
        case CircuitState::kOpen: return "open";
        case CircuitState::kHalfOpen: return "half_open";
    }
    return "?";
}

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions opt, std::function<Clock::time_point()> now)
    : opt_(opt), now_(now ? std::move(now) : std::function<Clock::time_point()>(Clock::now)) {
    opt_.failure_threshold = std::max(1, opt_.failure_threshold);
    opt_.oom_threshold = std::max(1, opt_.oom_threshold);
    opt_.half_open_max_calls = std::max(1, opt_.half_open_max_calls);
    opt_.recovery_timeout_s = std::max(0.0, opt_.recovery_timeout_s);
    ring_.reserve(kMaxTransitions);
}

void CircuitBreaker::transition_locked(CircuitState to, std::string reason, std::vector<CircuitTransition>& fired) {
    CircuitTransition t{st_.state, to, std::move(reason), std::chrono::system_clock::now()};
    st_.state = to;
    ++st_.transitions;
    if (to == CircuitState::kOpen) ++st_.opens;
    half_open_admitted_ = 0;
    half_open_successes_ = 0;
    if (ring_.size() < kMaxTransitions) {
        ring_.push_back(t);
    } else {
        ring_[ring_pos_] = t;
        ring_pos_ = (ring_pos_ + 1) % kMaxTransitions;
    }
    fired.push_back(std::move(t));
}

void CircuitBreaker::open_locked(std::string reason, std::vector<CircuitTransition>& fired) {
    opened_at_ = now_();  // (re)starts the recovery timer
    if (st_.state != CircuitState::kOpen) transition_locked(CircuitState::kOpen, std::move(reason), fired);
}

void CircuitBreaker::notify(const std::vector<CircuitTransition>& fired) {
    if (fired.empty()) return;
    std::vector<std::shared_ptr<TransitionCallback>> cbs;
    {
        std::lock_guard<std::mutex> lock(mu_);
        cbs = callbacks_;
    }
    for (const auto& t : fired)
        for (const auto& cb : cbs) (*cb)(t);
}

bool CircuitBreaker::allow() {
    std::vector<CircuitTransition> fired;
    bool ok = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        switch (st_.state) {
            case CircuitState::kClosed:
                ok = true;
                break;
            case CircuitState::kOpen: {
                if (recovery_due_locked()) {
                    char buf[96];
                    std::snprintf(buf, sizeof buf, "recovery timeout elapsed (%g s)", opt_.recovery_timeout_s);
                    transition_locked(CircuitState::kHalfOpen, buf, fired);
                    half_open_admitted_ = 1;
                    ok = true;
                }
                break;
            }
            case CircuitState::kHalfOpen:
                if (half_open_admitted_ < opt_.half_open_max_calls) {
                    ++half_open_admitted_;
                    ok = true;
                }
                break;
        }
        if (!ok) ++st_.rejected;
    }
    notify(fired);
    return ok;
}

bool CircuitBreaker::recovery_due_locked() const {
    return now_() - opened_at_ >= std::chrono::duration<double>(opt_.recovery_timeout_s);
}

bool CircuitBreaker::admits() const {
    std::lock_guard<std::mutex> lock(mu_);
    switch (st_.state) {
        case CircuitState::kClosed:
            return true;
        case CircuitState::kOpen:
            return recovery_due_locked();
        case CircuitState::kHalfOpen:
            return half_open_admitted_ < opt_.half_open_max_calls;
    }
    return false;
}

void CircuitBreaker::record(const Status& st) {
    const DeviceErrorClass cls = classify_device_error(st);
    std::vector<CircuitTransition> fired;
    {
        std::lock_guard<std::mutex> lock(mu_);
        const bool half_open = st_.state == CircuitState::kHalfOpen;
        // A trial is outstanding when more slots were taken than outcomes seen (guards against late reports from
        // calls admitted before the circuit opened).
        const bool trial_outstanding = half_open && half_open_admitted_ > half_open_successes_;
        switch (cls) {
            case DeviceErrorClass::kNotDevice:
                if (trial_outstanding) --half_open_admitted_;  // the trial proved nothing: free its slot
                break;
            case DeviceErrorClass::kNone:
                ++st_.successes;
                st_.consecutive_failures = 0;
                st_.consecutive_oom = 0;
                if (trial_outstanding && ++half_open_successes_ >= opt_.half_open_max_calls)
                    transition_locked(CircuitState::kClosed,
                                      std::to_string(half_open_successes_) + " trial calls succeeded", fired);
                break;
            case DeviceErrorClass::kTransient:
            case DeviceErrorClass::kOutOfMemory:
            case DeviceErrorClass::kSticky: {
                ++st_.failures;
                ++st_.consecutive_failures;
                if (cls == DeviceErrorClass::kOutOfMemory) ++st_.consecutive_oom;
                const std::string what = st.to_string();
                if (cls == DeviceErrorClass::kSticky) {
                    st_.needs_rebuild = true;
                    if (st_.state != CircuitState::kOpen) open_locked("sticky device error: " + what, fired);
                } else if (half_open) {
                    open_locked("trial call failed: " + what, fired);
                } else if (st_.state == CircuitState::kClosed) {
                    if (cls == DeviceErrorClass::kOutOfMemory && st_.consecutive_oom >= opt_.oom_threshold) {
                        open_locked(std::to_string(st_.consecutive_oom) + " out-of-memory failures: " + what, fired);
                    } else if (st_.consecutive_failures >= opt_.failure_threshold) {
                        open_locked(std::to_string(st_.consecutive_failures) + " consecutive failures: " + what,
                                    fired);
                    }
                }
                // Open: late reports of calls admitted before it opened count in the stats only.
                break;
            }
        }
    }
    notify(fired);
}

CircuitState CircuitBreaker::state() const {
    std::lock_guard<std::mutex> lock(mu_);
    return st_.state;
}

CircuitStats CircuitBreaker::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return st_;
}

std::vector<CircuitTransition> CircuitBreaker::transitions() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<CircuitTransition> out;
    out.reserve(ring_.size());
    for (size_t i = 0; i < ring_.size(); ++i) out.push_back(ring_[(ring_pos_ + i) % ring_.size()]);
    return out;
}

void CircuitBreaker::on_transition(TransitionCallback cb) {
    if (!cb) return;
    std::lock_guard<std::mutex> lock(mu_);
    callbacks_.push_back(std::make_shared<TransitionCallback>(std::move(cb)));
}

void CircuitBreaker::rebuilt() {
    std::lock_guard<std::mutex> lock(mu_);
    st_.needs_rebuild = false;
    st_.consecutive_failures = 0;
    st_.consecutive_oom = 0;
}

void CircuitBreaker::force_open(const std::string& reason) {
    std::vector<CircuitTransition> fired;
    {
        std::lock_guard<std::mutex> lock(mu_);
        open_locked("forced: " + reason, fired);
    }
    notify(fired);
}

void CircuitBreaker::reset() {
    std::vector<CircuitTransition> fired;
    {
        std::lock_guard<std::mutex> lock(mu_);
        st_.consecutive_failures = 0;
        st_.consecutive_oom = 0;
        half_open_admitted_ = 0;
        half_open_successes_ = 0;
        if (st_.state != CircuitState::kClosed) transition_locked(CircuitState::kClosed, "reset", fired);
    }
    notify(fired);
}

}  // namespace itscam::pipeline
