#include "ops/op_registry.h"
#include "passes/passes.h"

namespace itscam {

namespace {

// Folding runs the reference kernel at import time. A hostile file can ask for a giant tensor or hours of compute
// from a few constants (Expand/Tile/ConstantOfShape/Range to billions of elements, a Conv over a big constant):
// such nodes are not folded and stay in the graph. No real model folds anything near these limits.
constexpr int64_t kMaxFoldElements = int64_t{1} << 24;
constexpr double kMaxFoldMacs = double(int64_t{1} << 30);

bool fold_is_cheap(const Graph& g, const Node& n, const std::vector<ValueInfo>& outs) {
    double out_elems = 0;
    for (const auto& o : outs) {
        if (!o.shape_known()) return false;
        const int64_t e = shape_numel(o.shape);
        if (e > kMaxFoldElements) return false;
        out_elems += static_cast<double>(e);
    }
    double per_output = 1;  // multiply-accumulates per output element
    if (n.op == "Conv" || n.op == "ConvInteger") {
        const Tensor* w = g.constant(n.input(1));
        if (w && w->rank() > 0 && w->dim(0) > 0) per_output = static_cast<double>(w->numel() / w->dim(0));
    } else if (n.op == "MatMul") {
        const Tensor* a = g.constant(n.input(0));
        if (a && a->rank() > 0) per_output = static_cast<double>(a->shape().back());
    } else if (n.op == "MaxPool" || n.op == "AveragePool") {
        for (int64_t k : n.attr_ints("kernel_shape")) per_output *= static_cast<double>(std::max<int64_t>(k, 1));
    }
    return out_elems * per_output <= kMaxFoldMacs;
}

}  // namespace

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
        if (all_const && !graph_output && fold_is_cheap(g, n, outs)) {
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
