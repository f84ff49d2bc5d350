// Memory plan of a compiled graph's activations: one arena, every buffer at an offset, buffers whose lifetimes do
// not overlap sharing bytes. Backend-neutral (host or device memory); the CPU backend plans with it, and so can any
// backend that knows each buffer's first and last use.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <vector>

namespace itscam {

struct ArenaBlock {
    size_t bytes = 0;
    int first = 0, last = 0;  // the first and last time (step or node index) that uses the buffer, inclusive
    size_t offset = 0;        // set by arena_plan
};

// Assigns every block an offset (a multiple of `align`, a power of two) so that two blocks whose [first, last]
// intervals overlap never share a byte: largest block first, each at the lowest offset that fits between the blocks
// already placed that are alive at the same time (first fit). Returns the arena size, a multiple of `align`.
size_t arena_plan(std::vector<ArenaBlock>& blocks, size_t align);

}  // namespace itscam
