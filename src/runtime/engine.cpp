#include "runtime/engine.h"

#ifdef ITSCAM_HAVE_ONNX
#include "onnx/onnx_importer.h"
#endif

namespace itscam {

Result<std::unique_ptr<Engine>> Engine::load(const std::string& model_path, const EngineOptions& opt) {
#ifdef ITSCAM_HAVE_ONNX
    ITSCAM_ASSIGN_OR_RETURN(Graph g, onnx_import_file(model_path));
    auto e = from_graph(std::move(g), opt);
    if (!e) return e.status().with_context(model_path);
    return e;
#else
    (void)opt;
    return unsupported(model_path + ": this build has no ONNX import (configure with -DITSCAM_WITH_ONNX=ON)");
#endif
}

// int8 calibration: an fp32 batch-1 build of the same graph records, over the calibration inputs, the range of
// every activation that feeds a convolution. Value names are the same at every batch size.
static Result<ActivationRanges> calibrate(const Graph& imported, const EngineOptions& opt, int h, int w) {
    if (!opt.calibration)
        return invalid_argument("int8 needs calibration images (--calib DIR): their activation ranges set the "
                                "quantization scales");
    ITSCAM_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, opt.calibration(h, w));
    if (inputs.empty()) return invalid_argument("int8 calibration: no calibration images");
    Graph g = imported;
    ITSCAM_RETURN_IF_ERROR(optimize_graph(g, 1, h, w, opt.passes));
    ITSCAM_ASSIGN_OR_RETURN(auto backend, backend_create(opt.device));
    BackendOptions bo;
    bo.threads = opt.threads;
    bo.collect_ranges = true;
    ITSCAM_ASSIGN_OR_RETURN(auto compiled, backend->compile(g, bo));
    std::vector<Tensor> outs;
    for (const Tensor& t : inputs) ITSCAM_RETURN_IF_ERROR(compiled->run({t}, outs).with_context("int8 calibration"));
    ActivationRanges r = compiled->collected_ranges();
    if (r.empty()) return unsupported("device '" + opt.device + "' cannot calibrate int8");
    return r;
}

Result<std::unique_ptr<Engine>> Engine::from_graph(Graph g, const EngineOptions& opt) {
    if (opt.batch <= 0 || opt.batch > 4096) return invalid_argument("batch must be in 1..4096");
    std::unique_ptr<Engine> e(new Engine());
    e->opt_ = opt;
    ITSCAM_ASSIGN_OR_RETURN(e->backend_, backend_create(opt.device));
    if (opt.backend_decorator) e->backend_ = opt.backend_decorator(std::move(e->backend_));
    const int h = opt.height > 0 ? opt.height : g.metadata.imgsz_h;
    const int w = opt.width > 0 ? opt.width : g.metadata.imgsz_w;
    PassOptions po = opt.passes;
    BackendOptions bo;
    bo.threads = opt.threads;
    bo.precision = opt.precision;
    if (opt.precision == Precision::kInt8) {
        ITSCAM_ASSIGN_OR_RETURN(bo.ranges, calibrate(g, opt, h, w));
    }
    ITSCAM_RETURN_IF_ERROR(optimize_graph(g, opt.batch, h, w, po, &e->pass_stats_));
    e->input_shape_ = g.values.at(g.inputs[0]).shape;
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
