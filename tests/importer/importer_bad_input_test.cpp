// Hostile and broken inputs for onnx_import_bytes / onnx_import_file / Engine::load. Every case must come back as a
// non-OK Status (never a crash), and where a node is at fault the message names the node and its op. The broken
// models are made by editing the real yolo11n.onnx through the ONNX protobuf classes.
#include <gtest/gtest.h>
#include <onnx/onnx-ml.pb.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "onnx/onnx_importer.h"
#include "runtime/engine.h"

namespace itscam {
namespace {

std::string shared_path(const std::string& rel) {
    return std::string(ITSCAM_SHARED_DIR) + "/" + rel;
}
std::string temp_path(const std::string& name) {
    return std::string(ITSCAM_BINARY_DIR) + "/importer_test_" + name;
}

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream os;
    os << f.rdbuf();
    return os.str();
}
void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << "cannot write " << path;
}

const std::string& yolo_bytes() {
    static const std::string b = read_bytes(shared_path("models/yolo11n.onnx"));
    return b;
}
const std::string& yolo_int8_bytes() {
    static const std::string b = read_bytes(shared_path("models/yolo11n_int8_320.onnx"));
    return b;
}

onnx::ModelProto parse(const std::string& bytes) {
    onnx::ModelProto m;
    EXPECT_TRUE(m.ParseFromString(bytes));
    return m;
}

Result<Graph> import_proto(const onnx::ModelProto& m) {
    std::string bytes;
    EXPECT_TRUE(m.SerializeToString(&bytes));
    return onnx_import_bytes(bytes.data(), bytes.size());
}

// Imports, then prepares for the reference backend as Engine::load does.
Status load_proto(const onnx::ModelProto& m, int batch = 1) {
    auto g = import_proto(m);
    if (!g.is_ok()) return g.status();
    EngineOptions opt;
    opt.device = "ref";
    opt.batch = batch;
    auto e = Engine::from_graph(std::move(g).value(), opt);
    return e.status();
}

void expect_error(const Status& st, StatusCode code, const std::vector<std::string>& substrings) {
    EXPECT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), code) << st.to_string();
    for (const auto& s : substrings)
        EXPECT_NE(st.message().find(s), std::string::npos) << "'" << s << "' not in: " << st.message();
}

int first_node(const onnx::GraphProto& g, const std::string& op, int nth = 0) {
    for (int i = 0; i < g.node_size(); ++i)
        if (g.node(i).op_type() == op && nth-- == 0) return i;
    return -1;
}

int initializer_index(const onnx::GraphProto& g, const std::string& name) {
    for (int i = 0; i < g.initializer_size(); ++i)
        if (g.initializer(i).name() == name) return i;
    return -1;
}

std::string node_label(const onnx::NodeProto& n, const std::string& op) {
    return "node '" + n.name() + "' (op " + op + ")";
}

// ---------------------------------------------------------------------------------------------------------------

TEST(ImporterBadInput, TheUnmodifiedModelsImportAndLoad) {
    // The baseline every mutation below starts from.
    ASSERT_GT(yolo_bytes().size(), 1000000u);
    auto g = onnx_import_bytes(yolo_bytes().data(), yolo_bytes().size());
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    EXPECT_EQ(g->metadata.names.size(), 80u);
    EXPECT_EQ(g->metadata.imgsz_h, 640);
    Status st = load_proto(parse(yolo_bytes()));
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    EngineOptions opt;
    opt.device = "ref";
    auto e = Engine::load(shared_path("models/yolo11n_int8_320.onnx"), opt);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    EXPECT_EQ((*e)->input_height(), 320);
}

TEST(ImporterBadInput, NonexistentPath) {
    const std::string path = "/nonexistent/dir/model.onnx";
    auto g = onnx_import_file(path);
    expect_error(g.status(), StatusCode::kNotFound, {path});
    EngineOptions opt;
    opt.device = "ref";
    auto e = Engine::load(path, opt);
    expect_error(e.status(), StatusCode::kNotFound, {path});
    // A directory is not a model file either.
    EXPECT_FALSE(onnx_import_file(std::string(ITSCAM_SHARED_DIR)).is_ok());
}

TEST(ImporterBadInput, EmptyFile) {
    expect_error(onnx_import_bytes(nullptr, 0).status(), StatusCode::kCorrupt, {"empty"});
    const std::string path = temp_path("empty.onnx");
    write_bytes(path, "");
    expect_error(onnx_import_file(path).status(), StatusCode::kCorrupt, {"empty"});
    EngineOptions opt;
    opt.device = "ref";
    expect_error(Engine::load(path, opt).status(), StatusCode::kCorrupt, {"empty"});
    std::remove(path.c_str());
}

TEST(ImporterBadInput, RandomBytes) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> byte(0, 255);
    for (size_t size : {1u, 2u, 7u, 64u, 100u, 4096u, 65536u, 1000003u}) {
        for (int rep = 0; rep < 3; ++rep) {
            std::string b(size, '\0');
            for (auto& ch : b) ch = static_cast<char>(byte(rng));
            // Every third buffer starts like the real model, so parsing goes deeper before it breaks.
            if (rep == 2)
                b.replace(0, std::min<size_t>(size, 256), yolo_bytes().substr(0, std::min<size_t>(size, 256)));
            auto g = onnx_import_bytes(b.data(), b.size());
            EXPECT_FALSE(g.is_ok()) << "random buffer of " << size << " bytes imported";
            EXPECT_FALSE(g.status().message().empty());
        }
    }
}

TEST(ImporterBadInput, TruncatedModel) {
    const std::string& full = yolo_bytes();
    const size_t n = full.size();
    for (size_t cut : {size_t{1}, size_t{16}, size_t{100}, size_t{1000}, n / 4, n / 2, 3 * n / 4, n - 1000, n - 1}) {
        auto g = onnx_import_bytes(full.data(), cut);
        EXPECT_FALSE(g.is_ok()) << "model truncated to " << cut << " of " << n << " bytes imported";
        if (!g.is_ok()) {
            EXPECT_EQ(g.status().code(), StatusCode::kCorrupt) << g.status().to_string();
        }
    }
    // Through a file and Engine::load: the message says which file.
    const std::string path = temp_path("truncated.onnx");
    write_bytes(path, full.substr(0, n / 2));
    EngineOptions opt;
    opt.device = "ref";
    auto e = Engine::load(path, opt);
    expect_error(e.status(), StatusCode::kCorrupt, {path, "truncated"});
    std::remove(path.c_str());
}

TEST(ImporterBadInput, UnsupportedOp) {
    onnx::ModelProto m = parse(yolo_bytes());
    const int i = first_node(m.graph(), "Sigmoid", 3);
    ASSERT_GE(i, 0);
    m.mutable_graph()->mutable_node(i)->set_op_type("FooBar");
    const auto& node = m.graph().node(i);
    expect_error(import_proto(m).status(), StatusCode::kUnsupported,
                 {node_label(node, "FooBar"), "'FooBar'", "opset 12"});
}

TEST(ImporterBadInput, OpsetOutOfRange) {
    for (int64_t v : {int64_t{1}, kMinOpset - 1, kMaxOpset + 1, int64_t{1000}}) {
        onnx::ModelProto m = parse(yolo_bytes());
        ASSERT_GT(m.opset_import_size(), 0);
        for (auto& op : *m.mutable_opset_import())
            if (op.domain().empty() || op.domain() == "ai.onnx") op.set_version(v);
        expect_error(import_proto(m).status(), StatusCode::kUnsupported, {"opset " + std::to_string(v)});
    }
    onnx::ModelProto m = parse(yolo_bytes());
    m.clear_opset_import();
    expect_error(import_proto(m).status(), StatusCode::kUnsupported, {"default ONNX domain"});
}

TEST(ImporterBadInput, MissingInitializer) {
    onnx::ModelProto m = parse(yolo_bytes());
    const int ci = first_node(m.graph(), "Conv", 5);
    ASSERT_GE(ci, 0);
    const std::string weight = m.graph().node(ci).input(1);
    const int wi = initializer_index(m.graph(), weight);
    ASSERT_GE(wi, 0) << weight;
    m.mutable_graph()->mutable_initializer()->DeleteSubrange(wi, 1);
    expect_error(import_proto(m).status(), StatusCode::kInvalidArgument,
                 {node_label(m.graph().node(ci), "Conv"), "'" + weight + "'"});
}

TEST(ImporterBadInput, ConvWeightWithWrongShape) {
    onnx::ModelProto m = parse(yolo_bytes());
    const int ci = first_node(m.graph(), "Conv", 0);  // the stem: images [1,3,640,640] -> 16 channels
    ASSERT_GE(ci, 0);
    const std::string weight = m.graph().node(ci).input(1);
    const int wi = initializer_index(m.graph(), weight);
    ASSERT_GE(wi, 0);
    onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(wi);
    ASSERT_EQ(w->dims_size(), 4);
    ASSERT_EQ(w->dims(1), 3);
    {
        // A consistent tensor of the wrong shape: 4 input channels. The importer takes it; shape inference in
        // Engine::load names the node.
        onnx::ModelProto m2 = m;
        onnx::TensorProto* w2 = m2.mutable_graph()->mutable_initializer(wi);
        w2->set_dims(1, 4);
        const int64_t numel = w2->dims(0) * 4 * w2->dims(2) * w2->dims(3);
        w2->clear_float_data();
        w2->set_raw_data(std::string(static_cast<size_t>(numel) * 4, '\0'));
        expect_error(load_proto(m2), StatusCode::kInvalidArgument,
                     {node_label(m2.graph().node(ci), "Conv"), "weight [16,4,3,3]", "input channels 3"});
    }
    {
        // Rank 3 weight.
        onnx::ModelProto m2 = m;
        onnx::TensorProto* w2 = m2.mutable_graph()->mutable_initializer(wi);
        const int64_t numel = w2->dims(0) * w2->dims(1) * w2->dims(2) * w2->dims(3);
        w2->clear_dims();
        for (int64_t d : {int64_t{16}, int64_t{3}, numel / 48}) w2->add_dims(d);
        w2->clear_float_data();
        w2->set_raw_data(std::string(static_cast<size_t>(numel) * 4, '\0'));
        expect_error(load_proto(m2), StatusCode::kInvalidArgument, {node_label(m2.graph().node(ci), "Conv"), "rank 4"});
    }
    {
        // Dims that disagree with the stored data: the importer itself rejects it, naming the initializer.
        w->set_dims(0, 17);
        expect_error(import_proto(m).status(), StatusCode::kCorrupt, {"initializer '" + weight + "'"});
    }
}

TEST(ImporterBadInput, InputOfRank3) {
    onnx::ModelProto m = parse(yolo_bytes());
    auto* dims =
        m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim();
    ASSERT_EQ(dims->size(), 4);
    dims->RemoveLast();
    const Status st = load_proto(m);
    EXPECT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("rank 3"), std::string::npos) << st.message();
    // The same through a file and Engine::load.
    const std::string path = temp_path("rank3.onnx");
    std::string bytes;
    ASSERT_TRUE(m.SerializeToString(&bytes));
    write_bytes(path, bytes);
    EngineOptions opt;
    opt.device = "ref";
    auto e = Engine::load(path, opt);
    EXPECT_FALSE(e.is_ok());
    EXPECT_NE(e.status().message().find("rank"), std::string::npos) << e.status().message();
    EXPECT_NE(e.status().message().find(path), std::string::npos) << e.status().message();
    std::remove(path.c_str());
}

TEST(ImporterBadInput, NonDefaultDomainOp) {
    onnx::ModelProto m = parse(yolo_bytes());
    const int i = first_node(m.graph(), "Mul", 2);
    ASSERT_GE(i, 0);
    m.mutable_graph()->mutable_node(i)->set_domain("com.microsoft");
    expect_error(import_proto(m).status(), StatusCode::kUnsupported,
                 {node_label(m.graph().node(i), "Mul"), "'com.microsoft'"});
}

// Sets (or adds) an attribute on a node.
onnx::AttributeProto* attr(onnx::NodeProto* n, const std::string& name) {
    for (auto& a : *n->mutable_attribute())
        if (a.name() == name) return &a;
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    return a;
}
void set_ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    onnx::AttributeProto* a = attr(n, name);
    a->set_type(onnx::AttributeProto::INTS);
    a->clear_ints();
    for (int64_t x : v) a->add_ints(x);
}
void set_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    onnx::AttributeProto* a = attr(n, name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}
void set_string(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    onnx::AttributeProto* a = attr(n, name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
}

TEST(ImporterBadInput, BadAttributesNameTheNode) {
    struct Mutation {
        const char* what;
        const char* op;
        int nth;
        std::function<void(onnx::NodeProto*)> apply;
        const char* message;
    };
    const std::vector<Mutation> cases = {
        {"zero stride", "Conv", 3,
         [](onnx::NodeProto* n) {
             set_ints(n, "strides", {0, 0});
         },
         "positive"},
        {"negative pads", "Conv", 3,
         [](onnx::NodeProto* n) {
             set_ints(n, "pads", {-1, 0, 0, 0});
         },
         "pads"},
        {"huge pads", "Conv", 3,
         [](onnx::NodeProto* n) {
             set_ints(n, "pads", {1 << 30, 1, 1, 1});
         },
         "pads"},
        {"pads of wrong length", "Conv", 3,
         [](onnx::NodeProto* n) {
             set_ints(n, "pads", {1, 1});
         },
         "2/2/4"},
        {"group 0", "Conv", 3, [](onnx::NodeProto* n) { set_int(n, "group", 0); }, "group"},
        {"group not dividing channels", "Conv", 3, [](onnx::NodeProto* n) { set_int(n, "group", 7); }, "group"},
        {"kernel_shape disagreeing", "Conv", 3,
         [](onnx::NodeProto* n) {
             set_ints(n, "kernel_shape", {5, 5});
         },
         "kernel_shape"},
        {"auto_pad unknown", "Conv", 3, [](onnx::NodeProto* n) { set_string(n, "auto_pad", "SOMETIMES"); }, "auto_pad"},
        {"pool kernel of rank 1", "MaxPool", 0, [](onnx::NodeProto* n) { set_ints(n, "kernel_shape", {5}); },
         "kernel_shape"},
        {"pool window larger than input", "MaxPool", 0,
         [](onnx::NodeProto* n) {
             set_ints(n, "kernel_shape", {99, 99});
             set_ints(n, "pads", {0, 0, 0, 0});
         },
         "larger"},
        {"split sizes not summing", "Split", 0,
         [](onnx::NodeProto* n) {
             set_ints(n, "split", {16, 15});
         },
         "sum"},
        {"split axis out of range", "Split", 0, [](onnx::NodeProto* n) { set_int(n, "axis", 9); }, "axis 9"},
        {"concat axis out of range", "Concat", 0, [](onnx::NodeProto* n) { set_int(n, "axis", -7); }, "axis -7"},
        {"transpose perm not a permutation", "Transpose", 0,
         [](onnx::NodeProto* n) {
             set_ints(n, "perm", {0, 0, 1, 2});
         },
         "perm"},
        {"softmax axis out of range", "Softmax", 0, [](onnx::NodeProto* n) { set_int(n, "axis", 4); }, "axis 4"},
        {"resize linear", "Resize", 0, [](onnx::NodeProto* n) { set_string(n, "mode", "cubic"); }, "'cubic'"},
        {"resize coordinate mode", "Resize", 0,
         [](onnx::NodeProto* n) { set_string(n, "coordinate_transformation_mode", "tf_crop_and_resize"); },
         "coordinate_transformation_mode"},
    };
    const onnx::ModelProto base = parse(yolo_bytes());
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        onnx::ModelProto m = base;
        const int i = first_node(m.graph(), c.op, c.nth);
        ASSERT_GE(i, 0);
        c.apply(m.mutable_graph()->mutable_node(i));
        const Status st = load_proto(m);
        EXPECT_FALSE(st.is_ok());
        EXPECT_NE(st.message().find(node_label(m.graph().node(i), c.op)), std::string::npos) << st.to_string();
        EXPECT_NE(st.message().find(c.message), std::string::npos) << st.to_string();
    }
}

TEST(ImporterBadInput, BadTensorsAndAttributeTypes) {
    const onnx::ModelProto base = parse(yolo_bytes());
    const std::string w0 = base.graph().node(first_node(base.graph(), "Conv")).input(1);
    const int wi = initializer_index(base.graph(), w0);
    ASSERT_GE(wi, 0);
    {
        onnx::ModelProto m = base;
        m.mutable_graph()->mutable_initializer(wi)->set_data_type(onnx::TensorProto::STRING);
        expect_error(import_proto(m).status(), StatusCode::kUnsupported, {"initializer '" + w0 + "'", "data type 8"});
    }
    {
        onnx::ModelProto m = base;
        m.mutable_graph()->mutable_initializer(wi)->set_data_location(onnx::TensorProto::EXTERNAL);
        expect_error(import_proto(m).status(), StatusCode::kUnsupported, {"initializer '" + w0 + "'", "external"});
    }
    {
        onnx::ModelProto m = base;
        m.mutable_graph()->mutable_initializer(wi)->set_dims(0, -16);
        expect_error(import_proto(m).status(), StatusCode::kCorrupt, {"initializer '" + w0 + "'", "negative"});
    }
    {
        onnx::ModelProto m = base;
        auto* t = m.mutable_graph()->mutable_initializer(wi);
        t->clear_dims();
        for (int k = 0; k < 4; ++k) t->add_dims(int64_t{1} << 20);
        expect_error(import_proto(m).status(), StatusCode::kCorrupt, {"initializer '" + w0 + "'", "large"});
    }
    {
        onnx::ModelProto m = base;
        m.mutable_graph()->mutable_initializer(wi)->set_name("");
        expect_error(import_proto(m).status(), StatusCode::kCorrupt, {"no name"});
    }
    {
        onnx::ModelProto m = base;
        const int i = first_node(m.graph(), "Conv", 1);
        onnx::AttributeProto* a = attr(m.mutable_graph()->mutable_node(i), "subgraph");
        a->set_type(onnx::AttributeProto::GRAPH);
        expect_error(import_proto(m).status(), StatusCode::kUnsupported,
                     {node_label(m.graph().node(i), "Conv"), "'subgraph'"});
    }
    {
        // A Constant node without a value.
        onnx::ModelProto m = base;
        onnx::NodeProto* n = m.mutable_graph()->add_node();
        n->set_op_type("Constant");
        n->set_name("empty_constant");
        n->add_output("empty_constant_out");
        expect_error(import_proto(m).status(), StatusCode::kUnsupported, {node_label(*n, "Constant")});
    }
    {
        // The graph input with a tensor type of an unsupported element type.
        onnx::ModelProto m = base;
        m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
            onnx::TensorProto::STRING);
        expect_error(import_proto(m).status(), StatusCode::kUnsupported, {"graph input", "'images'"});
    }
}

TEST(ImporterBadInput, BadMetadata) {
    struct Case {
        const char* key;
        const char* value;
        const char* message;
    };
    for (const Case& c :
         {Case{"names", "{0: 'person', 1: 'bicycle'", "metadata 'names'"},
          Case{"names", "{0: 'person', 2: 'car'}", "metadata 'names'"}, Case{"imgsz", "[0, 640]", "imgsz"},
          Case{"imgsz", "[640, 640, 3]", "imgsz"}, Case{"imgsz", "[640, 99999]", "imgsz"},
          Case{"stride", "abc", "stride"}, Case{"stride", "[-32]", "stride"}}) {
        SCOPED_TRACE(std::string(c.key) + "=" + c.value);
        onnx::ModelProto m = parse(yolo_bytes());
        bool found = false;
        for (auto& p : *m.mutable_metadata_props())
            if (p.key() == c.key) p.set_value(c.value), found = true;
        ASSERT_TRUE(found);
        expect_error(import_proto(m).status(), StatusCode::kCorrupt, {c.message});
    }
}

TEST(ImporterBadInput, StructuralErrors) {
    const onnx::ModelProto base = parse(yolo_bytes());
    {
        onnx::ModelProto m = base;
        m.clear_graph();
        expect_error(import_proto(m).status(), StatusCode::kCorrupt, {"no graph"});
    }
    {
        onnx::ModelProto m = base;
        m.mutable_graph()->clear_input();
        expect_error(import_proto(m).status(), StatusCode::kInvalidArgument, {"no runtime input"});
    }
    {
        // Two nodes write one value: an extra Relu of the input writes the first Sigmoid's output.
        onnx::ModelProto m = base;
        const int a = first_node(m.graph(), "Sigmoid", 0);
        onnx::NodeProto* n = m.mutable_graph()->add_node();
        n->set_op_type("Relu");
        n->set_name("second_writer");
        n->add_input(m.graph().input(0).name());
        n->add_output(m.graph().node(a).output(0));
        expect_error(import_proto(m).status(), StatusCode::kInvalidArgument, {"produced more than once"});
    }
    {
        onnx::ModelProto m = base;
        m.mutable_graph()->mutable_output(0)->set_name("nobody_writes_this");
        expect_error(import_proto(m).status(), StatusCode::kInvalidArgument,
                     {"'nobody_writes_this'", "never produced"});
    }
    {
        onnx::ModelProto m = base;
        m.mutable_graph()->clear_output();
        expect_error(import_proto(m).status(), StatusCode::kInvalidArgument, {"no outputs"});
    }
    {
        // A cycle: the stem conv reads the output of a later node.
        onnx::ModelProto m = base;
        const int c0 = first_node(m.graph(), "Conv", 0), s3 = first_node(m.graph(), "Sigmoid", 3);
        m.mutable_graph()->mutable_node(c0)->set_input(0, m.graph().node(s3).output(0));
        expect_error(import_proto(m).status(), StatusCode::kInvalidArgument, {"cycle"});
    }
    {
        // A node reading its own output.
        onnx::ModelProto m = base;
        const int s = first_node(m.graph(), "Sigmoid", 0);
        auto* n = m.mutable_graph()->mutable_node(s);
        n->set_input(0, n->output(0));
        expect_error(import_proto(m).status(), StatusCode::kInvalidArgument, {node_label(*n, "Sigmoid"), "own output"});
    }
    {
        // A Conv with one input: arity is checked when the graph is prepared, naming the node.
        onnx::ModelProto m = base;
        const int c = first_node(m.graph(), "Conv", 2);
        m.mutable_graph()->mutable_node(c)->mutable_input()->RemoveLast();
        m.mutable_graph()->mutable_node(c)->mutable_input()->RemoveLast();
        expect_error(load_proto(m), StatusCode::kInvalidArgument, {node_label(m.graph().node(c), "Conv"), "inputs"});
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Metadata literal parsers

TEST(ParseNamesDict, Valid) {
    auto n = parse_names_dict("{0: 'person', 1: \"bicycle\", 2: 'traffic light'}");
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    EXPECT_EQ(*n, (std::vector<std::string>{"person", "bicycle", "traffic light"}));
    n = parse_names_dict("{}");
    ASSERT_TRUE(n.is_ok());
    EXPECT_TRUE(n->empty());
    n = parse_names_dict("  { 1 : 'b' ,0:'a'}  ");  // any key order, whitespace
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    EXPECT_EQ(*n, (std::vector<std::string>{"a", "b"}));
    n = parse_names_dict(R"({0: 'it\'s', 1: "say \"hi\"", 2: ''})");
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    EXPECT_EQ(*n, (std::vector<std::string>{"it's", "say \"hi\"", ""}));
}

TEST(ParseNamesDict, Malformed) {
    for (const char* s : {"", "{", "}", "[0: 'a']", "{0 'a'}", "{0: a}", "{0: 'a',}", "{0: 'a'", "{0: 'a'} x",
                          "{1: 'a'}", "{0: 'a', 2: 'c'}", "{-1: 'a'}", "{x: 'a'}", "{0: 'unterminated}",
                          "{1234567890123456789: 'a'}", "{100001: 'a'}", "{+: 'a'}", "{0: 'a' 1: 'b'}"}) {
        auto n = parse_names_dict(s);
        EXPECT_FALSE(n.is_ok()) << "'" << s << "' parsed";
        if (!n.is_ok()) {
            EXPECT_EQ(n.status().code(), StatusCode::kCorrupt) << s;
        }
    }
}

TEST(ParseIntList, Valid) {
    struct Case {
        const char* text;
        std::vector<int64_t> want;
    };
    for (const Case& c :
         {Case{"[640, 640]", {640, 640}}, Case{"(320, 480)", {320, 480}}, Case{"640", {640}}, Case{"[]", {}},
          Case{" [ 1 ,2,  -3 ] ", {1, 2, -3}}, Case{"[+7]", {7}}, Case{"[999999999999999]", {999999999999999}}}) {
        auto v = parse_int_list(c.text);
        ASSERT_TRUE(v.is_ok()) << c.text << ": " << v.status().to_string();
        EXPECT_EQ(*v, c.want) << c.text;
    }
}

TEST(ParseIntList, Malformed) {
    for (const char* s : {"", "[", "[640,", "[640 640]", "abc", "[1,2]x", "[+]", "-", "[1,,2]", "[,]", "[1.5]",
                          "[99999999999999999999]", "640 640", "[[1]]", "[1, 2)", "(1, 2]"}) {
        auto v = parse_int_list(s);
        EXPECT_FALSE(v.is_ok()) << "'" << s << "' parsed";
        if (!v.is_ok()) {
            EXPECT_EQ(v.status().code(), StatusCode::kCorrupt) << s;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// A dynamic batch dimension

TEST(ImporterDynamicBatch, Int8ModelWithDimParamRunsAtBatch2) {
    onnx::ModelProto m = parse(yolo_int8_bytes());
    auto* d0 =
        m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0);
    d0->set_dim_param("batch");
    ASSERT_FALSE(d0->has_dim_value());
    auto g = import_proto(m);
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    EXPECT_EQ(g->values.at(g->inputs[0]).shape, (Shape{-1, 3, 320, 320}));

    EngineOptions opt;
    opt.device = "ref";
    opt.batch = 2;
    auto e2 = Engine::from_graph(*g, opt);
    ASSERT_TRUE(e2.is_ok()) << e2.status().to_string();
    EXPECT_EQ((*e2)->batch(), 2);
    opt.batch = 1;
    auto e1 = Engine::from_graph(std::move(g).value(), opt);
    ASSERT_TRUE(e1.is_ok()) << e1.status().to_string();

    // Two different synthetic images in one batch; each must match its batch-1 run.
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    Tensor x = Tensor::empty(DType::kF32, {2, 3, 320, 320});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    std::vector<Tensor> out2;
    Status st = (*e2)->run(x, out2);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    ASSERT_EQ(out2.size(), 1u);
    ASSERT_EQ(out2[0].shape(), (Shape{2, 84, 2100}));
    const int64_t per_in = 3 * 320 * 320, per_out = 84 * 2100;
    for (int64_t b = 0; b < 2; ++b) {
        Tensor xi = Tensor::empty(DType::kF32, {1, 3, 320, 320});
        std::memcpy(xi.raw(), x.data<float>() + b * per_in, per_in * sizeof(float));
        std::vector<Tensor> out1;
        ASSERT_TRUE((*e1)->run(xi, out1).is_ok());
        double m = 0;
        for (int64_t k = 0; k < per_out; ++k)
            m = std::max(m, double(std::fabs(out2[0].data<float>()[b * per_out + k] - out1[0].data<float>()[k])));
        EXPECT_LE(m, 1e-4) << "image " << b;
    }
    // Wrong input shapes are refused, not read out of bounds.
    std::vector<Tensor> out;
    EXPECT_FALSE((*e2)->run(Tensor::zeros(DType::kF32, {1, 3, 320, 320}), out).is_ok());
    EXPECT_FALSE((*e2)->run(Tensor::zeros(DType::kF64, {2, 3, 320, 320}), out).is_ok());
}

TEST(ImporterDynamicBatch, EngineOptionsAreChecked) {
    auto g = onnx_import_bytes(yolo_int8_bytes().data(), yolo_int8_bytes().size());
    ASSERT_TRUE(g.is_ok());
    EngineOptions opt;
    opt.device = "ref";
    opt.batch = 0;
    expect_error(Engine::from_graph(*g, opt).status(), StatusCode::kInvalidArgument, {"batch"});
    opt.batch = 1;
    opt.device = "tpu";
    expect_error(Engine::from_graph(*g, opt).status(), StatusCode::kInvalidArgument, {"'tpu'"});
    opt.device = "ref";
    opt.height = 640;  // the int8 export is fixed at 320
    expect_error(Engine::from_graph(*g, opt).status(), StatusCode::kInvalidArgument, {"fixed input height of 320"});
}

}  // namespace
}  // namespace itscam
