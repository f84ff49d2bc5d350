// Before/after tests for every pass in passes/passes.h on small hand-built graphs: each pass must keep the graph's
// outputs (reference backend, same random inputs) and rewrite exactly the nodes its legality conditions allow.
#include <gtest/gtest.h>

#include <cstring>

#include "ops/op_registry.h"
#include "passes/passes.h"
#include "graph_builder_test_util.h"

namespace itscam {
namespace {

using test::count_op;
using test::expect_same_outputs;
using test::GraphBuilder;
using test::random_inputs;
using test::run_ref;

using Hist = std::map<std::string, int>;

const Node* producer_node(const Graph& g, const std::string& v) {
    const int i = g.producer(v);
    return i < 0 ? nullptr : &g.nodes[i];
}

Attr axis(int64_t a) {
    return Attr::of_int(a);
}

// ---------------------------------------------------------------------------------------------------------------
// fold_constants

TEST(FoldConstants, FoldsConstantChainsAndShapeOfKnownShapes) {
    GraphBuilder b(11);
    auto x = b.input("x", {2, 4, 5, 6});
    auto s = b.node("Add", "add_c", {b.weight("c1", {4}), b.weight("c2", {4})});
    auto r = b.node("Reshape", "reshape_c", {s, b.ints("shape_c", {1, 4, 1, 1})});
    auto y = b.node("Mul", "mul_x", {x, r});
    // The Shape -> Gather -> Unsqueeze -> Concat chain of dynamic exports, over a fully known shape.
    auto sh = b.node("Shape", "shape_y", {y});
    auto n0 = b.node("Gather", "gather_n", {sh, b.constant("idx0", Tensor::from_i64({0}, {}))}, {{"axis", axis(0)}});
    auto n0u = b.node("Unsqueeze", "unsq_n", {n0, b.ints("axes0", {0})});
    auto tgt = b.node("Concat", "concat_t", {n0u, b.ints("rest", {-1})}, {{"axis", axis(0)}});
    auto flat = b.node("Reshape", "reshape_y", {y, tgt});
    b.output(flat);
    // Shape with negative start/end (opset 15): dims [1, 3) -> [4, 5].
    auto mid = b.node("Shape", "shape_mid", {y}, {{"start", Attr::of_int(-3)}, {"end", Attr::of_int(-1)}});
    auto tgt2 = b.node("Concat", "concat_t2", {b.ints("two", {2}), mid, b.ints("m1", {-1})}, {{"axis", axis(0)}});
    b.output(b.node("Reshape", "reshape_y2", {y, tgt2}));
    const Graph before = b.build();

    Graph after = before;
    auto folded = fold_constants(after);
    ASSERT_TRUE(folded.is_ok()) << folded.status().to_string();
    EXPECT_EQ(*folded, 8);
    EXPECT_EQ(after.op_histogram(), (Hist{{"Mul", 1}, {"Reshape", 2}}));
    ASSERT_NE(after.constant(tgt2), nullptr);
    EXPECT_EQ(after.constant(tgt2)->to_i64_vector(), (std::vector<int64_t>{2, 4, 5, -1}));
    ASSERT_NE(after.constant(tgt), nullptr);
    EXPECT_EQ(after.constant(tgt)->to_i64_vector(), (std::vector<int64_t>{2, -1}));
    ASSERT_NE(after.constant(r), nullptr);
    EXPECT_EQ(after.constant(r)->shape(), (Shape{1, 4, 1, 1}));
    EXPECT_TRUE(after.verify().is_ok());
    expect_same_outputs(before, after, random_inputs(before, 1));

    // Idempotent: nothing left to fold.
    auto again = fold_constants(after);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(*again, 0);
}

TEST(FoldConstants, KeepsConstantNodesThatAreGraphOutputsAndShapeOfUnknownShapes) {
    GraphBuilder b(12);
    auto x = b.input("x", {-1, 3, 4, 4});  // dynamic batch: Shape(x) is not known yet
    auto c = b.node("Add", "add_c", {b.weight("c1", {3}), b.weight("c2", {3})});
    auto sh = b.node("Shape", "shape_x", {x});
    auto r = b.node("Relu", "relu_x", {x});
    b.output(c);
    b.output(sh);
    b.output(r);
    const Graph before = b.build();
    Graph after = before;
    auto folded = fold_constants(after);
    ASSERT_TRUE(folded.is_ok()) << folded.status().to_string();
    EXPECT_EQ(*folded, 0);
    EXPECT_EQ(after.op_histogram(), (Hist{{"Add", 1}, {"Relu", 1}, {"Shape", 1}}));
    std::mt19937 rng(3);
    expect_same_outputs(before, after, {test::random_tensor({2, 3, 4, 4}, rng)});
}

// ---------------------------------------------------------------------------------------------------------------
// eliminate_dead_nodes

TEST(EliminateDeadNodes, RemovesUnreadNodesAndConstants) {
    GraphBuilder b(21);
    auto x = b.input("x", {1, 4, 3, 3});
    auto a = b.node("Relu", "relu", {x});
    auto s = b.node("Sigmoid", "sig_dead", {x});
    auto d = b.node("Mul", "mul_dead", {s, b.weight("only_dead_reads_me", {1, 4, 1, 1})});
    auto parts = b.node_n("Split", "split", {x, b.ints("split_sizes", {2, 2})}, {{"axis", axis(1)}}, 2);
    auto p = b.node("Add", "add_live", {parts[0], parts[0]});
    b.weight("orphan", {7});
    b.output(a);
    b.output(p);
    const Graph before = b.build();

    Graph after = before;
    auto removed = eliminate_dead_nodes(after);
    ASSERT_TRUE(removed.is_ok());
    EXPECT_EQ(*removed, 2);
    EXPECT_EQ(after.op_histogram(), (Hist{{"Add", 1}, {"Relu", 1}, {"Split", 1}}));  // Split has one live output
    EXPECT_FALSE(after.is_constant("orphan"));
    EXPECT_FALSE(after.is_constant("only_dead_reads_me"));
    EXPECT_TRUE(after.is_constant("split_sizes"));
    EXPECT_EQ(after.info(s), nullptr);
    EXPECT_EQ(after.info(d), nullptr);
    EXPECT_EQ(after.info("orphan"), nullptr);
    EXPECT_NE(after.info(parts[1]), nullptr);  // output of a live node stays described
    EXPECT_TRUE(after.verify().is_ok());
    expect_same_outputs(before, after, random_inputs(before, 2));

    auto again = eliminate_dead_nodes(after);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(*again, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// fuse_conv_bn

std::string add_bn(GraphBuilder& b, const std::string& name, const std::string& x, int64_t c, float eps = 1e-3f) {
    return b.node("BatchNormalization", name,
                  {x, b.positive(name + "_gamma", {c}), b.weight(name + "_beta", {c}), b.weight(name + "_mean", {c}),
                   b.positive(name + "_var", {c}, 0.05f, 2.f)},
                  {{"epsilon", Attr::of_float(eps)}});
}

TEST(FuseConvBn, FoldsBatchNormIntoConvWithAndWithoutBias) {
    for (bool bias : {true, false}) {
        SCOPED_TRACE(bias ? "conv with bias" : "conv without bias");
        GraphBuilder b(31);
        auto x = b.input("x", {2, 8, 7, 7});
        auto y = b.conv("conv", x, 8, 16, 3, 1, 1, 1, bias);
        auto z = add_bn(b, "bn", y, 16);
        auto y2 = b.conv("conv2", z, 16, 16, 1, 2, 0, 1, bias);
        b.output(add_bn(b, "bn2", y2, 16, 1e-5f));
        const Graph before = b.build();

        Graph after = before;
        auto fused = fuse_conv_bn(after);
        ASSERT_TRUE(fused.is_ok());
        EXPECT_EQ(*fused, 2);
        EXPECT_EQ(after.op_histogram(), (Hist{{"Conv", 2}}));
        for (const auto& n : after.nodes) {
            EXPECT_EQ(n.num_inputs(), 3u) << n.name << " must have a bias after folding";
            ASSERT_TRUE(after.is_constant(n.input(1)));
            ASSERT_TRUE(after.is_constant(n.input(2)));
        }
        // The folded weights are new constants: the original weights (maybe shared) are untouched.
        EXPECT_NE(after.nodes[0].inputs[1], "conv_W");
        EXPECT_TRUE(after.verify().is_ok());
        ASSERT_TRUE(infer_shapes(after).is_ok());
        expect_same_outputs(before, after, random_inputs(before, 3));
    }
}

TEST(FuseConvBn, DoesNotFuseWhenIllegal) {
    GraphBuilder b(32);
    auto x = b.input("x", {1, 4, 5, 5});
    // (1) conv output also read by another node.
    auto y1 = b.conv("conv_shared", x, 4, 4, 3);
    auto z1 = add_bn(b, "bn1", y1, 4);
    auto r1 = b.node("Relu", "relu_shared", {y1});
    // (2) conv output is a graph output.
    auto y2 = b.conv("conv_out", x, 4, 4, 1);
    auto z2 = add_bn(b, "bn2", y2, 4);
    // (3) conv already has a fused activation: BN(relu(conv)) != relu(BN(conv)).
    auto y3 = b.conv("conv_act", x, 4, 4, 3, 1, 1, 1, true, {{"activation", Attr::of_string("relu")}});
    auto z3 = add_bn(b, "bn3", y3, 4);
    // (4) BN parameters not constant (a runtime input).
    auto mean = b.input("mean", {4});
    auto y4 = b.conv("conv_rt", x, 4, 4, 3);
    auto z4 = b.node("BatchNormalization", "bn4",
                     {y4, b.positive("g4", {4}), b.weight("b4", {4}), mean, b.positive("v4", {4})});
    for (const auto& o : {z1, r1, y2, z2, z3, z4}) b.output(o);
    const Graph before = b.build();

    Graph after = before;
    auto fused = fuse_conv_bn(after);
    ASSERT_TRUE(fused.is_ok());
    EXPECT_EQ(*fused, 0);
    EXPECT_EQ(count_op(after, "BatchNormalization"), 4);
    std::mt19937 rng(5);
    expect_same_outputs(before, after, {test::random_tensor({1, 4, 5, 5}, rng), test::random_tensor({4}, rng)});
}

// ---------------------------------------------------------------------------------------------------------------
// fuse_conv_activation

std::string add_silu(GraphBuilder& b, const std::string& name, const std::string& y, bool sigmoid_first) {
    auto s = b.node("Sigmoid", name + "_sig", {y});
    return b.node("Mul", name + "_mul",
                  sigmoid_first ? std::vector<std::string>{s, y} : std::vector<std::string>{y, s});
}

TEST(FuseConvActivation, FusesSiluInBothOperandOrdersAndRelu) {
    GraphBuilder b(41);
    auto x = b.input("x", {3, 3, 11, 9});
    auto y1 = add_silu(b, "act1", b.conv("conv1", x, 3, 16, 3, 2), /*sigmoid_first=*/false);  // Mul(y, s)
    auto y2 = add_silu(b, "act2", b.conv("conv2", y1, 16, 24, 1), /*sigmoid_first=*/true);    // Mul(s, y)
    auto y3 = b.node("Relu", "relu3", {b.conv("conv3", y2, 24, 8, 3)});
    b.output(y3);
    const Graph before = b.build();

    Graph after = before;
    auto fused = fuse_conv_activation(after);
    ASSERT_TRUE(fused.is_ok());
    EXPECT_EQ(*fused, 3);
    EXPECT_EQ(after.op_histogram(), (Hist{{"Conv", 3}}));
    ASSERT_EQ(after.nodes.size(), 3u);
    EXPECT_EQ(after.nodes[0].attr_string("activation", ""), "silu");
    EXPECT_EQ(after.nodes[1].attr_string("activation", ""), "silu");
    EXPECT_EQ(after.nodes[2].attr_string("activation", ""), "relu");
    // Each fused Conv writes the value the activation wrote, so consumers and graph outputs keep their names.
    EXPECT_EQ(after.nodes[0].outputs[0], y1);
    EXPECT_EQ(after.nodes[1].outputs[0], y2);
    EXPECT_EQ(after.nodes[2].outputs[0], y3);
    EXPECT_EQ(after.outputs, before.outputs);
    EXPECT_TRUE(after.verify().is_ok());
    ASSERT_TRUE(infer_shapes(after).is_ok());
    expect_same_outputs(before, after, random_inputs(before, 4));
}

TEST(FuseConvActivation, DoesNotFuseWhenIllegal) {
    GraphBuilder b(42);
    auto x = b.input("x", {1, 8, 6, 6});
    // (1) The Sigmoid output is read twice (by the Mul and by an Add): it must stay.
    auto y1 = b.conv("conv_sig_twice", x, 8, 8, 3);
    auto s1 = b.node("Sigmoid", "sig_twice", {y1});
    auto m1 = b.node("Mul", "mul_twice", {y1, s1});
    auto a1 = b.node("Add", "add_reads_sig", {s1, m1});
    // (2) The Conv output is a graph output: the pre-activation value must still be produced.
    auto y2 = b.conv("conv_is_output", x, 8, 8, 1);
    auto m2 = add_silu(b, "act_out", y2, false);
    // (3) The Conv output has a third reader.
    auto y3 = b.conv("conv_three_readers", x, 8, 8, 3);
    auto m3 = add_silu(b, "act3", y3, true);
    auto a3 = b.node("Add", "add3", {y3, m3});
    // (4) Relu with the Conv output read elsewhere too.
    auto y4 = b.conv("conv_relu_shared", x, 8, 8, 3);
    auto r4 = b.node("Relu", "relu4", {y4});
    auto a4 = b.node("Add", "add4", {y4, r4});
    // (5) The Conv has a fused residual: act(conv + r) != act(conv) + r.
    auto y5 = b.node("Conv", "conv_residual", {x, b.weight("w5", {8, 8, 3, 3}, 0.2f), b.weight("b5", {8}), x},
                     {{"pads", Attr::of_ints({1, 1, 1, 1})}});
    auto r5 = b.node("Relu", "relu5", {y5});
    // (6) Mul of the sigmoid with some other tensor than the Conv output.
    auto y6 = b.conv("conv_other_mul", x, 8, 8, 1);
    auto s6 = b.node("Sigmoid", "sig6", {y6});
    auto m6 = b.node("Mul", "mul6", {s6, x});
    auto a6 = b.node("Add", "add6", {m6, y6});
    for (const auto& o : {a1, y2, m2, a3, a4, r5, a6}) b.output(o);
    const Graph before = b.build();

    Graph after = before;
    auto fused = fuse_conv_activation(after);
    ASSERT_TRUE(fused.is_ok());
    EXPECT_EQ(*fused, 0);
    EXPECT_EQ(after.op_histogram(), before.op_histogram());
    for (const auto& n : after.nodes) EXPECT_FALSE(n.has_attr("activation")) << n.name;
    expect_same_outputs(before, after, random_inputs(before, 5));
}

TEST(FuseConvActivation, FusesOnlyTheLegalConvOfMixedGraph) {
    // One legal SiLU next to one whose Sigmoid is also a graph output.
    GraphBuilder b(43);
    auto x = b.input("x", {2, 4, 5, 5});
    auto m1 = add_silu(b, "ok", b.conv("conv_ok", x, 4, 4, 3), true);
    auto y2 = b.conv("conv_sig_out", m1, 4, 4, 3);
    auto s2 = b.node("Sigmoid", "sig_out", {y2});
    auto m2 = b.node("Mul", "mul_sig_out", {s2, y2});
    b.output(m2);
    b.output(s2);
    const Graph before = b.build();
    Graph after = before;
    auto fused = fuse_conv_activation(after);
    ASSERT_TRUE(fused.is_ok());
    EXPECT_EQ(*fused, 1);
    EXPECT_EQ(after.op_histogram(), (Hist{{"Conv", 2}, {"Mul", 1}, {"Sigmoid", 1}}));
    ASSERT_NE(producer_node(after, m1), nullptr);
    EXPECT_EQ(producer_node(after, m1)->attr_string("activation", ""), "silu");
    expect_same_outputs(before, after, random_inputs(before, 6));
}

// ---------------------------------------------------------------------------------------------------------------
// fuse_conv_residual

TEST(FuseConvResidual, FusesAddInBothOperandOrders) {
    GraphBuilder b(51);
    auto x = b.input("x", {2, 16, 9, 7});
    auto silu = std::map<std::string, Attr>{{"activation", Attr::of_string("silu")}};
    auto y1 = b.conv("conv1", x, 16, 16, 3, 1, 1, 1, true, silu);
    auto z1 = b.node("Add", "add1", {x, y1});  // Add(r, conv)
    auto y2 = b.conv("conv2", z1, 16, 16, 1, 1, 0, 1, true, silu);
    auto z2 = b.node("Add", "add2", {y2, z1});  // Add(conv, r)
    b.output(z2);
    const Graph before = b.build();

    Graph after = before;
    auto fused = fuse_conv_residual(after);
    ASSERT_TRUE(fused.is_ok());
    EXPECT_EQ(*fused, 2);
    EXPECT_EQ(after.op_histogram(), (Hist{{"Conv", 2}}));
    ASSERT_EQ(after.nodes.size(), 2u);
    EXPECT_EQ(after.nodes[0].num_inputs(), 4u);
    EXPECT_EQ(after.nodes[0].inputs[3], x);
    EXPECT_EQ(after.nodes[0].outputs[0], z1);
    EXPECT_EQ(after.nodes[0].attr_string("activation", ""), "silu");
    EXPECT_EQ(after.nodes[1].inputs[3], z1);
    EXPECT_EQ(after.nodes[1].outputs[0], z2);
    EXPECT_TRUE(after.verify().is_ok());
    ASSERT_TRUE(infer_shapes(after).is_ok());
    expect_same_outputs(before, after, random_inputs(before, 7));
}

TEST(FuseConvResidual, MovesConvAfterAResidualComputedLater) {
    // The residual r is produced after the Conv in node order; the fused Conv must run after r.
    GraphBuilder b(52);
    auto x = b.input("x", {1, 8, 6, 6});
    auto y = b.conv("conv_early", x, 8, 8, 3);
    auto r = b.conv("conv_late", x, 8, 8, 1, 1, 0, 1, true, {{"activation", Attr::of_string("relu")}});
    b.output(b.node("Add", "add", {y, r}));
    const Graph before = b.build();
    Graph after = before;
    auto fused = fuse_conv_residual(after);
    ASSERT_TRUE(fused.is_ok());
    EXPECT_EQ(*fused, 1);
    ASSERT_EQ(after.nodes.size(), 2u);
    EXPECT_EQ(after.nodes[0].name, "conv_late");
    EXPECT_EQ(after.nodes[1].inputs[3], r);
    Status st = after.verify();
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    expect_same_outputs(before, after, random_inputs(before, 8));
}

TEST(FuseConvResidual, DoesNotFuseWhenIllegal) {
    GraphBuilder b(53);
    auto x = b.input("x", {1, 8, 5, 5});
    // (1) broadcasting residual.
    auto z1 = b.node("Add", "add_bcast", {b.conv("conv_bcast", x, 8, 8, 3), b.weight("bias_like", {1, 8, 1, 1})});
    // (2) conv output read twice.
    auto y2 = b.conv("conv_shared", x, 8, 8, 3);
    auto z2 = b.node("Add", "add_shared", {x, y2});
    auto r2 = b.node("Relu", "relu_shared", {y2});
    // (3) conv output is a graph output.
    auto y3 = b.conv("conv_out", x, 8, 8, 1);
    auto z3 = b.node("Add", "add_out", {y3, x});
    // (4) conv already carries a residual.
    auto y4 = b.node("Conv", "conv_has_res", {x, b.weight("w4", {8, 8, 1, 1}), b.weight("b4", {8}), x});
    auto z4 = b.node("Add", "add_second_res", {y4, x});
    // (5) Add(y, y): the residual is the conv output itself.
    auto y5 = b.conv("conv_self", x, 8, 8, 1);
    auto z5 = b.node("Add", "add_self", {y5, y5});
    // (6) the residual has another dtype-compatible but smaller shape (spatial broadcast).
    auto z6 = b.node("Add", "add_spatial", {b.conv("conv_sp", x, 8, 8, 3), b.input("small", {1, 8, 1, 5})});
    for (const auto& o : {z1, z2, r2, y3, z3, z4, z5, z6}) b.output(o);
    const Graph before = b.build();

    Graph after = before;
    auto fused = fuse_conv_residual(after);
    ASSERT_TRUE(fused.is_ok());
    EXPECT_EQ(*fused, 0);
    EXPECT_EQ(after.op_histogram(), before.op_histogram());
    expect_same_outputs(before, after, random_inputs(before, 9));
}

// ---------------------------------------------------------------------------------------------------------------
// dequantize_weights

struct QConv {
    Tensor wq;    // uint8 [oc, ic, k, k]
    Tensor wz;    // uint8 scalar
    Tensor ws;    // f32 scalar or [oc, 1, 1]
    Tensor bias;  // f32 [oc, 1, 1] or undefined
};

QConv make_qconv(std::mt19937& rng, int64_t oc, int64_t ic, int64_t k, bool per_channel, bool bias) {
    QConv q;
    q.wq = Tensor::empty(DType::kU8, {oc, ic, k, k});
    std::uniform_int_distribution<int> d(0, 255);
    for (int64_t i = 0; i < q.wq.numel(); ++i) q.wq.data<uint8_t>()[i] = static_cast<uint8_t>(d(rng));
    q.wz = Tensor::empty(DType::kU8, {});
    *q.wz.data<uint8_t>() = 131;
    q.ws = per_channel ? test::random_tensor({oc, 1, 1}, rng, 0.002f, 0.01f) : Tensor::scalar_f32(0.004f);
    if (bias) q.bias = test::random_tensor({oc, 1, 1}, rng, -0.5f, 0.5f);
    return q;
}

// onnxruntime's dynamic-quant subgraph for one conv reading DynamicQuantizeLinear outputs `dq`.
std::string add_qconv(GraphBuilder& b, const std::string& name, const std::vector<std::string>& dq, const QConv& q,
                      int64_t pad) {
    auto wq = b.constant(name + "_wq", q.wq);
    auto wz = b.constant(name + "_wz", q.wz);
    auto ws = b.constant(name + "_ws", q.ws);
    auto sc = b.node("Mul", name + "_scale", {dq[1], ws});
    auto c = b.node("ConvInteger", name + "_convint", {dq[0], wq, dq[2], wz},
                    {{"pads", Attr::of_ints({pad, pad, pad, pad})}});
    auto f = b.node("Cast", name + "_cast", {c}, {{"to", Attr::of_int(1)}});
    auto y = b.node("Mul", name + "_mul", {f, sc});
    if (q.bias.defined()) y = b.node("Add", name + "_bias", {y, b.constant(name + "_b", q.bias)});
    return y;
}

// The float Conv the pattern should become: W = (wq - wz) * ws, bias folded.
std::string add_float_conv(GraphBuilder& b, const std::string& name, const std::string& x, const QConv& q,
                           int64_t pad) {
    const int64_t oc = q.wq.dim(0), per = q.wq.numel() / oc;
    Tensor w = Tensor::empty(DType::kF32, q.wq.shape());
    auto sv = q.ws.to_f32_vector();
    for (int64_t o = 0; o < oc; ++o)
        for (int64_t j = 0; j < per; ++j)
            w.data<float>()[o * per + j] =
                (static_cast<float>(q.wq.data<uint8_t>()[o * per + j]) - *q.wz.data<uint8_t>()) *
                (sv.size() == 1 ? sv[0] : sv[o]);
    std::vector<std::string> ins{x, b.constant(name + "_w", w)};
    if (q.bias.defined()) ins.push_back(b.constant(name + "_b", q.bias.reshaped({oc})));
    return b.node("Conv", name, ins, {{"pads", Attr::of_ints({pad, pad, pad, pad})}});
}

TEST(DequantizeWeights, RewritesDynamicQuantPatternToFloatConv) {
    struct Variant {
        bool per_channel, bias;
    };
    for (Variant v : {Variant{false, true}, Variant{true, true}, Variant{false, false}, Variant{true, false}}) {
        SCOPED_TRACE(std::string(v.per_channel ? "per-channel" : "per-tensor") + (v.bias ? ", bias" : ", no bias"));
        std::mt19937 rng(61);
        // Two convs share one DynamicQuantizeLinear, as in the real int8 export.
        const QConv q1 = make_qconv(rng, 16, 8, 3, v.per_channel, v.bias);
        const QConv q2 = make_qconv(rng, 4, 8, 1, v.per_channel, v.bias);
        GraphBuilder b(62);
        auto x = b.input("x", {2, 8, 6, 7});
        auto dq = b.node_n("DynamicQuantizeLinear", "dql", {x}, {}, 3);
        b.output(add_qconv(b, "q1", dq, q1, 1));
        b.output(add_qconv(b, "q2", dq, q2, 0));
        const Graph before = b.build();

        GraphBuilder fb(63);
        auto fx = fb.input("x", {2, 8, 6, 7});
        fb.output(add_float_conv(fb, "f1", fx, q1, 1));
        fb.output(add_float_conv(fb, "f2", fx, q2, 0));
        const Graph expected = fb.build();

        Graph after = before;
        auto n = dequantize_weights(after);
        ASSERT_TRUE(n.is_ok()) << n.status().to_string();
        EXPECT_EQ(*n, 2);
        EXPECT_EQ(count_op(after, "ConvInteger"), 0);
        EXPECT_EQ(count_op(after, "Cast"), 0);
        EXPECT_EQ(count_op(after, "Conv"), 2);
        EXPECT_EQ(count_op(after, "Add"), 0);
        EXPECT_TRUE(after.verify().is_ok());
        auto dce = eliminate_dead_nodes(after);
        ASSERT_TRUE(dce.is_ok());
        EXPECT_EQ(after.op_histogram(), (Hist{{"Conv", 2}}));  // the DQL and the scale Mul are dead now
        for (const auto& node : after.nodes) {
            EXPECT_EQ(after.constant(node.inputs[1])->dtype(), DType::kF32);
            EXPECT_EQ(node.num_inputs(), v.bias ? 3u : 2u);
        }
        ASSERT_TRUE(infer_shapes(after).is_ok());
        const auto inputs = random_inputs(before, 64);
        // Exactly the float conv with dequantized weights...
        expect_same_outputs(expected, after, inputs, 1e-5);
        // ...and close to the int8-activation original (the activation quantization error is what we drop).
        expect_same_outputs(before, after, inputs, 2e-2);
    }
}

TEST(DequantizeWeights, LeavesIllegalPatternsAlone) {
    std::mt19937 rng(65);
    GraphBuilder b(66);
    auto x = b.input("x", {1, 8, 5, 5});
    auto dq = b.node_n("DynamicQuantizeLinear", "dql", {x}, {}, 3);
    // (1) The Cast output is also a graph output.
    const QConv q1 = make_qconv(rng, 8, 8, 1, false, false);
    auto y1 = add_qconv(b, "cast_out", dq, q1, 0);
    // (2) The output scale is a bare constant rather than x_scale * w_scale: the pattern does not hold.
    const QConv q2 = make_qconv(rng, 8, 8, 1, false, false);
    auto c2 = b.node("ConvInteger", "const_scale_convint",
                     {dq[0], b.constant("q2_wq", q2.wq), dq[2], b.constant("q2_wz", q2.wz)});
    auto f2 = b.node("Cast", "const_scale_cast", {c2}, {{"to", Attr::of_int(1)}});
    auto y2 = b.node("Mul", "const_scale_mul", {f2, b.constant("q2_ws", q2.ws)});
    // (3) ConvInteger without the activation zero point of the DynamicQuantizeLinear.
    const QConv q3 = make_qconv(rng, 8, 8, 1, false, false);
    auto c3 = b.node("ConvInteger", "no_xzp_convint", {dq[0], b.constant("q3_wq", q3.wq)});
    auto f3 = b.node("Cast", "no_xzp_cast", {c3}, {{"to", Attr::of_int(1)}});
    auto y3 = b.node("Mul", "no_xzp_mul", {f3, b.node("Mul", "no_xzp_scale", {dq[1], b.constant("q3_ws", q3.ws)})});
    b.output(y1);
    b.output("cast_out_cast_out");
    b.output(y2);
    b.output(y3);
    const Graph before = b.build();
    Graph after = before;
    auto n = dequantize_weights(after);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    EXPECT_EQ(*n, 0);
    EXPECT_EQ(after.op_histogram(), before.op_histogram());
    expect_same_outputs(before, after, random_inputs(before, 67), 0);
}

TEST(DequantizeWeights, KeepsANonConstantAddAfterTheConv) {
    // Add(y, runtime residual) is not a bias: the Conv is rewritten but the Add stays.
    std::mt19937 rng(68);
    const QConv q = make_qconv(rng, 8, 8, 3, true, false);
    GraphBuilder b(69);
    auto x = b.input("x", {1, 8, 5, 5});
    auto dq = b.node_n("DynamicQuantizeLinear", "dql", {x}, {}, 3);
    auto y = add_qconv(b, "q", dq, q, 1);
    b.output(b.node("Add", "residual", {y, x}));
    const Graph before = b.build();
    Graph after = before;
    auto n = dequantize_weights(after);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(*n, 1);
    ASSERT_TRUE(eliminate_dead_nodes(after).is_ok());
    EXPECT_EQ(after.op_histogram(), (Hist{{"Add", 1}, {"Conv", 1}}));
    expect_same_outputs(before, after, random_inputs(before, 70), 2e-2);
}

// ---------------------------------------------------------------------------------------------------------------
// fuse_dfl (the lead's tests/unit/fuse_dfl_test.cpp covers the basic rewrite and wrong perms/axes)

// The Detect head's DFL: Transpose(0,3,1,2) -> Softmax(last) -> Transpose(0,3,2,1) -> Conv 1x1 with w = 0..R-1.
std::string add_dfl(GraphBuilder& b, const std::string& name, const std::string& x, int64_t r, bool bias = false,
                    int64_t opset_attr = 12) {
    auto t = b.node("Transpose", name + "_t1", {x}, {{"perm", Attr::of_ints({0, 3, 1, 2})}});
    auto sm = b.node("Softmax", name + "_sm", {t}, {{"axis", axis(3)}, {"opset", Attr::of_int(opset_attr)}});
    auto u = b.node("Transpose", name + "_t2", {sm}, {{"perm", Attr::of_ints({0, 3, 2, 1})}});
    std::vector<float> w(static_cast<size_t>(r));
    for (int64_t i = 0; i < r; ++i) w[i] = static_cast<float>(i);
    std::vector<std::string> ins{u, b.constant(name + "_w", Tensor::from_f32(w, {1, r, 1, 1}))};
    if (bias) ins.push_back(b.weight(name + "_b", {1}));
    return b.node("Conv", name + "_conv", ins);
}

TEST(FuseDflMore, FusesInsideAHeadAndKeepsOutputs) {
    GraphBuilder b(91);
    auto x = b.input("x", {3, 64, 30});
    auto r = b.node("Reshape", "reshape", {x, b.ints("t", {3, 4, 16, 30})});
    auto y = add_dfl(b, "dfl", r, 16);
    b.output(b.node("Reshape", "out", {y, b.ints("t2", {3, 4, 30})}));
    const Graph before = b.build();
    Graph after = before;
    auto n = fuse_dfl(after);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(*n, 1);
    EXPECT_EQ(after.op_histogram(), (Hist{{"DflDecode", 1}, {"Reshape", 2}}));
    ASSERT_TRUE(after.verify().is_ok());
    ASSERT_TRUE(infer_shapes(after).is_ok());
    expect_same_outputs(before, after, random_inputs(before, 92, -4.f, 4.f));
}

TEST(FuseDflMore, DoesNotFuseWhenIllegal) {
    GraphBuilder b(93);
    auto x = b.input("x", {1, 4, 8, 10});
    // (1) Conv with a bias.
    auto y1 = add_dfl(b, "bias", x, 8, /*bias=*/true);
    // (2) The softmax output is read twice.
    auto y2 = add_dfl(b, "shared", x, 8);
    auto extra = b.node("Relu", "reads_softmax", {"shared_sm_out"});
    // (3) The first transpose is a graph output.
    auto y3 = add_dfl(b, "t1_out", x, 8);
    // (4) Legacy softmax over axis 1 (opset 11 default axis = flatten from 1): not the last axis.
    auto t = b.node("Transpose", "legacy_t1", {x}, {{"perm", Attr::of_ints({0, 3, 1, 2})}});
    auto sm = b.node("Softmax", "legacy_sm", {t}, {{"opset", Attr::of_int(11)}});
    auto u = b.node("Transpose", "legacy_t2", {sm}, {{"perm", Attr::of_ints({0, 3, 2, 1})}});
    std::vector<float> w(8);
    for (int i = 0; i < 8; ++i) w[i] = static_cast<float>(i);
    auto y4 = b.node("Conv", "legacy_conv", {u, b.constant("legacy_w", Tensor::from_f32(w, {1, 8, 1, 1}))});
    for (const auto& o : {y1, y2, extra, y3, std::string("t1_out_t1_out"), y4}) b.output(o);
    const Graph before = b.build();
    Graph after = before;
    auto n = fuse_dfl(after);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(*n, 0);
    EXPECT_EQ(after.op_histogram(), before.op_histogram());
    expect_same_outputs(before, after, random_inputs(before, 94), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// float16_to_float32

TEST(Float16ToFloat32, WidensAnFp16ExportAndBypassesNoOpCasts) {
    // An fp16 export: fp16 input, fp16 weights, a Cast to fp16 between layers, a Cast to fp32 at the output.
    GraphBuilder b(101);
    auto x = b.input("images", {1, 3, 6, 6}, DType::kF16);
    auto w = b.constant("w", test::random_tensor({8, 3, 3, 3}, b.rng(), -0.5f, 0.5f).cast(DType::kF16));
    auto bias = b.constant("b", test::random_tensor({8}, b.rng(), -0.5f, 0.5f).cast(DType::kF16));
    auto c = b.node("Conv", "conv", {x, w, bias}, {{"pads", Attr::of_ints({1, 1, 1, 1})}});
    auto c16 = b.node("Cast", "to_half", {c}, {{"to", Attr::of_int(10)}});
    auto r = b.node("Relu", "relu", {c16});
    auto fill = b.node("ConstantOfShape", "fill", {b.ints("shape", {1, 8, 6, 6})},
                       {{"value", Attr::of_tensor(Tensor::from_f32({0.25f}, {1}).cast(DType::kF16))}});
    auto sum = b.node("Add", "add", {r, fill});
    auto out = b.node("Cast", "to_float", {sum}, {{"to", Attr::of_int(1)}});
    b.output(out);
    const Graph before = b.build();
    ASSERT_EQ(before.info(c)->dtype, DType::kF16);

    Graph after = before;
    auto n = float16_to_float32(after);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    EXPECT_GT(*n, 0);
    for (const auto& [name, t] : after.constants) EXPECT_NE(t.dtype(), DType::kF16) << name;
    for (const auto& [name, vi] : after.values) EXPECT_NE(vi.dtype, DType::kF16) << name;
    EXPECT_EQ(count_op(after, "Cast"), 1);  // the no-op Cast between layers is gone; the output one stays
    EXPECT_EQ(after.outputs, before.outputs);
    ASSERT_TRUE(after.verify().is_ok());

    // Same input values (fp16-exact), fp32 all the way: close to the fp16 run, which rounds in between.
    std::mt19937 rng(102);
    const Tensor x16 = test::random_tensor({1, 3, 6, 6}, rng).cast(DType::kF16);
    const auto o16 = run_ref(before, {x16});
    const auto o32 = run_ref(after, {x16.cast(DType::kF32)});
    ASSERT_EQ(o16.size(), 1u);
    ASSERT_EQ(o32.size(), 1u);
    EXPECT_EQ(o32[0].dtype(), DType::kF32);
    const auto d = test::diff_f32(o16[0], o32[0]);
    EXPECT_LE(d.max_abs, 1e-2 * std::max(1.0, d.max_ref));

    // Idempotent on an fp32 graph.
    Graph again = after;
    auto n2 = float16_to_float32(again);
    ASSERT_TRUE(n2.is_ok());
    EXPECT_EQ(*n2, 0);
    EXPECT_EQ(again.op_histogram(), after.op_histogram());
}

// ---------------------------------------------------------------------------------------------------------------
// bind_input_shape

// A miniature of YOLO's head exported at batch 1: Reshape targets carry the batch ([1, 4, 4, -1], [1, 16, -1]).
Graph static_batch1_model() {
    GraphBuilder b(71);
    auto x = b.input("images", {1, 8, 6, 6});
    auto c = b.conv("conv", x, 8, 16, 3, 1, 1, 1, true, {{"activation", Attr::of_string("silu")}});
    auto r1 = b.node("Reshape", "reshape_dfl", {c, b.ints("t_dfl", {1, 4, 4, -1})});
    auto t = b.node("Transpose", "transpose", {r1}, {{"perm", Attr::of_ints({0, 2, 1, 3})}});
    auto sm = b.node("Softmax", "softmax", {t}, {{"axis", axis(1)}});
    auto r2 = b.node("Reshape", "reshape_out", {sm, b.ints("t_out", {1, 16, -1})});
    // A Reshape of constant data whose target also starts with 1 (and whose dim 0 happens to equal the batch we
    // bind below): must not be rebatched.
    auto k = b.node("Reshape", "reshape_const", {b.weight("anchors", {3, 12}), b.ints("t_const", {1, 1, 36})});
    b.output(b.node("Mul", "scale", {r2, k}));
    b.output(b.node("Reshape", "flatten", {c, b.ints("t_flat", {1, -1})}));
    return b.build();
}

Tensor batch_slice(const Tensor& t, int64_t i) {
    Shape s = t.shape();
    const int64_t per = t.numel() / s[0];
    s[0] = 1;
    Tensor o = Tensor::empty(t.dtype(), s);
    std::memcpy(o.raw(), t.data<float>() + i * per, per * sizeof(float));
    return o;
}

TEST(BindInputShape, RebindsBatchOfReshapeTargets) {
    const Graph exported = static_batch1_model();
    Graph g1 = exported;
    ASSERT_TRUE(bind_input_shape(g1, 1, 0, 0).is_ok());
    Graph g3 = exported;
    Status st = bind_input_shape(g3, 3, 0, 0);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(g3.info("images")->shape, (Shape{3, 8, 6, 6}));
    EXPECT_EQ(g3.info(g3.outputs[0])->shape, (Shape{3, 16, 36}));
    EXPECT_EQ(g3.info(g3.outputs[1])->shape, (Shape{3, 576}));
    EXPECT_EQ(g3.metadata.batch, 3);
    for (const auto& n : g3.nodes) {
        if (n.op != "Reshape") continue;
        const auto target = g3.constant(n.inputs[1])->to_i64_vector();
        if (n.name == "reshape_const")
            EXPECT_EQ(target, (std::vector<int64_t>{1, 1, 36}));
        else
            EXPECT_EQ(target[0], 3) << n.name;
    }
    // The exported targets are not modified in place (the pass adds new constants).
    EXPECT_EQ(g3.constant("t_out")->to_i64_vector(), (std::vector<int64_t>{1, 16, -1}));

    // Per-image outputs at batch 3 equal the batch-1 outputs.
    std::mt19937 rng(72);
    const Tensor x3 = test::random_tensor({3, 8, 6, 6}, rng);
    const auto out3 = run_ref(g3, {x3});
    ASSERT_EQ(out3.size(), 2u);
    for (int64_t i = 0; i < 3; ++i) {
        const auto out1 = run_ref(g1, {batch_slice(x3, i)});
        for (size_t o = 0; o < out1.size(); ++o) {
            const auto d = test::diff_f32(batch_slice(out3[o], i), out1[o]);
            EXPECT_LE(d.max_abs, 1e-6) << "image " << i << " output " << o;
        }
    }
}

TEST(BindInputShape, DynamicDim0WithBakedTargetsUsesTheMetadataBatch) {
    // A static batch-1 export whose input dim 0 was renamed to a dim_param: the Reshape targets still say 1.
    // Ultralytics metadata records the export batch, so the targets are rebound; without it they are not.
    Graph exported = static_batch1_model();
    exported.values["images"].shape[0] = -1;
    {
        Graph g = exported;
        g.metadata.raw["batch"] = "1";
        g.metadata.batch = 1;
        Status st = bind_input_shape(g, 3, 0, 0);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        EXPECT_EQ(g.info(g.outputs[0])->shape, (Shape{3, 16, 36}));
        Graph g1 = static_batch1_model();
        ASSERT_TRUE(bind_input_shape(g1, 1, 0, 0).is_ok());
        std::mt19937 rng(75);
        const Tensor x3 = test::random_tensor({3, 8, 6, 6}, rng);
        const auto out3 = run_ref(g, {x3});
        const auto out1 = run_ref(g1, {batch_slice(x3, 2)});
        EXPECT_LE(test::diff_f32(batch_slice(out3[0], 2), out1[0]).max_abs, 1e-6);
    }
    {
        // No metadata: the export batch is unknown and nothing is rewritten; [1, 4, 4, -1] swallows the batch and
        // the shapes stop agreeing further down.
        Graph g = exported;
        Status st = bind_input_shape(g, 3, 0, 0);
        EXPECT_FALSE(st.is_ok());
        EXPECT_NE(st.message().find("do not broadcast"), std::string::npos) << st.to_string();
    }
}

TEST(BindInputShape, DynamicBatchExportFoldsShapeChainsAtAnyBatch) {
    // A dynamic export computes the Reshape target from Shape(x): after binding, fold_constants collapses it.
    GraphBuilder b(73);
    auto x = b.input("images", {-1, 4, 5, 5});
    auto c = b.conv("conv", x, 4, 6, 3);
    auto sh = b.node("Shape", "shape", {c});
    auto n0 = b.node("Gather", "gather", {sh, b.constant("i0", Tensor::from_i64({0}, {}))}, {{"axis", axis(0)}});
    auto n0u = b.node("Unsqueeze", "unsq", {n0, b.ints("ax", {0})});
    auto tgt = b.node("Concat", "target", {n0u, b.ints("rest", {6, -1})}, {{"axis", axis(0)}});
    b.output(b.node("Reshape", "reshape", {c, tgt}));
    const Graph exported = b.build();
    Graph g1 = exported, g3 = exported;
    ASSERT_TRUE(optimize_graph(g1, 1, 0, 0, PassOptions{}).is_ok());
    Status st = optimize_graph(g3, 3, 0, 0, PassOptions{});
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(g3.op_histogram(), (Hist{{"Conv", 1}, {"Reshape", 1}}));
    EXPECT_EQ(g3.info(g3.outputs[0])->shape, (Shape{3, 6, 25}));
    std::mt19937 rng(74);
    const Tensor x3 = test::random_tensor({3, 4, 5, 5}, rng);
    const auto out3 = run_ref(g3, {x3});
    for (int64_t i = 0; i < 3; ++i) {
        const auto out1 = run_ref(g1, {batch_slice(x3, i)});
        EXPECT_LE(test::diff_f32(batch_slice(out3[0], i), out1[0]).max_abs, 1e-6) << "image " << i;
    }
}

TEST(BindInputShape, RejectsBadInputs) {
    {
        GraphBuilder b;
        b.output(b.node("Relu", "relu", {b.input("x", {1, 3, 8})}));
        Graph g = b.build();
        Status st = bind_input_shape(g, 1, 0, 0);
        EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
        EXPECT_NE(st.message().find("rank 3"), std::string::npos) << st.message();
    }
    {
        Graph g = static_batch1_model();
        Status st = bind_input_shape(g, 1, 8, 6);
        EXPECT_FALSE(st.is_ok());
        EXPECT_NE(st.message().find("fixed input height of 6"), std::string::npos) << st.message();
    }
    {
        GraphBuilder b;
        b.output(b.node("Relu", "relu", {b.input("x", {1, 3, -1, -1})}));
        Graph g = b.build();
        Status st = bind_input_shape(g, 1, 0, 0);
        EXPECT_FALSE(st.is_ok());
        EXPECT_NE(st.message().find("dynamic"), std::string::npos) << st.message();
        Graph g2 = b.build();
        ASSERT_TRUE(bind_input_shape(g2, 2, 32, 48).is_ok());
        EXPECT_EQ(g2.info("x")->shape, (Shape{2, 3, 32, 48}));
        EXPECT_EQ(g2.info("relu_out")->shape, (Shape{2, 3, 32, 48}));
    }
    {
        GraphBuilder b;
        auto a = b.input("a", {1, 3, 4, 4});
        auto c = b.input("c", {1, 3, 4, 4});
        b.output(b.node("Add", "add", {a, c}));
        Graph g = b.build();
        EXPECT_EQ(bind_input_shape(g, 1, 0, 0).code(), StatusCode::kUnsupported);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// optimize_graph on a small C3k2-like block: every fusion fires and the output is unchanged.

TEST(OptimizeGraph, FusesAMiniYoloBlockAndKeepsItsOutput) {
    GraphBuilder b(81);
    auto x = b.input("images", {1, 3, 16, 16});
    auto conv_bn_silu = [&](const std::string& name, const std::string& in, int64_t ci, int64_t co, int64_t k,
                            int64_t s) {
        auto y = b.conv(name, in, ci, co, k, s, k / 2, 1, /*bias=*/false);
        return add_silu(b, name + "_act", add_bn(b, name + "_bn", y, co), name.size() % 2 == 0);
    };
    auto c0 = conv_bn_silu("stem", x, 3, 16, 3, 2);
    auto parts = b.node_n("Split", "split", {c0, b.ints("sizes", {8, 8})}, {{"axis", axis(1)}}, 2);
    auto m1 = conv_bn_silu("m_cv1", parts[1], 8, 8, 3, 1);
    auto m2 = conv_bn_silu("m_cv2", m1, 8, 8, 3, 1);
    auto res = b.node("Add", "m_add", {parts[1], m2});
    auto cat = b.node("Concat", "cat", {parts[0], parts[1], res}, {{"axis", axis(1)}});
    auto out = conv_bn_silu("cv2", cat, 24, 16, 1, 1);
    b.output(b.node("Sigmoid", "head_sigmoid", {out}));
    const Graph before = b.build();

    Graph after = before;
    std::map<std::string, int> stats;
    Status st = optimize_graph(after, 1, 16, 16, PassOptions{}, &stats);
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_EQ(stats["fuse_conv_bn"], 4);
    EXPECT_EQ(stats["fuse_conv_activation"], 4);
    EXPECT_EQ(stats["fuse_conv_residual"], 1);
    EXPECT_EQ(after.op_histogram(), (Hist{{"Concat", 1}, {"Conv", 4}, {"Sigmoid", 1}, {"Split", 1}}));
    expect_same_outputs(before, after, random_inputs(before, 82, 0.f, 1.f));

    // Each fusion can be switched off by name, and fuse_residual=false keeps the Add.
    Graph off = before;
    PassOptions po;
    po.disabled = {"fuse_conv_activation"};
    po.fuse_residual = false;
    ASSERT_TRUE(optimize_graph(off, 1, 16, 16, po).is_ok());
    EXPECT_EQ(count_op(off, "Sigmoid"), 5);
    EXPECT_EQ(count_op(off, "Add"), 1);
    EXPECT_EQ(count_op(off, "BatchNormalization"), 0);
    expect_same_outputs(before, off, random_inputs(before, 83, 0.f, 1.f));

    // Plain execution (optimize false, ENABLE_TENSORRT: false): no fusion at all, the same output.
    Graph plain = before;
    PassOptions pp;
    pp.optimize = false;
    std::map<std::string, int> plain_stats;
    ASSERT_TRUE(optimize_graph(plain, 1, 16, 16, pp, &plain_stats).is_ok());
    EXPECT_EQ(plain.op_histogram(), before.op_histogram());
    for (const auto& [pass, n] : plain_stats) EXPECT_EQ(pass.rfind("fuse_", 0), std::string::npos) << pass;
    expect_same_outputs(before, plain, random_inputs(before, 84, 0.f, 1.f));
}

TEST(OptimizeGraph, PassSequenceInOrder) {
    using V = std::vector<std::string>;
    const V common = {"float16_to_float32", "fold_constants", "bind_input_shape", "fold_constants",
                      "dequantize_weights", "fold_constants", "eliminate_dead_nodes"};
    V all = common;
    for (const char* p : {"fuse_conv_bn", "fuse_conv_activation", "fuse_dfl", "fuse_conv_residual",
                          "eliminate_dead_nodes"})
        all.emplace_back(p);
    EXPECT_EQ(pass_sequence(PassOptions{}), all);
    PassOptions plain;
    plain.optimize = false;
    EXPECT_EQ(pass_sequence(plain), common);  // the passes a graph needs to run, no fusion
    PassOptions some;
    some.fuse_residual = false;
    some.disabled = {"fuse_dfl", "dequantize_weights", "fold_constants"};  // fold_constants cannot be switched off
    V expected = {"float16_to_float32", "fold_constants", "bind_input_shape", "fold_constants", "fold_constants",
                  "eliminate_dead_nodes", "fuse_conv_bn", "fuse_conv_activation", "eliminate_dead_nodes"};
    EXPECT_EQ(pass_sequence(some), expected);
}

}  // namespace
}  // namespace itscam
