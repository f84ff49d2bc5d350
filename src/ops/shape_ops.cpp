// Shape ops: Shape, Reshape, Flatten, Squeeze, Unsqueeze, Expand. They change or read the shape, not the data
// (Expand is a broadcast copy), so the reference kernels work for every dtype.
#include <algorithm>
#include <cstring>

#include "ops/op_registry.h"
#include "ops/shape_checks.h"

namespace itscam {

using namespace op_shape_checks;

namespace {

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
        return op_error(
            n, "cannot reshape " + shape_str(in) + " (" + std::to_string(total) + " elements) to " + shape_str(target));
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
            if (s[d] != 1 && s[d] >= 0)
                return op_error(n, "cannot squeeze a dimension of size " + std::to_string(s[d]));
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

void register_shape_ops(std::map<std::string, OpDef>& r) {
    OpDef reshape;
    reshape.name = "Reshape";
    reshape.min_inputs = reshape.max_inputs = 2;
    reshape.infer = reshape_infer;
    reshape.ref = reshape_ref;
    r["Reshape"] = reshape;

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
}

}  // namespace itscam
