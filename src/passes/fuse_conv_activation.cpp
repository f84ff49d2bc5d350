#include "passes/graph_utils.h"
#include "passes/passes.h"

namespace itscam {

// SiLU(y) = y * sigmoid(y). The export writes it as s = Sigmoid(y); z = Mul(y, s) (either operand order).
// Legality: y is a Conv output without an activation yet and without a fused residual; y is read by exactly the
// Sigmoid and the Mul and is not a graph output; s is read only by that Mul and is not a graph output.
// Relu(y) fuses the same way with y read only by the Relu.
Result<int> fuse_conv_activation(Graph& g) {
    int fused = 0;
    auto cons = consumer_map(g);
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        Node& conv = g.nodes[i];
        if (conv.op != "Conv" || conv.has_attr("activation") || conv.num_inputs() > 3) continue;
        const std::string y = conv.outputs[0];
        if (is_graph_output(g, y)) continue;
        const auto& users = cons[y];
        if (users.size() == 1 && g.nodes[users[0]].op == "Relu" && !dead[users[0]]) {
            conv.attrs["activation"] = Attr::of_string("relu");
            conv.outputs[0] = g.nodes[users[0]].outputs[0];
            dead[users[0]] = true;
            ++fused;
            continue;
        }
        if (users.size() != 2) continue;
        size_t si = users[0], mi = users[1];
        if (g.nodes[si].op != "Sigmoid") std::swap(si, mi);
        const Node& sig = g.nodes[si];
        const Node& mul = g.nodes[mi];
        if (sig.op != "Sigmoid" || mul.op != "Mul" || dead[si] || dead[mi]) continue;
        const std::string& s = sig.outputs[0];
        const bool pattern = (mul.inputs[0] == y && mul.inputs[1] == s) || (mul.inputs[0] == s && mul.inputs[1] == y);
        if (!pattern || cons[s].size() != 1 || is_graph_output(g, s)) continue;
        conv.attrs["activation"] = Attr::of_string("silu");
        conv.outputs[0] = mul.outputs[0];
        dead[si] = dead[mi] = true;
        ++fused;
    }
    erase_nodes(g, dead);
    if (fused) {
        ITSCAM_RETURN_IF_ERROR(g.topo_sort());
    }
    return fused;
}

}  // namespace itscam
