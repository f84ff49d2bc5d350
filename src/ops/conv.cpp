// Convolution-family ops: Conv (with the fused activation/residual attributes the passes add), ConvInteger,
// MaxPool, AveragePool, BatchNormalization, DynamicQuantizeLinear.
#include <cmath>
#include <limits>

#include "ops/conv_params.h"
#include "ops/op_registry.h"

namespace itscam {

Result<ConvParams> conv_params(const Node& n, const Shape& x, const Shape& w_or_kernel, bool is_pool) {
    ConvParams p;
    if (x.size() != 4) return op_error(n, "only 2-D spatial (NCHW, rank 4) inputs are supported, got rank " +
                                              std::to_string(x.size()) + " " + shape_str(x));
    p.n = x[0];
    p.c = x[1];
    p.h = x[2];
    p.w = x[3];
    std::vector<int64_t> k;
    if (is_pool) {
        k = n.attr_ints("kernel_shape");
        if (k.size() != 2) return op_error(n, "kernel_shape must have 2 values");
        p.oc = p.c;
        p.group = p.c;
    } else {
        if (w_or_kernel.size() != 4) return op_error(n, "weight must be rank 4, got " + shape_str(w_or_kernel));
        p.oc = w_or_kernel[0];
        k = {w_or_kernel[2], w_or_kernel[3]};
        p.group = n.attr_int("group", 1);
        if (p.group <= 0) return op_error(n, "group must be positive");
        if (p.c >= 0 && w_or_kernel[1] * p.group != p.c)
            return op_error(n, "weight " + shape_str(w_or_kernel) + " does not match input channels " +
                                   std::to_string(p.c) + " with group " + std::to_string(p.group));
        if (p.oc % p.group != 0) return op_error(n, "output channels not divisible by group");
        auto ks = n.attr_ints("kernel_shape");
        if (!ks.empty() && (ks.size() != 2 || ks[0] != k[0] || ks[1] != k[1]))
            return op_error(n, "kernel_shape attribute disagrees with the weight shape");
    }
    p.kh = k[0];
    p.kw = k[1];
    auto s = n.attr_ints("strides", {1, 1});
    auto dl = n.attr_ints("dilations", {1, 1});
    auto pads = n.attr_ints("pads", {0, 0, 0, 0});
    if (s.size() != 2 || dl.size() != 2 || pads.size() != 4)
        return op_error(n, "strides/dilations/pads must have 2/2/4 values");
    p.sh = s[0];
    p.sw = s[1];
    p.dh = dl[0];
    p.dw = dl[1];
    if (p.kh <= 0 || p.kw <= 0 || p.sh <= 0 || p.sw <= 0 || p.dh <= 0 || p.dw <= 0)
        return op_error(n, "kernel, strides and dilations must be positive");
    constexpr int64_t kMaxWindow = int64_t{1} << 20;  // keeps (k - 1) * d and (o - 1) * s far from int64 overflow
    if (p.kh > kMaxWindow || p.kw > kMaxWindow || p.sh > kMaxWindow || p.sw > kMaxWindow || p.dh > kMaxWindow ||
        p.dw > kMaxWindow)
        return op_error(n, "kernel, strides or dilations out of range");
    p.pt = pads[0];
    p.pl = pads[1];
    p.pb = pads[2];
    p.pr = pads[3];
    for (int64_t v : pads)
        if (v < 0 || v > 1024) return op_error(n, "pads out of range");
    const std::string ap = n.attr_string("auto_pad", "NOTSET");
    const bool ceil_mode = is_pool && n.attr_int("ceil_mode", 0) != 0;
    const int64_t ekh = (p.kh - 1) * p.dh + 1, ekw = (p.kw - 1) * p.dw + 1;
    if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
        if (p.h >= 0) {
            p.oh = (p.h + p.sh - 1) / p.sh;
            p.ow = (p.w + p.sw - 1) / p.sw;
            int64_t th = std::max<int64_t>(0, (p.oh - 1) * p.sh + ekh - p.h);
            int64_t tw = std::max<int64_t>(0, (p.ow - 1) * p.sw + ekw - p.w);
            p.pt = ap == "SAME_UPPER" ? th / 2 : th - th / 2;
            p.pb = th - p.pt;
            p.pl = ap == "SAME_UPPER" ? tw / 2 : tw - tw / 2;
            p.pr = tw - p.pl;
        }
        return p;
    }
    if (ap == "VALID") p.pt = p.pl = p.pb = p.pr = 0;
    else if (ap != "NOTSET") return op_error(n, "unsupported auto_pad '" + ap + "'");
    auto out_dim = [&](int64_t in, int64_t pad, int64_t ek, int64_t st) -> int64_t {
        if (in < 0) return -1;
        int64_t span = in + pad - ek;
        if (span < 0) return -2;
        return (ceil_mode ? (span + st - 1) / st : span / st) + 1;
    };
    p.oh = out_dim(p.h, p.pt + p.pb, ekh, p.sh);
    p.ow = out_dim(p.w, p.pl + p.pr, ekw, p.sw);
    if (p.oh == -2 || p.ow == -2)
        return op_error(n, "kernel larger than the padded input " + shape_str(x));
    return p;
}

namespace {

float apply_activation(const std::string& act, float v, float alpha) {
    if (act.empty() || act == "none") return v;
    if (act == "silu") return v / (1.f + std::exp(-v));
    if (act == "relu") return v > 0 ? v : 0;
    if (act == "leaky_relu") return v > 0 ? v : alpha * v;
    if (act == "sigmoid") return 1.f / (1.f + std::exp(-v));
    return v;
}

// Direct NCHW convolution. Loop order keeps the innermost loop over contiguous output columns.
void conv2d_ref(const ConvParams& p, const float* x, const float* w, const float* b, float* y) {
    const int64_t cin_g = p.c / p.group, cout_g = p.oc / p.group;
    for (int64_t n = 0; n < p.n; ++n) {
        for (int64_t g = 0; g < p.group; ++g) {
            for (int64_t oc = 0; oc < cout_g; ++oc) {
                const int64_t co = g * cout_g + oc;
                float* yp = y + ((n * p.oc + co) * p.oh) * p.ow;
                const float bias = b ? b[co] : 0.f;
                for (int64_t i = 0; i < p.oh * p.ow; ++i) yp[i] = bias;
                for (int64_t ic = 0; ic < cin_g; ++ic) {
                    const int64_t ci = g * cin_g + ic;
                    const float* xp = x + ((n * p.c + ci) * p.h) * p.w;
                    for (int64_t ky = 0; ky < p.kh; ++ky) {
                        for (int64_t kx = 0; kx < p.kw; ++kx) {
                            const float wv = w[((co * cin_g + ic) * p.kh + ky) * p.kw + kx];
                            for (int64_t oy = 0; oy < p.oh; ++oy) {
                                const int64_t iy = oy * p.sh - p.pt + ky * p.dh;
                                if (iy < 0 || iy >= p.h) continue;
                                const float* xr = xp + iy * p.w;
                                float* yr = yp + oy * p.ow;
                                for (int64_t ox = 0; ox < p.ow; ++ox) {
                                    const int64_t ix = ox * p.sw - p.pl + kx * p.dw;
                                    if (ix >= 0 && ix < p.w) yr[ox] += wv * xr[ix];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

Status conv_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, in[0].info->shape, in[1].info->shape, false));
    if (in.size() > 2 && in[2].info && in[2].info->shape.size() == 1 && in[2].info->shape[0] != p.oc)
        return op_error(n, "bias has " + std::to_string(in[2].info->shape[0]) + " values for " +
                               std::to_string(p.oc) + " output channels");
    out[0].dtype = n.op == "ConvInteger" ? DType::kI32 : in[0].info->dtype;
    out[0].shape = {p.n, p.oc, p.oh, p.ow};
    if (in.size() > 3 && in[3].info && n.op == "Conv" && in[3].info->shape.size() == 4) {
        // Fused residual: must match the output exactly (no broadcasting).
        for (int i = 0; i < 4; ++i)
            if (in[3].info->shape[i] >= 0 && out[0].shape[i] >= 0 && in[3].info->shape[i] != out[0].shape[i])
                return op_error(n, "fused residual shape " + shape_str(in[3].info->shape) + " != output " +
                                       shape_str(out[0].shape));
    }
    return Status::ok();
}

Status conv_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, in[0]->shape(), in[1]->shape(), false));
    Tensor x = in[0]->dtype() == DType::kF32 ? *in[0] : in[0]->cast(DType::kF32);
    Tensor w = in[1]->dtype() == DType::kF32 ? *in[1] : in[1]->cast(DType::kF32);
    Tensor b;
    if (in.size() > 2 && in[2]) {
        if (in[2]->numel() != p.oc) return op_error(n, "bias size mismatch");
        b = in[2]->cast(DType::kF32);
    }
    Tensor y = Tensor::empty(DType::kF32, {p.n, p.oc, p.oh, p.ow});
    conv2d_ref(p, x.data<float>(), w.data<float>(), b.defined() ? b.data<float>() : nullptr, y.data<float>());
    const std::string act = n.attr_string("activation", "");
    const float alpha = n.attr_float("activation_alpha", 0.01f);
    const Tensor* residual = in.size() > 3 ? in[3] : nullptr;
    if (residual && residual->shape() != y.shape()) return op_error(n, "fused residual shape mismatch");
    Tensor rf = residual ? residual->cast(DType::kF32) : Tensor();
    float* yp = y.data<float>();
    for (int64_t i = 0; i < y.numel(); ++i) {
        yp[i] = apply_activation(act, yp[i], alpha);
        if (residual) yp[i] += rf.data<float>()[i];
    }
    out[0] = in[0]->dtype() == DType::kF32 ? y : y.cast(in[0]->dtype());
    return Status::ok();
}

// ConvInteger: (x - x_zp) * (w - w_zp) accumulated exactly in int32.
Status conv_integer_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, in[0]->shape(), in[1]->shape(), false));
    auto zp_of = [&](size_t i) -> Result<int32_t> {
        if (in.size() <= i || !in[i]) return 0;
        if (in[i]->numel() != 1) return op_error(n, "only per-tensor zero points are supported");
        return static_cast<int32_t>(in[i]->to_i64_vector()[0]);
    };
    ITSCAM_ASSIGN_OR_RETURN(int32_t xz, zp_of(2));
    ITSCAM_ASSIGN_OR_RETURN(int32_t wz, zp_of(3));
    auto xi = in[0]->to_i64_vector();
    auto wi = in[1]->to_i64_vector();
    Tensor y = Tensor::zeros(DType::kI32, {p.n, p.oc, p.oh, p.ow});
    int32_t* yp = y.data<int32_t>();
    const int64_t cin_g = p.c / p.group, cout_g = p.oc / p.group;
    for (int64_t b = 0; b < p.n; ++b)
        for (int64_t co = 0; co < p.oc; ++co) {
            const int64_t g = co / cout_g;
            for (int64_t oy = 0; oy < p.oh; ++oy)
                for (int64_t ox = 0; ox < p.ow; ++ox) {
                    int64_t acc = 0;
                    for (int64_t ic = 0; ic < cin_g; ++ic)
                        for (int64_t ky = 0; ky < p.kh; ++ky) {
                            const int64_t iy = oy * p.sh - p.pt + ky * p.dh;
                            if (iy < 0 || iy >= p.h) continue;
                            for (int64_t kx = 0; kx < p.kw; ++kx) {
                                const int64_t ix = ox * p.sw - p.pl + kx * p.dw;
                                if (ix < 0 || ix >= p.w) continue;
                                acc += (xi[((b * p.c + g * cin_g + ic) * p.h + iy) * p.w + ix] - xz) *
                                       (wi[((co * cin_g + ic) * p.kh + ky) * p.kw + kx] - wz);
                            }
                        }
                    yp[((b * p.oc + co) * p.oh + oy) * p.ow + ox] = static_cast<int32_t>(acc);
                }
        }
    out[0] = y;
    return Status::ok();
}

Status pool_infer(const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) {
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, in[0].info->shape, {}, true));
    out[0].dtype = in[0].info->dtype;
    out[0].shape = {p.n, p.c, p.oh, p.ow};
    return Status::ok();
}

Status pool_ref(const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) {
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, in[0]->shape(), {}, true));
    const bool is_max = n.op == "MaxPool";
    const bool count_pad = n.attr_int("count_include_pad", 0) != 0;
    Tensor x = in[0]->cast(DType::kF32);
    Tensor y = Tensor::empty(DType::kF32, {p.n, p.c, p.oh, p.ow});
    for (int64_t nc = 0; nc < p.n * p.c; ++nc)
        for (int64_t oy = 0; oy < p.oh; ++oy)
            for (int64_t ox = 0; ox < p.ow; ++ox) {
                float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.f;
                int64_t cnt = 0;
                for (int64_t ky = 0; ky < p.kh; ++ky)
                    for (int64_t kx = 0; kx < p.kw; ++kx) {
                        const int64_t iy = oy * p.sh - p.pt + ky * p.dh, ix = ox * p.sw - p.pl + kx * p.dw;
                        if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) {
                            if (count_pad) ++cnt;
                            continue;
                        }
                        const float v = x.data<float>()[(nc * p.h + iy) * p.w + ix];
                        acc = is_max ? std::max(acc, v) : acc + v;
                        ++cnt;
                    }
                y.data<float>()[(nc * p.oh + oy) * p.ow + ox] = is_max ? acc : (cnt ? acc / cnt : 0.f);
            }
    out[0] = in[0]->dtype() == DType::kF32 ? y : y.cast(in[0]->dtype());
    return Status::ok();
}

}  // namespace

void register_conv_ops(std::map<std::string, OpDef>& r) {
    OpDef conv;
    conv.name = "Conv";
    conv.min_inputs = 2;
    conv.max_inputs = 4;  // 4th: fused residual added after the activation (itscam extension)
    conv.infer = conv_infer;
    conv.ref = conv_ref;
    r["Conv"] = conv;

    OpDef ci;
    ci.name = "ConvInteger";
    ci.min_inputs = 2;
    ci.max_inputs = 4;
    ci.infer = conv_infer;
    ci.ref = conv_integer_ref;
    r["ConvInteger"] = ci;

    for (const char* name : {"MaxPool", "AveragePool"}) {
        OpDef d;
        d.name = name;
        d.infer = pool_infer;
        d.ref = pool_ref;
        r[name] = d;
    }

    OpDef bn;
    bn.name = "BatchNormalization";
    bn.min_inputs = bn.max_inputs = 5;
    bn.max_outputs = 3;
    bn.infer = [](const Node& n, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        if (in[0].info->shape.size() < 2) return op_error(n, "input must have a channel dimension");
        out[0] = *in[0].info;
        return Status::ok();
    };
    bn.ref = [](const Node& n, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        const Shape& s = in[0]->shape();
        if (s.size() < 2) return op_error(n, "input must have a channel dimension");
        const int64_t c = s[1];
        for (int i = 1; i < 5; ++i)
            if (in[i]->numel() != c) return op_error(n, "parameter " + std::to_string(i) + " size != channels");
        const float eps = n.attr_float("epsilon", 1e-5f);
        auto sc = in[1]->to_f32_vector(), bi = in[2]->to_f32_vector(), mu = in[3]->to_f32_vector(),
             va = in[4]->to_f32_vector();
        Tensor y = in[0]->cast(DType::kF32);
        int64_t inner = 1;
        for (size_t i = 2; i < s.size(); ++i) inner *= s[i];
        for (int64_t b = 0; b < s[0]; ++b)
            for (int64_t ch = 0; ch < c; ++ch) {
                const float k = sc[ch] / std::sqrt(va[ch] + eps);
                float* p = y.data<float>() + (b * c + ch) * inner;
                for (int64_t i = 0; i < inner; ++i) p[i] = (p[i] - mu[ch]) * k + bi[ch];
            }
        out[0] = y.cast(in[0]->dtype());
        return Status::ok();
    };
    r["BatchNormalization"] = bn;

    OpDef dql;
    dql.name = "DynamicQuantizeLinear";
    dql.min_outputs = dql.max_outputs = 3;
    dql.infer = [](const Node&, const std::vector<InferInput>& in, std::vector<ValueInfo>& out) -> Status {
        out[0].dtype = DType::kU8;
        out[0].shape = in[0].info->shape;
        out[1].dtype = DType::kF32;
        out[1].shape = {};
        out[2].dtype = DType::kU8;
        out[2].shape = {};
        return Status::ok();
    };
    // ONNX spec: scale = (max(0, max(x)) - min(0, min(x))) / 255, zp = saturate(round(-min / scale)),
    // y = saturate(round(x / scale) + zp), rounding half to even.
    dql.ref = [](const Node&, const std::vector<const Tensor*>& in, std::vector<Tensor>& out) -> Status {
        auto x = in[0]->to_f32_vector();
        float lo = 0.f, hi = 0.f;
        for (float v : x) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        float scale = (hi - lo) / 255.f;
        if (scale == 0.f) scale = 1.f;
        const float zpf = std::nearbyint(std::min(255.f, std::max(0.f, -lo / scale)));
        out[0] = Tensor::empty(DType::kU8, in[0]->shape());
        for (size_t i = 0; i < x.size(); ++i)
            out[0].data<uint8_t>()[i] =
                static_cast<uint8_t>(std::min(255.f, std::max(0.f, std::nearbyint(x[i] / scale) + zpf)));
        out[1] = Tensor::scalar_f32(scale);
        out[2] = Tensor::empty(DType::kU8, {});
        *out[2].data<uint8_t>() = static_cast<uint8_t>(zpf);
        return Status::ok();
    };
    r["DynamicQuantizeLinear"] = dql;
}

}  // namespace itscam
