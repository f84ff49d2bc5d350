// find_attention_blocks (src/backend/attention_pattern.h) on hand-made PSA attention blocks: the block and its
// geometry where the graph is the Ultralytics export's shape, nothing where any link of it differs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend/attention_pattern.h"
#include "passes/passes.h"

namespace itscam {
namespace {

// What to change in the hand-made block.
struct Variant {
    int64_t softmax_axis = -1;
    bool v_output = false;         // the value tensor is a graph output too
    bool vector_scale = false;     // Mul by a [9] constant instead of a scalar
    bool scores_output = false;    // the scores are a graph output too
    bool out_read_by_add = false;  // the attention output feeds an Add, not a convolution
    bool qkv_read_twice = false;   // the qkv convolution's output has a second reader
};

Tensor ints(std::vector<int64_t> v) {
    Tensor t = Tensor::empty(DType::kI64, {static_cast<int64_t>(v.size())});
    for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
    return t;
}

Tensor floats(const Shape& s, float v) {
    Tensor t = Tensor::empty(DType::kF32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v;
    return t;
}

// x [1,8,3,3] -> qkv Conv -> Reshape [1,2,16,9] -> Split (4, 4, 8) -> MatMul(Transpose(q), k) * 0.5 -> Softmax ->
// Transpose -> MatMul(v, .) -> Reshape [1,16,3,3] = out; Reshape(v) = vv; pe Conv(vv, residual out); proj Conv.
// Two heads, dk 4, dv 8, 9 tokens.
Graph make_block(const Variant& o) {
    Graph g;
    g.opset = 17;
    g.inputs = {"x"};
    g.values["x"] = {DType::kF32, {1, 8, 3, 3}};
    auto constant = [&g](const std::string& n, Tensor t) {
        g.values[n] = {t.dtype(), t.shape()};
        g.constants[n] = std::move(t);
    };
    constant("w_qkv", floats({32, 8, 1, 1}, 0.1f));
    constant("shape0", ints({1, 2, 16, 9}));
    constant("sizes", ints({4, 4, 8}));
    constant("scale", o.vector_scale ? floats({9}, 0.5f) : floats({}, 0.5f));
    constant("shape1", ints({1, 16, 3, 3}));
    constant("w_pe", floats({16, 1, 3, 3}, 0.1f));
    constant("w_proj", floats({16, 16, 1, 1}, 0.1f));
    g.nodes = {
        {"Conv", "/attn/qkv", {"x", "w_qkv"}, {"qkv"}, {}},
        {"Reshape", "/attn/Reshape", {"qkv", "shape0"}, {"r0"}, {}},
        {"Split", "/attn/Split", {"r0", "sizes"}, {"q", "k", "v"}, {{"axis", Attr::of_int(2)}}},
        {"Transpose", "/attn/Transpose", {"q"}, {"qt"}, {{"perm", Attr::of_ints({0, 1, 3, 2})}}},
        {"MatMul", "/attn/MatMul", {"qt", "k"}, {"s"}, {}},
        {"Mul", "/attn/Mul", {"s", "scale"}, {"ss"}, {}},
        {"Softmax", "/attn/Softmax", {"ss"}, {"p"}, {{"axis", Attr::of_int(o.softmax_axis)}}},
        {"Transpose", "/attn/Transpose_1", {"p"}, {"pt"}, {{"perm", Attr::of_ints({0, 1, 3, 2})}}},
        {"MatMul", "/attn/MatMul_1", {"v", "pt"}, {"o"}, {}},
        {"Reshape", "/attn/Reshape_1", {"o", "shape1"}, {"out"}, {}},
        {"Reshape", "/attn/Reshape_2", {"v", "shape1"}, {"vv"}, {}},
        {"Conv",
         "/attn/pe",
         {"vv", "w_pe", "", o.out_read_by_add ? "" : "out"},
         {"pe"},
         {{"group", Attr::of_int(16)}, {"pads", Attr::of_ints({1, 1, 1, 1})}}},
        {"Conv", "/attn/proj", {"pe", "w_proj"}, {"y"}, {}},
    };
    g.outputs = {"y"};
    if (o.out_read_by_add) {
        g.nodes.push_back({"Add", "/attn/Add", {"out", "pe"}, {"z"}, {}});
        g.outputs.push_back("z");
    }
    if (o.scores_output) g.outputs.push_back("s");
    if (o.v_output) g.outputs.push_back("v");
    if (o.qkv_read_twice) g.outputs.push_back("qkv");
    EXPECT_TRUE(infer_shapes(g).is_ok());
    return g;
}

TEST(AttentionPattern, FindsTheBlockAndItsGeometry) {
    const Graph g = make_block({});
    ASSERT_TRUE(g.verify().is_ok());
    const auto blocks = find_attention_blocks(g);
    ASSERT_EQ(blocks.size(), 1u);
    const AttentionBlock& b = blocks[0];
    EXPECT_EQ(b.qkv, "qkv");
    EXPECT_EQ(b.out, "out");
    EXPECT_EQ(b.v, "vv");
    EXPECT_EQ(b.heads, 2);
    EXPECT_EQ(b.dk, 4);
    EXPECT_EQ(b.dv, 8);
    EXPECT_EQ(b.batch, 1);
    EXPECT_EQ(b.hw, 9);
    EXPECT_FLOAT_EQ(b.scale, 0.5f);
    const std::vector<std::string> nodes = {"/attn/Reshape",   "/attn/Split",    "/attn/Transpose",   "/attn/MatMul",
                                            "/attn/Mul",       "/attn/Softmax",  "/attn/Transpose_1", "/attn/MatMul_1",
                                            "/attn/Reshape_1", "/attn/Reshape_2"};
    EXPECT_EQ(b.nodes, nodes);
}

TEST(AttentionPattern, LeavesOtherGraphsAlone) {
    struct Case {
        const char* what;
        Variant v;
    };
    std::vector<Case> cases(5);
    cases[0] = {"softmax over the queries", {}};
    cases[0].v.softmax_axis = 2;
    cases[1] = {"the value tensor read outside the block", {}};
    cases[1].v.v_output = true;
    cases[2] = {"a per-token scale", {}};
    cases[2].v.vector_scale = true;
    cases[3] = {"the scores read outside the block", {}};
    cases[3].v.scores_output = true;
    cases[4] = {"the attention output read by an Add", {}};
    cases[4].v.out_read_by_add = true;
    for (const Case& c : cases) {
        const Graph g = make_block(c.v);
        EXPECT_TRUE(find_attention_blocks(g).empty()) << c.what;
    }
    Variant twice;
    twice.qkv_read_twice = true;
    EXPECT_TRUE(find_attention_blocks(make_block(twice)).empty()) << "qkv read outside the block";
}

}  // namespace
}  // namespace itscam
