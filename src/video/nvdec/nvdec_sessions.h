// NVDEC decoder sessions of this process, per GPU: how many are open, and how many the driver allowed when it last
// refused one. No driver types: the accounting is plain C++ (and tested without a GPU).
//
// The driver caps decoder sessions per process (378 decoders of 720p H.264 on the H200: the 379th
// cuvidCreateDecoder answers CUDA_ERROR_OUT_OF_MEMORY). Creating a session is slow and serialised in the driver,
// so hundreds of cameras that start at once queue behind each other's creates, and the ones past the cap only learn
// it at the end of the queue (62-81 s after they were added, measured). Once the driver has refused a session, a
// new one is refused here at once while as many are open as were then: the camera goes straight to the CPU decoder.
// After `retry_after` one attempt is let through again (memory freed by other processes, a driver that allows
// more), and its answer renews or lifts the cap.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/status.h"

namespace itscam::video {

class NvdecSessions {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds kRetryAfter{60};

    explicit NvdecSessions(int device, std::chrono::steady_clock::duration retry_after = kRetryAfter);

    // The process-wide accounting of CUDA device `device` (one object per ordinal, never destroyed).
    static NvdecSessions& of_device(int device);

    // OK when a new session may be tried now; kUnavailable, naming `what` (a masked URL) and the cap, when the driver
    // refused one with as many open as now, less than retry_after ago.
    // Taking the one attempt that is let through after retry_after (admit) is for the caller that creates the
    // session next; check() asks the same without taking it (a reader deciding where to decode, before it opens).
    Status admit(const std::string& what, Clock::time_point now = Clock::now());
    Status check(const std::string& what, Clock::time_point now = Clock::now()) const;
    void opened();                                    // a session was created
    void closed();                                    // one was destroyed
    void refused(Clock::time_point now = Clock::now());  // the driver refused one (out of memory): the cap is the open count

    void forget_cap();  // as if the driver had never refused a session (tests)

    int open_sessions() const;
    // The open count at the last refusal; -1 while none was refused, or once a later create succeeded above it.
    int cap() const;
    int64_t refusals() const;  // by the driver, plus those answered here at once

private:
    Status refusal_locked(const std::string& what, Clock::time_point now) const;

    const int device_;
    const Clock::duration retry_after_;
    mutable std::mutex mu_;
    int open_ = 0;
    bool capped_ = false;
    int cap_ = 0;
    Clock::time_point refused_at_{};
    int64_t refusals_ = 0;
};

}  // namespace itscam::video
