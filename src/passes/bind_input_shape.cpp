#include "ops/op_registry.h"
#include "passes/passes.h"

namespace itscam {

Status bind_input_shape(Graph& g, int64_t batch, int64_t height, int64_t width) {
    if (g.inputs.size() != 1)
        return unsupported("models with " + std::to_string(g.inputs.size()) + " inputs are not supported (need 1)");
    ValueInfo& vi = g.values[g.inputs[0]];
    if (vi.shape.size() != 4)
        return invalid_argument("model input '" + g.inputs[0] + "' has rank " + std::to_string(vi.shape.size()) +
                                " " + shape_str(vi.shape) + "; an image model needs rank 4 [N,C,H,W]");
    if (vi.dtype != DType::kF32 && vi.dtype != DType::kF16)
        return unsupported(std::string("model input dtype ") + dtype_name(vi.dtype) + " is not supported");
    if (vi.shape[1] < 0) vi.shape[1] = 3;
    // The batch the export baked into constant Reshape targets. When the input's dim 0 is dynamic (a static export
    // whose dim 0 was renamed to a dim_param) the Ultralytics metadata still records it.
    int64_t old_batch = vi.shape[0] > 0 ? vi.shape[0] : -1;
    if (old_batch < 0 && g.metadata.raw.count("batch") && g.metadata.batch > 0) old_batch = g.metadata.batch;
    auto bind = [&](int64_t& dim, int64_t want, const char* what) -> Status {
        if (want <= 0) {
            if (dim < 0) return invalid_argument(std::string("model input ") + what + " is dynamic; give a value");
            return Status::ok();
        }
        if (dim >= 0 && dim != want && std::string(what) != "batch")
            return invalid_argument(std::string("model was exported with a fixed input ") + what + " of " +
                                    std::to_string(dim) + "; cannot run it at " + std::to_string(want) +
                                    " (re-export with dynamic=True or imgsz=" + std::to_string(want) + ")");
        dim = want;
        return Status::ok();
    };
    ITSCAM_RETURN_IF_ERROR(bind(vi.shape[0], batch, "batch"));
    ITSCAM_RETURN_IF_ERROR(bind(vi.shape[2], height, "height"));
    ITSCAM_RETURN_IF_ERROR(bind(vi.shape[3], width, "width"));
    const int64_t new_batch = vi.shape[0];

    // Static exports bake the batch into Reshape targets ([1, 144, -1]). Where a Reshape's data depends on the
    // runtime input and its first target dimension is the exported batch while the data now carries the new batch,
    // the target is rewritten. Shape inference runs in node order so each Reshape sees its true input shape.
    for (auto& n : g.nodes) {
        if (n.op == "Reshape" && old_batch > 0 && new_batch != old_batch && !g.is_constant(n.inputs[0])) {
            const Tensor* t = g.constant(n.inputs[1]);
            const ValueInfo* in = g.info(n.inputs[0]);
            if (t && in && !in->shape.empty() && in->shape[0] == new_batch) {
                auto target = t->to_i64_vector();
                if (!target.empty() && target[0] == old_batch) {
                    target[0] = new_batch;
                    const std::string name = g.unique_name(n.inputs[1] + "_rebatched");
                    g.constants[name] = Tensor::from_i64(target, {static_cast<int64_t>(target.size())});
                    g.values[name] = ValueInfo{DType::kI64, {static_cast<int64_t>(target.size())}};
                    n.inputs[1] = name;
                }
            }
        }
        std::vector<ValueInfo> outs;
        ITSCAM_RETURN_IF_ERROR(op_infer(g, n, outs));
        for (size_t i = 0; i < n.outputs.size(); ++i)
            if (!n.outputs[i].empty()) g.values[n.outputs[i]] = outs[i];
    }
    g.metadata.batch = static_cast<int>(new_batch);
    return Status::ok();
}

}  // namespace itscam
