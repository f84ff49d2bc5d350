// The data-dependency graph of a lowering's steps (backend/step_order.h) and its capture as one CUDA graph
// (graph_branches.h).
#include "backend/cuda/graph_branches.h"

namespace itscam::cuda {

namespace {

constexpr unsigned kConvWorkspace = 1, kCublasWorkspace = 2;  // StepAccess::scratch bits

std::vector<StepBuffer> buffers_of(const CudaLowering& cx) {
    std::vector<StepBuffer> buffers;
    for (const Buffer& b : cx.bufs) buffers.push_back({b.persistent, b.offset, b.bytes});
    return buffers;
}

std::vector<StepAccess> accesses_of(const CudaLowering& cx, int skip) {
    std::vector<StepAccess> steps;
    for (size_t i = 0; i < cx.steps.size(); ++i) {
        const Step& st = cx.steps[i];
        steps.push_back(
            {st.enabled && static_cast<int>(i) != skip, st.bufs, st.writes, st.cublas ? kCublasWorkspace : 0u});
    }
    for (const auto& L : cx.convs)
        if (!L->use_igemm && L->ws > 0 && L->step >= 0) steps[static_cast<size_t>(L->step)].scratch |= kConvWorkspace;
    return steps;
}

}  // namespace

Result<csl::Graph> capture_branched(CudaLowering& cx, cudaStream_t s, int skip, int* depth) {
    const std::vector<StepAccess> steps = accesses_of(cx, skip);
    const std::vector<std::vector<int>> deps = step_dependencies(steps, buffers_of(cx));
    if (depth) *depth = longest_chain(deps, steps);
    cudaGraph_t raw = nullptr;
    ITSCAM_CUDA_CHECK(cudaGraphCreate(&raw, 0));
    csl::Graph parent(raw);
    std::vector<cudaGraphNode_t> node(cx.steps.size(), nullptr);
    for (size_t j = 0; j < cx.steps.size(); ++j) {
        const Step& st = cx.steps[j];
        if (!steps[j].active) continue;
        ITSCAM_ASSIGN_OR_RETURN(csl::Graph child, csl::capture(s, [&] { return st.fn(s).with_context(st.name); }));
        std::vector<cudaGraphNode_t> after;
        for (int i : deps[j]) after.push_back(node[static_cast<size_t>(i)]);
        size_t count = 0;
        ITSCAM_CUDA_CHECK(cudaGraphGetNodes(child.get(), nullptr, &count));
        if (count == 0)
            ITSCAM_CUDA_CHECK(cudaGraphAddEmptyNode(&node[j], parent.get(), after.data(), after.size()));
        else
            ITSCAM_CUDA_CHECK(
                cudaGraphAddChildGraphNode(&node[j], parent.get(), after.data(), after.size(), child.get()));
    }
    return parent;
}

}  // namespace itscam::cuda
