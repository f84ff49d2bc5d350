#include <functional>
#include <vector>

#include "passes/passes.h"

namespace itscam {

namespace {

// kPass: a graph pass with a rewrite count (stats); kBinding: bind_input_shape; kCheck: topological sort and shape
// inference (not listed by pass_sequence).
enum class Kind { kPass, kBinding, kCheck };

// One step of optimize_graph, in the order they run.
struct Step {
    const char* name;
    bool fusion;  // an optimization: runs only with PassOptions::optimize
    Kind kind;
    bool can_disable;  // PassOptions::disabled may switch it off
    std::function<Result<int>(Graph&)> run;
};

Result<int> no_count(const Status& st) {
    if (!st) return st;
    return 0;
}

// The whole sequence. Fold what is constant before binding (bias reshapes of quantized exports), then bind the
// runtime shape and fold again: with the shape known, the Shape/Gather/Concat chains of dynamic exports collapse to
// constants. dequantize_weights is not a speed optimization: the cpu and cuda backends have no ConvInteger or
// DynamicQuantizeLinear kernel, so a dynamic-quant export only runs there once it is rewritten, and it runs in
// plain mode too. The fusions need shapes: infer_shapes runs between them.
std::vector<Step> steps(int64_t batch, int64_t height, int64_t width, const PassOptions& opt) {
    auto shapes = [](Graph& g) { return no_count(infer_shapes(g)); };
    std::vector<Step> s = {
        {"float16_to_float32", false, Kind::kPass, false, float16_to_float32},
        {"fold_constants", false, Kind::kPass, false, fold_constants},
        {"bind_input_shape", false, Kind::kBinding, false,
         [=](Graph& g) { return no_count(bind_input_shape(g, batch, height, width)); }},
        {"fold_constants", false, Kind::kPass, false, fold_constants},
        {"dequantize_weights", false, Kind::kPass, true, dequantize_weights},
        {"fold_constants", false, Kind::kPass, false, fold_constants},
        {"eliminate_dead_nodes", false, Kind::kPass, false, eliminate_dead_nodes},
        {"fuse_conv_bn", true, Kind::kPass, true, fuse_conv_bn},
        {"infer_shapes", true, Kind::kCheck, false, shapes},
        {"fuse_conv_activation", true, Kind::kPass, true, fuse_conv_activation},
        {"infer_shapes", true, Kind::kCheck, false, shapes},
        {"fuse_dfl", true, Kind::kPass, true, fuse_dfl},
    };
    if (opt.fuse_residual) s.push_back({"fuse_conv_residual", true, Kind::kPass, true, fuse_conv_residual});
    s.push_back({"eliminate_dead_nodes", true, Kind::kPass, false, eliminate_dead_nodes});
    s.push_back({"topo_sort", false, Kind::kCheck, false, [](Graph& g) { return no_count(g.topo_sort()); }});
    s.push_back({"infer_shapes", false, Kind::kCheck, false, shapes});
    return s;
}

bool runs(const Step& s, const PassOptions& opt) {
    if (s.fusion && !opt.optimize) return false;
    return !(s.can_disable && opt.disabled.count(s.name));
}

}  // namespace

std::vector<std::string> pass_sequence(const PassOptions& opt) {
    std::vector<std::string> names;
    for (const Step& s : steps(0, 0, 0, opt))
        if (s.kind != Kind::kCheck && runs(s, opt)) names.emplace_back(s.name);
    return names;
}

Status optimize_graph(Graph& g, int64_t batch, int64_t height, int64_t width, const PassOptions& opt,
                      std::map<std::string, int>* stats) {
    for (const Step& s : steps(batch, height, width, opt)) {
        if (!runs(s, opt)) continue;
        auto r = s.run(g);
        if (!r) return s.kind == Kind::kPass ? r.status().with_context(std::string("pass ") + s.name) : r.status();
        if (stats && s.kind == Kind::kPass) (*stats)[s.name] += *r;
    }
    ITSCAM_RETURN_IF_ERROR(g.verify());
    for (const auto& o : g.outputs) {
        const ValueInfo* vi = g.info(o);
        if (!vi || !vi->shape_known())
            return internal_error("output '" + o + "' has an unknown shape after binding the input");
    }
    return Status::ok();
}

}  // namespace itscam
