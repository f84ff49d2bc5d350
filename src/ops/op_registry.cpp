#include "ops/op_registry.h"

#include <mutex>

namespace itscam {

namespace {
const std::map<std::string, OpDef>& registry() {
    static const std::map<std::string, OpDef> r = [] {
        std::map<std::string, OpDef> m;
        register_elementwise_ops(m);
        register_conv_ops(m);
        register_shape_ops(m);
        register_data_movement_ops(m);
        register_generator_ops(m);
        register_nn_ops(m);
        register_dfl_op(m);
        return m;
    }();
    return r;
}
}  // namespace

const OpDef* op_find(const std::string& op) {
    auto it = registry().find(op);
    return it == registry().end() ? nullptr : &it->second;
}

std::vector<std::string> op_names() {
    std::vector<std::string> v;
    for (const auto& [k, d] : registry()) v.push_back(k);
    return v;
}

constexpr int64_t kMaxInferredElements = int64_t{1} << 40;

Status op_error(const Node& n, const std::string& what) { return invalid_argument(n.label() + ": " + what); }

// Inputs ONNX requires to be integer tensors (shapes, axes, indices, sizes). A float tensor there is a broken file;
// refusing it also keeps float->int conversions of arbitrary values out of the shape code.
static bool is_integer_input(const std::string& op, size_t i) {
    static const std::map<std::string, std::vector<size_t>> kIntInputs = {
        {"Reshape", {1}}, {"Expand", {1}}, {"ConstantOfShape", {0}}, {"Tile", {1}},     {"Slice", {1, 2, 3, 4}},
        {"Split", {1}},   {"Unsqueeze", {1}}, {"Squeeze", {1}},       {"Gather", {1}}, {"Resize", {3}}};
    auto it = kIntInputs.find(op);
    return it != kIntInputs.end() && std::find(it->second.begin(), it->second.end(), i) != it->second.end();
}
static Status check_integer_input(const Node& n, size_t i, DType t) {
    if (t == DType::kI64 || t == DType::kI32 || !is_integer_input(n.op, i)) return Status::ok();
    return op_error(n, "input " + std::to_string(i) + " must be int64, got " + dtype_name(t));
}

static Status check_arity(const OpDef& d, const Node& n) {
    int ni = static_cast<int>(n.num_inputs());
    int no = static_cast<int>(n.outputs.size());
    if (ni < d.min_inputs || ni > d.max_inputs)
        return op_error(n, "expects " + std::to_string(d.min_inputs) + ".." + std::to_string(d.max_inputs) +
                               " inputs, got " + std::to_string(ni));
    if (no < d.min_outputs || no > d.max_outputs)
        return op_error(n, "expects " + std::to_string(d.min_outputs) + ".." + std::to_string(d.max_outputs) +
                               " outputs, got " + std::to_string(no));
    for (int i = 0; i < d.min_inputs; ++i)
        if (n.inputs[i].empty()) return op_error(n, "required input " + std::to_string(i) + " is missing");
    return Status::ok();
}

Status op_infer(const Graph& g, const Node& n, std::vector<ValueInfo>& outs) {
    const OpDef* d = op_find(n.op);
    if (!d) return unsupported(n.label() + ": op '" + n.op + "' is not supported by itscam");
    ITSCAM_RETURN_IF_ERROR(check_arity(*d, n));
    std::vector<InferInput> ins(n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
        if (n.inputs[i].empty()) continue;
        ins[i].info = g.info(n.inputs[i]);
        ins[i].value = g.constant(n.inputs[i]);
        if (!ins[i].info) return op_error(n, "input '" + n.inputs[i] + "' has no type information");
        ITSCAM_RETURN_IF_ERROR(check_integer_input(n, i, ins[i].info->dtype));
    }
    outs.assign(n.outputs.size(), ValueInfo{});
    ITSCAM_RETURN_IF_ERROR(d->infer(n, ins, outs));
    // Hostile files can make inference produce absurd dimensions (Reshape targets, Resize scales, ...); stopping
    // them here keeps every later shape computation far from int64 overflow.
    for (const auto& o : outs) {
        if (o.shape.size() > 64) return op_error(n, "output rank " + std::to_string(o.shape.size()) + " is too large");
        int64_t known = 1;
        for (int64_t dim : o.shape) {
            if (dim < -1) return op_error(n, "inferred a negative dimension in " + shape_str(o.shape));
            if (dim > 0 && known > kMaxInferredElements / dim)
                return op_error(n, "inferred shape " + shape_str(o.shape) + " is too large");
            if (dim > 0) known *= dim;
        }
    }
    return Status::ok();
}

Status op_run_ref(const Node& n, const std::vector<const Tensor*>& ins, std::vector<Tensor>& outs) {
    const OpDef* d = op_find(n.op);
    if (!d) return unsupported(n.label() + ": op '" + n.op + "' is not supported by itscam");
    ITSCAM_RETURN_IF_ERROR(check_arity(*d, n));
    for (size_t i = 0; i < ins.size() && i < n.inputs.size(); ++i)
        if (ins[i]) ITSCAM_RETURN_IF_ERROR(check_integer_input(n, i, ins[i]->dtype()));
    outs.assign(n.outputs.size(), Tensor{});
    return d->ref(n, ins, outs);
}

Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
    size_t r = std::max(a.size(), b.size());
    Shape out(r);
    for (size_t i = 0; i < r; ++i) {
        int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
        int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
        if (da == db || db == 1) {
            out[i] = da;
        } else if (da == 1) {
            out[i] = db;
        } else if (da < 0 || db < 0) {
            out[i] = -1;
        } else {
            return invalid_argument("shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
        }
    }
    return out;
}

Result<int64_t> normalize_axis(const Node& n, int64_t axis, int64_t rank) {
    if (axis < -rank || axis >= rank)
        return op_error(n, "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
    return axis < 0 ? axis + rank : axis;
}

}  // namespace itscam
