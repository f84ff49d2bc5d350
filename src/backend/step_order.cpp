// The data dependencies of a step list (step_order.h).
#include "backend/step_order.h"

#include <algorithm>
#include <cstdint>

namespace itscam {

namespace {

bool same_memory(const std::vector<StepBuffer>& buffers, int a, int b) {
    if (a == b) return true;
    const StepBuffer& x = buffers[static_cast<size_t>(a)];
    const StepBuffer& y = buffers[static_cast<size_t>(b)];
    if (x.own || y.own) return false;
    return x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
}

bool writes_into(const std::vector<StepBuffer>& buffers, const StepAccess& w, const StepAccess& o) {
    for (int a : w.writes)
        for (int b : o.touches)
            if (a >= 0 && b >= 0 && same_memory(buffers, a, b)) return true;
    return false;
}

}  // namespace

std::vector<std::vector<int>> step_dependencies(const std::vector<StepAccess>& steps,
                                                const std::vector<StepBuffer>& buffers) {
    const size_t n = steps.size();
    std::vector<std::vector<int>> deps(n);
    const size_t words = (n + 63) / 64;
    std::vector<std::vector<uint64_t>> reach(n, std::vector<uint64_t>(words, 0));  // each step's ancestors
    for (size_t j = 0; j < n; ++j) {
        const StepAccess& b = steps[j];
        if (!b.active) continue;
        // Latest first: an earlier step that a later dependency already follows needs no edge of its own.
        for (size_t i = j; i-- > 0;) {
            const StepAccess& a = steps[i];
            if (!a.active || ((reach[j][i / 64] >> (i % 64)) & 1u)) continue;
            if ((a.scratch & b.scratch) == 0 && !writes_into(buffers, a, b) && !writes_into(buffers, b, a)) continue;
            deps[j].push_back(static_cast<int>(i));
            for (size_t w = 0; w < words; ++w) reach[j][w] |= reach[i][w];
            reach[j][i / 64] |= uint64_t{1} << (i % 64);
        }
    }
    return deps;
}

int longest_chain(const std::vector<std::vector<int>>& deps, const std::vector<StepAccess>& steps) {
    std::vector<int> chain(deps.size(), 0);
    int longest = 0;
    for (size_t j = 0; j < deps.size(); ++j) {
        if (!steps[j].active) continue;
        for (int i : deps[j]) chain[j] = std::max(chain[j], chain[static_cast<size_t>(i)]);
        chain[j] += 1;
        longest = std::max(longest, chain[j]);
    }
    return longest;
}

}  // namespace itscam
