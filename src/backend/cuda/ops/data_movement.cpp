// Data movement: channel Concat/Split on NHWC views (with the Concat placement plan that makes most of them move no
// bytes), the view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity), Transpose, Slice, and Concat/Split on plain
// tensors.
//
// Zero-copy Concat/Split. An NHWC activation is a "rows x C view": row r (one pixel) starts at base + r * ld. A
// channel Split's outputs are views into its input (ld = input channels). A channel Concat's members are placed
// straight into the concatenated buffer when their producer can write a strided view (convolution epilogues,
// pooling, resize, nested concats), and a Split whose outputs all go, in order, into one Concat has its *input*
// placed there, so the C3k2/C2f "split, bottleneck, concat" blocks move no bytes. Other members are copied with one
// 2-D memcpy.
//
// A Split whose outputs do not all go into the Concat can still have its input placed there when each output that is
// missing is dead by the time the member in its place is written: C2PSA concatenates Split output 0 with the PSA
// block's result, which has Split output 1's channels and is computed from it. The block's result then overwrites
// Split output 1 in the Concat's buffer once every reader of it has run (place_over_dead_parts).
#include "backend/cuda/ops/data_movement.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "backend/cuda/ops/registry.h"
#include "passes/graph_utils.h"

namespace itscam::cuda {

namespace {

const std::set<std::string> kViewOps = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};

int64_t rows(const Shape& s) {
    return s[0] * s[2] * s[3];
}

bool channel_axis(const Node& n) {
    const int64_t axis = n.attr_int("axis", 0);
    return axis == 1 || axis == -3;
}

// Producers whose NHWC rule writes its output through resolve_nhwc(), i.e. into any strided view: convolutions,
// pooling, resize and nested channel Concats.
bool writes_nhwc_view(const CudaLowering& cx, const Node& producer) {
    static const std::set<std::string> ops = {"Conv", "MaxPool", "Resize", "Concat"};
    return ops.count(producer.op) != 0 && cx.layout_of(producer) == Layout::kNhwc;
}

// A plain Concat/Split's `axis` attribute, normalized against shape `s`, with the element counts of the dimensions
// before it (outer) and after it (inner).
struct AxisRange {
    int64_t axis = 0, outer = 1, inner = 1;
};

Result<AxisRange> axis_range(const Node& n, const Shape& s) {
    int64_t axis = n.attr_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(s.size());
    if (axis < 0 || axis >= static_cast<int64_t>(s.size())) return invalid_argument(n.label() + ": bad axis");
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
    return AxisRange{axis, outer, inner};
}

bool is_channel_split(const CudaLowering& cx, const Node& n) {
    return n.op == "Split" && cx.layout_of(n) == Layout::kNhwc;
}

// The nodes that `node` depends on, directly or through others (not itself).
std::set<int> ancestors(const Graph& g, int node) {
    std::set<int> seen;
    std::vector<int> todo{node};
    while (!todo.empty()) {
        const int i = todo.back();
        todo.pop_back();
        for (const auto& in : g.nodes[static_cast<size_t>(i)].inputs) {
            const int p = in.empty() ? -1 : g.producer(in);
            if (p >= 0 && seen.insert(p).second) todo.push_back(p);
        }
    }
    return seen;
}

// Whether the channel Split `sp`'s input can be placed in Concat `n` although some of its outputs are not members:
// the Concat's members line up with the Split's outputs one to one (same count, same channels at the same offsets),
// every output that is not its own member is overwritten by a member that `placeable` accepts, and everything that
// reads that output runs before the member is written (each reader is an ancestor of the member's producer, and none
// of them makes another view of it). The Split must be its input's only reader, so nothing else sees the overwrite.
// Nodes lower in graph order, so the readers' steps come first; graph_branches.h orders the overwrite after them
// because both touch the Concat's buffer. (A fused group lowers at its first node, and every group so far takes its
// inputs there only, so a group's steps do not move before a reader it depends on.)
bool place_over_dead_parts(const CudaLowering& cx, const Node& n, const Node& sp, const ConsumerMap& consumers,
                           const std::function<bool(const std::string&)>& placeable) {
    const Graph& g = cx.graph;
    if (sp.outputs.size() != n.inputs.size() || sole_consumer(g, consumers, sp.inputs[0]) < 0) return false;
    bool any = false;
    for (size_t j = 0; j < sp.outputs.size(); ++j) {
        const std::string &part = sp.outputs[j], &m = n.inputs[j];
        if (part.empty() || cx.vals.at(part).shape[1] != cx.vals.at(m).shape[1]) return false;
        if (m == part) continue;
        if (is_graph_output(g, part) || !placeable(m)) return false;
        const std::set<int> before = ancestors(g, g.producer(m));
        const auto it = consumers.find(part);
        if (it != consumers.end())
            for (size_t r : it->second) {
                const Node& reader = g.nodes[r];
                if (!before.count(static_cast<int>(r)) || reader.op == "Split" || is_view_op(reader.op)) return false;
            }
        any = true;
    }
    return any;
}

void plan_concat(CudaLowering& cx, const Node& n, const ConsumerMap& consumers) {
    std::set<std::string> outputs(cx.graph.outputs.begin(), cx.graph.outputs.end());
    std::map<std::string, int> seen;
    for (const auto& in : n.inputs) seen[in]++;
    // `member`: v is itself an input of this Concat (exactly once); false for a Split input placed for its outputs.
    auto placeable = [&](const std::string& v, bool member = true) {
        const int p = cx.graph.producer(v);
        if (p < 0 || outputs.count(v) || (member ? seen[v] != 1 : seen[v] != 0)) return false;
        const Val& val = cx.vals[v];
        if (!val.placed_in.empty() || !val.view_of.empty()) return false;
        return writes_nhwc_view(cx, cx.graph.nodes[p]);
    };
    auto place = [&](const std::string& v, int64_t at) {
        cx.vals[v].placed_in = n.outputs[0];
        cx.vals[v].place_off = at;
    };
    int64_t off = 0;
    for (size_t i = 0; i < n.inputs.size();) {
        const std::string& m = n.inputs[i];
        const int64_t c = cx.vals[m].shape[1];
        // A run of members that are all the outputs of one channel Split, in order: place the Split's input.
        const int p = cx.graph.producer(m);
        if (cx.latency_kernels && p >= 0 && is_channel_split(cx, cx.graph.nodes[p]) &&
            cx.graph.nodes[p].outputs[0] == m) {
            const Node& sp = cx.graph.nodes[p];
            bool run = i + sp.outputs.size() <= n.inputs.size();
            for (size_t j = 0; run && j < sp.outputs.size(); ++j)
                run = n.inputs[i + j] == sp.outputs[j] && seen[sp.outputs[j]] == 1;
            if (run && placeable(sp.inputs[0], /*member=*/false)) {
                place(sp.inputs[0], off);
                for (const auto& o : sp.outputs) off += cx.vals[o].shape[1];
                i += sp.outputs.size();
                cx.placed_members += static_cast<int>(sp.outputs.size());
                continue;
            }
            if (i == 0 && placeable(sp.inputs[0], /*member=*/false) &&
                place_over_dead_parts(cx, n, sp, consumers, [&](const std::string& v) { return placeable(v); })) {
                place(sp.inputs[0], 0);
                for (size_t j = 0; j < n.inputs.size(); ++j) {
                    if (n.inputs[j] != sp.outputs[j]) place(n.inputs[j], off);
                    off += cx.vals[n.inputs[j]].shape[1];
                }
                cx.placed_members += static_cast<int>(n.inputs.size());
                return;
            }
        }
        if (placeable(m)) {
            place(m, off);
            ++cx.placed_members;
        }
        off += c;
        ++i;
    }
}

Status lower_channel_concat(CudaLowering& cx, const Node& n) {
    const View y = cx.resolve_nhwc(n.outputs[0]);
    const Shape ys = cx.vals[n.outputs[0]].shape;
    int64_t off = 0;
    for (const auto& m : n.inputs) {
        ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(m));
        const Val& mv = cx.vals[m];
        const View x = mv.nhwc;
        const int64_t c = mv.shape[1];
        View dst = y;
        dst.off += static_cast<size_t>(off) * cx.es;
        off += c;
        if (x.buf == dst.buf && x.off == dst.off && x.ld == dst.ld) continue;  // placed: already there
        ++cx.copied_members;
        cx.add_copy2d(n.name + "/" + m, "Concat member copy (" + std::to_string(c) + " ch)", x,
                      static_cast<size_t>(x.ld) * cx.es, dst, static_cast<size_t>(dst.ld) * cx.es,
                      static_cast<size_t>(c) * cx.es, static_cast<size_t>(rows(ys)));
    }
    return Status::ok();
}

Status lower_channel_split(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(n.inputs[0]));
    int64_t off = 0;
    for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        Val& v = cx.vals[o];
        v.view_of = n.inputs[0];
        v.view_off = off;
        off += v.shape[1];
        cx.resolve_nhwc(o);
    }
    return Status::ok();
}

Status lower_view(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[0]));
    cx.vals[n.outputs[0]].plain = cx.vals[n.inputs[0]].plain;
    return Status::ok();
}

Status lower_transpose(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[0]));
    const Shape xs = cx.vals[n.inputs[0]].shape;
    std::vector<int64_t> perm = n.attr_ints("perm");
    if (perm.empty())
        for (int64_t i = static_cast<int64_t>(xs.size()) - 1; i >= 0; --i) perm.push_back(i);
    Val& yv = cx.vals[n.outputs[0]];
    yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * cx.es, n.outputs[0]);
    const View x = cx.vals[n.inputs[0]].plain, y = yv.plain;
    const ck::Dims in = to_dims(xs), pd = to_dims(Shape(perm.begin(), perm.end()));
    const ck::DT dt = to_dt(cx.act);
    cx.add_step(n.name, "Transpose " + shape_text(xs), {x.buf, y.buf},
                [&cx, x, y, in, pd, dt](cudaStream_t st) {
                    return csl::cuda_status(ck::transpose(cx.ptr(x), cx.ptr(y), in, pd, dt, st), "transpose");
                },
                {y.buf});
    return Status::ok();
}

Status lower_concat_plain(CudaLowering& cx, const Node& n) {
    const Shape ys = cx.vals[n.outputs[0]].shape;
    ITSCAM_ASSIGN_OR_RETURN(const AxisRange a, axis_range(n, ys));
    const int64_t axis = a.axis, outer = a.outer, inner = a.inner;
    Val& yv = cx.vals[n.outputs[0]];
    yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(ys)) * cx.es, n.outputs[0]);
    const View y = yv.plain;
    int64_t off = 0;
    for (const auto& m : n.inputs) {
        ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(m));
        const View x = cx.vals[m].plain;
        const int64_t len = cx.vals[m].shape[axis];
        const size_t width = static_cast<size_t>(len * inner) * cx.es,
                     dpitch = static_cast<size_t>(ys[axis] * inner) * cx.es;
        View dst = y;
        dst.off += static_cast<size_t>(off * inner) * cx.es;
        off += len;
        cx.add_copy2d(n.name + "/" + m, "Concat copy", x, width, dst, dpitch, width, static_cast<size_t>(outer));
    }
    return Status::ok();
}

Status lower_split_plain(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[0]));
    const Shape xs = cx.vals[n.inputs[0]].shape;
    ITSCAM_ASSIGN_OR_RETURN(const AxisRange a, axis_range(n, xs));
    const int64_t axis = a.axis, outer = a.outer, inner = a.inner;
    const View x = cx.vals[n.inputs[0]].plain;
    int64_t off = 0;
    for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        Val& yv = cx.vals[o];
        const int64_t len = yv.shape[axis];
        yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * cx.es, o);
        const View y = yv.plain;
        View src = x;
        src.off += static_cast<size_t>(off * inner) * cx.es;
        off += len;
        const size_t width = static_cast<size_t>(len * inner) * cx.es,
                     spitch = static_cast<size_t>(xs[axis] * inner) * cx.es;
        cx.add_copy2d(n.name + "/" + o, "Split copy", src, spitch, y, width, width, static_cast<size_t>(outer));
    }
    return Status::ok();
}

Status lower_slice(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[0]));
    const Shape xs = cx.vals[n.inputs[0]].shape;
    const Shape ys = cx.vals[n.outputs[0]].shape;
    const size_t r = xs.size();
    auto ints = [&](size_t i) -> std::vector<int64_t> {
        if (n.num_inputs() <= i || n.inputs[i].empty()) return {};
        return cx.graph.constant(n.inputs[i])->to_i64_vector();
    };
    std::vector<int64_t> starts = ints(1), axes = ints(3), steps = ints(4);
    if (axes.empty())
        for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size())
        return invalid_argument(n.label() + ": starts/axes/steps lengths differ");
    std::vector<int64_t> start(r, 0), step(r, 1);
    for (size_t i = 0; i < starts.size(); ++i) {
        int64_t a = axes[i] < 0 ? axes[i] + static_cast<int64_t>(r) : axes[i];
        if (a < 0 || a >= static_cast<int64_t>(r) || steps[i] == 0)
            return invalid_argument(n.label() + ": bad axes/steps");
        const int64_t L = xs[a];
        int64_t s = starts[i] < 0 ? starts[i] + L : starts[i];
        s = steps[i] > 0 ? std::clamp<int64_t>(s, 0, L) : std::clamp<int64_t>(s, 0, L - 1);
        start[a] = s;
        step[a] = steps[i];
    }
    const Shape st = dense_strides(xs);
    int64_t base = 0;
    ck::Dims sd;
    sd.rank = static_cast<int>(r);
    for (size_t d = 0; d < r; ++d) {
        base += start[d] * st[d];
        sd.d[d] = step[d] * st[d];
    }
    Val& yv = cx.vals[n.outputs[0]];
    yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(ys)) * cx.es, n.outputs[0]);
    const View x = cx.vals[n.inputs[0]].plain, y = yv.plain;
    const ck::Dims od = to_dims(ys);
    const ck::DT dt = to_dt(cx.act);
    cx.add_step(n.name, "Slice " + shape_text(xs) + "->" + shape_text(ys), {x.buf, y.buf},
                [&cx, x, y, base, sd, od, dt](cudaStream_t stm) {
                    return csl::cuda_status(ck::gather_strided(cx.ptr(x), base, sd, cx.ptr(y), od, dt, stm), "slice");
                },
                {y.buf});
    return Status::ok();
}

}  // namespace

bool is_view_op(const std::string& op) {
    return kViewOps.count(op) != 0;
}

void plan_concat_placements(CudaLowering& cx) {
    const ConsumerMap consumers = consumer_map(cx.graph);
    for (const Node& n : cx.graph.nodes)
        if (n.op == "Concat" && cx.layout_of(n) == Layout::kNhwc) plan_concat(cx, n, consumers);
}

void register_cuda_data_movement_lowerings(LoweringRegistry<CudaLowering>& r) {
    // Channel Concat/Split on NHWC first; the plain rules below take the other axes and ranks.
    r.add("Concat", {"data_movement", Layout::kNhwc,
                     [](const CudaLowering& cx, const Node& n) {
                         return cx.all_inputs_dynamic(n) && cx.is_rank4_f32(n.outputs[0]) && channel_axis(n);
                     },
                     lower_channel_concat});
    r.add("Split", {"data_movement", Layout::kNhwc,
                    [](const CudaLowering& cx, const Node& n) {
                        return cx.is_rank4_f32(n.inputs[0]) && cx.is_dynamic(n.inputs[0]) && channel_axis(n) &&
                               (n.num_inputs() < 2 || cx.graph.is_constant(n.inputs[1]));
                    },
                    lower_channel_split});
    for (const auto& op : kViewOps)
        r.add(op, {"data_movement", Layout::kPlain,
                   [](const CudaLowering& cx, const Node& n) {
                       return cx.is_dynamic(n.inputs[0]) && cx.is_f32(n.inputs[0]);
                   },
                   lower_view});
    r.add("Transpose", {"data_movement", Layout::kPlain,
                        [](const CudaLowering& cx, const Node& n) {
                            return cx.is_dynamic(n.inputs[0]) && cx.is_f32(n.inputs[0]) &&
                                   cx.graph.info(n.inputs[0])->shape.size() <= 6;
                        },
                        lower_transpose});
    r.add("Concat",
          {"data_movement", Layout::kPlain,
           [](const CudaLowering& cx, const Node& n) { return cx.all_inputs_dynamic(n) && cx.is_f32(n.outputs[0]); },
           lower_concat_plain});
    r.add("Split", {"data_movement", Layout::kPlain,
                    [](const CudaLowering& cx, const Node& n) {
                        return cx.is_dynamic(n.inputs[0]) && cx.is_f32(n.inputs[0]) &&
                               (n.num_inputs() < 2 || cx.graph.is_constant(n.inputs[1]));
                    },
                    lower_split_plain});
    r.add("Slice", {"data_movement", Layout::kPlain,
                    [](const CudaLowering& cx, const Node& n) {
                        if (!(cx.is_dynamic(n.inputs[0]) && cx.is_f32(n.inputs[0]) &&
                              cx.graph.info(n.inputs[0])->shape.size() <= 6))
                            return false;
                        bool consts = true;
                        for (size_t i = 1; i < n.num_inputs(); ++i)
                            consts &= n.inputs[i].empty() || cx.graph.is_constant(n.inputs[i]);
                        return consts;
                    },
                    lower_slice});
}

}  // namespace itscam::cuda
