#pragma once

#include "core/status.h"
#include "graph/graph.h"

namespace itscam {

// Geometry of a 2-D convolution or pooling window (NCHW), validated against the node's attributes.
struct ConvParams {
    int64_t n = 0, c = 0, h = 0, w = 0;  // input
    int64_t oc = 0, oh = 0, ow = 0;      // output
    int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
    int64_t pt = 0, pl = 0, pb = 0, pr = 0;
    int64_t group = 1;
};

// `w_or_kernel` is the weight shape for Conv/ConvInteger; ignored for pooling (kernel_shape attribute).
Result<ConvParams> conv_params(const Node& n, const Shape& x, const Shape& w_or_kernel, bool is_pool);

}  // namespace itscam
