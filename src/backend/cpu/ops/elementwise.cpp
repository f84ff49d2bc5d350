// Element-wise ops: same-shape Add/Sub/Mul/Div and Sigmoid over NHWC activations (fp32) or plain tensors, and the
// numpy-broadcast binary ops over plain tensors (constants read in place).
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/ops/ops.h"

namespace itscam::cpu {

namespace {

// Add/Sub/Mul/Div -> our element-wise kernel's op.
EltOp elt_op(const std::string& op) {
    return op == "Add" ? EltOp::kAdd : op == "Sub" ? EltOp::kSub : op == "Mul" ? EltOp::kMul : EltOp::kDiv;
}

// Two float32 activations of the same shape.
bool same_shape_binary(const LoweringContext& ctx, const Node& n) {
    return ctx.all_inputs_dynamic(n) && ctx.info(n.inputs[0]).shape == ctx.info(n.inputs[1]).shape &&
           ctx.info(n.inputs[0]).dtype == DType::kF32;
}

// The NHWC forms run in fp32 only (bf16 activations take the plain forms after a reorder).
bool nhwc_f32(const LoweringContext& ctx, const Node& n) {
    return ctx.rank4_f32(n.inputs[0]) && ctx.act_dtype() == DType::kF32;
}

Status lower_binary(LoweringContext& ctx, const Node& n, bool nhwc) {
    const EltOp op = elt_op(n.op);
    const std::string a = n.inputs[0], b = n.inputs[1], y = n.outputs[0];
    const int64_t cnt = shape_numel(ctx.slot(y).shape);
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " " + n.op + (nhwc ? " [itscam nhwc]" : " [itscam]"), [c, nhwc, op, a, b, y, cnt]() {
        Slot &sa = c->slot(a), &sb = c->slot(b), &sy = c->slot(y);
        if (nhwc)
            eltwise_binary(op, sa.nhwc.data<float>(), sb.nhwc.data<float>(), sy.nhwc.data<float>(), cnt);
        else
            eltwise_binary(op, sa.plain.data<float>(), sb.plain.data<float>(), sy.plain.data<float>(), cnt);
        return Status::ok();
    });
    return Status::ok();
}

bool broadcast_matches(const LoweringContext& ctx, const Node& n) {
    const Graph& g = ctx.graph();
    return ctx.info(n.inputs[0]).dtype == DType::kF32 && ctx.info(n.inputs[1]).dtype == DType::kF32 &&
           !(g.is_constant(n.inputs[0]) && g.is_constant(n.inputs[1]));
}

Status lower_broadcast(LoweringContext& ctx, const Node& n) {
    const EltOp op = elt_op(n.op);
    const std::string a = n.inputs[0], b = n.inputs[1], y = n.outputs[0];
    Shape os = ctx.slot(y).shape, as = ctx.info(a).shape, bs = ctx.info(b).shape;
    while (as.size() < os.size()) as.insert(as.begin(), 1);
    while (bs.size() < os.size()) bs.insert(bs.begin(), 1);
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " " + n.op + " [itscam broadcast]", [c, op, a, b, y, as, bs, os]() {
        eltwise_broadcast(op, c->const_or_plain(a)->data<float>(), as, c->const_or_plain(b)->data<float>(), bs,
                          c->plain(y).data<float>(), os);
        return Status::ok();
    });
    return Status::ok();
}

Status lower_sigmoid(LoweringContext& ctx, const Node& n, bool nhwc) {
    const std::string x = n.inputs[0], y = n.outputs[0];
    const int64_t cnt = shape_numel(ctx.slot(y).shape);
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Sigmoid" + (nhwc ? " [itscam nhwc]" : " [itscam]"), [c, nhwc, x, y, cnt]() {
        Slot &sx = c->slot(x), &sy = c->slot(y);
        if (nhwc)
            sigmoid(sx.nhwc.data<float>(), sy.nhwc.data<float>(), cnt);
        else
            sigmoid(sx.plain.data<float>(), sy.plain.data<float>(), cnt);
        return Status::ok();
    });
    return Status::ok();
}

bool input_f32(const LoweringContext& ctx, const Node& n) {
    return ctx.info(n.inputs[0]).dtype == DType::kF32;
}

}  // namespace

void register_elementwise(Registry& r) {
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
        r.add(op,
              {kElementwiseFamily, Layout::kNhwc,
               [](const LoweringContext& ctx, const Node& n) { return same_shape_binary(ctx, n) && nhwc_f32(ctx, n); },
               [](LoweringContext& ctx, const Node& n) { return lower_binary(ctx, n, true); }});
        r.add(op, {kElementwiseFamily, Layout::kPlain, same_shape_binary,
                   [](LoweringContext& ctx, const Node& n) { return lower_binary(ctx, n, false); }});
        r.add(op, {kElementwiseFamily, Layout::kPlain, broadcast_matches, lower_broadcast});
    }
    r.add("Sigmoid", {kElementwiseFamily, Layout::kNhwc,
                      [](const LoweringContext& ctx, const Node& n) { return input_f32(ctx, n) && nhwc_f32(ctx, n); },
                      [](LoweringContext& ctx, const Node& n) { return lower_sigmoid(ctx, n, true); }});
    r.add("Sigmoid", {kElementwiseFamily, Layout::kPlain, input_f32,
                      [](LoweringContext& ctx, const Node& n) { return lower_sigmoid(ctx, n, false); }});
}

}  // namespace itscam::cpu
