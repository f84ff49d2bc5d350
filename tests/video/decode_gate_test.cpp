// DecodeGate (video/decode_gate.h): never more holders than slots, slots granted in arrival order, the wait
// statistics, and Hold's enter/leave.
#include "video/decode_gate.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace itscam::video {
namespace {

using namespace std::chrono_literals;

TEST(DecodeGate, NeverMoreHoldersThanSlots) {
    DecodeGate gate(3);
    std::atomic<int> in{0}, peak{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                DecodeGate::Hold h(&gate);
                h.enter();
                h.enter();  // already held: takes no second slot
                const int now = ++in;
                int p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {
                }
                std::this_thread::sleep_for(200us);
                --in;
            }  // ~Hold gives the slot back
        });
    for (auto& t : ts) t.join();
    EXPECT_LE(peak.load(), 3);
    EXPECT_EQ(peak.load(), 3);  // 8 threads holding for 200 us each: every slot was in use at some point
    const DecodeGate::Stats s = gate.stats();
    EXPECT_EQ(s.grants, 8 * 50);
    EXPECT_GT(s.waits, 0);
    EXPECT_GT(s.wait_s, 0);
    EXPECT_EQ(gate.queued(), 0);
}

TEST(DecodeGate, SlotsGoInArrivalOrder) {
    DecodeGate gate(1);
    gate.acquire();  // the one slot: everyone below queues
    std::vector<int> order;
    std::mutex order_mu;
    std::vector<std::thread> ts;
    for (int i = 0; i < 6; ++i) {
        ts.emplace_back([&, i] {
            gate.acquire();
            {
                std::lock_guard<std::mutex> lk(order_mu);
                order.push_back(i);
            }
            gate.release();
        });
        // Thread i is queued before thread i + 1 starts.
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (gate.queued() < i + 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
        ASSERT_EQ(gate.queued(), i + 1);
    }
    gate.release();
    for (auto& t : ts) t.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(gate.stats().waits, 6);
}

TEST(DecodeGate, HoldWithoutAGateDoesNothingAndLeaveIsIdempotent) {
    DecodeGate::Hold none(nullptr);
    none.enter();
    none.leave();
    DecodeGate gate(1);
    {
        DecodeGate::Hold h(&gate);
        h.enter();
        h.leave();
        h.leave();
        h.enter();
    }
    gate.acquire();  // free again after the Hold went: does not block
    gate.release();
    EXPECT_EQ(gate.stats().grants, 3);
    EXPECT_EQ(gate.stats().waits, 0);
}

TEST(DecodeGate, AtLeastOneSlotAndOneCore) {
    EXPECT_EQ(DecodeGate(0).slots(), 1);
    EXPECT_EQ(DecodeGate(-5).slots(), 1);
    EXPECT_GE(usable_cores(), 1);
    EXPECT_LE(usable_cores(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace itscam::video
