// FusedConv (src/backend/cuda/cudnn_fused.*), one convolution with its bias, SiLU and residual as a cuDNN operation
// graph, against a CPU loop: fp16, and FP8 E4M3 input with fp16 or FP8 output (issue 13 item 5). Every engine cuDNN
// offers for the graph is run and checked, not only the first. Skips without a GPU; the FP8 cases skip on GPUs
// without FP8 tensor cores (before sm_89).
#include <cuda_runtime.h>
#include <cudnn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cudnn_fused.h"
#include "core/dtype.h"
#include "cuda_test_util.h"
#include "device/cuda/csl.h"
#include "device/cuda/csl_dnn.h"

namespace itscam {
namespace {

struct Case {
    const char* name;
    int n, c, h, w, k, r, stride;
    bool residual;
    bool fp8_in, fp8_out;
};

struct Buffers {
    csl::DeviceMem x, w, b, res, scale, out_scale, y, ws;
};

template <typename T>
csl::DeviceMem upload(const std::vector<T>& v) {
    auto m = csl::device_alloc(v.size() * sizeof(T));
    EXPECT_TRUE(m.is_ok());
    if (!m.is_ok()) return {};
    EXPECT_EQ(cudaMemcpy(m.value().get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    return std::move(m).value();
}

// The values a device type holds exactly: each float rounded through it.
float through(float f, bool fp8) {
    return fp8 ? fp8_e4m3_to_float(float_to_fp8_e4m3(f)) : half_to_float(float_to_half(f));
}

void run_case(const Case& t) {
    SKIP_WITHOUT_GPU();
    cudaDeviceProp prop{};
    ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
    if ((t.fp8_in || t.fp8_out) && prop.major * 10 + prop.minor < 89)
        GTEST_SKIP() << "FP8 tensor cores need sm_89 or later; this GPU is sm_" << prop.major << prop.minor;
    cudnnHandle_t raw = nullptr;
    ASSERT_EQ(cudnnCreate(&raw), CUDNN_STATUS_SUCCESS);
    csl::Cudnn handle(raw);

    const int pad = t.r / 2, oh = (t.h + 2 * pad - t.r) / t.stride + 1, ow = (t.w + 2 * pad - t.r) / t.stride + 1;
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> ux(-4.f, 4.f), uw(-1.f, 1.f), ub(-0.5f, 0.5f), us(0.01f, 0.04f);
    // Logical values, already rounded to what the device types hold.
    std::vector<float> x(size_t(t.n) * t.h * t.w * t.c), w(size_t(t.k) * t.r * t.r * t.c), b(t.k), scale(t.k, 1.f);
    std::vector<float> res(t.residual ? size_t(t.n) * oh * ow * t.k : 0);
    for (auto& v : x) v = through(t.fp8_in ? ux(rng) : ux(rng) / 4.f, t.fp8_in);
    for (auto& v : w) v = through(t.fp8_in ? uw(rng) * 4.f : uw(rng) / 8.f, t.fp8_in);
    for (auto& v : b) v = through(ub(rng), false);
    for (auto& v : res) v = through(ub(rng), false);
    if (t.fp8_in)
        for (auto& v : scale) v = us(rng);

    // Reference: NHWC x, KRSC w, y = silu(conv * scale + b) [+ res], in double.
    std::vector<double> ref(size_t(t.n) * oh * ow * t.k);
    for (int n = 0; n < t.n; ++n)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int k = 0; k < t.k; ++k) {
                    double acc = 0;
                    for (int ry = 0; ry < t.r; ++ry)
                        for (int rx = 0; rx < t.r; ++rx) {
                            const int iy = oy * t.stride - pad + ry, ix = ox * t.stride - pad + rx;
                            if (iy < 0 || iy >= t.h || ix < 0 || ix >= t.w) continue;
                            const float* xp = &x[((size_t(n) * t.h + iy) * t.w + ix) * t.c];
                            const float* wp = &w[((size_t(k) * t.r + ry) * t.r + rx) * t.c];
                            for (int c = 0; c < t.c; ++c) acc += double(xp[c]) * wp[c];
                        }
                    const size_t o = ((size_t(n) * oh + oy) * ow + ox) * t.k + k;
                    double v = acc * scale[k] + b[k];
                    v = v / (1.0 + std::exp(-v));
                    ref[o] = v + (t.residual ? res[o] : 0.0);
                }
    // FP8 output: each channel scaled so that its largest magnitude lands at 240 (the type's range is +-448).
    std::vector<float> out_scale(t.k, 1.f);
    if (t.fp8_out) {
        std::vector<double> peak(t.k, 1e-6);
        for (size_t o = 0; o < ref.size(); ++o) peak[o % t.k] = std::max(peak[o % t.k], std::fabs(ref[o]));
        for (int k = 0; k < t.k; ++k) out_scale[k] = static_cast<float>(240.0 / peak[k]);
    }

    Buffers d;
    d.x = upload(encode_half_or_fp8(x, t.fp8_in));
    d.w = upload(encode_half_or_fp8(w, t.fp8_in));
    d.b = upload(encode_half_or_fp8(b, false));
    if (t.residual) d.res = upload(encode_half_or_fp8(res, false));
    d.scale = upload(scale);
    d.out_scale = upload(out_scale);
    const size_t y_bytes = ref.size() * (t.fp8_out ? 1 : 2);
    auto y = csl::device_alloc(y_bytes);
    ASSERT_TRUE(y.is_ok());
    d.y = std::move(y).value();

    FusedConvSpec s;
    s.n = t.n, s.c = t.c, s.h = t.h, s.w = t.w, s.k = t.k, s.r = s.s = t.r, s.oh = oh, s.ow = ow;
    s.pad_h = s.pad_w = pad, s.stride_h = s.stride_w = t.stride;
    s.activation = 1, s.residual = t.residual, s.fp8_in = t.fp8_in, s.fp8_out = t.fp8_out;
    s.x = d.x.get(), s.wt = d.w.get(), s.b = d.b.get(), s.res = d.res.get(), s.y = d.y.get();
    constexpr size_t kMaxWorkspace = size_t(64) << 20;
    auto fc = FusedConv::create(handle.get(), s, 8, kMaxWorkspace);
    ASSERT_TRUE(fc.is_ok()) << fc.status().to_string();
    ASSERT_GT(fc.value()->num_plans(), 0);
    auto ws = csl::device_alloc(kMaxWorkspace);
    ASSERT_TRUE(ws.is_ok());
    for (int p = 0; p < fc.value()->num_plans(); ++p) {
        SCOPED_TRACE(fc.value()->engine_name(p));
        ASSERT_EQ(cudaMemset(d.y.get(), 0xff, y_bytes), cudaSuccess);  // NaN in both types: unwritten shows
        const Status st = fc.value()->run_scaled(
            handle.get(), p, d.x.get(), d.w.get(), static_cast<const float*>(d.scale.get()), d.b.get(), d.res.get(),
            static_cast<const float*>(d.out_scale.get()), d.y.get(), ws.value().get());
        ASSERT_TRUE(st.is_ok()) << st.to_string();
        std::vector<uint8_t> out(y_bytes);
        ASSERT_EQ(cudaMemcpy(out.data(), d.y.get(), y_bytes, cudaMemcpyDeviceToHost), cudaSuccess);
        int bad = 0;
        for (size_t o = 0; o < ref.size() && bad < 5; ++o) {
            double got, want, tol;
            if (t.fp8_out) {
                // One E4M3 step (1/8 relative) either way: the fp32 sums of the engine and of the loop may sit on
                // either side of a rounding boundary.
                got = fp8_e4m3_to_float(out[o]);
                want = ref[o] * out_scale[o % t.k];
                tol = std::fabs(want) / 8 + std::ldexp(1.0, -8);
            } else {
                uint16_t h;
                std::memcpy(&h, &out[2 * o], 2);
                got = half_to_float(h);
                want = ref[o];
                tol = 2e-3 + 2e-3 * std::fabs(want);
            }
            if (!(std::fabs(got - want) <= tol)) {
                ADD_FAILURE() << "output " << o << ": " << got << ", expected " << want;
                ++bad;
            }
        }
    }
}

class CudnnFused : public ::testing::TestWithParam<Case> {};

TEST_P(CudnnFused, EveryEngineMatchesTheCpuLoop) {
    run_case(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudnnFused,
                         ::testing::Values(Case{"Fp16Conv3x3SiluResidual", 2, 32, 10, 10, 48, 3, 1, true, false, false},
                                           Case{"Fp16Conv1x1Silu", 2, 64, 8, 8, 32, 1, 1, false, false, false},
                                           Case{"Fp8InFp16Out3x3SiluResidual", 2, 32, 10, 10, 48, 3, 1, true, true,
                                                false},
                                           Case{"Fp8InFp16Out3x3Stride2", 2, 32, 12, 12, 64, 3, 2, false, true, false},
                                           Case{"Fp8InOut1x1Silu", 2, 64, 8, 8, 32, 1, 1, false, true, true},
                                           Case{"Fp8InOut3x3SiluResidual", 2, 32, 10, 10, 48, 3, 1, true, true, true}),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace itscam
