// Data-movement ops: Concat, Split, Slice, Transpose, Gather, Tile. These are layout-agnostic byte movers, so the
// reference kernels work for every dtype.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "ops/op_registry.h"
#include "ops/shape_checks.h"

namespace itscam {

using namespace op_shape_checks;

namespace {

// One output dimension of Tile, refusing negative repeats and absurd sizes (no int64 overflow).
Result<int64_t> tile_dim(const Node& n, int64_t dim, int64_t rep) {
    if (rep < 0) return op_error(n, "negative repeat " + std::to_string(rep));
    if (dim < 0) return int64_t{-1};
    if (rep > 0 && dim > kMaxElements / rep)
        return op_error(n, "tiling " + std::to_string(dim) + " by " + std::to_string(rep) + " is too large");
    return dim * rep;
}

// ---- Concat ----
Status concat_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    const Shape& s0 = in[0].info->shape;
    ITSCAM_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(s0.size())));
    Shape o = s0;
    o[axis] = 0;
    for (const auto& i : in) {
        if (!i.info) continue;
        const Shape& s = i.info->shape;
        if (s.size() != s0.size()) return op_error(n, "inputs have different ranks");
        if (i.info->dtype != in[0].info->dtype) return op_error(n, "inputs have different dtypes");
        for (size_t d = 0; d < s.size(); ++d) {
            if (static_cast<int64_t>(d) == axis) continue;
            if (s[d] >= 0 && o[d] >= 0 && s[d] != o[d])
                return op_error(n, "input shapes " + shape_str(s0) + " and " + shape_str(s) + " differ off the axis");
            if (o[d] < 0) o[d] = s[d];
        }
        if (s[axis] > kMaxElements) return op_error(n, "input shape " + shape_str(s) + " is too large");
        o[axis] = (o[axis] < 0 || s[axis] < 0) ? -1 : o[axis] + s[axis];
    }
    out[0].dtype = in[0].info->dtype;
    out[0].shape = o;
    return Status::ok();
}

Status concat_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    std::vector<InferInput> ii;
    std::vector<ValueInfo> infos(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        infos[i] = {in[i]->dtype(), in[i]->shape()};
        ii.push_back({&infos[i], in[i]});
    }
    std::vector<ValueInfo> oi(1);
    ITSCAM_RETURN_IF_ERROR(concat_infer(n, ii, oi));
    const int64_t axis = *normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(oi[0].shape.size()));
    out[0] = Tensor::empty(oi[0].dtype, oi[0].shape);
    const size_t es = dtype_size(oi[0].dtype);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= oi[0].shape[d];
    for (size_t d = axis + 1; d < oi[0].shape.size(); ++d) inner *= oi[0].shape[d];
    auto* dst = static_cast<std::byte*>(out[0].raw());
    const int64_t out_row = oi[0].shape[axis] * inner * es;
    int64_t off = 0;
    for (const Tensor* t : in) {
        const int64_t row = t->shape()[axis] * inner * es;
        const auto* src = static_cast<const std::byte*>(t->raw());
        for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * out_row + off, src + o * row, row);
        off += row;
    }
    return Status::ok();
}

// ---- Split ----
Result<std::vector<int64_t>> split_sizes(const Node& n, const Shape& s, int64_t axis, const Tensor* split_in) {
    std::vector<int64_t> sizes;
    if (split_in)
        sizes = split_in->to_i64_vector();
    else if (n.has_attr("split"))
        sizes = n.attr_ints("split");
    const int64_t outs = static_cast<int64_t>(n.outputs.size());
    if (sizes.empty()) {
        if (s[axis] < 0) return std::vector<int64_t>(outs, -1);
        const int64_t k = n.attr_int("num_outputs", outs);
        if (k != outs) return op_error(n, "num_outputs disagrees with the number of outputs");
        const int64_t chunk = (s[axis] + outs - 1) / outs;
        for (int64_t i = 0; i < outs; ++i) sizes.push_back(std::min(chunk, s[axis] - chunk * i));
        if (sizes.back() <= 0)
            return op_error(n, "cannot split " + std::to_string(s[axis]) + " into " + std::to_string(outs) + " parts");
        return sizes;
    }
    if (static_cast<int64_t>(sizes.size()) != outs) return op_error(n, "split sizes count != number of outputs");
    int64_t total = 0;
    for (int64_t v : sizes) {
        if (v < 0) return op_error(n, "negative split size");
        if (v > kMaxElements) return op_error(n, "split size " + std::to_string(v) + " is too large");
        total += v;
    }
    if (s[axis] >= 0 && total != s[axis])
        return op_error(n,
                        "split sizes sum to " + std::to_string(total) + " but the axis has " + std::to_string(s[axis]));
    return sizes;
}

Status split_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    const Shape& s = in[0].info->shape;
    ITSCAM_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(s.size())));
    const Tensor* split_in = in.size() > 1 ? in[1].value : nullptr;
    if (in.size() > 1 && in[1].info && !split_in) {
        for (auto& o : out) {
            o.dtype = in[0].info->dtype;
            o.shape = s;
            o.shape[axis] = -1;
        }
        return Status::ok();
    }
    ITSCAM_ASSIGN_OR_RETURN(auto sizes, split_sizes(n, s, axis, split_in));
    for (size_t i = 0; i < out.size(); ++i) {
        out[i].dtype = in[0].info->dtype;
        out[i].shape = s;
        out[i].shape[axis] = sizes[i];
    }
    return Status::ok();
}

Status split_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    const Shape& s = in[0]->shape();
    ITSCAM_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(s.size())));
    ITSCAM_ASSIGN_OR_RETURN(auto sizes, split_sizes(n, s, axis, in.size() > 1 ? in[1] : nullptr));
    const size_t es = dtype_size(in[0]->dtype());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    const int64_t in_row = s[axis] * inner * es;
    int64_t off = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        Shape os = s;
        os[axis] = sizes[i];
        out[i] = Tensor::empty(in[0]->dtype(), os);
        const int64_t row = sizes[i] * inner * es;
        auto* dst = static_cast<std::byte*>(out[i].raw());
        for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * row, src + o * in_row + off, row);
        off += row;
    }
    return Status::ok();
}

// ---- Slice ----
struct SliceSpec {
    std::vector<int64_t> start, step, count;  // per dim of the input
};

Result<SliceSpec> slice_spec(const Node& n, const Shape& s, const std::vector<const Tensor*>& in) {
    std::vector<int64_t> starts, ends, axes, steps;
    if (in.size() > 1 && in[1]) {
        starts = in[1]->to_i64_vector();
        ends = in.size() > 2 && in[2] ? in[2]->to_i64_vector() : std::vector<int64_t>{};
        if (in.size() > 3 && in[3]) axes = in[3]->to_i64_vector();
        if (in.size() > 4 && in[4]) steps = in[4]->to_i64_vector();
    } else {
        starts = n.attr_ints("starts");
        ends = n.attr_ints("ends");
        axes = n.attr_ints("axes");
    }
    if (starts.size() != ends.size()) return op_error(n, "starts and ends differ in length");
    if (axes.empty()) {
        axes.resize(starts.size());
        std::iota(axes.begin(), axes.end(), 0);
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size())
        return op_error(n, "starts/ends/axes/steps lengths differ");
    const int64_t r = static_cast<int64_t>(s.size());
    SliceSpec sp;
    sp.start.assign(r, 0);
    sp.step.assign(r, 1);
    sp.count = s;
    for (size_t i = 0; i < axes.size(); ++i) {
        ITSCAM_ASSIGN_OR_RETURN(int64_t a, normalize_axis(n, axes[i], r));
        const int64_t dim = s[a];
        const int64_t st = steps[i];
        if (st == 0) return op_error(n, "slice step 0");
        int64_t b = starts[i], e = ends[i];
        if (b < 0) b += dim;
        if (e < 0) e += dim;
        // Counts as (span - 1) / |step| + 1: no overflow for steps near the int64 limits.
        if (st > 0) {
            b = std::clamp<int64_t>(b, 0, dim);
            e = std::clamp<int64_t>(e, 0, dim);
            sp.count[a] = e > b ? (e - b - 1) / st + 1 : 0;
        } else if (dim == 0) {
            b = 0;
            sp.count[a] = 0;
        } else {
            b = std::clamp<int64_t>(b, 0, dim - 1);
            e = std::clamp<int64_t>(e, -1, dim - 1);
            const int64_t ast = st == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -st;
            sp.count[a] = b > e ? (b - e - 1) / ast + 1 : 0;
        }
        sp.start[a] = b;
        sp.step[a] = st;
    }
    return sp;
}

Status slice_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    const Shape& s = in[0].info->shape;
    out[0].dtype = in[0].info->dtype;
    std::vector<const Tensor*> vals;
    bool all_const = true;
    for (size_t i = 1; i < in.size(); ++i) {
        vals.push_back(in[i].value);
        if (in[i].info && !in[i].value) all_const = false;
    }
    if (!all_const || !all_known(s)) {
        out[0].shape.assign(s.size(), -1);
        return Status::ok();
    }
    std::vector<const Tensor*> full{nullptr};
    full.insert(full.end(), vals.begin(), vals.end());
    ITSCAM_ASSIGN_OR_RETURN(SliceSpec sp, slice_spec(n, s, full));
    out[0].shape = sp.count;
    return Status::ok();
}

Status slice_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    const Shape& s = in[0]->shape();
    ITSCAM_ASSIGN_OR_RETURN(SliceSpec sp, slice_spec(n, s, in));
    out[0] = Tensor::empty(in[0]->dtype(), sp.count);
    const size_t es = dtype_size(in[0]->dtype());
    const int64_t r = static_cast<int64_t>(s.size());
    std::vector<int64_t> stride(r, 1);
    for (int64_t d = r - 2; d >= 0; --d) stride[d] = stride[d + 1] * s[d + 1];
    std::vector<int64_t> idx(r, 0);
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0].raw());
    const int64_t total = out[0].numel();
    for (int64_t i = 0; i < total; ++i) {
        int64_t off = 0;
        for (int64_t d = 0; d < r; ++d) off += (sp.start[d] + idx[d] * sp.step[d]) * stride[d];
        std::memcpy(dst + i * es, src + off * es, es);
        for (int64_t d = r - 1; d >= 0; --d) {
            if (++idx[d] < sp.count[d]) break;
            idx[d] = 0;
        }
    }
    return Status::ok();
}

// ---- Transpose ----
Result<std::vector<int64_t>> transpose_perm(const Node& n, size_t rank) {
    auto perm = n.attr_ints("perm");
    if (perm.empty()) {
        for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
    }
    if (perm.size() != rank)
        return op_error(n, "perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
    std::vector<bool> seen(rank, false);
    for (int64_t p : perm) {
        if (p < 0 || p >= static_cast<int64_t>(rank) || seen[p]) return op_error(n, "perm is not a permutation");
        seen[p] = true;
    }
    return perm;
}

Status transpose_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    const Shape& s = in[0].info->shape;
    ITSCAM_ASSIGN_OR_RETURN(auto perm, transpose_perm(n, s.size()));
    out[0].dtype = in[0].info->dtype;
    out[0].shape.resize(s.size());
    for (size_t i = 0; i < s.size(); ++i) out[0].shape[i] = s[perm[i]];
    return Status::ok();
}

Status transpose_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    const Shape& s = in[0]->shape();
    ITSCAM_ASSIGN_OR_RETURN(auto perm, transpose_perm(n, s.size()));
    const size_t r = s.size();
    Shape os(r);
    for (size_t i = 0; i < r; ++i) os[i] = s[perm[i]];
    out[0] = Tensor::empty(in[0]->dtype(), os);
    std::vector<int64_t> in_stride(r, 1);
    for (int64_t d = static_cast<int64_t>(r) - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * s[d + 1];
    const size_t es = dtype_size(in[0]->dtype());
    std::vector<int64_t> idx(r, 0);
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0].raw());
    for (int64_t i = 0; i < out[0].numel(); ++i) {
        int64_t off = 0;
        for (size_t d = 0; d < r; ++d) off += idx[d] * in_stride[perm[d]];
        std::memcpy(dst + i * es, src + off * es, es);
        for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0; --d) {
            if (++idx[d] < os[d]) break;
            idx[d] = 0;
        }
    }
    return Status::ok();
}

// ---- Gather ----
Status gather_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    const Shape& s = in[0].info->shape;
    ITSCAM_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(s.size())));
    Shape o(s.begin(), s.begin() + axis);
    o.insert(o.end(), in[1].info->shape.begin(), in[1].info->shape.end());
    o.insert(o.end(), s.begin() + axis + 1, s.end());
    out[0].dtype = in[0].info->dtype;
    out[0].shape = o;
    return Status::ok();
}

Status gather_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    const Shape& s = in[0]->shape();
    ITSCAM_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(s.size())));
    auto idx = in[1]->to_i64_vector();
    Shape o(s.begin(), s.begin() + axis);
    o.insert(o.end(), in[1]->shape().begin(), in[1]->shape().end());
    o.insert(o.end(), s.begin() + axis + 1, s.end());
    out[0] = Tensor::empty(in[0]->dtype(), o);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
    const size_t es = dtype_size(in[0]->dtype());
    const auto* src = static_cast<const std::byte*>(in[0]->raw());
    auto* dst = static_cast<std::byte*>(out[0].raw());
    const int64_t k = static_cast<int64_t>(idx.size());
    for (int64_t o2 = 0; o2 < outer; ++o2)
        for (int64_t j = 0; j < k; ++j) {
            int64_t ix = idx[j] < 0 ? idx[j] + s[axis] : idx[j];
            if (ix < 0 || ix >= s[axis]) return op_error(n, "index " + std::to_string(idx[j]) + " out of range");
            std::memcpy(dst + (o2 * k + j) * inner * es, src + (o2 * s[axis] + ix) * inner * es, inner * es);
        }
    return Status::ok();
}

}  // namespace

void register_data_movement_ops(std::map<std::string, OpDef>& r) {
    OpDef concat;
    concat.name = "Concat";
    concat.max_inputs = 1 << 16;
    concat.infer = concat_infer;
    concat.ref = concat_ref;
    r["Concat"] = concat;

    OpDef split;
    split.name = "Split";
    split.max_inputs = 2;
    split.max_outputs = 1 << 16;
    split.infer = split_infer;
    split.ref = split_ref;
    r["Split"] = split;

    OpDef slice;
    slice.name = "Slice";
    slice.max_inputs = 5;
    slice.infer = slice_infer;
    slice.ref = slice_ref;
    r["Slice"] = slice;

    OpDef transpose;
    transpose.name = "Transpose";
    transpose.infer = transpose_infer;
    transpose.ref = transpose_ref;
    r["Transpose"] = transpose;

    OpDef gather;
    gather.name = "Gather";
    gather.min_inputs = gather.max_inputs = 2;
    gather.infer = gather_infer;
    gather.ref = gather_ref;
    r["Gather"] = gather;

    OpDef tile;
    tile.name = "Tile";
    tile.min_inputs = tile.max_inputs = 2;
    tile.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0].dtype = in[0].info->dtype;
        const Shape& s = in[0].info->shape;
        out[0].shape.assign(s.size(), -1);
        if (in[1].value) {
            auto rep = in[1].value->to_i64_vector();
            if (rep.size() != s.size()) return op_error(n, "repeats length != rank");
            for (size_t i = 0; i < s.size(); ++i) {
                ITSCAM_ASSIGN_OR_RETURN(int64_t d, tile_dim(n, s[i], rep[i]));
                out[0].shape[i] = d;
            }
        }
        return Status::ok();
    };
    tile.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        const Shape& s = in[0]->shape();
        auto rep = in[1]->to_i64_vector();
        if (rep.size() != s.size()) return op_error(n, "repeats length != rank");
        Shape os(s.size());
        for (size_t i = 0; i < s.size(); ++i) {
            ITSCAM_ASSIGN_OR_RETURN(os[i], tile_dim(n, s[i], rep[i]));
        }
        ITSCAM_RETURN_IF_ERROR(check_shape_sane(n, os));
        out[0] = Tensor::empty(in[0]->dtype(), os);
        const size_t r = s.size(), es = dtype_size(in[0]->dtype());
        std::vector<int64_t> in_stride(r, 1);
        for (int64_t d = static_cast<int64_t>(r) - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * s[d + 1];
        std::vector<int64_t> idx(r, 0);
        for (int64_t i = 0; i < out[0].numel(); ++i) {
            int64_t off = 0;
            for (size_t d = 0; d < r; ++d) off += (idx[d] % s[d]) * in_stride[d];
            std::memcpy(static_cast<std::byte*>(out[0].raw()) + i * es,
                        static_cast<const std::byte*>(in[0]->raw()) + off * es, es);
            for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0; --d) {
                if (++idx[d] < os[d]) break;
                idx[d] = 0;
            }
        }
        return Status::ok();
    };
    r["Tile"] = tile;
}

}  // namespace itscam
