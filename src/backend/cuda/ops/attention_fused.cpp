// The PSA attention block as one kernel (attention_fused.h). Generic, the block at YOLO11n's 20x20 level is twelve
// steps (a layout conversion, three Split copies, two Transposes, two cuBLAS MatMuls, the scale, the softmax and two
// conversions back to NHWC) and writes the [tokens x tokens] attention matrix four times; at batch 1 every step is
// mostly launch latency. The fused kernel reads the qkv convolution's NHWC output and writes the NHWC views that the
// position-encoding and projection convolutions read.
#include "backend/cuda/ops/attention_fused.h"

#include <string>
#include <vector>

#include "passes/graph_utils.h"

namespace itscam::cuda {

namespace {

// The block's name in step lists: its nodes' common path ("/model.10/m/m.0/attn").
std::string block_name(const AttentionBlock& b) {
    std::string p = b.nodes.front();
    for (const auto& n : b.nodes) {
        size_t k = 0;
        while (k < p.size() && k < n.size() && p[k] == n[k]) ++k;
        p.resize(k);
    }
    const size_t slash = p.rfind('/');
    return slash == std::string::npos || slash == 0 ? b.nodes.front() : p.substr(0, slash);
}

// The fused step, at the block's first node.
Status lower_block(CudaLowering& cx, const AttentionBlock& b) {
    const View qkv = cx.resolve_nhwc(b.qkv);
    const int64_t rows = b.batch * b.hw, ldo = b.out_channels();
    if (qkv.ld != b.qkv_channels())
        return internal_error(block_name(b) + ": the fused attention's qkv view has row pitch " +
                              std::to_string(qkv.ld));
    for (const std::string* o : {&b.out, &b.v}) {
        View& y = cx.vals[*o].nhwc;
        y.buf = cx.new_buffer(static_cast<size_t>(rows * ldo) * cx.es, *o + " (nhwc)");
        y.off = 0;
        y.ld = ldo;
    }
    const View out = cx.vals[b.out].nhwc, v = cx.vals[b.v].nhwc;
    const std::string desc = "Attention fused (" + std::to_string(b.heads) + " heads, " + std::to_string(b.hw) +
                             " tokens, QK^T + softmax + PV) [itscam kernel]";
    const int64_t batch = b.batch, hw = b.hw;
    const int heads = b.heads, dk = b.dk, dv = b.dv;
    const float scale = b.scale;
    cx.add_step(block_name(b), desc, {qkv.buf, out.buf, v.buf},
                [&cx, qkv, out, v, batch, hw, heads, dk, dv, scale](cudaStream_t st) {
                    return csl::cuda_status(ck::attention_nhwc(cx.ptr(qkv), qkv.ld, cx.ptr(out), out.ld, cx.ptr(v),
                                                               v.ld, batch, hw, heads, dk, dv, scale, st),
                                            "attention_nhwc");
                },
                {out.buf, v.buf});
    return Status::ok();
}

}  // namespace

Status plan_fused_attention(CudaLowering& cx) {
    ITSCAM_ASSIGN_OR_RETURN(const bool on, CudaLowering::fusion_switch("ITSCAM_CUDA_FUSED_ATTENTION",
                                                                       "the PSA attention block as one kernel"));
    if (!on || cx.act != DType::kF16) return Status::ok();
    const auto readers = consumer_map(cx.graph);
    for (AttentionBlock& b : find_attention_blocks(cx.graph)) {
        // qkv is read by the block alone, so its NHWC view is its own buffer (ld = channels); the results get theirs.
        bool ok =
            cx.vals[b.qkv].nhwc_native && ck::attention_supported(b.batch, b.hw, b.heads, b.dk, b.dv, b.qkv_channels(),
                                                                  b.out_channels(), b.out_channels());
        for (const std::string* o : {&b.out, &b.v})
            for (size_t i : readers.at(*o)) ok &= cx.layout_of(cx.graph.nodes[i]) == Layout::kNhwc;
        if (!ok) continue;
        std::vector<std::string> nodes = b.nodes;
        cx.add_fused_group({"attention", std::move(nodes), [b](CudaLowering& c) -> Result<bool> {
                                ITSCAM_RETURN_IF_ERROR(lower_block(c, b));
                                return true;
                            }});
    }
    return Status::ok();
}

}  // namespace itscam::cuda
