// The detection head: the fused DFL box decode (passes/fuse_dfl.cpp) over plain tensors.
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/ops/ops.h"

namespace itscam::cpu {

namespace {

bool dfl_matches(const LoweringContext& ctx, const Node& n) {
    const Graph& g = ctx.graph();
    return !g.is_constant(n.inputs[0]) && g.is_constant(n.inputs[1]) && ctx.info(n.inputs[0]).dtype == DType::kF32;
}

Status lower_dfl(LoweringContext& ctx, const Node& n) {
    const std::string x = n.inputs[0], y = n.outputs[0];
    const Shape s = ctx.slot(x).shape;
    const Tensor w = ctx.graph().constant(n.inputs[1])->cast(DType::kF32);
    ctx.keep(w, false);
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " DflDecode [itscam]", [c, x, y, s, w]() {
        dfl_decode(c->plain(x).data<float>(), w.data<float>(), c->plain(y).data<float>(), s[0] * s[1], s[2], s[3]);
        return Status::ok();
    });
    return Status::ok();
}

}  // namespace

void register_head(Registry& r) {
    r.add("DflDecode", {kHeadFamily, Layout::kPlain, dfl_matches, lower_dfl});
}

}  // namespace itscam::cpu
