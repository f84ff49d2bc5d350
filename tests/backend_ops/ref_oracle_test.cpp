// The backend-ops suite trusts the reference kernels as its oracle; these tests check the reference kernels of the
// YOLO ops against independent, differently structured implementations written here (and against hand-computed
// values for the index-mapping ops), so a wrong oracle cannot make a wrong backend pass.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "ops/op_registry.h"
#include "graph_builder_test_util.h"

namespace itscam {
namespace {

using test::random_tensor;

Tensor run_node(const Node& n, const std::vector<const Tensor*>& ins, size_t out_index = 0) {
    std::vector<Tensor> outs;
    Status st = op_run_ref(n, ins, outs);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return st.is_ok() ? outs[out_index] : Tensor();
}

Node make_node(const std::string& op, int n_in, std::map<std::string, Attr> attrs = {}, int n_out = 1) {
    Node n;
    n.op = op;
    n.name = "oracle_" + op;
    for (int i = 0; i < n_in; ++i) n.inputs.push_back("in" + std::to_string(i));
    for (int i = 0; i < n_out; ++i) n.outputs.push_back("out" + std::to_string(i));
    n.attrs = std::move(attrs);
    return n;
}

Tensor iota(const Shape& s) {
    Tensor t = Tensor::empty(DType::kF32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
    return t;
}

double max_diff(const Tensor& a, const std::vector<double>& b) {
    EXPECT_EQ(static_cast<size_t>(a.numel()), b.size());
    double m = 0;
    for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data<float>()[i] - b[i]));
    return m;
}

struct ConvCfg {
    int64_t n, c, h, w, oc, kh, kw, sh, sw, dh, dw, group;
    std::vector<int64_t> pads;  // t, l, b, r
    std::string act;
    bool bias, residual;
};

// Gather formulation: each output element sums its receptive field, in double.
std::vector<double> conv_oracle(const ConvCfg& k, const Tensor& x, const Tensor& w, const Tensor* b, const Tensor* r,
                                int64_t oh, int64_t ow) {
    std::vector<double> y;
    const int64_t cin_g = k.c / k.group, cout_g = k.oc / k.group;
    for (int64_t n = 0; n < k.n; ++n)
        for (int64_t o = 0; o < k.oc; ++o)
            for (int64_t yy = 0; yy < oh; ++yy)
                for (int64_t xx = 0; xx < ow; ++xx) {
                    double acc = b ? b->data<float>()[o] : 0.0;
                    const int64_t g = o / cout_g;
                    for (int64_t ci = 0; ci < cin_g; ++ci)
                        for (int64_t i = 0; i < k.kh; ++i)
                            for (int64_t j = 0; j < k.kw; ++j) {
                                const int64_t iy = yy * k.sh + i * k.dh - k.pads[0];
                                const int64_t ix = xx * k.sw + j * k.dw - k.pads[1];
                                if (iy < 0 || ix < 0 || iy >= k.h || ix >= k.w) continue;
                                acc += double(x.data<float>()[((n * k.c + g * cin_g + ci) * k.h + iy) * k.w + ix]) *
                                       w.data<float>()[((o * cin_g + ci) * k.kh + i) * k.kw + j];
                            }
                    if (k.act == "silu") acc = acc / (1 + std::exp(-acc));
                    if (k.act == "relu") acc = std::max(acc, 0.0);
                    if (r) acc += r->data<float>()[y.size()];
                    y.push_back(acc);
                }
    return y;
}

TEST(RefOracle, ConvMatchesAnIndependentConvolution) {
    const ConvCfg cfgs[] = {
        {1, 3, 9, 7, 8, 3, 3, 1, 1, 1, 1, 1, {1, 1, 1, 1}, "", true, false},
        {2, 8, 11, 10, 16, 3, 3, 2, 2, 1, 1, 1, {1, 1, 1, 1}, "silu", true, false},
        {3, 16, 6, 5, 16, 3, 3, 1, 1, 1, 1, 16, {1, 1, 1, 1}, "", true, true},
        {1, 8, 7, 9, 12, 1, 1, 1, 1, 1, 1, 4, {0, 0, 0, 0}, "relu", false, false},
        {2, 4, 10, 9, 4, 3, 2, 1, 2, 2, 1, 2, {2, 0, 1, 1}, "silu", true, false},
        {1, 6, 8, 8, 6, 5, 5, 1, 1, 1, 1, 1, {2, 2, 2, 2}, "silu", true, true},
    };
    std::mt19937 rng(1);
    for (const auto& k : cfgs) {
        SCOPED_TRACE(k.act + " group " + std::to_string(k.group));
        Node n = make_node("Conv", 4,
                           {{"strides", Attr::of_ints({k.sh, k.sw})},
                            {"dilations", Attr::of_ints({k.dh, k.dw})},
                            {"pads", Attr::of_ints(k.pads)},
                            {"group", Attr::of_int(k.group)}});
        if (!k.act.empty()) n.attrs["activation"] = Attr::of_string(k.act);
        const int64_t oh = (k.h + k.pads[0] + k.pads[2] - ((k.kh - 1) * k.dh + 1)) / k.sh + 1;
        const int64_t ow = (k.w + k.pads[1] + k.pads[3] - ((k.kw - 1) * k.dw + 1)) / k.sw + 1;
        const Tensor x = random_tensor({k.n, k.c, k.h, k.w}, rng),
                     w = random_tensor({k.oc, k.c / k.group, k.kh, k.kw}, rng);
        const Tensor b = random_tensor({k.oc}, rng), r = random_tensor({k.n, k.oc, oh, ow}, rng);
        const Tensor y = run_node(n, {&x, &w, k.bias ? &b : nullptr, k.residual ? &r : nullptr});
        ASSERT_EQ(y.shape(), (Shape{k.n, k.oc, oh, ow}));
        EXPECT_LE(max_diff(y, conv_oracle(k, x, w, k.bias ? &b : nullptr, k.residual ? &r : nullptr, oh, ow)), 1e-4);
    }
}

TEST(RefOracle, MaxPoolMatchesWindowMaximum) {
    std::mt19937 rng(2);
    const Tensor x = random_tensor({2, 3, 7, 6}, rng);
    for (int64_t k : {2, 3, 5}) {
        const int64_t p = k / 2, s = k == 2 ? 2 : 1;
        Node n = make_node("MaxPool", 1,
                           {{"kernel_shape", Attr::of_ints({k, k})},
                            {"strides", Attr::of_ints({s, s})},
                            {"pads", Attr::of_ints({p, p, p, p})}});
        const Tensor y = run_node(n, {&x});
        const int64_t oh = (7 + 2 * p - k) / s + 1, ow = (6 + 2 * p - k) / s + 1;
        ASSERT_EQ(y.shape(), (Shape{2, 3, oh, ow}));
        std::vector<double> want;
        for (int64_t c = 0; c < 6; ++c)
            for (int64_t i = 0; i < oh; ++i)
                for (int64_t j = 0; j < ow; ++j) {
                    double m = -INFINITY;
                    for (int64_t a = i * s - p; a < i * s - p + k; ++a)
                        for (int64_t bb = j * s - p; bb < j * s - p + k; ++bb)
                            if (a >= 0 && a < 7 && bb >= 0 && bb < 6)
                                m = std::max(m, double(x.data<float>()[(c * 7 + a) * 6 + bb]));
                    want.push_back(m);
                }
        EXPECT_EQ(max_diff(y, want), 0) << "kernel " << k;
    }
}

TEST(RefOracle, ResizeNearestIndexMapping) {
    const Tensor x = iota({1, 1, 3, 4});
    const Tensor roi = Tensor::empty(DType::kF32, {0});
    // YOLO's Resize: asymmetric + floor at 2x: out[y][x] = in[y/2][x/2].
    Node n = make_node("Resize", 3,
                       {{"mode", Attr::of_string("nearest")},
                        {"coordinate_transformation_mode", Attr::of_string("asymmetric")},
                        {"nearest_mode", Attr::of_string("floor")}});
    const Tensor s2 = Tensor::from_f32({1, 1, 2, 2}, {4});
    Tensor y = run_node(n, {&x, &roi, &s2});
    ASSERT_EQ(y.shape(), (Shape{1, 1, 6, 8}));
    for (int64_t i = 0; i < 6; ++i)
        for (int64_t j = 0; j < 8; ++j) EXPECT_EQ(y.data<float>()[i * 8 + j], (i / 2) * 4 + j / 2);
    // 1.5x asymmetric floor along the width: x_in = floor(o / 1.5) = 0 0 1 2 2 3.
    const Tensor s15 = Tensor::from_f32({1, 1, 1, 1.5f}, {4});
    y = run_node(n, {&x, &roi, &s15});
    ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 6}));
    const float row0[] = {0, 0, 1, 2, 2, 3};
    for (int j = 0; j < 6; ++j) EXPECT_EQ(y.data<float>()[j], row0[j]);
    // ONNX default (half_pixel + round_prefer_floor) at 1.5x along the width, in = 4, out = 6:
    // x_in = (o + 0.5) / 1.5 - 0.5 = -1/6, 0.5, 7/6, 11/6, 2.5, 19/6; ties round down -> 0 0 1 2 2 3,
    // and up with round_prefer_ceil -> 0 1 1 2 3 3.
    for (const char* mode : {"round_prefer_floor", "round_prefer_ceil"}) {
        Node hp = make_node("Resize", 3, {{"mode", Attr::of_string("nearest")}});
        if (std::string(mode) == "round_prefer_ceil") hp.attrs["nearest_mode"] = Attr::of_string(mode);
        y = run_node(hp, {&x, &roi, &s15});
        ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 6}));
        const std::vector<float> want = std::string(mode) == "round_prefer_ceil" ? std::vector<float>{0, 1, 1, 2, 3, 3}
                                                                                 : std::vector<float>{0, 0, 1, 2, 2, 3};
        for (int j = 0; j < 6; ++j) EXPECT_EQ(y.data<float>()[j], want[j]) << mode << " " << j;
    }
}

TEST(RefOracle, SoftmaxOpset12And13Semantics) {
    std::mt19937 rng(3);
    const Tensor x = random_tensor({2, 3, 4, 5}, rng, -3, 3);
    auto expect_softmax = [&](const Tensor& y, int64_t outer, int64_t len, int64_t inner) {
        for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < inner; ++i) {
                double mx = -INFINITY, sum = 0;
                for (int64_t k = 0; k < len; ++k) mx = std::max(mx, double(x.data<float>()[(o * len + k) * inner + i]));
                for (int64_t k = 0; k < len; ++k) sum += std::exp(x.data<float>()[(o * len + k) * inner + i] - mx);
                for (int64_t k = 0; k < len; ++k) {
                    const int64_t at = (o * len + k) * inner + i;
                    EXPECT_NEAR(y.data<float>()[at], std::exp(x.data<float>()[at] - mx) / sum, 1e-6) << at;
                }
            }
    };
    // opset 13, axis 1: along axis 1 only.
    expect_softmax(run_node(make_node("Softmax", 1, {{"axis", Attr::of_int(1)}, {"opset", Attr::of_int(13)}}), {&x}), 2,
                   3, 20);
    // opset 12, axis 1: over the flattened [3*4*5] per batch.
    expect_softmax(run_node(make_node("Softmax", 1, {{"axis", Attr::of_int(1)}, {"opset", Attr::of_int(12)}}), {&x}), 2,
                   60, 1);
    // axis 3 (last): the same in both.
    for (int64_t opset : {12, 13})
        expect_softmax(
            run_node(make_node("Softmax", 1, {{"axis", Attr::of_int(3)}, {"opset", Attr::of_int(opset)}}), {&x}), 24, 5,
            1);
    // Defaults: opset 13 -> axis -1; opset 11 -> axis 1 (flattened).
    expect_softmax(run_node(make_node("Softmax", 1, {{"opset", Attr::of_int(13)}}), {&x}), 24, 5, 1);
    expect_softmax(run_node(make_node("Softmax", 1, {{"opset", Attr::of_int(11)}}), {&x}), 2, 60, 1);
}

TEST(RefOracle, BatchedMatMulWithBroadcast) {
    std::mt19937 rng(4);
    const Tensor a = random_tensor({2, 1, 3, 4}, rng), b = random_tensor({3, 4, 5}, rng);
    const Tensor y = run_node(make_node("MatMul", 2), {&a, &b});
    ASSERT_EQ(y.shape(), (Shape{2, 3, 3, 5}));
    std::vector<double> want;
    for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j)
            for (int64_t m = 0; m < 3; ++m)
                for (int64_t n = 0; n < 5; ++n) {
                    double acc = 0;
                    for (int64_t k = 0; k < 4; ++k)
                        acc += double(a.data<float>()[(i * 3 + m) * 4 + k]) * b.data<float>()[(j * 4 + k) * 5 + n];
                    want.push_back(acc);
                }
    EXPECT_LE(max_diff(y, want), 1e-5);
}

TEST(RefOracle, DataMovementIndexMaps) {
    const Tensor x = iota({2, 3, 4, 5});
    {  // Transpose [0, 3, 1, 2]
        const Tensor y = run_node(make_node("Transpose", 1, {{"perm", Attr::of_ints({0, 3, 1, 2})}}), {&x});
        ASSERT_EQ(y.shape(), (Shape{2, 5, 3, 4}));
        for (int64_t n = 0; n < 2; ++n)
            for (int64_t w = 0; w < 5; ++w)
                for (int64_t c = 0; c < 3; ++c)
                    for (int64_t h = 0; h < 4; ++h)
                        EXPECT_EQ(y.data<float>()[((n * 5 + w) * 3 + c) * 4 + h], ((n * 3 + c) * 4 + h) * 5 + w);
    }
    {  // Split axis 2 into [1, 3], then Concat the parts back in reverse order along axis 2
        Node sp = make_node("Split", 1, {{"axis", Attr::of_int(2)}, {"split", Attr::of_ints({1, 3})}}, 2);
        std::vector<Tensor> parts;
        ASSERT_TRUE(op_run_ref(sp, {&x}, parts).is_ok());
        ASSERT_EQ(parts[0].shape(), (Shape{2, 3, 1, 5}));
        ASSERT_EQ(parts[1].shape(), (Shape{2, 3, 3, 5}));
        EXPECT_EQ(parts[1].data<float>()[0], 5.f);
        const Tensor y = run_node(make_node("Concat", 2, {{"axis", Attr::of_int(2)}}), {&parts[1], &parts[0]});
        ASSERT_EQ(y.shape(), x.shape());
        for (int64_t nc = 0; nc < 6; ++nc)
            for (int64_t h = 0; h < 4; ++h)
                for (int64_t w = 0; w < 5; ++w)
                    EXPECT_EQ(y.data<float>()[(nc * 4 + h) * 5 + w], (nc * 4 + (h + 1) % 4) * 5 + w);
    }
    {  // Slice axis 1 [1:3], axis 3 [0:5:2]
        const Tensor st = Tensor::from_i64({1, 0}, {2}), en = Tensor::from_i64({3, 5}, {2}),
                     ax = Tensor::from_i64({1, 3}, {2}), sp = Tensor::from_i64({1, 2}, {2});
        const Tensor y = run_node(make_node("Slice", 5), {&x, &st, &en, &ax, &sp});
        ASSERT_EQ(y.shape(), (Shape{2, 2, 4, 3}));
        for (int64_t n = 0; n < 2; ++n)
            for (int64_t c = 0; c < 2; ++c)
                for (int64_t h = 0; h < 4; ++h)
                    for (int64_t w = 0; w < 3; ++w)
                        EXPECT_EQ(y.data<float>()[((n * 2 + c) * 4 + h) * 3 + w],
                                  ((n * 3 + c + 1) * 4 + h) * 5 + 2 * w);
    }
}

TEST(RefOracle, BroadcastingBinaryOps) {
    std::mt19937 rng(5);
    const Tensor a = random_tensor({2, 3, 1, 5}, rng), b = random_tensor({3, 4, 1}, rng, 0.5f, 2.f);
    for (const std::string op : {"Add", "Sub", "Mul", "Div"}) {
        const Tensor y = run_node(make_node(op, 2), {&a, &b});
        ASSERT_EQ(y.shape(), (Shape{2, 3, 4, 5}));
        std::vector<double> want;
        for (int64_t i = 0; i < 2; ++i)
            for (int64_t c = 0; c < 3; ++c)
                for (int64_t h = 0; h < 4; ++h)
                    for (int64_t w = 0; w < 5; ++w) {
                        const double x = a.data<float>()[(i * 3 + c) * 5 + w], z = b.data<float>()[c * 4 + h];
                        want.push_back(op == "Add" ? x + z : op == "Sub" ? x - z : op == "Mul" ? x * z : x / z);
                    }
        EXPECT_LE(max_diff(y, want), 1e-6) << op;
    }
}

TEST(RefOracle, ModFollowsTheFmodAttribute) {
    // fmod = 0: Python's remainder (sign of the divisor); fmod = 1: C fmod (sign of the dividend).
    const Tensor a = Tensor::from_f32({-2.5f, 2.5f, -7.f, 7.f}, {4}), b = Tensor::from_f32({2.f, -2.f, 3.f, -3.f}, {4});
    const Tensor m = run_node(make_node("Mod", 2), {&a, &b});
    const Tensor f = run_node(make_node("Mod", 2, {{"fmod", Attr::of_int(1)}}), {&a, &b});
    const float want_mod[] = {1.5f, -1.5f, 2.f, -2.f}, want_fmod[] = {-0.5f, 0.5f, -1.f, 1.f};
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(m.data<float>()[i], want_mod[i]) << i;
        EXPECT_EQ(f.data<float>()[i], want_fmod[i]) << i;
    }
    const Tensor ai = Tensor::from_i64({-7, 7}, {2}), bi = Tensor::from_i64({3, -3}, {2});
    EXPECT_EQ(run_node(make_node("Mod", 2), {&ai, &bi}).to_i64_vector(), (std::vector<int64_t>{2, -2}));
    EXPECT_EQ(run_node(make_node("Mod", 2, {{"fmod", Attr::of_int(1)}}), {&ai, &bi}).to_i64_vector(),
              (std::vector<int64_t>{-1, 1}));
}

TEST(RefOracle, Int64ArithmeticWrapsInsteadOfOverflowing) {
    // Folding int64 shape arithmetic of a hostile file: INT64_MIN / -1 used to trap (SIGFPE).
    const int64_t mn = std::numeric_limits<int64_t>::min(), mx = std::numeric_limits<int64_t>::max();
    const Tensor a = Tensor::from_i64({mn, mx, mx}, {3}), b = Tensor::from_i64({-1, 1, 2}, {3});
    EXPECT_EQ(run_node(make_node("Div", 2), {&a, &b}).to_i64_vector(), (std::vector<int64_t>{mn, mx, mx / 2}));
    EXPECT_EQ(run_node(make_node("Add", 2), {&a, &b}).to_i64_vector(), (std::vector<int64_t>{mx, mn, mn + 1}));
    EXPECT_EQ(run_node(make_node("Mul", 2), {&a, &b}).to_i64_vector(), (std::vector<int64_t>{mn, mx, -2}));
    const Tensor p = run_node(make_node("Pow", 2), {&b, &a});  // (-1)^min, 1^max, 2^max: saturates, no UB
    EXPECT_EQ(p.to_i64_vector()[2], mx);
}

}  // namespace
}  // namespace itscam
