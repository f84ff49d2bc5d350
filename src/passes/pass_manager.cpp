#include "passes/passes.h"

namespace itscam {

namespace {
Status run_pass(const char* name, Result<int> (*fn)(Graph&), Graph& g, const PassOptions& opt,
                std::map<std::string, int>* stats) {
    if (opt.disabled.count(name)) return Status::ok();
    auto r = fn(g);
    if (!r) return r.status().with_context(std::string("pass ") + name);
    if (stats) (*stats)[name] += *r;
    return Status::ok();
}
}  // namespace

Status optimize_graph(Graph& g, int64_t batch, int64_t height, int64_t width, const PassOptions& opt,
                      std::map<std::string, int>* stats) {
    // Fold what is constant before binding (bias reshapes of quantized exports), then bind the runtime shape and
    // fold again: with the shape known, the Shape/Gather/Concat chains of dynamic exports collapse to constants.
    ITSCAM_RETURN_IF_ERROR(run_pass("float16_to_float32", float16_to_float32, g, {}, stats));
    ITSCAM_RETURN_IF_ERROR(run_pass("fold_constants", fold_constants, g, {}, stats));
    ITSCAM_RETURN_IF_ERROR(bind_input_shape(g, batch, height, width));
    ITSCAM_RETURN_IF_ERROR(run_pass("fold_constants", fold_constants, g, {}, stats));
    if (opt.optimize) {
        ITSCAM_RETURN_IF_ERROR(run_pass("dequantize_weights", dequantize_weights, g, opt, stats));
        ITSCAM_RETURN_IF_ERROR(run_pass("fold_constants", fold_constants, g, {}, stats));
    }
    ITSCAM_RETURN_IF_ERROR(run_pass("eliminate_dead_nodes", eliminate_dead_nodes, g, {}, stats));
    if (opt.optimize) {
        ITSCAM_RETURN_IF_ERROR(run_pass("fuse_conv_bn", fuse_conv_bn, g, opt, stats));
        ITSCAM_RETURN_IF_ERROR(infer_shapes(g));
        ITSCAM_RETURN_IF_ERROR(run_pass("fuse_conv_activation", fuse_conv_activation, g, opt, stats));
        ITSCAM_RETURN_IF_ERROR(infer_shapes(g));
        ITSCAM_RETURN_IF_ERROR(run_pass("fuse_dfl", fuse_dfl, g, opt, stats));
        if (opt.fuse_residual) {
            ITSCAM_RETURN_IF_ERROR(run_pass("fuse_conv_residual", fuse_conv_residual, g, opt, stats));
        }
        ITSCAM_RETURN_IF_ERROR(run_pass("eliminate_dead_nodes", eliminate_dead_nodes, g, {}, stats));
    }
    ITSCAM_RETURN_IF_ERROR(g.topo_sort());
    ITSCAM_RETURN_IF_ERROR(infer_shapes(g));
    ITSCAM_RETURN_IF_ERROR(g.verify());
    for (const auto& o : g.outputs) {
        const ValueInfo* vi = g.info(o);
        if (!vi || !vi->shape_known())
            return internal_error("output '" + o + "' has an unknown shape after binding the input");
    }
    return Status::ok();
}

}  // namespace itscam
