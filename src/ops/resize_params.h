#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "graph/graph.h"

namespace itscam {

// Nearest-neighbour Resize geometry shared by the reference and optimized kernels.
struct ResizeParams {
    Shape out;
    std::vector<float> scale;  // output / input per dim
    std::string coord, nearest;
};

Result<ResizeParams> resize_params(const Node& n, const Shape& x, const Tensor* scales, const Tensor* sizes);
// Source index along `dim` for output coordinate `o` (ONNX Resize nearest semantics).
int64_t resize_nearest_index(const ResizeParams& p, size_t dim, int64_t o, int64_t in_len);

}  // namespace itscam
