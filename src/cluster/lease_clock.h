// The clock of lease deadlines: CLOCK_BOOTTIME, a steady clock that also counts the time the machine was
// suspended. CLOCK_MONOTONIC (std::chrono::steady_clock) stops during a suspend, so a node resumed after its lease
// lapsed at etcd would still believe its deadline ahead and publish next to the camera's new owner.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace itscam::cluster {

struct LeaseClock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<LeaseClock>;
    static constexpr bool is_steady = true;

    static time_point now() noexcept {
        timespec ts{};
        ::clock_gettime(CLOCK_BOOTTIME, &ts);
        return time_point(duration(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec));
    }
};

inline LeaseClock::duration seconds_to_lease_duration(double s) {
    return std::chrono::duration_cast<LeaseClock::duration>(std::chrono::duration<double>(s));
}

}  // namespace itscam::cluster
