#include "passes/graph_utils.h"
#include "passes/passes.h"

namespace itscam {

// fp16 exports (Ultralytics half=True) store weights, the input and the output as float16, sometimes with Cast
// nodes at the boundaries. Backends that compute in fp32 (or choose their own reduced precision, like the CPU
// backend's bf16) want an fp32 graph: every float16 constant and graph input/output becomes float32, Casts to
// float16 become Casts to float32, and Casts that are then no-ops are bypassed.
// Legality: widening fp16 -> fp32 is exact; the computation gets more precise, never less.
Result<int> float16_to_float32(Graph& g) {
    int changed = 0;
    for (auto& [name, t] : g.constants) {
        if (t.dtype() != DType::kF16) continue;
        t = t.cast(DType::kF32);
        g.values[name].dtype = DType::kF32;
        ++changed;
    }
    for (const auto& in : g.inputs) {
        ValueInfo& vi = g.values[in];
        if (vi.dtype == DType::kF16) {
            vi.dtype = DType::kF32;
            ++changed;
        }
    }
    for (auto& n : g.nodes) {
        if (n.op == "Cast" && n.attr_int("to", 1) == 10) {
            n.attrs["to"] = Attr::of_int(1);
            ++changed;
        }
        if (n.op == "ConstantOfShape" && n.has_attr("value") && n.attrs["value"].t.dtype() == DType::kF16) {
            n.attrs["value"].t = n.attrs["value"].t.cast(DType::kF32);
            ++changed;
        }
    }
    // Dtypes are needed to find no-op Casts. Before the input shape is bound some graphs cannot infer every shape;
    // then the Casts stay (they are cheap and correct) rather than failing the import.
    if (!infer_shapes(g).is_ok()) return changed;
    // Bypass Casts whose input already has the target dtype (keep those that produce graph outputs).
    std::map<std::string, std::string> rename;
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        if (n.op != "Cast" || is_graph_output(g, n.outputs[0])) continue;
        const ValueInfo* in = g.info(n.inputs[0]);
        const ValueInfo* out = g.info(n.outputs[0]);
        if (in && out && in->dtype == out->dtype) {
            rename[n.outputs[0]] = n.inputs[0];
            dead[i] = true;
            ++changed;
        }
    }
    if (!rename.empty()) {
        for (auto& n : g.nodes)
            for (auto& in : n.inputs) {
                // Follow chains of bypassed Casts.
                for (auto it = rename.find(in); it != rename.end(); it = rename.find(in)) in = it->second;
            }
        erase_nodes(g, dead);
    }
    return changed;
}

}  // namespace itscam
