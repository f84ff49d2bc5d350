// Op registry: for every op the IR knows, its shape/dtype inference and its reference kernel.
//
// The reference kernels are naive and obviously correct: they are the oracle that every optimized backend and
// every pass is tested against, and the evaluator for constant folding. They are never optimized.
#pragma once

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace itscam {

struct InferInput {
    const ValueInfo* info = nullptr;  // nullptr for an absent optional input
    const Tensor* value = nullptr;    // set when the input is a known constant
};

// Computes output dtypes/shapes. Unknown dims stay -1. Fails on inconsistent shapes, naming the node.
using InferFn = std::function<Status(const Node&, const std::vector<InferInput>&, std::vector<ValueInfo>&)>;
// Computes outputs from inputs (absent optional inputs are nullptr). Allocates the outputs.
using RefFn = std::function<Status(const Node&, const std::vector<const Tensor*>&, std::vector<Tensor>&)>;

struct OpDef {
    std::string name;
    int min_inputs = 1;
    int max_inputs = 1;
    int min_outputs = 1;
    int max_outputs = 1;
    InferFn infer;
    RefFn ref;
};

const OpDef* op_find(const std::string& op);
std::vector<std::string> op_names();

// Runs inference for one node given the current value infos/constants of the graph.
Status op_infer(const Graph& g, const Node& n, std::vector<ValueInfo>& outs);
// Runs the reference kernel (checks arity first).
Status op_run_ref(const Node& n, const std::vector<const Tensor*>& ins, std::vector<Tensor>& outs);

// Registration, one function per op family file.
void register_elementwise_ops(std::map<std::string, OpDef>& r);
void register_conv_ops(std::map<std::string, OpDef>& r);
void register_shape_ops(std::map<std::string, OpDef>& r);
void register_data_movement_ops(std::map<std::string, OpDef>& r);
void register_generator_ops(std::map<std::string, OpDef>& r);
void register_nn_ops(std::map<std::string, OpDef>& r);
void register_dfl_op(std::map<std::string, OpDef>& r);

// Shared helpers for op files.
Result<Shape> broadcast_shapes(const Shape& a, const Shape& b);
// Element strides of a tensor of shape `s` read as `out` under numpy broadcasting (0 on broadcast dims).
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out);
// Normalises a possibly negative axis against `rank`.
Result<int64_t> normalize_axis(const Node& n, int64_t axis, int64_t rank);
Status op_error(const Node& n, const std::string& what);

}  // namespace itscam
