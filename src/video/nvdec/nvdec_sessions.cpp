#include "video/nvdec/nvdec_sessions.h"

#include <map>
#include <memory>

namespace itscam::video {

NvdecSessions::NvdecSessions(int device, Clock::duration retry_after) : device_(device), retry_after_(retry_after) {}

NvdecSessions& NvdecSessions::of_device(int device) {
    static std::mutex mu;
    static auto* all = new std::map<int, std::unique_ptr<NvdecSessions>>();  // kept: decoders close at exit
    std::lock_guard lk(mu);
    auto& s = (*all)[device];
    if (!s) s = std::make_unique<NvdecSessions>(device);
    return *s;
}

Status NvdecSessions::refusal_locked(const std::string& what, Clock::time_point now) const {
    if (!capped_ || open_ < cap_ || now - refused_at_ >= retry_after_) return Status::ok();
    return unavailable(what + ": no NVDEC decoder session free on cuda:" + std::to_string(device_) +
                       " (the driver refused one with " + std::to_string(cap_) + " open in this process, and " +
                       std::to_string(open_) + " are open now)");
}

Status NvdecSessions::check(const std::string& what, Clock::time_point now) const {
    std::lock_guard lk(mu_);
    return refusal_locked(what, now);
}

Status NvdecSessions::admit(const std::string& what, Clock::time_point now) {
    std::lock_guard lk(mu_);
    Status st = refusal_locked(what, now);
    if (!st.is_ok()) {
        ++refusals_;
        return st;
    }
    // At the cap, past the period: this one tries, and the others wait for its answer or the next period.
    if (capped_ && open_ >= cap_) refused_at_ = now;
    return st;
}

void NvdecSessions::opened() {
    std::lock_guard lk(mu_);
    ++open_;
    if (capped_ && open_ > cap_) capped_ = false;  // the driver allows more now
}

void NvdecSessions::closed() {
    std::lock_guard lk(mu_);
    if (open_ > 0) --open_;
}

void NvdecSessions::refused(Clock::time_point now) {
    std::lock_guard lk(mu_);
    ++refusals_;
    capped_ = true;
    cap_ = open_;  // 0: not even one fits now
    refused_at_ = now;
}

void NvdecSessions::forget_cap() {
    std::lock_guard lk(mu_);
    capped_ = false;
}

int NvdecSessions::open_sessions() const {
    std::lock_guard lk(mu_);
    return open_;
}

int NvdecSessions::cap() const {
    std::lock_guard lk(mu_);
    return capped_ ? cap_ : -1;
}

int64_t NvdecSessions::refusals() const {
    std::lock_guard lk(mu_);
    return refusals_;
}

}  // namespace itscam::video
