// itscam_fp8_conv_bench: cuDNN's fused convolution (bias + SiLU [+ residual], src/backend/cuda/cudnn_fused.*) in
// fp16 against FP8 E4M3 input with FP8 or fp16 output, on the shapes of YOLO11n's convolutions at 640x640, at one
// batch size. Issue 13 item 5 asks whether FP8 can bring 1.5x the fp16 throughput at batch 64; this measures the
// convolutions alone, each engine cuDNN offers timed as a CUDA graph of 10 runs (events around 5 replays, best of
// 3), the fastest engine kept per layer and type. Values are random and valid in each type; no output is checked
// here (tests/cuda/cudnn_fused_test.cpp checks them).
//
//   itscam_fp8_conv_bench [--batch N] [--engines N] [--device N]
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cudnn_fused.h"
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
    std::fprintf(stderr, "itscam_fp8_conv_bench: %s: %s\n", what, s.to_string().c_str());
    std::exit(1);
}

template <typename T>
T must(Result<T> r, const char* what) {
    die(r.is_ok() ? Status::ok() : r.status(), what);
    return std::move(r).value();
}

csl::DeviceMem upload(const std::vector<uint8_t>& bytes) {
    csl::DeviceMem m = must(csl::device_alloc(bytes.size()), "cudaMalloc");
    die(csl::cuda_status(cudaMemcpy(m.get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice), "cudaMemcpy"),
        "upload");
    return m;
}

// `count` random values in [-range, range] as fp16 or FP8 bytes.
std::vector<uint8_t> random_bytes(size_t count, float range, bool fp8, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-range, range);
    std::vector<uint8_t> b(count * (fp8 ? 1 : 2));
    for (size_t i = 0; i < count; ++i) {
        if (fp8) {
            b[i] = float_to_fp8_e4m3(u(rng));
        } else {
            const uint16_t h = float_to_half(u(rng));
            std::memcpy(&b[2 * i], &h, 2);
        }
    }
    return b;
}

struct Timing {
    double ms = -1;  // per run; < 0: no engine
    std::string engine;
};

Timing time_layer(cudnnHandle_t handle, cudaStream_t stream, const Layer& L, int batch, Kind kind, int engines,
                  void* workspace, size_t workspace_bytes, std::mt19937& rng) {
    const bool fp8_in = kind != Kind::kFp16, fp8_out = kind == Kind::kFp8;
    const int pad = L.r / 2, o = (L.hw + 2 * pad - L.r) / L.stride + 1;
    const size_t nx = size_t(batch) * L.hw * L.hw * L.c, nw = size_t(L.k) * L.r * L.r * L.c,
                 ny = size_t(batch) * o * o * L.k;
    csl::DeviceMem x = upload(random_bytes(nx, 2.f, fp8_in, rng)), w = upload(random_bytes(nw, 1.f, fp8_in, rng)),
                   b = upload(random_bytes(L.k, 0.5f, false, rng)),
                   r = upload(random_bytes(L.residual ? ny : 1, 0.5f, false, rng));
    std::vector<float> scales(L.k, 0.02f);
    std::vector<uint8_t> scale_bytes(L.k * sizeof(float));
    std::memcpy(scale_bytes.data(), scales.data(), scale_bytes.size());
    csl::DeviceMem scale = upload(scale_bytes);
    csl::DeviceMem y = must(csl::device_alloc(ny * (fp8_out ? 1 : 2)), "cudaMalloc");

    FusedConvSpec s;
    s.n = batch, s.c = L.c, s.h = s.w = L.hw, s.k = L.k, s.r = s.s = L.r, s.oh = s.ow = o;
    s.pad_h = s.pad_w = pad, s.stride_h = s.stride_w = L.stride;
    s.activation = 1, s.residual = L.residual, s.fp8_in = fp8_in, s.fp8_out = fp8_out;
    s.x = x.get(), s.wt = w.get(), s.b = b.get(), s.res = r.get(), s.y = y.get();
    auto fc = FusedConv::create(handle, s, engines, workspace_bytes);
    Timing best;
    if (!fc.is_ok()) {
        best.engine = fc.status().message();
        return best;
    }
    const auto* sp = static_cast<const float*>(scale.get());
    for (int p = 0; p < fc.value()->num_plans(); ++p) {
        const auto run = [&] {
            return fc.value()->run_scaled(handle, p, x.get(), w.get(), sp, b.get(), r.get(), sp, y.get(), workspace);
        };
        if (!run().is_ok() || cudaStreamSynchronize(stream) != cudaSuccess) continue;  // this engine cannot run it
        auto graph = csl::capture(stream, [&]() -> Status {
            for (int i = 0; i < 10; ++i) ITSCAM_RETURN_IF_ERROR(run());
            return Status::ok();
        });
        if (!graph.is_ok()) continue;
        auto exec = csl::instantiate(graph.value());
        if (!exec.is_ok()) continue;
        // 4 timed rounds of 5 replays (50 runs); the first round is a warm-up, the best of the other 3 counts.
        auto rounds = csl::timed_runs(stream, 4, [&]() -> Status {
            for (int i = 0; i < 5; ++i)
                ITSCAM_RETURN_IF_ERROR(
                    csl::cuda_status(cudaGraphLaunch(exec.value().get(), stream), "cudaGraphLaunch"));
            return Status::ok();
        });
        if (!rounds.is_ok()) continue;
        const double ms = *std::min_element(rounds.value().begin() + 1, rounds.value().end()) / 50;
        if (best.ms < 0 || ms < best.ms) best = {ms, fc.value()->engine_name(p)};
    }
    if (best.ms < 0) best.engine = "no engine ran";
    return best;
}

int usage(int rc) {
    std::fprintf(rc ? stderr : stdout,
                 "usage: itscam_fp8_conv_bench [--batch N] [--engines N] [--device N]\n"
                 "  Times cuDNN's fused convolution (bias + SiLU [+ residual]) on YOLO11n's convolution shapes at\n"
                 "  640x640: fp16, FP8 E4M3 input with fp16 output, and FP8 in and out. Needs a GPU with FP8\n"
                 "  tensor cores (sm_89 or later) for the FP8 columns.\n"
                 "  --batch N    images per convolution (default 64)\n"
                 "  --engines N  engines of cuDNN's heuristic list timed per layer and type, 1-16 (default 4)\n"
                 "  --device N   CUDA device (default 0)\n");
    return rc;
}

int parse_int(const char* flag, const char* v, long lo, long hi) {
    char* end = nullptr;
    const long n = v ? std::strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || n < lo || n > hi) {
        std::fprintf(stderr, "itscam_fp8_conv_bench: %s needs an integer from %ld to %ld, got '%s'\n", flag, lo, hi,
                     v ? v : "");
        std::exit(2);
    }
    return static_cast<int>(n);
}

int main_impl(int argc, char** argv) {
    int batch = 64, engines = 4, device = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") return usage(0);
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--batch") {
            batch = parse_int("--batch", v, 1, 4096);
        } else if (a == "--engines") {
            engines = parse_int("--engines", v, 1, 16);  // FusedConv reads at most 16 of cuDNN's configurations
        } else if (a == "--device") {
            device = parse_int("--device", v, 0, 64);
        } else {
            std::fprintf(stderr, "itscam_fp8_conv_bench: unknown argument '%s'\n", argv[i]);
            return usage(2);
        }
        ++i;
    }
    die(csl::set_device(device), "cudaSetDevice");
    cudaDeviceProp prop{};
    die(csl::cuda_status(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties"), "device");
    cudnnHandle_t raw = nullptr;
    die(csl::cudnn_status(cudnnCreate(&raw), "cudnnCreate"), "cuDNN");
    csl::Cudnn handle(raw);
    cudaStream_t stream = nullptr;
    die(csl::cuda_status(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate"), "stream");
    die(csl::cudnn_status(cudnnSetStream(handle.get(), stream), "cudnnSetStream"), "cuDNN");
    constexpr size_t kWorkspace = size_t(256) << 20;
    csl::DeviceMem ws = must(csl::device_alloc(kWorkspace), "cudaMalloc");
    std::printf("%s (sm_%d%d), cuDNN %zu, batch %d, best of %d engines per layer and type; ms per convolution\n",
                prop.name, prop.major, prop.minor, cudnnGetVersion(), batch, engines);
    std::printf("%-26s %9s %11s %9s %10s %9s\n", "layer", "fp16", "fp8->fp16", "fp8", "fp16/fp8", "");
    std::mt19937 rng(7);
    double total[3] = {0, 0, 0};
    bool complete[3] = {true, true, true};
    std::vector<std::string> notes;
    for (const Layer& L : kLayers) {
        Timing t[3];
        for (int k = 0; k < 3; ++k) {
            t[k] = time_layer(handle.get(), stream, L, batch, static_cast<Kind>(k), engines, ws.get(), kWorkspace, rng);
            if (t[k].ms < 0) {
                complete[k] = false;
                notes.push_back(std::string(L.name) + " " + kind_name(static_cast<Kind>(k)) + ": " + t[k].engine);
            } else {
                total[k] += t[k].ms;
            }
        }
        const auto cell = [](const Timing& x) {
            return x.ms < 0 ? std::string("-") : std::to_string(x.ms).substr(0, 7);
        };
        std::printf("%-26s %9s %11s %9s", L.name, cell(t[0]).c_str(), cell(t[1]).c_str(), cell(t[2]).c_str());
        if (t[0].ms > 0 && t[2].ms > 0) std::printf(" %9.2fx", t[0].ms / t[2].ms);
        std::printf("\n");
        std::fflush(stdout);
    }
    std::printf("%-26s %9.4f %11.4f %9.4f", "sum", total[0], total[1], total[2]);
    if (complete[0] && complete[2]) std::printf(" %9.2fx", total[0] / total[2]);
    std::printf("%s\n", complete[0] && complete[1] && complete[2] ? "" : "  (a sum misses layers without an engine)");
    for (const auto& n : notes) std::printf("  %s\n", n.c_str());
    cudaStreamDestroy(stream);
    return 0;
}

}  // namespace
}  // namespace itscam

int main(int argc, char** argv) {
    return itscam::main_impl(argc, argv);
}
