// The CUDA backend's op-family lowering rules (src/backend/lowering_registry.h), one file per family:
//
//   ops/conv.cpp           Conv on cuDNN (legacy API + epilogue kernel, or one fused cuDNN graph)
//   ops/conv_latency.cpp   the depthwise and stem convolutions on our kernels (taken by ops/conv.cpp's rule)
//   ops/pool_resize.cpp    MaxPool, nearest Resize, and chains of equal MaxPools as one kernel (planned before the
//                          nodes are lowered)
//   ops/data_movement.cpp  channel Concat/Split (and the Concat placement plan), views, Transpose, Slice,
//                          plain Concat/Split
//   ops/elementwise.cpp    Add/Sub/Mul/Div, Sigmoid/Relu
//   ops/attention.cpp      MatMul on cuBLAS, Softmax
//   ops/attention_fused.cpp  the PSA attention block as one kernel (planned before the nodes are lowered)
//   ops/head.cpp           DflDecode, and the fused Detect head (planned and verified after lowering)
//
// Adding an op: write its rule in its family's file (or a new family file with its own register function) and add
// the register call to the list in ops/registry.cpp.
#pragma once

#include "backend/cuda/lowering_context.h"
#include "backend/lowering_registry.h"

namespace itscam::cuda {

void register_cuda_conv_lowerings(LoweringRegistry<CudaLowering>& r);
void register_cuda_pool_resize_lowerings(LoweringRegistry<CudaLowering>& r);
void register_cuda_data_movement_lowerings(LoweringRegistry<CudaLowering>& r);
void register_cuda_elementwise_lowerings(LoweringRegistry<CudaLowering>& r);
void register_cuda_attention_lowerings(LoweringRegistry<CudaLowering>& r);
void register_cuda_head_lowerings(LoweringRegistry<CudaLowering>& r);

// Every CUDA rule, registered once on first use (thread-safe) and read-only afterwards.
const LoweringRegistry<CudaLowering>& cuda_lowering_registry();

}  // namespace itscam::cuda
