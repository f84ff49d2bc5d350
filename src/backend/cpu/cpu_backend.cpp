// The CPU backend on oneDNN: the Backend, and the compile orchestration of its compiled graphs.
//
// Layout choice: convolutions, pooling, nearest resize, channel Concat/Split and same-shape element-wise ops run
// on dense NHWC ("channels last") buffers, which oneDNN's AVX-512 convolutions read and write directly; every
// other op (the detection head's Reshape/Transpose/Softmax, the attention MatMuls) runs on plain row-major
// tensors. A value crosses layouts through a oneDNN reorder placed right after its producer, and only when a
// consumer needs the other layout. Conv bias + SiLU and the bottleneck residual Add run as oneDNN post-ops.
//
// Where things are: the lowering context (slots, layouts, reorders, steps) in cpu/lowering_context.h; the lowering
// of each op family in cpu/ops/ (conv.cpp, pooling.cpp, data_movement.cpp, elementwise.cpp, attention.cpp, head.cpp,
// reference.cpp), registered by op name in cpu/ops/registry.cpp; running the steps and profiling in cpu/executor.h.
//
// Precision: fp32, or opt-in bf16 where the NHWC activations and conv weights are bfloat16 (f32 accumulation;
// AVX512-BF16 or AMX needed, else compile() says so). Memory: the activations live in one arena planned from their
// lifetimes, which graphs that never run at the same time can share (BackendOptions::arena); every buffer is
// allocated at compile time, and run() allocates only for the few generic ops that fall back to reference kernels
// (none in YOLO11 detect graphs).
//
// Tuning: the 1x1 convolution-or-matmul choice of every layer that has one is recorded by tuning() ("<node> gemm=
// matmul|conv" lines) and replayed from BackendOptions::tuning without timing (plans, the plan cache).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "backend/backend.h"
#include "backend/cpu/executor.h"
#include "backend/cpu/lowering_context.h"
#include "backend/cpu/ops/ops.h"
#include "ops/op_registry.h"

namespace itscam {

namespace {

using cpu::LoweringContext;

class CpuCompiled final : public CompiledGraph {
  public:
    CpuCompiled(const Graph& g, const BackendOptions& opt) : ctx_(g, opt), exec_(ctx_.steps(), ctx_.stream()) {}

    Status build();
    Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) override;
    size_t memory_bytes() const override { return ctx_.bytes(); }
    std::string describe() const override {
        std::ostringstream os;
        for (const auto& s : ctx_.steps()) os << s.desc << "\n";
        return os.str();
    }
    ActivationRanges collected_ranges() const override { return collected_; }
    std::string tuning() const override { return ctx_.tuning(); }

  private:
    void record_ranges();

    LoweringContext ctx_;
    cpu::Executor exec_;  // after ctx_: it borrows the context's steps and stream
    ActivationRanges collected_;
};

// Picks each node's rule, plans layouts, int8 and memory, then lowers node by node: the rule's steps, then the
// conversions of its outputs.
Status CpuCompiled::build() {
    ITSCAM_RETURN_IF_ERROR(ctx_.init());
    const Graph& g = ctx_.graph();
    const cpu::Registry& reg = cpu::registry();
    std::vector<const cpu::Rule*> rules;
    std::vector<cpu::OutputBinding> binding;
    for (const auto& n : g.nodes) {
        const cpu::Rule* r = reg.find(ctx_, n);
        rules.push_back(r);
        binding.push_back(!r                              ? cpu::OutputBinding::kKernel
                          : r->family == cpu::kViewFamily ? cpu::OutputBinding::kView
                                                          : cpu::OutputBinding::kAllocated);
    }
    ctx_.plan_layouts(rules);
    cpu::plan_conv_int8(ctx_, rules);
    ctx_.allocate(binding);
    ctx_.add_input_conversions();
    try {
        for (size_t i = 0; i < g.nodes.size(); ++i) {
            const Node& n = g.nodes[i];
            ITSCAM_RETURN_IF_ERROR(rules[i] ? rules[i]->lower(ctx_, n) : cpu::lower_reference(ctx_, n));
            ctx_.add_output_conversions(n);
        }
    } catch (const dnnl::error& e) {
        return cpu::dnnl_status(e, "cpu backend compile");
    }
    return Status::ok();
}

Status CpuCompiled::run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
    const Graph& g = ctx_.graph();
    if (inputs.size() != g.inputs.size())
        return invalid_argument("expected " + std::to_string(g.inputs.size()) + " inputs, got " +
                                std::to_string(inputs.size()));
    for (size_t i = 0; i < inputs.size(); ++i) {
        const cpu::Slot& in = ctx_.slot(g.inputs[i]);
        if (inputs[i].shape() != in.shape || inputs[i].dtype() != in.dtype)
            return invalid_argument("input '" + g.inputs[i] + "' must be " + dtype_name(in.dtype) +
                                    shape_str(in.shape) + ", got " + dtype_name(inputs[i].dtype()) +
                                    shape_str(inputs[i].shape()));
    }
    if (ctx_.options().threads > 0) omp_set_num_threads(ctx_.options().threads);
    ctx_.bind_arena();  // another graph sharing the arena may have grown it since this one last ran
    for (size_t i = 0; i < inputs.size(); ++i) ctx_.plain(g.inputs[i]) = inputs[i];
    ITSCAM_RETURN_IF_ERROR(exec_.run());
    record_ranges();
    outputs.clear();
    for (const auto& o : g.outputs) {
        if (const Tensor* c = g.constant(o))
            outputs.push_back(*c);
        else
            outputs.push_back(ctx_.plain(o));
    }
    return Status::ok();
}

// Calibration: merges this run's range of every recorded value into collected_.
void CpuCompiled::record_ranges() {
    for (const auto& v : ctx_.range_values()) {
        const cpu::Slot& sl = ctx_.slot(v);
        const Tensor& t = sl.producer_nhwc || sl.need_nhwc ? sl.nhwc : sl.plain;
        if (t.dtype() == DType::kF32) merge_range(collected_, v, t);
    }
}

class CpuBackend final : public Backend {
  public:
    std::string name() const override { return "cpu"; }
    Status supports(const Graph&, const Node& n) const override {
        return op_find(n.op) ? Status::ok() : unsupported(n.label() + ": no CPU kernel");
    }
    Status supports_precision(Precision p) const override { return cpu::check_precision(p); }
    Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& opt) const override {
        if (opt.threads > 0) omp_set_num_threads(opt.threads);
        auto c = std::make_unique<CpuCompiled>(g, opt);
        ITSCAM_RETURN_IF_ERROR(c->build());
        return std::unique_ptr<CompiledGraph>(std::move(c));
    }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() {
    return std::make_unique<CpuBackend>();
}

}  // namespace itscam
