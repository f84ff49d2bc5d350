// The PSA attention block of YOLO11 (C2PSA) lowered as one kernel (kernels/attention.cu) in place of its dozen
// generic steps. ITSCAM_CUDA_FUSED_ATTENTION=0 keeps the generic steps.
#pragma once

#include "backend/attention_pattern.h"
#include "backend/cuda/lowering_context.h"

namespace itscam::cuda {

// Picks the blocks (find_attention_blocks, backend/attention_pattern.h) the fused kernel takes (fp16 activations,
// NHWC convolutions reading the results, the kernel's head sizes), unless ITSCAM_CUDA_FUSED_ATTENTION=0, and adds
// each as a fused group ("attention") whose step reads the qkv convolution's NHWC output and writes the NHWC views of
// out and v. Runs after plan_layouts() and before the nodes are lowered.
Status plan_fused_attention(CudaLowering& cx);

}  // namespace itscam::cuda
