// The PSA attention block's pattern (attention_pattern.h).
#include "backend/attention_pattern.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ops/resize_params.h"
#include "passes/graph_utils.h"

namespace itscam {

namespace {

// The one node reading `v` (exactly once, not a graph output), or null.
const Node* only_reader(const Graph& g, const ConsumerMap& rd, const std::string& v) {
    const int i = sole_consumer(g, rd, v);
    return i < 0 ? nullptr : &g.nodes[static_cast<size_t>(i)];
}

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
bool match(const Graph& g, const ConsumerMap& rd, const Node& sm, AttentionBlock& b) {
    // Backwards from the softmax: Mul(MatMul(Transpose(q), k), scalar).
    const Node* mul = producer_of(g, sm.inputs[0]);
    if (!mul || mul->op != "Mul" || mul->inputs.size() != 2 || only_reader(g, rd, mul->outputs[0]) != &sm) return false;
    const int ci = g.is_constant(mul->inputs[1]) ? 1 : g.is_constant(mul->inputs[0]) ? 0 : -1;
    if (ci < 0 || g.constant(mul->inputs[ci])->numel() != 1) return false;
    const Node* qk = producer_of(g, mul->inputs[1 - ci]);
    if (!qk || qk->op != "MatMul" || only_reader(g, rd, qk->outputs[0]) != mul) return false;
    const Node* tq = producer_of(g, qk->inputs[0]);
    if (!tq || !swaps_last_two(*tq) || only_reader(g, rd, tq->outputs[0]) != qk) return false;
    const Node* split = producer_of(g, tq->inputs[0]);
    if (!split || split->op != "Split" || split->outputs.size() != 3 || split->outputs[0] != tq->inputs[0] ||
        split->outputs[1] != qk->inputs[1] || only_reader(g, rd, split->outputs[1]) != qk)
        return false;
    const Node* r0 = producer_of(g, split->inputs[0]);
    if (!r0 || r0->op != "Reshape" || only_reader(g, rd, r0->outputs[0]) != split) return false;
    const std::string& qkv = r0->inputs[0];
    const Node* conv = producer_of(g, qkv);
    if (!conv || conv->op != "Conv" || only_reader(g, rd, qkv) != r0) return false;

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
    const Node* tp = only_reader(g, rd, sm.outputs[0]);
    if (!tp || !swaps_last_two(*tp)) return false;
    const Node* pv = only_reader(g, rd, tp->outputs[0]);
    if (!pv || pv->op != "MatMul" || pv->inputs[0] != split->outputs[2] || pv->inputs[1] != tp->outputs[0])
        return false;
    const Node* r1 = only_reader(g, rd, pv->outputs[0]);
    if (!r1 || r1->op != "Reshape") return false;
    auto vr = rd.find(split->outputs[2]);
    if (is_graph_output(g, split->outputs[2]) || vr == rd.end() || vr->second.size() != 2) return false;
    const Node* r2 = nullptr;
    for (size_t i : vr->second)
        if (&g.nodes[i] != pv) r2 = &g.nodes[i];
    if (!r2 || r2->op != "Reshape") return false;
    const Shape image{N, heads * dv, H, W};
    if (!shape_is(g, r1->outputs[0], image) || !shape_is(g, r2->outputs[0], image)) return false;
    // The results go to convolutions only (which read NHWC views).
    for (const std::string* o : {&r1->outputs[0], &r2->outputs[0]}) {
        auto it = rd.find(*o);
        if (is_graph_output(g, *o) || it == rd.end()) return false;
        for (size_t i : it->second)
            if (g.nodes[i].op != "Conv") return false;
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

}  // namespace

std::vector<AttentionBlock> find_attention_blocks(const Graph& g) {
    const ConsumerMap rd = consumer_map(g);
    std::vector<AttentionBlock> out;
    for (const Node& n : g.nodes) {
        AttentionBlock b;
        if (n.op == "Softmax" && match(g, rd, n, b)) out.push_back(std::move(b));
    }
    return out;
}

}  // namespace itscam
