// The CUDA device (src/device/cuda): the registry's cuda:N, its memory kinds (with the host fallback when no GPU
// is usable), the TOTAL_GPU_MEMORY_GB budget, the stream pool, events and stream monitoring (busy time and queue
// depth of work still in flight). The no-GPU checks run everywhere; the rest skips without a CUDA device.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cuda_test_util.h"
#include "device/cuda/cuda_device.h"
#include "device/device_error.h"
#include "device/registry.h"

namespace itscam::device {
namespace {

// Restores the process-wide device settings a test changes.
struct SettingsGuard {
    DeviceSettings saved = devices_settings();
    ~SettingsGuard() { devices_configure(saved); }
};

TEST(CudaDevice, RegistryNamesAndWithoutAGpuFallsBackToHostMemory) {
    auto d = device_get("cuda:0");
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_EQ((*d)->name(), "cuda:0");
    EXPECT_EQ(&cuda_device(0), *d);
    EXPECT_EQ(cuda_device(3).name(), "cuda:3");
    EXPECT_TRUE((*d)->prefers_fp16());
    EXPECT_EQ((*d)->staging_memory(), MemoryKind::kPinned);
    auto host = (*d)->memory_kind(MemoryKind::kHost);
    ASSERT_TRUE(host.is_ok());
    EXPECT_EQ(*host, MemoryKind::kHost);
    if (test::have_gpu()) return;  // the GPU side: the tests below
    // No usable GPU: the device exists, says why it is unavailable, serves pinned/mapped as host memory and refuses
    // device memory with the runtime's error, classified as a device error.
    const Status av = (*d)->available();
    EXPECT_FALSE(av.is_ok());
    EXPECT_NE(classify_device_error(av), DeviceErrorClass::kNotDevice) << av.to_string();
    for (MemoryKind k : {MemoryKind::kPinned, MemoryKind::kMapped}) {
        auto got = (*d)->memory_kind(k);
        ASSERT_TRUE(got.is_ok()) << memory_kind_name(k);
        EXPECT_EQ(*got, MemoryKind::kHost) << memory_kind_name(k);
    }
    auto dev = (*d)->memory_kind(MemoryKind::kDevice);
    EXPECT_FALSE(dev.is_ok());
    EXPECT_NE(dev.status().message().find("cuda:0"), std::string::npos) << dev.status().to_string();
    auto p = (*d)->memory_alloc(MemoryKind::kHost, 100, true);
    ASSERT_TRUE(p.is_ok());
    (*d)->memory_free(MemoryKind::kHost, *p);
    EXPECT_FALSE((*d)->stream_acquire().is_ok()) << "no streams without a GPU";
    auto hs = device_host().stream_acquire();
    ASSERT_TRUE(hs.is_ok());
    EXPECT_EQ(csl::stream_of(*hs).status().code(), StatusCode::kInvalidArgument) << "a host stream is no CUDA stream";
}

TEST(CudaDevice, MemoryKindsOnTheGpu) {
    SKIP_WITHOUT_GPU();
    CudaDevice& d = cuda_device(0);
    ASSERT_TRUE(d.available().is_ok());
    for (MemoryKind k : {MemoryKind::kPinned, MemoryKind::kMapped, MemoryKind::kDevice}) {
        auto got = d.memory_kind(k);
        ASSERT_TRUE(got.is_ok()) << memory_kind_name(k);
        EXPECT_EQ(*got, k);
        auto p = d.memory_alloc(k, 1 << 20, true);
        ASSERT_TRUE(p.is_ok()) << memory_kind_name(k) << ": " << p.status().to_string();
        cudaPointerAttributes attr{};
        ASSERT_EQ(cudaPointerGetAttributes(&attr, *p), cudaSuccess);
        EXPECT_EQ(attr.type, k == MemoryKind::kDevice ? cudaMemoryTypeDevice : cudaMemoryTypeHost);
        if (k != MemoryKind::kDevice) {
            EXPECT_EQ(static_cast<const char*>(*p)[(1 << 20) - 1], 0) << "zeroed";
        }
        d.memory_free(k, *p);
    }
    auto huge = d.memory_alloc(MemoryKind::kDevice, size_t{1} << 50, false);
    EXPECT_EQ(huge.status().code(), StatusCode::kOutOfMemory) << huge.status().to_string();
}

TEST(CudaDevice, BudgetIsPerGpuAndTheSettingApplies) {
    SKIP_WITHOUT_GPU();
    SettingsGuard guard;
    DeviceSettings s = devices_settings();
    s.gpu_memory_budget = size_t{1} << 30;
    devices_configure(s);
    CudaDevice& d = cuda_device(0);
    EXPECT_EQ(d.memory_budget(), size_t{1} << 30);
    EXPECT_EQ(device_host().memory_budget(), 0u) << "TOTAL_GPU_MEMORY_GB is the GPUs' budget";
    const size_t before = d.memory_reserved();
    const Status st = csl::memory_reserve(0, size_t{2} << 30, "a test engine");
    EXPECT_EQ(st.code(), StatusCode::kOutOfMemory);
    EXPECT_NE(st.message().find("a test engine needs 2048 MiB of cuda:0"), std::string::npos) << st.message();
    ASSERT_TRUE(csl::memory_reserve(0, 1 << 20, "a small one").is_ok());
    EXPECT_EQ(d.memory_reserved(), before + (1 << 20));
    csl::memory_unreserve(0, 1 << 20);
    EXPECT_EQ(d.memory_reserved(), before);
}

TEST(CudaDevice, StreamsAreDistinctNonBlockingCudaStreams) {
    SKIP_WITHOUT_GPU();
    auto a = csl::stream_acquire(0);
    auto b = csl::stream_acquire(0);
    ASSERT_TRUE(a.is_ok() && b.is_ok()) << a.status().to_string();
    EXPECT_NE(a->get(), nullptr);
    EXPECT_NE(a->get(), b->get());
    unsigned flags = 0;
    ASSERT_EQ(cudaStreamGetFlags(a->get(), &flags), cudaSuccess);
    EXPECT_EQ(flags, static_cast<unsigned>(cudaStreamNonBlocking));
    auto typed = csl::stream_of(a->lease());
    ASSERT_TRUE(typed.is_ok());
    EXPECT_EQ(*typed, a->get());
    EXPECT_GE(cuda_device(0).stream_count(), devices_settings().streams_initial);
}

TEST(CudaDevice, MonitoringSeesWorkInFlightAndItsBusyTime) {
    SKIP_WITHOUT_GPU();
    SettingsGuard guard;
    DeviceSettings s = devices_settings();
    s.stream_monitoring = true;
    devices_configure(s);
    CudaDevice& d = cuda_device(0);
    auto l = d.stream_acquire();
    ASSERT_TRUE(l.is_ok());
    const int idx = l->index();
    const auto stats = [&] { return d.stream_stats().at(idx); };
    const StreamStats before = stats();
    // A unit of work that the stream cannot finish until the host lets it: a host function that waits.
    static std::atomic<bool> go{false};
    go = false;
    cudaStream_t cs = static_cast<cudaStream_t>(l->native());
    {
        StreamWork w = l->work();
        ASSERT_EQ(cudaLaunchHostFunc(
                      cs,
                      [](void*) {
                          while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                      },
                      nullptr),
                  cudaSuccess);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(stats().queue_depth, before.queue_depth + 1) << "ended on the host, not yet finished on the stream";
    EXPECT_EQ(stats().runs, before.runs);
    go = true;
    ASSERT_TRUE(l->synchronize().is_ok());
    const StreamStats after = stats();
    EXPECT_EQ(after.queue_depth, before.queue_depth);
    EXPECT_EQ(after.runs, before.runs + 1);
    EXPECT_GE(after.busy_ms - before.busy_ms, 20.0) << "busy while the stream waited for the host function";
}

TEST(CudaDevice, EventsOrderAndTimeTheStream) {
    SKIP_WITHOUT_GPU();
    CudaDevice& d = cuda_device(0);
    auto l = d.stream_acquire();
    ASSERT_TRUE(l.is_ok());
    auto a = d.event_create(true);
    auto b = d.event_create(true);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    auto buf = d.memory_alloc(MemoryKind::kDevice, 64 << 20, false);
    ASSERT_TRUE(buf.is_ok());
    ASSERT_TRUE(a->record(*l).is_ok());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(l->memset(*buf, i, 64 << 20).is_ok());
    ASSERT_TRUE(b->record(*l).is_ok());
    ASSERT_TRUE(b->synchronize().is_ok());
    auto done = b->done();
    ASSERT_TRUE(done.is_ok());
    EXPECT_TRUE(*done);
    auto ms = b->elapsed_ms_since(*a);
    ASSERT_TRUE(ms.is_ok()) << ms.status().to_string();
    EXPECT_GT(*ms, 0.0);
    auto host = device_host().stream_acquire();
    ASSERT_TRUE(host.is_ok());
    EXPECT_EQ(a->record(*host).code(), StatusCode::kInvalidArgument) << "an event records on its own device only";
    d.memory_free(MemoryKind::kDevice, *buf);
}

}  // namespace
}  // namespace itscam::device
