#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>

#include "backend/backend.h"
#include "graph/graph.h"
#include "passes/passes.h"
#include "pipeline/circuit_breaker.h"
#include "pipeline/fault_injection.h"

namespace itscam::pipeline {
namespace {

// y = Relu(x + b), x: [1, 3, 4, 4].
Graph tiny_graph() {
    Graph g;
    g.name = "tiny";
    g.opset = 17;
    g.inputs = {"x"};
    g.values["x"] = ValueInfo{DType::kF32, {1, 3, 4, 4}};
    Tensor b = Tensor::from_f32({0.5f, -0.25f, 1.f}, {1, 3, 1, 1});
    g.values["b"] = ValueInfo{DType::kF32, b.shape()};
    g.constants["b"] = b;
    Node add;
    add.op = "Add";
    add.name = "add";
    add.inputs = {"x", "b"};
    add.outputs = {"s"};
    Node relu;
    relu.op = "Relu";
    relu.name = "relu";
    relu.inputs = {"s"};
    relu.outputs = {"y"};
    g.nodes = {add, relu};
    g.outputs = {"y"};
    Status st = infer_shapes(g);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    st = g.verify();
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return g;
}

std::vector<Tensor> tiny_inputs(uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    Tensor x = Tensor::empty(DType::kF32, {1, 3, 4, 4});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    return {x};
}

std::unique_ptr<CompiledGraph> compile_ref(const Graph& g, std::shared_ptr<FaultController> faults,
                                           std::string* name = nullptr) {
    auto ref = backend_create("ref");
    EXPECT_TRUE(ref.is_ok()) << ref.status().to_string();
    if (!ref.is_ok()) return nullptr;
    auto wrapped = make_fault_injecting_backend(std::move(*ref), std::move(faults));
    if (name) *name = wrapped->name();
    for (const auto& n : g.nodes) EXPECT_TRUE(wrapped->supports(g, n).is_ok()) << n.op;
    auto compiled = wrapped->compile(g, BackendOptions{});
    EXPECT_TRUE(compiled.is_ok()) << compiled.status().to_string();
    return compiled.is_ok() ? std::move(*compiled) : nullptr;
}

TEST(FaultInjection, ZeroRatesMatchTheUnwrappedBackend) {
    const Graph g = tiny_graph();
    auto faults = std::make_shared<FaultController>();
    std::string name;
    auto wrapped = compile_ref(g, faults, &name);
    ASSERT_TRUE(wrapped);
    EXPECT_EQ(name, "ref+faults");
    auto ref = backend_create("ref");
    ASSERT_TRUE(ref.is_ok());
    auto plain = (*ref)->compile(g, BackendOptions{});
    ASSERT_TRUE(plain.is_ok());
    EXPECT_EQ(wrapped->describe(), (*plain)->describe());
    EXPECT_EQ(wrapped->memory_bytes(), (*plain)->memory_bytes());

    for (uint32_t seed = 1; seed <= 20; ++seed) {
        const auto in = tiny_inputs(seed);
        std::vector<Tensor> a, b;
        ASSERT_TRUE(wrapped->run(in, a).is_ok());
        ASSERT_TRUE((*plain)->run(in, b).is_ok());
        ASSERT_EQ(a.size(), 1u);
        ASSERT_EQ(b.size(), 1u);
        ASSERT_EQ(a[0].shape(), b[0].shape());
        ASSERT_EQ(a[0].nbytes(), b[0].nbytes());
        EXPECT_EQ(std::memcmp(a[0].raw(), b[0].raw(), a[0].nbytes()), 0) << "seed " << seed;
        // And the values are really Relu(x + b).
        EXPECT_EQ(a[0].data<float>()[0], std::max(0.f, in[0].data<float>()[0] + 0.5f));
    }
    EXPECT_EQ(faults->calls(), 20);
    EXPECT_EQ(faults->injected(), 0);
}

TEST(FaultInjection, FailNextOomThenOk) {
    const Graph g = tiny_graph();
    auto faults = std::make_shared<FaultController>();
    auto cg = compile_ref(g, faults);
    ASSERT_TRUE(cg);
    faults->fail_next(3, StatusCode::kOutOfMemory);
    const auto in = tiny_inputs(7);
    for (int i = 0; i < 3; ++i) {
        std::vector<Tensor> out;
        Status st = cg->run(in, out);
        ASSERT_EQ(st.code(), StatusCode::kOutOfMemory) << i << ": " << st.to_string();
        EXPECT_TRUE(out.empty()) << "the inner graph must not run";
        EXPECT_NE(st.message().find("injected fault: CUDA out of memory (tried to allocate"), std::string::npos)
            << st.message();
        EXPECT_EQ(classify_device_error(st), DeviceErrorClass::kOutOfMemory);
    }
    for (int i = 0; i < 5; ++i) {
        std::vector<Tensor> out;
        Status st = cg->run(in, out);
        EXPECT_TRUE(st.is_ok()) << st.to_string();
        EXPECT_EQ(out.size(), 1u);
    }
    EXPECT_EQ(faults->injected(), 3);
    EXPECT_EQ(faults->calls(), 8);
}

TEST(FaultInjection, FailNextTransientAndUntilReset) {
    FaultController fc;
    fc.fail_next(2, StatusCode::kDevice);
    for (int i = 0; i < 2; ++i) {
        Status st = fc.next_call();
        EXPECT_EQ(st.code(), StatusCode::kDevice);
        EXPECT_EQ(st.message(), "injected fault: CUDA error 999 (unspecified launch failure)");
        EXPECT_EQ(classify_device_error(st), DeviceErrorClass::kTransient);
    }
    EXPECT_TRUE(fc.next_call().is_ok());
    fc.fail_next(-1, StatusCode::kDevice);
    for (int i = 0; i < 50; ++i) EXPECT_FALSE(fc.next_call().is_ok());
    fc.heal();
    EXPECT_TRUE(fc.next_call().is_ok());
}

TEST(FaultInjection, StickyPersistsUntilHeal) {
    const Graph g = tiny_graph();
    auto faults = std::make_shared<FaultController>();
    auto cg = compile_ref(g, faults);
    ASSERT_TRUE(cg);
    const auto in = tiny_inputs(3);
    faults->fail_next(1, StatusCode::kDeviceLost);
    for (int i = 0; i < 10; ++i) {
        std::vector<Tensor> out;
        Status st = cg->run(in, out);
        ASSERT_EQ(st.code(), StatusCode::kDeviceLost) << i;
        EXPECT_EQ(st.message(), "injected fault: CUDA error 700 (an illegal memory access was encountered)");
        EXPECT_EQ(classify_device_error(st), DeviceErrorClass::kSticky);
    }
    faults->heal();
    std::vector<Tensor> out;
    EXPECT_TRUE(cg->run(in, out).is_ok());

    // A sticky hit from the rate behaves the same.
    FaultSpec spec;
    spec.sticky_rate = 1.0;
    faults->set(spec);
    EXPECT_EQ(faults->next_call().code(), StatusCode::kDeviceLost);
    spec.sticky_rate = 0;
    faults->set(spec);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(faults->next_call().code(), StatusCode::kDeviceLost);
    faults->heal();
    EXPECT_TRUE(faults->next_call().is_ok());
}

TEST(FaultInjection, RateIsAProbabilityPerCall) {
    for (uint64_t seed : {1ull, 42ull, 12345ull}) {
        FaultSpec spec;
        spec.transient_rate = 0.3;
        spec.seed = seed;
        FaultController fc(spec);
        int failed = 0;
        for (int i = 0; i < 2000; ++i) {
            Status st = fc.next_call();
            if (!st.is_ok()) {
                ++failed;
                EXPECT_EQ(st.code(), StatusCode::kDevice);
            }
        }
        EXPECT_NEAR(failed / 2000.0, 0.3, 0.05) << "seed " << seed;
        EXPECT_EQ(fc.injected(), failed);
        EXPECT_EQ(fc.calls(), 2000);
    }
}

TEST(FaultInjection, MixedRatesAndDeterminism) {
    FaultSpec spec;
    spec.transient_rate = 0.2;
    spec.oom_rate = 0.1;
    spec.seed = 9;
    auto run = [&] {
        FaultController fc(spec);
        std::vector<StatusCode> v;
        for (int i = 0; i < 3000; ++i) v.push_back(fc.next_call().code());
        return v;
    };
    const auto a = run(), b = run();
    EXPECT_EQ(a, b) << "same seed, same outcomes";
    int dev = 0, oom = 0;
    for (StatusCode c : a) {
        dev += c == StatusCode::kDevice;
        oom += c == StatusCode::kOutOfMemory;
    }
    EXPECT_NEAR(dev / 3000.0, 0.2, 0.04);
    EXPECT_NEAR(oom / 3000.0, 0.1, 0.03);
}

TEST(FaultInjection, HealClearsRatesButSetRestores) {
    FaultSpec spec;
    spec.transient_rate = 1.0;
    spec.extra_latency_ms = 3;
    FaultController fc(spec);
    EXPECT_FALSE(fc.next_call().is_ok());
    fc.heal();
    EXPECT_TRUE(fc.next_call().is_ok());
    EXPECT_EQ(fc.get().transient_rate, 0.0);
    EXPECT_EQ(fc.get().extra_latency_ms, 3.0);
    fc.set(spec);
    EXPECT_FALSE(fc.next_call().is_ok());
}

TEST(FaultInjection, DrivesTheCircuitBreaker) {
    auto faults = std::make_shared<FaultController>();
    const Graph g = tiny_graph();
    auto cg = compile_ref(g, faults);
    ASSERT_TRUE(cg);
    CircuitBreakerOptions o;
    o.oom_threshold = 3;
    CircuitBreaker cb(o);
    faults->fail_next(3, StatusCode::kOutOfMemory);
    const auto in = tiny_inputs(1);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(cb.allow());
        std::vector<Tensor> out;
        cb.record(cg->run(in, out));
    }
    EXPECT_EQ(cb.state(), CircuitState::kOpen);
}

TEST(FaultInjection, ExtraLatencyAddsTime) {
    const Graph g = tiny_graph();
    FaultSpec spec;
    spec.extra_latency_ms = 20;
    auto faults = std::make_shared<FaultController>(spec);
    auto cg = compile_ref(g, faults);
    ASSERT_TRUE(cg);
    const auto in = tiny_inputs(5);
    std::vector<Tensor> out;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(cg->run(in, out).is_ok());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GE(ms, 60.0);

    // Failed calls do not sleep (they return before running the graph).
    faults->fail_next(1, StatusCode::kDevice);
    EXPECT_FALSE(cg->run(in, out).is_ok());
}

TEST(FaultInjection, WrapsACompiledGraphDirectly) {
    const Graph g = tiny_graph();
    auto ref = backend_create("ref");
    ASSERT_TRUE(ref.is_ok());
    auto plain = (*ref)->compile(g, BackendOptions{});
    ASSERT_TRUE(plain.is_ok());
    auto faults = std::make_shared<FaultController>();
    auto cg = make_fault_injecting_graph(std::move(*plain), faults);
    faults->fail_next(1, StatusCode::kDevice);
    std::vector<Tensor> out;
    EXPECT_EQ(cg->run(tiny_inputs(2), out).code(), StatusCode::kDevice);
    EXPECT_TRUE(cg->run(tiny_inputs(2), out).is_ok());
    EXPECT_EQ(out.size(), 1u);
}

}  // namespace
}  // namespace itscam::pipeline
