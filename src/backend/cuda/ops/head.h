// The fused Detect head (ops/head.cpp), planned and verified by the backend's compile around allocation.
#pragma once

#include "backend/cuda/lowering_context.h"

namespace itscam::cuda {

// Recognises the YOLOv8/11 Detect head (two channel-concatenations of per-level conv outputs, reshaped to
// [N, 4R, A] and [N, nc, A], DflDecode, the box decode and the Sigmoid, concatenated to the single output) and
// plans the fused kernel next to the generic steps, switched off. Anything unexpected leaves the generic head
// alone. Runs after the graph's outputs are lowered and before allocate(); only with the latency kernels on.
Status plan_detect_head(CudaLowering& cx);

// Runs the generic head and the fused head on one random input and keeps the fused one when they agree within the
// precision's tolerance (boxes in input pixels, scores in probability). Runs after allocate() and autotuning;
// synchronous (waits for the stream).
Status verify_detect_head(CudaLowering& cx);

}  // namespace itscam::cuda
