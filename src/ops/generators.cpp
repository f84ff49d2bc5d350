// Generator ops: ConstantOfShape and Range, which make a tensor from a shape or a scalar range rather than from
// input data.
#include <cmath>
#include <cstring>

#include "ops/op_registry.h"
#include "ops/shape_checks.h"

namespace itscam {

using namespace op_shape_checks;

namespace {

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

}  // namespace

void register_generator_ops(std::map<std::string, OpDef>& r) {
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
}

}  // namespace itscam
