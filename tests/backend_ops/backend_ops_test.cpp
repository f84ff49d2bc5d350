// Cross-backend op suite, after llama.cpp's test-backend-ops: every case is a one-node (or few-node) graph with
// random weights and inputs, run on every backend in backend_names() except "ref" and compared with ref_execute by
// normalized MSE (mse(ref, got) / mse(ref, 0)), with NaN/Inf parity, exact output shapes/dtypes, inputs left
// untouched, and bit-identical results when the same input runs again after another input.
//
// Test names: Ops/BackendOps.Run/<case>_<backend>, Bf16/BackendOps.Run/<case>_bf16_<backend> (cpu) and
// Fp16/BackendOps.Run/<case>_fp16_<backend> (cuda), so
//   --gtest_filter='*Op_Conv*_cpu'   all Conv cases on the cpu backend
//   --gtest_filter='*_bf16_*'        the bf16 variants
// A case a backend cannot run (supports() or compile() says kUnsupported) is skipped with the reason, except the
// ops YOLO11 needs on "cpu", where it is a failure. With no backend besides "ref", every case is skipped.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <set>

#include "backend/backend.h"
#include "backend_ops_cases.h"
#include "ops/op_registry.h"

namespace itscam {
namespace {

using test::GraphBuilder;

// ---------------------------------------------------------------------------------------------------------------
// Comparison

struct Verdict {
    bool ok = true;
    std::string why;
    double nmse = 0;
};

bool is_float(DType t) {
    return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || t == DType::kF64;
}

// Compares a backend output with the reference output. Float outputs: NaN where the reference has NaN (and only
// there), the same infinities, and nmse over the finite elements below max_nmse. Other dtypes: bit-exact.
// `strict_dtype` false lets a reduced-precision run return another float dtype.
Verdict compare_outputs(const Tensor& want, const Tensor& got, double max_nmse, bool strict_dtype = true) {
    Verdict v;
    auto fail = [&](std::string why) {
        v.ok = false;
        v.why = std::move(why);
        return v;
    };
    if (!got.defined()) return fail("output tensor is undefined");
    if (got.shape() != want.shape())
        return fail("shape " + shape_str(got.shape()) + ", want " + shape_str(want.shape()));
    if (got.dtype() != want.dtype() && (strict_dtype || !is_float(want.dtype()) || !is_float(got.dtype())))
        return fail(std::string("dtype ") + dtype_name(got.dtype()) + ", want " + dtype_name(want.dtype()));
    if (!is_float(want.dtype())) {
        if (std::memcmp(want.raw(), got.raw(), want.nbytes()) != 0) {
            const auto a = want.to_i64_vector(), b = got.to_i64_vector();
            for (size_t i = 0; i < a.size(); ++i)
                if (a[i] != b[i])
                    return fail("element " + std::to_string(i) + " is " + std::to_string(b[i]) + ", want " +
                                std::to_string(a[i]));
            return fail("bytes differ");
        }
        return v;
    }
    const Tensor a = want.cast(DType::kF64), b = got.cast(DType::kF64);
    double err = 0, norm = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
        const double x = a.data<double>()[i], y = b.data<double>()[i];
        if (std::isnan(x) != std::isnan(y))
            return fail("NaN parity at element " + std::to_string(i) + ": got " + std::to_string(y) + ", want " +
                        std::to_string(x));
        if (std::isnan(x)) continue;
        if (std::isinf(x) || std::isinf(y)) {
            if (x != y)
                return fail("Inf parity at element " + std::to_string(i) + ": got " + std::to_string(y) + ", want " +
                            std::to_string(x));
            continue;
        }
        err += (x - y) * (x - y);
        norm += x * x;
    }
    v.nmse = norm > 0 ? err / norm : err;
    if (!(v.nmse <= max_nmse)) return fail("nmse " + std::to_string(v.nmse) + " > " + std::to_string(max_nmse));
    return v;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
    return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters

struct Param {
    size_t case_index = 0;
    std::string backend;  // "" when this build has no backend besides ref
    Precision precision = Precision::kF32;
};

std::vector<std::string> tested_backends() {
    std::vector<std::string> v;
    for (const auto& b : backend_names())
        if (b != "ref") v.push_back(b);
    return v;
}

// fp32 on every backend; bf16 (cases marked bf16) on cpu; fp16 (every case) on cuda.
std::vector<Param> make_params(Precision precision) {
    std::vector<Param> out;
    auto backends = tested_backends();
    const auto& cases = test::backend_op_cases();
    for (size_t i = 0; i < cases.size(); ++i) {
        if (precision == Precision::kBF16 && !cases[i].bf16) continue;
        if (backends.empty()) {
            if (precision != Precision::kF16) out.push_back({i, "", precision});
            continue;
        }
        for (const auto& b : backends) {
            if (precision == Precision::kBF16 && b != "cpu") continue;
            if (precision == Precision::kF16 && b != "cuda") continue;
            out.push_back({i, b, precision});
        }
    }
    return out;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
    const auto& c = test::backend_op_cases()[info.param.case_index];
    const Precision pr = info.param.precision;
    return c.name + (pr == Precision::kBF16 ? "_bf16" : pr == Precision::kF16 ? "_fp16" : "") + "_" +
           (info.param.backend.empty() ? std::string("nobackend") : info.param.backend);
}

void PrintTo(const Param& p, std::ostream* os) {
    *os << test::backend_op_cases()[p.case_index].name << " on " << (p.backend.empty() ? "-" : p.backend) << " at "
        << precision_name(p.precision);
}

class BackendOps : public ::testing::TestWithParam<Param> {};

TEST_P(BackendOps, Run) {
    const Param& p = GetParam();
    if (p.backend.empty()) GTEST_SKIP() << "this build has no backend besides ref";
    const test::OpCase& c = test::backend_op_cases()[p.case_index];
    const Graph g = test::build_case(c);
    ASSERT_FALSE(HasFailure()) << "building the case graph failed";

    auto backend = backend_create(p.backend);
    if (!backend.is_ok() && backend.status().code() == StatusCode::kUnavailable)
        GTEST_SKIP() << backend.status().to_string();  // a GPU backend built here, but no GPU
    ASSERT_TRUE(backend.is_ok()) << backend.status().to_string();
    // The ops YOLO11 needs must run on the optimized backends (cpu and cuda).
    const bool required = c.yolo && (p.backend == "cpu" || p.backend == "cuda");
    for (const auto& n : g.nodes) {
        Status st = (*backend)->supports(g, n);
        if (st.is_ok()) continue;
        if (required) FAIL() << "backend " << p.backend << " must support " << n.op << ": " << st.to_string();
        GTEST_SKIP() << "not supported by " << p.backend << ": " << st.to_string();
    }
    BackendOptions opt;
    opt.precision = p.precision;
    auto compiled = (*backend)->compile(g, opt);
    if (!compiled.is_ok()) {
        const Status& st = compiled.status();
        if (st.code() == StatusCode::kUnsupported) {
            if (p.precision != Precision::kF32) GTEST_SKIP() << precision_name(p.precision) << ": " << st.to_string();
            if (required) FAIL() << "backend " << p.backend << " must compile this YOLO op case: " << st.to_string();
            GTEST_SKIP() << "not supported by " << p.backend << ": " << st.to_string();
        }
        FAIL() << "compile failed: " << st.to_string();
    }
    // Per-precision tolerance: fp32 the case's own; bf16 and fp16 (8 and 11 significant bits) 1e-4.
    const double max_nmse = p.precision == Precision::kF32 ? c.max_nmse : 1e-4;
    const bool strict_dtype = p.precision == Precision::kF32;

    const auto in1 = test::case_inputs(g, c, 1), in2 = test::case_inputs(g, c, 2);
    std::vector<Tensor> in1_copy;
    for (const auto& t : in1) in1_copy.push_back(t.clone());
    const auto want1 = test::run_ref(g, in1), want2 = test::run_ref(g, in2);
    ASSERT_EQ(want1.size(), g.outputs.size());

    auto run = [&](const std::vector<Tensor>& in, std::vector<Tensor>& out) {
        std::vector<Tensor> views;
        Status st = (*compiled)->run(in, views);
        ASSERT_TRUE(st.is_ok()) << "run failed: " << st.to_string();
        ASSERT_EQ(views.size(), g.outputs.size()) << "wrong number of outputs";
        out.clear();
        for (const auto& t : views) out.push_back(t.defined() ? t.clone() : t);  // views die on the next run
    };
    auto check = [&](const std::vector<Tensor>& want, const std::vector<Tensor>& got, const char* what) {
        for (size_t i = 0; i < want.size(); ++i) {
            const Verdict v = compare_outputs(want[i], got[i], max_nmse, strict_dtype);
            EXPECT_TRUE(v.ok) << what << ", output " << i << " '" << g.outputs[i] << "': " << v.why;
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.3g", v.nmse);
            if (v.ok) RecordProperty(std::string("nmse_") + std::to_string(i), buf);
        }
    };
    std::vector<Tensor> got1, got2, got3;
    ASSERT_NO_FATAL_FAILURE(run(in1, got1));
    check(want1, got1, "input 1");
    for (size_t i = 0; i < in1.size(); ++i)
        EXPECT_TRUE(bit_identical(in1[i], in1_copy[i])) << "the backend wrote into input " << i;
    ASSERT_NO_FATAL_FAILURE(run(in2, got2));
    check(want2, got2, "input 2");
    // Same input again after another one: bit-identical results (no stale state, no uninitialised reads).
    ASSERT_NO_FATAL_FAILURE(run(in1, got3));
    for (size_t i = 0; i < got1.size(); ++i)
        EXPECT_TRUE(bit_identical(got1[i], got3[i])) << "output " << i << " differs between two runs of one input";
}

INSTANTIATE_TEST_SUITE_P(Ops, BackendOps, ::testing::ValuesIn(make_params(Precision::kF32)), param_name);
INSTANTIATE_TEST_SUITE_P(Bf16, BackendOps, ::testing::ValuesIn(make_params(Precision::kBF16)), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendOps);
INSTANTIATE_TEST_SUITE_P(Fp16, BackendOps, ::testing::ValuesIn(make_params(Precision::kF16)), param_name);

// ---------------------------------------------------------------------------------------------------------------
// The harness itself

TEST(BackendOpsHarness, CompareCatchesErrors) {
    const Tensor a = Tensor::from_f32({1.f, -2.f, 3.f, 0.5f}, {2, 2});
    EXPECT_TRUE(compare_outputs(a, a.clone(), 0).ok);
    Tensor b = a.clone();
    b.data<float>()[2] += 1e-3f;  // nmse = 1e-6 / 14.25
    EXPECT_TRUE(compare_outputs(a, b, 1e-7).ok);
    b.data<float>()[2] += 1e-2f;
    EXPECT_FALSE(compare_outputs(a, b, 1e-7).ok);
    EXPECT_FALSE(compare_outputs(a, a.reshaped({4}), 1).ok);
    EXPECT_FALSE(compare_outputs(a, a.cast(DType::kF64), 1).ok);
    EXPECT_TRUE(compare_outputs(a, a.cast(DType::kF64), 1e-12, /*strict_dtype=*/false).ok);

    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const Tensor s = Tensor::from_f32({nan, inf, -inf, 1.f}, {4});
    EXPECT_TRUE(compare_outputs(s, s.clone(), 0).ok);
    EXPECT_FALSE(compare_outputs(s, Tensor::from_f32({0.f, inf, -inf, 1.f}, {4}), 1).ok);    // NaN lost
    EXPECT_FALSE(compare_outputs(s, Tensor::from_f32({nan, inf, -inf, nan}, {4}), 1).ok);    // NaN invented
    EXPECT_FALSE(compare_outputs(s, Tensor::from_f32({nan, -inf, -inf, 1.f}, {4}), 1).ok);   // Inf sign
    EXPECT_FALSE(compare_outputs(s, Tensor::from_f32({nan, 1e30f, -inf, 1.f}, {4}), 1).ok);  // Inf lost

    const Tensor i = Tensor::from_i64({1, 2, 3}, {3});
    EXPECT_TRUE(compare_outputs(i, i.clone(), 0).ok);
    EXPECT_FALSE(compare_outputs(i, Tensor::from_i64({1, 2, 4}, {3}), 1).ok);
}

TEST(BackendOpsHarness, EveryOpHasACase) {
    std::set<std::string> covered;
    for (const auto& c : test::backend_op_cases()) {
        const Graph g = test::build_case(c);
        for (const auto& n : g.nodes) covered.insert(n.op);
    }
    for (const auto& op : op_names()) EXPECT_TRUE(covered.count(op)) << "op " << op << " has no backend-ops case";
}

TEST(BackendOpsHarness, CaseNamesAreUniqueAndEveryCaseRunsOnRef) {
    // Every case builds, runs on the reference backend through the Backend interface exactly like ref_execute,
    // and (for cases with NaN/Inf inputs) really produces non-finite outputs.
    std::set<std::string> names;
    auto ref = backend_create("ref");
    ASSERT_TRUE(ref.is_ok());
    for (const auto& c : test::backend_op_cases()) {
        SCOPED_TRACE(c.name);
        EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name";
        EXPECT_EQ(c.name.rfind("Op_", 0), 0u);
        const Graph g = test::build_case(c);
        auto compiled = (*ref)->compile(g, BackendOptions{});
        ASSERT_TRUE(compiled.is_ok()) << compiled.status().to_string();
        const auto in = test::case_inputs(g, c, 1);
        std::vector<Tensor> got;
        Status st = (*compiled)->run(in, got);
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        const auto want = test::run_ref(g, in);
        ASSERT_EQ(got.size(), want.size());
        bool non_finite = false;
        for (size_t i = 0; i < got.size(); ++i) {
            EXPECT_TRUE(bit_identical(got[i], want[i]));
            if (is_float(want[i].dtype())) {
                const Tensor f = want[i].cast(DType::kF32);
                for (int64_t k = 0; k < f.numel(); ++k) non_finite |= !std::isfinite(f.data<float>()[k]);
            }
        }
        const bool special = c.dist == test::Dist::kSpecial || c.dist == test::Dist::kNaN || c.dist == test::Dist::kInf;
        if (special) {
            EXPECT_TRUE(non_finite) << "a NaN/Inf case whose outputs are all finite tests nothing";
        }
    }
}

}  // namespace
}  // namespace itscam
