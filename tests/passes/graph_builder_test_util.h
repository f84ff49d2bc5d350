// Helpers shared by the pass tests and the backend-ops suite: a small builder for hand-made graphs with random
// weights, random inputs, and output comparison. Header-only so tests/backend_ops can include it too.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backend/ref/ref_backend.h"
#include "graph/graph.h"
#include "passes/passes.h"

namespace itscam::test {

inline std::string shared_path(const std::string& rel) {
    return std::string(ITSCAM_SHARED_DIR) + "/" + rel;
}

// Uniform float32 tensor in [lo, hi).
inline Tensor random_tensor(const Shape& shape, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
    Tensor t = Tensor::empty(DType::kF32, shape);
    std::uniform_real_distribution<float> d(lo, hi);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = d(rng);
    return t;
}

// Builds a Graph node by node. Values are named by the caller; node outputs are "<node>_out" or "<node>_out<i>".
class GraphBuilder {
  public:
    explicit GraphBuilder(uint32_t seed = 1, int64_t opset = 17) : rng_(seed) {
        g_.name = "test";
        g_.opset = opset;
    }

    std::mt19937& rng() { return rng_; }
    Graph& graph() { return g_; }

    std::string input(const std::string& name, Shape shape, DType dt = DType::kF32) {
        g_.inputs.push_back(name);
        g_.values[name] = ValueInfo{dt, std::move(shape)};
        return name;
    }
    std::string constant(const std::string& name, Tensor t) {
        g_.values[name] = ValueInfo{t.dtype(), t.shape()};
        g_.constants[name] = std::move(t);
        return name;
    }
    // Random float weights, uniform in [-scale, scale).
    std::string weight(const std::string& name, const Shape& shape, float scale = 0.5f) {
        return constant(name, random_tensor(shape, rng_, -scale, scale));
    }
    // Random positive values in [lo, hi) (BatchNormalization variance, divisors).
    std::string positive(const std::string& name, const Shape& shape, float lo = 0.5f, float hi = 1.5f) {
        return constant(name, random_tensor(shape, rng_, lo, hi));
    }
    std::string ints(const std::string& name, const std::vector<int64_t>& v) {
        return constant(name, Tensor::from_i64(v, {static_cast<int64_t>(v.size())}));
    }
    std::string floats(const std::string& name, const std::vector<float>& v) {
        return constant(name, Tensor::from_f32(v, {static_cast<int64_t>(v.size())}));
    }

    std::vector<std::string> node_n(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                                    std::map<std::string, Attr> attrs, int num_outputs) {
        Node n;
        n.op = op;
        n.name = name;
        n.inputs = std::move(inputs);
        n.attrs = std::move(attrs);
        for (int i = 0; i < num_outputs; ++i)
            n.outputs.push_back(num_outputs == 1 ? name + "_out" : name + "_out" + std::to_string(i));
        g_.nodes.push_back(n);
        return g_.nodes.back().outputs;
    }
    std::string node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                     std::map<std::string, Attr> attrs = {}) {
        return node_n(op, name, std::move(inputs), std::move(attrs), 1)[0];
    }

    // Conv with random weights (scaled by 1/sqrt(fan_in) so activations stay O(1)) and optional bias.
    std::string conv(const std::string& name, const std::string& x, int64_t cin, int64_t cout, int64_t k,
                     int64_t stride = 1, int64_t pad = -1, int64_t group = 1, bool bias = true,
                     std::map<std::string, Attr> extra = {}) {
        if (pad < 0) pad = k / 2;
        const float scale = 1.f / std::sqrt(static_cast<float>(cin / group * k * k));
        std::vector<std::string> ins{x, weight(name + "_W", {cout, cin / group, k, k}, scale * 1.7f)};
        if (bias) ins.push_back(weight(name + "_B", {cout}, 0.2f));
        std::map<std::string, Attr> attrs{{"kernel_shape", Attr::of_ints({k, k})},
                                          {"strides", Attr::of_ints({stride, stride})},
                                          {"pads", Attr::of_ints({pad, pad, pad, pad})},
                                          {"dilations", Attr::of_ints({1, 1})},
                                          {"group", Attr::of_int(group)}};
        for (auto& [k2, v] : extra) attrs[k2] = v;
        return node("Conv", name, ins, attrs);
    }

    void output(const std::string& v) { g_.outputs.push_back(v); }

    // Infers every node's output shape and verifies the graph; failures are test failures.
    Graph build() {
        Status st = infer_shapes(g_);
        EXPECT_TRUE(st.is_ok()) << st.to_string();
        st = g_.verify();
        EXPECT_TRUE(st.is_ok()) << st.to_string();
        return g_;
    }

  private:
    std::mt19937 rng_;
    Graph g_;
};

// One random float tensor per graph input, shaped as the graph says.
inline std::vector<Tensor> random_inputs(const Graph& g, uint32_t seed, float lo = -2.f, float hi = 2.f) {
    std::mt19937 rng(seed);
    std::vector<Tensor> v;
    for (const auto& in : g.inputs) v.push_back(random_tensor(g.info(in)->shape, rng, lo, hi));
    return v;
}

inline std::vector<Tensor> run_ref(const Graph& g, const std::vector<Tensor>& inputs) {
    std::vector<Tensor> out;
    Status st = ref_execute(g, inputs, out);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return out;
}

// Largest |a - b| and largest |a| over two float tensors of one shape (NaN in either counts as infinite diff).
struct Diff {
    double max_abs = 0;
    double max_ref = 0;
};
inline Diff diff_f32(const Tensor& a, const Tensor& b) {
    Diff d;
    const Tensor af = a.cast(DType::kF32), bf = b.cast(DType::kF32);
    for (int64_t i = 0; i < af.numel(); ++i) {
        const double x = af.data<float>()[i], y = bf.data<float>()[i];
        const double e = std::isnan(x) || std::isnan(y) ? INFINITY : std::fabs(x - y);
        d.max_abs = std::max(d.max_abs, e);
        d.max_ref = std::max(d.max_ref, std::fabs(x));
    }
    return d;
}

// Runs both graphs on the reference backend with the same inputs; every output must have the same shape and agree
// within rel_tol * max(1, max|before|).
inline void expect_same_outputs(const Graph& before, const Graph& after, const std::vector<Tensor>& inputs,
                                double rel_tol = 1e-4) {
    std::vector<Tensor> a = run_ref(before, inputs), b = run_ref(after, inputs);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].shape(), b[i].shape()) << "output " << i;
        const Diff d = diff_f32(a[i], b[i]);
        EXPECT_LE(d.max_abs, rel_tol * std::max(1.0, d.max_ref))
            << "output " << i << " '" << before.outputs[i] << "' differs after the pass";
    }
}

inline int count_op(const Graph& g, const std::string& op) {
    auto h = g.op_histogram();
    auto it = h.find(op);
    return it == h.end() ? 0 : it->second;
}

}  // namespace itscam::test
