// The plan cache (runtime/plan_cache.h): a first build writes its plan, the next build with the same model and
// settings reads it (same tuning, bit-identical outputs, no autotuning), other settings use other files, and a
// corrupt, mismatched or stale cache file is logged and rebuilt, never fatal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "runtime/engine.h"
#include "runtime/plan.h"
#include "runtime/plan_cache.h"

namespace itscam {
namespace {

namespace fs = std::filesystem;

const std::string kCacheModel = std::string(ITSCAM_SHARED_DIR) + "/models/yolo11n_int8_320.onnx";

#if defined(ITSCAM_HAVE_ONNX) && defined(ITSCAM_HAVE_ONEDNN)

// A fresh cache folder per test and engine options that log into `log`.
struct CacheFixture {
    std::string dir;
    std::vector<std::string> log;
    explicit CacheFixture(const std::string& name) : dir(std::string(ITSCAM_BINARY_DIR) + "/plan_cache_test_" + name) {
        fs::remove_all(dir);
    }
    ~CacheFixture() { fs::remove_all(dir); }
    EngineOptions options(int batch = 1) {
        EngineOptions o;
        o.device = "cpu";
        o.batch = batch;
        o.threads = 2;
        o.plan_cache_dir = dir;
        o.log = [this](const std::string& m) { log.push_back(m); };
        return o;
    }
    bool logged(const std::string& what) const {
        for (const auto& m : log)
            if (m.find(what) != std::string::npos) return true;
        return false;
    }
    std::string all() const {
        std::string s;
        for (const auto& m : log) s += m + "\n";
        return s;
    }
};

Tensor test_input(const Engine& e) {
    Tensor t = Tensor::empty(DType::kF32, {e.batch(), 3, e.input_height(), e.input_width()});
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> d(0.f, 1.f);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
    return t;
}

std::vector<Tensor> run_copy(Engine& e, const Tensor& in) {
    std::vector<Tensor> out;
    EXPECT_TRUE(e.run(in, out).is_ok());
    for (auto& t : out) t = t.clone();
    return out;
}

void expect_bit_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].nbytes(), b[i].nbytes());
        EXPECT_EQ(std::memcmp(a[i].raw(), b[i].raw(), a[i].nbytes()), 0) << "output " << i;
    }
}

// A rebuild autotunes again and may pick another implementation for a layer: the same results up to rounding.
void expect_close(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].shape(), b[i].shape());
        double worst = 0, scale = 1;
        for (int64_t k = 0; k < a[i].numel(); ++k) {
            const double x = a[i].data<float>()[k], y = b[i].data<float>()[k];
            worst = std::max(worst, std::isnan(x) || std::isnan(y) ? INFINITY : std::fabs(x - y));
            scale = std::max(scale, std::fabs(x));
        }
        EXPECT_LE(worst, 1e-3 * scale) << "output " << i;
    }
}

#define REQUIRE_MODEL() \
    if (!fs::exists(kCacheModel)) GTEST_SKIP() << kCacheModel << " not found"

TEST(PlanCache, MissWritesThenHitReadsTheSameTuning) {
    REQUIRE_MODEL();
    CacheFixture c("hit");
    auto first = Engine::load(kCacheModel, c.options());
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    auto file = plan_cache_file(kCacheModel, c.options());
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    EXPECT_TRUE(fs::exists(*file));
    EXPECT_TRUE(c.logged("wrote " + *file)) << c.all();
    EXPECT_FALSE((*first)->tuning().empty()) << "the 320 export has 1x1 convolutions: their choices are recorded";
    EXPECT_FALSE((*first)->plan_info().has_value());

    c.log.clear();
    auto second = Engine::load(kCacheModel, c.options());
    ASSERT_TRUE(second.is_ok()) << second.status().to_string();
    EXPECT_TRUE(c.logged("using " + *file)) << c.all();
    ASSERT_TRUE((*second)->plan_info().has_value());
    EXPECT_EQ((*second)->tuning(), (*first)->tuning());
    EXPECT_EQ((*second)->compiled().describe(), (*first)->compiled().describe());
    const Tensor in = test_input(**first);
    expect_bit_identical(run_copy(**second, in), run_copy(**first, in));
}

TEST(PlanCache, DifferentSettingsUseDifferentFiles) {
    REQUIRE_MODEL();
    CacheFixture c("keys");
    auto path = [&](const EngineOptions& o) {
        auto f = plan_cache_file(kCacheModel, o);
        EXPECT_TRUE(f.is_ok()) << f.status().to_string();
        return f.is_ok() ? *f : std::string();
    };
    const EngineOptions base = c.options();
    EXPECT_EQ(path(base), path(c.options()));  // deterministic
    EngineOptions o = base;
    o.batch = 2;
    EXPECT_NE(path(o), path(base));
    o = base;
    o.precision = Precision::kBF16;
    EXPECT_NE(path(o), path(base));
    o = base;
    o.threads = 1;
    EXPECT_NE(path(o), path(base));
    o = base;
    o.height = o.width = 256;
    EXPECT_NE(path(o), path(base));
    o = base;
    o.device = "ref";
    EXPECT_NE(path(o), path(base));
    o = base;
    o.autotune = false;
    EXPECT_NE(path(o), path(base));
    o = base;
    o.passes.disabled.insert("fuse_conv_residual");
    EXPECT_NE(path(o), path(base));
    // Another model (other bytes, same file name) uses another file.
    fs::create_directories(c.dir + "/other");
    const std::string copy = c.dir + "/other/" + fs::path(kCacheModel).filename().string();
    fs::copy_file(kCacheModel, copy);
    std::ofstream(copy, std::ios::app) << " ";
    EXPECT_NE(path(base), *plan_cache_file(copy, base));
    // int8 (calibration is not part of the key) and plans bypass the cache.
    o = base;
    o.precision = Precision::kInt8;
    EXPECT_FALSE(plan_cache_applies(kCacheModel, o));
    EXPECT_TRUE(plan_cache_applies(kCacheModel, base));
    o = base;
    o.plan_cache_dir.clear();
    EXPECT_FALSE(plan_cache_applies(kCacheModel, o));
}

TEST(PlanCache, CorruptOrStaleFilesAreRebuiltWithALogLine) {
    REQUIRE_MODEL();
    CacheFixture c("corrupt");
    auto file = plan_cache_file(kCacheModel, c.options());
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    auto built = Engine::load(kCacheModel, c.options());
    ASSERT_TRUE(built.is_ok()) << built.status().to_string();
    const Tensor in = test_input(**built);
    const std::vector<Tensor> want = run_copy(**built, in);
    auto good = plan_read(*file);
    ASSERT_TRUE(good.is_ok()) << good.status().to_string();

    auto expect_rebuilt = [&](const std::string& what, const std::string& why) {
        c.log.clear();
        auto e = Engine::load(kCacheModel, c.options());
        ASSERT_TRUE(e.is_ok()) << what << ": " << e.status().to_string();
        EXPECT_TRUE(c.logged(why) && c.logged("rebuilding it") && c.logged("wrote " + *file)) << what << ":\n"
                                                                                              << c.all();
        expect_close(run_copy(**e, in), want);
        // The rewritten file is good again.
        c.log.clear();
        auto again = Engine::load(kCacheModel, c.options());
        ASSERT_TRUE(again.is_ok());
        EXPECT_TRUE(c.logged("using " + *file)) << what << ":\n" << c.all();
    };
    // Garbage, and a truncated plan.
    std::ofstream(*file, std::ios::binary | std::ios::trunc) << "not a plan at all";
    expect_rebuilt("garbage", "is unreadable");
    const auto size = fs::file_size(*file);
    fs::resize_file(*file, size / 2);
    expect_rebuilt("truncated", "is unreadable");
    // A valid plan whose tuning no longer applies (a layer it does not know, none for the real ones).
    Plan stale = *good;
    stale.info.tuning[1] = "no_such_layer gemm=matmul\n";
    ASSERT_TRUE(plan_write(stale, *file).is_ok());
    expect_rebuilt("stale tuning", "does not load");
    // A valid plan for another batch size under this build's name.
    Plan other = *good;
    other.info.batch_sizes = {2};
    other.info.tuning = {{2, good->info.tuning.at(1)}};
    ASSERT_TRUE(plan_write(other, *file).is_ok());
    expect_rebuilt("other batch", "does not load");
}

TEST(PlanCache, AnUnwritableFolderOnlyLogs) {
    REQUIRE_MODEL();
    CacheFixture c("unwritable");
    fs::create_directories(c.dir);
    std::ofstream(c.dir + "/file") << "x";
    EngineOptions o = c.options();
    o.plan_cache_dir = c.dir + "/file/plans";  // under a regular file: cannot be created
    auto e = Engine::load(kCacheModel, o);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    EXPECT_TRUE(c.logged("serving without it")) << c.all();
}

TEST(PlanCache, CpuTuningReplaysWithoutTiming) {
    REQUIRE_MODEL();
    EngineOptions o;
    o.device = "cpu";
    o.threads = 2;
    auto built = Engine::load(kCacheModel, o);
    ASSERT_TRUE(built.is_ok()) << built.status().to_string();
    const std::string tuning = (*built)->tuning();
    ASSERT_NE(tuning.find(" gemm="), std::string::npos) << tuning;
    auto backend = backend_create("cpu");
    ASSERT_TRUE(backend.is_ok());
    const Graph& g = (*built)->graph();
    BackendOptions bo;
    bo.threads = 2;
    // Every layer recorded as conv: the build follows the recording, whatever a timing would say.
    std::string all_conv = tuning;
    for (size_t p = 0; (p = all_conv.find("gemm=matmul", p)) != std::string::npos;)
        all_conv.replace(p, 11, "gemm=conv");
    bo.tuning = all_conv;
    auto c = (*backend)->compile(g, bo);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    EXPECT_EQ((*c)->tuning(), all_conv);
    EXPECT_EQ((*c)->describe().find("[matmul "), std::string::npos) << (*c)->describe();
    // A tuning without this graph's layers, or with a choice that does not exist, is an error naming the layer.
    bo.tuning = "some_layer gemm=conv\n";
    auto missing = (*backend)->compile(g, bo);
    ASSERT_FALSE(missing.is_ok());
    EXPECT_NE(missing.status().message().find("no gemm entry"), std::string::npos) << missing.status().to_string();
    const std::string first_layer = tuning.substr(0, tuning.find(' '));
    bo.tuning = all_conv;
    bo.tuning.replace(bo.tuning.find(first_layer + " gemm=conv"), first_layer.size() + 10,
                      first_layer + " gemm=sideways");
    auto bad = (*backend)->compile(g, bo);
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("gemm=sideways for '" + first_layer + "'"), std::string::npos)
        << bad.status().to_string();
}

#endif

}  // namespace
}  // namespace itscam
