// FP8 E4M3 emulation for the reference backend (`--device ref --precision fp8`, docs/architecture.md): the numerics
// an FP8 convolution engine has, on the reference kernels, so that the accuracy of FP8 can be measured (and a GPU
// FP8 path checked) before any GPU runs it.
//
// A convolution is quantized when it is dense (group 1), reads at least 8 channels (not the image itself), has a
// fused activation (the linear ones, the Detect head's box and class logits and the attention's qkv, projection and
// positional convolutions, stay exact: quantizing them too cost another point of mAP50-95 on coco128) and its input
// has a calibrated range. Its input is rounded per tensor to E4M3 with scale amax / 448 (amax: the larger
// magnitude of the calibrated range; values beyond it saturate), its filters per output channel with scale
// amax_k / 448, and the convolution then runs on those values in fp32: FP8 operands with fp32 accumulation, as
// Hopper's FP8 tensor cores compute. Bias, activation, residual and every other op stay fp32.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/tensor.h"

namespace itscam {

// x rounded to E4M3 at `scale` and back: E4M3(x / scale) * scale, saturated to +-448 * scale.
void fp8_fake_quantize(const float* x, float* y, size_t n, float scale);
// OIHW filters rounded to E4M3 per output channel (scale: the channel's largest magnitude / 448) and back.
Tensor fp8_fake_quantize_filters(const Tensor& w);

class Fp8Emulation {
  public:
    // Plans the quantized convolutions of `g` from the calibrated ranges of their inputs.
    static Fp8Emulation plan(const Graph& g, const ActivationRanges& ranges);
    // Before node `index` runs: a quantized convolution gets its rounded input (written to `scratch`) and filters.
    void apply(size_t index, std::vector<const Tensor*>& ins, Tensor& scratch) const;
    size_t quantized() const { return quantized_; }
    size_t convolutions() const { return convolutions_; }

  private:
    struct Conv {
        bool on = false;
        float x_scale = 1.f;
        Tensor w;
    };
    std::vector<Conv> convs_;  // per node index
    size_t quantized_ = 0, convolutions_ = 0;
};

}  // namespace itscam
