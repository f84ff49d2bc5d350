#include "passes/graph_utils.h"
#include "passes/passes.h"

namespace itscam {

// The Detect head's DFL box decode is exported as
//   t = Transpose(x, perm=[0,3,1,2]);  s = Softmax(t, axis=-1);  u = Transpose(s, perm=[0,3,2,1]);
//   y = Conv(u, W[1,R,1,1])                     with x: [N,4,R,A], y: [N,1,4,A]
// i.e. y[n,0,j,a] = sum_k softmax_k(x[n,j,:,a]) * W[k]. It becomes one DflDecode(x, W) node, which reads x once
// instead of moving it through two transposes.
// Legality: exact perms above; softmax over the last axis (opset >= 13, or axis 3 of a rank-4 tensor in older
// opsets, which is the same); t, s, u read once and not graph outputs; Conv 1x1, stride 1, no padding, one group,
// one output channel, constant weights, no bias, no fused activation or residual.
Result<int> fuse_dfl(Graph& g) {
    int fused = 0;
    auto cons = consumer_map(g);
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& t1 = g.nodes[i];
        if (t1.op != "Transpose" || t1.attr_ints("perm") != std::vector<int64_t>{0, 3, 1, 2}) continue;
        const ValueInfo* xi = g.info(t1.inputs[0]);
        if (!xi || xi->shape.size() != 4) continue;
        const int si = sole_consumer(g, cons, t1.outputs[0]);
        if (si < 0 || g.nodes[si].op != "Softmax") continue;
        const Node& sm = g.nodes[si];
        const int64_t axis = sm.attr_int("axis", sm.attr_int("opset", 13) < 13 ? 1 : -1);
        if (axis != -1 && axis != 3) continue;
        const int ti = sole_consumer(g, cons, sm.outputs[0]);
        if (ti < 0 || g.nodes[ti].op != "Transpose" || g.nodes[ti].attr_ints("perm") != std::vector<int64_t>{0, 3, 2, 1})
            continue;
        const int ci = sole_consumer(g, cons, g.nodes[ti].outputs[0]);
        if (ci < 0) continue;
        const Node& conv = g.nodes[ci];
        if (conv.op != "Conv" || conv.num_inputs() != 2 || conv.has_attr("activation") || conv.attr_int("group", 1) != 1)
            continue;
        const Tensor* w = g.constant(conv.inputs[1]);
        if (!w || w->rank() != 4 || w->dim(0) != 1 || w->dim(1) != xi->shape[2] || w->dim(2) != 1 || w->dim(3) != 1)
            continue;
        bool plain = true;
        for (int64_t v : conv.attr_ints("strides", {1, 1})) plain &= v == 1;
        for (int64_t v : conv.attr_ints("pads", {0, 0, 0, 0})) plain &= v == 0;
        if (!plain || conv.attr_string("auto_pad", "NOTSET") != "NOTSET") continue;
        Node d;
        d.op = "DflDecode";
        d.name = conv.name + "_dfl";
        d.inputs = {t1.inputs[0], conv.inputs[1]};
        d.outputs = {conv.outputs[0]};
        g.nodes[ci] = d;
        dead[i] = dead[si] = dead[ti] = true;
        ++fused;
    }
    erase_nodes(g, dead);
    return fused;
}

}  // namespace itscam
