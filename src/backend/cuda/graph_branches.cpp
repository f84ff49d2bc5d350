// The data-dependency graph of a lowering's steps and its capture as one CUDA graph (graph_branches.h).
#include "backend/cuda/graph_branches.h"

#include <algorithm>
#include <cstdint>

namespace itscam::cuda {

namespace {

// Whether buffers a and b share memory: the same buffer, or overlapping arena regions.
bool overlap(const CudaLowering& cx, int a, int b) {
    if (a == b) return true;
    const Buffer& x = cx.bufs[static_cast<size_t>(a)];
    const Buffer& y = cx.bufs[static_cast<size_t>(b)];
    if (x.persistent || y.persistent) return false;
    return x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
}

bool writes_into(const CudaLowering& cx, const Step& w, const Step& o) {
    for (int a : w.writes)
        for (int b : o.bufs)
            if (b >= 0 && overlap(cx, a, b)) return true;
    return false;
}

}  // namespace

std::vector<std::vector<int>> step_dependencies(const CudaLowering& cx, int skip) {
    const size_t n = cx.steps.size();
    std::vector<bool> conv_ws(n, false);
    for (const auto& L : cx.convs)
        if (!L->use_igemm && L->ws > 0 && L->step >= 0) conv_ws[static_cast<size_t>(L->step)] = true;
    auto active = [&](size_t i) { return cx.steps[i].enabled && static_cast<int>(i) != skip; };

    std::vector<std::vector<int>> deps(n);
    const size_t words = (n + 63) / 64;
    std::vector<std::vector<uint64_t>> reach(n, std::vector<uint64_t>(words, 0));  // ancestors of each step
    for (size_t j = 0; j < n; ++j) {
        if (!active(j)) continue;
        const Step& b = cx.steps[j];
        // Latest first: an earlier conflicting step that a later one already reaches needs no edge of its own.
        for (size_t i = j; i-- > 0;) {
            if (!active(i) || (reach[j][i / 64] >> (i % 64) & 1u)) continue;
            const Step& a = cx.steps[i];
            const bool ordered =
                (conv_ws[i] && conv_ws[j]) || (a.cublas && b.cublas) || writes_into(cx, a, b) || writes_into(cx, b, a);
            if (!ordered) continue;
            deps[j].push_back(static_cast<int>(i));
            for (size_t w = 0; w < words; ++w) reach[j][w] |= reach[i][w];
            reach[j][i / 64] |= uint64_t{1} << (i % 64);
        }
    }
    return deps;
}

Result<csl::Graph> capture_branched(CudaLowering& cx, cudaStream_t s, int skip, int* depth) {
    const std::vector<std::vector<int>> deps = step_dependencies(cx, skip);
    cudaGraph_t raw = nullptr;
    ITSCAM_CUDA_CHECK(cudaGraphCreate(&raw, 0));
    csl::Graph parent(raw);
    std::vector<cudaGraphNode_t> node(cx.steps.size(), nullptr);
    std::vector<int> chain(cx.steps.size(), 0);  // steps on the longest chain ending at each step
    int longest = 0;
    for (size_t j = 0; j < cx.steps.size(); ++j) {
        const Step& st = cx.steps[j];
        if (!st.enabled || static_cast<int>(j) == skip) continue;
        ITSCAM_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
        const Status run = st.fn(s).with_context(st.name);
        cudaGraph_t child_raw = nullptr;
        const cudaError_t end = cudaStreamEndCapture(s, &child_raw);
        csl::Graph child(child_raw);
        ITSCAM_RETURN_IF_ERROR(run);
        ITSCAM_CUDA_CHECK(end);
        std::vector<cudaGraphNode_t> after;
        for (int i : deps[j]) {
            after.push_back(node[static_cast<size_t>(i)]);
            chain[j] = std::max(chain[j], chain[static_cast<size_t>(i)]);
        }
        chain[j] += 1;
        longest = std::max(longest, chain[j]);
        size_t count = 0;
        ITSCAM_CUDA_CHECK(cudaGraphGetNodes(child.get(), nullptr, &count));
        if (count == 0)
            ITSCAM_CUDA_CHECK(cudaGraphAddEmptyNode(&node[j], parent.get(), after.data(), after.size()));
        else
            ITSCAM_CUDA_CHECK(
                cudaGraphAddChildGraphNode(&node[j], parent.get(), after.data(), after.size(), child.get()));
    }
    if (depth) *depth = longest;
    return parent;
}

}  // namespace itscam::cuda
