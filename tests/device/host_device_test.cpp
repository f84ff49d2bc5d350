// The host device and the parts of the device layer every device shares: memory kinds and the host allocator, the
// stream pool (STREAMS_PER_DEVICE / MAX_STREAMS_PER_DEVICE), the memory budget (TOTAL_GPU_MEMORY_GB, on a fake GPU
// derived from the host device), events, and stream monitoring (busy time and queue depth per stream).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "device/device_error.h"
#include "device/host_device.h"

using namespace itscam;
using namespace itscam::device;

namespace {

DeviceSettings pool_settings(int initial, int max, bool monitoring = false) {
    DeviceSettings s;
    s.streams_initial = initial;
    s.streams_max = max;
    s.stream_monitoring = monitoring;
    return s;
}

// A host device with a GPU's memory budget (the budget logic is the same for every device).
class BudgetedDevice : public HostDevice {
  public:
    void configure(const DeviceSettings& s) override {
        HostDevice::configure(s);
        set_budget(s.gpu_memory_budget);
    }
};

void sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

TEST(HostDevice, MemoryKindsAndAlignedZeroedAllocations) {
    HostDevice d;
    for (MemoryKind k : {MemoryKind::kHost, MemoryKind::kPinned, MemoryKind::kMapped}) {
        auto got = d.memory_kind(k);
        ASSERT_TRUE(got.is_ok()) << memory_kind_name(k);
        EXPECT_EQ(*got, MemoryKind::kHost) << memory_kind_name(k) << " is plain host memory on the host";
    }
    auto dev = d.memory_kind(MemoryKind::kDevice);
    EXPECT_EQ(dev.status().code(), StatusCode::kUnsupported) << dev.status().to_string();
    EXPECT_FALSE(d.memory_alloc(MemoryKind::kPinned, 64, false).is_ok()) << "only kinds memory_kind() returns";

    for (size_t bytes : {size_t{0}, size_t{1}, size_t{100}, size_t{4096}}) {
        auto p = d.memory_alloc(MemoryKind::kHost, bytes, true);
        ASSERT_TRUE(p.is_ok()) << bytes;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(*p) % 64, 0u);
        const auto* b = static_cast<const uint8_t*>(*p);
        for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(b[i], 0) << "zeroed";
        d.memory_free(MemoryKind::kHost, *p);
    }
    d.memory_free(MemoryKind::kHost, nullptr);  // ignored
    EXPECT_STREQ(memory_kind_name(MemoryKind::kMapped), "mapped");
}

TEST(HostDevice, StreamPoolStartsWithInitialGrowsToMaxThenShares) {
    HostDevice d;
    d.configure(pool_settings(2, 3));
    EXPECT_EQ(d.stream_count(), 0) << "streams are created at the first lease";
    std::vector<StreamLease> held;
    for (int i = 0; i < 3; ++i) {
        auto l = d.stream_acquire();
        ASSERT_TRUE(l.is_ok()) << l.status().to_string();
        held.push_back(std::move(*l));
    }
    // Two streams up front (STREAMS_PER_DEVICE); the third lease found both leased and added one (up to MAX).
    EXPECT_EQ(d.stream_count(), 3);
    EXPECT_EQ(held[0].index(), 0);
    EXPECT_EQ(held[1].index(), 1);
    EXPECT_EQ(held[2].index(), 2);
    EXPECT_EQ(held[0].device(), &d);
    // At MAX_STREAMS_PER_DEVICE: the next lease shares the least-leased stream.
    auto shared = d.stream_acquire();
    ASSERT_TRUE(shared.is_ok());
    EXPECT_EQ(d.stream_count(), 3);
    EXPECT_EQ(shared->index(), 0);
    auto st = d.stream_stats();
    ASSERT_EQ(st.size(), 3u);
    EXPECT_EQ(st[0].leases, 2);
    EXPECT_EQ(st[1].leases, 1);
    // A returned lease frees its stream for the next one.
    held[1].reset();
    EXPECT_FALSE(held[1]);
    auto again = d.stream_acquire();
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again->index(), 1);
    StreamLease moved = std::move(*again);
    EXPECT_EQ(moved.index(), 1);
    EXPECT_EQ(d.stream_stats()[1].leases, 1) << "a move transfers the lease, it does not return it";
}

TEST(HostDevice, StreamWorkRunsOnTheCallersThread) {
    HostDevice d;
    auto l = d.stream_acquire();
    ASSERT_TRUE(l.is_ok());
    std::vector<uint8_t> buf(100, 7);
    ASSERT_TRUE(l->memset(buf.data(), 3, 50).is_ok());
    EXPECT_EQ(buf[0], 3);
    EXPECT_EQ(buf[49], 3);
    EXPECT_EQ(buf[50], 7);
    EXPECT_TRUE(l->synchronize().is_ok());
    EXPECT_EQ(l->native(), nullptr);
    StreamLease empty;
    EXPECT_EQ(empty.synchronize().code(), StatusCode::kInvalidArgument);
}

TEST(HostDevice, BudgetRefusesWhatDoesNotFitAsOutOfMemory) {
    BudgetedDevice d;
    DeviceSettings s;
    s.gpu_memory_budget = 100ull << 20;
    d.configure(s);
    EXPECT_EQ(d.memory_budget(), 100ull << 20);
    ASSERT_TRUE(d.memory_reserve(60ull << 20, "engine a").is_ok());
    const Status st = d.memory_reserve(50ull << 20, "engine b");
    EXPECT_EQ(st.code(), StatusCode::kOutOfMemory);
    EXPECT_EQ(classify_device_error(st), DeviceErrorClass::kOutOfMemory);
    EXPECT_NE(st.message().find("engine b needs 50 MiB of cpu but only 40 MiB of the 100 MiB budget are left"),
              std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("TOTAL_GPU_MEMORY_GB"), std::string::npos);
    EXPECT_EQ(d.memory_reserved(), 60ull << 20) << "a refused reservation holds nothing";
    d.memory_unreserve(60ull << 20);
    EXPECT_TRUE(d.memory_reserve(100ull << 20, "engine b").is_ok());
    d.memory_unreserve(1ull << 40);  // more than held: clamps at 0
    EXPECT_EQ(d.memory_reserved(), 0u);

    HostDevice host;  // the host device has no budget, whatever TOTAL_GPU_MEMORY_GB says
    host.configure(s);
    EXPECT_EQ(host.memory_budget(), 0u);
    EXPECT_TRUE(host.memory_reserve(1ull << 40, "anything").is_ok());
}

TEST(HostDevice, EventsMarkAndTimeTheStream) {
    HostDevice d, other;
    auto l = d.stream_acquire();
    auto lo = other.stream_acquire();
    ASSERT_TRUE(l.is_ok() && lo.is_ok());
    auto a = d.event_create(true);
    auto b = d.event_create(true);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    EXPECT_FALSE(a->recorded());
    EXPECT_TRUE(a->synchronize().is_ok()) << "never recorded: nothing to wait for";
    EXPECT_FALSE(b->elapsed_ms_since(*a).is_ok()) << "needs two recorded events";
    ASSERT_TRUE(a->record(*l).is_ok());
    sleep_ms(20);
    ASSERT_TRUE(b->record(*l).is_ok());
    auto done = b->done();
    ASSERT_TRUE(done.is_ok());
    EXPECT_TRUE(*done);
    EXPECT_TRUE(b->wait_on(*l).is_ok());
    auto ms = b->elapsed_ms_since(*a);
    ASSERT_TRUE(ms.is_ok());
    EXPECT_GE(*ms, 15.0);
    EXPECT_LT(*ms, 5000.0);
    EXPECT_EQ(a->record(*lo).code(), StatusCode::kInvalidArgument) << "a stream of another device";
    EXPECT_EQ(b->wait_on(*lo).code(), StatusCode::kInvalidArgument);
}

TEST(HostDevice, MonitoringCountsBusyTimeAndQueueDepthPerStream) {
    HostDevice d;
    d.configure(pool_settings(2, 2, /*monitoring=*/true));
    auto l0 = d.stream_acquire();
    auto l1 = d.stream_acquire();
    ASSERT_TRUE(l0.is_ok() && l1.is_ok());
    {
        StreamWork w = l0->work();
        sleep_ms(30);
        auto mid = d.stream_stats();
        EXPECT_EQ(mid[0].queue_depth, 1) << "begun, not finished";
        EXPECT_EQ(mid[0].runs, 0u);
        {
            StreamWork w2 = l0->work();  // a second unit on the same stream
            EXPECT_EQ(d.stream_stats()[0].queue_depth, 2);
        }
        EXPECT_EQ(d.stream_stats()[0].queue_depth, 1);
    }
    auto st = d.stream_stats();
    ASSERT_EQ(st.size(), 2u);
    EXPECT_EQ(st[0].queue_depth, 0);
    EXPECT_EQ(st[0].runs, 2u);
    EXPECT_GE(st[0].busy_ms, 25.0);
    EXPECT_LT(st[0].busy_ms, 10000.0);
    EXPECT_EQ(st[1].runs, 0u) << "per stream";
    EXPECT_EQ(st[1].busy_ms, 0.0);
    // end() is idempotent, and a moved-from unit ends nothing.
    StreamWork a = l1->work();
    StreamWork b = std::move(a);
    a.end();
    EXPECT_EQ(d.stream_stats()[1].queue_depth, 1);
    b.end();
    b.end();
    EXPECT_EQ(d.stream_stats()[1].queue_depth, 0);
    EXPECT_EQ(d.stream_stats()[1].runs, 1u);
}

TEST(HostDevice, MonitoringOffRecordsNothing) {
    HostDevice d;
    d.configure(pool_settings(1, 1, /*monitoring=*/false));
    auto l = d.stream_acquire();
    ASSERT_TRUE(l.is_ok());
    {
        StreamWork w = l->work();
        sleep_ms(5);
        EXPECT_EQ(d.stream_stats()[0].queue_depth, 0);
    }
    EXPECT_EQ(d.stream_stats()[0].runs, 0u);
    EXPECT_EQ(d.stream_stats()[0].busy_ms, 0.0);
    // Switched on, the same stream starts counting.
    d.configure(pool_settings(1, 1, /*monitoring=*/true));
    { StreamWork w = l->work(); }
    EXPECT_EQ(d.stream_stats()[0].runs, 1u);
}
