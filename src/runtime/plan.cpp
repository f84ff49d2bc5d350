#include "runtime/plan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "core/dtype.h"
#include "onnx/onnx_importer.h"  // kMinOpset / kMaxOpset only (no protobuf)
#include "ops/op_registry.h"

#ifndef ITSCAM_VERSION
#define ITSCAM_VERSION "0.1.0"
#endif

namespace itscam {

using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxHeaderBytes = uint64_t{256} << 20;  // a header this big is not a plan
constexpr int64_t kMaxNumel = int64_t{1} << 40;
constexpr int kMaxBatch = 4096;
constexpr int kMaxImgsz = 8192;

// ---- little-endian fixed fields ----

void put_u32(std::string& s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& s, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t get_u32(const std::byte* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
}
uint64_t get_u64(const std::byte* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
    return v;
}
uint64_t align64(uint64_t v) { return (v + 63) & ~uint64_t{63}; }

// ---- dtypes and attribute kinds by name ----

constexpr DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kI8,  DType::kU8,
                                DType::kI32, DType::kI64, DType::kBool, DType::kF64};

bool dtype_from_name(const std::string& s, DType& out) {
    for (DType t : kAllDTypes)
        if (s == dtype_name(t)) {
            out = t;
            return true;
        }
    return false;
}

const char* kind_name(Attr::Kind k) {
    switch (k) {
        case Attr::Kind::kInt: return "int";
        case Attr::Kind::kFloat: return "float";
        case Attr::Kind::kString: return "string";
        case Attr::Kind::kInts: return "ints";
        case Attr::Kind::kFloats: return "floats";
        case Attr::Kind::kTensor: return "tensor";
    }
    return "?";
}

// JSON has no Inf/NaN: finite floats are numbers, the others strings. float -> double -> float is exact.
json float_to_json(float f) {
    if (std::isfinite(f)) return static_cast<double>(f);
    if (std::isnan(f)) return "nan";
    return f > 0 ? "inf" : "-inf";
}

// ---- checksum: 4 lanes of xxHash64-style multiply-rotate rounds over 8-byte words ----

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full, kP3 = 0x165667B19E3779F9ull;
inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t round64(uint64_t acc, uint64_t w) { return rotl(acc + w * kP2, 31) * kP1; }
inline uint64_t load64(const unsigned char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// ---- SHA-256 ----

struct Sha256 {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    unsigned char buf[64];
    size_t used = 0;
    uint64_t total = 0;

    static uint32_t rotr(uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }
    void block(const unsigned char* p) {
        static constexpr uint32_t k[64] = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
        uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = (uint32_t{p[4 * i]} << 24) | (uint32_t{p[4 * i + 1]} << 16) | (uint32_t{p[4 * i + 2]} << 8) |
                   uint32_t{p[4 * i + 3]};
        for (int i = 16; i < 64; ++i) {
            const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; ++i) {
            const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    void update(const void* data, size_t n) {
        const auto* p = static_cast<const unsigned char*>(data);
        total += n;
        while (n > 0) {
            if (used == 0 && n >= 64) {
                block(p);
                p += 64;
                n -= 64;
                continue;
            }
            const size_t take = std::min(n, 64 - used);
            std::memcpy(buf + used, p, take);
            used += take;
            p += take;
            n -= take;
            if (used == 64) {
                block(buf);
                used = 0;
            }
        }
    }
    std::string hex() {
        const uint64_t bits = total * 8;
        const unsigned char pad = 0x80;
        update(&pad, 1);
        const unsigned char zero = 0;
        while (used != 56) update(&zero, 1);
        unsigned char len[8];
        for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
        update(len, 8);
        static const char* kHex = "0123456789abcdef";
        std::string out;
        for (uint32_t v : h)
            for (int i = 28; i >= 0; i -= 4) out += kHex[(v >> i) & 0xf];
        return out;
    }
};

// ---- aligned file buffers ----

std::shared_ptr<std::byte> aligned_buffer(size_t bytes) {
    const size_t alloc = std::max<size_t>(64, align64(bytes));
    void* p = std::aligned_alloc(64, alloc);
    if (!p) throw std::bad_alloc();
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

// ---- serialization ----

struct Writer {
    bool fp16 = false;
    struct Blob {
        const void* data;
        size_t bytes;
        std::vector<uint16_t> converted;  // fp32 -> fp16 copy
        uint64_t offset;
    };
    std::vector<Blob> blobs;
    uint64_t end = 0;
    size_t fp16_stored = 0;

    static bool fits_fp16(const Tensor& t) {
        const float* p = t.data<float>();
        for (int64_t i = 0; i < t.numel(); ++i)
            if (!(std::fabs(p[i]) <= 65504.f)) return false;  // NaN, Inf or out of range: keep fp32
        return true;
    }

    // `narrow`: graph constants of an fp16 plan (attribute tensors are kept exact).
    json tensor(const Tensor& t, bool narrow = false) {
        if (!t.defined()) return nullptr;
        json j = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}};
        Blob b{t.raw(), t.nbytes(), {}, align64(end)};
        if (narrow && fp16 && t.dtype() == DType::kF32 && t.numel() > 0 && fits_fp16(t)) {
            b.converted.resize(static_cast<size_t>(t.numel()));
            const float* p = t.data<float>();
            for (size_t i = 0; i < b.converted.size(); ++i) b.converted[i] = float_to_half(p[i]);
            b.data = b.converted.data();
            b.bytes = b.converted.size() * 2;
            j["stored"] = dtype_name(DType::kF16);
            ++fp16_stored;
        }
        j["offset"] = b.offset;
        j["bytes"] = b.bytes;
        end = b.offset + b.bytes;
        blobs.push_back(std::move(b));
        return j;
    }

    json attr(const Attr& a) {
        json j = {{"kind", kind_name(a.kind)}};
        switch (a.kind) {
            case Attr::Kind::kInt: j["value"] = a.i; break;
            case Attr::Kind::kFloat: j["value"] = float_to_json(a.f); break;
            case Attr::Kind::kString: j["value"] = a.s; break;
            case Attr::Kind::kInts: j["value"] = a.ints; break;
            case Attr::Kind::kFloats: {
                json v = json::array();
                for (float f : a.floats) v.push_back(float_to_json(f));
                j["value"] = std::move(v);
                break;
            }
            case Attr::Kind::kTensor: j["value"] = tensor(a.t); break;
        }
        return j;
    }

    json graph(const Graph& g) {
        json j;
        j["name"] = g.name;
        j["opset"] = g.opset;
        j["inputs"] = g.inputs;
        j["outputs"] = g.outputs;
        json values = json::array();
        for (const auto& [name, vi] : g.values) values.push_back({name, dtype_name(vi.dtype), vi.shape});
        j["values"] = std::move(values);
        json constants = json::array();
        for (const auto& [name, t] : g.constants) constants.push_back({{"name", name}, {"tensor", tensor(t, true)}});
        j["constants"] = std::move(constants);
        json nodes = json::array();
        for (const auto& n : g.nodes) {
            json attrs = json::array();
            for (const auto& [k, a] : n.attrs) {
                json ja = attr(a);
                ja["name"] = k;
                attrs.push_back(std::move(ja));
            }
            nodes.push_back({{"op", n.op}, {"name", n.name}, {"inputs", n.inputs}, {"outputs", n.outputs},
                             {"attrs", std::move(attrs)}});
        }
        j["nodes"] = std::move(nodes);
        const ModelMetadata& m = g.metadata;
        j["metadata"] = {{"task", m.task},   {"stride", m.stride},   {"imgsz", {m.imgsz_h, m.imgsz_w}},
                         {"batch", m.batch}, {"names", m.names},     {"description", m.description},
                         {"version", m.version}, {"author", m.author}, {"raw", m.raw}};
        return j;
    }
};

json info_to_json(const PlanInfo& p) {
    json tuning = json::array();
    for (const auto& [b, t] : p.tuning) tuning.push_back({{"batch", b}, {"tuning", t}});
    return {
        {"target",
         {{"backend", p.backend}, {"key", p.target_key}, {"precision", precision_name(p.precision)},
          {"imgsz", {p.height, p.width}}, {"batch_sizes", p.batch_sizes}, {"tuning", std::move(tuning)},
          {"autotune", p.autotune}, {"performance", p.performance}}},
        {"creator", {{"itscam", p.creator}, {"created", p.created}}},
        {"source", {{"path", p.source_path}, {"sha256", p.source_sha256}, {"bytes", p.source_bytes}}},
    };
}

// ---- parsing: typed accessors that record the first error instead of throwing ----

class Decoder {
public:
    Status st;

    bool ok() const { return st.is_ok(); }
    void fail(const std::string& msg) {
        if (st.is_ok()) st = corrupt("plan header: " + msg);
    }
    const json& field(const json& o, const char* key, json::value_t type, const std::string& where) {
        static const json kNull;
        if (!ok()) return kNull;
        if (!o.is_object()) {
            fail(where + " is not an object");
            return kNull;
        }
        auto it = o.find(key);
        if (it == o.end()) {
            fail(where + "." + key + " is missing");
            return kNull;
        }
        const json& v = *it;
        const bool match = type == json::value_t::number_integer ? v.is_number_integer() : v.type() == type;
        if (!match) {
            fail(where + "." + key + " has the wrong type (" + v.type_name() + ")");
            return kNull;
        }
        return v;
    }
    const json& object(const json& o, const char* key, const std::string& where) {
        return field(o, key, json::value_t::object, where);
    }
    const json& array(const json& o, const char* key, const std::string& where) {
        return field(o, key, json::value_t::array, where);
    }
    std::string str(const json& o, const char* key, const std::string& where) {
        const json& v = field(o, key, json::value_t::string, where);
        return v.is_string() ? v.get_ref<const std::string&>() : std::string();
    }
    bool boolean(const json& o, const char* key, const std::string& where) {
        const json& v = field(o, key, json::value_t::boolean, where);
        return v.is_boolean() && v.get<bool>();
    }
    int64_t integer(const json& v, int64_t lo, int64_t hi, const std::string& what) {
        if (!ok()) return lo;
        int64_t x;
        if (v.is_number_unsigned()) {
            const uint64_t u = v.get<uint64_t>();
            if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                fail(what + " is out of range");
                return lo;
            }
            x = static_cast<int64_t>(u);
        } else if (v.is_number_integer()) {
            x = v.get<int64_t>();
        } else {
            fail(what + " is not an integer");
            return lo;
        }
        if (x < lo || x > hi) {
            fail(what + " = " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "]");
            return lo;
        }
        return x;
    }
    int64_t integer(const json& o, const char* key, int64_t lo, int64_t hi, const std::string& where) {
        const json& v = field(o, key, json::value_t::number_integer, where);
        return ok() ? integer(v, lo, hi, where + "." + key) : lo;
    }
    std::string string_item(const json& v, const std::string& what) {
        if (!ok()) return {};
        if (!v.is_string()) {
            fail(what + " is not a string");
            return {};
        }
        return v.get_ref<const std::string&>();
    }
    std::vector<std::string> strings(const json& o, const char* key, const std::string& where) {
        std::vector<std::string> out;
        const json& a = array(o, key, where);
        if (!ok()) return out;
        out.reserve(a.size());
        for (size_t i = 0; i < a.size() && ok(); ++i)
            out.push_back(string_item(a[i], where + "." + key + "[" + std::to_string(i) + "]"));
        return out;
    }
    std::vector<int64_t> ints(const json& a, int64_t lo, int64_t hi, const std::string& what) {
        std::vector<int64_t> out;
        if (!ok()) return out;
        if (!a.is_array()) {
            fail(what + " is not an array");
            return out;
        }
        out.reserve(a.size());
        for (size_t i = 0; i < a.size() && ok(); ++i)
            out.push_back(integer(a[i], lo, hi, what + "[" + std::to_string(i) + "]"));
        return out;
    }
    float floating(const json& v, const std::string& what) {
        if (!ok()) return 0.f;
        if (v.is_number()) {
            const double d = v.get<double>();
            // Finite floats were written exactly; a double beyond float's range is not one we wrote.
            if (!(std::fabs(d) <= static_cast<double>(std::numeric_limits<float>::max()))) {
                fail(what + " is out of float range");
                return 0.f;
            }
            return static_cast<float>(d);
        }
        if (v.is_string()) {
            const auto& s = v.get_ref<const std::string&>();
            if (s == "nan") return std::numeric_limits<float>::quiet_NaN();
            if (s == "inf") return std::numeric_limits<float>::infinity();
            if (s == "-inf") return -std::numeric_limits<float>::infinity();
        }
        fail(what + " is not a float");
        return 0.f;
    }
    DType dtype(const json& v, const std::string& what) {
        DType t = DType::kF32;
        if (!ok()) return t;
        if (!v.is_string() || !dtype_from_name(v.get_ref<const std::string&>(), t)) fail(what + " is not a known dtype");
        return t;
    }
    // Shape of a tensor (no unknown dims) or of a value (-1 = unknown).
    Shape shape(const json& a, bool allow_unknown, const std::string& what) {
        Shape s;
        if (!ok()) return s;
        if (!a.is_array() || a.size() > 16) {
            fail(what + " is not a shape");
            return s;
        }
        int64_t numel = 1;
        for (size_t i = 0; i < a.size() && ok(); ++i) {
            const int64_t d = integer(a[i], allow_unknown ? -1 : 0, kMaxNumel, what + "[" + std::to_string(i) + "]");
            if (!allow_unknown) {
                if (d > 0 && numel > kMaxNumel / d) {
                    fail(what + " is absurdly large");
                    return s;
                }
                numel *= d;
            }
            s.push_back(d);
        }
        return s;
    }
};

struct BlobArea {
    std::shared_ptr<std::byte> base;  // 64-byte aligned start of the blob area (aliases the file buffer)
    uint64_t bytes = 0;
    bool copy = false;  // copy instead of aliasing (set when fp16 blobs are widened: keep no half-used buffer)
    PlanFileStats* stats = nullptr;
};

Tensor decode_tensor(Decoder& d, const json& j, const BlobArea& area, const std::string& what) {
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

Attr decode_attr(Decoder& d, const json& j, const BlobArea& area, const std::string& what) {
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
        a = Attr::of_int(d.integer(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                                   what + ".value"));
    } else if (kind == "float") {
        a = Attr::of_float(d.floating(v, what + ".value"));
    } else if (kind == "string") {
        a = Attr::of_string(d.string_item(v, what + ".value"));
    } else if (kind == "ints") {
        a = Attr::of_ints(d.ints(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                                 what + ".value"));
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

void decode_info(Decoder& d, const json& h, PlanInfo& p) {
    const json& t = d.object(h, "target", "header");
    p.backend = d.str(t, "backend", "target");
    p.target_key = d.str(t, "key", "target");
    const std::string prec = d.str(t, "precision", "target");
    if (d.ok()) {
        auto pr = parse_precision(prec);
        if (!pr) d.fail("target.precision '" + prec + "' is not a precision");
        else p.precision = *pr;
    }
    const std::vector<int64_t> imgsz = d.ints(d.array(t, "imgsz", "target"), 0, kMaxImgsz, "target.imgsz");
    if (d.ok() && imgsz.size() != 2) d.fail("target.imgsz must be [h, w]");
    if (d.ok()) {
        p.height = static_cast<int>(imgsz[0]);
        p.width = static_cast<int>(imgsz[1]);
    }
    for (int64_t b : d.ints(d.array(t, "batch_sizes", "target"), 1, kMaxBatch, "target.batch_sizes"))
        p.batch_sizes.push_back(static_cast<int>(b));
    for (size_t i = 1; d.ok() && i < p.batch_sizes.size(); ++i)
        if (p.batch_sizes[i] <= p.batch_sizes[i - 1]) d.fail("target.batch_sizes are not sorted and unique");
    const json& tuning = d.array(t, "tuning", "target");
    for (size_t i = 0; d.ok() && i < tuning.size(); ++i) {
        const std::string w = "target.tuning[" + std::to_string(i) + "]";
        const int b = static_cast<int>(d.integer(tuning[i], "batch", 1, kMaxBatch, w));
        std::string s = d.str(tuning[i], "tuning", w);
        if (!d.ok()) break;
        if (std::find(p.batch_sizes.begin(), p.batch_sizes.end(), b) == p.batch_sizes.end())
            d.fail(w + ": batch " + std::to_string(b) + " is not among target.batch_sizes");
        else if (!p.tuning.emplace(b, std::move(s)).second)
            d.fail(w + ": batch " + std::to_string(b) + " appears twice");
    }
    p.autotune = d.boolean(t, "autotune", "target");
    p.performance = d.str(t, "performance", "target");
    if (d.ok()) {
        if (p.portable()) {
            if (!p.target_key.empty() || !p.tuning.empty() || !p.batch_sizes.empty())
                d.fail("a portable plan has no target key, batch sizes or tuning");
        } else {
            if (p.backend.empty() || p.target_key.empty()) d.fail("target.backend and target.key must be set");
            else if (p.batch_sizes.empty()) d.fail("target.batch_sizes is empty");
            else if (p.height <= 0 || p.width <= 0) d.fail("target.imgsz must be positive");
            else if (p.tuning.size() != p.batch_sizes.size()) d.fail("target.tuning must have one entry per batch size");
        }
    }
    const json& c = d.object(h, "creator", "header");
    p.creator = d.str(c, "itscam", "creator");
    p.created = d.str(c, "created", "creator");
    const json& s = d.object(h, "source", "header");
    p.source_path = d.str(s, "path", "source");
    p.source_sha256 = d.str(s, "sha256", "source");
    p.source_bytes = d.integer(s, "bytes", 0, std::numeric_limits<int64_t>::max(), "source");
}

void decode_graph(Decoder& d, const json& j, const BlobArea& area, Graph& g) {
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
            if (d.ok() && !n.attrs.emplace(std::move(key), std::move(a)).second) d.fail(wa + ": attribute listed twice");
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
    const std::vector<int64_t> imgsz = d.ints(d.array(md, "imgsz", "metadata"), 1, kMaxImgsz, "metadata.imgsz");
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

struct Preamble {
    uint64_t header_bytes = 0, blobs_offset = 0, blobs_bytes = 0, checksum = 0;
};

// Checks the fixed fields against the file size.
Result<Preamble> parse_preamble(const std::byte* p, size_t avail, uint64_t file_size) {
    if (file_size == 0) return corrupt("the plan file is empty");
    if (avail < 8 || std::memcmp(p, kPlanMagic, 8) != 0) return corrupt("not an itscam plan (bad magic)");
    if (avail < kPlanPreambleBytes)
        return corrupt("truncated plan: " + std::to_string(file_size) + " bytes, shorter than its " +
                       std::to_string(kPlanPreambleBytes) + "-byte preamble");
    const uint32_t version = get_u32(p + 8);
    if (version != kPlanFormatVersion)
        return unsupported("plan format version " + std::to_string(version) + " is not supported (this itscam reads " +
                           std::to_string(kPlanFormatVersion) + "): rebuild it with `itscam optimize`");
    if (get_u32(p + 12) != 0) return corrupt("plan preamble: reserved field is not zero");
    Preamble pr;
    pr.header_bytes = get_u64(p + 16);
    pr.blobs_offset = get_u64(p + 24);
    pr.blobs_bytes = get_u64(p + 32);
    pr.checksum = get_u64(p + 40);
    for (size_t i = 48; i < kPlanPreambleBytes; ++i)
        if (p[i] != std::byte{0}) return corrupt("plan preamble: reserved bytes are not zero");
    if (pr.header_bytes == 0 || pr.header_bytes > kMaxHeaderBytes)
        return corrupt("plan preamble: header size " + std::to_string(pr.header_bytes) + " is invalid");
    if (pr.blobs_offset % 64 != 0 || pr.blobs_offset < kPlanPreambleBytes + pr.header_bytes ||
        pr.blobs_offset - (kPlanPreambleBytes + pr.header_bytes) >= 64)
        return corrupt("plan preamble: blob offset " + std::to_string(pr.blobs_offset) + " is invalid");
    if (pr.blobs_offset > file_size || pr.blobs_bytes != file_size - pr.blobs_offset) {
        const bool overflow = pr.blobs_bytes > std::numeric_limits<uint64_t>::max() - pr.blobs_offset;
        return corrupt("truncated or padded plan: the preamble describes " +
                       (overflow ? std::string("an impossible size")
                                 : std::to_string(pr.blobs_offset + pr.blobs_bytes) + " bytes") +
                       ", the file has " + std::to_string(file_size));
    }
    return pr;
}

Result<json> parse_header(const std::byte* p, const Preamble& pr) {
    const char* b = reinterpret_cast<const char*>(p + kPlanPreambleBytes);
    // JSON text has no NUL bytes (the parser would take one as the end of input).
    if (std::memchr(b, 0, pr.header_bytes) != nullptr) return corrupt("plan header holds a NUL byte (corrupt file?)");
    json h = json::parse(b, b + pr.header_bytes, nullptr, /*allow_exceptions=*/false);
    if (h.is_discarded() || !h.is_object()) return corrupt("plan header is not a JSON object (corrupt file?)");
    auto f = h.find("format");
    if (f == h.end() || !f->is_string() || f->get_ref<const std::string&>() != "itscam-plan")
        return corrupt("plan header: format is not 'itscam-plan'");
    return h;
}

Result<Plan> parse_buffer(const std::shared_ptr<std::byte>& buf, size_t size, const PlanParseOptions& opt,
                          PlanFileStats* stats) {
    ITSCAM_ASSIGN_OR_RETURN(Preamble pr, parse_preamble(buf.get(), size, size));
    if (opt.verify_checksum && plan_checksum(buf.get() + kPlanPreambleBytes, size - kPlanPreambleBytes) != pr.checksum)
        return corrupt("plan checksum mismatch: the file is corrupt (rebuild it with `itscam optimize`)");
    ITSCAM_ASSIGN_OR_RETURN(json h, parse_header(buf.get(), pr));
    Plan plan;
    PlanFileStats st;
    st.file_bytes = size;
    st.header_bytes = pr.header_bytes;
    st.blob_bytes = pr.blobs_bytes;
    try {
        Decoder d;
        decode_info(d, h, plan.info);
        const json& g = d.object(h, "graph", "header");
        BlobArea area{std::shared_ptr<std::byte>(buf, buf.get() + pr.blobs_offset), pr.blobs_bytes,
                      plan.info.precision == Precision::kF16, &st};
        decode_graph(d, g, area, plan.graph);
        if (!d.ok()) return d.st;
    } catch (const nlohmann::json::exception& e) {
        return corrupt(std::string("plan header: ") + e.what());
    }
    Status v = plan.graph.verify();
    if (!v.is_ok()) return corrupt("plan graph is invalid: " + v.message());
    if (stats) *stats = st;
    return plan;
}

Status read_fully(int fd, std::byte* dst, size_t n, const std::string& path) {
    size_t done = 0;
    while (done < n) {
        const ssize_t r = ::read(fd, dst + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_error("cannot read plan '" + path + "': " + std::strerror(errno));
        if (r == 0) return corrupt("plan '" + path + "' changed size while being read");
        done += static_cast<size_t>(r);
    }
    return Status::ok();
}

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Result<uint64_t> open_plan(const std::string& path, Fd& f) {
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return io_error("cannot open plan '" + path + "': " + std::strerror(errno));
    struct stat sb{};
    if (::fstat(f.fd, &sb) != 0) return io_error("cannot stat plan '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(sb.st_mode)) return io_error("plan '" + path + "' is not a regular file");
    return static_cast<uint64_t>(sb.st_size);
}

}  // namespace

uint64_t plan_checksum(const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    size_t i = 0;
    for (; i + 32 <= size; i += 32) {
        v1 = round64(v1, load64(p + i));
        v2 = round64(v2, load64(p + i + 8));
        v3 = round64(v3, load64(p + i + 16));
        v4 = round64(v4, load64(p + i + 24));
    }
    uint64_t h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18) + static_cast<uint64_t>(size);
    for (; i + 8 <= size; i += 8) h = rotl(h ^ round64(0, load64(p + i)), 27) * kP1 + kP3;
    for (; i < size; ++i) h = rotl(h ^ (p[i] * kP3), 11) * kP1;
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
}

std::string sha256_hex(const void* data, size_t size) {
    Sha256 s;
    s.update(data, size);
    return s.hex();
}

Result<std::string> sha256_file(const std::string& path) {
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return io_error("cannot open '" + path + "': " + std::strerror(errno));
    Sha256 s;
    std::vector<unsigned char> buf(1 << 20);
    for (;;) {
        const ssize_t r = ::read(f.fd, buf.data(), buf.size());
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_error("cannot read '" + path + "': " + std::strerror(errno));
        if (r == 0) break;
        s.update(buf.data(), static_cast<size_t>(r));
    }
    return s.hex();
}

std::string itscam_version_string() { return std::string("itscam ") + ITSCAM_VERSION; }

Result<std::string> plan_serialize(const Plan& plan) {
    const PlanInfo& p = plan.info;
    if (p.portable()) {
        if (!p.target_key.empty() || !p.tuning.empty() || !p.batch_sizes.empty())
            return invalid_argument("a portable plan has no target key, batch sizes or tuning");
    } else {
        if (p.backend.empty() || p.target_key.empty()) return invalid_argument("a plan's target needs a backend and key");
        if (p.batch_sizes.empty()) return invalid_argument("a targeted plan needs at least one batch size");
        for (size_t i = 0; i < p.batch_sizes.size(); ++i) {
            if (p.batch_sizes[i] < 1 || p.batch_sizes[i] > kMaxBatch) return invalid_argument("batch sizes must be in 1..4096");
            if (i && p.batch_sizes[i] <= p.batch_sizes[i - 1]) return invalid_argument("batch sizes must be sorted and unique");
            if (!p.tuning.count(p.batch_sizes[i]))
                return invalid_argument("no tuning for batch " + std::to_string(p.batch_sizes[i]));
        }
        if (p.tuning.size() != p.batch_sizes.size()) return invalid_argument("tuning for a batch size not served");
        if (p.height <= 0 || p.width <= 0) return invalid_argument("a targeted plan needs its input size");
    }
    Writer w;
    w.fp16 = p.precision == Precision::kF16;
    std::string header;
    try {
        json h = info_to_json(p);
        h["format"] = "itscam-plan";
        h["version"] = kPlanFormatVersion;
        h["graph"] = w.graph(plan.graph);
        header = h.dump();  // throws on invalid UTF-8 in a name
    } catch (const nlohmann::json::exception& e) {
        return invalid_argument(std::string("cannot encode the plan header: ") + e.what());
    }
    const uint64_t blobs_offset = align64(kPlanPreambleBytes + header.size());
    const uint64_t blobs_bytes = align64(w.end);
    std::string out(blobs_offset + blobs_bytes, '\0');
    std::memcpy(out.data(), kPlanMagic, 8);
    put_u32(out, 8, kPlanFormatVersion);
    put_u64(out, 16, header.size());
    put_u64(out, 24, blobs_offset);
    put_u64(out, 32, blobs_bytes);
    std::memcpy(out.data() + kPlanPreambleBytes, header.data(), header.size());
    for (const auto& b : w.blobs)
        if (b.bytes) std::memcpy(out.data() + blobs_offset + b.offset, b.data, b.bytes);
    put_u64(out, 40, plan_checksum(out.data() + kPlanPreambleBytes, out.size() - kPlanPreambleBytes));
    return out;
}

Status plan_write(const Plan& plan, const std::string& path) {
    ITSCAM_ASSIGN_OR_RETURN(std::string bytes, plan_serialize(plan));
    namespace fs = std::filesystem;
    const fs::path target(path);
    std::random_device rd;
    const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("cannot create '" + tmp + "': " + std::strerror(errno));
    auto fail = [&](const std::string& what) {
        const std::string msg = what + " '" + tmp + "': " + std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return io_error(msg);
    };
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t r = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail("cannot write");
        done += static_cast<size_t>(r);
    }
    if (::fsync(fd) != 0) return fail("cannot sync");
    if (::close(fd) != 0) {
        ::unlink(tmp.c_str());
        return io_error("cannot close '" + tmp + "': " + std::strerror(errno));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string msg = std::strerror(errno);
        ::unlink(tmp.c_str());
        return io_error("cannot rename '" + tmp + "' to '" + path + "': " + msg);
    }
    // Make the rename durable.
    const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return Status::ok();
}

Result<Plan> plan_parse(const void* data, size_t size, const PlanParseOptions& opt, PlanFileStats* stats) {
    std::shared_ptr<std::byte> buf = aligned_buffer(size);
    if (size) std::memcpy(buf.get(), data, size);
    return parse_buffer(buf, size, opt, stats);
}

Result<Plan> plan_read(const std::string& path, PlanFileStats* stats) {
    Fd f;
    auto size = open_plan(path, f);
    if (!size) return size.status();
    if (*size > (uint64_t{1} << 40)) return corrupt("plan '" + path + "' is absurdly large");
    // Check the preamble before allocating the whole file.
    std::byte pre[kPlanPreambleBytes];
    const size_t head = static_cast<size_t>(std::min<uint64_t>(*size, kPlanPreambleBytes));
    Status st = read_fully(f.fd, pre, head, path);
    if (!st.is_ok()) return st;
    auto pr = parse_preamble(pre, head, *size);
    if (!pr) return pr.status().with_context(path);
    std::shared_ptr<std::byte> buf = aligned_buffer(static_cast<size_t>(*size));
    std::memcpy(buf.get(), pre, head);
    st = read_fully(f.fd, buf.get() + head, static_cast<size_t>(*size) - head, path);
    if (!st.is_ok()) return st;
    auto plan = parse_buffer(buf, static_cast<size_t>(*size), {}, stats);
    if (!plan) return plan.status().with_context(path);
    return plan;
}

Result<PlanInfo> plan_read_info(const std::string& path) {
    Fd f;
    auto size = open_plan(path, f);
    if (!size) return size.status();
    std::byte pre[kPlanPreambleBytes];
    const size_t head = static_cast<size_t>(std::min<uint64_t>(*size, kPlanPreambleBytes));
    ITSCAM_RETURN_IF_ERROR(read_fully(f.fd, pre, head, path));
    auto pr = parse_preamble(pre, head, *size);
    if (!pr) return pr.status().with_context(path);
    std::vector<std::byte> buf(kPlanPreambleBytes + pr->header_bytes);
    std::memcpy(buf.data(), pre, kPlanPreambleBytes);
    ITSCAM_RETURN_IF_ERROR(read_fully(f.fd, buf.data() + kPlanPreambleBytes, pr->header_bytes, path));
    auto h = parse_header(buf.data(), *pr);
    if (!h) return h.status().with_context(path);
    PlanInfo info;
    try {
        Decoder d;
        decode_info(d, *h, info);
        if (!d.ok()) return d.st.with_context(path);
    } catch (const nlohmann::json::exception& e) {
        return corrupt(path + ": plan header: " + e.what());
    }
    return info;
}

bool is_plan_file(const std::string& path) {
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return false;
    char magic[8];
    size_t done = 0;
    while (done < 8) {
        const ssize_t r = ::read(f.fd, magic + done, 8 - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        done += static_cast<size_t>(r);
    }
    return std::memcmp(magic, kPlanMagic, 8) == 0;
}

}  // namespace itscam
