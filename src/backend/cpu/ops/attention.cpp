// The attention block's ops over plain tensors: MatMul of two activations (oneDNN) and Softmax (our kernel).
#include <algorithm>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/ops/ops.h"
#include "ops/resize_params.h"

namespace itscam::cpu {

namespace {

bool matmul_matches(const LoweringContext& ctx, const Node& n) {
    return ctx.all_inputs_dynamic(n) && ctx.info(n.inputs[0]).dtype == DType::kF32 &&
           ctx.info(n.inputs[0]).shape.size() >= 2 && ctx.info(n.inputs[1]).shape.size() >= 2;
}

Status lower_matmul(LoweringContext& ctx, const Node& n) {
    Shape a = ctx.slot(n.inputs[0]).shape, b = ctx.slot(n.inputs[1]).shape, y = ctx.slot(n.outputs[0]).shape;
    // oneDNN wants equal ranks: left-pad with 1s (broadcast dims).
    const size_t r = std::max({a.size(), b.size(), y.size()});
    while (a.size() < r) a.insert(a.begin(), 1);
    while (b.size() < r) b.insert(b.begin(), 1);
    while (y.size() < r) y.insert(y.begin(), 1);
    auto plain_md = [](const Shape& s) {
        memory::dims st(s.size(), 1);
        for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
        return memory::desc(to_dims(s), dt::f32, st);
    };
    memory::desc a_md = plain_md(a), b_md = plain_md(b), y_md = plain_md(y);
    dnnl::matmul::primitive_desc pd;
    try {
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, y_md), ctx.engine());
    } catch (const dnnl::error& e) {
        return dnnl_status(e, n.label());
    }
    dnnl::matmul prim(pd);
    const std::string ia = n.inputs[0], ib = n.inputs[1], o = n.outputs[0];
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " MatMul [" + std::string(pd.impl_info_str()) + "]", [c, prim, a_md, b_md, y_md, ia, ib, o]() {
        const dnnl::engine& e = c->engine();
        memory am(a_md, e, c->plain(ia).raw()), bm(b_md, e, c->plain(ib).raw()), ym(y_md, e, c->plain(o).raw());
        prim.execute(c->stream(), {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, ym}});
        return Status::ok();
    });
    return Status::ok();
}

Status lower_softmax(LoweringContext& ctx, const Node& n) {
    const std::string x = n.inputs[0], y = n.outputs[0];
    ITSCAM_ASSIGN_OR_RETURN(SoftmaxLayout l, softmax_layout(n, ctx.slot(x).shape));
    const int64_t outer = l.outer, len = l.len, inner = l.inner;
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Softmax [itscam]", [c, x, y, outer, len, inner]() {
        softmax(c->plain(x).data<float>(), c->plain(y).data<float>(), outer, len, inner);
        return Status::ok();
    });
    return Status::ok();
}

}  // namespace

void register_attention(Registry& r) {
    r.add("MatMul", {kAttentionFamily, Layout::kPlain, matmul_matches, lower_matmul});
    r.add("Softmax",
          {kAttentionFamily, Layout::kPlain,
           [](const LoweringContext& ctx, const Node& n) { return ctx.info(n.inputs[0]).dtype == DType::kF32; },
           lower_softmax});
}

}  // namespace itscam::cpu
