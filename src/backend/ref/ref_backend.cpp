#include "backend/ref/ref_backend.h"

#include <functional>

#include "backend/ref/fp8_emulation.h"
#include "ops/op_registry.h"

namespace itscam {

namespace {

// Called before each node runs, with its index and inputs (which it may replace).
using NodeHook = std::function<void(size_t, const Node&, std::vector<const Tensor*>&)>;

Status execute(const Graph& g, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
               std::map<std::string, Tensor>* env_out, const NodeHook& before) {
    if (inputs.size() != g.inputs.size())
        return invalid_argument("expected " + std::to_string(g.inputs.size()) + " inputs, got " +
                                std::to_string(inputs.size()));
    std::map<std::string, Tensor> env;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const ValueInfo* vi = g.info(g.inputs[i]);
        if (vi && vi->shape_known() && vi->shape != inputs[i].shape())
            return invalid_argument("input '" + g.inputs[i] + "' must have shape " + shape_str(vi->shape) + ", got " +
                                    shape_str(inputs[i].shape()));
        env[g.inputs[i]] = inputs[i];
    }
    std::vector<const Tensor*> ins;
    std::vector<Tensor> outs;
    for (size_t index = 0; index < g.nodes.size(); ++index) {
        const Node& n = g.nodes[index];
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
        if (before) before(index, n, ins);
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

}  // namespace

Status ref_execute(const Graph& g, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                   std::map<std::string, Tensor>* env_out) {
    return execute(g, inputs, outputs, env_out, nullptr);
}

namespace {

class RefCompiled final : public CompiledGraph {
  public:
    RefCompiled(Graph g, const BackendOptions& opt) : g_(std::move(g)), collect_(opt.collect_ranges) {
        if (opt.precision == Precision::kFp8) fp8_ = std::make_unique<Fp8Emulation>(Fp8Emulation::plan(g_, opt.ranges));
    }
    Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) override {
        if (!collect_ && !fp8_) return ref_execute(g_, inputs, outputs);
        Tensor scratch;
        return execute(g_, inputs, outputs, nullptr, [&](size_t i, const Node& n, std::vector<const Tensor*>& ins) {
            if (collect_ && n.op == "Conv" && !ins.empty() && ins[0] && ins[0]->dtype() == DType::kF32)
                merge_range(collected_, n.inputs[0], *ins[0]);
            if (fp8_) fp8_->apply(i, ins, scratch);
        });
    }
    ActivationRanges collected_ranges() const override { return collected_; }
    std::string describe() const override {
        std::string d = graph_dump(g_);
        if (fp8_)
            d += "fp8 emulation: " + std::to_string(fp8_->quantized()) + " of " + std::to_string(fp8_->convolutions()) +
                 " convolutions quantized\n";
        return d;
    }

  private:
    Graph g_;
    bool collect_ = false;
    std::unique_ptr<Fp8Emulation> fp8_;
    ActivationRanges collected_;
};

class RefBackend final : public Backend {
  public:
    std::string name() const override { return "ref"; }
    Status supports(const Graph&, const Node& n) const override {
        return op_find(n.op) ? Status::ok() : unsupported(n.label() + ": no reference kernel");
    }
    // fp32, and fp8 as an emulation (fp8_emulation.h). The reduced precisions of the other backends (bf16, fp16,
    // int8) have no reference form: refused rather than silently run in fp32.
    Status supports_precision(Precision p) const override {
        if (p == Precision::kF32 || p == Precision::kFp8) return Status::ok();
        return unsupported(std::string("the ref backend runs fp32, and fp8 as an emulation; not ") + precision_name(p));
    }
    Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& opt) const override {
        ITSCAM_RETURN_IF_ERROR(supports_precision(opt.precision));
        for (const auto& n : g.nodes) ITSCAM_RETURN_IF_ERROR(supports(g, n));
        return std::unique_ptr<CompiledGraph>(new RefCompiled(g, opt));
    }
};

}  // namespace

std::unique_ptr<Backend> make_ref_backend() {
    return std::make_unique<RefBackend>();
}

}  // namespace itscam
