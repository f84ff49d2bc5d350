// Softmax, MatMul, Resize (nearest): the ops of the C2PSA attention block, the DFL head and the FPN upsamples.
#include <cmath>

#include "ops/op_registry.h"
#include "ops/resize_params.h"

namespace itscam {

Result<ResizeParams> resize_params(const Graph& g, const Node& n, const Shape& x) {
    const Tensor* scales = n.num_inputs() > 2 ? g.constant(n.input(2)) : nullptr;
    const Tensor* sizes = n.num_inputs() > 3 ? g.constant(n.input(3)) : nullptr;
    return resize_params(n, x, scales, sizes);
}

Result<ResizeParams> resize_params(const Node& n, const Shape& x, const Tensor* scales, const Tensor* sizes) {
    ResizeParams p;
    const std::string mode = n.attr_string("mode", "nearest");
    if (mode != "nearest")
        return unsupported(n.label() + ": Resize mode '" + mode + "' is not supported (only 'nearest')");
    p.coord = n.attr_string("coordinate_transformation_mode", "half_pixel");
    p.nearest = n.attr_string("nearest_mode", "round_prefer_floor");
    if (n.op == "Upsample") p.coord = "asymmetric", p.nearest = "floor";
    static const char* kCoords[] = {"asymmetric", "half_pixel", "align_corners", "pytorch_half_pixel",
                                    "tf_half_pixel_for_nn"};
    static const char* kNearest[] = {"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"};
    if (std::find(std::begin(kCoords), std::end(kCoords), p.coord) == std::end(kCoords))
        return unsupported(n.label() + ": coordinate_transformation_mode '" + p.coord + "' is not supported");
    if (std::find(std::begin(kNearest), std::end(kNearest), p.nearest) == std::end(kNearest))
        return unsupported(n.label() + ": nearest_mode '" + p.nearest + "' is not supported");
    const size_t r = x.size();
    p.out = x;
    p.scale.assign(r, 1.f);
    if (sizes && sizes->numel() > 0) {
        auto sz = sizes->to_i64_vector();
        if (sz.size() != r) return op_error(n, "sizes has " + std::to_string(sz.size()) + " values for rank " +
                                                   std::to_string(r));
        for (size_t i = 0; i < r; ++i) {
            if (sz[i] <= 0 || sz[i] > (1 << 20)) return op_error(n, "invalid output size");
            p.out[i] = sz[i];
            p.scale[i] = x[i] > 0 ? static_cast<float>(sz[i]) / static_cast<float>(x[i]) : 1.f;
        }
    } else if (scales && scales->numel() > 0) {
        auto sc = scales->to_f32_vector();
        if (sc.size() != r) return op_error(n, "scales has " + std::to_string(sc.size()) + " values for rank " +
                                                   std::to_string(r));
        for (size_t i = 0; i < r; ++i) {
            if (!(sc[i] > 0.f) || sc[i] > 4096.f) return op_error(n, "invalid scale");
            p.scale[i] = sc[i];
            p.out[i] = x[i] < 0 ? -1 : static_cast<int64_t>(std::floor(static_cast<double>(x[i]) * sc[i]));
        }
    } else {
        return op_error(n, "needs constant scales or sizes");
    }
    return p;
}

int64_t resize_nearest_index(const ResizeParams& p, size_t dim, int64_t o, int64_t in_len) {
    const float s = p.scale[dim];
    const int64_t out_len = p.out[dim];
    float x;
    if (p.coord == "asymmetric") x = o / s;
    else if (p.coord == "align_corners") x = out_len > 1 ? o * static_cast<float>(in_len - 1) / (out_len - 1) : 0.f;
    else if (p.coord == "pytorch_half_pixel") x = out_len > 1 ? (o + 0.5f) / s - 0.5f : 0.f;
    else if (p.coord == "tf_half_pixel_for_nn") x = (o + 0.5f) / s;
    else x = (o + 0.5f) / s - 0.5f;
    int64_t i;
    if (p.nearest == "floor") i = static_cast<int64_t>(std::floor(x));
    else if (p.nearest == "ceil") i = static_cast<int64_t>(std::ceil(x));
    else if (p.nearest == "round_prefer_ceil") i = static_cast<int64_t>(std::floor(x + 0.5f));
    else i = (x - std::floor(x) == 0.5f) ? static_cast<int64_t>(std::floor(x)) : static_cast<int64_t>(std::round(x));
    return std::clamp<int64_t>(i, 0, in_len - 1);
}

namespace {

const Tensor* resize_scales(const std::vector<const Tensor*>& in, bool upsample) {
    if (upsample) return in.size() > 1 ? in[1] : nullptr;
    return in.size() > 2 ? in[2] : nullptr;
}
const Tensor* resize_sizes(const std::vector<const Tensor*>& in, bool upsample) {
    return !upsample && in.size() > 3 ? in[3] : nullptr;
}

Status resize_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    const bool up = n.op == "Upsample" || (in.size() == 2);
    std::vector<const Tensor*> vals;
    for (const auto& i : in) vals.push_back(i.value);
    out[0].dtype = in[0].info->dtype;
    const Tensor* sc = resize_scales(vals, up);
    const Tensor* sz = resize_sizes(vals, up);
    const bool sc_dyn = !up && in.size() > 2 && in[2].info && !in[2].value;
    const bool sz_dyn = !up && in.size() > 3 && in[3].info && !in[3].value;
    if (sc_dyn || sz_dyn) {
        out[0].shape.assign(in[0].info->shape.size(), -1);
        return Status::ok();
    }
    ITSCAM_ASSIGN_OR_RETURN(ResizeParams p, resize_params(n, in[0].info->shape, sc, sz));
    out[0].shape = p.out;
    return Status::ok();
}

Status resize_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    const bool up = n.op == "Upsample" || in.size() == 2;
    const Shape& s = in[0]->shape();
    ITSCAM_ASSIGN_OR_RETURN(ResizeParams p, resize_params(n, s, resize_scales(in, up), resize_sizes(in, up)));
    const size_t r = s.size();
    out[0] = Tensor::empty(in[0]->dtype(), p.out);
    std::vector<std::vector<int64_t>> maps(r);
    for (size_t d = 0; d < r; ++d) {
        maps[d].resize(p.out[d]);
        for (int64_t o = 0; o < p.out[d]; ++o) maps[d][o] = resize_nearest_index(p, d, o, s[d]);
    }
    std::vector<int64_t> stride(r, 1);
    for (int64_t d = static_cast<int64_t>(r) - 2; d >= 0; --d) stride[d] = stride[d + 1] * s[d + 1];
    const size_t es = dtype_size(in[0]->dtype());
    std::vector<int64_t> idx(r, 0);
    for (int64_t i = 0; i < out[0].numel(); ++i) {
        int64_t off = 0;
        for (size_t d = 0; d < r; ++d) off += maps[d][idx[d]] * stride[d];
        std::memcpy(static_cast<std::byte*>(out[0].raw()) + i * es,
                    static_cast<const std::byte*>(in[0]->raw()) + off * es, es);
        for (int64_t d = static_cast<int64_t>(r) - 1; d >= 0; --d) {
            if (++idx[d] < p.out[d]) break;
            idx[d] = 0;
        }
    }
    return Status::ok();
}

}  // namespace

Result<SoftmaxLayout> softmax_layout(const Node& n, const Shape& s) {
    const int64_t r = static_cast<int64_t>(s.size());
    const bool legacy = n.attr_int("opset", 13) < 13;
    ITSCAM_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(n, n.attr_int("axis", legacy ? 1 : -1), r));
    SoftmaxLayout l;
    for (int64_t d = 0; d < axis; ++d) l.outer *= s[d];
    if (legacy) {
        for (int64_t d = axis; d < r; ++d) l.len *= s[d];
    } else {
        l.len = s[axis];
        for (int64_t d = axis + 1; d < r; ++d) l.inner *= s[d];
    }
    return l;
}

namespace {

Status softmax_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    ITSCAM_ASSIGN_OR_RETURN(SoftmaxLayout l, softmax_layout(n, in[0]->shape()));
    Tensor y = in[0]->cast(DType::kF32);
    float* p = y.data<float>();
    for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) {
            float* base = p + o * l.len * l.inner + i;
            float mx = -INFINITY;
            for (int64_t k = 0; k < l.len; ++k) mx = std::max(mx, base[k * l.inner]);
            double sum = 0;
            for (int64_t k = 0; k < l.len; ++k) {
                base[k * l.inner] = std::exp(base[k * l.inner] - mx);
                sum += base[k * l.inner];
            }
            for (int64_t k = 0; k < l.len; ++k) base[k * l.inner] = static_cast<float>(base[k * l.inner] / sum);
        }
    out[0] = in[0]->dtype() == DType::kF32 ? y : y.cast(in[0]->dtype());
    return Status::ok();
}

// MatMul with numpy semantics: 1-D operands are promoted and the added axis removed afterwards.
Result<Shape> matmul_shape(const Node& n, Shape a, Shape b, bool& a1, bool& b1) {
    a1 = a.size() == 1;
    b1 = b.size() == 1;
    if (a.empty() || b.empty()) return op_error(n, "MatMul operands must have rank >= 1");
    if (a1) a.insert(a.begin(), 1);
    if (b1) b.push_back(1);
    const int64_t k = a.back(), k2 = b[b.size() - 2];
    if (k >= 0 && k2 >= 0 && k != k2)
        return op_error(n, "inner dimensions differ: " + shape_str(a) + " x " + shape_str(b));
    Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    auto bs = broadcast_shapes(ba, bb);
    if (!bs) return op_error(n, bs.status().message());
    Shape o = *bs;
    if (!a1) o.push_back(a[a.size() - 2]);
    if (!b1) o.push_back(b.back());
    return o;
}

Status matmul_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    bool a1, b1;
    ITSCAM_ASSIGN_OR_RETURN(Shape os, matmul_shape(n, in[0]->shape(), in[1]->shape(), a1, b1));
    Shape a = in[0]->shape(), b = in[1]->shape();
    if (a1) a.insert(a.begin(), 1);
    if (b1) b.push_back(1);
    const int64_t m = a[a.size() - 2], k = a.back(), nn = b.back();
    Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    Shape bs = *broadcast_shapes(ba, bb);
    Tensor af = in[0]->cast(DType::kF32), bf = in[1]->cast(DType::kF32);
    Tensor y = Tensor::empty(DType::kF32, os);
    const int64_t batches = shape_numel(bs);
    // Index of the batch in each operand, honouring broadcast.
    auto batch_index = [&](const Shape& sub, int64_t flat) {
        int64_t idx = 0, mul = 1;
        int64_t rem = flat;
        for (int64_t d = static_cast<int64_t>(bs.size()) - 1; d >= 0; --d) {
            const int64_t coord = rem % bs[d];
            rem /= bs[d];
            const int64_t sd = d - static_cast<int64_t>(bs.size() - sub.size());
            if (sd >= 0) {
                idx += (sub[sd] == 1 ? 0 : coord) * mul;
                mul *= sub[sd];
            }
        }
        return idx;
    };
    for (int64_t bt = 0; bt < batches; ++bt) {
        const float* ap = af.data<float>() + batch_index(ba, bt) * m * k;
        const float* bp = bf.data<float>() + batch_index(bb, bt) * k * nn;
        float* yp = y.data<float>() + bt * m * nn;
        for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < nn; ++j) yp[i * nn + j] = 0.f;
            for (int64_t kk = 0; kk < k; ++kk) {
                const float av = ap[i * k + kk];
                for (int64_t j = 0; j < nn; ++j) yp[i * nn + j] += av * bp[kk * nn + j];
            }
        }
    }
    out[0] = in[0]->dtype() == DType::kF32 ? y : y.cast(in[0]->dtype());
    return Status::ok();
}

}  // namespace

void register_nn_ops(std::map<std::string, OpDef>& r) {
    OpDef softmax;
    softmax.name = "Softmax";
    softmax.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        ITSCAM_RETURN_IF_ERROR(
            normalize_axis(n, n.attr_int("axis", -1), static_cast<int64_t>(in[0].info->shape.size())).status());
        out[0] = *in[0].info;
        return Status::ok();
    };
    softmax.ref = softmax_ref;
    r["Softmax"] = softmax;

    OpDef matmul;
    matmul.name = "MatMul";
    matmul.min_inputs = matmul.max_inputs = 2;
    matmul.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        bool a1, b1;
        ITSCAM_ASSIGN_OR_RETURN(out[0].shape, matmul_shape(n, in[0].info->shape, in[1].info->shape, a1, b1));
        out[0].dtype = in[0].info->dtype;
        return Status::ok();
    };
    matmul.ref = matmul_ref;
    r["MatMul"] = matmul;

    OpDef resize;
    resize.name = "Resize";
    resize.max_inputs = 4;
    resize.infer = resize_infer;
    resize.ref = resize_ref;
    r["Resize"] = resize;
    OpDef up = resize;
    up.name = "Upsample";
    up.max_inputs = 2;
    r["Upsample"] = up;
}

}  // namespace itscam

namespace itscam {

// DflDecode (itscam extension, produced by the fuse_dfl pass): the Distribution Focal Loss box decode of the
// YOLOv8/11 Detect head. x: [N, 4, R, A] logits over R bins per box side; w: [1, R, 1, 1] bin values (0..R-1).
//   y[n, 0, j, a] = sum_k softmax_k(x[n, j, :, a]) * w[k]
namespace {

Status dfl_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    const Shape& s = in[0].info->shape;
    const Shape& w = in[1].info->shape;
    if (s.size() != 4 || w.size() != 4 || (s[2] >= 0 && w[1] != s[2]))
        return op_error(n, "expects x [N,4,R,A] and w [1,R,1,1], got " + shape_str(s) + " and " + shape_str(w));
    out[0].dtype = in[0].info->dtype;
    out[0].shape = {s[0], 1, s[1], s[3]};
    return Status::ok();
}

Status dfl_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    const Shape& s = in[0]->shape();
    if (s.size() != 4 || in[1]->numel() != s[2]) return op_error(n, "shape mismatch");
    Tensor x = in[0]->cast(DType::kF32);
    auto w = in[1]->to_f32_vector();
    Tensor y = Tensor::empty(DType::kF32, {s[0], 1, s[1], s[3]});
    const int64_t r = s[2], a_n = s[3];
    for (int64_t nj = 0; nj < s[0] * s[1]; ++nj)
        for (int64_t a = 0; a < a_n; ++a) {
            const float* xp = x.data<float>() + nj * r * a_n + a;
            float mx = -INFINITY;
            for (int64_t k = 0; k < r; ++k) mx = std::max(mx, xp[k * a_n]);
            double sum = 0, acc = 0;
            for (int64_t k = 0; k < r; ++k) {
                const double e = std::exp(static_cast<double>(xp[k * a_n] - mx));
                sum += e;
                acc += e * w[k];
            }
            y.data<float>()[nj * a_n + a] = static_cast<float>(acc / sum);
        }
    out[0] = y;
    return Status::ok();
}

}  // namespace

void register_dfl_op(std::map<std::string, OpDef>& r) {
    OpDef d;
    d.name = "DflDecode";
    d.min_inputs = d.max_inputs = 2;
    d.infer = dfl_infer;
    d.ref = dfl_ref;
    r["DflDecode"] = d;
}

}  // namespace itscam
