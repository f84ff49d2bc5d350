// itscam_conv_bench: the shapes of YOLO11n's convolutions at 640x640 (bias + SiLU [+ residual]), at one batch size,
// alone: on cuDNN's fused fp16 convolution (src/backend/cuda/cudnn_fused.*) and, where asked, on FP8 E4M3 through
// the same cuDNN graph (FP8 in, fp16 or FP8 out: issue 13 item 5) and through our own FP8 kernel
// (igemm_conv_fp8_nhwc: FP8 in, fp16 or FP8 out, checked against cuDNN's output of the same kind), and on our
// implicit-GEMM variants
// (igemm_conv_nhwc, backend/cuda/kernels/kernels_impl.h), without building a plan. Each engine cuDNN offers and
// each variant is timed as a CUDA graph of 10 runs (events around 5 replays, best of 3); the fastest engine is kept
// per layer and type. Values are random and valid in each type. Each variant's output is compared with cuDNN's
// fp16 output; tests/cuda/cudnn_fused_test.cpp and cuda_kernels_test check both against CPU loops.
// --once runs each selected convolution once, untimed, for a profiler:
//   ncu --clock-control none -k regex:igemm_tma itscam_conv_bench --igemm 6 --layer model.2.cv1 --once
//
//   itscam_conv_bench [--batch N] [--engines N] [--fp8] [--igemm LIST] [--layer TEXT] [--once] [--device N]
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cudnn_fused.h"
#include "backend/cuda/kernels/kernels_impl.h"
#include "core/dtype.h"
#include "device/cuda/csl.h"
#include "device/cuda/csl_dnn.h"

namespace itscam {
namespace {

struct Layer {
    const char* name;
    int c, hw, k, r, stride;
    bool residual;
};

// YOLO11n's convolution shapes at 640x640 (one of each kind: the backbone's strided 3x3s, the C3k2 blocks' 1x1s and
// 3x3s, and the head's), input side hw x hw.
constexpr Layer kLayers[] = {
    {"model.1 3x3/2", 16, 320, 32, 3, 2, false},          {"model.2.cv1 1x1", 32, 160, 32, 1, 1, false},
    {"model.2.m.0.cv1 3x3", 16, 160, 16, 3, 1, false},    {"model.2.cv2 1x1", 48, 160, 64, 1, 1, false},
    {"model.3 3x3/2", 64, 160, 64, 3, 2, false},          {"model.4.cv1 1x1", 64, 80, 64, 1, 1, false},
    {"model.4.m.0.cv2 3x3 +res", 32, 80, 32, 3, 1, true}, {"model.4.cv2 1x1", 96, 80, 128, 1, 1, false},
    {"model.5 3x3/2", 128, 80, 128, 3, 2, false},         {"model.6.m.0 3x3 +res", 64, 40, 64, 3, 1, true},
    {"model.7 3x3/2", 128, 40, 256, 3, 2, false},         {"model.8.cv2 1x1", 384, 20, 256, 1, 1, false},
    {"head cv2.0.0 3x3", 64, 80, 64, 3, 1, false},        {"head cv3.0.2 1x1", 80, 80, 80, 1, 1, false},
};

enum class Kind { kFp16, kFp8InFp16Out, kFp8 };
const char* kind_name(Kind k) {
    return k == Kind::kFp16 ? "fp16" : k == Kind::kFp8InFp16Out ? "fp8->fp16" : "fp8";
}

void die(const Status& s, const char* what) {
    if (s.is_ok()) return;
    std::fprintf(stderr, "itscam_conv_bench: %s: %s\n", what, s.to_string().c_str());
    std::exit(1);
}

template <typename T>
T must(Result<T> r, const char* what) {
    die(r.is_ok() ? Status::ok() : r.status(), what);
    return std::move(r).value();
}

csl::DeviceMem upload(const void* data, size_t bytes) {
    csl::DeviceMem m = must(csl::device_alloc(bytes), "cudaMalloc");
    die(csl::cuda_status(cudaMemcpy(m.get(), data, bytes, cudaMemcpyHostToDevice), "cudaMemcpy"), "upload");
    return m;
}

std::vector<float> random_values(size_t count, float range, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-range, range);
    std::vector<float> v(count);
    for (float& f : v) f = u(rng);
    return v;
}

// Values as fp16 or FP8 E4M3 bytes, on the device.
csl::DeviceMem upload_as(const std::vector<float>& v, bool fp8) {
    const std::vector<uint8_t> b = encode_half_or_fp8(v, fp8);
    return upload(b.data(), b.size());
}

// One layer's operands from one set of random values: x, w as fp16 and FP8, the bias as fp16 (cuDNN) and float
// (ours), a residual, per-channel FP8 scales and an output buffer.
struct Operands {
    int o = 0;  // output side
    size_t nx = 0, nw = 0, ny = 0;
    csl::DeviceMem x16, w16, x8, w8, b16, b32, r16, scale, y;
    double min_mb = 0;  // fp16 bytes every run must move: x, w, y and the residual, MB
};

Operands make_operands(const Layer& L, int batch, bool fp8, std::mt19937& rng) {
    Operands op;
    const int pad = L.r / 2;
    op.o = (L.hw + 2 * pad - L.r) / L.stride + 1;
    op.nx = size_t(batch) * L.hw * L.hw * L.c, op.nw = size_t(L.k) * L.r * L.r * L.c;
    op.ny = size_t(batch) * op.o * op.o * L.k;
    const std::vector<float> x = random_values(op.nx, 2.f, rng), w = random_values(op.nw, 1.f, rng),
                             b = random_values(L.k, 0.5f, rng), r = random_values(L.residual ? op.ny : 1, 0.5f, rng);
    op.x16 = upload_as(x, false), op.w16 = upload_as(w, false), op.b16 = upload_as(b, false);
    op.b32 = upload(b.data(), b.size() * sizeof(float)), op.r16 = upload_as(r, false);
    if (fp8) {
        op.x8 = upload_as(x, true), op.w8 = upload_as(w, true);
        const std::vector<float> scales(L.k, 0.02f);
        op.scale = upload(scales.data(), scales.size() * sizeof(float));
    }
    op.y = must(csl::device_alloc(op.ny * 2), "cudaMalloc");
    op.min_mb = 2.0 * double(op.nx + op.nw + op.ny * (L.residual ? 2 : 1)) / 1e6;
    return op;
}

// ms per run of `run` captured 10 times into a CUDA graph: 4 timed rounds of 5 replays (50 runs), the first a
// warm-up, the best of the other 3. < 0 where it cannot be captured or replayed.
template <typename Run>
double time_graph(cudaStream_t stream, Run&& run) {
    auto graph = csl::capture(stream, [&]() -> Status {
        for (int i = 0; i < 10; ++i) ITSCAM_RETURN_IF_ERROR(run());
        return Status::ok();
    });
    if (!graph.is_ok()) return -1;
    auto exec = csl::instantiate(graph.value());
    if (!exec.is_ok()) return -1;
    auto rounds = csl::timed_runs(stream, 4, [&]() -> Status {
        for (int i = 0; i < 5; ++i)
            ITSCAM_RETURN_IF_ERROR(csl::cuda_status(cudaGraphLaunch(exec.value().get(), stream), "cudaGraphLaunch"));
        return Status::ok();
    });
    if (!rounds.is_ok()) return -1;
    return *std::min_element(rounds.value().begin() + 1, rounds.value().end()) / 50;
}

struct Timing {
    double ms = -1;    // per run; < 0: did not run
    std::string note;  // the engine, or why it did not run
};

struct Options {
    int batch = 64, engines = 4, device = 0;
    bool fp8 = false, once = false;
    std::vector<int> igemm;  // our variants to run
    std::string layer;       // run the layers whose name holds this
};

// The n values at y on the device, fp16 or (fp8) E4M3, as floats.
std::vector<float> download(const void* y, size_t n, bool fp8) {
    std::vector<uint8_t> bytes(n * (fp8 ? 1 : 2));
    die(csl::cuda_status(cudaMemcpy(bytes.data(), y, bytes.size(), cudaMemcpyDeviceToHost), "cudaMemcpy"), "download");
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = fp8 ? fp8_e4m3_to_float(bytes[i]) : half_to_float(uint16_t(bytes[2 * i] | bytes[2 * i + 1] << 8));
    return v;
}

// cuDNN's fused convolution of one type, the fastest of its engines. `ref`, where given, receives that engine's
// output as floats.
Timing time_fused(cudnnHandle_t handle, cudaStream_t stream, const Layer& L, const Options& opt, Kind kind,
                  Operands& op, void* workspace, size_t workspace_bytes, std::vector<float>* ref) {
    const bool fp8_in = kind != Kind::kFp16, fp8_out = kind == Kind::kFp8;
    FusedConvSpec s;
    s.n = opt.batch, s.c = L.c, s.h = s.w = L.hw, s.k = L.k, s.r = s.s = L.r, s.oh = s.ow = op.o;
    s.pad_h = s.pad_w = L.r / 2, s.stride_h = s.stride_w = L.stride;
    s.activation = 1, s.residual = L.residual, s.fp8_in = fp8_in, s.fp8_out = fp8_out;
    const void* x = fp8_in ? op.x8.get() : op.x16.get();
    const void* w = fp8_in ? op.w8.get() : op.w16.get();
    s.x = x, s.wt = w, s.b = op.b16.get(), s.res = op.r16.get(), s.y = op.y.get();
    auto fc = FusedConv::create(handle, s, opt.engines, workspace_bytes);
    Timing best;
    if (!fc.is_ok()) {
        best.note = fc.status().message();
        return best;
    }
    const auto* sp = fp8_in || fp8_out ? static_cast<const float*>(op.scale.get()) : nullptr;
    int best_plan = -1;
    for (int p = 0; p < fc.value()->num_plans(); ++p) {
        const auto run = [&] {
            return fc.value()->run_scaled(handle, p, x, w, sp, op.b16.get(), op.r16.get(), sp, op.y.get(), workspace);
        };
        if (!run().is_ok() || cudaStreamSynchronize(stream) != cudaSuccess) continue;  // this engine cannot run it
        const double ms = opt.once ? 0 : time_graph(stream, run);
        if (ms < 0) continue;
        if (best.ms < 0 || ms < best.ms) best = {ms, fc.value()->engine_name(p)}, best_plan = p;
        if (opt.once) break;
    }
    if (best.ms < 0) {
        best.note = "no engine ran";
    } else if (ref) {
        die(fc.value()->run_scaled(handle, best_plan, x, w, sp, op.b16.get(), op.r16.get(), sp, op.y.get(), workspace),
            "cuDNN run");
        *ref = download(op.y.get(), op.ny, fp8_out);
    }
    return best;
}

// Runs `run` once, compares its output (fp16, or E4M3 with out8) with `ref` (where not empty: the note holds the
// largest difference relative to the largest output where it exceeds rel), then times it as a graph.
template <typename Run>
Timing check_and_time(cudaStream_t stream, const Options& opt, Operands& op, const std::vector<float>& ref, Run&& run,
                      double rel, bool out8 = false) {
    Timing t;
    if (Status st = run(); !st.is_ok()) {
        t.note = st.message();
        return t;
    }
    if (Status st = csl::cuda_status(cudaStreamSynchronize(stream), "the kernel"); !st.is_ok()) {
        t.note = st.message();
        return t;
    }
    if (!ref.empty()) {
        const std::vector<float> y = download(op.y.get(), op.ny, out8);
        double diff = 0, peak = 0;
        for (size_t i = 0; i < op.ny; ++i) {
            diff = std::max(diff, std::fabs(double(y[i]) - ref[i]));
            peak = std::max(peak, std::fabs(double(ref[i])));
        }
        if (!(diff <= rel * std::max(peak, 1.0)))  // and NaN
            t.note = "differs from cuDNN: max |diff| " + std::to_string(diff) + ", max |y| " + std::to_string(peak);
    }
    t.ms = opt.once ? 0 : time_graph(stream, run);
    if (t.ms < 0) t.note = "could not be timed as a graph";
    return t;
}

// Our implicit-GEMM variant v, its output compared with cuDNN's (`ref`, empty if cuDNN did not run): the note holds
// the largest difference relative to the largest output where it exceeds fp16 rounding.
Timing time_igemm(cudaStream_t stream, const Layer& L, const Options& opt, int v, Operands& op,
                  const std::vector<float>& ref) {
    namespace ck = cuda_kernels;
    Timing t;
    const int pad = L.r / 2;
    if (!ck::igemm_conv_supported(opt.batch, L.hw, L.hw, L.c, L.c, L.k, op.o, op.o, L.k, L.residual ? L.k : 0, L.r, L.r,
                                  1, 1, v)) {
        t.note = "variant " + std::to_string(v) + " does not take it";
        return t;
    }
    const auto run = [&] {
        return csl::cuda_status(
            ck::igemm_conv_nhwc(op.x16.get(), L.c, op.w16.get(), static_cast<const float*>(op.b32.get()),
                                L.residual ? op.r16.get() : nullptr, L.k, op.y.get(), L.k, opt.batch, L.hw, L.hw, L.c,
                                L.k, op.o, op.o, L.r, L.r, L.stride, L.stride, pad, pad, ck::Act::kSiLU, 0.f, v,
                                stream),
            "igemm_conv_nhwc");
    };
    return check_and_time(stream, opt, op, ref, run, 4e-3);  // fp16 rounding of both
}

// Our FP8 kernel (FP8 in, fp16 out, or FP8 out with out8; the same per-channel scales as cuDNN's), its output
// compared with cuDNN's of the same kind on the same FP8 operands (`ref`, empty if cuDNN did not run). Both sum
// exact E4M3 products; they differ by the order and precision of the sums and by the output's rounding.
Timing time_igemm_fp8(cudaStream_t stream, const Layer& L, const Options& opt, Operands& op,
                      const std::vector<float>& ref, bool out8) {
    namespace ck = cuda_kernels;
    Timing t;
    const int pad = L.r / 2;
    if (!ck::igemm_conv_fp8_supported(opt.batch, L.hw, L.hw, L.c, L.c, L.k, op.o, op.o, L.k, L.residual ? L.k : 0, L.r,
                                      L.r, 1, 1)) {
        t.note = "our FP8 kernel does not take it (or this GPU is not compute capability 9.0)";
        return t;
    }
    const auto run = [&] {
        return csl::cuda_status(
            ck::igemm_conv_fp8_nhwc(op.x8.get(), L.c, op.w8.get(), static_cast<const float*>(op.scale.get()),
                                    out8 ? static_cast<const float*>(op.scale.get()) : nullptr,
                                    static_cast<const float*>(op.b32.get()), L.residual ? op.r16.get() : nullptr, L.k,
                                    op.y.get(), L.k, opt.batch, L.hw, L.hw, L.c, L.k, op.o, op.o, L.r, L.r, L.stride,
                                    L.stride, pad, pad, ck::Act::kSiLU, 0.f, stream),
            "igemm_conv_fp8_nhwc");
    };
    // E4M3 keeps 3 bits: one rounding step is 1/8 of a value.
    return check_and_time(stream, opt, op, ref, run, out8 ? 0.15 : 2e-2, out8);
}

int usage(int rc) {
    std::fprintf(rc ? stderr : stdout,
                 "usage: itscam_conv_bench [--batch N] [--engines N] [--fp8] [--igemm LIST] [--layer TEXT] [--once]\n"
                 "                         [--device N]\n"
                 "  Times YOLO11n's convolution shapes at 640x640 (bias + SiLU [+ residual]) alone, in ms per\n"
                 "  convolution: cuDNN's fused fp16 convolution, the best of its engines, and optionally FP8 through\n"
                 "  the same cuDNN graph and our implicit-GEMM variants, whose outputs are checked against cuDNN's.\n"
                 "  --batch N     images per convolution (default 64)\n"
                 "  --engines N   engines of cuDNN's heuristic list timed per layer and type, 1-16 (default 4)\n"
                 "  --fp8         also FP8 E4M3 input with fp16 output, and FP8 in and out (sm_89 or later), and our\n"
                 "                FP8 kernel, FP8 in and fp16 or FP8 out (compute capability 9.0), each checked\n"
                 "                against cuDNN's output of the same kind\n"
                 "  --igemm LIST  also our implicit-GEMM variants, comma-separated, 0-%d (kernels_impl.h)\n"
                 "  --layer TEXT  only the layers whose name contains TEXT\n"
                 "  --once        run each selected convolution once, untimed (for a profiler such as ncu)\n"
                 "  --device N    CUDA device (default 0)\n",
                 cuda_kernels::kIgemmVariants - 1);
    return rc;
}

int parse_int(const char* flag, const char* v, long lo, long hi) {
    char* end = nullptr;
    const long n = v ? std::strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || n < lo || n > hi) {
        std::fprintf(stderr, "itscam_conv_bench: %s needs an integer from %ld to %ld, got '%s'\n", flag, lo, hi,
                     v ? v : "");
        std::exit(2);
    }
    return static_cast<int>(n);
}

std::vector<int> parse_variants(const char* v) {
    std::vector<int> out;
    std::string item;
    const std::string list = v ? v : "";
    for (size_t i = 0; i <= list.size(); ++i) {
        if (i < list.size() && list[i] != ',') {
            item += list[i];
            continue;
        }
        const int n = parse_int("--igemm", item.c_str(), 0, cuda_kernels::kIgemmVariants - 1);
        if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
        item.clear();
    }
    return out;
}

std::string cell(const Timing& t, bool once) {
    if (t.ms < 0) return "-";
    return once ? "ran" : std::to_string(t.ms).substr(0, 7);
}

int main_impl(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") return usage(0);
        if (a == "--fp8" || a == "--once") {
            (a == "--fp8" ? opt.fp8 : opt.once) = true;
            continue;
        }
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--batch") {
            opt.batch = parse_int("--batch", v, 1, 4096);
        } else if (a == "--engines") {
            opt.engines = parse_int("--engines", v, 1, 16);  // FusedConv reads at most 16 of cuDNN's configurations
        } else if (a == "--device") {
            opt.device = parse_int("--device", v, 0, 64);
        } else if (a == "--igemm") {
            opt.igemm = parse_variants(v);
        } else if (a == "--layer") {
            if (!v) return usage(2);
            opt.layer = v;
        } else {
            std::fprintf(stderr, "itscam_conv_bench: unknown argument '%s'\n", argv[i]);
            return usage(2);
        }
        ++i;
    }
    std::vector<const Layer*> layers;
    for (const Layer& L : kLayers)
        if (std::string(L.name).find(opt.layer) != std::string::npos) layers.push_back(&L);
    if (layers.empty()) {
        std::fprintf(stderr, "itscam_conv_bench: no layer's name contains '%s'\n", opt.layer.c_str());
        return 2;
    }
    die(csl::set_device(opt.device), "cudaSetDevice");
    cudaDeviceProp prop{};
    die(csl::cuda_status(cudaGetDeviceProperties(&prop, opt.device), "cudaGetDeviceProperties"), "device");
    cudnnHandle_t raw = nullptr;
    die(csl::cudnn_status(cudnnCreate(&raw), "cudnnCreate"), "cuDNN");
    csl::Cudnn handle(raw);
    cudaStream_t stream = nullptr;
    die(csl::cuda_status(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate"), "stream");
    die(csl::cudnn_status(cudnnSetStream(handle.get(), stream), "cudnnSetStream"), "cuDNN");
    constexpr size_t kWorkspace = size_t(256) << 20;
    csl::DeviceMem ws = must(csl::device_alloc(kWorkspace), "cudaMalloc");
    std::printf("%s (sm_%d%d), cuDNN %zu, batch %d, best of %d engines per layer and type; %s\n", prop.name, prop.major,
                prop.minor, cudnnGetVersion(), opt.batch, opt.engines,
                opt.once ? "each run once, untimed" : "ms per convolution");
    std::printf("%-26s %8s %10s", "layer", "MB", "cudnn fp16");
    if (opt.fp8)
        std::printf(" %10s %9s %9s %9s %9s %9s %9s", "fp8->fp16", "fp8", "fp16/fp8", "ours->16", "fp16/ours",
                    "ours fp8", "fp16/ours");
    for (const int v : opt.igemm) std::printf(" %8s%d %7s", "igemm ", v, "GB/s");
    std::printf("\n");
    std::mt19937 rng(7);
    // Per layer and summed over the layers: cuDNN fp16, fp8->fp16 and fp8, our FP8 kernel with fp16 and with FP8
    // output, then each variant. Ours (slots from kOurs16 on) take cuDNN's fp16 time in a sum where they did not
    // run, so that the sums compare.
    constexpr size_t kOurs16 = 3, kOurs8 = 4, kVariants = 5;
    std::vector<double> total(kVariants + opt.igemm.size(), 0.0);
    bool complete = true;
    std::vector<std::string> notes;
    for (const Layer* L : layers) {
        Operands op = make_operands(*L, opt.batch, opt.fp8, rng);
        std::vector<float> ref, ref16, ref8;  // cuDNN's fp16, FP8->fp16 and FP8 outputs
        std::vector<Timing> t(kVariants + opt.igemm.size());
        t[0] = time_fused(handle.get(), stream, *L, opt, Kind::kFp16, op, ws.get(), kWorkspace, &ref);
        for (int k = 1; k < 3 && opt.fp8; ++k)
            t[k] = time_fused(handle.get(), stream, *L, opt, static_cast<Kind>(k), op, ws.get(), kWorkspace,
                              k == 1 ? &ref16 : &ref8);
        if (opt.fp8) {
            t[kOurs16] = time_igemm_fp8(stream, *L, opt, op, ref16, false);
            t[kOurs8] = time_igemm_fp8(stream, *L, opt, op, ref8, true);
        }
        for (size_t j = 0; j < opt.igemm.size(); ++j)
            t[kVariants + j] = time_igemm(stream, *L, opt, opt.igemm[j], op, ref);
        std::printf("%-26s %8.1f %10s", L->name, op.min_mb, cell(t[0], opt.once).c_str());
        const auto ratio = [](const Timing& a, const Timing& b) {
            if (a.ms > 0 && b.ms > 0)
                std::printf(" %8.2fx", a.ms / b.ms);
            else
                std::printf(" %9s", "");
        };
        if (opt.fp8) {
            std::printf(" %10s %9s", cell(t[1], opt.once).c_str(), cell(t[2], opt.once).c_str());
            ratio(t[0], t[2]);
            for (const size_t k : {kOurs16, kOurs8}) {
                std::printf(" %9s", cell(t[k], opt.once).c_str());
                ratio(t[0], t[k]);
            }
        }
        for (size_t j = 0; j < opt.igemm.size(); ++j) {
            const Timing& g = t[kVariants + j];
            std::printf(" %9s", cell(g, opt.once).c_str());
            if (g.ms > 0)
                std::printf(" %7.0f", op.min_mb / g.ms);  // MB/ms = GB/s
            else
                std::printf(" %7s", "");
        }
        std::printf("\n");
        std::fflush(stdout);
        for (size_t k = 0; k < t.size(); ++k) {
            if (k >= 1 && k < kVariants && !opt.fp8) continue;
            const std::string what = k < kOurs16    ? std::string("cudnn ") + kind_name(static_cast<Kind>(k))
                                     : k == kOurs16 ? std::string("ours fp8->fp16")
                                     : k == kOurs8  ? std::string("ours fp8")
                                                    : "igemm " + std::to_string(opt.igemm[k - kVariants]);
            if (!t[k].note.empty() && (k >= kOurs16 || t[k].ms < 0))
                notes.push_back(std::string(L->name) + " " + what + ": " + t[k].note);
            if (t[k].ms >= 0) {
                total[k] += t[k].ms;
            } else if (k >= kOurs16 && t[0].ms >= 0) {
                total[k] += t[0].ms;
            } else {
                complete = false;
            }
        }
    }
    if (!opt.once) {
        std::printf("%-26s %8s %10.4f", "sum", "", total[0]);
        if (opt.fp8)
            std::printf(" %10.4f %9.4f %8.2fx %9.4f %8.2fx %9.4f %8.2fx", total[1], total[2],
                        total[2] > 0 ? total[0] / total[2] : 0.0, total[kOurs16],
                        total[kOurs16] > 0 ? total[0] / total[kOurs16] : 0.0, total[kOurs8],
                        total[kOurs8] > 0 ? total[0] / total[kOurs8] : 0.0);
        for (size_t j = 0; j < opt.igemm.size(); ++j) std::printf(" %9.4f %7s", total[kVariants + j], "");
        std::printf("%s\n", complete ? "" : "  (a sum misses layers that did not run)");
    }
    for (const auto& n : notes) std::printf("  %s\n", n.c_str());
    cudaStreamDestroy(stream);
    return 0;
}

}  // namespace
}  // namespace itscam

int main(int argc, char** argv) {
    return itscam::main_impl(argc, argv);
}
