// The data dependencies of a step list (backend/step_order.h), which the CUDA backend's graph with parallel branches
// is built from: what must stay ordered (a write and any access to the same memory, arena regions that overlap, a
// shared scratch) and what may run side by side (readers of one buffer, disjoint memory), on hand-made step lists.
#include "backend/step_order.h"

#include <gtest/gtest.h>

#include <vector>

namespace itscam {
namespace {

using Deps = std::vector<std::vector<int>>;

StepBuffer arena(size_t offset, size_t bytes) {
    return {false, offset, bytes};
}

StepBuffer own() {
    return {true, 0, 64};
}

// A YOLO-like fork: step 0 writes x; steps 1 and 2 read x into their own buffers (two head branches); step 3 reads
// both branch outputs and writes the graph output.
TEST(StepOrder, ReadersOfOneBufferRunSideBySide) {
    const std::vector<StepBuffer> bufs = {own(), arena(0, 256), arena(256, 256), arena(512, 256), own()};
    const std::vector<StepAccess> steps = {
        {true, {0, 1}, {1}, 0},     // input -> x
        {true, {1, 2}, {2}, 0},     // x -> a
        {true, {1, 3}, {3}, 0},     // x -> b
        {true, {2, 3, 4}, {4}, 0},  // a, b -> output
    };
    const Deps d = step_dependencies(steps, bufs);
    EXPECT_EQ(d, (Deps{{}, {0}, {0}, {2, 1}}));
    EXPECT_EQ(longest_chain(d, steps), 3);  // of 4 steps: the two branches overlap
}

// The arena reuses bytes: a buffer placed where a dead one was must wait for that one's last reader, even though the
// two steps share no buffer index.
TEST(StepOrder, OverlappingArenaRegionsAreTheSameMemory) {
    const std::vector<StepBuffer> bufs = {arena(0, 128), arena(128, 128), arena(64, 128), arena(512, 64)};
    const std::vector<StepAccess> steps = {
        {true, {0}, {0}, 0},     // writes buffer 0 [0, 128)
        {true, {0, 1}, {1}, 0},  // last reader of buffer 0
        {true, {3}, {3}, 0},     // unrelated memory
        {true, {2}, {2}, 0},     // writes buffer 2 [64, 192): over buffers 0 and 1
    };
    const Deps d = step_dependencies(steps, bufs);
    EXPECT_EQ(d[2], std::vector<int>{});
    EXPECT_EQ(d[3], std::vector<int>{1}) << "after the last access to the bytes it overwrites (step 0 through step 1)";
    // Buffers in their own allocations never share memory with others, whatever their recorded offsets.
    const std::vector<StepBuffer> owned = {own(), own()};
    EXPECT_EQ(step_dependencies({{true, {0}, {0}, 0}, {true, {1}, {1}, 0}}, owned), (Deps{{}, {}}));
}

// A step that writes into a buffer another step reads (an in-place residual, a Concat slice) is ordered both ways
// round: after earlier readers and before later ones.
TEST(StepOrder, WriteAfterReadAndReadAfterWrite) {
    const std::vector<StepBuffer> bufs = {arena(0, 64), arena(64, 64), arena(128, 64)};
    const std::vector<StepAccess> steps = {
        {true, {0}, {0}, 0},     // writes 0
        {true, {0, 1}, {1}, 0},  // reads 0
        {true, {2, 0}, {0}, 0},  // writes 0 again (in place): after the reader
        {true, {0, 2}, {2}, 0},  // reads 0: after the second write
    };
    EXPECT_EQ(step_dependencies(steps, bufs), (Deps{{}, {0}, {1}, {2}}));
}

// Steps that share a scratch (a convolution workspace, cuBLAS's) are ordered even on disjoint buffers; a different
// scratch bit orders nothing.
TEST(StepOrder, SharedScratchOrdersSteps) {
    const std::vector<StepBuffer> bufs = {arena(0, 64), arena(64, 64), arena(128, 64)};
    const std::vector<StepAccess> steps = {
        {true, {0}, {0}, 1},
        {true, {1}, {1}, 2},
        {true, {2}, {2}, 1},
    };
    EXPECT_EQ(step_dependencies(steps, bufs), (Deps{{}, {}, {0}}));
}

// Inactive steps (a disabled generic head, the skipped input conversion) order nothing and get no entry; negative
// buffer indices are ignored.
TEST(StepOrder, InactiveStepsAndNegativeBuffersAreIgnored) {
    const std::vector<StepBuffer> bufs = {arena(0, 64), arena(64, 64)};
    const std::vector<StepAccess> steps = {
        {true, {0, -1}, {0}, 0},
        {false, {0, 1}, {0, 1}, 3},
        {true, {1, -1}, {1}, 3},
        {true, {0, 1}, {}, 0},  // reads both
    };
    const Deps d = step_dependencies(steps, bufs);
    EXPECT_EQ(d, (Deps{{}, {}, {}, {2, 0}}));
    EXPECT_EQ(longest_chain(d, steps), 2);
    EXPECT_EQ(longest_chain({}, {}), 0);
}

// The edges are transitively reduced: a chain a -> b -> c over one buffer gives c a single edge.
TEST(StepOrder, EdgesAreTransitivelyReduced) {
    const std::vector<StepBuffer> bufs = {arena(0, 64)};
    std::vector<StepAccess> steps(6, StepAccess{true, {0}, {0}, 0});
    const Deps d = step_dependencies(steps, bufs);
    for (size_t j = 1; j < d.size(); ++j) EXPECT_EQ(d[j], std::vector<int>{static_cast<int>(j) - 1}) << j;
    EXPECT_EQ(longest_chain(d, steps), 6);
    // Past 64 steps (the ancestor sets span several words).
    std::vector<StepAccess> many(150, StepAccess{true, {0}, {}, 0});
    many[0].writes = {0};
    many[149].writes = {0};
    const Deps m = step_dependencies(many, bufs);
    for (size_t j = 1; j < 149; ++j) EXPECT_EQ(m[j], std::vector<int>{0}) << j;
    EXPECT_EQ(m[149].size(), 148u) << "the write waits for every reader, none of which follows another";
    EXPECT_EQ(longest_chain(m, many), 3);
}

}  // namespace
}  // namespace itscam
