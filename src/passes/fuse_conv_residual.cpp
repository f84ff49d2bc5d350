#include "passes/graph_utils.h"
#include "passes/passes.h"

namespace itscam {

// z = Add(r, act(conv(x))) becomes Conv(x, W, b, r) with z = act(conv(x)) + r (the residual of the C3k2
// bottlenecks and the C2PSA block). Legality: the Conv output is read only by the Add and is not a graph output;
// r has exactly the Add's output shape (no broadcasting) and dtype; r is not the Conv output itself; the Conv has
// no residual yet. The Conv moves to the Add's position so r is always computed before it.
Result<int> fuse_conv_residual(Graph& g) {
    int fused = 0;
    auto cons = consumer_map(g);
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t ai = 0; ai < g.nodes.size(); ++ai) {
        Node& add = g.nodes[ai];
        if (add.op != "Add") continue;
        for (int side = 0; side < 2; ++side) {
            const std::string& y = add.inputs[side];
            const std::string& r = add.inputs[1 - side];
            const int pi = g.producer(y);
            if (pi < 0 || dead[pi] || r == y) continue;
            Node& conv = g.nodes[pi];
            if (conv.op != "Conv" || conv.num_inputs() > 3 || cons[y].size() != 1 || is_graph_output(g, y)) continue;
            const ValueInfo* ri = g.info(r);
            const ValueInfo* zi = g.info(add.outputs[0]);
            const ValueInfo* yi = g.info(y);
            if (!ri || !zi || !yi || ri->shape != zi->shape || yi->shape != zi->shape || ri->dtype != yi->dtype ||
                !ri->shape_known())
                continue;
            Node fusedn = conv;
            fusedn.inputs.resize(4);
            fusedn.inputs[3] = r;
            fusedn.outputs[0] = add.outputs[0];
            g.nodes[ai] = fusedn;  // take the Add's slot: r and x are both available there
            dead[pi] = true;
            ++fused;
            break;
        }
    }
    erase_nodes(g, dead);
    return fused;
}

}  // namespace itscam
