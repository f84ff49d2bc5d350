#include "backend_ops_cases.h"

#include <cstdint>
#include <limits>

namespace itscam::test {

namespace {

using Attrs = std::map<std::string, Attr>;
Attr I(int64_t v) {
    return Attr::of_int(v);
}
Attr Is(std::vector<int64_t> v) {
    return Attr::of_ints(std::move(v));
}
Attr S(std::string v) {
    return Attr::of_string(std::move(v));
}
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

uint32_t name_seed(const std::string& s) {
    uint32_t h = 2166136261u;  // FNV-1a: stable across runs and standard libraries
    for (unsigned char ch : s) h = (h ^ ch) * 16777619u;
    return h;
}

struct CaseList {
    std::vector<OpCase> v;
    OpCase& add(std::string name, bool yolo, std::function<void(GraphBuilder&)> build) {
        OpCase c;
        c.name = std::move(name);
        c.yolo = yolo;
        c.build = std::move(build);
        v.push_back(std::move(c));
        return v.back();
    }
};

// ---- Conv ----
struct ConvSpec {
    Shape x = {};
    int64_t oc = 1, k = 1, stride = 1, group = 1, dilation = 1;
    std::vector<int64_t> pads = {};  // empty: k/2 * dilation on every side
    bool bias = true;
    std::string act = {};   // "", "silu", "relu"
    bool residual = false;  // 4th input: the graph input itself (needs output shape == input shape)
};

void build_conv(GraphBuilder& b, const ConvSpec& s) {
    auto x = b.input("x", s.x);
    const int64_t cin = s.x[1], p = s.k / 2 * s.dilation;
    const float scale = 1.7f / std::sqrt(static_cast<float>(cin / s.group * s.k * s.k));
    std::vector<std::string> ins{x, b.weight("W", {s.oc, cin / s.group, s.k, s.k}, scale)};
    if (s.bias || s.residual) ins.push_back(s.bias ? b.weight("B", {s.oc}, 0.2f) : std::string());
    if (s.residual) ins.push_back(x);
    Attrs a{{"kernel_shape", Is({s.k, s.k})},
            {"strides", Is({s.stride, s.stride})},
            {"dilations", Is({s.dilation, s.dilation})},
            {"pads", Is(s.pads.empty() ? std::vector<int64_t>{p, p, p, p} : s.pads)},
            {"group", I(s.group)}};
    if (!s.act.empty()) a["activation"] = S(s.act);
    b.output(b.node("Conv", "conv", ins, a));
}

void add_conv_cases(CaseList& L) {
    auto conv = [&](const std::string& name, bool yolo, ConvSpec s, Dist d = Dist::kUniform) {
        OpCase& c = L.add(name, yolo, [s](GraphBuilder& b) { build_conv(b, s); });
        c.bf16 = d == Dist::kUniform;
        c.dist = d;
    };
    conv("Op_Conv_1x1_c16_oc32_b1", true, {.x = {1, 16, 8, 8}, .oc = 32, .k = 1});
    conv("Op_Conv_1x1_c80_oc64_b3", true, {.x = {3, 80, 7, 9}, .oc = 64, .k = 1});
    conv("Op_Conv_1x1_c64_oc80_b1", true, {.x = {1, 64, 5, 5}, .oc = 80, .k = 1});
    conv("Op_Conv_3x3_c3_oc16_b1", true, {.x = {1, 3, 17, 13}, .oc = 16, .k = 3});
    conv("Op_Conv_3x3_s2_c3_oc16_b1", true, {.x = {1, 3, 33, 31}, .oc = 16, .k = 3, .stride = 2});
    conv("Op_Conv_3x3_s2_b3", true, {.x = {3, 16, 15, 15}, .oc = 32, .k = 3, .stride = 2});
    conv("Op_Conv_3x3_s2_c24_oc64_b3", true, {.x = {3, 24, 12, 10}, .oc = 64, .k = 3, .stride = 2});
    conv("Op_Conv_3x3_c8_oc24_b3", true, {.x = {3, 8, 9, 11}, .oc = 24, .k = 3});
    conv("Op_Conv_3x3_c64_oc64_40x40_b1", true, {.x = {1, 64, 40, 40}, .oc = 64, .k = 3, .act = "silu"});
    conv("Op_Conv_3x3_s2_c128_oc256_b1", true, {.x = {1, 128, 10, 10}, .oc = 256, .k = 3, .stride = 2, .act = "silu"});
    conv("Op_Conv_1x1_c256_oc128_b3", true, {.x = {3, 256, 5, 4}, .oc = 128, .k = 1, .act = "silu"});
    conv("Op_Conv_3x3_nobias_b1", true, {.x = {1, 16, 7, 7}, .oc = 16, .k = 3, .bias = false});
    conv("Op_Conv_3x3_p0_b1", true, {.x = {1, 8, 9, 9}, .oc = 8, .k = 3, .pads = {0, 0, 0, 0}});
    conv("Op_Conv_5x5_p2_c8_b1", true, {.x = {1, 8, 11, 11}, .oc = 8, .k = 5});
    conv("Op_Conv_5x5_s2_b3", true, {.x = {3, 8, 13, 12}, .oc = 16, .k = 5, .stride = 2});
    conv("Op_Conv_dw3x3_c64_b1", true, {.x = {1, 64, 10, 10}, .oc = 64, .k = 3, .group = 64});
    conv("Op_Conv_dw3x3_s2_c64_b3", true, {.x = {3, 64, 9, 9}, .oc = 64, .k = 3, .stride = 2, .group = 64});
    conv("Op_Conv_dw3x3_c80_silu_b3", true, {.x = {3, 80, 6, 7}, .oc = 80, .k = 3, .group = 80, .act = "silu"});
    conv("Op_Conv_dw3x3_residual_b1", true,  // the attention's positional-encoding conv + Add
         {.x = {1, 64, 8, 8}, .oc = 64, .k = 3, .group = 64, .residual = true});
    conv("Op_Conv_dw5x5_c24_b1", false, {.x = {1, 24, 9, 9}, .oc = 24, .k = 5, .group = 24});
    conv("Op_Conv_grouped_g4_c16_oc24_b1", true, {.x = {1, 16, 7, 7}, .oc = 24, .k = 3, .group = 4});
    conv("Op_Conv_grouped_g2_c8_oc16_b3", true, {.x = {3, 8, 6, 5}, .oc = 16, .k = 1, .group = 2});
    conv("Op_Conv_3x3_silu_b3", true, {.x = {3, 16, 11, 9}, .oc = 24, .k = 3, .act = "silu"});
    conv("Op_Conv_3x3_s2_silu_b1", true, {.x = {1, 3, 32, 32}, .oc = 16, .k = 3, .stride = 2, .act = "silu"});
    conv("Op_Conv_1x1_silu_b1", true, {.x = {1, 64, 6, 6}, .oc = 64, .k = 1, .act = "silu"});
    conv("Op_Conv_1x1_relu_b3", true, {.x = {3, 16, 5, 7}, .oc = 8, .k = 1, .act = "relu"});
    conv("Op_Conv_3x3_relu_b1", true, {.x = {1, 8, 9, 9}, .oc = 16, .k = 3, .act = "relu"});
    conv("Op_Conv_3x3_silu_residual_b1", true, {.x = {1, 16, 9, 9}, .oc = 16, .k = 3, .act = "silu", .residual = true});
    conv("Op_Conv_3x3_silu_residual_b3", true, {.x = {3, 8, 7, 5}, .oc = 8, .k = 3, .act = "silu", .residual = true});
    conv("Op_Conv_1x1_residual_b3", true, {.x = {3, 24, 5, 6}, .oc = 24, .k = 1, .residual = true});
    conv("Op_Conv_1x1_residual_nobias_b1", true,
         {.x = {1, 16, 4, 4}, .oc = 16, .k = 1, .bias = false, .residual = true});
    conv("Op_Conv_3x3_dilation2_b1", false, {.x = {1, 8, 11, 11}, .oc = 8, .k = 3, .dilation = 2});
    conv("Op_Conv_3x3_asym_pads_b1", false, {.x = {1, 8, 7, 8}, .oc = 8, .k = 3, .pads = {1, 0, 0, 1}});
    conv("Op_Conv_1x1_nan_b3", true, {.x = {3, 16, 4, 5}, .oc = 16, .k = 1}, Dist::kNaN);
    conv("Op_Conv_3x3_nan_b1", true, {.x = {1, 8, 6, 6}, .oc = 8, .k = 3, .act = "silu"}, Dist::kNaN);
}

// ---- pooling, resize ----
void add_pool_resize_cases(CaseList& L) {
    auto pool = [&](const std::string& name, bool yolo, const std::string& op, Shape x, int64_t k, int64_t s, int64_t p,
                    Dist d = Dist::kUniform, Attrs extra = {}) {
        L.add(name, yolo, [=](GraphBuilder& b) {
             Attrs a{{"kernel_shape", Is({k, k})}, {"strides", Is({s, s})}, {"pads", Is({p, p, p, p})}};
             for (const auto& [key, v] : extra) a[key] = v;
             b.output(b.node(op, "pool", {b.input("x", x)}, a));
         }).dist = d;
    };
    pool("Op_MaxPool_5x5_s1_p2_b1", true, "MaxPool", {1, 32, 10, 10}, 5, 1, 2);
    pool("Op_MaxPool_5x5_s1_p2_b3", true, "MaxPool", {3, 16, 13, 11}, 5, 1, 2);
    pool("Op_MaxPool_5x5_s1_p2_c256_b1", true, "MaxPool", {1, 256, 10, 10}, 5, 1, 2);
    pool("Op_MaxPool_5x5_s1_p2_inf_b3", true, "MaxPool", {3, 8, 7, 9}, 5, 1, 2, Dist::kInf);
    pool("Op_MaxPool_2x2_s2_b3", false, "MaxPool", {3, 8, 10, 9}, 2, 2, 0);
    pool("Op_MaxPool_3x3_s2_p1_b1", false, "MaxPool", {1, 8, 11, 11}, 3, 2, 1);
    pool("Op_MaxPool_3x3_s2_ceil_b1", false, "MaxPool", {1, 8, 10, 10}, 3, 2, 0, Dist::kUniform, {{"ceil_mode", I(1)}});
    pool("Op_AveragePool_3x3_s1_p1_b3", false, "AveragePool", {3, 8, 7, 6}, 3, 1, 1);
    pool("Op_AveragePool_2x2_s2_countpad_b1", false, "AveragePool", {1, 8, 7, 7}, 2, 2, 1, Dist::kUniform,
         {{"count_include_pad", I(1)}});

    auto resize = [&](const std::string& name, bool yolo, Shape x, std::vector<float> scales, Attrs a,
                      Dist d = Dist::kUniform) {
        L.add(name, yolo, [=](GraphBuilder& b) {
             auto in = b.input("x", x);
             auto roi = b.constant("roi", Tensor::empty(DType::kF32, {0}));
             b.output(b.node("Resize", "resize", {in, roi, b.floats("scales", scales)}, a));
         }).dist = d;
    };
    const Attrs yolo_resize{
        {"mode", S("nearest")}, {"coordinate_transformation_mode", S("asymmetric")}, {"nearest_mode", S("floor")}};
    resize("Op_Resize_nearest_2x_b1", true, {1, 64, 10, 10}, {1, 1, 2, 2}, yolo_resize);
    resize("Op_Resize_nearest_2x_odd_b3", true, {3, 16, 7, 5}, {1, 1, 2, 2}, yolo_resize);
    resize("Op_Resize_nearest_2x_c80_b3", true, {3, 80, 4, 3}, {1, 1, 2, 2}, yolo_resize);
    resize("Op_Resize_nearest_2x_nan_inf_b1", true, {1, 8, 5, 6}, {1, 1, 2, 2}, yolo_resize, Dist::kSpecial);
    resize("Op_Resize_nearest_halfpixel_2x_b1", false, {1, 8, 5, 6}, {1, 1, 2, 2}, {{"mode", S("nearest")}});
    resize("Op_Resize_nearest_1p5x_b3", false, {3, 4, 6, 4}, {1, 1, 1.5f, 1.5f}, yolo_resize);
    L.add("Op_Resize_nearest_sizes_b1", false, [](GraphBuilder& b) {
        auto in = b.input("x", {1, 8, 5, 7});
        b.output(b.node("Resize", "resize", {in, "", "", b.ints("sizes", {1, 8, 10, 14})}, {{"mode", S("nearest")}}));
    });
    L.add("Op_Upsample_nearest_2x_b1", false, [](GraphBuilder& b) {
        auto in = b.input("x", {1, 8, 5, 7});
        b.output(b.node("Upsample", "up", {in, b.floats("scales", {1, 1, 2, 2})}, {{"mode", S("nearest")}}));
    });
}

// ---- Concat / Split / Slice / Reshape / Transpose ----
void add_layout_cases(CaseList& L) {
    // Concat of the parts of a Split of the input, in another order (catches operand mix-ups).
    auto concat = [&](const std::string& name, bool yolo, Shape x, int64_t axis, std::vector<int64_t> sizes,
                      std::vector<int> order, Dist d = Dist::kUniform) {
        L.add(name, yolo, [=](GraphBuilder& b) {
             auto parts = b.node_n("Split", "split", {b.input("x", x)}, {{"axis", I(axis)}, {"split", Is(sizes)}},
                                   static_cast<int>(sizes.size()));
             std::vector<std::string> ins;
             for (int i : order) ins.push_back(parts[i]);
             b.output(b.node("Concat", "concat", ins, {{"axis", I(axis)}}));
         }).dist = d;
    };
    concat("Op_Concat_axis1_2in_b1", true, {1, 24, 6, 7}, 1, {16, 8}, {1, 0});
    concat("Op_Concat_axis1_3in_b3", true, {3, 48, 5, 5}, 1, {16, 16, 16}, {2, 0, 1});
    concat("Op_Concat_axis1_4in_b1", true, {1, 32, 6, 6}, 1, {8, 8, 8, 8}, {3, 1, 0, 2});
    concat("Op_Concat_axis1_4in_b3", true, {3, 64, 5, 4}, 1, {16, 16, 16, 16}, {0, 2, 1, 3});
    concat("Op_Concat_axis1_uneven_b3", true, {3, 40, 4, 6}, 1, {24, 16}, {1, 0});
    concat("Op_Concat_lastaxis_3in_b3", true, {3, 16, 35}, -1, {20, 10, 5}, {2, 0, 1});
    concat("Op_Concat_lastaxis_2in_b1", true, {1, 8, 6, 10}, 3, {4, 6}, {1, 0});
    concat("Op_Concat_axis1_nan_inf_b3", true, {3, 16, 3, 3}, 1, {8, 8}, {1, 0}, Dist::kSpecial);
    // Concat of the input with itself and with a Sigmoid of it (YOLO's last Concat: boxes + class scores).
    L.add("Op_Concat_axis1_head_b3", true, [](GraphBuilder& b) {
        auto x = b.input("x", {3, 4, 21});
        b.output(b.node("Concat", "concat", {x, b.node("Sigmoid", "sig", {x}), x}, {{"axis", I(1)}}));
    });
    L.add("Op_Concat_two_inputs_b1", false, [](GraphBuilder& b) {
        b.output(
            b.node("Concat", "concat", {b.input("a", {1, 8, 4, 4}), b.input("c", {1, 3, 4, 4})}, {{"axis", I(1)}}));
    });

    auto split = [&](const std::string& name, bool yolo, Shape x, int64_t axis, std::vector<int64_t> sizes,
                     bool as_input, int64_t opset = 17) {
        L.add(name, yolo, [=](GraphBuilder& b) {
            b.graph().opset = opset;
            auto in = b.input("x", x);
            std::vector<std::string> ins{in};
            Attrs a{{"axis", I(axis)}};
            if (as_input)
                ins.push_back(b.ints("split", sizes));
            else
                a["split"] = Is(sizes);
            for (const auto& o : b.node_n("Split", "split", ins, a, static_cast<int>(sizes.size()))) b.output(o);
        });
    };
    split("Op_Split_axis1_attr_2eq_b1", true, {1, 32, 6, 6}, 1, {16, 16}, false, 12);
    split("Op_Split_axis1_attr_2eq_b3", true, {3, 64, 5, 3}, 1, {32, 32}, false, 12);
    split("Op_Split_axis1_input_16_8_b3", true, {3, 24, 5, 7}, 1, {16, 8}, true);
    split("Op_Split_axis2_attr_3out_b3", true, {3, 2, 40, 9}, 2, {8, 8, 24}, false, 12);  // attention q, k, v
    split("Op_Split_axis2_input_b1", true, {1, 4, 10, 6}, 2, {4, 6}, true);
    split("Op_Split_axis1_3d_b1", true, {1, 144, 20}, 1, {64, 80}, true);  // head: box and class channels
    L.add("Op_Split_axis1_equal_noattr_b3", true, [](GraphBuilder& b) {
        for (const auto& o : b.node_n("Split", "split", {b.input("x", {3, 16, 4, 5})}, {{"axis", I(1)}}, 2))
            b.output(o);
    });
    L.add("Op_Split_axis1_nan_inf_b1", true, [](GraphBuilder& b) {
         for (const auto& o :
              b.node_n("Split", "split", {b.input("x", {1, 8, 3, 4})}, {{"axis", I(1)}, {"split", Is({3, 5})}}, 2))
             b.output(o);
     }).dist = Dist::kSpecial;

    auto slice = [&](const std::string& name, bool yolo, Shape x, std::vector<int64_t> starts,
                     std::vector<int64_t> ends, std::vector<int64_t> axes, std::vector<int64_t> steps = {},
                     Dist d = Dist::kUniform) {
        L.add(name, yolo, [=](GraphBuilder& b) {
             std::vector<std::string> ins{b.input("x", x), b.ints("starts", starts), b.ints("ends", ends),
                                          b.ints("axes", axes)};
             if (!steps.empty()) ins.push_back(b.ints("steps", steps));
             b.output(b.node("Slice", "slice", ins));
         }).dist = d;
    };
    slice("Op_Slice_axis1_head_b1", true, {1, 4, 50}, {0}, {2}, {1});
    slice("Op_Slice_axis1_tail_b3", true, {3, 4, 50}, {2}, {4}, {1});
    slice("Op_Slice_axis3_b3", true, {3, 8, 6, 10}, {3}, {9}, {3});
    slice("Op_Slice_axis1_nan_inf_b3", true, {3, 6, 7}, {1}, {5}, {1}, {}, Dist::kSpecial);
    slice("Op_Slice_int64max_end_b1", false, {1, 6, 5}, {2}, {kI64Max}, {1});
    slice("Op_Slice_negative_start_b3", false, {3, 6, 5}, {-3}, {kI64Max}, {-1});
    slice("Op_Slice_steps2_b1", false, {1, 9, 8}, {1, 0}, {9, 8}, {1, 2}, {2, 3});
    slice("Op_Slice_negative_step_b3", false, {3, 5, 6}, {-1}, {-kI64Max}, {2}, {-1});

    auto reshape = [&](const std::string& name, bool yolo, Shape x, std::vector<int64_t> target) {
        L.add(name, yolo, [=](GraphBuilder& b) {
            b.output(b.node("Reshape", "reshape", {b.input("x", x), b.ints("shape", target)}));
        });
    };
    reshape("Op_Reshape_4d_to_3d_b1", true, {1, 64, 5, 6}, {1, 64, -1});
    reshape("Op_Reshape_3d_to_4d_b3", true, {3, 64, 20}, {3, 4, 16, 20});
    reshape("Op_Reshape_attention_b3", true, {3, 64, 4, 5}, {3, 2, 32, 20});
    reshape("Op_Reshape_zero_copies_dim_b3", false, {3, 64, 20}, {0, 4, -1, 20});
    L.add("Op_Flatten_axis1_b3", false, [](GraphBuilder& b) {
        b.output(b.node("Flatten", "flatten", {b.input("x", {3, 4, 5, 6})}, {{"axis", I(1)}}));
    });
    L.add("Op_Squeeze_Unsqueeze_b1", false, [](GraphBuilder& b) {
        auto u = b.node("Unsqueeze", "unsq", {b.input("x", {1, 6, 7}), b.ints("uax", {2})});
        b.output(u);
        b.output(b.node("Squeeze", "sq", {u, b.ints("sax", {0, 2})}));
    });

    auto transpose = [&](const std::string& name, bool yolo, Shape x, std::vector<int64_t> perm,
                         Dist d = Dist::kUniform) {
        L.add(name, yolo, [=](GraphBuilder& b) {
             Attrs a;
             if (!perm.empty()) a["perm"] = Is(perm);
             b.output(b.node("Transpose", "transpose", {b.input("x", x)}, a));
         }).dist = d;
    };
    transpose("Op_Transpose_0132_b3", true, {3, 2, 16, 20}, {0, 1, 3, 2});  // attention
    transpose("Op_Transpose_0312_b1", true, {1, 4, 16, 20}, {0, 3, 1, 2});  // DFL
    transpose("Op_Transpose_0321_b3", true, {3, 20, 4, 16}, {0, 3, 2, 1});  // DFL back
    transpose("Op_Transpose_0213_b1", true, {1, 4, 16, 21}, {0, 2, 1, 3});
    transpose("Op_Transpose_0132_nan_inf_b1", true, {1, 2, 5, 7}, {0, 1, 3, 2}, Dist::kSpecial);
    transpose("Op_Transpose_021_3d_b3", false, {3, 84, 25}, {0, 2, 1});
    transpose("Op_Transpose_reverse_default_b1", false, {1, 3, 4, 5}, {});
}

// ---- Softmax / MatMul ----
void add_nn_cases(CaseList& L) {
    auto softmax = [&](const std::string& name, bool yolo, Shape x, int64_t axis, int64_t opset,
                       Dist d = Dist::kUniform) {
        L.add(name, yolo, [=](GraphBuilder& b) {
             Attrs a{{"opset", I(opset)}};
             if (axis != 1000) a["axis"] = I(axis);
             b.output(b.node("Softmax", "softmax", {b.input("x", x)}, a));
         }).dist = d;
    };
    softmax("Op_Softmax_axis3_opset12_b3", true, {3, 4, 16, 20}, 3, 12);  // YOLO's DFL and attention
    softmax("Op_Softmax_axis3_opset13_b1", true, {1, 2, 20, 20}, 3, 13);
    softmax("Op_Softmax_axis1_opset13_b3", true, {3, 16, 4, 9}, 1, 13);  // normalises along axis 1 only
    softmax("Op_Softmax_axis1_opset12_b1", true, {1, 16, 4, 9}, 1, 12);  // normalises the flattened [16*4*9]
    softmax("Op_Softmax_axis1_opset12_b3", true, {3, 4, 5, 6}, 1, 12);
    softmax("Op_Softmax_axis3_neginf_b1", true, {1, 2, 10, 20}, 3, 12, Dist::kNegInf);
    softmax("Op_Softmax_axis3_nan_b1", true, {1, 2, 5, 8}, 3, 13, Dist::kNaN);
    softmax("Op_Softmax_default_axis_opset13_b1", false, {1, 3, 5, 7}, 1000, 13);
    softmax("Op_Softmax_default_axis_opset11_b1", false, {2, 3, 5, 7}, 1000, 11);
    softmax("Op_Softmax_axis_neg1_3d_b3", false, {3, 7, 9}, -1, 13);

    // Attention: x = [B, H, K, M + N] -> q^T = transpose(x[..., :M]) [B, H, M, K], k = x[..., M:] [B, H, K, N].
    auto attn = [&](const std::string& name, int64_t bsz, int64_t h, int64_t k, int64_t m, int64_t n) {
        L.add(name, true, [=](GraphBuilder& b) {
            auto x = b.input("x", {bsz, h, k, m + n});
            auto q = b.node("Slice", "q", {x, b.ints("s0", {0}), b.ints("e0", {m}), b.ints("a0", {3})});
            auto kk = b.node("Slice", "k", {x, b.ints("s1", {m}), b.ints("e1", {m + n}), b.ints("a1", {3})});
            auto qt = b.node("Transpose", "qt", {q}, {{"perm", Is({0, 1, 3, 2})}});
            b.output(b.node("MatMul", "matmul", {qt, kk}));
        });
    };
    attn("Op_MatMul_4d_attention_b1", 1, 2, 16, 20, 20);
    attn("Op_MatMul_4d_attention_b3", 3, 2, 32, 25, 25);
    attn("Op_MatMul_4d_rect_b3", 3, 1, 8, 7, 12);
    // attn @ v^T as in the block: MatMul(v [B,H,D,N], attn^T [B,H,N,N]).
    L.add("Op_MatMul_4d_attention_v_b3", true, [](GraphBuilder& b) {
        auto x = b.input("x", {3, 2, 14, 10});
        auto v = b.node("Slice", "v", {x, b.ints("s0", {0}), b.ints("e0", {4}), b.ints("a0", {2})});
        auto a = b.node("Slice", "a", {x, b.ints("s1", {4}), b.ints("e1", {14}), b.ints("a1", {2})});
        auto sm = b.node("Softmax", "softmax", {a}, {{"axis", I(3)}, {"opset", I(12)}});
        b.output(b.node("MatMul", "matmul", {v, b.node("Transpose", "at", {sm}, {{"perm", Is({0, 1, 3, 2})}})}));
    });
    // DflDecode (made by the fuse_dfl pass from the Detect head): x [N, 4, R, A], w [1, R, 1, 1] = 0..R-1.
    auto dfl = [&](const std::string& name, Shape x, Dist d = Dist::kUniform) {
        L.add(name, true, [=](GraphBuilder& b) {
             std::vector<float> w(static_cast<size_t>(x[2]));
             for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
             b.output(
                 b.node("DflDecode", "dfl", {b.input("x", x), b.constant("w", Tensor::from_f32(w, {1, x[2], 1, 1}))}));
         }).dist = d;
    };
    dfl("Op_DflDecode_r16_b1", {1, 4, 16, 50});
    dfl("Op_DflDecode_r16_b3", {3, 4, 16, 21});
    dfl("Op_DflDecode_r8_odd_b1", {1, 4, 8, 7});
    dfl("Op_DflDecode_nan_b1", {1, 4, 16, 9}, Dist::kNaN);
    L.add("Op_MatMul_4d_const_rhs_b3", false, [](GraphBuilder& b) {
        b.output(b.node("MatMul", "matmul", {b.input("x", {3, 2, 10, 16}), b.weight("w", {16, 12})}));
    });
    L.add("Op_MatMul_bcast_two_inputs_b1", false, [](GraphBuilder& b) {
        b.output(b.node("MatMul", "matmul", {b.input("a", {2, 1, 5, 6}), b.input("c", {3, 6, 4})}));
    });
}

// ---- element-wise ----
void add_elementwise_cases(CaseList& L) {
    // Binary op of the two halves of a Split of the input (both runtime, same shape).
    auto halves = [&](const std::string& name, const std::string& op, Shape x, Dist d = Dist::kUniform) {
        L.add(name, true, [=](GraphBuilder& b) {
             auto p = b.node_n("Split", "split", {b.input("x", x)}, {{"axis", I(1)}}, 2);
             b.output(b.node(op, "op", {p[0], p[1]}));
         }).dist = d;
    };
    halves("Op_Add_same_shape_b3", "Add", {3, 16, 5, 7});
    halves("Op_Sub_same_shape_b1", "Sub", {1, 4, 30});
    halves("Op_Mul_same_shape_b3", "Mul", {3, 8, 4, 3});
    halves("Op_Div_same_shape_b1", "Div", {1, 8, 5, 5}, Dist::kNonZero);
    halves("Op_Sub_nan_inf_b3", "Sub", {3, 4, 20}, Dist::kSpecial);
    halves("Op_Add_nan_inf_b1", "Add", {1, 8, 4, 4}, Dist::kSpecial);

    // Runtime operand broadcast against a Slice of the same input: a = x[:, :c-1], b = x[:, c-1:].
    auto bcast_rt = [&](const std::string& name, const std::string& op, Shape x, Dist d = Dist::kUniform) {
        L.add(name, true, [=](GraphBuilder& b) {
             auto in = b.input("x", x);
             auto a = b.node("Slice", "a", {in, b.ints("s0", {0}), b.ints("e0", {x[1] - 1}), b.ints("ax0", {1})});
             auto c = b.node("Slice", "c", {in, b.ints("s1", {x[1] - 1}), b.ints("e1", {x[1]}), b.ints("ax1", {1})});
             b.output(b.node(op, "op", {a, c}));
         }).dist = d;
    };
    bcast_rt("Op_Mul_runtime_bcast_channel_b3", "Mul", {3, 9, 4, 5});
    bcast_rt("Op_Add_runtime_bcast_channel_b1", "Add", {1, 17, 3, 3});
    bcast_rt("Op_Div_runtime_bcast_channel_b3", "Div", {3, 5, 6}, Dist::kNonZero);

    // Runtime x with a constant operand, either side.
    auto with_const = [&](const std::string& name, bool yolo, const std::string& op, Shape x, Shape c, bool const_first,
                          Dist d = Dist::kUniform, Dist cd = Dist::kUniform) {
        L.add(name, yolo, [=](GraphBuilder& b) {
             auto in = b.input("x", x);
             auto k = cd == Dist::kNonZero ? b.positive("k", c, 0.5f, 2.f) : b.weight("k", c, 2.f);
             b.output(
                 b.node(op, "op", const_first ? std::vector<std::string>{k, in} : std::vector<std::string>{in, k}));
         }).dist = d;
    };
    with_const("Op_Add_bcast_channel_const_b1", true, "Add", {1, 16, 5, 7}, {1, 16, 1, 1}, false);
    with_const("Op_Add_const_first_bcast_batch_b3", true, "Add", {3, 2, 30}, {1, 2, 30}, true);
    with_const("Op_Sub_const_minus_x_b1", true, "Sub", {1, 2, 30}, {1, 2, 30}, true);  // anchors - lt
    with_const("Op_Sub_x_minus_scalar_b3", true, "Sub", {3, 4, 5}, {}, false);
    with_const("Op_Mul_bcast_last_b3", true, "Mul", {3, 4, 30}, {1, 30}, false);  // * strides
    with_const("Op_Mul_scalar_b1", true, "Mul", {1, 2, 20, 20}, {}, false);       // attention scale
    with_const("Op_Mul_const_first_bcast_hw_b3", true, "Mul", {3, 4, 6, 5}, {6, 5}, true);
    with_const("Op_Div_scalar_b1", true, "Div", {1, 2, 30}, {}, false, Dist::kUniform, Dist::kNonZero);  // / 2
    with_const("Op_Div_bcast_const_b3", true, "Div", {3, 4, 5, 6}, {4, 1, 1}, false, Dist::kUniform, Dist::kNonZero);
    with_const("Op_Div_const_by_x_b1", true, "Div", {1, 3, 4}, {1, 3, 4}, true, Dist::kNonZero);
    with_const("Op_Mul_nan_inf_b3", true, "Mul", {3, 8, 3, 3}, {1, 8, 1, 1}, false, Dist::kSpecial);
    with_const("Op_Div_nan_inf_b1", true, "Div", {1, 4, 10}, {}, false, Dist::kSpecial, Dist::kNonZero);
    with_const("Op_Pow_const_b1", false, "Pow", {1, 3, 4, 5}, {}, false, Dist::kPositive, Dist::kNonZero);
    with_const("Op_Max_const_b3", false, "Max", {3, 4, 5}, {1, 5}, false);
    with_const("Op_Min_const_b1", false, "Min", {1, 4, 5}, {4, 1}, true);
    with_const("Op_Mod_const_b1", false, "Mod", {1, 3, 8}, {}, false, Dist::kIntegers, Dist::kNonZero);
    L.add("Op_Mod_fmod_b1", false, [](GraphBuilder& b) {
         b.output(b.node("Mod", "mod",
                         {b.input("x", {1, 3, 8}), b.floats("k", {-2.5f, 1.5f, 3.f, -0.75f, 2.f, 1.f, 4.f, -1.f})},
                         {{"fmod", I(1)}}));
     }).dist = Dist::kUniform;
    L.add("Op_Add_two_inputs_bcast_b3", false, [](GraphBuilder& b) {
        b.output(b.node("Add", "add", {b.input("a", {3, 1, 4, 5}), b.input("c", {6, 1, 5})}));
    });

    // Comparisons and logic produce bool outputs, compared exactly.
    auto compare = [&](const std::string& name, const std::string& op) {
        L.add(name, false, [=](GraphBuilder& b) {
             b.output(b.node(op, "op", {b.input("x", {2, 3, 4, 5}), b.constant("k", Tensor::scalar_f32(1.f))}));
         }).dist = Dist::kIntegers;
    };
    compare("Op_Equal_b1", "Equal");
    compare("Op_Less_b1", "Less");
    compare("Op_Greater_b1", "Greater");
    compare("Op_LessOrEqual_b1", "LessOrEqual");
    compare("Op_GreaterOrEqual_b1", "GreaterOrEqual");
    L.add("Op_And_Or_Not_Where_b3", false, [](GraphBuilder& b) {
        auto x = b.input("x", {3, 4, 5});
        auto pos = b.node("Greater", "pos", {x, b.constant("zero", Tensor::scalar_f32(0.f))});
        auto small = b.node("Less", "small", {x, b.constant("one", Tensor::scalar_f32(1.f))});
        auto both = b.node("And", "and", {pos, small});
        b.output(both);
        b.output(b.node("Or", "or", {pos, small}));
        b.output(b.node("Not", "not", {both}));
        b.output(b.node("Where", "where", {both, x, b.node("Neg", "neg", {x})}));
    });

    // Unary ops.
    auto unary = [&](const std::string& name, bool yolo, const std::string& op, Shape x, Dist d = Dist::kUniform,
                     Attrs a = {}) {
        L.add(name, yolo, [=](GraphBuilder& b) { b.output(b.node(op, "op", {b.input("x", x)}, a)); }).dist = d;
    };
    unary("Op_Sigmoid_b3", true, "Sigmoid", {3, 80, 37});
    unary("Op_Sigmoid_4d_b1", true, "Sigmoid", {1, 16, 9, 11});
    unary("Op_Sigmoid_nan_inf_b3", true, "Sigmoid", {3, 8, 21}, Dist::kSpecial);
    unary("Op_Relu_b1", false, "Relu", {1, 8, 5, 5});
    unary("Op_Relu_nan_inf_b1", false, "Relu", {1, 8, 5, 5}, Dist::kSpecial);
    unary("Op_Silu_b3", false, "Silu", {3, 8, 4, 4});
    unary("Op_Neg_b1", false, "Neg", {1, 3, 7});
    unary("Op_Exp_b1", false, "Exp", {1, 3, 7});
    unary("Op_Log_b1", false, "Log", {1, 3, 7}, Dist::kPositive);
    unary("Op_Sqrt_b1", false, "Sqrt", {1, 3, 7}, Dist::kPositive);
    unary("Op_Abs_b1", false, "Abs", {1, 3, 7});
    unary("Op_Floor_b1", false, "Floor", {1, 3, 7});
    unary("Op_Ceil_b1", false, "Ceil", {1, 3, 7});
    unary("Op_Round_b1", false, "Round", {1, 3, 7});
    unary("Op_Tanh_b1", false, "Tanh", {1, 3, 7});
    unary("Op_Identity_b1", false, "Identity", {1, 3, 7});
    unary("Op_Reciprocal_b1", false, "Reciprocal", {1, 3, 7}, Dist::kNonZero);
    unary("Op_HardSwish_b1", false, "HardSwish", {1, 3, 7});
    unary("Op_HardSigmoid_b1", false, "HardSigmoid", {1, 3, 7});
    unary("Op_Erf_b1", false, "Erf", {1, 3, 7});
    unary("Op_Clip_attr_b1", false, "Clip", {1, 3, 7}, Dist::kUniform,
          {{"min", Attr::of_float(-0.5f)}, {"max", Attr::of_float(0.75f)}});
    L.add("Op_Clip_inputs_b3", false, [](GraphBuilder& b) {
        b.output(b.node("Clip", "clip",
                        {b.input("x", {3, 4, 5}), b.constant("lo", Tensor::scalar_f32(0.f)),
                         b.constant("hi", Tensor::scalar_f32(6.f))}));
    });
    unary("Op_Cast_to_int64_b1", false, "Cast", {1, 3, 7}, Dist::kUniform, {{"to", I(7)}});
    unary("Op_Cast_to_f16_b1", false, "Cast", {1, 3, 7}, Dist::kUniform, {{"to", I(10)}});
}

// ---- shape ops and the rest of the registry ----
void add_misc_cases(CaseList& L) {
    L.add("Op_Shape_b3", false, [](GraphBuilder& b) {
        auto x = b.input("x", {3, 4, 5, 6});
        b.output(b.node("Shape", "shape", {x}));
        b.output(b.node("Shape", "shape_slice", {x}, {{"start", I(1)}, {"end", I(-1)}}));
    });
    L.add("Op_Gather_b3", false, [](GraphBuilder& b) {
        auto x = b.input("x", {3, 6, 5});
        b.output(b.node("Gather", "gather", {x, b.ints("idx", {4, 0, -1})}, {{"axis", I(1)}}));
        b.output(b.node("Gather", "gather_scalar", {x, b.constant("i", Tensor::from_i64({2}, {}))}, {{"axis", I(2)}}));
    });
    L.add("Op_Expand_b1", false, [](GraphBuilder& b) {
        b.output(b.node("Expand", "expand", {b.input("x", {3, 1, 5}), b.ints("shape", {2, 3, 4, 5})}));
    });
    L.add("Op_Tile_b1", false, [](GraphBuilder& b) {
        b.output(b.node("Tile", "tile", {b.input("x", {1, 3, 4}), b.ints("reps", {2, 1, 3})}));
    });
    L.add("Op_ConstantOfShape_Range_b1", false, [](GraphBuilder& b) {
        auto x = b.input("x", {1, 5});
        auto fill = b.node("ConstantOfShape", "cos", {b.ints("shape", {1, 5})},
                           {{"value", Attr::of_tensor(Tensor::from_f32({2.5f}, {1}))}});
        auto r = b.node("Range", "range",
                        {b.constant("start", Tensor::scalar_f32(-1.f)), b.constant("limit", Tensor::scalar_f32(1.4f)),
                         b.constant("delta", Tensor::scalar_f32(0.5f))});
        b.output(b.node("Add", "add", {b.node("Mul", "mul", {x, fill}), r}));
    });
    L.add("Op_BatchNormalization_b3", false, [](GraphBuilder& b) {
        b.output(b.node("BatchNormalization", "bn",
                        {b.input("x", {3, 8, 4, 5}), b.positive("g", {8}), b.weight("beta", {8}), b.weight("mean", {8}),
                         b.positive("var", {8})},
                        {{"epsilon", Attr::of_float(1e-3f)}}));
    });
    // ONNX Runtime's dynamic quantization: DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul.
    L.add("Op_DynamicQuantizeLinear_ConvInteger_b1", false, [](GraphBuilder& b) {
        auto x = b.input("x", {1, 8, 6, 5});
        auto dq = b.node_n("DynamicQuantizeLinear", "dql", {x}, {}, 3);
        Tensor wq = Tensor::empty(DType::kU8, {4, 8, 3, 3});
        std::uniform_int_distribution<int> d(0, 255);
        for (int64_t i = 0; i < wq.numel(); ++i) wq.data<uint8_t>()[i] = static_cast<uint8_t>(d(b.rng()));
        Tensor wz = Tensor::empty(DType::kU8, {});
        *wz.data<uint8_t>() = 128;
        auto c = b.node("ConvInteger", "convint", {dq[0], b.constant("wq", wq), dq[2], b.constant("wz", wz)},
                        {{"pads", Is({1, 1, 1, 1})}});
        auto f = b.node("Cast", "cast", {c}, {{"to", I(1)}});
        b.output(
            b.node("Mul", "mul", {f, b.node("Mul", "scale", {dq[1], b.constant("ws", Tensor::scalar_f32(0.01f))})}));
        for (const auto& o : dq) b.output(o);
    });
}

// ---- few-node YOLO blocks ----
void add_block_cases(CaseList& L) {
    // SPPF: cv1 -> 3 x MaxPool 5x5 -> Concat(4) -> cv2.
    L.add("Op_Block_SPPF_b1", true, [](GraphBuilder& b) {
         const Attrs silu{{"activation", S("silu")}};
         auto c1 = b.conv("cv1", b.input("x", {1, 16, 8, 8}), 16, 8, 1, 1, 0, 1, true, silu);
         const Attrs mp{{"kernel_shape", Is({5, 5})}, {"strides", Is({1, 1})}, {"pads", Is({2, 2, 2, 2})}};
         auto m1 = b.node("MaxPool", "m1", {c1}, mp);
         auto m2 = b.node("MaxPool", "m2", {m1}, mp);
         auto m3 = b.node("MaxPool", "m3", {m2}, mp);
         auto cat = b.node("Concat", "cat", {c1, m1, m2, m3}, {{"axis", I(1)}});
         b.output(b.conv("cv2", cat, 32, 16, 1, 1, 0, 1, true, silu));
     }).bf16 = true;
    // C3k2 bottleneck: cv1 -> Split -> (conv, conv + residual) -> Concat(3) -> cv2.
    L.add("Op_Block_C3k2_b3", true, [](GraphBuilder& b) {
         const Attrs silu{{"activation", S("silu")}};
         auto c1 = b.conv("cv1", b.input("x", {3, 16, 9, 7}), 16, 16, 1, 1, 0, 1, true, silu);
         auto p = b.node_n("Split", "split", {c1}, {{"axis", I(1)}, {"split", Is({8, 8})}}, 2);
         auto m1 = b.conv("m_cv1", p[1], 8, 8, 3, 1, 1, 1, true, silu);
         auto m2 =
             b.node("Conv", "m_cv2", {m1, b.weight("m_cv2_W", {8, 8, 3, 3}, 0.2f), b.weight("m_cv2_B", {8}), p[1]},
                    {{"pads", Is({1, 1, 1, 1})}, {"activation", S("silu")}});
         auto cat = b.node("Concat", "cat", {p[0], p[1], m2}, {{"axis", I(1)}});
         b.output(b.conv("cv2", cat, 24, 16, 1, 1, 0, 1, true, silu));
     }).bf16 = true;
    // C2PSA's tail: cv1 -> Split -> (part 0, a residual block on part 1) -> Concat -> cv2. The block's result has part
    // 1's channels and is computed from it, so the CUDA backend writes it over part 1 in the Concat's buffer.
    L.add("Op_Block_C2PSA_tail_b3", true, [](GraphBuilder& b) {
         const Attrs silu{{"activation", S("silu")}};
         auto c1 = b.conv("cv1", b.input("x", {3, 16, 6, 5}), 16, 16, 1, 1, 0, 1, true, silu);
         auto p = b.node_n("Split", "split", {c1}, {{"axis", I(1)}, {"split", Is({8, 8})}}, 2);
         auto a1 = b.node("Conv", "attn", {p[1], b.weight("attn_W", {8, 8, 3, 3}, 0.2f), b.weight("attn_B", {8}), p[1]},
                          {{"pads", Is({1, 1, 1, 1})}});
         auto f1 = b.conv("ffn0", a1, 8, 16, 1, 1, 0, 1, true, silu);
         auto f2 = b.node("Conv", "ffn1", {f1, b.weight("ffn1_W", {8, 16, 1, 1}, 0.3f), b.weight("ffn1_B", {8}), a1});
         auto cat = b.node("Concat", "cat", {p[0], f2}, {{"axis", I(1)}});
         b.output(b.conv("cv2", cat, 16, 16, 1, 1, 0, 1, true, silu));
     }).bf16 = true;
    // The same, but part 1 is also read beside the block (a second output): it is still live when the block's result
    // is written, so that result must not take its place.
    L.add("Op_Block_C2PSA_tail_live_part_b1", false, [](GraphBuilder& b) {
        const Attrs silu{{"activation", S("silu")}};
        auto c1 = b.conv("cv1", b.input("x", {1, 16, 5, 7}), 16, 16, 1, 1, 0, 1, true, silu);
        auto p = b.node_n("Split", "split", {c1}, {{"axis", I(1)}, {"split", Is({8, 8})}}, 2);
        auto a1 = b.conv("blk", p[1], 8, 8, 3, 1, 1, 1, true, silu);
        auto cat = b.node("Concat", "cat", {p[0], a1}, {{"axis", I(1)}});
        b.output(b.conv("cv2", cat, 16, 16, 1, 1, 0, 1, true, silu));
        b.output(b.conv("side", p[1], 8, 8, 3, 1, 1, 1, true, silu));
    });
    // FPN: Resize 2x of a deep map, Concat with a shallow one, conv.
    L.add("Op_Block_FPN_b3", true, [](GraphBuilder& b) {
         const Attrs silu{{"activation", S("silu")}};
         auto x = b.input("x", {3, 8, 8, 6});
         auto deep = b.conv("down", x, 8, 16, 3, 2, 1, 1, true, silu);
         auto up = b.node("Resize", "up",
                          {deep, b.constant("roi", Tensor::empty(DType::kF32, {0})), b.floats("sc", {1, 1, 2, 2})},
                          {{"mode", S("nearest")},
                           {"coordinate_transformation_mode", S("asymmetric")},
                           {"nearest_mode", S("floor")}});
         auto cat = b.node("Concat", "cat", {up, x}, {{"axis", I(1)}});
         b.output(b.conv("cv", cat, 24, 8, 3, 1, 1, 1, true, silu));
     }).bf16 = true;
    // Detect head tail: box branch through DFL (Reshape, Transpose, Softmax, 1x1 Conv with arange weights),
    // anchors/strides arithmetic and the class Sigmoid, concatenated to [B, 4 + nc, A].
    L.add("Op_Block_DFL_head_b3", true, [](GraphBuilder& b) {
        const int64_t a = 30, reg = 16, nc = 8, bsz = 3;
        auto x = b.input("x", {bsz, 4 * reg + nc, a});
        auto p = b.node_n("Split", "split", {x}, {{"axis", I(1)}, {"split", Is({4 * reg, nc})}}, 2);
        auto r = b.node("Reshape", "dfl_reshape", {p[0], b.ints("t1", {bsz, 4, reg, a})});
        auto t = b.node("Transpose", "dfl_t", {r}, {{"perm", Is({0, 3, 1, 2})}});
        auto sm = b.node("Softmax", "dfl_softmax", {t}, {{"axis", I(3)}, {"opset", I(12)}});
        auto t2 = b.node("Transpose", "dfl_t2", {sm}, {{"perm", Is({0, 3, 2, 1})}});
        std::vector<float> arange(reg);
        for (int64_t i = 0; i < reg; ++i) arange[i] = static_cast<float>(i);
        auto dfl = b.node("Conv", "dfl_conv", {t2, b.constant("dfl_w", Tensor::from_f32(arange, {1, reg, 1, 1}))});
        auto box = b.node("Reshape", "dfl_out", {dfl, b.ints("t2s", {bsz, 4, a})});
        auto lt = b.node("Slice", "lt", {box, b.ints("s0", {0}), b.ints("e0", {2}), b.ints("ax0", {1})});
        auto rb = b.node("Slice", "rb", {box, b.ints("s1", {2}), b.ints("e1", {4}), b.ints("ax1", {1})});
        auto anchors = b.weight("anchors", {1, 2, a}, 10.f);
        auto x1y1 = b.node("Sub", "x1y1", {anchors, lt});
        auto x2y2 = b.node("Add", "x2y2", {anchors, rb});
        auto c_xy =
            b.node("Div", "cxy", {b.node("Add", "sum", {x1y1, x2y2}), b.constant("two", Tensor::scalar_f32(2.f))});
        auto wh = b.node("Sub", "wh", {x2y2, x1y1});
        auto dbox =
            b.node("Mul", "scale",
                   {b.node("Concat", "xywh", {c_xy, wh}, {{"axis", I(1)}}), b.positive("strides", {1, a}, 8.f, 32.f)});
        b.output(b.node("Concat", "out", {dbox, b.node("Sigmoid", "cls", {p[1]})}, {{"axis", I(1)}}));
    });
}

}  // namespace

const std::vector<OpCase>& backend_op_cases() {
    static const std::vector<OpCase> cases = [] {
        CaseList L;
        add_conv_cases(L);
        add_pool_resize_cases(L);
        add_layout_cases(L);
        add_nn_cases(L);
        add_elementwise_cases(L);
        add_misc_cases(L);
        add_block_cases(L);
        return L.v;
    }();
    return cases;
}

Graph build_case(const OpCase& c) {
    GraphBuilder b(name_seed(c.name));
    c.build(b);
    return b.build();
}

std::vector<Tensor> case_inputs(const Graph& g, const OpCase& c, uint32_t variant) {
    std::mt19937 rng(name_seed(c.name) ^ (variant * 0x9e3779b9u));
    std::uniform_real_distribution<float> u(-2.f, 2.f), pos(0.1f, 3.f), mag(0.5f, 2.f), p01(0.f, 1.f);
    std::uniform_int_distribution<int> small(-3, 3);
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    std::vector<Tensor> out;
    for (const auto& name : g.inputs) {
        Tensor t = Tensor::empty(DType::kF32, g.info(name)->shape);
        float* p = t.data<float>();
        for (int64_t i = 0; i < t.numel(); ++i) {
            float v = u(rng);
            switch (c.dist) {
                case Dist::kUniform:
                    break;
                case Dist::kPositive:
                    v = pos(rng);
                    break;
                case Dist::kNonZero:
                    v = (p01(rng) < 0.5f ? -1.f : 1.f) * mag(rng);
                    break;
                case Dist::kIntegers:
                    v = static_cast<float>(small(rng));
                    break;
                case Dist::kSpecial: {
                    const float r = p01(rng);
                    v = r < 0.03f ? nan : r < 0.06f ? inf : r < 0.09f ? -inf : v;
                    break;
                }
                case Dist::kNaN:
                    v = p01(rng) < 0.03f ? nan : v;
                    break;
                case Dist::kInf: {
                    const float r = p01(rng);
                    v = r < 0.03f ? inf : r < 0.06f ? -inf : v;
                    break;
                }
                case Dist::kNegInf:
                    v = p01(rng) < 0.1f ? -inf : v;
                    break;
            }
            p[i] = v;
        }
        out.push_back(t);
    }
    return out;
}

}  // namespace itscam::test
