// Which steps of a compiled graph must run after which: the data dependencies of a step list, for a backend that
// runs independent steps side by side (the CUDA backend's graph with parallel branches, cuda/graph_branches.h).
// Backend-neutral: steps are described by the buffers they touch and write, buffers by where their bytes live.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <vector>

namespace itscam {

// Where a buffer's bytes live: its own allocation, or a region of the shared arena (which reuses bytes over the
// graph's length, so two buffers there are the same memory where their regions overlap).
struct StepBuffer {
    bool own = false;
    size_t offset = 0, bytes = 0;  // in the arena (own == false)
};

struct StepAccess {
    bool active = true;        // a disabled or skipped step: no entry, orders nothing
    std::vector<int> touches;  // buffer indices it reads or writes (negative entries ignored)
    std::vector<int> writes;   // those of them it writes
    unsigned scratch = 0;      // bit set per shared scratch it uses (a workspace several steps share)
};

// For each step, the earlier steps it must follow: those that write memory it touches, those whose touched memory it
// writes, and those that share a scratch bit with it. Transitively reduced: no edge to a step that another edge's
// step already follows. Inactive steps get an empty list.
std::vector<std::vector<int>> step_dependencies(const std::vector<StepAccess>& steps,
                                                const std::vector<StepBuffer>& buffers);

// The number of steps on the longest chain of `deps` (0 for no active step).
int longest_chain(const std::vector<std::vector<int>>& deps, const std::vector<StepAccess>& steps);

}  // namespace itscam
