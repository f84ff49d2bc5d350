// Pooling (oneDNN) and nearest Resize (our kernel) over NHWC activations.
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/ops/ops.h"
#include "ops/conv_params.h"
#include "ops/resize_params.h"

namespace itscam::cpu {

namespace {

bool pool_matches(const LoweringContext& ctx, const Node& n) {
    return ctx.rank4_f32(n.inputs[0]) && n.outputs.size() == 1;
}

Status lower_pool(LoweringContext& ctx, const Node& n) {
    const Slot& xs = ctx.slot(n.inputs[0]);
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs.shape, {}, true));
    if (p.dh != 1 || p.dw != 1) return unsupported(n.label() + ": dilated pooling");
    const dt act_dt = ctx.act_dt();
    memory::desc src_md(to_dims(xs.shape), act_dt, tag::nhwc), dst_md({p.n, p.c, p.oh, p.ow}, act_dt, tag::nhwc);
    const auto alg = n.op == "MaxPool"                    ? dnnl::algorithm::pooling_max
                     : n.attr_int("count_include_pad", 0) ? dnnl::algorithm::pooling_avg_include_padding
                                                          : dnnl::algorithm::pooling_avg_exclude_padding;
    // oneDNN needs the right padding to cover the last window exactly as ceil_mode computes it.
    const int64_t pb = (p.oh - 1) * p.sh + p.kh - p.h - p.pt, pr = (p.ow - 1) * p.sw + p.kw - p.w - p.pl;
    dnnl::pooling_forward::primitive_desc pd;
    try {
        dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, alg, src_md, dst_md, {p.sh, p.sw},
                                      {p.kh, p.kw}, {p.pt, p.pl}, {pb, pr});
        pd = dnnl::pooling_forward::primitive_desc(d, ctx.engine());
    } catch (const dnnl::error& e) {
        return dnnl_status(e, n.label());
    }
    dnnl::pooling_forward prim(pd);
    const std::string x = n.inputs[0], y = n.outputs[0];
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " " + n.op + " [" + pd.impl_info_str() + "]", [c, prim, x, y]() {
        prim.execute(c->stream(), {{DNNL_ARG_SRC, c->nhwc_mem(x)}, {DNNL_ARG_DST, c->nhwc_mem(y)}});
        return Status::ok();
    });
    return Status::ok();
}

// A Resize that keeps batch and channels (the nearest upsampling of YOLO's neck).
bool resize_matches(const LoweringContext& ctx, const Node& n) {
    if (!ctx.rank4_f32(n.inputs[0])) return false;
    const Shape& in = ctx.info(n.inputs[0]).shape;
    auto p = resize_params(ctx.graph(), n, in);
    return p && p->out[0] == in[0] && p->out[1] == in[1];
}

Status lower_resize(LoweringContext& ctx, const Node& n) {
    const Slot& xs = ctx.slot(n.inputs[0]);
    ITSCAM_ASSIGN_OR_RETURN(ResizeParams p, resize_params(ctx.graph(), n, xs.shape));
    std::vector<int64_t> ys(p.out[2]), xs_idx(p.out[3]);
    for (int64_t i = 0; i < p.out[2]; ++i) ys[i] = resize_nearest_index(p, 2, i, xs.shape[2]);
    for (int64_t i = 0; i < p.out[3]; ++i) xs_idx[i] = resize_nearest_index(p, 3, i, xs.shape[3]);
    const Shape s = xs.shape;
    const size_t es = dtype_size(ctx.act_dtype());
    const std::string x = n.inputs[0], y = n.outputs[0];
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Resize nearest [itscam nhwc]", [c, x, y, s, ys, xs_idx, es]() {
        nhwc_resize_nearest(c->slot(x).nhwc.raw(), c->slot(y).nhwc.raw(), s[0], s[2], s[3], s[1], ys, xs_idx, es);
        return Status::ok();
    });
    return Status::ok();
}

}  // namespace

void register_pooling(Registry& r) {
    for (const char* op : {"MaxPool", "AveragePool"})
        r.add(op, {kPoolingFamily, Layout::kNhwc, pool_matches, lower_pool});
    r.add("Resize", {kPoolingFamily, Layout::kNhwc, resize_matches, lower_resize});
}

}  // namespace itscam::cpu
