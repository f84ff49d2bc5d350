#include "core/thread_info.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <thread>

namespace itscam {
namespace {

double thread_cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

TEST(ThreadInfo, NamesAreCutToTheKernelsFifteenBytes) {
    std::thread t([] {
        set_thread_name("cap:a-very-long-camera-identifier");
        char buf[32] = {};
        ASSERT_EQ(pthread_getname_np(pthread_self(), buf, sizeof buf), 0);
        EXPECT_STREQ(buf, "cap:a-very-long");
    });
    t.join();
}

TEST(ThreadInfo, CpuTimeIsSummedByTheRoleBeforeTheSeparator) {
    std::atomic<int> ready{0};
    std::atomic<bool> release{false};
    auto burn = [&](const char* name) {
        set_thread_name(name);
        const double start = thread_cpu_now();
        volatile double x = 1;
        while (thread_cpu_now() - start < 0.1) x = x * 1.0000001 + 1e-9;
        ready.fetch_add(1);
        while (!release.load()) std::this_thread::yield();
    };
    std::thread a(burn, "probe:cam1"), b(burn, "probe7");
    while (ready.load() < 2) std::this_thread::yield();
    const std::map<std::string, double> cpu = thread_cpu_by_role();
    release = true;
    a.join();
    b.join();
    ASSERT_TRUE(cpu.count("probe"));
    // Two threads with at least 0.1 s each, counted in clock ticks (usually 10 ms).
    EXPECT_GE(cpu.at("probe"), 0.15);
    EXPECT_FALSE(cpu.count("probe:cam1"));
    EXPECT_GE(process_cpu_seconds(), cpu.at("probe"));
}

}  // namespace
}  // namespace itscam
