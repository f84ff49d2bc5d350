// The itscam graph IR: a list of nodes in topological order over named values.
//
// Values are identified by name. A value is a graph input, a constant (weights, folded tensors) or the output of
// exactly one node. Shapes and dtypes live in `Graph::values`; a dimension of -1 is unknown until the input shape
// is bound. Ops use ONNX names and semantics; fusions add attributes (Conv "activation") rather than new op names
// where the math is a strict superset. Not thread-safe: passes mutate the graph in place.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace itscam {

struct Attr {
    enum class Kind { kInt, kFloat, kString, kInts, kFloats, kTensor };
    Kind kind = Kind::kInt;
    int64_t i = 0;
    float f = 0.f;
    std::string s;
    std::vector<int64_t> ints;
    std::vector<float> floats;
    Tensor t;

    static Attr of_int(int64_t v) { Attr a; a.kind = Kind::kInt; a.i = v; return a; }
    static Attr of_float(float v) { Attr a; a.kind = Kind::kFloat; a.f = v; return a; }
    static Attr of_string(std::string v) { Attr a; a.kind = Kind::kString; a.s = std::move(v); return a; }
    static Attr of_ints(std::vector<int64_t> v) { Attr a; a.kind = Kind::kInts; a.ints = std::move(v); return a; }
    static Attr of_floats(std::vector<float> v) { Attr a; a.kind = Kind::kFloats; a.floats = std::move(v); return a; }
    static Attr of_tensor(Tensor v) { Attr a; a.kind = Kind::kTensor; a.t = std::move(v); return a; }
};

struct Node {
    std::string op;    // "Conv", "Sigmoid", ...
    std::string name;  // unique, for error messages
    std::vector<std::string> inputs;  // "" = optional input left out
    std::vector<std::string> outputs;
    std::map<std::string, Attr> attrs;

    bool has_attr(const std::string& k) const { return attrs.count(k) != 0; }
    int64_t attr_int(const std::string& k, int64_t def) const;
    float attr_float(const std::string& k, float def) const;
    std::string attr_string(const std::string& k, const std::string& def) const;
    std::vector<int64_t> attr_ints(const std::string& k, const std::vector<int64_t>& def = {}) const;
    // "node '/model.0/conv/Conv' (op Conv)" for messages.
    std::string label() const;
    size_t num_inputs() const;  // counting trailing optional inputs that are present
    const std::string& input(size_t i) const;  // "" when absent
};

struct ValueInfo {
    DType dtype = DType::kF32;
    Shape shape;  // -1 = unknown dimension
    bool shape_known() const;
};

// Ultralytics export metadata (from ONNX metadata_props).
struct ModelMetadata {
    std::string task = "detect";
    int stride = 32;
    int imgsz_h = 640;
    int imgsz_w = 640;
    int batch = 1;
    std::vector<std::string> names;  // class names by id
    std::string description, version, author;
    std::map<std::string, std::string> raw;  // every metadata_props entry as written
};

class Graph {
public:
    std::string name;
    std::vector<Node> nodes;
    std::vector<std::string> inputs;   // runtime inputs (initializers excluded)
    std::vector<std::string> outputs;
    std::map<std::string, Tensor> constants;
    std::map<std::string, ValueInfo> values;
    ModelMetadata metadata;
    int64_t opset = 0;

    bool is_constant(const std::string& v) const { return constants.count(v) != 0; }
    const Tensor* constant(const std::string& v) const;
    const ValueInfo* info(const std::string& v) const;
    // Index of the node producing `v`, or -1 (input / constant / unknown).
    int producer(const std::string& v) const;
    // Number of node inputs plus graph outputs that read `v`.
    int use_count(const std::string& v) const;
    // A name not yet used by any value, from a prefix.
    std::string unique_name(const std::string& prefix) const;
    std::map<std::string, int> op_histogram() const;

    // Structural checks: every input defined before use, one producer per value, outputs produced, no cycles.
    Status verify() const;
    // Reorders `nodes` topologically (stable); fails on a cycle.
    Status topo_sort();
};

// Human-readable dump, one node per line, for `itscam inspect --graph` and debugging.
std::string graph_dump(const Graph& g);

}  // namespace itscam
