#include "ops/op_registry.h"
#include "passes/passes.h"

namespace itscam {

Status infer_shapes(Graph& g) {
    for (const auto& n : g.nodes) {
        std::vector<ValueInfo> outs;
        ITSCAM_RETURN_IF_ERROR(op_infer(g, n, outs));
        for (size_t i = 0; i < n.outputs.size(); ++i)
            if (!n.outputs[i].empty()) g.values[n.outputs[i]] = outs[i];
    }
    return Status::ok();
}

}  // namespace itscam
