// Data-movement and shape ops: Concat, Split, Slice, Reshape, Transpose, Flatten, Shape, Gather, Unsqueeze,
// Squeeze, ConstantOfShape, Range, Expand, Tile, Constant. These are layout-agnostic byte movers, so the
// reference kernels work for every dtype.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "ops/op_registry.h"

namespace itscam {

namespace {

constexpr int64_t kMaxElements = int64_t{1} << 34;  // refuse absurd shapes from hostile files
constexpr int64_t kMaxRank = 64;

Status check_shape_sane(const Node& n, const Shape& s) {
    int64_t total = 1;
    for (int64_t d : s) {
        if (d < 0) return op_error(n, "negative dimension in " + shape_str(s));
        if (d > 0 && total > kMaxElements / d) return op_error(n, "shape " + shape_str(s) + " is too large");
        total *= d;
    }
    return Status::ok();
}

// One output dimension of Tile, refusing negative repeats and absurd sizes (no int64 overflow).
Result<int64_t> tile_dim(const Node& n, int64_t dim, int64_t rep) {
    if (rep < 0) return op_error(n, "negative repeat " + std::to_string(rep));
    if (dim < 0) return int64_t{-1};
    if (rep > 0 && dim > kMaxElements / rep)
        return op_error(n, "tiling " + std::to_string(dim) + " by " + std::to_string(rep) + " is too large");
    return dim * rep;
}

// Length of Range(start, limit, delta): ceil((limit - start) / delta) clamped at 0, in double as the kernel
// computes it; refuses non-scalars, a zero or non-finite delta and absurd lengths (before any float->int cast).
Result<int64_t> range_count(const Node& n, const Tensor& start, const Tensor& limit, const Tensor& delta) {
    if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1) return op_error(n, "inputs must be scalars");
    const double s = *start.cast(DType::kF64).data<double>(), l = *limit.cast(DType::kF64).data<double>(),
                 d = *delta.cast(DType::kF64).data<double>();
    if (d == 0) return op_error(n, "delta is 0");
    const double cnt = std::ceil((l - s) / d);
    if (!std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d) || !(cnt <= static_cast<double>(kMaxElements)))
        return op_error(n, "range too long or not finite");
    return cnt > 0 ? static_cast<int64_t>(cnt) : int64_t{0};
}

bool all_known(const Shape& s) {
    return std::all_of(s.begin(), s.end(), [](int64_t d) { return d >= 0; });
}

InferFn same_as_input() {
    return [](const Node&, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0] = *in[0].info;
        return Status::ok();
    };
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
    if (split_in) sizes = split_in->to_i64_vector();
    else if (n.has_attr("split")) sizes = n.attr_ints("split");
    const int64_t outs = static_cast<int64_t>(n.outputs.size());
    if (sizes.empty()) {
        if (s[axis] < 0) return std::vector<int64_t>(outs, -1);
        const int64_t k = n.attr_int("num_outputs", outs);
        if (k != outs) return op_error(n, "num_outputs disagrees with the number of outputs");
        const int64_t chunk = (s[axis] + outs - 1) / outs;
        for (int64_t i = 0; i < outs; ++i) sizes.push_back(std::min(chunk, s[axis] - chunk * i));
        if (sizes.back() <= 0) return op_error(n, "cannot split " + std::to_string(s[axis]) + " into " +
                                                      std::to_string(outs) + " parts");
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
        return op_error(n, "split sizes sum to " + std::to_string(total) + " but the axis has " +
                               std::to_string(s[axis]));
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

// ---- Reshape ----
Result<Shape> reshape_target(const Node& n, const Shape& in, std::vector<int64_t> target) {
    const bool allowzero = n.attr_int("allowzero", 0) != 0;
    int64_t infer_at = -1, known = 1;
    bool copied_unknown = false;  // a 0 copied a dimension that is not known yet
    for (size_t i = 0; i < target.size(); ++i) {
        if (target[i] == 0 && !allowzero) {
            if (i >= in.size()) return op_error(n, "0 in the target shape past the input rank");
            target[i] = in[i];
            if (in[i] < 0) {
                copied_unknown = true;
                continue;
            }
        }
        if (target[i] == -1) {
            if (infer_at >= 0) return op_error(n, "more than one -1 in the target shape");
            infer_at = static_cast<int64_t>(i);
        } else if (target[i] < 0) {
            return op_error(n, "invalid target dimension " + std::to_string(target[i]));
        } else {
            if (target[i] > 0 && known > kMaxElements / target[i])
                return op_error(n, "target shape " + shape_str(target) + " is too large");
            known *= target[i];
        }
    }
    if (!all_known(in) || copied_unknown) {
        return target;  // -1 stays unknown
    }
    const int64_t total = shape_numel(in);
    if (infer_at >= 0) {
        if (known == 0 || total % known != 0)
            return op_error(n, "cannot reshape " + shape_str(in) + " to " + shape_str(target));
        target[infer_at] = total / known;
    } else if (known != total) {
        return op_error(n, "cannot reshape " + shape_str(in) + " (" + std::to_string(total) + " elements) to " +
                               shape_str(target));
    }
    return target;
}

Status reshape_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    out[0].dtype = in[0].info->dtype;
    if (!in[1].value) {
        const Shape& ts = in[1].info->shape;
        if (ts.size() != 1 || ts[0] < 0 || ts[0] > kMaxRank)
            return op_error(n, "target shape must be a 1-D tensor of known length");
        out[0].shape.assign(ts[0], -1);
        return Status::ok();
    }
    ITSCAM_ASSIGN_OR_RETURN(out[0].shape, reshape_target(n, in[0].info->shape, in[1].value->to_i64_vector()));
    return Status::ok();
}

Status reshape_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    ITSCAM_ASSIGN_OR_RETURN(Shape s, reshape_target(n, in[0]->shape(), in[1]->to_i64_vector()));
    out[0] = in[0]->clone().reshaped(s);
    return Status::ok();
}

// ---- Transpose ----
Result<std::vector<int64_t>> transpose_perm(const Node& n, size_t rank) {
    auto perm = n.attr_ints("perm");
    if (perm.empty()) {
        for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
    }
    if (perm.size() != rank) return op_error(n, "perm has " + std::to_string(perm.size()) + " entries for rank " +
                                                   std::to_string(rank));
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

// ---- Unsqueeze / Squeeze ----
std::vector<int64_t> axes_of(const Node& n, const Tensor* axes_in) {
    return axes_in ? axes_in->to_i64_vector() : n.attr_ints("axes");
}

Result<Shape> unsqueeze_shape(const Node& n, const Shape& s, std::vector<int64_t> axes) {
    const int64_t r = static_cast<int64_t>(s.size() + axes.size());
    for (auto& a : axes) {
        ITSCAM_ASSIGN_OR_RETURN(a, normalize_axis(n, a, r));
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return op_error(n, "repeated axis");
    Shape o;
    size_t src = 0, ai = 0;
    for (int64_t d = 0; d < r; ++d) {
        if (ai < axes.size() && axes[ai] == d) {
            o.push_back(1);
            ++ai;
        } else {
            o.push_back(s[src++]);
        }
    }
    return o;
}

Result<Shape> squeeze_shape(const Node& n, const Shape& s, std::vector<int64_t> axes) {
    const int64_t r = static_cast<int64_t>(s.size());
    std::vector<bool> drop(r, false);
    if (axes.empty()) {
        for (int64_t d = 0; d < r; ++d) drop[d] = s[d] == 1;
    } else {
        for (int64_t a : axes) {
            ITSCAM_ASSIGN_OR_RETURN(int64_t d, normalize_axis(n, a, r));
            if (s[d] != 1 && s[d] >= 0) return op_error(n, "cannot squeeze a dimension of size " + std::to_string(s[d]));
            drop[d] = true;
        }
    }
    Shape o;
    for (int64_t d = 0; d < r; ++d)
        if (!drop[d]) o.push_back(s[d]);
    return o;
}

template <bool kUnsqueeze>
Status squeeze_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    if (in.size() > 1 && in[1].info && !in[1].value) return op_error(n, "axes must be a constant");
    auto axes = axes_of(n, in.size() > 1 ? in[1].value : nullptr);
    out[0].dtype = in[0].info->dtype;
    if (kUnsqueeze) {
        ITSCAM_ASSIGN_OR_RETURN(out[0].shape, unsqueeze_shape(n, in[0].info->shape, axes));
    } else {
        ITSCAM_ASSIGN_OR_RETURN(out[0].shape, squeeze_shape(n, in[0].info->shape, axes));
    }
    return Status::ok();
}

template <bool kUnsqueeze>
Status squeeze_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    auto axes = axes_of(n, in.size() > 1 ? in[1] : nullptr);
    Result<Shape> s = kUnsqueeze ? unsqueeze_shape(n, in[0]->shape(), axes) : squeeze_shape(n, in[0]->shape(), axes);
    if (!s) return s.status();
    out[0] = in[0]->clone().reshaped(*s);
    return Status::ok();
}

Status flatten_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    const Shape& s = in[0].info->shape;
    const int64_t r = static_cast<int64_t>(s.size());
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r) return op_error(n, "axis out of range");
    int64_t a = 1, b = 1;
    for (int64_t d = 0; d < r; ++d) {
        int64_t& t = d < axis ? a : b;
        if (t > 0 && s[d] > 0 && t > kMaxElements / s[d]) return op_error(n, "shape " + shape_str(s) + " is too large");
        t = (t < 0 || s[d] < 0) ? -1 : t * s[d];
    }
    out[0].dtype = in[0].info->dtype;
    out[0].shape = {a, b};
    return Status::ok();
}

}  // namespace

void register_tensor_ops(std::map<std::string, OpDef>& r) {
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

    OpDef reshape;
    reshape.name = "Reshape";
    reshape.min_inputs = reshape.max_inputs = 2;
    reshape.infer = reshape_infer;
    reshape.ref = reshape_ref;
    r["Reshape"] = reshape;

    OpDef transpose;
    transpose.name = "Transpose";
    transpose.infer = transpose_infer;
    transpose.ref = transpose_ref;
    r["Transpose"] = transpose;

    OpDef flatten;
    flatten.name = "Flatten";
    flatten.infer = flatten_infer;
    flatten.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        ValueInfo vi{in[0]->dtype(), in[0]->shape()};
        std::vector<ValueInfo> o(1);
        ITSCAM_RETURN_IF_ERROR(flatten_infer(n, {{&vi, in[0]}}, o));
        out[0] = in[0]->clone().reshaped(o[0].shape);
        return Status::ok();
    };
    r["Flatten"] = flatten;

    OpDef shape;
    shape.name = "Shape";
    shape.infer = [](const Node&, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0].dtype = DType::kI64;
        out[0].shape = {static_cast<int64_t>(in[0].info->shape.size())};
        return Status::ok();
    };
    shape.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        Shape s = in[0]->shape();
        const int64_t r = static_cast<int64_t>(s.size());
        int64_t start = n.attr_int("start", 0), end = n.attr_int("end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        start = std::clamp<int64_t>(start, 0, r);
        end = std::clamp<int64_t>(end, start, r);
        std::vector<int64_t> v(s.begin() + start, s.begin() + end);
        out[0] = Tensor::from_i64(v, {static_cast<int64_t>(v.size())});
        return Status::ok();
    };
    r["Shape"] = shape;

    OpDef gather;
    gather.name = "Gather";
    gather.min_inputs = gather.max_inputs = 2;
    gather.infer = gather_infer;
    gather.ref = gather_ref;
    r["Gather"] = gather;

    OpDef unsq;
    unsq.name = "Unsqueeze";
    unsq.max_inputs = 2;
    unsq.infer = squeeze_infer<true>;
    unsq.ref = squeeze_ref<true>;
    r["Unsqueeze"] = unsq;
    OpDef sq = unsq;
    sq.name = "Squeeze";
    sq.infer = squeeze_infer<false>;
    sq.ref = squeeze_ref<false>;
    r["Squeeze"] = sq;

    OpDef cos;
    cos.name = "ConstantOfShape";
    cos.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0].dtype = n.has_attr("value") ? n.attrs.at("value").t.dtype() : DType::kF32;
        if (in[0].value) {
            out[0].shape = in[0].value->to_i64_vector();
            return check_shape_sane(n, out[0].shape);
        }
        const Shape& s = in[0].info->shape;
        if (!s.empty() && s[0] > kMaxRank) return op_error(n, "shape input of length " + std::to_string(s[0]));
        out[0].shape.assign(s.empty() || s[0] < 0 ? 0 : s[0], -1);
        return Status::ok();
    };
    cos.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        Shape s = in[0]->to_i64_vector();
        ITSCAM_RETURN_IF_ERROR(check_shape_sane(n, s));
        Tensor v = n.has_attr("value") ? n.attrs.at("value").t : Tensor::scalar_f32(0.f);
        if (!v.defined() || v.numel() != 1) return op_error(n, "value must hold one element");
        out[0] = Tensor::empty(v.dtype(), s);
        const size_t es = dtype_size(v.dtype());
        for (int64_t i = 0; i < out[0].numel(); ++i)
            std::memcpy(static_cast<std::byte*>(out[0].raw()) + i * es, v.raw(), es);
        return Status::ok();
    };
    r["ConstantOfShape"] = cos;

    OpDef range;
    range.name = "Range";
    range.min_inputs = range.max_inputs = 3;
    range.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0].dtype = in[0].info->dtype;
        out[0].shape = {-1};
        if (in[0].value && in[1].value && in[2].value) {
            ITSCAM_ASSIGN_OR_RETURN(int64_t cnt, range_count(n, *in[0].value, *in[1].value, *in[2].value));
            out[0].shape = {cnt};
        }
        return Status::ok();
    };
    range.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        ITSCAM_ASSIGN_OR_RETURN(int64_t cnt, range_count(n, *in[0], *in[1], *in[2]));
        const double sv = *in[0]->cast(DType::kF64).data<double>(), dv = *in[2]->cast(DType::kF64).data<double>();
        Tensor o = Tensor::empty(DType::kF64, {cnt});
        for (int64_t i = 0; i < cnt; ++i) o.data<double>()[i] = sv + i * dv;
        out[0] = o.cast(in[0]->dtype());
        return Status::ok();
    };
    r["Range"] = range;

    OpDef expand;
    expand.name = "Expand";
    expand.min_inputs = expand.max_inputs = 2;
    expand.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0].dtype = in[0].info->dtype;
        if (!in[1].value) {
            const int64_t len = in[1].info->shape.empty() ? 0 : in[1].info->shape[0];
            if (len > kMaxRank) return op_error(n, "shape input of length " + std::to_string(len));
            out[0].shape.assign(std::max<int64_t>(len, static_cast<int64_t>(in[0].info->shape.size())), -1);
            return Status::ok();
        }
        auto s = broadcast_shapes(in[0].info->shape, in[1].value->to_i64_vector());
        if (!s) return op_error(n, s.status().message());
        out[0].shape = *s;
        return check_shape_sane(n, out[0].shape);
    };
    expand.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        auto s = broadcast_shapes(in[0]->shape(), in[1]->to_i64_vector());
        if (!s) return op_error(n, s.status().message());
        ITSCAM_RETURN_IF_ERROR(check_shape_sane(n, *s));
        // Expand = broadcast copy.
        const size_t r = s->size();
        const std::vector<int64_t> st = broadcast_strides(in[0]->shape(), *s);
        out[0] = Tensor::empty(in[0]->dtype(), *s);
        const size_t es = dtype_size(in[0]->dtype());
        std::vector<int64_t> idx(r, 0);
        for (int64_t i = 0; i < out[0].numel(); ++i) {
            int64_t off = 0;
            for (size_t d = 0; d < r; ++d) off += idx[d] * st[d];
            std::memcpy(static_cast<std::byte*>(out[0].raw()) + i * es,
                        static_cast<const std::byte*>(in[0]->raw()) + off * es, es);
            for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0; --d) {
                if (++idx[d] < (*s)[d]) break;
                idx[d] = 0;
            }
        }
        return Status::ok();
    };
    r["Expand"] = expand;

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

    (void)same_as_input;
}

}  // namespace itscam
