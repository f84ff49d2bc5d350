#include "onnx/onnx_importer.h"

#include <onnx/onnx-ml.pb.h>

#include <cstring>
#include <limits>
#include <set>

#include "core/regular_file.h"
#include "ops/op_registry.h"

namespace itscam {

namespace {

constexpr size_t kMaxModelBytes = size_t{2} << 30;  // protobuf's own hard limit

Result<DType> dtype_from_onnx(int t, const std::string& what) {
    switch (t) {
        case onnx::TensorProto_DataType_FLOAT: return DType::kF32;
        case onnx::TensorProto_DataType_FLOAT16: return DType::kF16;
        case onnx::TensorProto_DataType_BFLOAT16: return DType::kBF16;
        case onnx::TensorProto_DataType_INT8: return DType::kI8;
        case onnx::TensorProto_DataType_UINT8: return DType::kU8;
        case onnx::TensorProto_DataType_INT32: return DType::kI32;
        case onnx::TensorProto_DataType_INT64: return DType::kI64;
        case onnx::TensorProto_DataType_BOOL: return DType::kBool;
        case onnx::TensorProto_DataType_DOUBLE: return DType::kF64;
        default: break;
    }
    return unsupported(what + ": ONNX data type " + std::to_string(t) + " is not supported");
}

Result<Tensor> tensor_from_proto(const onnx::TensorProto& tp, const std::string& what) {
    ITSCAM_ASSIGN_OR_RETURN(DType dt, dtype_from_onnx(tp.data_type(), what));
    if (tp.data_location() == onnx::TensorProto_DataLocation_EXTERNAL || tp.external_data_size() > 0)
        return unsupported(what + ": tensors with external data are not supported; re-export with the weights inside");
    Shape shape;
    int64_t numel = 1;
    for (int64_t d : tp.dims()) {
        if (d < 0) return corrupt(what + ": negative dimension");
        if (d > 0 && numel > (int64_t{1} << 40) / d) return corrupt(what + ": tensor is absurdly large");
        numel *= d;
        shape.push_back(d);
    }
    const size_t es = dtype_size(dt);
    const size_t bytes = static_cast<size_t>(numel) * es;
    if (tp.has_raw_data()) {
        if (tp.raw_data().size() != bytes)
            return corrupt(what + ": raw data holds " + std::to_string(tp.raw_data().size()) + " bytes, shape " +
                           shape_str(shape) + " needs " + std::to_string(bytes));
        Tensor t = Tensor::empty(dt, shape);
        if (bytes) std::memcpy(t.raw(), tp.raw_data().data(), bytes);
        return t;
    }
    // The typed fields: check the value count before allocating, so a huge shape without data is refused rather
    // than allocated.
    int count = 0;
    switch (dt) {
        case DType::kF32: count = tp.float_data_size(); break;
        case DType::kF64: count = tp.double_data_size(); break;
        case DType::kI64: count = tp.int64_data_size(); break;
        default: count = tp.int32_data_size(); break;
    }
    auto need = [&](int have) -> Status {
        if (have != numel)
            return corrupt(what + ": holds " + std::to_string(have) + " values, shape " + shape_str(shape) +
                           " needs " + std::to_string(numel));
        return Status::ok();
    };
    ITSCAM_RETURN_IF_ERROR(need(count));
    Tensor t = Tensor::empty(dt, shape);
    switch (dt) {
        case DType::kF32:
            ITSCAM_RETURN_IF_ERROR(need(tp.float_data_size()));
            for (int64_t i = 0; i < numel; ++i) t.data<float>()[i] = tp.float_data(static_cast<int>(i));
            break;
        case DType::kF64:
            ITSCAM_RETURN_IF_ERROR(need(tp.double_data_size()));
            for (int64_t i = 0; i < numel; ++i) t.data<double>()[i] = tp.double_data(static_cast<int>(i));
            break;
        case DType::kI64:
            ITSCAM_RETURN_IF_ERROR(need(tp.int64_data_size()));
            for (int64_t i = 0; i < numel; ++i) t.data<int64_t>()[i] = tp.int64_data(static_cast<int>(i));
            break;
        case DType::kI32:
            ITSCAM_RETURN_IF_ERROR(need(tp.int32_data_size()));
            for (int64_t i = 0; i < numel; ++i) t.data<int32_t>()[i] = tp.int32_data(static_cast<int>(i));
            break;
        case DType::kF16:
        case DType::kBF16:
            // 16-bit floats travel as uint16 bit patterns in int32_data.
            ITSCAM_RETURN_IF_ERROR(need(tp.int32_data_size()));
            for (int64_t i = 0; i < numel; ++i)
                t.data<uint16_t>()[i] = static_cast<uint16_t>(tp.int32_data(static_cast<int>(i)));
            break;
        case DType::kI8:
        case DType::kU8:
        case DType::kBool:
            ITSCAM_RETURN_IF_ERROR(need(tp.int32_data_size()));
            for (int64_t i = 0; i < numel; ++i)
                t.data<uint8_t>()[i] = static_cast<uint8_t>(tp.int32_data(static_cast<int>(i)));
            break;
    }
    return t;
}

Result<Attr> attr_from_proto(const onnx::AttributeProto& ap, const std::string& what) {
    using A = onnx::AttributeProto;
    switch (ap.type()) {
        case A::INT: return Attr::of_int(ap.i());
        case A::FLOAT: return Attr::of_float(ap.f());
        case A::STRING: return Attr::of_string(ap.s());
        case A::INTS: return Attr::of_ints({ap.ints().begin(), ap.ints().end()});
        case A::FLOATS: return Attr::of_floats({ap.floats().begin(), ap.floats().end()});
        case A::TENSOR: {
            ITSCAM_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(ap.t(), what + " attribute '" + ap.name() + "'"));
            return Attr::of_tensor(t);
        }
        default: break;
    }
    return unsupported(what + ": attribute '" + ap.name() + "' has an unsupported type " +
                       std::to_string(static_cast<int>(ap.type())));
}

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& vi, Status& st) {
    ValueInfo info;
    if (!vi.type().has_tensor_type()) {
        st = unsupported("value '" + vi.name() + "' is not a tensor");
        return info;
    }
    const auto& tt = vi.type().tensor_type();
    auto dt = dtype_from_onnx(tt.elem_type(), "value '" + vi.name() + "'");
    if (!dt) {
        st = dt.status();
        return info;
    }
    info.dtype = *dt;
    for (const auto& d : tt.shape().dim()) info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    for (int64_t d : info.shape)
        if (d < -1) st = corrupt("value '" + vi.name() + "' has a negative dimension");
    return info;
}

Result<Tensor> constant_node_value(const Node& n) {
    if (n.has_attr("value")) return n.attrs.at("value").t;
    if (n.has_attr("value_float")) return Tensor::scalar_f32(n.attr_float("value_float", 0));
    if (n.has_attr("value_floats")) {
        auto v = n.attrs.at("value_floats").floats;
        return Tensor::from_f32(v, {static_cast<int64_t>(v.size())});
    }
    if (n.has_attr("value_int")) return Tensor::from_i64({n.attr_int("value_int", 0)}, {});
    if (n.has_attr("value_ints")) {
        auto v = n.attr_ints("value_ints");
        return Tensor::from_i64(v, {static_cast<int64_t>(v.size())});
    }
    return unsupported(n.label() + ": Constant without a supported value attribute");
}

// Tiny scanner for the Python literals Ultralytics writes into metadata.
struct Lit {
    const std::string& s;
    size_t i = 0;
    void ws() {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    }
    bool eat(char c) {
        ws();
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    Result<int64_t> integer() {
        ws();
        size_t start = i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        if (i == start || (i == start + 1 && !std::isdigit(static_cast<unsigned char>(s[start]))))
            return corrupt("expected an integer at offset " + std::to_string(start));
        if (i - start > 15) return corrupt("integer too long at offset " + std::to_string(start));
        return std::stoll(s.substr(start, i - start));
    }
    Result<std::string> str() {
        ws();
        if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) return corrupt("expected a string at offset " + std::to_string(i));
        const char q = s[i++];
        std::string out;
        while (i < s.size() && s[i] != q) {
            if (s[i] == '\\' && i + 1 < s.size()) ++i;
            out += s[i++];
        }
        if (i >= s.size()) return corrupt("unterminated string");
        ++i;
        return out;
    }
};

}  // namespace

Result<std::vector<std::string>> parse_names_dict(const std::string& text) {
    Lit lx{text};
    if (!lx.eat('{')) return corrupt("class names: expected '{'");
    std::map<int64_t, std::string> m;
    if (!lx.eat('}')) {
        for (;;) {
            ITSCAM_ASSIGN_OR_RETURN(int64_t k, lx.integer());
            if (!lx.eat(':')) return corrupt("class names: expected ':'");
            ITSCAM_ASSIGN_OR_RETURN(std::string v, lx.str());
            if (k < 0 || k > 100000) return corrupt("class names: id out of range");
            m[k] = v;
            if (lx.eat('}')) break;
            if (!lx.eat(',')) return corrupt("class names: expected ',' or '}'");
        }
    }
    lx.ws();
    if (lx.i != text.size()) return corrupt("class names: trailing characters");
    std::vector<std::string> names;
    for (const auto& [k, v] : m) {
        if (k != static_cast<int64_t>(names.size())) return corrupt("class names: ids are not 0..N-1");
        names.push_back(v);
    }
    return names;
}

Result<std::vector<int64_t>> parse_int_list(const std::string& text) {
    Lit lx{text};
    std::vector<int64_t> v;
    char close = 0;
    if (lx.eat('[')) close = ']';
    else if (lx.eat('(')) close = ')';
    if (!close) {
        ITSCAM_ASSIGN_OR_RETURN(int64_t x, lx.integer());
        v.push_back(x);
    } else if (!lx.eat(close)) {
        for (;;) {
            ITSCAM_ASSIGN_OR_RETURN(int64_t x, lx.integer());
            v.push_back(x);
            if (lx.eat(close)) break;
            if (!lx.eat(',')) return corrupt(std::string("expected ',' or '") + close + "' in list");
        }
    }
    lx.ws();
    if (lx.i != text.size()) return corrupt("trailing characters in list");
    return v;
}

static Status read_metadata(const onnx::ModelProto& mp, ModelMetadata& md) {
    for (const auto& p : mp.metadata_props()) md.raw[p.key()] = p.value();
    auto get = [&](const char* k) -> const std::string* {
        auto it = md.raw.find(k);
        return it == md.raw.end() ? nullptr : &it->second;
    };
    if (auto* v = get("task")) md.task = *v;
    if (auto* v = get("description")) md.description = *v;
    if (auto* v = get("version")) md.version = *v;
    if (auto* v = get("author")) md.author = *v;
    if (auto* v = get("stride")) {
        auto s = parse_int_list(*v);
        if (!s || s->empty() || (*s)[0] <= 0 || (*s)[0] > 1024) return corrupt("metadata 'stride' is invalid: " + *v);
        md.stride = static_cast<int>((*s)[0]);
    }
    if (auto* v = get("batch")) {
        auto s = parse_int_list(*v);
        if (s && !s->empty() && (*s)[0] > 0) md.batch = static_cast<int>((*s)[0]);
    }
    if (auto* v = get("imgsz")) {
        auto s = parse_int_list(*v);
        if (!s || s->empty() || s->size() > 2) return corrupt("metadata 'imgsz' is invalid: " + *v);
        int64_t h = (*s)[0], w = s->size() == 2 ? (*s)[1] : (*s)[0];
        if (h <= 0 || w <= 0 || h > 8192 || w > 8192) return corrupt("metadata 'imgsz' is out of range: " + *v);
        md.imgsz_h = static_cast<int>(h);
        md.imgsz_w = static_cast<int>(w);
    }
    if (auto* v = get("names")) {
        auto names = parse_names_dict(*v);
        if (!names) return names.status().with_context("metadata 'names'");
        md.names = *names;
    }
    return Status::ok();
}

Result<Graph> onnx_import_bytes(const void* data, size_t size) {
    if (size == 0) return corrupt("the model file is empty");
    if (size > kMaxModelBytes) return unsupported("models over 2 GiB are not supported");
    onnx::ModelProto mp;
    if (!mp.ParseFromArray(data, static_cast<int>(size)))
        return corrupt("not a valid ONNX model: the protobuf does not parse (truncated or corrupt file?)");
    if (!mp.has_graph()) return corrupt("not a valid ONNX model: no graph");
    Graph g;
    for (const auto& op : mp.opset_import()) {
        if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
    }
    if (g.opset == 0) return unsupported("the model does not import the default ONNX domain");
    if (g.opset < kMinOpset || g.opset > kMaxOpset)
        return unsupported("opset " + std::to_string(g.opset) + " is not supported (supported: " +
                           std::to_string(kMinOpset) + ".." + std::to_string(kMaxOpset) + ")");
    ITSCAM_RETURN_IF_ERROR(read_metadata(mp, g.metadata));

    const auto& gp = mp.graph();
    g.name = gp.name();
    for (const auto& init : gp.initializer()) {
        if (init.name().empty()) return corrupt("an initializer has no name");
        ITSCAM_ASSIGN_OR_RETURN(Tensor t, tensor_from_proto(init, "initializer '" + init.name() + "'"));
        g.values[init.name()] = ValueInfo{t.dtype(), t.shape()};
        g.constants[init.name()] = std::move(t);
    }
    for (const auto& in : gp.input()) {
        if (g.constants.count(in.name())) continue;  // older exports list initializers as inputs too
        Status st;
        ValueInfo vi = value_info_from_proto(in, st);
        ITSCAM_RETURN_IF_ERROR(st.with_context("graph input"));
        g.values[in.name()] = vi;
        g.inputs.push_back(in.name());
    }
    if (g.inputs.empty()) return invalid_argument("the model has no runtime input");
    std::set<std::string> names;
    int index = 0;
    for (const auto& np : gp.node()) {
        Node n;
        n.op = np.op_type();
        n.name = np.name().empty() ? n.op + "_" + std::to_string(index) : np.name();
        ++index;
        if (names.count(n.name)) n.name += "#" + std::to_string(index);
        names.insert(n.name);
        if (!np.domain().empty() && np.domain() != "ai.onnx")
            return unsupported(n.label() + ": operator domain '" + np.domain() + "' is not supported");
        n.inputs.assign(np.input().begin(), np.input().end());
        n.outputs.assign(np.output().begin(), np.output().end());
        for (const auto& ap : np.attribute()) {
            ITSCAM_ASSIGN_OR_RETURN(Attr a, attr_from_proto(ap, n.label()));
            n.attrs[ap.name()] = std::move(a);
        }
        if (n.op == "Constant") {
            if (n.outputs.size() != 1) return corrupt(n.label() + ": Constant must have one output");
            ITSCAM_ASSIGN_OR_RETURN(Tensor t, constant_node_value(n));
            g.values[n.outputs[0]] = ValueInfo{t.dtype(), t.shape()};
            g.constants[n.outputs[0]] = t;
            continue;
        }
        if (!op_find(n.op))
            return unsupported(n.label() + ": op '" + n.op + "' is not supported by itscam (opset " +
                               std::to_string(g.opset) + ")");
        if (n.op == "Softmax" || n.op == "LogSoftmax") n.attrs["opset"] = Attr::of_int(g.opset);
        g.nodes.push_back(std::move(n));
    }
    for (const auto& o : gp.output()) g.outputs.push_back(o.name());
    for (const auto& o : gp.output()) {
        Status st;
        ValueInfo vi = value_info_from_proto(o, st);
        if (st.is_ok()) g.values[o.name()] = vi;
    }
    ITSCAM_RETURN_IF_ERROR(g.topo_sort());
    ITSCAM_RETURN_IF_ERROR(g.verify());
    return g;
}

Result<Graph> onnx_import_file(const std::string& path) {
    // A pipe, device, directory or /proc file is named as such (not "empty" or "larger than 2 GiB"), and never
    // blocks the caller.
    ITSCAM_ASSIGN_OR_RETURN(RegularFile f, RegularFile::open(path, "cannot open model file '" + path + "': "));
    if (f.size() > kMaxModelBytes) return unsupported("'" + path + "' is larger than 2 GiB");
    auto buf = f.read_all(kMaxModelBytes);
    if (!buf && buf.status().code() == StatusCode::kInvalidArgument)
        return unsupported("'" + path + "' is larger than 2 GiB");
    ITSCAM_RETURN_IF_ERROR(buf.status());
    auto g = onnx_import_bytes(buf->data(), buf->size());
    if (!g) return g.status().with_context(path);
    return g;
}

}  // namespace itscam
