// Activation memory: the arena plan (backend/arena_plan.h) never gives bytes to two buffers that are alive at the
// same time, and the CPU backend's graphs of several batch sizes sharing one ActivationArena compute exactly what
// they compute alone, with the arena filled with NaN before every run (a buffer read before it is written, or one
// that another buffer overwrote while alive, shows up as NaN or a difference).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "backend/activation_arena.h"
#include "backend/arena_plan.h"
#include "backend/backend.h"
#include "graph_builder_test_util.h"

namespace itscam {
namespace {

using test::GraphBuilder;

TEST(ArenaPlan, OverlappingLifetimesNeverShareBytes) {
    std::mt19937 rng(7);
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<ArenaBlock> blocks;
        const int n = 1 + static_cast<int>(rng() % 40);
        for (int i = 0; i < n; ++i) {
            const int first = static_cast<int>(rng() % 30);
            const int last = first + static_cast<int>(rng() % 8);
            blocks.push_back({1 + rng() % 5000, first, last, 0});
        }
        const size_t size = arena_plan(blocks, 64);
        EXPECT_EQ(size % 64, 0u);
        size_t sum = 0;
        for (size_t i = 0; i < blocks.size(); ++i) {
            const ArenaBlock& a = blocks[i];
            sum += (a.bytes + 63) / 64 * 64;
            EXPECT_EQ(a.offset % 64, 0u);
            EXPECT_LE(a.offset + a.bytes, size);
            for (size_t j = i + 1; j < blocks.size(); ++j) {
                const ArenaBlock& b = blocks[j];
                const bool alive_together = !(a.last < b.first || b.last < a.first);
                const bool share = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
                EXPECT_FALSE(alive_together && share)
                    << "trial " << trial << ": blocks " << i << " [" << a.first << "," << a.last << "] and " << j
                    << " [" << b.first << "," << b.last << "] overlap in memory";
            }
        }
        EXPECT_LE(size, sum);
    }
}

TEST(ArenaPlan, BuffersThatNeverLiveTogetherShareBytes) {
    // A chain: each buffer is read by the next step only, so two arena slots serve all of them.
    std::vector<ArenaBlock> chain;
    for (int i = 0; i < 10; ++i) chain.push_back({1000, i, i + 1, 0});
    EXPECT_EQ(arena_plan(chain, 64), 2 * 1024u);
    // All alive at once: nothing shares.
    std::vector<ArenaBlock> together(5, ArenaBlock{100, 0, 3, 0});
    EXPECT_EQ(arena_plan(together, 64), 5 * 128u);
    std::vector<ArenaBlock> none;
    EXPECT_EQ(arena_plan(none, 64), 0u);
}

TEST(ActivationArena, GrowsOnlyAndStaysAligned) {
    ActivationArena a;
    EXPECT_EQ(a.size(), 0u);
    a.reserve(1000);
    EXPECT_GE(a.size(), 1000u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 64, 0u);
    const size_t s = a.size();
    a.reserve(10);  // smaller: nothing changes
    EXPECT_EQ(a.size(), s);
    a.reserve(5000);
    EXPECT_GE(a.size(), 5000u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 64, 0u);
}

#ifdef ITSCAM_HAVE_ONEDNN

// A graph that takes every CPU op family and both layouts at batch `batch`: convolutions (one a 1x1 that the
// autotuner may run as a matmul), a residual-style Add, pooling, nearest Resize, channel Concat/Split, views,
// Transpose, Softmax, Sigmoid, a MatMul, and a graph output that is a view.
Graph families_graph(int64_t batch) {
    GraphBuilder b(11);
    const std::string x = b.input("x", {batch, 3, 16, 16});
    const std::string c1 = b.conv("c1", x, 3, 16, 3);
    const std::string c2 = b.conv("c2", c1, 16, 16, 1);
    const std::string add = b.node("Add", "add", {c1, c2});
    const std::string pool =
        b.node("MaxPool", "pool", {add}, {{"kernel_shape", Attr::of_ints({2, 2})}, {"strides", Attr::of_ints({2, 2})}});
    const std::string roi = b.constant("roi", Tensor::empty(DType::kF32, {0}));
    const std::string up = b.node("Resize", "up", {pool, roi, b.floats("scales", {1, 1, 2, 2})},
                                  {{"mode", Attr::of_string("nearest")},
                                   {"coordinate_transformation_mode", Attr::of_string("asymmetric")},
                                   {"nearest_mode", Attr::of_string("floor")}});
    const std::string cat = b.node("Concat", "cat", {up, c1}, {{"axis", Attr::of_int(1)}});
    const auto parts =
        b.node_n("Split", "split", {cat, b.ints("split_sizes", {8, 24})}, {{"axis", Attr::of_int(1)}}, 2);
    const std::string c3 = b.conv("c3", parts[1], 24, 8, 3);
    const std::string mul = b.node("Mul", "mul", {parts[0], c3});
    const std::string flat = b.node("Reshape", "flat", {mul, b.ints("flat_shape", {batch, 8, 256})});
    const std::string tr = b.node("Transpose", "tr", {flat}, {{"perm", Attr::of_ints({0, 2, 1})}});
    const std::string sm = b.node("Softmax", "sm", {tr}, {{"axis", Attr::of_int(-1)}});
    const std::string sg = b.node("Sigmoid", "sg", {flat});
    const std::string mm = b.node("MatMul", "mm", {sg, sm});
    b.output(b.node("Reshape", "out", {mm, b.ints("out_shape", {batch, 64})}));
    b.output(c2);
    return b.build();
}

TEST(CpuArena, GraphsOfSeveralBatchSizesShareOneArena) {
    auto backend = backend_create("cpu");
    ASSERT_TRUE(backend.is_ok()) << backend.status().to_string();
    auto shared = std::make_shared<ActivationArena>();
    const std::vector<int64_t> batches = {1, 2, 3};
    std::vector<std::unique_ptr<CompiledGraph>> on_shared, alone;
    std::vector<std::vector<Tensor>> inputs, want;
    size_t largest = 0;
    for (int64_t b : batches) {
        const Graph g = families_graph(b);
        BackendOptions bo;
        bo.threads = 2;
        auto a = (*backend)->compile(g, bo);
        ASSERT_TRUE(a.is_ok()) << a.status().to_string();
        // The same per-layer choices as the graph alone: the 1x1 autotune (conv or matmul, timed at compile) may
        // flip between two compiles on a loaded machine (seen on AVX2, where the two are close), and the two
        // implementations round differently; this test is about the arena, so both replay one tuning.
        bo.tuning = (*a)->tuning();
        bo.arena = shared;
        auto s = (*backend)->compile(g, bo);
        ASSERT_TRUE(s.is_ok()) << s.status().to_string();
        largest = std::max(largest, (*a)->memory_bytes());
        alone.push_back(std::move(*a));
        on_shared.push_back(std::move(*s));
        inputs.push_back(test::random_inputs(g, static_cast<uint32_t>(100 + b)));
        // The reference: the graph alone, and the reference backend (the arena plan of both CPU graphs is the same,
        // so only the reference catches a plan that overlaps live buffers).
        std::vector<Tensor> out;
        ASSERT_TRUE(alone.back()->run(inputs.back(), out).is_ok());
        const std::vector<Tensor> ref = test::run_ref(g, inputs.back());
        ASSERT_EQ(out.size(), ref.size());
        for (size_t i = 0; i < out.size(); ++i) {
            const test::Diff d = test::diff_f32(ref[i], out[i]);
            EXPECT_LE(d.max_abs, 1e-4 * std::max(1.0, d.max_ref)) << "batch " << b << " output " << i;
            out[i] = out[i].clone();
        }
        want.push_back(out);
    }
    EXPECT_GT(shared->size(), 0u);
    EXPECT_LE(shared->size(), largest) << "the shared arena holds the largest graph's need, not the sum";
    // Interleaved runs, the arena poisoned with NaN (all-ones bytes) before each: bit-identical to the graph alone.
    for (size_t k : {1, 0, 2, 0, 1, 2, 2, 0}) {
        std::memset(shared->data(), 0xff, shared->size());
        std::vector<Tensor> out;
        ASSERT_TRUE(on_shared[k]->run(inputs[k], out).is_ok());
        ASSERT_EQ(out.size(), want[k].size());
        for (size_t i = 0; i < out.size(); ++i) {
            ASSERT_EQ(out[i].nbytes(), want[k][i].nbytes());
            EXPECT_EQ(std::memcmp(out[i].raw(), want[k][i].raw(), out[i].nbytes()), 0)
                << "batch " << batches[k] << " output " << i << " differs on the shared arena";
        }
    }
    // Outputs stay valid after another graph of the arena ran (they have buffers of their own).
    std::vector<Tensor> first, second;
    ASSERT_TRUE(on_shared[0]->run(inputs[0], first).is_ok());
    ASSERT_TRUE(on_shared[2]->run(inputs[2], second).is_ok());
    EXPECT_EQ(std::memcmp(first[0].raw(), want[0][0].raw(), first[0].nbytes()), 0);
}

TEST(CpuArena, ArenaIsSmallerThanTheSumOfTheActivations) {
    auto backend = backend_create("cpu");
    ASSERT_TRUE(backend.is_ok()) << backend.status().to_string();
    const Graph g = families_graph(4);
    size_t activations = 0;  // every non-constant value once, in its own dtype: what separate buffers would hold
    for (const auto& [name, vi] : g.values)
        if (!g.is_constant(name)) activations += shape_numel(vi.shape) * dtype_size(vi.dtype);
    auto arena = std::make_shared<ActivationArena>();
    BackendOptions bo;
    bo.threads = 2;
    bo.arena = arena;
    auto c = (*backend)->compile(g, bo);
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    EXPECT_LT(arena->size(), activations);
}

#endif  // ITSCAM_HAVE_ONEDNN

}  // namespace
}  // namespace itscam
