// The PSA attention block of YOLO11 (C2PSA) found in a graph, for backends that run it as one kernel (the CUDA
// backend: backend/cuda/ops/attention_fused.h). Pure graph inspection: no device, tested on the CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace itscam {

// A PSA attention block: the qkv convolution's output, the two values the block hands on (the attention output and
// the value tensor, both [N, heads * dv, H, W]), the generic nodes it replaces and the kernel's geometry.
struct AttentionBlock {
    std::string qkv, out, v;
    std::vector<std::string> nodes;
    int heads = 0, dk = 0, dv = 0;
    int64_t batch = 0, hw = 0;
    float scale = 1.f;
    int64_t qkv_channels() const { return static_cast<int64_t>(heads) * (2 * dk + dv); }
    int64_t out_channels() const { return static_cast<int64_t>(heads) * dv; }  // of out and of v
};

// Every PSA attention block of `g` (bound shapes): the Ultralytics export
//   Reshape(qkv) [N, heads, 2dk+dv, HW] -> Split(axis 2: dk, dk, dv) -> q, k, v
//   MatMul(Transpose(q, 0 1 3 2), k) -> Mul(scalar) -> Softmax(last axis) -> Transpose(0 1 3 2) -> MatMul(v, .)
//   -> Reshape [N, heads*dv, H, W] = out;  Reshape(v) [N, heads*dv, H, W] = v
// where qkv [N, heads*(2dk+dv), H, W] is read by that Reshape alone, every value in between is read inside the block
// only, and out and v are read by convolutions only (graph outputs excluded). Anything else is not a block.
std::vector<AttentionBlock> find_attention_blocks(const Graph& g);

}  // namespace itscam
