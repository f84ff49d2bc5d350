// The CUDA backend's executor (executor.h): CUDA Graph capture and replay, the run paths, device timing and the
// eager per-step profile.
#include "backend/cuda/executor.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "backend/cuda/autotune.h"
#include "backend/cuda/graph_branches.h"

namespace itscam::cuda {

CudaExecutor::CudaExecutor(std::unique_ptr<CudaLowering> cx)
    : cx_(std::move(cx)), profile_(std::getenv("ITSCAM_PROFILE") != nullptr) {
    const char* gr = std::getenv("ITSCAM_CUDA_GRAPHS");
    const char* sh = std::getenv("ITSCAM_CUDA_STEP_HASH");
    step_hash_ = sh && std::string(sh) == "1";
    use_graph_ = !(gr && std::string(gr) == "0") && !profile_ && !step_hash_;
}

CudaExecutor::~CudaExecutor() {
    cx_->wait_idle();
    print_profile();
}

Status CudaExecutor::launch(cudaStream_t s, int skip) {
    if (skip >= 0 && exec_nhwc_) return csl::cuda_status(cudaGraphLaunch(exec_nhwc_.get(), s), "cudaGraphLaunch");
    if (skip < 0 && exec_) return csl::cuda_status(cudaGraphLaunch(exec_.get(), s), "cudaGraphLaunch");
    if (step_hash_) {
        // ITSCAM_CUDA_ARENA_FILL=<0-255>: the arena and the convolution workspace are set to that byte before each
        // run, so that what a run reads without having written it is the same in every run.
        if (const char* fill = std::getenv("ITSCAM_CUDA_ARENA_FILL")) {
            size_t end = 0;
            for (const Buffer& b : cx_->bufs)
                if (!b.persistent) end = std::max(end, b.offset + b.bytes);
            if (end) ITSCAM_CUDA_CHECK(cudaMemsetAsync(cx_->arena.get(), std::atoi(fill), end, s));
            if (cx_->conv_ws_bytes)
                ITSCAM_CUDA_CHECK(cudaMemsetAsync(cx_->conv_ws.get(), std::atoi(fill), cx_->conv_ws_bytes, s));
        }
        for (size_t i = 0; i < cx_->steps.size(); ++i) {
            if (!cx_->steps[i].enabled || static_cast<int>(i) == skip) continue;
            ITSCAM_RETURN_IF_ERROR(cx_->steps[i].fn(s).with_context(cx_->steps[i].name));
            ITSCAM_RETURN_IF_ERROR(print_step_hash(i, s));
        }
        ++hashed_runs_;
        return Status::ok();
    }
    if (!profile_) {
        for (size_t i = 0; i < cx_->steps.size(); ++i) {
            const Step& st = cx_->steps[i];
            if (st.enabled && static_cast<int>(i) != skip) ITSCAM_RETURN_IF_ERROR(st.fn(s).with_context(st.name));
        }
        return Status::ok();
    }
    if (prof_events_.empty()) {
        for (size_t i = 0; i <= cx_->steps.size(); ++i) {
            ITSCAM_ASSIGN_OR_RETURN(csl::Event e, csl::make_event(true));
            prof_events_.push_back(std::move(e));
        }
        step_ms_.assign(cx_->steps.size(), 0.0);
    }
    // Events around the steps that run only: a step switched off (the generic detect head once the fused one is
    // verified) would otherwise be charged the gap between two events, about 1.3 us of nothing each.
    ITSCAM_CUDA_CHECK(cudaEventRecord(prof_events_[0].get(), s));
    std::vector<size_t> ran;
    for (size_t i = 0; i < cx_->steps.size(); ++i) {
        if (!cx_->steps[i].enabled || static_cast<int>(i) == skip) continue;
        ITSCAM_RETURN_IF_ERROR(cx_->steps[i].fn(s).with_context(cx_->steps[i].name));
        ITSCAM_CUDA_CHECK(cudaEventRecord(prof_events_[i + 1].get(), s));
        ran.push_back(i);
    }
    if (ran.empty()) return Status::ok();
    ITSCAM_CUDA_CHECK(cudaEventSynchronize(prof_events_[ran.back() + 1].get()));
    size_t before = 0;  // the event just before step i's
    for (size_t i : ran) {
        float ms = 0.f;
        ITSCAM_CUDA_CHECK(cudaEventElapsedTime(&ms, prof_events_[before].get(), prof_events_[i + 1].get()));
        step_ms_[i] += ms;
        before = i + 1;
    }
    ++profiled_runs_;
    return Status::ok();
}

Status CudaExecutor::print_step_hash(size_t i, cudaStream_t s) {
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    const Step& st = cx_->steps[i];
    std::string line = "step-hash run " + std::to_string(hashed_runs_) + " step " + std::to_string(i) + " " + st.name;
    std::vector<unsigned char> host;
    for (int b : st.bufs) {
        if (b < 0 || static_cast<size_t>(b) >= cx_->bufs.size()) continue;  // a step may list "no buffer" (-1)
        const Buffer& buf = cx_->bufs[b];
        host.resize(buf.bytes);
        ITSCAM_CUDA_CHECK(cudaMemcpy(host.data(), cx_->ptr(View{b, 0, 0}), buf.bytes, cudaMemcpyDeviceToHost));
        uint64_t h = 1469598103934665603ull;
        for (unsigned char c : host) h = (h ^ c) * 1099511628211ull;
        char hex[24];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
        line += " b" + std::to_string(b) + "=" + hex;
    }
    for (const auto& L : cx_->convs)
        if (L->node == st.name) line += " [" + L->choice + "]";
    std::fprintf(stderr, "%s\n", line.c_str());
    return Status::ok();
}

// One eager run (checks every step and warms cuDNN/cuBLAS up), then the capture of the whole step list.
Status CudaExecutor::capture() {
    const auto t0 = std::chrono::steady_clock::now();
    ITSCAM_RETURN_IF_ERROR(capture_all());
    if (profile_) {
        const auto& t = cx_->compile_times;
        const double cap = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const long long batch = static_cast<long long>(graph_batch(cx_->graph));
        std::fprintf(stderr,
                     "cuda compile (batch %lld): lowering %.2f s, arena %.2f s, convolution choice %.2f s (%d fused "
                     "engines finalized in %.2f s, their output checked in %.2f s), head check %.2f s, capture %.2f s\n",
                     batch, t.lower, t.allocate, t.autotune, t.fused_engines, t.fused_create,
                     t.fused_check, t.verify, cap);
    }
    return Status::ok();
}

Status CudaExecutor::capture_all() {
    cudaStream_t s = cx_->stream.get();
    ITSCAM_CUDA_CHECK(cudaMemsetAsync(cx_->binding.input, 0, cx_->in_bytes.empty() ? 0 : cx_->in_bytes[0], s));
    for (auto& st : cx_->steps)
        if (st.enabled) ITSCAM_RETURN_IF_ERROR(st.fn(s).with_context(st.name));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    // The NHWC device input: only where skipping its conversion step changes nothing else (the step-hash
    // diagnostic fills the arena, which holds that input, before each run).
    if (step_hash_) {
        cx_->binding.input_nhwc = nullptr;
        cx_->binding.input_nhwc_ld = 0;
    }
    if (!use_graph_) return Status::ok();
    ITSCAM_ASSIGN_OR_RETURN(exec_, capture_graph(s, -1));
    if (cx_->binding.input_nhwc) {
        ITSCAM_ASSIGN_OR_RETURN(exec_nhwc_, capture_graph(s, cx_->input_nhwc_step));
    }
    return choose_branches(s);
}

Result<csl::GraphExec> CudaExecutor::instantiate(csl::Graph g, cudaStream_t s) {
    ITSCAM_ASSIGN_OR_RETURN(csl::GraphExec out, csl::instantiate(g));
    ITSCAM_CUDA_CHECK(cudaGraphUpload(out.get(), s));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    return out;
}

Status CudaExecutor::fill_inputs_with_pattern(cudaStream_t s) {
    for (size_t i = 0; i < cx_->in_bufs.size(); ++i) {  // the graph inputs are dense fp32
        const int64_t n = static_cast<int64_t>(cx_->in_bytes[i] / sizeof(float));
        ITSCAM_CUDA_CHECK(ck::fill_pattern(cx_->bufs[static_cast<size_t>(cx_->in_bufs[i])].ptr, ck::DT::kF32, 1, n, n,
                                           0x5EEDu + static_cast<uint32_t>(i), s));
    }
    return csl::cuda_status(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}

Result<std::vector<std::vector<char>>> CudaExecutor::replay_outputs(cudaGraphExec_t exec, cudaStream_t s) {
    ITSCAM_CUDA_CHECK(cudaGraphLaunch(exec, s));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    std::vector<std::vector<char>> out;
    for (size_t i = 0; i < cx_->out_bufs.size(); ++i) {
        out.emplace_back(cx_->out_bytes[i]);
        ITSCAM_CUDA_CHECK(cudaMemcpy(out.back().data(), cx_->bufs[static_cast<size_t>(cx_->out_bufs[i])].ptr,
                                     cx_->out_bytes[i], cudaMemcpyDeviceToHost));
    }
    return out;
}

Result<double> CudaExecutor::replay_ms(cudaGraphExec_t exec, cudaStream_t s, int iters) {
    auto replay = [exec, s] { return csl::cuda_status(cudaGraphLaunch(exec, s), "cudaGraphLaunch"); };
    ITSCAM_RETURN_IF_ERROR(replay());  // warm
    ITSCAM_ASSIGN_OR_RETURN(const std::vector<double> t, csl::timed_runs(s, iters, replay));
    return std::accumulate(t.begin(), t.end(), 0.0) / iters;
}

// ITSCAM_CUDA_GRAPH_BRANCHES=auto|1: the graph with parallel branches (graph_branches.h) in place of the sequential
// one, where it computes the same outputs bit for bit (three replays on a pattern input: a missed dependency shows as
// a race) and, with auto, replays faster. Unset or 0: the sequential graph, the default: yolo11n's longest chain is
// 90 of 106 steps at batch 1, and the branched graph replayed under 1 % faster there and 1.5 % slower at batch 64 on
// an H100 (docs/cuda.md).
Status CudaExecutor::choose_branches(cudaStream_t s) {
    const char* env = std::getenv("ITSCAM_CUDA_GRAPH_BRANCHES");
    const std::string mode = env ? env : "0";
    if (mode != "auto" && mode != "1") {
        if (mode != "0")
            return invalid_argument("ITSCAM_CUDA_GRAPH_BRANCHES='" + mode +
                                    "': expected 0 (the sequential graph), auto (the faster of both) or 1");
        branches_ = "off";
        return Status::ok();
    }
    // The sequential graph works: a failure to build, check or time the other one (a CUDA API error; ordering alone
    // cannot make a kernel fault) keeps it, with a warning, rather than failing the compile.
    const Status tried = try_branches(s, mode);
    if (tried) return Status::ok();
    std::fprintf(stderr,
                 "itscam: warning: the CUDA graph with parallel branches failed (%s); keeping the sequential "
                 "graph\n",
                 tried.to_string().c_str());
    branches_ = "off (failed: " + tried.to_string() + ")";
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    return Status::ok();
}

Status CudaExecutor::try_branches(cudaStream_t s, const std::string& mode) {
    int depth = 0;
    ITSCAM_ASSIGN_OR_RETURN(csl::Graph g, capture_branched(*cx_, s, -1, &depth));
    ITSCAM_ASSIGN_OR_RETURN(csl::GraphExec br, instantiate(std::move(g), s));
    ITSCAM_RETURN_IF_ERROR(fill_inputs_with_pattern(s));
    ITSCAM_ASSIGN_OR_RETURN(const auto ref, replay_outputs(exec_.get(), s));
    for (int r = 0; r < 3; ++r) {
        ITSCAM_ASSIGN_OR_RETURN(const auto got, replay_outputs(br.get(), s));
        if (got != ref) {
            std::fprintf(stderr,
                         "itscam: warning: the CUDA graph with parallel branches computed different outputs than the "
                         "sequential one (replay %d); keeping the sequential graph\n",
                         r + 1);
            branches_ = "off (outputs differed)";
            return Status::ok();
        }
    }
    double seq = 0, par = 0;
    for (int round = 0; round < 3; ++round) {  // interleaved, so drift hits both
        ITSCAM_ASSIGN_OR_RETURN(const double a, replay_ms(exec_.get(), s, 10));
        ITSCAM_ASSIGN_OR_RETURN(const double b, replay_ms(br.get(), s, 10));
        seq += a / 3;
        par += b / 3;
    }
    const int steps = enabled_steps();
    char note[160];
    std::snprintf(note, sizeof note, "longest chain %d of %d steps, %.3f ms a replay against %.3f ms sequential", depth,
                  steps, par, seq);
    const bool keep = mode == "1" || par < seq;
    const std::string choice = std::string(keep ? "on (" : "off (") + note + ")";
    if (const char* log = std::getenv("ITSCAM_CUDA_TUNE_LOG"); log && std::string(log) == "1")
        std::fprintf(stderr, "cuda graph (batch %lld): parallel branches %s\n",
                     static_cast<long long>(graph_batch(cx_->graph)), choice.c_str());
    branches_ = choice;
    if (!keep) return Status::ok();
    if (cx_->binding.input_nhwc) {
        ITSCAM_ASSIGN_OR_RETURN(csl::Graph gn, capture_branched(*cx_, s, cx_->input_nhwc_step, nullptr));
        ITSCAM_ASSIGN_OR_RETURN(exec_nhwc_, instantiate(std::move(gn), s));
    }
    exec_ = std::move(br);
    return Status::ok();
}

Result<csl::GraphExec> CudaExecutor::capture_graph(cudaStream_t s, int skip) {
    ITSCAM_ASSIGN_OR_RETURN(csl::Graph g, csl::capture(s, [&]() -> Status {
                                for (size_t i = 0; i < cx_->steps.size(); ++i) {
                                    const Step& st = cx_->steps[i];
                                    if (!st.enabled || static_cast<int>(i) == skip) continue;
                                    ITSCAM_RETURN_IF_ERROR(st.fn(s).with_context(st.name));
                                }
                                return Status::ok();
                            }));
    return instantiate(std::move(g), s);
}

Status CudaExecutor::run_device() {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(cx_->device));
    return launch(cx_->stream.get());
}

Status CudaExecutor::run_device_nhwc() {
    if (!cx_->binding.input_nhwc) return unsupported("this CUDA graph has no NHWC device input");
    ITSCAM_RETURN_IF_ERROR(csl::set_device(cx_->device));
    return launch(cx_->stream.get(), cx_->input_nhwc_step);
}

Status CudaExecutor::run_device_input_conversion() {
    if (!cx_->binding.input_nhwc) return unsupported("this CUDA graph has no NHWC device input");
    ITSCAM_RETURN_IF_ERROR(csl::set_device(cx_->device));
    const Step& st = cx_->steps[static_cast<size_t>(cx_->input_nhwc_step)];
    return st.fn(cx_->stream.get()).with_context(st.name);
}

Status CudaExecutor::run(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(cx_->device));
    if (inputs.size() != cx_->in_bufs.size())
        return invalid_argument("expected " + std::to_string(cx_->in_bufs.size()) + " inputs, got " +
                                std::to_string(inputs.size()));
    cudaStream_t s = cx_->stream.get();
    char* host_in = static_cast<char*>(cx_->in_host.get());
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Val& v = cx_->vals[cx_->graph.inputs[i]];
        if (inputs[i].dtype() != DType::kF32 || inputs[i].shape() != v.shape)
            return invalid_argument("input '" + cx_->graph.inputs[i] + "' must be float32 " + shape_text(v.shape) +
                                    ", got " + dtype_name(inputs[i].dtype()) + " " + shape_text(inputs[i].shape()));
        std::memcpy(host_in, inputs[i].raw(), cx_->in_bytes[i]);
        ITSCAM_CUDA_CHECK(
            cudaMemcpyAsync(cx_->bufs[cx_->in_bufs[i]].ptr, host_in, cx_->in_bytes[i], cudaMemcpyHostToDevice, s));
        host_in += align_up(cx_->in_bytes[i]);
    }
    ITSCAM_RETURN_IF_ERROR(launch(s));
    char* host_out = static_cast<char*>(cx_->out_host.get());
    std::vector<char*> outs;
    for (size_t i = 0; i < cx_->out_bufs.size(); ++i) {
        ITSCAM_CUDA_CHECK(
            cudaMemcpyAsync(host_out, cx_->bufs[cx_->out_bufs[i]].ptr, cx_->out_bytes[i], cudaMemcpyDeviceToHost, s));
        outs.push_back(host_out);
        host_out += align_up(cx_->out_bytes[i]);
    }
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    outputs.clear();
    for (size_t i = 0; i < cx_->out_bufs.size(); ++i) {
        std::shared_ptr<std::byte> view(reinterpret_cast<std::byte*>(outs[i]), [](std::byte*) {});
        outputs.push_back(Tensor::from_buffer(DType::kF32, cx_->vals[cx_->graph.outputs[i]].shape, view));
    }
    return Status::ok();
}

Result<std::vector<double>> CudaExecutor::device_times(int iters) {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(cx_->device));
    cudaStream_t s = cx_->stream.get();
    return csl::timed_runs(s, iters, [this, s] { return launch(s); });
}

std::string CudaExecutor::describe() const {
    std::ostringstream os;
    const int on = enabled_steps(), off = static_cast<int>(cx_->steps.size()) - on;
    os << "cuda:" << cx_->device << " " << dtype_name(cx_->act) << ", " << on << " steps"
       << (off > 0 ? " (+" + std::to_string(off) + " off)" : std::string())
       << (exec_ ? " in one CUDA Graph, parallel branches " + branches_ : std::string(" (eager)")) << ", arena+weights "
       << cx_->bytes / (1 << 20) << " MiB, "
       << "concat members placed " << cx_->placed_members << " / copied " << cx_->copied_members
       << ", strided conv inputs " << cx_->strided_conv_inputs << " / packed " << cx_->packed_conv_inputs
       << ", fused convolutions " << cx_->fused_convs << " / " << cx_->convs.size() << " (" << cx_->fused_rejected
       << " engines failed the output check), implicit-GEMM convolutions " << cx_->igemm_convs << " / "
       << cx_->convs.size() << ", fused detect head " << cx_->head_state << ", fused attention blocks "
       << cx_->fused_groups_of("attention") << ", fused MaxPool chains " << cx_->fused_groups_of("maxpool chain")
       << ", latency kernels " << (cx_->latency_kernels ? "on" : "off") << "\n";
    size_t conv = 0;
    for (const auto& st : cx_->steps) {
        os << (st.enabled ? "" : "(off) ") << st.name << "  " << st.desc;
        if (conv < cx_->convs.size() && cx_->convs[conv]->node == st.name) {
            os << " [" << cx_->convs[conv]->choice << ", ws " << cx_->convs[conv]->ws / 1024 << " KiB]";
            ++conv;
        }
        os << "\n";
    }
    return os.str();
}

int CudaExecutor::enabled_steps() const {
    return static_cast<int>(
        std::count_if(cx_->steps.begin(), cx_->steps.end(), [](const Step& st) { return st.enabled; }));
}

void CudaExecutor::print_profile() const {
    if (!profile_ || profiled_runs_ == 0) return;
    double total = 0;
    for (double v : step_ms_) total += v;
    std::vector<size_t> idx(step_ms_.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return step_ms_[a] > step_ms_[b]; });
    std::fprintf(stderr, "CUDA profile: %d runs, %.3f ms per run over %d steps (eager, events around each step)\n",
                 profiled_runs_, total / profiled_runs_, enabled_steps());
    const std::string d = describe();
    std::fprintf(stderr, "  %s\n", d.substr(0, d.find('\n')).c_str());
    std::map<std::string, double> by_kind;
    for (size_t i = 0; i < cx_->steps.size(); ++i) {
        const std::string& d = cx_->steps[i].desc;
        if (cx_->steps[i].enabled) by_kind[d.substr(0, d.find(' '))] += step_ms_[i];
    }
    for (const auto& [k, v] : by_kind)
        std::fprintf(stderr, "  %-12s %8.4f ms  %5.1f%%\n", k.c_str(), v / profiled_runs_, 100.0 * v / total);
    for (size_t k = 0; k < idx.size() && k < 40; ++k) {
        const size_t i = idx[k];
        if (!cx_->steps[i].enabled) continue;
        std::fprintf(stderr, "  %8.4f ms  %5.1f%%  %s  %s\n", step_ms_[i] / profiled_runs_, 100.0 * step_ms_[i] / total,
                     cx_->steps[i].name.c_str(), cx_->steps[i].desc.c_str());
    }
}

std::string CudaExecutor::tuning() const {
    return tuning_text(*cx_);
}

void CudaExecutor::set_latency_measurement(double on_ms, double off_ms) {
    cx_->latency_on_ms = on_ms;
    cx_->latency_off_ms = off_ms;
}

}  // namespace itscam::cuda
