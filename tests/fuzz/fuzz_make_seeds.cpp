// Writes small, valid ONNX models covering every op family of the importer into a folder, as seeds for
// fuzz_onnx_import (and for its CTest replay). Usage: fuzz_make_seeds <dir>
#include <onnx/onnx-ml.pb.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using onnx::TensorProto;

class ModelWriter {
  public:
    explicit ModelWriter(int64_t opset) {
        m_.set_ir_version(8);
        m_.set_producer_name("itscam-fuzz-seed");
        auto* op = m_.add_opset_import();
        op->set_domain("");
        op->set_version(opset);
        g_ = m_.mutable_graph();
        g_->set_name("seed");
        meta("names", "{0: 'person', 1: 'car'}");
        meta("stride", "32");
    }
    void meta(const std::string& k, const std::string& v) {
        auto* p = m_.add_metadata_props();
        p->set_key(k);
        p->set_value(v);
    }
    // dims: -1 writes a dim_param.
    void input(const std::string& name, const std::vector<int64_t>& dims, int elem = TensorProto::FLOAT) {
        value(g_->add_input(), name, dims, elem);
    }
    void output(const std::string& name) { g_->add_output()->set_name(name); }
    void init_f32(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
        TensorProto* t = g_->add_initializer();
        fill(t, name, dims, TensorProto::FLOAT);
        t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    }
    void init_i64(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& v) {
        TensorProto* t = g_->add_initializer();
        fill(t, name, dims, TensorProto::INT64);
        for (int64_t x : v) t->add_int64_data(x);  // the typed field, not raw_data, to cover both paths
    }
    void init_u8(const std::string& name, const std::vector<int64_t>& dims, const std::vector<uint8_t>& v) {
        TensorProto* t = g_->add_initializer();
        fill(t, name, dims, TensorProto::UINT8);
        t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size()));
    }
    onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& ins,
                          const std::vector<std::string>& outs) {
        onnx::NodeProto* n = g_->add_node();
        n->set_op_type(op);
        n->set_name(op + "_" + std::to_string(g_->node_size()));
        for (const auto& i : ins) n->add_input(i);
        for (const auto& o : outs) n->add_output(o);
        return n;
    }
    static void attr_i(onnx::NodeProto* n, const std::string& k, int64_t v) {
        auto* a = n->add_attribute();
        a->set_name(k);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }
    static void attr_f(onnx::NodeProto* n, const std::string& k, float v) {
        auto* a = n->add_attribute();
        a->set_name(k);
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(v);
    }
    static void attr_s(onnx::NodeProto* n, const std::string& k, const std::string& v) {
        auto* a = n->add_attribute();
        a->set_name(k);
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s(v);
    }
    static void attr_is(onnx::NodeProto* n, const std::string& k, const std::vector<int64_t>& v) {
        auto* a = n->add_attribute();
        a->set_name(k);
        a->set_type(onnx::AttributeProto::INTS);
        for (int64_t x : v) a->add_ints(x);
    }
    static void attr_t(onnx::NodeProto* n, const std::string& k, const std::vector<float>& v) {
        auto* a = n->add_attribute();
        a->set_name(k);
        a->set_type(onnx::AttributeProto::TENSOR);
        TensorProto* t = a->mutable_t();
        t->set_data_type(TensorProto::FLOAT);
        t->add_dims(static_cast<int64_t>(v.size()));
        for (float x : v) t->add_float_data(x);
    }
    bool save(const std::string& path) const {
        std::string bytes;
        if (!m_.SerializeToString(&bytes)) return false;
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        return f.good();
    }

  private:
    static void fill(TensorProto* t, const std::string& name, const std::vector<int64_t>& dims, int dt) {
        t->set_name(name);
        t->set_data_type(dt);
        for (int64_t d : dims) t->add_dims(d);
    }
    static void value(onnx::ValueInfoProto* vi, const std::string& name, const std::vector<int64_t>& dims, int elem) {
        vi->set_name(name);
        auto* tt = vi->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(elem);
        auto* shape = tt->mutable_shape();
        for (int64_t d : dims) {
            auto* dim = shape->add_dim();
            if (d < 0)
                dim->set_dim_param("batch");
            else
                dim->set_dim_value(d);
        }
    }
    onnx::ModelProto m_;
    onnx::GraphProto* g_ = nullptr;
};

std::vector<float> ramp(size_t n, float scale = 0.01f) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 17) - 8);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    std::filesystem::create_directories(dir);
    int written = 0;
    auto save = [&](const ModelWriter& m, const char* name) {
        if (!m.save(dir + "/" + name + ".onnx")) {
            std::fprintf(stderr, "cannot write %s/%s.onnx\n", dir.c_str(), name);
            std::exit(1);
        }
        ++written;
    };
    using M = ModelWriter;
    {  // Conv -> BatchNormalization -> SiLU, the YOLO building block.
        M m(12);
        m.meta("imgsz", "[8, 8]");
        m.input("images", {1, 3, 8, 8});
        m.init_f32("w", {4, 3, 3, 3}, ramp(108));
        m.init_f32("b", {4}, ramp(4));
        for (const char* p : {"g", "beta", "mean"}) m.init_f32(p, {4}, ramp(4, 0.1f));
        m.init_f32("var", {4}, {1.f, 0.5f, 2.f, 1.5f});
        auto* c = m.node("Conv", {"images", "w", "b"}, {"c"});
        M::attr_is(c, "kernel_shape", {3, 3});
        M::attr_is(c, "pads", {1, 1, 1, 1});
        M::attr_is(c, "strides", {1, 1});
        M::attr_f(m.node("BatchNormalization", {"c", "g", "beta", "mean", "var"}, {"bn"}), "epsilon", 1e-3f);
        m.node("Sigmoid", {"bn"}, {"s"});
        m.node("Mul", {"bn", "s"}, {"y"});
        m.node("Add", {"y", "c"}, {"z"});
        m.output("z");
        save(m, "conv_bn_silu");
    }
    {  // Dynamic batch: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
        M m(13);
        m.input("images", {-1, 4, 6, 6});
        m.init_i64("idx", {}, {0});
        m.init_i64("axes", {1}, {0});
        m.init_i64("rest", {2}, {4, -1});
        m.node("Shape", {"images"}, {"sh"});
        M::attr_i(m.node("Gather", {"sh", "idx"}, {"n"}), "axis", 0);
        m.node("Unsqueeze", {"n", "axes"}, {"nu"});
        M::attr_i(m.node("Concat", {"nu", "rest"}, {"t"}), "axis", 0);
        m.node("Reshape", {"images", "t"}, {"r"});
        m.node("Flatten", {"r"}, {"f"});
        m.output("f");
        save(m, "shape_chain_dynamic_batch");
    }
    {  // Shape-materialising ops on constants: ConstantOfShape, Range, Expand, Tile.
        M m(13);
        m.input("images", {1, 2, 4, 4});
        m.init_i64("shape", {4}, {1, 2, 4, 4});
        m.init_f32("start", {}, {0.f});
        m.init_f32("limit", {}, {16.f});
        m.init_f32("delta", {}, {1.f});
        m.init_i64("rs", {4}, {1, 1, 4, 4});
        m.init_f32("row", {1, 1, 1, 4}, {1, 2, 3, 4});
        m.init_i64("reps", {4}, {1, 2, 1, 1});
        M::attr_t(m.node("ConstantOfShape", {"shape"}, {"fill"}), "value", {0.5f});
        m.node("Range", {"start", "limit", "delta"}, {"rg"});
        m.node("Reshape", {"rg", "rs"}, {"rg4"});
        m.node("Expand", {"row", "shape"}, {"ex"});
        m.node("Tile", {"rg4", "reps"}, {"ti"});
        m.node("Add", {"images", "fill"}, {"a"});
        m.node("Mul", {"a", "ex"}, {"b"});
        m.node("Sub", {"b", "ti"}, {"c"});
        m.output("c");
        save(m, "constant_shape_ops");
    }
    {  // The FPN/C2f data movement: Resize, Split, Concat, Slice, MaxPool.
        M m(13);
        m.input("images", {1, 4, 4, 4});
        m.init_f32("roi", {0}, {});
        m.init_f32("scales", {4}, {1, 1, 2, 2});
        m.init_i64("split", {2}, {2, 2});
        m.init_i64("st", {1}, {0});
        m.init_i64("en", {1}, {3});
        m.init_i64("ax", {1}, {1});
        auto* r = m.node("Resize", {"images", "roi", "scales"}, {"up"});
        M::attr_s(r, "mode", "nearest");
        M::attr_s(r, "coordinate_transformation_mode", "asymmetric");
        M::attr_s(r, "nearest_mode", "floor");
        M::attr_i(m.node("Split", {"up", "split"}, {"p0", "p1"}), "axis", 1);
        M::attr_i(m.node("Concat", {"p1", "p0", "up"}, {"cat"}), "axis", 1);
        m.node("Slice", {"cat", "st", "en", "ax"}, {"sl"});
        auto* mp = m.node("MaxPool", {"sl"}, {"mp"});
        M::attr_is(mp, "kernel_shape", {5, 5});
        M::attr_is(mp, "pads", {2, 2, 2, 2});
        M::attr_is(mp, "strides", {1, 1});
        auto* ap = m.node("AveragePool", {"mp"}, {"y"});
        M::attr_is(ap, "kernel_shape", {2, 2});
        M::attr_is(ap, "strides", {2, 2});
        m.output("y");
        save(m, "resize_split_concat_slice_pool");
    }
    {  // Attention: Transpose, MatMul, Softmax (opset 12 semantics), the DFL Conv.
        M m(12);
        m.input("images", {1, 2, 8, 4});
        m.init_f32("scale", {}, {0.35f});
        M::attr_is(m.node("Transpose", {"images"}, {"t"}), "perm", {0, 1, 3, 2});
        m.node("MatMul", {"t", "images"}, {"mm"});
        m.node("Mul", {"mm", "scale"}, {"s"});
        M::attr_i(m.node("Softmax", {"s"}, {"sm"}), "axis", -1);
        m.node("MatMul", {"images", "sm"}, {"y"});
        m.node("Div", {"y", "scale"}, {"z"});
        m.output("z");
        save(m, "attention");
    }
    {  // ONNX Runtime dynamic quantization.
        M m(13);
        m.input("images", {1, 3, 6, 6});
        std::vector<uint8_t> wq(4 * 3 * 3 * 3);
        for (size_t i = 0; i < wq.size(); ++i) wq[i] = static_cast<uint8_t>(i * 37);
        m.init_u8("wq", {4, 3, 3, 3}, wq);
        m.init_u8("wz", {}, {128});
        m.init_f32("ws", {}, {0.004f});
        m.init_f32("bias", {4, 1, 1}, ramp(4));
        m.node("DynamicQuantizeLinear", {"images"}, {"xq", "xs", "xz"});
        m.node("Mul", {"xs", "ws"}, {"sc"});
        M::attr_is(m.node("ConvInteger", {"xq", "wq", "xz", "wz"}, {"ci"}), "pads", {1, 1, 1, 1});
        M::attr_i(m.node("Cast", {"ci"}, {"cf"}), "to", 1);
        m.node("Mul", {"cf", "sc"}, {"y"});
        m.node("Add", {"y", "bias"}, {"z"});
        m.output("z");
        save(m, "dynamic_quant_conv");
    }
    {  // Element-wise odds and ends, Constant nodes.
        M m(13);
        m.input("images", {1, 3, 4, 4});
        auto* k = m.node("Constant", {}, {"zero"});
        M::attr_f(k, "value_float", 0.f);
        auto* k2 = m.node("Constant", {}, {"axes"});
        M::attr_is(k2, "value_ints", {0});
        auto* k3 = m.node("Constant", {}, {"six"});
        M::attr_t(k3, "value", {6.f});
        m.node("Greater", {"images", "zero"}, {"pos"});
        m.node("Neg", {"images"}, {"neg"});
        m.node("Where", {"pos", "images", "neg"}, {"abs"});
        m.node("Clip", {"abs", "zero", "six"}, {"cl"});
        m.node("Pow", {"cl", "six"}, {"pw"});
        M::attr_i(m.node("Cast", {"pw"}, {"i"}), "to", 7);
        M::attr_i(m.node("Cast", {"i"}, {"f"}), "to", 1);
        m.node("Squeeze", {"f", "axes"}, {"sq"});
        m.node("Unsqueeze", {"sq", "axes"}, {"us"});
        m.node("HardSwish", {"us"}, {"hs"});
        m.node("Identity", {"hs"}, {"y"});
        m.output("y");
        save(m, "elementwise_misc");
    }
    {  // The deprecated Upsample at opset 9.
        M m(9);
        m.input("images", {1, 2, 3, 3});
        m.init_f32("scales", {4}, {1, 1, 2, 2});
        M::attr_s(m.node("Upsample", {"images", "scales"}, {"y"}), "mode", "nearest");
        m.output("y");
        save(m, "upsample_opset9");
    }
    std::printf("wrote %d seed models to %s\n", written, dir.c_str());
    return 0;
}
