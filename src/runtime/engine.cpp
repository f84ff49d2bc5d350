#include "runtime/engine.h"

#include "onnx/onnx_importer.h"

namespace itscam {

Result<std::unique_ptr<Engine>> Engine::load(const std::string& model_path, const EngineOptions& opt) {
    ITSCAM_ASSIGN_OR_RETURN(Graph g, onnx_import_file(model_path));
    auto e = from_graph(std::move(g), opt);
    if (!e) return e.status().with_context(model_path);
    return e;
}

Result<std::unique_ptr<Engine>> Engine::from_graph(Graph g, const EngineOptions& opt) {
    if (opt.batch <= 0 || opt.batch > 4096) return invalid_argument("batch must be in 1..4096");
    std::unique_ptr<Engine> e(new Engine());
    e->opt_ = opt;
    ITSCAM_ASSIGN_OR_RETURN(e->backend_, backend_create(opt.device));
    const int h = opt.height > 0 ? opt.height : g.metadata.imgsz_h;
    const int w = opt.width > 0 ? opt.width : g.metadata.imgsz_w;
    PassOptions po = opt.passes;
    ITSCAM_RETURN_IF_ERROR(optimize_graph(g, opt.batch, h, w, po, &e->pass_stats_));
    e->input_shape_ = g.values.at(g.inputs[0]).shape;
    BackendOptions bo;
    bo.threads = opt.threads;
    bo.precision = opt.precision;
    ITSCAM_ASSIGN_OR_RETURN(e->compiled_, e->backend_->compile(g, bo));
    e->graph_ = std::move(g);
    return e;
}

Status Engine::run(const Tensor& input, std::vector<Tensor>& outputs) {
    if (input.dtype() != DType::kF32) return invalid_argument("engine input must be float32");
    if (input.shape() != input_shape_)
        return invalid_argument("engine input must have shape " + shape_str(input_shape_) + ", got " +
                                shape_str(input.shape()));
    return compiled_->run({input}, outputs);
}

GraphCost graph_cost(const Graph& g) {
    GraphCost c;
    for (const auto& [name, t] : g.constants)
        if (t.dtype() == DType::kF32 || t.dtype() == DType::kF16 || t.dtype() == DType::kI8 ||
            t.dtype() == DType::kU8)
            c.params += t.numel();
    for (const auto& n : g.nodes) {
        if (n.op == "Conv" || n.op == "ConvInteger") {
            const ValueInfo* y = g.info(n.outputs[0]);
            const ValueInfo* w = g.info(n.inputs[1]);
            if (!y || !w || !y->shape_known() || w->shape.size() != 4) continue;
            c.gflops += 2.0 * static_cast<double>(shape_numel(y->shape)) * w->shape[1] * w->shape[2] * w->shape[3] / 1e9;
        } else if (n.op == "MatMul") {
            const ValueInfo* a = g.info(n.inputs[0]);
            const ValueInfo* y = g.info(n.outputs[0]);
            if (!a || !y || !y->shape_known() || a->shape.empty()) continue;
            c.gflops += 2.0 * static_cast<double>(shape_numel(y->shape)) * a->shape.back() / 1e9;
        }
    }
    return c;
}

}  // namespace itscam
