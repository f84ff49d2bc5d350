// Data movement: channel Concat/Split over NHWC activations, and Concat/Split/Slice/Transpose and the views
// (Reshape, Flatten, Squeeze, Unsqueeze, Identity) over plain tensors. All are element-size generic.
#include <algorithm>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/ops/ops.h"
#include "ops/op_registry.h"

namespace itscam::cpu {

namespace {

bool channel_axis(const Node& n) {
    return n.attr_int("axis", 0) == 1 || n.attr_int("axis", 0) == -3;
}

// Split sizes absent or constant.
bool split_sizes_constant(const LoweringContext& ctx, const Node& n) {
    return n.num_inputs() < 2 || ctx.graph().is_constant(n.inputs[1]);
}

// Rows and row length of a dense tensor split at `axis`: `outer` rows, `inner` elements after the axis.
void outer_inner(const Shape& s, int64_t axis, int64_t& outer, int64_t& inner) {
    outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
}

Status lower_concat_nhwc(LoweringContext& ctx, const Node& n) {
    const std::string y = n.outputs[0];
    std::vector<std::string> ins(n.inputs.begin(), n.inputs.end());
    std::vector<int64_t> widths;
    for (const auto& in : ins) widths.push_back(ctx.slot(in).shape[1]);
    const Shape s = ctx.slot(y).shape;
    const int64_t pixels = s[0] * s[2] * s[3];
    const size_t es = dtype_size(ctx.act_dtype());
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Concat [itscam nhwc]", [c, ins, widths, y, pixels, s, es]() {
        std::vector<const void*> srcs;
        for (const auto& in : ins) srcs.push_back(c->slot(in).nhwc.raw());
        nhwc_concat(srcs, widths, c->slot(y).nhwc.raw(), pixels, s[1], es);
        return Status::ok();
    });
    return Status::ok();
}

Status lower_split_nhwc(LoweringContext& ctx, const Node& n) {
    std::vector<std::string> outs(n.outputs.begin(), n.outputs.end());
    std::vector<int64_t> widths;
    for (const auto& o : outs) widths.push_back(ctx.slot(o).shape[1]);
    const Shape s = ctx.slot(n.inputs[0]).shape;
    const size_t es = dtype_size(ctx.act_dtype());
    const std::string x = n.inputs[0];
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Split [itscam nhwc]", [c, x, outs, widths, s, es]() {
        std::vector<void*> dsts;
        for (const auto& o : outs) dsts.push_back(c->slot(o).nhwc.raw());
        nhwc_split(c->slot(x).nhwc.raw(), s[0] * s[2] * s[3], s[1], dsts, widths, es);
        return Status::ok();
    });
    return Status::ok();
}

Status lower_concat_plain(LoweringContext& ctx, const Node& n) {
    const std::string y = n.outputs[0];
    const Shape os = ctx.slot(y).shape;
    ITSCAM_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(os.size())));
    int64_t outer, inner;
    outer_inner(os, axis, outer, inner);
    const size_t es = dtype_size(ctx.slot(y).dtype);
    std::vector<std::string> ins(n.inputs.begin(), n.inputs.end());
    std::vector<int64_t> row_bytes;
    for (const auto& in : ins) row_bytes.push_back(ctx.info(in).shape[axis] * inner * es);
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Concat [itscam]", [c, ins, row_bytes, y, outer]() {
        std::vector<const void*> srcs;
        for (const auto& in : ins) srcs.push_back(c->const_or_plain(in)->raw());
        concat_rows(srcs, row_bytes, c->plain(y).raw(), outer);
        return Status::ok();
    });
    return Status::ok();
}

Status lower_split_plain(LoweringContext& ctx, const Node& n) {
    const Shape is = ctx.slot(n.inputs[0]).shape;
    ITSCAM_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(is.size())));
    int64_t outer, inner;
    outer_inner(is, axis, outer, inner);
    const size_t es = dtype_size(ctx.slot(n.inputs[0]).dtype);
    std::vector<std::string> outs(n.outputs.begin(), n.outputs.end());
    std::vector<int64_t> row_bytes;
    for (const auto& o : outs) row_bytes.push_back(ctx.slot(o).shape[axis] * inner * es);
    const std::string x = n.inputs[0];
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Split [itscam]", [c, x, outs, row_bytes, outer]() {
        std::vector<void*> dsts;
        for (const auto& o : outs) dsts.push_back(c->plain(o).raw());
        split_rows(c->plain(x).raw(), outer, dsts, row_bytes);
        return Status::ok();
    });
    return Status::ok();
}

bool slice_matches(const LoweringContext& ctx, const Node& n) {
    const Graph& g = ctx.graph();
    bool consts = !g.is_constant(n.inputs[0]);
    for (size_t i = 1; i < n.num_inputs(); ++i) consts &= n.inputs[i].empty() || g.is_constant(n.inputs[i]);
    return consts;
}

Status lower_slice(LoweringContext& ctx, const Node& n) {
    // Reuse the reference geometry by slicing a tiny probe: count per dim = output shape.
    const Shape is = ctx.slot(n.inputs[0]).shape;
    std::vector<int64_t> starts, ends, axes, steps;
    auto vec = [&](size_t i) {
        return n.num_inputs() > i && !n.inputs[i].empty() ? ctx.graph().constant(n.inputs[i])->to_i64_vector()
                                                          : std::vector<int64_t>{};
    };
    if (n.num_inputs() > 1) {
        starts = vec(1), ends = vec(2), axes = vec(3), steps = vec(4);
    } else {
        starts = n.attr_ints("starts"), ends = n.attr_ints("ends"), axes = n.attr_ints("axes");
    }
    const int64_t r = static_cast<int64_t>(is.size());
    if (axes.empty())
        for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
    if (steps.empty()) steps.assign(starts.size(), 1);
    std::vector<int64_t> st(r, 0), sp(r, 1);
    for (size_t k = 0; k < axes.size(); ++k) {
        ITSCAM_ASSIGN_OR_RETURN(int64_t a, normalize_axis(n, axes[k], r));
        int64_t b = starts[k];
        if (b < 0) b += is[a];
        sp[a] = steps[k];
        st[a] = sp[a] > 0 ? std::clamp<int64_t>(b, 0, is[a]) : std::clamp<int64_t>(b, 0, is[a] - 1);
    }
    const std::string y = n.outputs[0];
    const Shape cnt = ctx.slot(y).shape;
    const size_t es = dtype_size(ctx.slot(y).dtype);
    const std::string x = n.inputs[0];
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Slice [itscam]", [c, x, y, is, st, sp, cnt, es]() {
        slice_copy(c->plain(x).raw(), is, c->plain(y).raw(), st, sp, cnt, es);
        return Status::ok();
    });
    return Status::ok();
}

bool input_dynamic(const LoweringContext& ctx, const Node& n) {
    return !ctx.graph().is_constant(n.inputs[0]);
}

// A view: the output is the input's plain buffer under the output's shape, bound at run time (no copy).
Status lower_view(LoweringContext& ctx, const Node& n) {
    const std::string x = n.inputs[0], y = n.outputs[0];
    const Shape s = ctx.slot(y).shape;
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " " + n.op + " [view]", [c, x, y, s]() {
        c->plain(y) = c->plain(x).reshaped(s);
        return Status::ok();
    });
    return Status::ok();
}

Status lower_transpose(LoweringContext& ctx, const Node& n) {
    const std::string x = n.inputs[0], y = n.outputs[0];
    const Shape s = ctx.slot(x).shape;
    std::vector<int64_t> perm = n.attr_ints("perm");
    if (perm.empty())
        for (size_t d = 0; d < s.size(); ++d) perm.push_back(static_cast<int64_t>(s.size() - 1 - d));
    const size_t es = dtype_size(ctx.slot(x).dtype);
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " Transpose [itscam]", [c, x, y, s, perm, es]() {
        transpose(c->plain(x).raw(), c->plain(y).raw(), s, perm, es);
        return Status::ok();
    });
    return Status::ok();
}

}  // namespace

void register_data_movement(Registry& r) {
    // Channel Concat/Split on NHWC first; the general plain forms take the rest.
    r.add("Concat", {kDataMovementFamily, Layout::kNhwc,
                     [](const LoweringContext& ctx, const Node& n) {
                         return ctx.all_inputs_dynamic(n) && ctx.rank4_f32(n.outputs[0]) && channel_axis(n);
                     },
                     lower_concat_nhwc});
    r.add("Concat", {kDataMovementFamily, Layout::kPlain, nullptr, lower_concat_plain});
    r.add("Split", {kDataMovementFamily, Layout::kNhwc,
                    [](const LoweringContext& ctx, const Node& n) {
                        return ctx.rank4_f32(n.inputs[0]) && channel_axis(n) && split_sizes_constant(ctx, n);
                    },
                    lower_split_nhwc});
    r.add("Split", {kDataMovementFamily, Layout::kPlain, split_sizes_constant, lower_split_plain});
    r.add("Slice", {kDataMovementFamily, Layout::kPlain, slice_matches, lower_slice});
    for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
        r.add(op, {kViewFamily, Layout::kPlain, input_dynamic, lower_view});
    r.add("Transpose", {kDataMovementFamily, Layout::kPlain, input_dynamic, lower_transpose});
}

}  // namespace itscam::cpu
