// Graph passes. Each pass mutates the graph in place, keeps it verified and topologically sorted, and returns
// how many rewrites it made. Every fusion states its legality conditions beside its code and can be switched off
// through PassOptions; each has a before/after test on the reference backend (tests/passes).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "graph/graph.h"

namespace itscam {

// Shape/dtype inference over the whole graph (values of every node output).
Status infer_shapes(Graph& g);

// Sets the runtime input to [batch, C, H, W] (0 keeps the exported value) and rebinds batch-dependent Reshape
// targets, so a model exported with batch 1 runs batches of N.
Status bind_input_shape(Graph& g, int64_t batch, int64_t height, int64_t width);

// Evaluates every node whose inputs are all constant (and Shape of known shapes) with the reference kernels.
Result<int> fold_constants(Graph& g);
// Removes nodes whose outputs nobody reads and constants nobody uses.
Result<int> eliminate_dead_nodes(Graph& g);
// Conv -> BatchNormalization with constant parameters becomes one Conv with scaled weights and bias.
Result<int> fuse_conv_bn(Graph& g);
// Conv -> Sigmoid -> Mul(conv, sigmoid) (SiLU) and Conv -> Relu become Conv with an "activation" attribute.
Result<int> fuse_conv_activation(Graph& g);
// Conv(+act) -> Add(other, conv) becomes Conv with a 4th "residual" input, added after the activation.
Result<int> fuse_conv_residual(Graph& g);
// The onnxruntime dynamic-quant pattern DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul(scale) [-> Add(bias)]
// becomes a float Conv with dequantized weights (w - w_zp) * w_scale and the bias folded in.
Result<int> dequantize_weights(Graph& g);

// Transpose -> Softmax -> Transpose -> 1x1 Conv of the Detect head's DFL becomes one DflDecode node.
Result<int> fuse_dfl(Graph& g);

// float16 constants, inputs and Casts become float32 (fp16 exports on fp32 backends); no-op Casts are bypassed.
Result<int> float16_to_float32(Graph& g);

struct PassOptions {
    // false (ENABLE_TENSORRT: false, `--no-optimize`): only the passes a graph needs to run on every backend:
    // float16_to_float32, fold_constants, bind_input_shape, dequantize_weights (the cpu and cuda backends have no
    // ConvInteger kernel) and eliminate_dead_nodes; no fusion (fuse_conv_bn, fuse_conv_activation, fuse_dfl,
    // fuse_conv_residual).
    bool optimize = true;
    bool fuse_residual = true;      // backends that cannot run a fused residual switch it off
    std::set<std::string> disabled;  // pass names: "fuse_conv_bn", "fuse_conv_activation", "dequantize_weights", ...
};

// Prepares an imported graph for a backend. The passes, in order (those marked * only with PassOptions::optimize):
//   float16_to_float32, fold_constants, bind_input_shape, fold_constants, dequantize_weights, fold_constants,
//   eliminate_dead_nodes, *fuse_conv_bn, *fuse_conv_activation, *fuse_dfl, *fuse_conv_residual,
//   *eliminate_dead_nodes; then topological sort, shape inference and verification.
// `stats` (optional) receives the rewrite count per pass (bind_input_shape is a binding step, not counted).
Status optimize_graph(Graph& g, int64_t batch, int64_t height, int64_t width, const PassOptions& opt,
                      std::map<std::string, int>* stats = nullptr);
// The passes optimize_graph runs with `opt` (bind_input_shape included; not the final sort and shape inference), in
// order; a pass that runs more than once is listed each time.
std::vector<std::string> pass_sequence(const PassOptions& opt);

}  // namespace itscam
