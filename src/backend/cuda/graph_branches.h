// A CUDA graph whose edges are the steps' data dependencies instead of their order, so that the network's
// independent branches run side by side: the detect head's box and class branches of each level, the P3 head beside
// the PAN layers that follow it, and the like. At batch 1 most kernels fill a fraction of the GPU, so the replay is a
// chain of short kernels and its length is what a branch taken off the chain saves.
//
// Two steps are ordered when one writes memory that the other reads or writes (arena regions count as the same memory
// where they overlap, since the arena reuses memory over the graph's length), or when both use a scratch the lowering
// shares between steps: the convolution workspace (a cuDNN choice with a workspace) or cuBLAS's workspace. Steps the
// lowering did not annotate count as writing every buffer they touch (Step::writes).
//
// Thread-safety: host-side, on the compiling thread; capture_branched() captures on `s` without running anything.
#pragma once

#include <cuda_runtime.h>

#include <vector>

#include "backend/cuda/lowering_context.h"
#include "backend/step_order.h"
#include "core/status.h"
#include "device/cuda/csl.h"

namespace itscam::cuda {

// The enabled steps but `skip` (-1: none), each captured on `s` into its own child graph, joined into one graph by
// the edges of step_dependencies() (backend/step_order.h) over the lowering's buffers and steps. *depth: the number
// of steps on its longest chain (the sequential graph's is the step count).
Result<csl::Graph> capture_branched(CudaLowering& cx, cudaStream_t s, int skip, int* depth);

}  // namespace itscam::cuda
