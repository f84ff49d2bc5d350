#include "backend/ref/fp8_emulation.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "graph/graph.h"

namespace itscam {

namespace {

constexpr float kFp8Max = 448.f;

float scale_for(float amax) {
    return amax > 0.f ? amax / kFp8Max : 1.f;
}

}  // namespace

void fp8_fake_quantize(const float* x, float* y, size_t n, float scale) {
    const float inv = 1.f / scale;
    for (size_t i = 0; i < n; ++i) y[i] = fp8_e4m3_to_float(float_to_fp8_e4m3(x[i] * inv)) * scale;
}

Tensor fp8_fake_quantize_filters(const Tensor& w) {
    Tensor q = w.clone();
    const int64_t k = w.shape().empty() ? 1 : w.shape()[0];
    const size_t per = k > 0 ? static_cast<size_t>(w.numel() / k) : 0;
    const float* src = w.data<float>();
    float* dst = q.data<float>();
    for (int64_t o = 0; o < k; ++o) {
        const float* p = src + o * per;
        float amax = 0.f;
        for (size_t i = 0; i < per; ++i) amax = std::max(amax, std::fabs(p[i]));
        fp8_fake_quantize(p, dst + o * per, per, scale_for(amax));
    }
    return q;
}

Fp8Emulation Fp8Emulation::plan(const Graph& g, const ActivationRanges& ranges) {
    Fp8Emulation e;
    e.convs_.resize(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        if (n.op != "Conv" || n.inputs.size() < 2) continue;
        ++e.convolutions_;
        const Tensor* w = g.constant(n.inputs[1]);
        auto r = ranges.find(n.inputs[0]);
        if (!w || w->dtype() != DType::kF32 || w->shape().size() != 4 || r == ranges.end()) continue;
        if (n.attr_int("group", 1) != 1 || w->shape()[1] < 8) continue;  // depthwise, or the image itself
        // Linear outputs stay exact: the Detect head's box and class logits and the attention's qkv, projection
        // and positional convolutions (the convolutions without a fused activation).
        if (!n.has_attr("activation")) continue;
        const float amax = std::max(std::fabs(r->second.min), std::fabs(r->second.max));
        if (!(amax > 0.f) || !std::isfinite(amax)) continue;
        Conv& c = e.convs_[i];
        c.on = true;
        c.x_scale = scale_for(amax);
        c.w = fp8_fake_quantize_filters(*w);
        ++e.quantized_;
    }
    return e;
}

void Fp8Emulation::apply(size_t index, std::vector<const Tensor*>& ins, Tensor& scratch) const {
    if (index >= convs_.size() || !convs_[index].on || ins.size() < 2 || !ins[0] || ins[0]->dtype() != DType::kF32)
        return;
    const Conv& c = convs_[index];
    scratch = Tensor::empty(DType::kF32, ins[0]->shape());
    fp8_fake_quantize(ins[0]->data<float>(), scratch.data<float>(), static_cast<size_t>(ins[0]->numel()), c.x_scale);
    ins[0] = &scratch;
    ins[1] = &c.w;
}

}  // namespace itscam
