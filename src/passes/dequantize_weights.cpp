#include "passes/graph_utils.h"
#include "passes/passes.h"

namespace itscam {

// onnxruntime's dynamic quantization writes each convolution as
//   (xq, xs, xz) = DynamicQuantizeLinear(x);  s = Mul(xs, ws)
//   c = ConvInteger(xq, Wq, xz, wz);  f = Cast(c, float);  y = Mul(f, s);  [z = Add(y, bias)]
// Since xq ~ x / xs + xz, y ~ conv(x, (Wq - wz) * ws): the activation quantization is an approximation we can
// drop. The pattern becomes Conv(x, (Wq - wz) * ws, bias) with float activations.
// Legality: Wq, wz, ws and bias constant; ws a scalar (per-tensor) or one value per output channel; wz a scalar;
// the ConvInteger, Cast and Mul outputs each read once and not graph outputs; bias numel == output channels.
Result<int> dequantize_weights(Graph& g) {
    int rewritten = 0;
    auto cons = consumer_map(g);
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t ci = 0; ci < g.nodes.size(); ++ci) {
        const Node& c = g.nodes[ci];
        if (c.op != "ConvInteger" || c.num_inputs() < 3) continue;
        const int di = g.producer(c.inputs[0]);
        if (di < 0 || g.nodes[di].op != "DynamicQuantizeLinear") continue;
        const Node& dql = g.nodes[di];
        if (dql.outputs.size() != 3 || c.inputs[2] != dql.outputs[2]) continue;
        const Tensor* wq = g.constant(c.inputs[1]);
        const Tensor* wz = c.num_inputs() > 3 ? g.constant(c.inputs[3]) : nullptr;
        if (!wq || wq->rank() != 4 || wq->dim(0) <= 0 || (c.num_inputs() > 3 && (!wz || wz->numel() != 1))) continue;
        const int ki = sole_consumer(g, cons, c.outputs[0]);
        if (ki < 0 || g.nodes[ki].op != "Cast" || g.nodes[ki].attr_int("to", 0) != 1) continue;
        const int mi = sole_consumer(g, cons, g.nodes[ki].outputs[0]);
        if (mi < 0 || g.nodes[mi].op != "Mul") continue;
        const Node& mul = g.nodes[mi];
        const std::string scale = mul.inputs[0] == g.nodes[ki].outputs[0] ? mul.inputs[1] : mul.inputs[0];
        const int si = g.producer(scale);
        if (si < 0 || g.nodes[si].op != "Mul") continue;
        const Node& smul = g.nodes[si];
        const std::string ws_name = smul.inputs[0] == dql.outputs[1] ? smul.inputs[1]
                                    : smul.inputs[1] == dql.outputs[1] ? smul.inputs[0] : std::string();
        const Tensor* ws = ws_name.empty() ? nullptr : g.constant(ws_name);
        const int64_t oc = wq->dim(0);
        if (!ws || (ws->numel() != 1 && ws->numel() != oc)) continue;

        // Optional bias Add.
        std::string out = mul.outputs[0];
        const Tensor* bias = nullptr;
        int ai = sole_consumer(g, cons, out);
        if (ai >= 0 && g.nodes[ai].op == "Add") {
            const Node& add = g.nodes[ai];
            const std::string& other = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
            const Tensor* b = g.constant(other);
            if (b && b->numel() == oc) {
                bias = b;
                out = add.outputs[0];
            } else {
                ai = -1;
            }
        } else {
            ai = -1;
        }

        const int32_t zp = wz ? static_cast<int32_t>(wz->to_i64_vector()[0]) : 0;
        auto wv = wq->to_i64_vector();
        auto sv = ws->to_f32_vector();
        Tensor wf = Tensor::empty(DType::kF32, wq->shape());
        const int64_t per = wq->numel() / oc;
        for (int64_t o = 0; o < oc; ++o) {
            const float s = sv.size() == 1 ? sv[0] : sv[o];
            for (int64_t j = 0; j < per; ++j)
                wf.data<float>()[o * per + j] = static_cast<float>(wv[o * per + j] - zp) * s;
        }
        Node conv;
        conv.op = "Conv";
        conv.name = c.name + "_dequantized";
        conv.attrs = c.attrs;
        const std::string wname = g.unique_name(c.inputs[1] + "_dequantized");
        g.constants[wname] = wf;
        g.values[wname] = ValueInfo{DType::kF32, wf.shape()};
        conv.inputs = {dql.inputs[0], wname};
        if (bias) {
            const std::string bname = g.unique_name(c.name + "_bias");
            g.constants[bname] = bias->cast(DType::kF32).reshaped({oc});
            g.values[bname] = ValueInfo{DType::kF32, {oc}};
            conv.inputs.push_back(bname);
        }
        conv.outputs = {out};
        g.nodes[ci] = conv;
        dead[ki] = dead[mi] = true;
        if (ai >= 0) dead[ai] = true;
        ++rewritten;
    }
    erase_nodes(g, dead);
    if (rewritten) {
        ITSCAM_RETURN_IF_ERROR(g.topo_sort());
    }
    return rewritten;
}

}  // namespace itscam
