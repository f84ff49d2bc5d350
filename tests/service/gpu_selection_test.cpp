// Which GPUs stand for the pipeline (gpu_utilization, gpu_memory_pressure): only the configured CUDA device_ids,
// only when the device is cuda, mapped through CUDA_VISIBLE_DEVICES; and a GpuMonitor built on a sampler (the NVML
// reader needs a driver, which this machine does not have).
#include <gtest/gtest.h>

#include <cstdlib>

#include "service/gpu_monitor.h"

using namespace itscam;
using namespace itscam::service;

namespace {

GpuSample gpu(int index, double util, uint64_t used_gib, uint64_t total_gib = 100, std::string uuid = "") {
    GpuSample g;
    g.index = index;
    g.name = "GPU " + std::to_string(index);
    g.uuid = uuid.empty() ? "GPU-0000000" + std::to_string(index) + "-aaaa" : uuid;
    g.utilization = util;
    g.memory_used_bytes = used_gib << 30;
    g.memory_total_bytes = total_gib << 30;
    g.memory_known = true;
    return g;
}

GpuScope cuda_scope(std::vector<int> ids) {
    GpuScope s;
    s.device = "cuda";
    s.cuda = true;
    s.device_ids = std::move(ids);
    return s;
}

std::vector<int> indices(const GpuSelection& s) {
    std::vector<int> v;
    for (const auto& g : s.gpus) v.push_back(g.index);
    return v;
}

const std::vector<GpuSample> kFour = {gpu(0, 0.10, 95), gpu(1, 0.50, 20), gpu(2, 0.90, 50), gpu(3, 0.30, 80)};

}  // namespace

TEST(GpuSelection, OnlyTheConfiguredDevices) {
    const GpuSelection s = select_gpus(kFour, cuda_scope({1, 2}));
    EXPECT_EQ(indices(s), (std::vector<int>{1, 2}));
    EXPECT_TRUE(s.note.empty()) << s.note;
    EXPECT_NEAR(*s.mean_utilization(), 0.70, 1e-12);  // not 0.45, the mean over all four
    EXPECT_NEAR(*s.memory_pressure(), 0.50, 1e-12);   // the fullest configured GPU; GPU 0 (95%) is not ours
}

TEST(GpuSelection, NoGpuUnlessTheDeviceIsCuda) {
    for (const char* dev : {"cpu", "ref"}) {
        GpuScope s;
        s.device = dev;
        s.device_ids = {0, 1};
        const GpuSelection sel = select_gpus(kFour, s);
        EXPECT_TRUE(sel.gpus.empty());
        EXPECT_FALSE(sel.mean_utilization().has_value());
        EXPECT_FALSE(sel.memory_pressure().has_value());
        EXPECT_EQ(sel.note, std::string("device is ") + dev + ": the pipeline uses no GPU");
    }
}

TEST(GpuSelection, FromConfig) {
    config::Config c;
    c.device = "cuda";
    c.settings.device_ids = {3, 1};
    ::unsetenv("CUDA_VISIBLE_DEVICES");
    GpuScope s = GpuScope::from_config(c);
    EXPECT_TRUE(s.cuda);
    EXPECT_EQ(s.device_ids, (std::vector<int>{3, 1}));
    EXPECT_FALSE(s.cuda_visible_devices_set);
    EXPECT_EQ(indices(select_gpus(kFour, s)), (std::vector<int>{3, 1}));
    ::setenv("CUDA_VISIBLE_DEVICES", "2,3", 1);
    s = GpuScope::from_config(c);
    ::unsetenv("CUDA_VISIBLE_DEVICES");
    EXPECT_TRUE(s.cuda_visible_devices_set);
    EXPECT_EQ(s.cuda_visible_devices, "2,3");
    c.device = "cuda:2";  // one GPU named in the device: device_ids do not apply (as in the pipeline)
    s = GpuScope::from_config(c);
    EXPECT_TRUE(s.cuda);
    EXPECT_EQ(s.device_ids, (std::vector<int>{2}));
    EXPECT_EQ(indices(select_gpus(kFour, s)), (std::vector<int>{2}));
    c.device = "cpu";
    EXPECT_FALSE(GpuScope::from_config(c).cuda);
}

TEST(GpuSelection, CudaVisibleDevicesRemapsOrdinals) {
    GpuScope s = cuda_scope({0, 1});
    s.cuda_visible_devices_set = true;
    s.cuda_visible_devices = "3, 0";
    EXPECT_EQ(indices(select_gpus(kFour, s)), (std::vector<int>{3, 0}));
    // UUIDs and unique UUID prefixes, as the CUDA runtime accepts them.
    s.cuda_visible_devices = "GPU-00000002,GPU-00000001-aaaa";
    EXPECT_EQ(indices(select_gpus(kFour, s)), (std::vector<int>{2, 1}));
    // The list ends at the first entry that is neither an index nor a UUID: ordinal 1 does not exist.
    s.cuda_visible_devices = "2,bogus,1";
    GpuSelection sel = select_gpus(kFour, s);
    EXPECT_EQ(indices(sel), (std::vector<int>{2}));
    EXPECT_NE(sel.note.find("device_ids [1] not among the 4 GPU(s)"), std::string::npos) << sel.note;
    EXPECT_NE(sel.note.find("CUDA_VISIBLE_DEVICES=2,bogus,1"), std::string::npos) << sel.note;
    // Set but empty: no device is visible.
    s.cuda_visible_devices = "";
    sel = select_gpus(kFour, s);
    EXPECT_TRUE(sel.gpus.empty());
    EXPECT_NE(sel.note.find("device_ids [0, 1]"), std::string::npos) << sel.note;
}

TEST(GpuSelection, MissingIdsAndMissingNvmlAreSaid) {
    GpuSelection sel = select_gpus(kFour, cuda_scope({1, 7}));
    EXPECT_EQ(indices(sel), (std::vector<int>{1}));
    EXPECT_EQ(sel.note, "device_ids [7] not among the 4 GPU(s) NVML reports");
    sel = select_gpus({}, cuda_scope({0}), "libnvidia-ml.so.1: cannot open shared object file");
    EXPECT_TRUE(sel.gpus.empty());
    EXPECT_EQ(sel.note, "NVML unavailable: libnvidia-ml.so.1: cannot open shared object file");
    // The same id twice counts once.
    EXPECT_EQ(indices(select_gpus(kFour, cuda_scope({2, 2}))), (std::vector<int>{2}));
}

TEST(GpuSelection, MemoryPressureSkipsGpusWithoutMemoryInfo) {
    std::vector<GpuSample> all = kFour;
    all[2].memory_known = false;
    const GpuSelection s = select_gpus(all, cuda_scope({2, 3}));
    EXPECT_NEAR(*s.memory_pressure(), 0.80, 1e-12);
    all[3].memory_known = false;
    EXPECT_FALSE(select_gpus(all, cuda_scope({2, 3})).memory_pressure().has_value());
}

TEST(GpuMonitor, SamplerReplacesNvml) {
    int calls = 0;
    std::vector<GpuSample> now = {gpu(0, 0.25, 10), gpu(1, 0.75, 99)};
    GpuMonitor m([&] {
        ++calls;
        return now;
    });
    EXPECT_TRUE(m.available());
    EXPECT_TRUE(m.unavailable_reason().empty());
    ASSERT_EQ(m.sample().size(), 2u);
    const GpuSelection s = m.select(cuda_scope({1}));
    EXPECT_NEAR(*s.memory_pressure(), 0.99, 1e-12);
    now[1].memory_used_bytes = 5ull << 30;  // read afresh on every sample (no cache)
    EXPECT_NEAR(*m.select(cuda_scope({1})).memory_pressure(), 0.05, 1e-12);
    EXPECT_EQ(calls, 3);
}
