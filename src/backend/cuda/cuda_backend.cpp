// The CUDA backend: cuDNN convolutions, cuBLAS matrix products and our own kernels (backend/cuda/kernels), run as
// one CUDA Graph per compiled batch size.
//
// Layout. Convolutions, pooling, nearest Resize and channel Concat/Split run on NHWC ("channels last") activations,
// which cuDNN's tensor-core convolutions read and write directly; the detection head and the attention block's
// Reshape/Transpose/Softmax/MatMul run on plain row-major tensors, except where the PSA attention block runs as one
// kernel from and to NHWC views (ops/attention_fused.h, fp16). Each op's rule (ops/*.cpp, listed in
// ops/registry.h) states the layout it produces; a value crosses layouts through one conversion kernel, placed at
// its first consumer that needs the other layout (lowering_context.cpp).
//
// Zero-copy Concat/Split: ops/data_movement.cpp. Convolutions: ops/conv.cpp (cuDNN + our epilogue, or one fused
// cuDNN graph), ops/conv_latency.cpp (depthwise and stem kernels); the algorithm per layer is autotuned at compile
// time or taken from a plan's tuning (autotune.cpp).
//
// Memory. One arena per compiled graph: every activation buffer gets an offset by a first-fit plan over buffer
// lifetimes (step indices), so buffers whose lifetimes do not overlap share memory. Weights, the fp32 graph input
// and outputs, pinned host staging and the cuDNN/cuBLAS workspaces are allocated once at compile time; run()
// allocates nothing (lowering_context.cpp's allocate(), autotune.cpp for the convolution workspace).
//
// Execution: executor.cpp (CUDA Graph capture and replay, ITSCAM_CUDA_GRAPHS, ITSCAM_PROFILE).
//
// This file: the Backend, and the order of a compile.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "backend/backend.h"
#include "backend/cuda/autotune.h"
#include "backend/cuda/executor.h"
#include "backend/cuda/lowering_context.h"
#include "backend/cuda/ops/attention_fused.h"
#include "backend/cuda/ops/data_movement.h"
#include "backend/cuda/ops/head.h"
#include "backend/cuda/ops/pool_resize.h"
#include "device/cuda/csl_dnn.h"
#include "device/cuda/cuda_device.h"

namespace itscam {

namespace {

using cuda::CudaLowering;

// Whether the latency kernels (lowering_context.h) are on, and whether the compile times both ways:
// - ITSCAM_CUDA_LATENCY_KERNELS=on|1 forces them on, any other value but auto (off, 0) off (A/B timing, profiles);
// - a plan's tuning text says what its build measured ("latency_kernels on|off", tuning_text());
// - a plan build that autotunes (itscam optimize --target-performance fast: BackendOptions::tune_alternatives)
//   builds the graph both ways, times the replays, and keeps the faster (measure_both);
// - a plan tuned before that line existed: the rule it was built by (on for batch 1 only);
// - otherwise (no tuning: a portable plan, `balanced`) on at every batch size. Until 2026-12-06 this rule had them on
//   for batch 1 only: the stem kernel then took 2.13 ms at batch 64 on the H200 and made the graph lose. With the
//   stem kernel rewritten they won at every batch size measured (H100, docs/cuda.md: 0.473 against 0.709 ms at
//   batch 1, 4.176 against 6.747 ms at batch 64). A graph that does not compile with them on (no checked fused
//   engine takes some strided input) is compiled without them, with a line on stderr.
struct LatencyChoice {
    cuda::LatencyTuning use;  // on or off; a plan's measurement, kept in the tuning text it reports back
    bool measure_both = false;
    bool by_rule = false;  // neither forced nor from a plan: "off" may replace a failed "on"
};

LatencyChoice latency_choice(const Graph& g, const BackendOptions& opt) {
    const char* lk = std::getenv("ITSCAM_CUDA_LATENCY_KERNELS");
    const std::string v = lk ? lk : "auto";
    if (v != "auto" && !v.empty()) return {{v == "on" || v == "1"}, false, false};
    if (auto planned = cuda::tuned_latency_kernels(opt.tuning)) return {*planned, false, false};
    // A plan tuned before its tuning recorded the choice was built by the old rule; its entries match only that.
    if (!opt.tuning.empty()) return {{cuda::graph_batch(g) == 1}, false, false};
    return {{true}, opt.autotune && opt.tune_alternatives, true};
}

// fp16 and fp32. int8 and fp8 are refused before their calibration (Engine asks supports_precision first); fp8's
// fused convolution exists (cudnn_fused.h) but no lowering uses it: cuDNN's FP8 engines measured 1.06x fp16 on
// YOLO11n's layers (docs/cuda.md "FP8 convolutions").
Status check_precision(Precision p) {
    if (p == Precision::kF16 || p == Precision::kF32) return Status::ok();
    return unsupported(std::string("precision ") + precision_name(p) + " on the CUDA backend (use fp16 or fp32)");
}

// A compile up to the executor: handles and stream, layouts and Concat placements, the lowering of the graph's
// inputs, nodes (each by its registered rule) and outputs, the fused head's plan, the arena, autotuning, and the
// fused head's verification. The order fixes the step list and so the arena plan and the tuning text.
Status lower_graph(CudaLowering& cx, bool latency_kernels) {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(cx.device));
    ITSCAM_RETURN_IF_ERROR(check_precision(cx.options.precision));
    if (cx.options.precision == Precision::kF16) cx.act = DType::kF16;
    cx.es = dtype_size(cx.act);
    {
        cudnnHandle_t h = nullptr;
        ITSCAM_CUDNN_CHECK(cudnnCreate(&h));
        cx.cudnn = csl::Cudnn(h);
        cublasHandle_t b = nullptr;
        ITSCAM_CUBLAS_CHECK(cublasCreate(&b));
        cx.cublas = csl::Cublas(b);
    }
    ITSCAM_ASSIGN_OR_RETURN(cx.stream, csl::stream_acquire(cx.device));
    ITSCAM_CUDNN_CHECK(cudnnSetStream(cx.cudnn.get(), cx.stream.get()));
    ITSCAM_CUBLAS_CHECK(cublasSetStream(cx.cublas.get(), cx.stream.get()));
    cx.latency_kernels = latency_kernels;

    auto t = std::chrono::steady_clock::now();
    auto lap = [&t](double& into) {
        const auto now = std::chrono::steady_clock::now();
        into += std::chrono::duration<double>(now - t).count();
        t = now;
    };
    auto& times = cx.compile_times;
    ITSCAM_RETURN_IF_ERROR(cx.plan_layouts());
    cuda::plan_concat_placements(cx);
    ITSCAM_RETURN_IF_ERROR(cuda::plan_fused_attention(cx));
    ITSCAM_RETURN_IF_ERROR(cuda::plan_maxpool_chains(cx));
    ITSCAM_RETURN_IF_ERROR(cx.lower_inputs());
    for (const Node& n : cx.graph.nodes) {
        bool fused = false;
        ITSCAM_RETURN_IF_ERROR(cx.lower_fused(n, fused).with_context(n.label()));
        if (fused) continue;
        const cuda::CudaRule* rule = cx.rules[n.name];
        Status st = rule ? rule->lower(cx, n) : unsupported(n.label());
        ITSCAM_RETURN_IF_ERROR(st.is_ok() ? st : st.with_context(n.label()));
    }
    ITSCAM_RETURN_IF_ERROR(cx.lower_outputs());
    ITSCAM_RETURN_IF_ERROR(cuda::plan_detect_head(cx));
    lap(times.lower);
    ITSCAM_RETURN_IF_ERROR(cx.allocate());
    lap(times.allocate);
    ITSCAM_RETURN_IF_ERROR(cuda::autotune_convolutions(cx));
    lap(times.autotune);
    ITSCAM_RETURN_IF_ERROR(cuda::verify_detect_head(cx));
    lap(times.verify);
    return Status::ok();
}

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(int device, std::string key) : device_(device), key_(std::move(key)) {}
    std::string name() const override { return "cuda"; }
    Status supports_precision(Precision p) const override { return check_precision(p); }
    std::string target_key() const override { return key_; }
    Status supports(const Graph& g, const Node& n) const override {
        CudaLowering probe(g, BackendOptions{}, device_);
        if (!probe.classify(n)) return unsupported(n.label() + " has no CUDA implementation");
        return Status::ok();
    }
    Result<std::unique_ptr<CompiledGraph>> compile(const Graph& g, const BackendOptions& opt) const override {
        const LatencyChoice choice = latency_choice(g, opt);
        bool on = choice.use.on;
        auto compiled = compile_variant(g, opt, on);
        if (!compiled.is_ok() && on && choice.by_rule) {
            // A graph the backend cannot run at all fails the same way without them: report the first error then.
            auto without = compile_variant(g, opt, false);
            if (without.is_ok()) {
                std::fprintf(stderr, "cuda: batch %lld: the graph does not compile with the latency kernels (%s); "
                                     "compiled without them\n",
                             static_cast<long long>(cuda::graph_batch(g)), compiled.status().to_string().c_str());
                if (choice.measure_both)  // nothing to measure against
                    return std::unique_ptr<CompiledGraph>(std::move(without).value());
                on = false;
                compiled = std::move(without);
            }
        }
        ITSCAM_ASSIGN_OR_RETURN(auto first, std::move(compiled));
        if (!choice.measure_both) {
            if (choice.use.on_ms > 0) first->set_latency_measurement(choice.use.on_ms, choice.use.off_ms);
            return std::unique_ptr<CompiledGraph>(std::move(first));
        }
        ITSCAM_ASSIGN_OR_RETURN(auto second, compile_variant(g, opt, !on));
        // Replays of each, alternated twice so a clock or neighbour change hits both alike; the lower median wins.
        double t_first = std::numeric_limits<double>::infinity(), t_second = t_first;
        for (int round = 0; round < 2; ++round) {
            ITSCAM_ASSIGN_OR_RETURN(double a, median_replay_ms(*first));
            ITSCAM_ASSIGN_OR_RETURN(double b, median_replay_ms(*second));
            t_first = std::min(t_first, a);
            t_second = std::min(t_second, b);
        }
        const bool keep_first = t_first <= t_second;
        auto& kept = keep_first ? first : second;
        const double t_on = on ? t_first : t_second, t_off = on ? t_second : t_first;
        kept->set_latency_measurement(t_on, t_off);
        (keep_first ? second : first).reset();  // its arena and workspaces go back now
        return std::unique_ptr<CompiledGraph>(std::move(kept));
    }

private:
    Result<std::unique_ptr<cuda::CudaExecutor>> compile_variant(const Graph& g, const BackendOptions& opt,
                                                                bool latency_kernels) const {
        auto cx = std::make_unique<CudaLowering>(g, opt, device_);
        ITSCAM_RETURN_IF_ERROR(lower_graph(*cx, latency_kernels));
        auto c = std::make_unique<cuda::CudaExecutor>(std::move(cx));
        ITSCAM_RETURN_IF_ERROR(c->capture());
        return c;
    }

    // The median GPU time of one replay of the captured graph (events around back-to-back replays).
    static Result<double> median_replay_ms(cuda::CudaExecutor& c) {
        ITSCAM_ASSIGN_OR_RETURN(std::vector<double> t, c.device_times(15));
        if (t.empty()) return internal_error("no replay was timed");
        std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
        return t[t.size() / 2];
    }

    int device_;
    std::string key_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_cuda_backend(int device_id) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return unavailable(std::string("no CUDA device is available (cudaGetDeviceCount: ") +
                           (e == cudaSuccess ? "0 devices" : cudaGetErrorString(e)) + ")");
    if (device_id < 0 || device_id >= count)
        return invalid_argument("device cuda:" + std::to_string(device_id) + " does not exist (" +
                                std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") + ")");
    cudaDeviceProp prop{};
    ITSCAM_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_id));
    int rt = 0;
    cudaRuntimeGetVersion(&rt);
    std::ostringstream key;
    key << "cuda|" << prop.name << "|sm_" << prop.major << prop.minor << "|cudnn " << cudnnGetVersion() << "|cudart "
        << rt;
    return std::unique_ptr<Backend>(std::make_unique<CudaBackend>(device_id, key.str()));
}

}  // namespace itscam
