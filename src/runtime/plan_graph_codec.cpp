#include "runtime/plan_graph_codec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "core/dtype.h"
#include "onnx/onnx_importer.h"  // kMinOpset / kMaxOpset only (no protobuf)
#include "ops/op_registry.h"

namespace itscam {

using json = nlohmann::json;

namespace {

const char* kind_name(Attr::Kind k) {
    switch (k) {
        case Attr::Kind::kInt:
            return "int";
        case Attr::Kind::kFloat:
            return "float";
        case Attr::Kind::kString:
            return "string";
        case Attr::Kind::kInts:
            return "ints";
        case Attr::Kind::kFloats:
            return "floats";
        case Attr::Kind::kTensor:
            return "tensor";
    }
    return "?";
}

// JSON has no Inf/NaN: finite floats are numbers, the others strings. float -> double -> float is exact.
json float_to_json(float f) {
    if (std::isfinite(f)) return static_cast<double>(f);
    if (std::isnan(f)) return "nan";
    return f > 0 ? "inf" : "-inf";
}

bool fits_fp16(const Tensor& t) {
    const float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
        if (!(std::fabs(p[i]) <= 65504.f)) return false;  // NaN, Inf or out of range: keep fp32
    return true;
}

json attr_to_json(const Attr& a, PlanBlobWriter& blobs) {
    json j = {{"kind", kind_name(a.kind)}};
    switch (a.kind) {
        case Attr::Kind::kInt:
            j["value"] = a.i;
            break;
        case Attr::Kind::kFloat:
            j["value"] = float_to_json(a.f);
            break;
        case Attr::Kind::kString:
            j["value"] = a.s;
            break;
        case Attr::Kind::kInts:
            j["value"] = a.ints;
            break;
        case Attr::Kind::kFloats: {
            json v = json::array();
            for (float f : a.floats) v.push_back(float_to_json(f));
            j["value"] = std::move(v);
            break;
        }
        case Attr::Kind::kTensor:
            j["value"] = blobs.tensor(a.t, false);
            break;
    }
    return j;
}

Tensor decode_tensor(PlanJsonReader& d, const json& j, const PlanBlobArea& area, const std::string& what) {
    if (!d.ok()) return {};
    if (j.is_null()) return {};
    const DType dt = d.dtype(d.field(j, "dtype", json::value_t::string, what), what + ".dtype");
    Shape shape = d.shape(d.array(j, "shape", what), false, what + ".shape");
    DType stored = dt;
    if (d.ok() && j.contains("stored")) {
        stored = d.dtype(j["stored"], what + ".stored");
        if (d.ok() && stored != dt && !(dt == DType::kF32 && stored == DType::kF16))
            d.fail(what + ": a " + dtype_name(dt) + " tensor cannot be stored as " + dtype_name(stored));
    }
    const int64_t offset = d.integer(j, "offset", 0, std::numeric_limits<int64_t>::max(), what);
    const int64_t bytes = d.integer(j, "bytes", 0, std::numeric_limits<int64_t>::max(), what);
    if (!d.ok()) return {};
    const int64_t numel = shape_numel(shape);
    const uint64_t need = static_cast<uint64_t>(numel) * dtype_size(stored);
    if (static_cast<uint64_t>(bytes) != need) {
        d.fail(what + ": " + std::to_string(bytes) + " bytes stored, but " + dtype_name(stored) + " " +
               shape_str(shape) + " needs " + std::to_string(need));
        return {};
    }
    if (offset % 64 != 0) {
        d.fail(what + ": blob offset " + std::to_string(offset) + " is not 64-byte aligned");
        return {};
    }
    if (static_cast<uint64_t>(offset) > area.bytes || need > area.bytes - static_cast<uint64_t>(offset)) {
        d.fail(what + ": blob [" + std::to_string(offset) + ", +" + std::to_string(need) +
               ") lies outside the blob area of " + std::to_string(area.bytes) + " bytes (truncated file?)");
        return {};
    }
    if (area.stats) ++area.stats->constants;
    const std::byte* src = area.base.get() + offset;
    if (stored != dt) {  // fp16-stored fp32: widen
        if (area.stats) ++area.stats->fp16_stored;
        Tensor t = Tensor::empty(DType::kF32, std::move(shape));
        float* out = t.data<float>();
        for (int64_t i = 0; i < numel; ++i) {
            uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            out[i] = half_to_float(h);
        }
        return t;
    }
    if (numel == 0 || area.copy) {
        Tensor t = Tensor::empty(dt, std::move(shape));
        if (need) std::memcpy(t.raw(), src, need);
        return t;
    }
    return Tensor::from_buffer(dt, std::move(shape), std::shared_ptr<std::byte>(area.base, area.base.get() + offset));
}

Attr decode_attr(PlanJsonReader& d, const json& j, const PlanBlobArea& area, const std::string& what) {
    Attr a;
    const std::string kind = d.str(j, "kind", what);
    if (!d.ok()) return a;
    auto vit = j.find("value");
    if (vit == j.end()) {
        d.fail(what + ".value is missing");
        return a;
    }
    const json& v = *vit;
    if (kind == "int") {
        a = Attr::of_int(
            d.integer(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), what + ".value"));
    } else if (kind == "float") {
        a = Attr::of_float(d.floating(v, what + ".value"));
    } else if (kind == "string") {
        a = Attr::of_string(d.string_item(v, what + ".value"));
    } else if (kind == "ints") {
        a = Attr::of_ints(
            d.ints(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), what + ".value"));
    } else if (kind == "floats") {
        std::vector<float> f;
        if (!v.is_array()) d.fail(what + ".value is not an array");
        for (size_t i = 0; d.ok() && i < v.size(); ++i) f.push_back(d.floating(v[i], what + ".value"));
        a = Attr::of_floats(std::move(f));
    } else if (kind == "tensor") {
        a = Attr::of_tensor(decode_tensor(d, v, area, what + ".value"));
    } else {
        d.fail(what + ": unknown attribute kind '" + kind + "'");
    }
    return a;
}

}  // namespace

json PlanBlobWriter::tensor(const Tensor& t, bool constant) {
    if (!t.defined()) return nullptr;
    json j = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}};
    Blob b{t.raw(), t.nbytes(), {}, plan_align64(end_)};
    if (constant && fp16_ && t.dtype() == DType::kF32 && t.numel() > 0 && fits_fp16(t)) {
        b.converted.resize(static_cast<size_t>(t.numel()));
        const float* p = t.data<float>();
        for (size_t i = 0; i < b.converted.size(); ++i) b.converted[i] = float_to_half(p[i]);
        b.data = b.converted.data();
        b.bytes = b.converted.size() * 2;
        j["stored"] = dtype_name(DType::kF16);
    }
    j["offset"] = b.offset;
    j["bytes"] = b.bytes;
    end_ = b.offset + b.bytes;
    blobs_.push_back(std::move(b));
    return j;
}

void PlanBlobWriter::copy_to(std::byte* area) const {
    for (const auto& b : blobs_)
        if (b.bytes) std::memcpy(area + b.offset, b.data, b.bytes);
}

json plan_graph_to_json(const Graph& g, PlanBlobWriter& blobs) {
    json j;
    j["name"] = g.name;
    j["opset"] = g.opset;
    j["inputs"] = g.inputs;
    j["outputs"] = g.outputs;
    json values = json::array();
    for (const auto& [name, vi] : g.values) values.push_back({name, dtype_name(vi.dtype), vi.shape});
    j["values"] = std::move(values);
    json constants = json::array();
    for (const auto& [name, t] : g.constants) constants.push_back({{"name", name}, {"tensor", blobs.tensor(t, true)}});
    j["constants"] = std::move(constants);
    json nodes = json::array();
    for (const auto& n : g.nodes) {
        json attrs = json::array();
        for (const auto& [k, a] : n.attrs) {
            json ja = attr_to_json(a, blobs);
            ja["name"] = k;
            attrs.push_back(std::move(ja));
        }
        nodes.push_back({{"op", n.op},
                         {"name", n.name},
                         {"inputs", n.inputs},
                         {"outputs", n.outputs},
                         {"attrs", std::move(attrs)}});
    }
    j["nodes"] = std::move(nodes);
    const ModelMetadata& m = g.metadata;
    j["metadata"] = {{"task", m.task},       {"stride", m.stride}, {"imgsz", {m.imgsz_h, m.imgsz_w}},
                     {"batch", m.batch},     {"names", m.names},   {"description", m.description},
                     {"version", m.version}, {"author", m.author}, {"raw", m.raw}};
    return j;
}

void plan_graph_from_json(PlanJsonReader& d, const json& j, const PlanBlobArea& area, Graph& g) {
    if (!d.ok()) return;
    g.name = d.str(j, "name", "graph");
    g.opset = d.integer(j, "opset", kMinOpset, kMaxOpset, "graph");
    g.inputs = d.strings(j, "inputs", "graph");
    g.outputs = d.strings(j, "outputs", "graph");
    const json& values = d.array(j, "values", "graph");
    for (size_t i = 0; d.ok() && i < values.size(); ++i) {
        const std::string w = "graph.values[" + std::to_string(i) + "]";
        const json& v = values[i];
        if (!v.is_array() || v.size() != 3) {
            d.fail(w + " is not [name, dtype, shape]");
            break;
        }
        std::string name = d.string_item(v[0], w + "[0]");
        ValueInfo vi;
        vi.dtype = d.dtype(v[1], w + "[1]");
        vi.shape = d.shape(v[2], true, w + "[2]");
        if (d.ok() && !g.values.emplace(std::move(name), std::move(vi)).second) d.fail(w + ": value listed twice");
    }
    const json& constants = d.array(j, "constants", "graph");
    for (size_t i = 0; d.ok() && i < constants.size(); ++i) {
        const std::string w = "graph.constants[" + std::to_string(i) + "]";
        std::string name = d.str(constants[i], "name", w);
        Tensor t = decode_tensor(d, d.field(constants[i], "tensor", json::value_t::object, w), area, w + ".tensor");
        if (!d.ok()) break;
        auto [vit, fresh] = g.values.emplace(name, ValueInfo{t.dtype(), t.shape()});
        if (!fresh && (vit->second.dtype != t.dtype() || vit->second.shape != t.shape()))
            d.fail(w + ": constant '" + name + "' does not match its value info");
        else if (!g.constants.emplace(std::move(name), std::move(t)).second)
            d.fail(w + ": constant listed twice");
    }
    const json& nodes = d.array(j, "nodes", "graph");
    std::set<std::string> names;
    g.nodes.reserve(nodes.size());
    for (size_t i = 0; d.ok() && i < nodes.size(); ++i) {
        const std::string w = "graph.nodes[" + std::to_string(i) + "]";
        Node n;
        n.op = d.str(nodes[i], "op", w);
        n.name = d.str(nodes[i], "name", w);
        n.inputs = d.strings(nodes[i], "inputs", w);
        n.outputs = d.strings(nodes[i], "outputs", w);
        const json& attrs = d.array(nodes[i], "attrs", w);
        for (size_t k = 0; d.ok() && k < attrs.size(); ++k) {
            const std::string wa = w + ".attrs[" + std::to_string(k) + "]";
            std::string key = d.str(attrs[k], "name", wa);
            Attr a = decode_attr(d, attrs[k], area, wa);
            if (d.ok() && !n.attrs.emplace(std::move(key), std::move(a)).second)
                d.fail(wa + ": attribute listed twice");
        }
        if (!d.ok()) break;
        const OpDef* def = op_find(n.op);
        if (!def) {
            d.fail(w + ": op '" + n.op + "' is not known to this itscam");
            break;
        }
        if (n.outputs.empty()) d.fail(w + ": node '" + n.name + "' has no outputs");
        if (!names.insert(n.name).second) d.fail(w + ": node name '" + n.name + "' is used twice");
        g.nodes.push_back(std::move(n));
    }
    const json& md = d.object(j, "metadata", "graph");
    ModelMetadata& m = g.metadata;
    m.task = d.str(md, "task", "metadata");
    m.stride = static_cast<int>(d.integer(md, "stride", 1, 1024, "metadata"));
    const std::vector<int64_t> imgsz = d.ints(d.array(md, "imgsz", "metadata"), 1, kPlanMaxImgsz, "metadata.imgsz");
    if (d.ok() && imgsz.size() != 2) d.fail("metadata.imgsz must be [h, w]");
    if (d.ok()) {
        m.imgsz_h = static_cast<int>(imgsz[0]);
        m.imgsz_w = static_cast<int>(imgsz[1]);
    }
    m.batch = static_cast<int>(d.integer(md, "batch", 1, std::numeric_limits<int>::max(), "metadata"));
    m.names = d.strings(md, "names", "metadata");
    m.description = d.str(md, "description", "metadata");
    m.version = d.str(md, "version", "metadata");
    m.author = d.str(md, "author", "metadata");
    const json& raw = d.object(md, "raw", "metadata");
    if (d.ok())
        for (const auto& [k, v] : raw.items()) m.raw[k] = d.string_item(v, "metadata.raw." + k);
    if (!d.ok()) return;
    for (const auto& in : g.inputs)
        if (!g.values.count(in)) {
            d.fail("graph input '" + in + "' has no value info");
            return;
        }
    if (g.inputs.empty()) d.fail("graph has no runtime input");
}

}  // namespace itscam
