#include "ops/op_registry.h"
#include "passes/passes.h"

namespace itscam {

// Legality: a node folds when every present input is a constant (its value is then fixed for all runs) or when
// it is Shape over a fully known shape. Ops with no inputs (ConstantOfShape of a constant is covered) fold too.
Result<int> fold_constants(Graph& g) {
    int folded = 0;
    std::vector<Node> kept;
    kept.reserve(g.nodes.size());
    for (auto& n : g.nodes) {
        std::vector<ValueInfo> outs;
        ITSCAM_RETURN_IF_ERROR(op_infer(g, n, outs));
        for (size_t i = 0; i < n.outputs.size(); ++i)
            if (!n.outputs[i].empty()) g.values[n.outputs[i]] = outs[i];

        bool all_const = true;
        std::vector<const Tensor*> ins(n.inputs.size(), nullptr);
        for (size_t i = 0; i < n.inputs.size(); ++i) {
            if (n.inputs[i].empty()) continue;
            ins[i] = g.constant(n.inputs[i]);
            if (!ins[i]) all_const = false;
        }
        const bool graph_output = std::any_of(n.outputs.begin(), n.outputs.end(), [&](const std::string& o) {
            return std::find(g.outputs.begin(), g.outputs.end(), o) != g.outputs.end();
        });
        if (n.op == "Shape" && !all_const) {
            const ValueInfo* vi = g.info(n.inputs[0]);
            if (vi && vi->shape_known()) {
                const std::vector<int64_t>& dims = vi->shape;
                const int64_t r = static_cast<int64_t>(dims.size());
                int64_t start = n.attr_int("start", 0), end = n.attr_int("end", r);
                if (start < 0) start += r;
                if (end < 0) end += r;
                start = std::clamp<int64_t>(start, 0, r);
                end = std::clamp<int64_t>(end, start, r);
                std::vector<int64_t> v(dims.begin() + start, dims.begin() + end);
                g.constants[n.outputs[0]] = Tensor::from_i64(v, {static_cast<int64_t>(v.size())});
                ++folded;
                continue;
            }
        }
        if (all_const && !graph_output) {
            std::vector<Tensor> results;
            ITSCAM_RETURN_IF_ERROR(op_run_ref(n, ins, results));
            for (size_t i = 0; i < n.outputs.size(); ++i) {
                if (n.outputs[i].empty()) continue;
                g.values[n.outputs[i]] = ValueInfo{results[i].dtype(), results[i].shape()};
                g.constants[n.outputs[i]] = results[i];
            }
            ++folded;
            continue;
        }
        kept.push_back(std::move(n));
    }
    g.nodes = std::move(kept);
    return folded;
}

}  // namespace itscam
