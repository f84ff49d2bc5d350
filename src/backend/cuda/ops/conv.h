// Convolution lowering shared by ops/conv.cpp (the Conv rule: cuDNN, legacy or fused graph) and
// ops/conv_latency.cpp (our depthwise and stem kernels, which the Conv rule picks on the latency path).
#pragma once

#include "backend/cuda/lowering_context.h"
#include "ops/conv_params.h"

namespace itscam::cuda {

// A convolution's optional bias (input 2, uploaded as float) and fused residual (input 3, as an NHWC view);
// invalid views when absent. `res` may be null for kernels that take no residual.
Status conv_bias_residual(CudaLowering& cx, const Node& n, View& bias, View* res);

// Depthwise convolutions on our own kernel (cuDNN's grouped NHWC kernels are far slower on these shapes), reading and
// writing strided views directly, with bias, activation and residual fused.
Status lower_depthwise_conv(CudaLowering& cx, const Node& n, const ConvParams& p, ck::Act act, float alpha);

// The stem convolution straight from the fp32 NCHW graph input (see ck::stem_conv_nchw): no NHWC conversion of the
// image, no channel padding, bias and activation fused.
Status lower_stem_conv(CudaLowering& cx, const Node& n, const ConvParams& p, ck::Act act, float alpha);

}  // namespace itscam::cuda
