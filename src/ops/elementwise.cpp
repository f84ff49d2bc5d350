// Element-wise ops with numpy broadcasting (Add, Mul, Sigmoid, Cast, Where, ...). Reference kernels compute in
// float for float tensors and in double/int64 for integer tensors so shape arithmetic stays exact.
#include <cmath>
#include <limits>

#include "ops/op_registry.h"

namespace itscam {

std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
    size_t r = out.size();
    std::vector<int64_t> st(r, 0);
    int64_t acc = 1;
    for (size_t k = 0; k < s.size(); ++k) {
        size_t i = s.size() - 1 - k;
        size_t o = r - 1 - k;
        st[o] = s[i] == 1 ? 0 : acc;
        acc *= s[i];
    }
    return st;
}

namespace {

// Calls f(out_index, offset_in_each_input) over the output in row-major order.
template <typename F>
void for_each_broadcast(const Shape& out, const std::vector<const Shape*>& ins, F&& f) {
    const size_t r = out.size();
    std::vector<std::vector<int64_t>> strides;
    for (const Shape* s : ins) strides.push_back(broadcast_strides(*s, out));
    std::vector<int64_t> idx(r, 0), off(ins.size(), 0);
    const int64_t n = shape_numel(out);
    for (int64_t i = 0; i < n; ++i) {
        f(i, off);
        for (size_t d = r; d-- > 0;) {
            ++idx[d];
            for (size_t k = 0; k < ins.size(); ++k) off[k] += strides[k][d];
            if (idx[d] < out[d]) break;
            for (size_t k = 0; k < ins.size(); ++k) off[k] -= strides[k][d] * out[d];
            idx[d] = 0;
        }
    }
}

bool is_float(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || t == DType::kF64; }

// kFmod is Mod with fmod=1 (C fmod: the result has the dividend's sign); kMod is Python's (the divisor's sign).
enum class Bin {
    kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod, kFmod,
    kEqual, kLess, kGreater, kLessEq, kGreaterEq, kAnd, kOr  // comparisons and logic last (bin_is_compare)
};

bool bin_is_compare(Bin b) { return b >= Bin::kEqual; }

double bin_apply(Bin b, double x, double y, bool integer) {
    switch (b) {
        case Bin::kAdd: return x + y;
        case Bin::kSub: return x - y;
        case Bin::kMul: return x * y;
        case Bin::kDiv:
            if (integer) return y == 0 ? 0 : std::trunc(x / y);
            return x / y;
        case Bin::kPow: return std::pow(x, y);
        case Bin::kMax: return std::max(x, y);
        case Bin::kMin: return std::min(x, y);
        case Bin::kMod: return y == 0 ? 0 : x - std::floor(x / y) * y;
        case Bin::kFmod: return integer && y == 0 ? 0 : std::fmod(x, y);
        case Bin::kEqual: return x == y;
        case Bin::kLess: return x < y;
        case Bin::kGreater: return x > y;
        case Bin::kLessEq: return x <= y;
        case Bin::kGreaterEq: return x >= y;
        case Bin::kAnd: return (x != 0) && (y != 0);
        case Bin::kOr: return (x != 0) || (y != 0);
    }
    return 0;
}

// double -> int64 without undefined behaviour: NaN gives 0, out-of-range values saturate.
int64_t saturate_i64(double v) {
    if (std::isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
    if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(v);
}

float bin_apply_f(Bin b, float x, float y) {
    switch (b) {
        case Bin::kAdd: return x + y;
        case Bin::kSub: return x - y;
        case Bin::kMul: return x * y;
        case Bin::kDiv: return x / y;
        default: return static_cast<float>(bin_apply(b, x, y, false));
    }
}

OpDef make_binary(const std::string& name, Bin b) {
    OpDef d;
    d.name = name;
    d.min_inputs = d.max_inputs = 2;
    d.infer = [b](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        auto s = broadcast_shapes(in[0].info->shape, in[1].info->shape);
        if (!s) return op_error(n, s.status().message());
        if (in[0].info->dtype != in[1].info->dtype)
            return op_error(n, std::string("input dtypes differ: ") + dtype_name(in[0].info->dtype) + " vs " +
                                   dtype_name(in[1].info->dtype));
        out[0].shape = *s;
        out[0].dtype = bin_is_compare(b) ? DType::kBool : in[0].info->dtype;
        return Status::ok();
    };
    d.ref = [b0 = b](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        const Bin b = b0 == Bin::kMod && n.attr_int("fmod", 0) != 0 ? Bin::kFmod : b0;
        auto s = broadcast_shapes(in[0]->shape(), in[1]->shape());
        if (!s) return op_error(n, s.status().message());
        if (in[0]->dtype() != in[1]->dtype()) return op_error(n, "input dtypes differ");
        const DType dt = in[0]->dtype();
        out[0] = Tensor::empty(bin_is_compare(b) ? DType::kBool : dt, *s);
        if (dt == DType::kF32 && !bin_is_compare(b)) {
            const float* x = in[0]->data<float>();
            const float* y = in[1]->data<float>();
            float* o = out[0].data<float>();
            for_each_broadcast(*s, {&in[0]->shape(), &in[1]->shape()},
                               [&](int64_t i, const std::vector<int64_t>& off) { o[i] = bin_apply_f(b, x[off[0]], y[off[1]]); });
            return Status::ok();
        }
        const bool integer = !is_float(dt);
        const Tensor xd = in[0]->cast(DType::kF64), yd = in[1]->cast(DType::kF64);
        Tensor od = Tensor::empty(DType::kF64, *s);
        if (dt == DType::kI64) {
            // int64 shape arithmetic must be exact beyond 2^53: do it in int64.
            const int64_t* x = in[0]->data<int64_t>();
            const int64_t* y = in[1]->data<int64_t>();
            Tensor oi = Tensor::empty(bin_is_compare(b) ? DType::kBool : DType::kI64, *s);
            for_each_broadcast(*s, {&in[0]->shape(), &in[1]->shape()}, [&](int64_t i, const std::vector<int64_t>& off) {
                int64_t a = x[off[0]], c = y[off[1]], r = 0;
                switch (b) {
                    // Two's-complement wrap-around on overflow (as ONNX Runtime), never C++ signed overflow.
                    case Bin::kAdd: r = static_cast<int64_t>(uint64_t(a) + uint64_t(c)); break;
                    case Bin::kSub: r = static_cast<int64_t>(uint64_t(a) - uint64_t(c)); break;
                    case Bin::kMul: r = static_cast<int64_t>(uint64_t(a) * uint64_t(c)); break;
                    case Bin::kDiv:
                        r = c == 0 ? 0 : c == -1 ? static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(a)) : a / c;
                        break;
                    default: r = saturate_i64(bin_apply(b, static_cast<double>(a), static_cast<double>(c), true));
                }
                if (bin_is_compare(b)) oi.data<uint8_t>()[i] = r != 0;
                else oi.data<int64_t>()[i] = r;
            });
            out[0] = oi;
            return Status::ok();
        }
        for_each_broadcast(*s, {&in[0]->shape(), &in[1]->shape()}, [&](int64_t i, const std::vector<int64_t>& off) {
            od.data<double>()[i] = bin_apply(b, xd.data<double>()[off[0]], yd.data<double>()[off[1]], integer);
        });
        out[0] = od.cast(out[0].dtype());
        return Status::ok();
    };
    return d;
}

enum class Un { kSigmoid, kRelu, kNeg, kExp, kLog, kSqrt, kAbs, kFloor, kCeil, kTanh, kIdentity, kNot, kReciprocal,
                kHardSwish, kHardSigmoid, kErf, kRound, kSilu };

float un_apply(Un u, float x) {
    switch (u) {
        case Un::kSigmoid: return 1.f / (1.f + std::exp(-x));
        case Un::kRelu: return x > 0 ? x : 0;
        case Un::kNeg: return -x;
        case Un::kExp: return std::exp(x);
        case Un::kLog: return std::log(x);
        case Un::kSqrt: return std::sqrt(x);
        case Un::kAbs: return std::fabs(x);
        case Un::kFloor: return std::floor(x);
        case Un::kCeil: return std::ceil(x);
        case Un::kTanh: return std::tanh(x);
        case Un::kIdentity: return x;
        case Un::kNot: return x == 0 ? 1.f : 0.f;
        case Un::kReciprocal: return 1.f / x;
        case Un::kHardSwish: return x * std::min(1.f, std::max(0.f, x / 6.f + 0.5f));
        case Un::kHardSigmoid: return std::min(1.f, std::max(0.f, x * 0.2f + 0.5f));
        case Un::kErf: return std::erf(x);
        case Un::kRound: return std::nearbyint(x);
        case Un::kSilu: return x / (1.f + std::exp(-x));
    }
    return x;
}

OpDef make_unary(const std::string& name, Un u) {
    OpDef d;
    d.name = name;
    d.infer = [](const Node&, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0] = *in[0].info;
        return Status::ok();
    };
    d.ref = [u](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        if (u == Un::kIdentity) {
            out[0] = in[0]->clone();
            return Status::ok();
        }
        if (in[0]->dtype() == DType::kF32) {
            out[0] = Tensor::empty(DType::kF32, in[0]->shape());
            const float* x = in[0]->data<float>();
            float* o = out[0].data<float>();
            for (int64_t i = 0; i < in[0]->numel(); ++i) o[i] = un_apply(u, x[i]);
            return Status::ok();
        }
        Tensor xf = in[0]->cast(DType::kF32);
        Tensor of = Tensor::empty(DType::kF32, xf.shape());
        for (int64_t i = 0; i < xf.numel(); ++i) of.data<float>()[i] = un_apply(u, xf.data<float>()[i]);
        out[0] = of.cast(in[0]->dtype());
        return Status::ok();
    };
    return d;
}

Result<DType> onnx_to_dtype(const Node& n, int64_t t) {
    switch (t) {
        case 1: return DType::kF32;
        case 2: return DType::kU8;
        case 3: return DType::kI8;
        case 6: return DType::kI32;
        case 7: return DType::kI64;
        case 9: return DType::kBool;
        case 10: return DType::kF16;
        case 11: return DType::kF64;
        case 16: return DType::kBF16;
    }
    return op_error(n, "unsupported target data type " + std::to_string(t));
}

}  // namespace

void register_elementwise_ops(std::map<std::string, OpDef>& r) {
    const std::pair<const char*, Bin> bins[] = {
        {"Add", Bin::kAdd},   {"Sub", Bin::kSub},           {"Mul", Bin::kMul},         {"Div", Bin::kDiv},
        {"Pow", Bin::kPow},   {"Mod", Bin::kMod},           {"Equal", Bin::kEqual},     {"Less", Bin::kLess},
        {"Greater", Bin::kGreater}, {"LessOrEqual", Bin::kLessEq}, {"GreaterOrEqual", Bin::kGreaterEq},
        {"And", Bin::kAnd},   {"Or", Bin::kOr}};
    for (const auto& [name, b] : bins) r[name] = make_binary(name, b);
    // Max/Min are variadic in ONNX; YOLO exports use two inputs.
    r["Max"] = make_binary("Max", Bin::kMax);
    r["Min"] = make_binary("Min", Bin::kMin);
    const std::pair<const char*, Un> uns[] = {
        {"Sigmoid", Un::kSigmoid}, {"Relu", Un::kRelu},   {"Neg", Un::kNeg},       {"Exp", Un::kExp},
        {"Log", Un::kLog},         {"Sqrt", Un::kSqrt},   {"Abs", Un::kAbs},       {"Floor", Un::kFloor},
        {"Ceil", Un::kCeil},       {"Tanh", Un::kTanh},   {"Identity", Un::kIdentity}, {"Not", Un::kNot},
        {"Reciprocal", Un::kReciprocal}, {"HardSwish", Un::kHardSwish}, {"HardSigmoid", Un::kHardSigmoid},
        {"Erf", Un::kErf},         {"Round", Un::kRound}, {"Silu", Un::kSilu}};
    for (const auto& [name, u] : uns) r[name] = make_unary(name, u);

    OpDef cast;
    cast.name = "Cast";
    cast.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        ITSCAM_ASSIGN_OR_RETURN(DType to, onnx_to_dtype(n, n.attr_int("to", 1)));
        out[0].shape = in[0].info->shape;
        out[0].dtype = to;
        return Status::ok();
    };
    cast.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        ITSCAM_ASSIGN_OR_RETURN(DType to, onnx_to_dtype(n, n.attr_int("to", 1)));
        out[0] = in[0]->cast(to);
        return Status::ok();
    };
    r["Cast"] = cast;

    OpDef where;
    where.name = "Where";
    where.min_inputs = where.max_inputs = 3;
    where.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        auto s = broadcast_shapes(in[0].info->shape, in[1].info->shape);
        if (!s) return op_error(n, s.status().message());
        auto s2 = broadcast_shapes(*s, in[2].info->shape);
        if (!s2) return op_error(n, s2.status().message());
        out[0].shape = *s2;
        out[0].dtype = in[1].info->dtype;
        return Status::ok();
    };
    where.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        auto s = broadcast_shapes(in[0]->shape(), in[1]->shape());
        if (!s) return op_error(n, s.status().message());
        auto s2 = broadcast_shapes(*s, in[2]->shape());
        if (!s2) return op_error(n, s2.status().message());
        if (in[1]->dtype() != in[2]->dtype()) return op_error(n, "X and Y dtypes differ");
        const size_t es = dtype_size(in[1]->dtype());
        out[0] = Tensor::empty(in[1]->dtype(), *s2);
        Tensor c = in[0]->cast(DType::kBool);
        const auto* cb = c.data<uint8_t>();
        const auto* xb = static_cast<const std::byte*>(in[1]->raw());
        const auto* yb = static_cast<const std::byte*>(in[2]->raw());
        auto* ob = static_cast<std::byte*>(out[0].raw());
        for_each_broadcast(*s2, {&in[0]->shape(), &in[1]->shape(), &in[2]->shape()},
                           [&](int64_t i, const std::vector<int64_t>& off) {
                               const std::byte* src = cb[off[0]] ? xb + off[1] * es : yb + off[2] * es;
                               std::memcpy(ob + i * es, src, es);
                           });
        return Status::ok();
    };
    r["Where"] = where;

    OpDef clip;
    clip.name = "Clip";
    clip.max_inputs = 3;
    clip.infer = [](const Node&, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0] = *in[0].info;
        return Status::ok();
    };
    clip.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        float lo = n.attr_float("min", -INFINITY), hi = n.attr_float("max", INFINITY);
        if (in.size() > 1 && in[1]) lo = in[1]->to_f32_vector().at(0);
        if (in.size() > 2 && in[2]) hi = in[2]->to_f32_vector().at(0);
        Tensor x = in[0]->cast(DType::kF32);
        for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::min(hi, std::max(lo, x.data<float>()[i]));
        out[0] = x.cast(in[0]->dtype());
        return Status::ok();
    };
    r["Clip"] = clip;
}

}  // namespace itscam
