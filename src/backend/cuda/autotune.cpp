// Autotuning of the convolutions (ops/conv.cpp's ConvLayers), after allocate() so it times the real buffers:
//  - the legacy path: the plan's algorithm, else the fastest measured one (cudnnFindConvolutionForwardAlgorithmEx),
//    else cuDNN's heuristic choice, under the workspace cap;
//  - the fused cuDNN graph alternative: the plan's engine, or each finalizable engine (up to 4) timed against the
//    legacy convolution + epilogue, keeping the fastest; an engine whose output differs from the legacy path's (or a
//    direct reference convolution's, where only the fused path takes the input) on the layer is never kept
//    (fused_check.h), and a plan naming one is refused;
//  - our implicit-GEMM kernels (ck::igemm_conv_nhwc's variants) where they take the layer: the plan's word, or each
//    variant timed against the choice above after the same kind of output check, keeping the fastest;
//  - then one convolution workspace sized for the largest choice, reserved against the device's memory budget.
// And the tuning text a plan stores ("<node> algo=<n>", "<node> fused=<engine>" or both per convolution, then
// " igemm" or " igemm=<variant>" where one of our kernels runs it), read back here.
#include "backend/cuda/autotune.h"

#include <cudnn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "backend/cuda/fused_check.h"

namespace itscam::cuda {

namespace {

constexpr std::string_view kLatencyKey = "latency_kernels";

// A plan's tuning text, per convolution node: its cuDNN algorithm, its fused engine, or both ("<node> algo=<n>
// fused=<p>": a fused convolution keeps its legacy algorithm, the reference its fused engines are checked against at
// load). Plans written before that hold "fused=<p>" alone; autotune_convolutions() then picks the legacy algorithm
// by cuDNN's heuristic.
// A trailing " igemm" puts the convolution on our implicit-GEMM kernel's variant 0, " igemm=<v>" on variant v
// (kernels_impl.h: the numbers are part of the plan format); its algo= is then the reference at load, as for a fused
// one.
struct PlannedTuning {
    std::map<std::string, cudnnConvolutionFwdAlgo_t> algo;
    std::map<std::string, int> fused;
    std::map<std::string, int> igemm;  // node -> variant
};

constexpr std::string_view kIgemmToken = " igemm";

PlannedTuning parse_tuning(const std::string& tuning) {
    PlannedTuning t;
    if (!tuning.empty()) {
        std::istringstream is(tuning);
        std::string line;
        while (std::getline(is, line)) {
            const size_t eq = line.rfind(" algo="), fu = line.rfind(" fused=");
            // " igemm" at the end, or " igemm=<digits>"; anything else after it leaves the line without one.
            size_t ig = line.rfind(kIgemmToken);
            int variant = 0;
            if (ig != std::string::npos) {
                const std::string rest = line.substr(ig + kIgemmToken.size());
                const bool digits = rest.size() > 1 && rest.size() < 4 && rest[0] == '=' &&
                                    rest.find_first_not_of("0123456789", 1) == std::string::npos;
                if (digits)
                    variant = std::atoi(rest.c_str() + 1);
                else if (!rest.empty())
                    ig = std::string::npos;
            }
            const bool igemm = ig != std::string::npos;
            const size_t name_end = std::min({eq, fu, ig});
            if (name_end == std::string::npos) continue;
            const std::string node = line.substr(0, name_end);
            if (igemm) t.igemm[node] = variant;
            if (eq != std::string::npos)
                t.algo[node] = static_cast<cudnnConvolutionFwdAlgo_t>(std::atoi(line.c_str() + eq + 6));
            if (fu != std::string::npos) t.fused[node] = std::atoi(line.c_str() + fu + 7);
        }
    }
    return t;
}

// cuDNN's heuristic choice (no timing) of a legacy algorithm that fits the workspace limit.
Status heuristic_algo(CudaLowering& cx, ConvLayer& L) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    ITSCAM_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cx.cudnn.get(), L.xd.get(), L.wd.get(), L.cd.get(),
                                                              L.yd.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
                                                              perf));
    for (int i = 0; i < returned; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxConvWorkspace) {
            L.algo = perf[i].algo;
            return Status::ok();
        }
    return unsupported("cuDNN has no algorithm for convolution '" + L.node + "'");
}

// How time_step() times (ITSCAM_CUDA_TUNE_TIMING): "auto" (the default), "graph" or "eager" (the way it timed before
// 2026-12-07; for A/B runs).
enum class Timing { kAuto, kGraph, kEager };

Result<Timing> tune_timing() {
    const char* v = std::getenv("ITSCAM_CUDA_TUNE_TIMING");
    const std::string s = v ? v : "";
    if (s.empty() || s == "auto") return Timing::kAuto;
    if (s == "graph") return Timing::kGraph;
    if (s == "eager") return Timing::kEager;
    return invalid_argument("ITSCAM_CUDA_TUNE_TIMING='" + s + "': expected auto, graph or eager");
}

// The GPU time of one run of a step. Eager launches (one warm-up, then `reps` between events) measure it where a run
// takes longer than the host needs to launch it, since the GPU then runs the launches back to back. Below
// kEagerTrustedMs they measure the host's launch rate instead: a fused cuDNN engine costs about 5 us of host time a
// launch, more than most batch-1 kernels take on the GPU, so every alternative of a small layer timed about the same
// (H100, 2026-12-07; docs/cuda.md). Such a step is timed as the average over `reps` replays of a CUDA graph of
// kGraphRuns runs back to back, the way it runs in the engine's own graph. A graph costs host time to build, so the
// long steps of large batches keep the eager figure.
constexpr int kGraphRuns = 10;
constexpr double kEagerTrustedMs = 0.02;

Result<double> time_step(CudaLowering& cx, int step, int reps) {
    cudaStream_t st = cx.stream.get();
    ITSCAM_ASSIGN_OR_RETURN(csl::Event e0, csl::make_event(true));
    ITSCAM_ASSIGN_OR_RETURN(csl::Event e1, csl::make_event(true));
    const auto& fn = cx.steps[step].fn;
    ITSCAM_ASSIGN_OR_RETURN(const Timing timing, tune_timing());
    auto elapsed_ms = [&]() -> Result<double> {
        ITSCAM_CUDA_CHECK(cudaEventSynchronize(e1.get()));
        float ms = 0.f;
        ITSCAM_CUDA_CHECK(cudaEventElapsedTime(&ms, e0.get(), e1.get()));
        return static_cast<double>(ms);
    };
    ITSCAM_RETURN_IF_ERROR(fn(st));
    if (timing != Timing::kGraph) {
        ITSCAM_CUDA_CHECK(cudaEventRecord(e0.get(), st));
        for (int i = 0; i < reps; ++i) ITSCAM_RETURN_IF_ERROR(fn(st));
        ITSCAM_CUDA_CHECK(cudaEventRecord(e1.get(), st));
        ITSCAM_ASSIGN_OR_RETURN(const double ms, elapsed_ms());
        if (timing == Timing::kEager || ms / reps >= kEagerTrustedMs) return ms / reps;
    }
    ITSCAM_ASSIGN_OR_RETURN(const csl::Graph graph, csl::capture(st, [&]() -> Status {
                                for (int i = 0; i < kGraphRuns; ++i) ITSCAM_RETURN_IF_ERROR(fn(st));
                                return Status::ok();
                            }));
    ITSCAM_ASSIGN_OR_RETURN(const csl::GraphExec exec, csl::instantiate(graph));
    ITSCAM_CUDA_CHECK(cudaGraphLaunch(exec.get(), st));  // uploads the graph
    ITSCAM_CUDA_CHECK(cudaEventRecord(e0.get(), st));
    for (int i = 0; i < reps; ++i) ITSCAM_CUDA_CHECK(cudaGraphLaunch(exec.get(), st));
    ITSCAM_CUDA_CHECK(cudaEventRecord(e1.get(), st));
    ITSCAM_ASSIGN_OR_RETURN(const double ms, elapsed_ms());
    return ms / (reps * kGraphRuns);
}

// The fused graph-API alternative of one convolution: the plan's choice, or (autotuning) each finalizable engine
// timed against the legacy convolution + epilogue, keeping the fastest.
Status choose_fused(CudaLowering& cx, const std::map<std::string, int>& tuned_fused_in, ConvLayer& L, bool find,
                    size_t ws_limit, void* ws) {
    const auto planned = tuned_fused_in.find(L.node);
    const bool from_plan = planned != tuned_fused_in.end();
    if (!from_plan && !find && !L.must_fuse) return Status::ok();
    FusedConvSpec fs = L.spec;
    fs.x = cx.ptr(L.x);
    fs.wt = cx.ptr(View{L.w_buf, 0, 0});
    fs.b = cx.ptr(L.bias_act);
    fs.res = L.res.valid() ? cx.ptr(L.res) : nullptr;
    fs.y = cx.ptr(L.y_final);
    auto t0 = std::chrono::steady_clock::now();
    auto fc = FusedConv::create(cx.cudnn.get(), fs, from_plan ? planned->second + 1 : 4, ws_limit);
    cx.compile_times.fused_create += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!fc.is_ok()) {
        if (from_plan || L.must_fuse)
            return fc.status().with_context("the plan's fused engine for '" + L.node +
                                            "' is not available here: rebuild the plan with `itscam optimize`");
        return Status::ok();  // not fusable on this cuDNN/GPU: keep the legacy path
    }
    L.fused = std::move(*fc);
    cx.compile_times.fused_engines += L.fused->num_plans();
    cx.ws_ptr = ws;
    // Every engine's output against the legacy path's on this layer, or against the direct reference convolution
    // where only the fused path takes the layer's strided input (fused_check.h).
    t0 = std::chrono::steady_clock::now();
    ITSCAM_ASSIGN_OR_RETURN(std::vector<double> err, fused_engine_errors(cx, L));
    cx.compile_times.fused_check += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (from_plan) {
        const int p = planned->second;
        if (p >= L.fused->num_plans())
            return invalid_argument("the plan's fused engine " + std::to_string(p) + " for '" + L.node +
                                    "' is not available here: rebuild the plan with `itscam optimize`");
        if (!(err[p] <= kFusedMaxNmse))
            return internal_error("the plan's fused engine " + std::to_string(p) + " for convolution '" + L.node +
                                  "' computes a different result on this GPU (normalized error " +
                                  std::to_string(err[p]) + "): rebuild the plan with `itscam optimize`");
        L.fused_plan = p;
        return Status::ok();
    }
    L.fused_plan = -1;
    double best = 1e30;
    if (!L.must_fuse) {
        ITSCAM_ASSIGN_OR_RETURN(best, time_step(cx, L.step, 3));
    }
    int best_plan = -1;
    for (int i = 0; i < L.fused->num_plans(); ++i) {
        if (!(err[i] <= kFusedMaxNmse)) {
            ++cx.fused_rejected;
            continue;  // wrong output: never chosen, whatever its speed
        }
        L.fused_plan = i;
        auto t = time_step(cx, L.step, 3);
        if (t.is_ok() && *t < best) {
            best = *t;
            best_plan = i;
        }
    }
    L.fused_plan = best_plan;
    if (best_plan < 0) {
        L.fused.reset();
        if (L.must_fuse) return unsupported("convolution '" + L.node + "': no engine runs on its strided input");
    }
    return Status::ok();
}

// ITSCAM_CUDA_TUNE_LOG=1: each timed alternative of each convolution on stderr while autotuning (docs/cuda.md).
bool tune_log() {
    static const bool on = [] {
        const char* v = std::getenv("ITSCAM_CUDA_TUNE_LOG");
        return v && *v && std::string(v) != "0";
    }();
    return on;
}

const char* igemm_variant_name(int v) {
    switch (v) {
        case 0:
            return "resident weights";
        case 1:
            return "tiled 128x64";
        case 2:
            return "tiled 128x128";
        case 3:
            return "tiled 64x64";
        case 4:
            return "wgmma 128xN";
        case 5:
            return "wgmma 128x64";
        default:
            return "TMA wgmma 128 pixels xN";
    }
}

// Our implicit-GEMM kernels on one convolution: the plan's variant (any in L.igemm_ok), or (autotuning) each variant
// in L.igemm_timed timed against the choice made so far (cuDNN's legacy algorithm + epilogue, or its fused engine),
// keeping the fastest. A variant's output is checked against the direct reference convolution first either way
// (fused_check.h); one that differs or fails to launch is never kept.
Status choose_igemm(CudaLowering& cx, const std::map<std::string, int>& planned_igemm, bool planned, ConvLayer& L,
                    bool find) {
    L.use_igemm = false;
    const auto pi = planned_igemm.find(L.node);
    if (pi != planned_igemm.end()) {
        const int v = pi->second;
        if (v < 0 || v >= ck::kIgemmVariants || !((L.igemm_ok >> v) & 1u))
            return invalid_argument(
                "the plan puts convolution '" + L.node + "' on implicit-GEMM variant " + std::to_string(v) +
                ", which does not take it here (ITSCAM_CUDA_IGEMM=0, another graph or GPU, or a variant this build "
                "does not have): rebuild the plan with `itscam optimize`");
        L.igemm_variant = v;
        ITSCAM_ASSIGN_OR_RETURN(const double err, igemm_error(cx, L));
        if (!(err <= kFusedMaxNmse))
            return internal_error("implicit-GEMM variant " + std::to_string(v) +
                                  " computes a different result for convolution '" + L.node +
                                  "' on this GPU (normalized error " + std::to_string(err) + ")");
        L.use_igemm = true;
        return Status::ok();
    }
    if (!L.igemm_timed) {
        if (tune_log() && find) std::fprintf(stderr, "tune %s: implicit GEMM does not take it\n", L.node.c_str());
        return Status::ok();
    }
    if (planned || !find) return Status::ok();
    ITSCAM_ASSIGN_OR_RETURN(const double current, time_step(cx, L.step, 3));
    double best = current;
    int best_v = -1;
    for (int v = 0; v < ck::kIgemmVariants; ++v) {
        if (!((L.igemm_timed >> v) & 1u)) continue;
        L.igemm_variant = v;
        const Result<double> err = igemm_error(cx, L);
        if (!err.is_ok() || !(*err <= kFusedMaxNmse)) {
            if (tune_log())
                std::fprintf(stderr, "tune %s: implicit GEMM %s %s\n", L.node.c_str(), igemm_variant_name(v),
                             err.is_ok() ? ("output differs (error " + std::to_string(*err) + ")").c_str()
                                         : ("failed: " + err.status().message()).c_str());
            continue;
        }
        L.use_igemm = true;
        const Result<double> t = time_step(cx, L.step, 3);
        L.use_igemm = false;
        if (tune_log())
            std::fprintf(stderr, "tune %s: %s %.4f ms, implicit GEMM %s %.4f ms (error %.2e)\n", L.node.c_str(),
                         L.fused_plan >= 0 ? "fused cuDNN" : "cuDNN + epilogue", current, igemm_variant_name(v),
                         t.is_ok() ? *t : -1.0, *err);
        if (t.is_ok() && *t < best) {
            best = *t;
            best_v = v;
        }
    }
    L.use_igemm = best_v >= 0;
    L.igemm_variant = std::max(best_v, 0);
    if (tune_log())
        std::fprintf(stderr, "tune %s: -> %s\n", L.node.c_str(),
                     best_v >= 0 ? igemm_variant_name(best_v) : (L.fused_plan >= 0 ? "fused cuDNN" : "cuDNN"));
    return Status::ok();
}

}  // namespace

Status autotune_convolutions(CudaLowering& cx) {
    const PlannedTuning plan = parse_tuning(cx.options.tuning);
    const auto& tuned_in = plan.algo;
    const auto& tuned_fused_in = plan.fused;
    csl::DeviceMem tune_ws;
    size_t tune_ws_bytes = 0;
    const bool planned = !tuned_in.empty() || !tuned_fused_in.empty();
    const bool find = cx.options.autotune && !planned;
    if (find) ITSCAM_RETURN_IF_ERROR(tune_timing().status());  // a bad value is refused before any timing
    {
        size_t free_b = 0, total_b = 0;
        ITSCAM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
        tune_ws_bytes = std::min(kMaxConvWorkspace, free_b / 4);
        ITSCAM_ASSIGN_OR_RETURN(tune_ws, csl::device_alloc(tune_ws_bytes));
    }
    cx.ws_ptr = tune_ws.get();
    for (auto& L : cx.convs) {
        auto it = tuned_in.find(L->node);
        if (L->must_fuse) {
            if (planned && !tuned_fused_in.count(L->node))
                return invalid_argument("the plan's tuning has no fused entry for convolution '" + L->node +
                                        "': rebuild the plan with `itscam optimize`");
        } else if (planned) {
            if (it == tuned_in.end() && !tuned_fused_in.count(L->node))
                return invalid_argument("the plan's tuning has no entry for convolution '" + L->node +
                                        "': rebuild the plan with `itscam optimize`");
            if (it != tuned_in.end())
                L->algo = it->second;
            else
                ITSCAM_RETURN_IF_ERROR(heuristic_algo(cx, *L));  // an older plan's fused entry alone
        } else {
            cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
            int returned = 0;
            bool chosen = false;
            if (find) {
                const cudnnStatus_t s = cudnnFindConvolutionForwardAlgorithmEx(
                    cx.cudnn.get(), L->xd.get(), cx.ptr(L->x), L->wd.get(), cx.ptr(View{L->w_buf, 0, 0}), L->cd.get(),
                    L->yd.get(), cx.ptr(L->y), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf, tune_ws.get(),
                    tune_ws_bytes);
                for (int i = 0; s == CUDNN_STATUS_SUCCESS && i < returned && !chosen; ++i)
                    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= tune_ws_bytes) {
                        L->algo = perf[i].algo;
                        chosen = true;
                    }
            }
            if (!chosen) ITSCAM_RETURN_IF_ERROR(heuristic_algo(cx, *L));
        }
        // Every convolution with a legacy path gets that path's workspace: also a fused one, whose engines are
        // checked against it (choose_fused) and which falls back to it. Without it, a plan's fused entry ran the
        // reference with the default algorithm and no workspace: cudnnConvolutionForward BAD_PARAM at load.
        if (!L->must_fuse) {
            const Status ws =
                csl::cudnn_status(cudnnGetConvolutionForwardWorkspaceSize(cx.cudnn.get(), L->xd.get(), L->wd.get(),
                                                                          L->cd.get(), L->yd.get(), L->algo, &L->ws),
                                  "cudnnGetConvolutionForwardWorkspaceSize");
            if (!ws)
                return ws.with_context("convolution '" + L->node + "' (algorithm " + std::to_string(L->algo) + ")");
        }
        if (L->fusable)
            ITSCAM_RETURN_IF_ERROR(choose_fused(cx, tuned_fused_in, *L, find, tune_ws_bytes, tune_ws.get()));
        ITSCAM_RETURN_IF_ERROR(choose_igemm(cx, plan.igemm, planned, *L, find));
        if (L->use_igemm) {
            // The legacy or fused choice stays in the plan as the reference; the step runs neither.
            L->choice = std::string("itscam implicit GEMM, ") + igemm_variant_name(L->igemm_variant);
            L->ws = 0;
            ++cx.igemm_convs;
        } else if (L->fused_plan >= 0) {
            L->ws = L->fused->workspace(L->fused_plan);
            L->choice = "fused " + L->fused->engine_name(L->fused_plan);
            ++cx.fused_convs;
        } else {
            L->choice = "cudnn algo " + std::to_string(L->algo) + " + epilogue";
        }
        cx.conv_ws_bytes = std::max(cx.conv_ws_bytes, L->ws);
    }
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(cx.stream.get()));
    tune_ws.reset();
    cx.ws_ptr = nullptr;
    if (cx.conv_ws_bytes) {
        ITSCAM_RETURN_IF_ERROR(csl::memory_reserve(cx.device, cx.conv_ws_bytes, "the convolution workspace"));
        cx.reserved += cx.conv_ws_bytes;
        ITSCAM_ASSIGN_OR_RETURN(cx.conv_ws, csl::device_alloc(cx.conv_ws_bytes));
        cx.bytes += cx.conv_ws_bytes;
        cx.ws_ptr = cx.conv_ws.get();
    }
    return Status::ok();
}

std::string tuning_text(const CudaLowering& cx) {
    std::ostringstream os;
    os << kLatencyKey << (cx.latency_kernels ? " on" : " off");
    if (cx.latency_on_ms > 0 && cx.latency_off_ms > 0)
        os << " (measured per replay: " << cx.latency_on_ms << " ms on, " << cx.latency_off_ms << " ms off)";
    os << "\n";
    for (const auto& L : cx.convs) {
        os << L->node;
        if (!L->must_fuse) os << " algo=" << static_cast<int>(L->algo);
        if (L->fused_plan >= 0) os << " fused=" << L->fused_plan;
        if (L->use_igemm) {
            os << kIgemmToken;
            if (L->igemm_variant > 0) os << "=" << L->igemm_variant;
        }
        os << "\n";
    }
    return os.str();
}

std::optional<LatencyTuning> tuned_latency_kernels(const std::string& tuning) {
    std::istringstream is(tuning);
    std::string line;
    while (std::getline(is, line)) {
        if (line.rfind(kLatencyKey, 0) != 0) continue;
        const std::string rest = line.substr(kLatencyKey.size());
        LatencyTuning t;
        if (rest.rfind(" on", 0) == 0) {
            t.on = true;
        } else if (rest.rfind(" off", 0) != 0) {
            continue;
        }
        const size_t m = rest.find("(measured per replay: ");
        if (m != std::string::npos &&
            std::sscanf(rest.c_str() + m, "(measured per replay: %lf ms on, %lf ms off)", &t.on_ms, &t.off_ms) != 2)
            t.on_ms = t.off_ms = 0;
        return t;
    }
    return std::nullopt;
}

}  // namespace itscam::cuda
