// fuse_dfl before/after on the reference backend: the same outputs, four nodes become one DflDecode.
#include <gtest/gtest.h>

#include <random>

#include "backend/ref/ref_backend.h"
#include "passes/passes.h"

namespace itscam {
namespace {

Graph make_dfl_graph(int64_t softmax_axis, std::vector<int64_t> perm2) {
    Graph g;
    g.inputs = {"x"};
    g.values["x"] = {DType::kF32, {2, 4, 16, 50}};
    std::vector<float> w(16);
    for (int i = 0; i < 16; ++i) w[i] = static_cast<float>(i);
    g.constants["w"] = Tensor::from_f32(w, {1, 16, 1, 1});
    g.values["w"] = {DType::kF32, {1, 16, 1, 1}};
    Node t1{"Transpose", "t1", {"x"}, {"t"}, {{"perm", Attr::of_ints({0, 3, 1, 2})}}};
    Node sm{"Softmax", "sm", {"t"}, {"s"}, {{"axis", Attr::of_int(softmax_axis)}}};
    Node t2{"Transpose", "t2", {"s"}, {"u"}, {{"perm", Attr::of_ints(perm2)}}};
    Node conv{"Conv", "conv", {"u", "w"}, {"y"}, {}};
    g.nodes = {t1, sm, t2, conv};
    g.outputs = {"y"};
    EXPECT_TRUE(infer_shapes(g).is_ok());
    return g;
}

Tensor random_input() {
    Tensor x = Tensor::empty(DType::kF32, {2, 4, 16, 50});
    std::mt19937 rng(7);
    std::normal_distribution<float> n(0.f, 3.f);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = n(rng);
    return x;
}

TEST(FuseDfl, SameOutputsOneNode) {
    Graph g = make_dfl_graph(-1, {0, 3, 2, 1});
    const Tensor x = random_input();
    std::vector<Tensor> before, after;
    ASSERT_TRUE(ref_execute(g, {x}, before).is_ok());
    auto r = fuse_dfl(g);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 1);
    ASSERT_EQ(g.nodes.size(), 1u);
    EXPECT_EQ(g.nodes[0].op, "DflDecode");
    ASSERT_TRUE(g.verify().is_ok());
    ASSERT_TRUE(infer_shapes(g).is_ok());
    ASSERT_TRUE(ref_execute(g, {x}, after).is_ok());
    ASSERT_EQ(before[0].shape(), after[0].shape());
    for (int64_t i = 0; i < before[0].numel(); ++i)
        ASSERT_NEAR(before[0].data<float>()[i], after[0].data<float>()[i], 1e-4f) << i;
}

TEST(FuseDfl, LeavesOtherPatternsAlone) {
    Graph g = make_dfl_graph(2, {0, 3, 2, 1});  // softmax over the wrong axis
    auto r = fuse_dfl(g);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 0);
    EXPECT_EQ(g.nodes.size(), 4u);
    Graph g2 = make_dfl_graph(-1, {0, 3, 1, 2});  // a different second transpose
    ASSERT_TRUE(g2.verify().is_ok());
    r = fuse_dfl(g2);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 0);
}

}  // namespace
}  // namespace itscam

namespace itscam {
namespace {

// Reshape's 0 copies an input dimension; copying one that is still unknown must not be mistaken for a second -1.
TEST(ReshapeInference, ZeroCopyingAnUnknownDimIsNotASecondMinusOne) {
    Graph g;
    g.inputs = {"x"};
    g.values["x"] = {DType::kF32, {-1, 6, 4}};
    g.constants["shape"] = Tensor::from_i64({0, -1}, {2});
    g.values["shape"] = {DType::kI64, {2}};
    g.nodes = {Node{"Reshape", "r", {"x", "shape"}, {"y"}, {}}};
    g.outputs = {"y"};
    ASSERT_TRUE(infer_shapes(g).is_ok());
    EXPECT_EQ(g.values.at("y").shape, (Shape{-1, -1}));
    g.values["x"].shape = {2, 6, 4};
    ASSERT_TRUE(infer_shapes(g).is_ok());
    EXPECT_EQ(g.values.at("y").shape, (Shape{2, 24}));
}

}  // namespace
}  // namespace itscam
