#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "pipeline/circuit_breaker.h"

namespace itscam::pipeline {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand.
struct FakeClock {
    CircuitBreaker::Clock::time_point t{std::chrono::hours(1)};
    std::function<CircuitBreaker::Clock::time_point()> fn() {
        return [this] { return t; };
    }
};

CircuitBreakerOptions opts(int threshold = 15, double timeout_s = 30, int half_open = 10, int oom = 3) {
    CircuitBreakerOptions o;
    o.failure_threshold = threshold;
    o.recovery_timeout_s = timeout_s;
    o.half_open_max_calls = half_open;
    o.oom_threshold = oom;
    return o;
}

const Status kTransient = device_error("CUDA error 999 (unspecified launch failure)");
const Status kOom = out_of_memory("CUDA out of memory");
const Status kLost = device_lost("CUDA error 700 (an illegal memory access was encountered)");

// Opens `cb` with `n` transient failures (asserting it was closed before).
void fail_n(CircuitBreaker& cb, int n, const Status& st = kTransient) {
    for (int i = 0; i < n; ++i) {
        ASSERT_TRUE(cb.allow());
        cb.record(st);
    }
}

TEST(CircuitBreaker, ClassifiesDeviceErrors) {
    EXPECT_EQ(classify_device_error(Status::ok()), DeviceErrorClass::kNone);
    EXPECT_EQ(classify_device_error(kTransient), DeviceErrorClass::kTransient);
    EXPECT_EQ(classify_device_error(internal_error("x")), DeviceErrorClass::kTransient);
    EXPECT_EQ(classify_device_error(unavailable("x")), DeviceErrorClass::kTransient);
    EXPECT_EQ(classify_device_error(kOom), DeviceErrorClass::kOutOfMemory);
    EXPECT_EQ(classify_device_error(kLost), DeviceErrorClass::kSticky);
    EXPECT_EQ(classify_device_error(invalid_argument("x")), DeviceErrorClass::kNotDevice);
    EXPECT_EQ(classify_device_error(corrupt("x")), DeviceErrorClass::kNotDevice);
    EXPECT_EQ(classify_device_error(unsupported("x")), DeviceErrorClass::kNotDevice);
    EXPECT_EQ(classify_device_error(cancelled("x")), DeviceErrorClass::kNotDevice);
    EXPECT_STREQ(device_error_class_name(DeviceErrorClass::kSticky), "sticky");
    EXPECT_STREQ(circuit_state_name(CircuitState::kHalfOpen), "half_open");
    EXPECT_STREQ(circuit_state_name(CircuitState::kClosed), "closed");
    EXPECT_STREQ(circuit_state_name(CircuitState::kOpen), "open");
}

TEST(CircuitBreaker, OpensAtExactlyTheThreshold) {
    FakeClock clk;
    CircuitBreaker cb(opts(), clk.fn());
    fail_n(cb, 14);
    EXPECT_EQ(cb.state(), CircuitState::kClosed);
    EXPECT_EQ(cb.stats().consecutive_failures, 14);
    ASSERT_TRUE(cb.allow());
    cb.record(kTransient);
    EXPECT_EQ(cb.state(), CircuitState::kOpen);
    const CircuitStats s = cb.stats();
    EXPECT_EQ(s.failures, 15);
    EXPECT_EQ(s.opens, 1);
    EXPECT_FALSE(s.needs_rebuild);
    EXPECT_FALSE(cb.allow());
    EXPECT_EQ(cb.stats().rejected, 1);
}

TEST(CircuitBreaker, SuccessResetsConsecutiveCount) {
    FakeClock clk;
    CircuitBreaker cb(opts(), clk.fn());
    for (int round = 0; round < 5; ++round) {
        fail_n(cb, 14);
        cb.record_success();
    }
    EXPECT_EQ(cb.state(), CircuitState::kClosed);
    const CircuitStats s = cb.stats();
    EXPECT_EQ(s.failures, 70);
    EXPECT_EQ(s.successes, 5);
    EXPECT_EQ(s.consecutive_failures, 0);
    EXPECT_EQ(s.opens, 0);
}

TEST(CircuitBreaker, OomThreshold) {
    FakeClock clk;
    CircuitBreaker cb(opts(), clk.fn());
    fail_n(cb, 2, kOom);
    EXPECT_EQ(cb.state(), CircuitState::kClosed);
    cb.record_success();  // resets the OOM streak
    EXPECT_EQ(cb.stats().consecutive_oom, 0);
    fail_n(cb, 2, kOom);
    EXPECT_EQ(cb.state(), CircuitState::kClosed);
    EXPECT_EQ(cb.stats().consecutive_oom, 2);
    fail_n(cb, 1, kOom);
    EXPECT_EQ(cb.state(), CircuitState::kOpen);
    EXPECT_EQ(cb.stats().consecutive_failures, 3);  // well below the general threshold
    const auto tr = cb.transitions();
    ASSERT_EQ(tr.size(), 1u);
    EXPECT_NE(tr[0].reason.find("out-of-memory"), std::string::npos) << tr[0].reason;
}

TEST(CircuitBreaker, StickyOpensAtOnceAndNeedsRebuild) {
    FakeClock clk;
    CircuitBreaker cb(opts(), clk.fn());
    ASSERT_TRUE(cb.allow());
    cb.record(kLost);
    EXPECT_EQ(cb.state(), CircuitState::kOpen);
    EXPECT_TRUE(cb.stats().needs_rebuild);
    const auto tr = cb.transitions();
    ASSERT_EQ(tr.size(), 1u);
    EXPECT_NE(tr[0].reason.find("sticky"), std::string::npos) << tr[0].reason;
    EXPECT_NE(tr[0].reason.find("illegal memory access"), std::string::npos) << tr[0].reason;

    // Recovery does not clear needs_rebuild; only rebuilt() does.
    clk.t += 31s;
    ASSERT_TRUE(cb.allow());
    EXPECT_TRUE(cb.stats().needs_rebuild);
    cb.rebuilt();
    EXPECT_FALSE(cb.stats().needs_rebuild);
}

TEST(CircuitBreaker, OpenRejectsUntilTimeout) {
    FakeClock clk;
    CircuitBreaker cb(opts(), clk.fn());
    fail_n(cb, 15);
    ASSERT_EQ(cb.state(), CircuitState::kOpen);
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(cb.allow());
    clk.t += 29s;
    EXPECT_FALSE(cb.allow());
    EXPECT_EQ(cb.state(), CircuitState::kOpen);
    clk.t += 1s;  // exactly 30 s
    EXPECT_TRUE(cb.allow());
    EXPECT_EQ(cb.state(), CircuitState::kHalfOpen);
    EXPECT_EQ(cb.stats().rejected, 6);
}

TEST(CircuitBreaker, HalfOpenAdmitsExactlyMaxCallsAndClosesAfterMaxSuccesses) {
    FakeClock clk;
    CircuitBreaker cb(opts(15, 30, 10), clk.fn());
    fail_n(cb, 15);
    clk.t += 30s;
    int admitted = 0;
    for (int i = 0; i < 25; ++i) admitted += cb.allow();
    EXPECT_EQ(admitted, 10);
    EXPECT_EQ(cb.state(), CircuitState::kHalfOpen);
    for (int i = 0; i < 9; ++i) {
        cb.record_success();
        EXPECT_EQ(cb.state(), CircuitState::kHalfOpen) << "after " << i + 1 << " successes";
    }
    EXPECT_FALSE(cb.allow()) << "all trial slots are taken";
    cb.record_success();
    EXPECT_EQ(cb.state(), CircuitState::kClosed);
    EXPECT_TRUE(cb.allow());
    const auto tr = cb.transitions();
    ASSERT_EQ(tr.size(), 3u);
    EXPECT_EQ(tr[0].to, CircuitState::kOpen);
    EXPECT_EQ(tr[1].from, CircuitState::kOpen);
    EXPECT_EQ(tr[1].to, CircuitState::kHalfOpen);
    EXPECT_EQ(tr[2].from, CircuitState::kHalfOpen);
    EXPECT_EQ(tr[2].to, CircuitState::kClosed);
}

TEST(CircuitBreaker, HalfOpenFailureReopensAndRestartsTimer) {
    FakeClock clk;
    CircuitBreaker cb(opts(15, 30, 10), clk.fn());
    fail_n(cb, 15);
    clk.t += 40s;
    ASSERT_TRUE(cb.allow());
    ASSERT_TRUE(cb.allow());
    cb.record_success();
    cb.record(kTransient);  // one failure is enough
    EXPECT_EQ(cb.state(), CircuitState::kOpen);
    EXPECT_EQ(cb.stats().opens, 2);
    clk.t += 29s;
    EXPECT_FALSE(cb.allow()) << "the timer restarted at the reopen";
    clk.t += 1s;
    EXPECT_TRUE(cb.allow());
    EXPECT_EQ(cb.state(), CircuitState::kHalfOpen);
    const auto tr = cb.transitions();
    ASSERT_EQ(tr.size(), 4u);
    EXPECT_EQ(tr[2].from, CircuitState::kHalfOpen);
    EXPECT_EQ(tr[2].to, CircuitState::kOpen);
    EXPECT_NE(tr[2].reason.find("trial call failed"), std::string::npos) << tr[2].reason;
}

TEST(CircuitBreaker, NonDeviceErrorsIgnoredButReleaseTrialSlot) {
    FakeClock clk;
    CircuitBreaker cb(opts(3, 10, 2), clk.fn());
    for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(cb.allow());
        cb.record(invalid_argument("bad input"));
        cb.record(corrupt("bad model"));
    }
    EXPECT_EQ(cb.state(), CircuitState::kClosed);
    CircuitStats s = cb.stats();
    EXPECT_EQ(s.failures, 0);
    EXPECT_EQ(s.successes, 0);
    fail_n(cb, 2);
    cb.record(unsupported("op"));  // does not break the streak either
    fail_n(cb, 1);
    EXPECT_EQ(cb.state(), CircuitState::kOpen);

    clk.t += 10s;
    ASSERT_TRUE(cb.allow());
    ASSERT_TRUE(cb.allow());
    EXPECT_FALSE(cb.allow());
    cb.record(invalid_argument("bad input"));  // frees one slot
    EXPECT_EQ(cb.state(), CircuitState::kHalfOpen);
    EXPECT_TRUE(cb.allow());
    EXPECT_FALSE(cb.allow());
    cb.record_success();
    cb.record_success();
    EXPECT_EQ(cb.state(), CircuitState::kClosed);
}

TEST(CircuitBreaker, TransitionsRecordedAndCallbackCalled) {
    FakeClock clk;
    CircuitBreaker cb(opts(2, 5, 1), clk.fn());
    std::vector<CircuitTransition> seen;
    cb.on_transition([&](const CircuitTransition& t) {
        // Called outside the lock: calling back into the breaker must not deadlock.
        (void)cb.state();
        (void)cb.stats();
        seen.push_back(t);
    });
    fail_n(cb, 2);
    clk.t += 5s;
    ASSERT_TRUE(cb.allow());
    cb.record_success();
    cb.force_open("operator request");
    cb.reset();
    const auto tr = cb.transitions();
    ASSERT_EQ(tr.size(), 5u);
    ASSERT_EQ(seen.size(), 5u);
    const CircuitState want[5][2] = {{CircuitState::kClosed, CircuitState::kOpen},
                                     {CircuitState::kOpen, CircuitState::kHalfOpen},
                                     {CircuitState::kHalfOpen, CircuitState::kClosed},
                                     {CircuitState::kClosed, CircuitState::kOpen},
                                     {CircuitState::kOpen, CircuitState::kClosed}};
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(tr[i].from, want[i][0]) << i;
        EXPECT_EQ(tr[i].to, want[i][1]) << i;
        EXPECT_FALSE(tr[i].reason.empty()) << i;
        EXPECT_EQ(seen[i].reason, tr[i].reason) << i;
    }
    EXPECT_NE(tr[0].reason.find("2 consecutive failures"), std::string::npos) << tr[0].reason;
    EXPECT_NE(tr[1].reason.find("recovery timeout"), std::string::npos) << tr[1].reason;
    EXPECT_NE(tr[3].reason.find("operator request"), std::string::npos) << tr[3].reason;
    EXPECT_EQ(tr[4].reason, "reset");
    const CircuitStats s = cb.stats();
    EXPECT_EQ(s.transitions, 5);
    EXPECT_EQ(s.opens, 2);
}

TEST(CircuitBreaker, KeepsTheLast256Transitions) {
    FakeClock clk;
    CircuitBreaker cb(opts(), clk.fn());
    for (int i = 0; i < 200; ++i) {
        cb.force_open("round " + std::to_string(i));
        cb.reset();
    }
    const auto tr = cb.transitions();
    ASSERT_EQ(tr.size(), 256u);
    EXPECT_EQ(cb.stats().transitions, 400);
    EXPECT_EQ(tr.front().reason, "forced: round 72");  // 400 - 256 = 144 dropped = 72 rounds
    EXPECT_EQ(tr.back().reason, "reset");
    EXPECT_EQ(tr[tr.size() - 2].reason, "forced: round 199");
}

TEST(CircuitBreaker, ThreadSafetySmoke) {
    CircuitBreaker cb(opts(5, 0.0005, 3));
    std::atomic<int> transitions{0};
    cb.on_transition([&](const CircuitTransition&) { ++transitions; });
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
        ts.emplace_back([&, t] {
            for (int i = 0; i < 5000; ++i) {
                if (!cb.allow()) continue;
                const int k = (i * 7 + t) % 10;
                cb.record(k < 6 ? Status::ok() : k < 8 ? kTransient : k < 9 ? kOom : invalid_argument("x"));
                if (i % 1000 == 0) (void)cb.transitions();
            }
        });
    }
    for (auto& t : ts) t.join();
    const CircuitStats s = cb.stats();
    EXPECT_EQ(s.transitions, transitions.load());
    EXPECT_GE(s.successes + s.failures, 1);
    EXPECT_LE(cb.transitions().size(), 256u);
}

}  // namespace
}  // namespace itscam::pipeline
