#include "backend/arena_plan.h"

#include <algorithm>
#include <utility>

namespace itscam {

size_t arena_plan(std::vector<ArenaBlock>& blocks, size_t align) {
    auto align_up = [align](size_t v) { return (v + align - 1) / align * align; };
    std::vector<size_t> order(blocks.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    // Largest first. std::sort is deterministic for the same input (ties keep no particular order, but always the
    // same one); the CUDA backend's plans were made with it, so its arena offsets stay as they were.
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return blocks[a].bytes > blocks[b].bytes; });
    std::vector<size_t> placed;
    size_t arena = 0;
    for (size_t i : order) {
        ArenaBlock& b = blocks[i];
        const size_t bytes = align_up(b.bytes);
        std::vector<std::pair<size_t, size_t>> busy;  // [begin, end) of the placed blocks alive with b
        for (size_t j : placed) {
            const ArenaBlock& o = blocks[j];
            if (o.last < b.first || b.last < o.first) continue;
            busy.emplace_back(o.offset, o.offset + align_up(o.bytes));
        }
        std::sort(busy.begin(), busy.end());
        size_t off = 0;
        for (const auto& [s, e] : busy) {
            if (off + bytes <= s) break;
            off = std::max(off, e);
        }
        b.offset = off;
        arena = std::max(arena, off + bytes);
        placed.push_back(i);
    }
    return arena;
}

}  // namespace itscam
