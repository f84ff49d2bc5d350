// Pooling on the CUDA backend beyond one node at a time (ops/pool_resize.cpp).
#pragma once

#include "backend/cuda/lowering_context.h"

namespace itscam::cuda {

// Chains of 2-4 equal MaxPools (k x k, k odd, stride 1, padding k / 2), each reading the one before (SPPF), become
// fused groups ("maxpool chain") of one kernel that writes every pool's NHWC view (kernels/pool_resize.cu), unless
// ITSCAM_CUDA_FUSED_POOLS=0. A chain whose views the kernel cannot take (a pitch or offset off 16 bytes) lowers node
// by node at its first node. Runs after plan_layouts() and the Concat placements, before the nodes are lowered.
Status plan_maxpool_chains(CudaLowering& cx);

}  // namespace itscam::cuda
