#include "backend/ref/ref_backend.h"

#include "ops/op_registry.h"

namespace itscam {

Status ref_execute(const Graph& g, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                   std::map<std::string, Tensor>* env_out) {
    if (inputs.size() != g.inputs.size())
        return invalid_argument("expected " + std::to_string(g.inputs.size()) + " inputs, got " +
                                std::to_string(inputs.size()));
    std::map<std::string, Tensor> env;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const ValueInfo* vi = g.info(g.inputs[i]);
        if (vi && vi->shape_known() && vi->shape != inputs[i].shape())
            return invalid_argument("input '" + g.inputs[i] + "' must have shape " + shape_str(vi->shape) +
                                    ", got " + shape_str(inputs[i].shape()));
        env[g.inputs[i]] = inputs[i];
    }
    std::vector<const Tensor*> ins;
    std::vector<Tensor> outs;
    for (const auto& n : g.nodes) {
        ins.assign(n.inputs.size(), nullptr);
        for (size_t i = 0; i < n.inputs.size(); ++i) {
            if (n.inputs[i].empty()) continue;
            if (const Tensor* c = g.constant(n.inputs[i])) {
                ins[i] = c;
            } else {
                auto it = env.find(n.inputs[i]);
                if (it == env.end()) return internal_error(n.label() + ": input '" + n.inputs[i] + "' not computed");
                ins[i] = &it->second;
            }
        }
        ITSCAM_RETURN_IF_ERROR(op_run_ref(n, ins, outs));
        for (size_t i = 0; i < n.outputs.size(); ++i)
            if (!n.outputs[i].empty()) env[n.outputs[i]] = std::move(outs[i]);
    }
    outputs.clear();
    for (const auto& o : g.outputs) {
        auto it = env.find(o);
        if (it != env.end()) {
            outputs.push_back(it->second);
        } else if (const Tensor* c = g.constant(o)) {
            outputs.push_back(*c);
        } else {
            return internal_error("output '" + o + "' not computed");
        }
    }
    if (env_out) *env_out = std::move(env);
    return Status::ok();
}

namespace {

class RefCompiled final : public CompiledGraph {
public:
    explicit RefCompiled(Graph g) : g_(std::move(g)) {}
    Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) override {
        return ref_execute(g_, inputs, outputs);
    }
    std::string describe() const override { return graph_dump(g_); }

private:
    Graph g_;
};

class RefBackend final : public Backend {
public:
    std::string name() const override { return "ref"; }
    Status supports(const Graph&, const Node& n) const override {
        return op_find(n.op) ? Status::ok() : unsupported(n.label() + ": no reference kernel");
    }
    Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions&) const override {
        for (const auto& n : g.nodes) ITSCAM_RETURN_IF_ERROR(supports(g, n));
        return std::unique_ptr<CompiledGraph>(new RefCompiled(g));
    }
};

}  // namespace

std::unique_ptr<Backend> make_ref_backend() { return std::make_unique<RefBackend>(); }

}  // namespace itscam
