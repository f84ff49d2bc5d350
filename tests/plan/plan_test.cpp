// Plans (runtime/plan.h): exact round trips of the graph (every attribute kind, every dtype, metadata), fp16
// storage, engines from plans against engines from the ONNX model, the target checks with their messages, and
// truncated / corrupted / forged plans, which must come back as errors and never crash.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/dtype.h"
#include "ops/op_registry.h"
#include "runtime/engine.h"
#include "runtime/plan.h"

#ifdef ITSCAM_HAVE_ONNX
#include "onnx/onnx_importer.h"
#endif

namespace itscam {
namespace {

const std::string kShared = ITSCAM_SHARED_DIR;
std::string temp_path(const std::string& name) { return std::string(ITSCAM_BINARY_DIR) + "/plan_test_" + name; }

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream os;
    os << f.rdbuf();
    return os.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << path;
}

template <typename T>
Tensor make(DType dt, Shape shape, const std::vector<T>& v) {
    Tensor t = Tensor::empty(dt, std::move(shape));
    EXPECT_EQ(static_cast<size_t>(t.numel()), v.size());
    if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * sizeof(T));
    return t;
}

float bits_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// A small graph that uses every attribute kind (with awkward floats and strings), every dtype, an absent optional
// input, a scalar, an empty tensor and full metadata.
Graph sample_graph() {
    Graph g;
    g.name = "sample \"graph\" é";
    g.opset = 17;
    g.inputs = {"x"};
    g.values["x"] = {DType::kF32, {-1, 3, 8, 8}};
    auto add_const = [&](const std::string& name, Tensor t) {
        g.values[name] = {t.dtype(), t.shape()};
        g.constants[name] = std::move(t);
    };
    add_const("w", make<float>(DType::kF32, {4, 3, 1, 1}, {0.1f, -0.2f, 0.3f, 1.f, 2.f, 3.f, -1.5f, 1e-3f, 7.f, 0.f, -0.f, 65504.f}));
    add_const("b", make<float>(DType::kF32, {4}, {0.5f, -0.25f, 1.f / 3, 100.f}));
    add_const("big", make<float>(DType::kF32, {3}, {1e6f, -1e6f, 0.5f}));  // beyond fp16: stays fp32
    add_const("scalar", make<float>(DType::kF32, {}, {2.5f}));
    add_const("empty", Tensor::empty(DType::kF32, {0, 3}));
    add_const("h16", make<uint16_t>(DType::kF16, {2}, {float_to_half(1.5f), float_to_half(-3.f)}));
    add_const("bf", make<uint16_t>(DType::kBF16, {2}, {float_to_bf16(1.5f), float_to_bf16(-3.f)}));
    add_const("i8", make<int8_t>(DType::kI8, {3}, {-128, 0, 127}));
    add_const("u8", make<uint8_t>(DType::kU8, {3}, {0, 1, 255}));
    add_const("i32", make<int32_t>(DType::kI32, {2}, {std::numeric_limits<int32_t>::min(), 7}));
    add_const("i64", make<int64_t>(DType::kI64, {2}, {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}));
    add_const("bool", make<uint8_t>(DType::kBool, {2}, {0, 1}));
    add_const("f64", make<double>(DType::kF64, {2}, {1e300, -0.1}));

    Node conv;
    conv.op = "Conv";
    conv.name = "/model.0/conv/Conv";
    conv.inputs = {"x", "w", "b"};
    conv.outputs = {"y"};
    conv.attrs["kernel_shape"] = Attr::of_ints({1, 1});
    conv.attrs["strides"] = Attr::of_ints({1, 1});
    conv.attrs["pads"] = Attr::of_ints({0, 0, 0, 0});
    conv.attrs["group"] = Attr::of_int(1);
    conv.attrs["huge"] = Attr::of_int(std::numeric_limits<int64_t>::min());
    conv.attrs["activation"] = Attr::of_string("silu");
    conv.attrs["odd"] = Attr::of_string("é\n\t\"quoted\" \\ \x01");
    conv.attrs["alpha"] = Attr::of_float(std::numeric_limits<float>::quiet_NaN());
    conv.attrs["beta"] = Attr::of_float(-std::numeric_limits<float>::infinity());
    conv.attrs["gamma"] = Attr::of_float(bits_float(0x00000001));  // smallest subnormal
    conv.attrs["floats"] = Attr::of_floats({1.5f, std::numeric_limits<float>::infinity(), -0.f, 3.4028235e38f,
                                            std::numeric_limits<float>::quiet_NaN()});
    conv.attrs["ints_empty"] = Attr::of_ints({});
    conv.attrs["t"] = Attr::of_tensor(make<int64_t>(DType::kI64, {3}, {1, -2, 3}));
    conv.attrs["t_f32"] = Attr::of_tensor(make<float>(DType::kF32, {1}, {0.1f}));  // attribute tensors stay exact
    conv.attrs["t_undef"] = Attr::of_tensor(Tensor());
    g.nodes.push_back(conv);

    Node add;
    add.op = "Add";
    add.name = "add";
    add.inputs = {"y", "scalar"};
    add.outputs = {"z"};
    g.nodes.push_back(add);

    Node clip;  // absent optional input
    clip.op = "Clip";
    clip.name = "clip";
    clip.inputs = {"z", "", "scalar"};
    clip.outputs = {"c"};
    g.nodes.push_back(clip);

    Node relu;
    relu.op = "Relu";
    relu.name = "relu";
    relu.inputs = {"z"};
    relu.outputs = {"out"};
    g.nodes.push_back(relu);

    g.outputs = {"out", "c"};
    g.values["y"] = {DType::kF32, {-1, 4, 8, 8}};
    g.values["out"] = {DType::kF32, {-1, 4, 8, 8}};

    ModelMetadata& m = g.metadata;
    m.task = "detect";
    m.stride = 16;
    m.imgsz_h = 320;
    m.imgsz_w = 480;
    m.batch = 2;
    m.names = {"person", "bicycle", "人", ""};
    m.description = "a sample";
    m.version = "8.4.21";
    m.author = "tests";
    m.raw = {{"names", "{0: 'person', 1: 'bicycle'}"}, {"imgsz", "[320, 480]"}, {"custom", "x\ny"}};
    EXPECT_TRUE(g.verify().is_ok());
    return g;
}

bool same_float(float a, float b) { return std::memcmp(&a, &b, 4) == 0 || (std::isnan(a) && std::isnan(b)); }

void expect_tensor_eq(const Tensor& a, const Tensor& b, const std::string& what) {
    ASSERT_EQ(a.defined(), b.defined()) << what;
    if (!a.defined()) return;
    ASSERT_EQ(a.dtype(), b.dtype()) << what;
    ASSERT_EQ(a.shape(), b.shape()) << what;
    ASSERT_EQ(a.nbytes(), b.nbytes()) << what;
    if (a.nbytes()) {
        EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << what << ": data differs";
    }
}

void expect_graph_eq(const Graph& a, const Graph& b) {
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.opset, b.opset);
    EXPECT_EQ(a.inputs, b.inputs);
    EXPECT_EQ(a.outputs, b.outputs);
    ASSERT_EQ(a.values.size(), b.values.size());
    for (const auto& [k, v] : a.values) {
        ASSERT_TRUE(b.values.count(k)) << k;
        EXPECT_EQ(v.dtype, b.values.at(k).dtype) << k;
        EXPECT_EQ(v.shape, b.values.at(k).shape) << k;
    }
    ASSERT_EQ(a.constants.size(), b.constants.size());
    for (const auto& [k, t] : a.constants) {
        ASSERT_TRUE(b.constants.count(k)) << k;
        expect_tensor_eq(t, b.constants.at(k), "constant " + k);
    }
    ASSERT_EQ(a.nodes.size(), b.nodes.size());
    for (size_t i = 0; i < a.nodes.size(); ++i) {
        const Node &x = a.nodes[i], &y = b.nodes[i];
        EXPECT_EQ(x.op, y.op);
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.inputs, y.inputs);
        EXPECT_EQ(x.outputs, y.outputs);
        ASSERT_EQ(x.attrs.size(), y.attrs.size()) << x.name;
        for (const auto& [k, p] : x.attrs) {
            ASSERT_TRUE(y.attrs.count(k)) << x.name << "." << k;
            const Attr& q = y.attrs.at(k);
            const std::string w = x.name + "." + k;
            ASSERT_EQ(p.kind, q.kind) << w;
            switch (p.kind) {
                case Attr::Kind::kInt: EXPECT_EQ(p.i, q.i) << w; break;
                case Attr::Kind::kFloat: EXPECT_TRUE(same_float(p.f, q.f)) << w << ": " << p.f << " vs " << q.f; break;
                case Attr::Kind::kString: EXPECT_EQ(p.s, q.s) << w; break;
                case Attr::Kind::kInts: EXPECT_EQ(p.ints, q.ints) << w; break;
                case Attr::Kind::kFloats:
                    ASSERT_EQ(p.floats.size(), q.floats.size()) << w;
                    for (size_t j = 0; j < p.floats.size(); ++j) EXPECT_TRUE(same_float(p.floats[j], q.floats[j])) << w;
                    break;
                case Attr::Kind::kTensor: expect_tensor_eq(p.t, q.t, w); break;
            }
        }
    }
    const ModelMetadata &m = a.metadata, &n = b.metadata;
    EXPECT_EQ(m.task, n.task);
    EXPECT_EQ(m.stride, n.stride);
    EXPECT_EQ(m.imgsz_h, n.imgsz_h);
    EXPECT_EQ(m.imgsz_w, n.imgsz_w);
    EXPECT_EQ(m.batch, n.batch);
    EXPECT_EQ(m.names, n.names);
    EXPECT_EQ(m.description, n.description);
    EXPECT_EQ(m.version, n.version);
    EXPECT_EQ(m.author, n.author);
    EXPECT_EQ(m.raw, n.raw);
}

// SHA-256 hex of `n` bytes, or "" (and a test failure) when libcrypto fails.
std::string sha256_of(const void* data, size_t n) {
    auto r = sha256_hex(data, n);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : std::string();
}

PlanInfo targeted_info(const std::string& backend, const std::string& key, Precision p, std::vector<int> batches) {
    PlanInfo i;
    i.backend = backend;
    i.target_key = key;
    i.precision = p;
    i.height = 320;
    i.width = 480;
    i.batch_sizes = batches;
    for (int b : batches) i.tuning[b] = b == 1 ? "conv0 algo=3 ws=0\nconv1 algo=1 ws=4096\n" : "";
    i.autotune = true;
    i.performance = "fast";
    i.creator = itscam_version_string();
    i.created = "2026-11-30T01:02:03.456Z";
    i.source_path = "/models/sample.onnx";
    i.source_sha256 = sha256_of("abc", 3);
    i.source_bytes = 12345;
    return i;
}

TEST(Plan, Sha256KnownAnswers) {
    EXPECT_EQ(sha256_of("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_of("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    EXPECT_EQ(sha256_of(two.data(), two.size()), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const std::string million(1000000, 'a');
    EXPECT_EQ(sha256_of(million.data(), million.size()),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // A file: read in 1 MiB chunks, so a million and one bytes end in a second, partial chunk.
    const std::string path = temp_path("sha256.bin");
    write_bytes(path, million + "b");
    auto f = sha256_file(path);
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
    EXPECT_EQ(*f, sha256_of((million + "b").data(), million.size() + 1));
    EXPECT_NE(*f, sha256_of(million.data(), million.size()));
    std::remove(path.c_str());
    auto missing = sha256_file(path);
    ASSERT_FALSE(missing.is_ok());
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    EXPECT_NE(missing.status().message().find("cannot open '" + path + "'"), std::string::npos)
        << missing.status().to_string();
}

TEST(Plan, RoundTripIsExact) {
    Plan p;
    p.graph = sample_graph();
    p.info = targeted_info("cpu", "cpu|test machine", Precision::kF32, {1, 8});
    auto bytes = plan_serialize(p);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
    EXPECT_EQ(std::memcmp(bytes->data(), "ITSCPLAN", 8), 0);
    PlanFileStats st;
    auto q = plan_parse(bytes->data(), bytes->size(), {}, &st);
    ASSERT_TRUE(q.is_ok()) << q.status().to_string();
    expect_graph_eq(p.graph, q->graph);
    EXPECT_EQ(st.fp16_stored, 0u);
    EXPECT_EQ(st.file_bytes, bytes->size());
    const PlanInfo &a = p.info, &b = q->info;
    EXPECT_EQ(a.backend, b.backend);
    EXPECT_EQ(a.target_key, b.target_key);
    EXPECT_EQ(a.precision, b.precision);
    EXPECT_EQ(a.height, b.height);
    EXPECT_EQ(a.width, b.width);
    EXPECT_EQ(a.batch_sizes, b.batch_sizes);
    EXPECT_EQ(a.tuning, b.tuning);
    EXPECT_EQ(a.autotune, b.autotune);
    EXPECT_EQ(a.performance, b.performance);
    EXPECT_EQ(a.creator, b.creator);
    EXPECT_EQ(a.created, b.created);
    EXPECT_EQ(a.source_path, b.source_path);
    EXPECT_EQ(a.source_sha256, b.source_sha256);
    EXPECT_EQ(a.source_bytes, b.source_bytes);
    // Blobs are 64-byte aligned in memory after loading.
    for (const auto& [k, t] : q->graph.constants)
        if (t.numel()) {
            EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u) << k;
        }

    // Through a file (atomic write), whatever the extension; the header alone too.
    const std::string path = temp_path("roundtrip.onnx");
    ASSERT_TRUE(plan_write(p, path).is_ok());
    EXPECT_TRUE(is_plan_file(path));
    auto r = plan_read(path);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    expect_graph_eq(p.graph, r->graph);
    auto info = plan_read_info(path);
    ASSERT_TRUE(info.is_ok()) << info.status().to_string();
    EXPECT_EQ(info->tuning, a.tuning);
    EXPECT_EQ(info->target_key, a.target_key);
    std::remove(path.c_str());
    EXPECT_FALSE(is_plan_file(path));
    EXPECT_FALSE(is_plan_file(kShared + "/models/yolo11n.onnx"));
}

TEST(Plan, PortableRoundTrip) {
    Plan p;
    p.graph = sample_graph();
    p.info.creator = itscam_version_string();
    auto bytes = plan_serialize(p);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
    auto q = plan_parse(bytes->data(), bytes->size());
    ASSERT_TRUE(q.is_ok()) << q.status().to_string();
    EXPECT_TRUE(q->info.portable());
    EXPECT_TRUE(q->info.batch_sizes.empty());
    expect_graph_eq(p.graph, q->graph);
    // A portable plan has no key, batches or tuning.
    p.info.target_key = "x";
    EXPECT_FALSE(plan_serialize(p).is_ok());
}

TEST(Plan, Fp16StorageRoundTrip) {
    Plan p;
    p.graph = sample_graph();
    p.info = targeted_info("cuda", "cuda|GPU|sm_90", Precision::kF16, {1});
    auto b16 = plan_serialize(p);
    p.info.precision = Precision::kF32;
    auto b32 = plan_serialize(p);
    ASSERT_TRUE(b16.is_ok() && b32.is_ok());
    PlanFileStats st;
    auto q = plan_parse(b16->data(), b16->size(), {}, &st);
    ASSERT_TRUE(q.is_ok()) << q.status().to_string();
    EXPECT_EQ(q->info.precision, Precision::kF16);
    EXPECT_EQ(st.fp16_stored, 3u);  // w, b, scalar (big does not fit, empty has nothing)
    for (const auto& [name, t] : p.graph.constants) {
        const Tensor& u = q->graph.constants.at(name);
        ASSERT_EQ(u.dtype(), t.dtype()) << name;  // widened back: the graph is as imported
        ASSERT_EQ(u.shape(), t.shape()) << name;
        if (t.dtype() != DType::kF32 || name == "big") {
            expect_tensor_eq(t, u, name);
            continue;
        }
        for (int64_t i = 0; i < t.numel(); ++i) {
            const float want = t.data<float>()[i], got = u.data<float>()[i];
            EXPECT_NEAR(got, want, std::fabs(want) * 1e-3f + 6e-8f) << name << "[" << i << "]";
            EXPECT_EQ(got, half_to_float(float_to_half(want))) << name << "[" << i << "]";
        }
    }
    // Attribute tensors are stored exactly.
    expect_tensor_eq(p.graph.nodes[0].attrs.at("t_f32").t, q->graph.nodes[0].attrs.at("t_f32").t, "t_f32");
}

TEST(Plan, RefusesBadPlans) {
    Plan p;
    p.graph = sample_graph();
    p.info = targeted_info("cpu", "cpu", Precision::kF32, {1});
    auto bytes = plan_serialize(p);
    ASSERT_TRUE(bytes.is_ok());
    auto expect_corrupt = [](const std::string& b, const std::string& what, const PlanParseOptions& o = {}) {
        auto r = plan_parse(b.data(), b.size(), o);
        ASSERT_FALSE(r.is_ok()) << what;
        EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().to_string();
    };
    expect_corrupt("", "empty");
    expect_corrupt("ITSCPL", "bad magic");
    expect_corrupt("not a plan at all, definitely not", "bad magic");
    expect_corrupt(bytes->substr(0, 40), "truncated");
    expect_corrupt(bytes->substr(0, bytes->size() - 1), "truncated");
    expect_corrupt(*bytes + "x", "padded");
    std::string v = *bytes;
    v[8] = 2;
    auto r = plan_parse(v.data(), v.size());
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(r.status().message().find("format version 2"), std::string::npos);
    std::string c = *bytes;
    c[c.size() - 10] ^= 0x40;
    expect_corrupt(c, "checksum");
    // A file on disk: the message names it; Engine::load says the same.
    const std::string path = temp_path("truncated.plan");
    write_bytes(path, bytes->substr(0, bytes->size() / 2));
    auto e = Engine::load(path, EngineOptions{});
    ASSERT_FALSE(e.is_ok());
    EXPECT_NE(e.status().message().find(path), std::string::npos) << e.status().to_string();
    EXPECT_NE(e.status().message().find("truncated"), std::string::npos) << e.status().to_string();
    std::remove(path.c_str());
}

// ---- plans written by earlier builds ----
//
// tests/plan/data/golden_v1_*.plan were written by the code before the split of runtime/plan.cpp (its hand-written
// SHA-256), by the disabled test PlanGolden.DISABLED_Write below:
//   ITSCAM_PLAN_GOLDEN_OUT=tests/plan/data itscam_plan_tests --gtest_also_run_disabled_tests
//       --gtest_filter=PlanGolden.DISABLED_Write
// sample_graph() is frozen into them: add new cases to another graph. Today's code must load them unchanged and
// write the same bytes again (same layout, same checksum, same SHA-256 of the source).

// 1,000,037 deterministic bytes (std::mt19937 is specified exactly): the golden plans' "source model", long
// enough to cross many SHA-256 blocks and to end on a partial one.
std::string golden_source() {
    std::mt19937 rng(11);
    std::string s(1000037, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

Plan golden_plan(bool portable) {
    Plan p;
    p.graph = sample_graph();
    if (!portable) p.info = targeted_info("cpu", "cpu|golden machine", Precision::kF16, {1, 8});
    p.info.creator = "itscam 0.1.0";  // fixed: not today's version string
    p.info.created = "2026-11-30T01:02:03.456Z";
    p.info.source_path = "/models/golden.onnx";
    const std::string src = golden_source();
    p.info.source_sha256 = sha256_of(src.data(), src.size());
    p.info.source_bytes = static_cast<int64_t>(src.size());
    return p;
}

const std::string kGoldenDir = ITSCAM_PLAN_TEST_DATA;
const char* golden_name(bool portable) {
    return portable ? "golden_v1_portable.plan" : "golden_v1_fp16.plan";
}

TEST(PlanGolden, DISABLED_Write) {
    const char* dir = std::getenv("ITSCAM_PLAN_GOLDEN_OUT");
    if (!dir) GTEST_SKIP() << "set ITSCAM_PLAN_GOLDEN_OUT to the folder to write the golden plans to";
    for (bool portable : {false, true}) {
        const std::string path = std::string(dir) + "/" + golden_name(portable);
        ASSERT_TRUE(plan_write(golden_plan(portable), path).is_ok()) << path;
    }
}

TEST(PlanGolden, OldPlansLoadAndRewriteIdentically) {
    // Known answer of the golden source, independent of any SHA-256 code in this tree.
    const std::string src = golden_source();
    for (bool portable : {false, true}) {
        const std::string path = kGoldenDir + "/" + golden_name(portable);
        SCOPED_TRACE(path);
        const std::string old_bytes = read_bytes(path);
        ASSERT_GT(old_bytes.size(), kPlanPreambleBytes);
        // The checksum the old code wrote is the one this code computes.
        uint64_t stored = 0;
        for (int i = 7; i >= 0; --i) stored = (stored << 8) | static_cast<uint8_t>(old_bytes[40 + i]);
        EXPECT_EQ(plan_checksum(old_bytes.data() + kPlanPreambleBytes, old_bytes.size() - kPlanPreambleBytes), stored);
        PlanFileStats st;
        auto r = plan_read(path, &st);
        ASSERT_TRUE(r.is_ok()) << r.status().to_string();
        const Plan want = golden_plan(portable);
        // The fp16 plan stored w, b and scalar as fp16 ("big" does not fit): they load fp16-rounded.
        Graph expect = want.graph;
        if (!portable)
            for (const char* name : {"w", "b", "scalar"}) {
                Tensor& t = expect.constants.at(name);
                t = t.clone();
                for (int64_t i = 0; i < t.numel(); ++i)
                    t.data<float>()[i] = half_to_float(float_to_half(t.data<float>()[i]));
            }
        expect_graph_eq(expect, r->graph);
        EXPECT_EQ(st.fp16_stored, portable ? 0u : 3u);
        const PlanInfo &a = want.info, &b = r->info;
        EXPECT_EQ(b.portable(), portable);
        EXPECT_EQ(a.backend, b.backend);
        EXPECT_EQ(a.target_key, b.target_key);
        EXPECT_EQ(a.precision, b.precision);
        EXPECT_EQ(a.batch_sizes, b.batch_sizes);
        EXPECT_EQ(a.tuning, b.tuning);
        EXPECT_EQ(a.creator, b.creator);
        EXPECT_EQ(a.created, b.created);
        EXPECT_EQ(b.source_bytes, static_cast<int64_t>(src.size()));
        // The source digest the old hand-written SHA-256 wrote is the one this code computes.
        EXPECT_EQ(b.source_sha256, sha256_of(src.data(), src.size()));
        EXPECT_EQ(b.source_sha256.size(), 64u);
        // Written again from what was loaded: byte for byte the old file.
        auto again = plan_serialize(*r);
        ASSERT_TRUE(again.is_ok()) << again.status().to_string();
        EXPECT_TRUE(*again == old_bytes) << "re-serializing an old plan changed its bytes";
        // And from the original description.
        auto fresh = plan_serialize(want);
        ASSERT_TRUE(fresh.is_ok());
        EXPECT_TRUE(*fresh == old_bytes) << "today's writer does not reproduce the old plan";
    }
    // The header alone, as inspect reads it.
    auto info = plan_read_info(kGoldenDir + "/" + golden_name(false));
    ASSERT_TRUE(info.is_ok()) << info.status().to_string();
    EXPECT_EQ(info->target_key, "cpu|golden machine");
}

// ---- engines from plans ----

Plan tiny_plan(const std::string& backend, const std::string& key, std::vector<int> batches) {
    // A graph the reference backend builds in no time: one 1x1 conv + relu on a fixed 8x8 input.
    Plan p;
    p.graph = sample_graph();
    p.graph.nodes.resize(1);  // conv only
    for (auto* k : {"huge", "activation", "odd", "alpha", "beta", "gamma", "floats", "ints_empty", "t", "t_f32", "t_undef"})
        p.graph.nodes[0].attrs.erase(k);
    p.graph.outputs = {"y"};
    p.graph.metadata.imgsz_h = p.graph.metadata.imgsz_w = 8;
    if (backend == kPortableBackend) {
        p.info.creator = itscam_version_string();
        return p;
    }
    p.info = targeted_info(backend, key, Precision::kF32, std::move(batches));
    p.info.height = p.info.width = 8;
    for (auto& [b, t] : p.info.tuning) t.clear();  // the reference backend takes no tuning
    return p;
}

TEST(PlanEngine, TargetChecks) {
    EngineOptions o;
    o.device = "ref";
    // Right key: builds; the plan's input size is used.
    {
        Plan p = tiny_plan("ref", "ref", {1, 2});
        o.batch = 2;
        auto e = Engine::from_plan(p, o, "tiny.plan");
        ASSERT_TRUE(e.is_ok()) << e.status().to_string();
        EXPECT_EQ((*e)->batch(), 2);
        EXPECT_EQ((*e)->input_height(), 8);
        ASSERT_TRUE((*e)->plan_info().has_value());
        EXPECT_EQ((*e)->target_key(), "ref");
    }
    // Another machine's key.
    {
        Plan p = tiny_plan("ref", "ref|some other machine", {1});
        o.batch = 1;
        auto e = Engine::from_plan(p, o, "tiny.plan");
        ASSERT_FALSE(e.is_ok());
        EXPECT_EQ(e.status().message(),
                  "plan tiny.plan was built for ref|some other machine; this machine is ref: rebuild it with "
                  "`itscam optimize`");
    }
    // Another backend.
    {
        Plan p = tiny_plan("cuda", "cuda|NVIDIA H200|sm_90|cudnn 91400|cudart 13000", {1});
        auto e = Engine::from_plan(p, o, "tiny.plan");
        ASSERT_FALSE(e.is_ok());
        EXPECT_NE(e.status().message().find("plan tiny.plan was built for cuda|NVIDIA H200|sm_90"), std::string::npos)
            << e.status().message();
        EXPECT_NE(e.status().message().find("--device cuda"), std::string::npos) << e.status().message();
    }
    // A batch size the plan does not serve.
    {
        Plan p = tiny_plan("ref", "ref", {1, 2, 8});
        o.batch = 4;
        auto e = Engine::from_plan(p, o, "tiny.plan");
        ASSERT_FALSE(e.is_ok());
        EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(e.status().message().find("serves batch sizes 1, 2, 8, not 4"), std::string::npos)
            << e.status().message();
        o.batch = 1;
    }
    // Precision: the plan's unless another is asked for explicitly.
    {
        Plan p = tiny_plan("ref", "ref", {1});
        o.precision = Precision::kBF16;
        auto e = Engine::from_plan(p, o, "tiny.plan");
        ASSERT_TRUE(e.is_ok()) << e.status().to_string();
        EXPECT_EQ((*e)->options().precision, Precision::kF32);
        o.precision_explicit = true;
        e = Engine::from_plan(p, o, "tiny.plan");
        ASSERT_FALSE(e.is_ok());
        EXPECT_NE(e.status().message().find("was built for fp32, not bf16"), std::string::npos) << e.status().message();
        o.precision = Precision::kF32;
        o.precision_explicit = false;
    }
    // Input size.
    {
        Plan p = tiny_plan("ref", "ref", {1});
        o.height = o.width = 16;
        auto e = Engine::from_plan(p, o, "tiny.plan");
        ASSERT_FALSE(e.is_ok());
        EXPECT_NE(e.status().message().find("input 8x8, not 16x16"), std::string::npos) << e.status().message();
        o.height = o.width = 0;
    }
    // Portable: any batch, any device.
    {
        Plan p = tiny_plan(kPortableBackend, "", {});
        o.batch = 3;
        auto e = Engine::from_plan(p, o, "tiny.plan");
        ASSERT_TRUE(e.is_ok()) << e.status().to_string();
        EXPECT_EQ((*e)->batch(), 3);
        EXPECT_EQ((*e)->input_height(), 8);
    }
}

#ifdef ITSCAM_HAVE_ONNX

#ifdef ITSCAM_HAVE_ONEDNN
const char* kDevice = "cpu";
#else
const char* kDevice = "ref";
#endif

const std::string kPlanModel = kShared + "/models/yolo11n.onnx";

Plan yolo_plan(Precision storage, bool portable) {
    auto g = onnx_import_file(kPlanModel);
    EXPECT_TRUE(g.is_ok()) << g.status().to_string();
    Plan p;
    p.graph = std::move(g).value();
    p.info.precision = storage;
    p.info.creator = itscam_version_string();
    p.info.source_path = kPlanModel;
    if (!portable) {
        auto backend = backend_create(kDevice);
        EXPECT_TRUE(backend.is_ok());
        p.info.backend = kDevice;
        p.info.target_key = (*backend)->target_key();
        p.info.height = p.info.width = 640;
        p.info.batch_sizes = {1, 2};
        p.info.tuning = {{1, ""}, {2, ""}};
    }
    return p;
}

std::vector<Tensor> run_engine(Engine& e) {
    Tensor in = Tensor::empty(DType::kF32, {e.batch(), 3, e.input_height(), e.input_width()});
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> dist(0.f, 1.f);
    for (int64_t i = 0; i < in.numel(); ++i) in.data<float>()[i] = dist(rng);
    std::vector<Tensor> outs;
    Status st = e.run(in, outs);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    for (auto& t : outs) t = t.clone();
    return outs;
}

TEST(PlanEngine, YoloFromPlanMatchesOnnx) {
    Plan p = yolo_plan(Precision::kF32, false);
    p.info.autotune = false;
    const std::string path = temp_path("yolo11n.plan");
    ASSERT_TRUE(plan_write(p, path).is_ok());
    // The imported graph survives exactly.
    auto t0 = std::chrono::steady_clock::now();
    auto back = plan_read(path);
    const double read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(back.is_ok()) << back.status().to_string();
    expect_graph_eq(p.graph, back->graph);
    EXPECT_LT(read_s, 1.0) << "reading a 10 MB plan took " << read_s << " s";

    EngineOptions o;
    o.device = kDevice;
    o.autotune = false;
    for (int batch : {1, 2}) {
        o.batch = batch;
        auto a = Engine::load(kPlanModel, o);
        ASSERT_TRUE(a.is_ok()) << a.status().to_string();
        auto b = Engine::load(path, o);
        ASSERT_TRUE(b.is_ok()) << b.status().to_string();
        EXPECT_EQ((*b)->batch(), batch);
        EXPECT_EQ((*a)->graph().nodes.size(), (*b)->graph().nodes.size());
        auto ya = run_engine(**a), yb = run_engine(**b);
        ASSERT_EQ(ya.size(), yb.size());
        for (size_t i = 0; i < ya.size(); ++i) {
            ASSERT_EQ(ya[i].shape(), yb[i].shape());
            float maxd = 0;
            for (int64_t k = 0; k < ya[i].numel(); ++k)
                maxd = std::max(maxd, std::fabs(ya[i].data<float>()[k] - yb[i].data<float>()[k]));
            EXPECT_EQ(maxd, 0.f) << "batch " << batch << ": the plan's engine differs from the ONNX one";
        }
    }
    // Batch 4 is not in the plan.
    o.batch = 4;
    auto e = Engine::load(path, o);
    ASSERT_FALSE(e.is_ok());
    EXPECT_NE(e.status().message().find("serves batch sizes 1, 2, not 4"), std::string::npos) << e.status().message();
    std::remove(path.c_str());
}

// Passes a backend through, recording the graph size and the BackendOptions each compile gets.
class RecordingBackend : public Backend {
  public:
    struct Seen {
        BackendOptions options;
        size_t nodes = 0;
        int dfl = 0;
    };
    RecordingBackend(std::unique_ptr<Backend> inner, std::shared_ptr<Seen> seen)
        : inner_(std::move(inner)), seen_(std::move(seen)) {}
    std::string name() const override { return inner_->name(); }
    Status supports(const Graph& g, const Node& n) const override { return inner_->supports(g, n); }
    Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& o) const override {
        seen_->options = o;
        seen_->nodes = g.nodes.size();
        seen_->dfl = 0;
        for (const auto& n : g.nodes) seen_->dfl += n.op == "DflDecode";
        // The test's recorded tuning is a placeholder no backend understands (the CPU backend replays and checks
        // real ones): record what the engine handed over, then compile without it.
        BackendOptions inner = o;
        inner.tuning.clear();
        return inner_->compile(g, inner);
    }
    std::string target_key() const override { return inner_->target_key(); }

  private:
    std::unique_ptr<Backend> inner_;
    std::shared_ptr<Seen> seen_;
};

// Plain execution (EngineOptions::optimize false, ENABLE_TENSORRT: false) of a targeted plan: the plan's graph
// without fusions, no autotuning, and the plan's recorded tuning not handed to the backend.
TEST(PlanEngine, PlainExecutionIgnoresThePlansTuning) {
    Plan p = yolo_plan(Precision::kF32, false);
    p.info.autotune = true;
    p.info.tuning = {{1, "recorded choices of batch 1\n"}, {2, "recorded choices of batch 2\n"}};
    auto seen = std::make_shared<RecordingBackend::Seen>();
    EngineOptions o;
    o.device = kDevice;
    o.backend_decorator = [seen](std::unique_ptr<Backend> b) -> std::unique_ptr<Backend> {
        return std::make_unique<RecordingBackend>(std::move(b), seen);
    };
    auto optimized = Engine::from_plan(p, o);
    ASSERT_TRUE(optimized.is_ok()) << optimized.status().to_string();
    EXPECT_EQ(seen->options.tuning, "recorded choices of batch 1\n");
    EXPECT_TRUE(seen->options.autotune);
    EXPECT_EQ(seen->dfl, 1);
    const size_t optimized_nodes = seen->nodes;

    o.optimize = false;
    auto plain = Engine::from_plan(p, o);
    ASSERT_TRUE(plain.is_ok()) << plain.status().to_string();
    EXPECT_EQ(seen->options.tuning, "");
    EXPECT_FALSE(seen->options.autotune);
    EXPECT_EQ(seen->dfl, 0);
    EXPECT_GT(seen->nodes, optimized_nodes + 77);  // the SiLU pairs (and more) are not fused
    EXPECT_EQ((*plain)->graph().nodes.size(), seen->nodes);
}

TEST(PlanEngine, YoloPortableFp16CloseToFp32) {
    Plan p = yolo_plan(Precision::kF16, true);
    auto bytes = plan_serialize(p);
    ASSERT_TRUE(bytes.is_ok());
    const size_t onnx_bytes = read_bytes(kPlanModel).size();
    EXPECT_LT(bytes->size(), onnx_bytes * 6 / 10) << "fp16 storage should halve the weights";
    auto q = plan_parse(bytes->data(), bytes->size());
    ASSERT_TRUE(q.is_ok()) << q.status().to_string();
    EngineOptions o;
    o.device = kDevice;
    o.autotune = false;
    auto a = Engine::load(kPlanModel, o);
    auto b = Engine::from_plan(*q, o);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    auto ya = run_engine(**a), yb = run_engine(**b);
    // [1, 84, 8400]: rows 0..3 boxes in pixels, 4..83 class scores.
    float box = 0, score = 0;
    const int64_t anchors = ya[0].shape()[2];
    for (int64_t r = 0; r < ya[0].shape()[1]; ++r)
        for (int64_t k = 0; k < anchors; ++k) {
            const float d = std::fabs(ya[0].data<float>()[r * anchors + k] - yb[0].data<float>()[r * anchors + k]);
            (r < 4 ? box : score) = std::max(r < 4 ? box : score, d);
        }
    EXPECT_LT(box, 4.f);
    EXPECT_LT(score, 0.05f);
}

// Mutates and truncates a real plan: every variant must load as an error or as a valid plan, never crash. Half
// the mutations fix the checksum up afterwards so they reach the header and blob checks behind it.
TEST(PlanFuzz, MutatedAndTruncatedPlans) {
    Plan p = yolo_plan(Precision::kF32, false);
    auto good = plan_serialize(p);
    ASSERT_TRUE(good.is_ok());
    const std::string& base = *good;
    auto u64 = [](const std::string& s, size_t at) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
        return v;
    };
    auto put64 = [](std::string& s, size_t at, uint64_t v) {
        for (int i = 0; i < 8; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
    };
    const uint64_t header_bytes = u64(base, 16), blobs_offset = u64(base, 24);
    const std::string header = base.substr(kPlanPreambleBytes, header_bytes);
    const std::string blobs = base.substr(blobs_offset);
    const nlohmann::json header_json = nlohmann::json::parse(header);
    const nlohmann::json flat = header_json.flatten();
    std::vector<std::string> leaves;
    for (const auto& [k, v] : flat.items()) leaves.push_back(k);
    // A plan from a header and blob bytes, with a consistent preamble and checksum.
    auto assemble = [&](const std::string& h, const std::string& b) {
        const uint64_t off = (kPlanPreambleBytes + h.size() + 63) / 64 * 64;
        std::string out(off, '\0');
        std::memcpy(out.data(), base.data(), 16);
        put64(out, 16, h.size());
        put64(out, 24, off);
        put64(out, 32, b.size());
        std::memcpy(out.data() + kPlanPreambleBytes, h.data(), h.size());
        out += b;
        put64(out, 40, plan_checksum(out.data() + kPlanPreambleBytes, out.size() - kPlanPreambleBytes));
        return out;
    };
    const nlohmann::json replacements[] = {-1, 0, 1, int64_t{1} << 62, std::numeric_limits<uint64_t>::max(), 3.5,
                                           -1e300, "", "float32", "x", nullptr, true, nlohmann::json::array(),
                                           nlohmann::json::object(), nlohmann::json::array({-1, 2})};
    std::mt19937_64 rng(20261130);
    int loaded = 0, refused = 0, built = 0;
    for (int iter = 0; iter < 2000; ++iter) {
        std::string m;
        bool must_fail = false;
        switch (iter % 5) {
            case 0: {  // truncate anywhere
                m = base.substr(0, rng() % base.size());
                must_fail = true;
                break;
            }
            case 1: {  // flip bytes anywhere, checksum left stale
                m = base;
                const int n = 1 + static_cast<int>(rng() % 8);
                for (int i = 0; i < n; ++i) m[rng() % m.size()] ^= static_cast<char>(1 + rng() % 255);
                must_fail = m != base;
                break;
            }
            case 2: {  // flip header bytes, checksum fixed
                std::string h = header;
                const int n = 1 + static_cast<int>(rng() % 4);
                for (int i = 0; i < n; ++i) h[rng() % h.size()] = static_cast<char>(rng() % 256);
                m = assemble(h, blobs);
                break;
            }
            case 3: {  // structured: one header value replaced or removed, checksum fixed
                nlohmann::json h = header_json;
                const nlohmann::json::json_pointer ptr(leaves[rng() % leaves.size()]);
                if (rng() % 4 == 0) {
                    nlohmann::json& parent = h[ptr.parent_pointer()];
                    if (parent.is_object()) parent.erase(ptr.back());
                    else if (parent.is_array() && !parent.empty()) parent.erase(parent.size() - 1);
                } else {
                    h[ptr] = replacements[rng() % std::size(replacements)];
                }
                m = assemble(h.dump(), rng() % 8 == 0 ? blobs.substr(0, blobs.size() - 64) : blobs);
                break;
            }
            case 4: {  // preamble fields
                m = base;
                const size_t at = 8 + 8 * (rng() % 5);
                put64(m, at, rng() % 3 == 0 ? rng() : u64(m, at) + (rng() % 129) - 64);
                must_fail = m != base;
                break;
            }
        }
        auto r = plan_parse(m.data(), m.size());
        if (!r.is_ok()) {
            ++refused;
            EXPECT_FALSE(r.status().message().empty());
            continue;
        }
        EXPECT_FALSE(must_fail) << "iteration " << iter << " loaded a damaged plan";
        ++loaded;
        // A forged plan that parses builds an engine or fails cleanly (a few, on the reference passes).
        if (built < 12 && iter % 5 == 3) {
            ++built;
            EngineOptions o;
            o.device = kDevice;
            o.autotune = false;
            auto e = Engine::from_plan(*r, o, "fuzz.plan");
            (void)e;
        }
    }
    std::printf("plan fuzz: %d refused, %d loaded (%d engines tried)\n", refused, loaded, built);
    EXPECT_GT(refused, 1000);
}

#endif  // ITSCAM_HAVE_ONNX

// The same without ONNX: the synthetic plan, truncated everywhere.
TEST(PlanFuzz, EveryTruncationOfASmallPlanFails) {
    Plan p;
    p.graph = sample_graph();
    p.info = targeted_info("cpu", "cpu", Precision::kF16, {1, 8});
    auto bytes = plan_serialize(p);
    ASSERT_TRUE(bytes.is_ok());
    for (size_t n = 0; n < bytes->size(); n += 1 + n / 64) {
        auto r = plan_parse(bytes->data(), n);
        EXPECT_FALSE(r.is_ok()) << n;
        auto r2 = plan_parse(bytes->data(), n, PlanParseOptions{false});
        EXPECT_FALSE(r2.is_ok()) << n;
    }
}

}  // namespace
}  // namespace itscam
