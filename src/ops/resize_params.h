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
// The same, with scales (input 2) and sizes (input 3) read from the graph's constants (null when absent or not
// constant): what a backend compiling a bound graph needs.
Result<ResizeParams> resize_params(const Graph& g, const Node& n, const Shape& x);
// Softmax geometry: `outer * inner` independent rows of `len` elements, `inner` apart. opset >= 13 normalises along
// `axis` (default -1); older opsets flatten to 2-D at `axis` (default 1) and normalise each row (the importer
// records the opset in the node's "opset" attribute).
struct SoftmaxLayout {
    int64_t outer = 1, len = 1, inner = 1;
};
Result<SoftmaxLayout> softmax_layout(const Node& n, const Shape& s);

// Source index along `dim` for output coordinate `o` (ONNX Resize nearest semantics).
int64_t resize_nearest_index(const ResizeParams& p, size_t dim, int64_t o, int64_t in_len);

}  // namespace itscam
