// The PSA attention block of YOLO11 (C2PSA) lowered as one kernel (kernels/attention.cu) in place of its dozen
// generic steps. ITSCAM_CUDA_FUSED_ATTENTION=0 keeps the generic steps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/cuda/lowering_context.h"
#include "graph/graph.h"

namespace itscam::cuda {

// A PSA attention block: the qkv convolution's output, the two values the block hands on (the attention output and
// the value tensor, both [N, heads * dv, H, W]), the generic nodes it replaces and the kernel's geometry.
struct AttentionBlock {
    std::string qkv, out, v;
    std::vector<std::string> nodes;
    int heads = 0, dk = 0, dv = 0;
    int64_t batch = 0, hw = 0;
    float scale = 1.f;
};

// Every PSA attention block of `g` (bound shapes): the Ultralytics export
//   Reshape(qkv) [N, heads, 2dk+dv, HW] -> Split(axis 2: dk, dk, dv) -> q, k, v
//   MatMul(Transpose(q, 0 1 3 2), k) -> Mul(scalar) -> Softmax(last axis) -> Transpose(0 1 3 2) -> MatMul(v, .)
//   -> Reshape [N, heads*dv, H, W] = out;  Reshape(v) [N, heads*dv, H, W] = v
// where qkv [N, heads*(2dk+dv), H, W] is read by that Reshape alone, every value in between is read inside the block
// only, and out and v are read by convolutions only (graph outputs excluded). Anything else is not a block: its
// nodes lower one by one. Pure graph inspection.
std::vector<AttentionBlock> find_attention_blocks(const Graph& g);

// Picks the blocks the fused kernel takes (fp16 activations, NHWC convolutions reading the results, the kernel's
// head sizes), unless ITSCAM_CUDA_FUSED_ATTENTION=0, and adds each as a fused group ("attention") whose step reads
// the qkv convolution's NHWC output and writes the NHWC views of out and v. Runs after plan_layouts() and before the
// nodes are lowered.
Status plan_fused_attention(CudaLowering& cx);

}  // namespace itscam::cuda
