#include <cmath>

#include "passes/graph_utils.h"
#include "passes/passes.h"

namespace itscam {

// Conv -> BatchNormalization folds into the Conv:
//   k[c] = gamma[c] / sqrt(var[c] + eps)
//   W'[c] = W[c] * k[c];   b'[c] = (b[c] - mean[c]) * k[c] + beta[c]
// Legality: Conv weights constant and float32, BN parameters constant, the Conv output read only by the BN and not
// a graph output, BN in inference form (one output), Conv without fused activation or residual.
Result<int> fuse_conv_bn(Graph& g) {
    int fused = 0;
    auto cons = consumer_map(g);
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        Node& conv = g.nodes[i];
        if (conv.op != "Conv" || conv.num_inputs() > 3 || conv.has_attr("activation")) continue;
        const std::string& y = conv.outputs[0];
        auto it = cons.find(y);
        if (it == cons.end() || it->second.size() != 1 || is_graph_output(g, y)) continue;
        Node& bn = g.nodes[it->second[0]];
        if (bn.op != "BatchNormalization" || bn.inputs[0] != y || bn.outputs.size() != 1) continue;
        const Tensor* w = g.constant(conv.inputs[1]);
        if (!w || w->dtype() != DType::kF32 || w->rank() == 0 || w->dim(0) <= 0) continue;
        const Tensor* p[4];
        bool ok = true;
        for (int k = 0; k < 4; ++k) ok &= (p[k] = g.constant(bn.inputs[k + 1])) != nullptr;
        if (!ok) continue;
        const int64_t oc = w->dim(0);
        for (int k = 0; k < 4; ++k) ok &= p[k]->numel() == oc;
        const Tensor* b = conv.num_inputs() > 2 ? g.constant(conv.inputs[2]) : nullptr;
        if (!ok || (conv.num_inputs() > 2 && !b)) continue;
        const float eps = bn.attr_float("epsilon", 1e-5f);
        auto gamma = p[0]->to_f32_vector(), beta = p[1]->to_f32_vector(), mean = p[2]->to_f32_vector(),
             var = p[3]->to_f32_vector();
        std::vector<float> bias = b ? b->to_f32_vector() : std::vector<float>(oc, 0.f);
        Tensor nw = w->clone();
        const int64_t per = w->numel() / oc;
        for (int64_t c = 0; c < oc; ++c) {
            const float k = gamma[c] / std::sqrt(var[c] + eps);
            for (int64_t j = 0; j < per; ++j) nw.data<float>()[c * per + j] *= k;
            bias[c] = (bias[c] - mean[c]) * k + beta[c];
        }
        const std::string wn = g.unique_name(conv.name + "_bnfold_w");
        g.constants[wn] = nw;
        g.values[wn] = ValueInfo{DType::kF32, nw.shape()};
        const std::string bname = g.unique_name(conv.name + "_bnfold_b");
        g.constants[bname] = Tensor::from_f32(bias, {oc});
        g.values[bname] = ValueInfo{DType::kF32, {oc}};
        conv.inputs.resize(3);
        conv.inputs[1] = wn;
        conv.inputs[2] = bname;
        conv.outputs[0] = bn.outputs[0];
        dead[it->second[0]] = true;
        ++fused;
    }
    erase_nodes(g, dead);
    return fused;
}

}  // namespace itscam
