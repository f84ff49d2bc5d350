#include "runtime/engine.h"

#include <cstdio>

#include "core/regular_file.h"
#include "device/device_name.h"
#include "runtime/plan_cache.h"

#ifdef ITSCAM_HAVE_ONNX
#include "onnx/onnx_importer.h"
#endif

namespace itscam {

namespace {

std::string join_ints(const std::vector<int>& v) {
    std::string s;
    for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
    return s;
}

// Creates the backend for `device` ("cuda:1" -> the cuda backend on GPU 1) and fills BackendOptions::device_id.
Result<std::unique_ptr<Backend>> make_backend(const std::string& device, BackendOptions& bo) {
    ITSCAM_ASSIGN_OR_RETURN(auto backend, backend_create(device));
    ITSCAM_ASSIGN_OR_RETURN(auto dev, parse_device(device));
    bo.device_id = dev.second;
    return backend;
}

// The passes an engine runs: the caller's, without fusions for plain execution (EngineOptions::optimize false).
PassOptions effective_passes(const EngineOptions& opt) {
    PassOptions po = opt.passes;
    po.optimize = po.optimize && opt.optimize;
    return po;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::load(const std::string& model_path, const EngineOptions& opt) {
    // First, so that a pipe, device or directory is named as such whichever loader would have opened it.
    ITSCAM_RETURN_IF_ERROR(check_regular_file(model_path, "cannot open model file '" + model_path + "': "));
    if (is_plan_file(model_path)) {
        ITSCAM_ASSIGN_OR_RETURN(Plan plan, plan_read(model_path));
        return from_plan(plan, opt, model_path);
    }
    if (plan_cache_applies(model_path, opt)) return plan_cache_load(model_path, opt);
#ifdef ITSCAM_HAVE_ONNX
    ITSCAM_ASSIGN_OR_RETURN(Graph g, onnx_import_file(model_path));
    auto e = from_graph(std::move(g), opt);
    if (!e) return e.status().with_context(model_path);
    return e;
#else
    (void)opt;
    if (FILE* f = std::fopen(model_path.c_str(), "rb")) {
        std::fclose(f);
    } else {
        return io_error("cannot open model file '" + model_path + "'");
    }
    return unsupported(model_path + ": not an itscam plan, and this build has no ONNX import (configure with "
                       "-DITSCAM_WITH_ONNX=ON, or convert the model with `itscam optimize --device portable` on a "
                       "machine that has it)");
#endif
}

Result<std::unique_ptr<Engine>> Engine::from_plan(const Plan& plan, const EngineOptions& opt, const std::string& name) {
    const PlanInfo& pi = plan.info;
    EngineOptions o = opt;
    std::unique_ptr<Backend> backend;
    std::string tuning;
    if (pi.portable()) {
        // Graph only: the caller's device, batch and precision; the plan's input size unless another is asked.
        if (o.height <= 0 && o.width <= 0 && pi.height > 0 && pi.width > 0) {
            o.height = pi.height;
            o.width = pi.width;
        }
    } else {
        ITSCAM_ASSIGN_OR_RETURN(auto dev, parse_device(opt.device));
        if (dev.first != pi.backend) {
            auto other = backend_create(opt.device);
            const std::string here = other ? (*other)->target_key() : dev.first;
            return invalid_argument("plan " + name + " was built for " + pi.target_key + "; device '" + opt.device +
                                    "' is " + here + ": pass --device " + pi.backend +
                                    (device::device_kind_has_ordinals(pi.backend) ? "[:N]" : "") + ", or rebuild it with `itscam optimize`");
        }
        BackendOptions unused;
        ITSCAM_ASSIGN_OR_RETURN(backend, make_backend(opt.device, unused));
        const std::string key = backend->target_key();
        if (key != pi.target_key)
            return invalid_argument("plan " + name + " was built for " + pi.target_key + "; this machine is " + key +
                                    ": rebuild it with `itscam optimize`");
        if (opt.precision_explicit && opt.precision != pi.precision)
            return invalid_argument("plan " + name + " was built for " + precision_name(pi.precision) + ", not " +
                                    precision_name(opt.precision) + ": drop --precision, or rebuild it with "
                                    "`itscam optimize`");
        o.precision = pi.precision;
        o.autotune = pi.autotune;  // with a recorded tuning the backend reuses it; without, it times (or not) as built
        auto t = pi.tuning.find(opt.batch);
        if (t == pi.tuning.end())
            return invalid_argument("plan " + name + " serves batch sizes " + join_ints(pi.batch_sizes) + ", not " +
                                    std::to_string(opt.batch) + ": use one of those, or rebuild it with "
                                    "`itscam optimize --batch-sizes`");
        tuning = t->second;  // build() leaves it unread for plain execution (EngineOptions::optimize false)
        if ((opt.height > 0 && opt.height != pi.height) || (opt.width > 0 && opt.width != pi.width))
            return invalid_argument("plan " + name + " was built for input " + std::to_string(pi.height) + "x" +
                                    std::to_string(pi.width) + ", not " + std::to_string(opt.height) + "x" +
                                    std::to_string(opt.width) + ": rebuild it with `itscam optimize --imgsz`");
        o.height = pi.height;
        o.width = pi.width;
    }
    auto e = build(plan.graph, o, std::move(backend), tuning);
    if (!e) return e.status().with_context(name);
    (*e)->plan_info_ = pi;
    return e;
}

// int8/fp8 calibration: an fp32 batch-1 build of the same graph records, over the calibration inputs, the range of
// every activation that feeds a convolution. Value names are the same at every batch size.
static Result<ActivationRanges> calibrate(const Graph& imported, const EngineOptions& opt, int h, int w) {
    const std::string p = precision_name(opt.precision);
    if (!opt.calibration)
        return invalid_argument(p +
                                " needs calibration images (--calib DIR): their activation ranges set the "
                                "quantization scales");
    ITSCAM_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, opt.calibration(h, w));
    if (inputs.empty()) return invalid_argument(p + " calibration: no calibration images");
    Graph g = imported;
    ITSCAM_RETURN_IF_ERROR(optimize_graph(g, 1, h, w, effective_passes(opt)));
    BackendOptions bo;
    ITSCAM_ASSIGN_OR_RETURN(auto backend, make_backend(opt.device, bo));
    bo.threads = opt.threads;
    bo.collect_ranges = true;
    ITSCAM_ASSIGN_OR_RETURN(auto compiled, backend->compile(g, bo));
    std::vector<Tensor> outs;
    for (const Tensor& t : inputs) ITSCAM_RETURN_IF_ERROR(compiled->run({t}, outs).with_context(p + " calibration"));
    ActivationRanges r = compiled->collected_ranges();
    if (r.empty()) return unsupported("device '" + opt.device + "' cannot calibrate " + p);
    return r;
}

Result<std::unique_ptr<Engine>> Engine::from_graph(Graph g, const EngineOptions& opt) {
    return build(std::move(g), opt, nullptr, {});
}

Result<std::unique_ptr<Engine>> Engine::build(Graph g, const EngineOptions& opt, std::unique_ptr<Backend> backend,
                                              const std::string& tuning) {
    if (opt.batch <= 0 || opt.batch > 4096) return invalid_argument("batch must be in 1..4096");
    std::unique_ptr<Engine> e(new Engine());
    e->opt_ = opt;
    BackendOptions bo;
    if (backend) {
        ITSCAM_ASSIGN_OR_RETURN(auto dev, parse_device(opt.device));
        bo.device_id = dev.second;
        e->backend_ = std::move(backend);
    } else {
        ITSCAM_ASSIGN_OR_RETURN(e->backend_, make_backend(opt.device, bo));
    }
    e->target_key_ = e->backend_->target_key();
    if (opt.backend_decorator) e->backend_ = opt.backend_decorator(std::move(e->backend_));
    const int h = opt.height > 0 ? opt.height : g.metadata.imgsz_h;
    const int w = opt.width > 0 ? opt.width : g.metadata.imgsz_w;
    const PassOptions po = effective_passes(opt);
    bo.threads = opt.threads;
    bo.precision = opt.precision;
    bo.autotune = opt.autotune && opt.optimize;
    bo.tune_alternatives = bo.autotune && opt.tune_alternatives;
    bo.tuning = opt.optimize ? tuning : std::string();
    bo.arena = opt.arena;
    // Refused before any work for it (int8's and fp8's calibration runs a whole fp32 engine over every image).
    ITSCAM_RETURN_IF_ERROR(e->backend_->supports_precision(opt.precision));
    if (needs_calibration(opt.precision)) {
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
