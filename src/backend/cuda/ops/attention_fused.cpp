// The PSA attention block as one kernel (attention_fused.h). Generic, the block at YOLO11n's 20x20 level is twelve
// steps (a layout conversion, three Split copies, two Transposes, two cuBLAS MatMuls, the scale, the softmax and two
// conversions back to NHWC) and writes the [tokens x tokens] attention matrix twice; at batch 1 every step is mostly
// launch latency. The fused kernel reads the qkv convolution's NHWC output and writes the NHWC views that the
// position-encoding and projection convolutions read.
#include "backend/cuda/ops/attention_fused.h"

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ops/resize_params.h"

namespace itscam::cuda {

namespace {

// Who reads each value: node indices, and whether a graph output is the value.
struct Readers {
    std::map<std::string, std::vector<int>> nodes;
    std::set<std::string> outputs;

    explicit Readers(const Graph& g) : outputs(g.outputs.begin(), g.outputs.end()) {
        for (size_t i = 0; i < g.nodes.size(); ++i)
            for (const auto& in : g.nodes[i].inputs)
                if (!in.empty()) nodes[in].push_back(static_cast<int>(i));
    }
    // The one node reading `v` (exactly once), or null.
    const Node* only(const Graph& g, const std::string& v) const {
        auto it = nodes.find(v);
        if (outputs.count(v) || it == nodes.end() || it->second.size() != 1) return nullptr;
        return &g.nodes[static_cast<size_t>(it->second[0])];
    }
};

bool shape_is(const Graph& g, const std::string& v, const Shape& s) {
    const ValueInfo* vi = g.info(v);
    return vi && vi->shape == s;
}

bool swaps_last_two(const Node& n) {
    return n.op == "Transpose" && n.attr_ints("perm") == std::vector<int64_t>{0, 1, 3, 2};
}

const Node* producer_of(const Graph& g, const std::string& v) {
    const int p = g.producer(v);
    return p < 0 ? nullptr : &g.nodes[static_cast<size_t>(p)];
}

// The block whose Softmax is `sm`, or false.
bool match(const Graph& g, const Readers& rd, const Node& sm, AttentionBlock& b) {
    // Backwards from the softmax: Mul(MatMul(Transpose(q), k), scalar).
    const Node* mul = producer_of(g, sm.inputs[0]);
    if (!mul || mul->op != "Mul" || mul->inputs.size() != 2 || rd.only(g, mul->outputs[0]) != &sm) return false;
    const int ci = g.is_constant(mul->inputs[1]) ? 1 : g.is_constant(mul->inputs[0]) ? 0 : -1;
    if (ci < 0 || g.constant(mul->inputs[ci])->numel() != 1) return false;
    const Node* qk = producer_of(g, mul->inputs[1 - ci]);
    if (!qk || qk->op != "MatMul" || rd.only(g, qk->outputs[0]) != mul) return false;
    const Node* tq = producer_of(g, qk->inputs[0]);
    if (!tq || !swaps_last_two(*tq) || rd.only(g, tq->outputs[0]) != qk) return false;
    const Node* split = producer_of(g, tq->inputs[0]);
    if (!split || split->op != "Split" || split->outputs.size() != 3 || split->outputs[0] != tq->inputs[0] ||
        split->outputs[1] != qk->inputs[1] || rd.only(g, split->outputs[1]) != qk)
        return false;
    const Node* r0 = producer_of(g, split->inputs[0]);
    if (!r0 || r0->op != "Reshape" || rd.only(g, r0->outputs[0]) != split) return false;
    const std::string& qkv = r0->inputs[0];
    const Node* conv = producer_of(g, qkv);
    if (!conv || conv->op != "Conv" || rd.only(g, qkv) != r0) return false;

    // Geometry from the bound shapes.
    const ValueInfo *xi = g.info(qkv), *ri = g.info(r0->outputs[0]), *qi = g.info(split->outputs[0]),
                    *vi = g.info(split->outputs[2]);
    if (!xi || !ri || !qi || !vi || xi->shape.size() != 4 || ri->shape.size() != 4 || !xi->shape_known()) return false;
    const int64_t N = xi->shape[0], C = xi->shape[1], H = xi->shape[2], W = xi->shape[3];
    const int64_t heads = ri->shape[1], ch = ri->shape[2], hw = ri->shape[3];
    if (ri->shape[0] != N || hw != H * W || heads * ch != C || qi->shape != Shape{N, heads, qi->shape[2], hw} ||
        vi->shape != Shape{N, heads, vi->shape[2], hw} || 2 * qi->shape[2] + vi->shape[2] != ch ||
        !shape_is(g, split->outputs[1], qi->shape))
        return false;
    const int64_t dk = qi->shape[2], dv = vi->shape[2];
    auto sl = softmax_layout(sm, Shape{N, heads, hw, hw});
    if (!sl.is_ok() || sl->inner != 1 || sl->len != hw || !shape_is(g, sm.inputs[0], Shape{N, heads, hw, hw}))
        return false;

    // Forwards: Transpose(softmax) -> MatMul(v, .) -> Reshape = out; Reshape(v) = the value tensor.
    const Node* tp = rd.only(g, sm.outputs[0]);
    if (!tp || !swaps_last_two(*tp)) return false;
    const Node* pv = rd.only(g, tp->outputs[0]);
    if (!pv || pv->op != "MatMul" || pv->inputs[0] != split->outputs[2] || pv->inputs[1] != tp->outputs[0])
        return false;
    const Node* r1 = rd.only(g, pv->outputs[0]);
    if (!r1 || r1->op != "Reshape") return false;
    auto vr = rd.nodes.find(split->outputs[2]);
    if (rd.outputs.count(split->outputs[2]) || vr == rd.nodes.end() || vr->second.size() != 2) return false;
    const Node* r2 = nullptr;
    for (int i : vr->second)
        if (&g.nodes[static_cast<size_t>(i)] != pv) r2 = &g.nodes[static_cast<size_t>(i)];
    if (!r2 || r2->op != "Reshape") return false;
    const Shape image{N, heads * dv, H, W};
    if (!shape_is(g, r1->outputs[0], image) || !shape_is(g, r2->outputs[0], image)) return false;
    // The results go to convolutions only (which read NHWC views).
    for (const std::string* o : {&r1->outputs[0], &r2->outputs[0]}) {
        auto it = rd.nodes.find(*o);
        if (rd.outputs.count(*o) || it == rd.nodes.end()) return false;
        for (int i : it->second)
            if (g.nodes[static_cast<size_t>(i)].op != "Conv") return false;
    }

    b.qkv = qkv;
    b.out = r1->outputs[0];
    b.v = r2->outputs[0];
    b.heads = static_cast<int>(heads);
    b.dk = static_cast<int>(dk);
    b.dv = static_cast<int>(dv);
    b.batch = N;
    b.hw = hw;
    b.scale = g.constant(mul->inputs[ci])->to_f32_vector()[0];
    const std::set<const Node*> members = {r0, split, tq, qk, mul, &sm, tp, pv, r1, r2};
    for (const Node& n : g.nodes)
        if (members.count(&n)) b.nodes.push_back(n.name);
    return true;
}

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
    const int64_t rows = b.batch * b.hw, ldo = static_cast<int64_t>(b.heads) * b.dv;
    if (qkv.ld != static_cast<int64_t>(b.heads) * (2 * b.dk + b.dv))
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

std::vector<AttentionBlock> find_attention_blocks(const Graph& g) {
    const Readers rd(g);
    std::vector<AttentionBlock> out;
    for (const Node& n : g.nodes) {
        AttentionBlock b;
        if (n.op == "Softmax" && match(g, rd, n, b)) out.push_back(std::move(b));
    }
    return out;
}

Status plan_fused_attention(CudaLowering& cx) {
    const char* env = std::getenv("ITSCAM_CUDA_FUSED_ATTENTION");
    if (env && std::string(env) != "0" && std::string(env) != "1")
        return invalid_argument(std::string("ITSCAM_CUDA_FUSED_ATTENTION='") + env +
                                "': expected 1 (the PSA attention block as one kernel, the default) or 0");
    if ((env && std::string(env) == "0") || cx.act != DType::kF16) return Status::ok();
    for (AttentionBlock& b : find_attention_blocks(cx.graph)) {
        // qkv is read by the block alone, so its NHWC view is its own buffer (ld = channels); the results get theirs.
        const int64_t ldq = static_cast<int64_t>(b.heads) * (2 * b.dk + b.dv),
                      ldo = static_cast<int64_t>(b.heads) * b.dv;
        bool ok =
            cx.vals[b.qkv].nhwc_native && ck::attention_supported(b.batch, b.hw, b.heads, b.dk, b.dv, ldq, ldo, ldo);
        for (const std::string* o : {&b.out, &b.v})
            for (const Node& n : cx.graph.nodes)
                for (const auto& in : n.inputs)
                    if (in == *o) ok &= cx.layout_of(n) == Layout::kNhwc;
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
