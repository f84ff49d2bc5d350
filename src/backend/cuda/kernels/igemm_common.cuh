// What the implicit-GEMM convolution kernels share (nvcc only): the launch arguments, the tensor-core instruction,
// and the once-per-kernel launch configuration. igemm_conv.cu holds the kernel with the weights resident in shared
// memory and the public entry points; igemm_tiled.cu the kernels that stream input and weight tiles through a
// cp.async pipeline.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

#include "backend/cuda/kernels/kernels_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels::igemm {

constexpr int kMaxSmem = 96 * 1024;  // the dynamic shared memory any variant may ask for

struct Args {
    const __half* x;
    const __half* w;     // [K][R][S][C] dense
    const float* scale;  // FP8 (launch_tma_fp8): per output channel, multiplies the sum before the bias; else null
    const float* out_scale;  // FP8 only, or null: y is E4M3 (ldy bytes a pixel), each value times its channel's scale
    const float* bias;
    const __half* res;
    __half* y;
    int ldx, ldr, ldy;
    int N, H, W, C, K, OH, OW;
    int sh, sw, pt, pl;
    int M;      // N * OH * OW
    int tiles;  // the kernel's tiles (set by the launcher: pixel tiles, or pixel tiles x channel slices)
    int CC;     // 16-channel chunks per tap: ceil(C / 16)
    Act act;
    float alpha;
};

// D += A * B on one 16x8 tile with a 16-deep k: A row-major 16x16, B column-major 16x8, fp16 in, fp32 accumulate.
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// cp.async, for the tiled and wgmma variants.
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes from global to shared memory, or 16 zero bytes when src_bytes is 0 (src is then not read). The input
// goes through L1 (.ca), where a 3x3 layer's other taps find most of it; the weights bypass it (.cg).
__device__ __forceinline__ void cp_async16_ca(uint32_t dst, const void* src, int src_bytes) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}

__device__ __forceinline__ void cp_async16_cg(uint32_t dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Output pixel m's window: the element index of its image's first pixel and the window's top-left input pixel. A
// row past M gets a corner far outside the image, so that every tap reads zeros.
__device__ __forceinline__ void window_of(const Args& a, int m, int& base, int& ih0, int& iw0) {
    if (m < a.M) {
        const int ow = m % a.OW, q = m / a.OW, oh = q % a.OH, n = q / a.OH;
        base = n * a.H * a.W;
        ih0 = oh * a.sh - a.pt;
        iw0 = ow * a.sw - a.pl;
    } else {
        base = 0;
        ih0 = -(1 << 28);
        iw0 = 0;
    }
}

template <int MT, int NT>
__device__ __forceinline__ void zero(float (&acc)[MT][NT][4]) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mt][j][e] = 0.f;
}

// The fused epilogue of one lane's accumulator pairs (columns n, n + 1 of output pixel m, both inside K): bias,
// activation, then the residual, written as one half2. ACT is the layer's activation where it is SiLU or none
// (every YOLO11 convolution), so the store loops carry no switch per element: with a runtime switch in every pair,
// nvcc kept each pair's bias loads behind the branches before it, and Nsight Compute put a third of the stalls of
// variant 6's 1x1 layers on those loads (H100, 2026-12-07; docs/cuda.md). kAnyAct chooses per element.
constexpr int kAnyAct = -1;

template <int ACT>
struct Epilogue {
    const Args& a;

    // The bias of columns n and n + 1, loaded once for all the rows a lane stores in them.
    __device__ __forceinline__ float2 bias(int n) const {
        return a.bias ? make_float2(__ldg(a.bias + n), __ldg(a.bias + n + 1)) : make_float2(0.f, 0.f);
    }

    // apply_act with a constant activation inlines to that activation's expression alone.
    __device__ __forceinline__ float act(float v) const {
        return detail::apply_act(v, ACT == kAnyAct ? a.act : static_cast<Act>(ACT), a.alpha);
    }

    __device__ __forceinline__ void store(int m, int n, float c0, float c1, float2 b) const {
        put(m, n, act(c0 + b.x), act(c1 + b.y));
    }

    // Columns n and n + 1 of row m, activated already: plus the residual, stored as half2.
    __device__ __forceinline__ void put(int m, int n, float v0, float v1) const {
        if (a.res) {
            const float2 rv = __half22float2(*reinterpret_cast<const __half2*>(a.res + m * a.ldr + n));
            v0 += rv.x;
            v1 += rv.y;
        }
        *reinterpret_cast<__half2*>(a.y + m * a.ldy + n) = __floats2half2_rn(v0, v1);
    }
};

// Calls body(ep) with the Epilogue of the layer's activation: one uniform branch a tile instead of one an element.
template <typename Body>
__device__ __forceinline__ void with_epilogue(const Args& a, Body&& body) {
    if (a.act == Act::kSiLU) {
        body(Epilogue<static_cast<int>(Act::kSiLU)>{a});
    } else if (a.act == Act::kNone) {
        body(Epilogue<static_cast<int>(Act::kNone)>{a});
    } else {
        body(Epilogue<kAnyAct>{a});
    }
}

// The GPU's SM count and a kernel's CTAs per SM at one dynamic shared-memory size: worked out once per (kernel,
// device, size), since the autotune times single launches and a per-launch occupancy query costs host time there.
struct LaunchConfig {
    int sms = 0;
    int per_sm = 0;
};

// max_smem: the kernel's dynamic shared-memory limit, set on the first call.
template <typename Kernel>
cudaError_t launch_config(Kernel kernel, int threads, size_t smem, LaunchConfig* out, size_t max_smem = kMaxSmem) {
    static std::mutex mu;
    // Keyed by the kernel too: every kernel taking Args has the same type, so they share this instantiation.
    static std::map<std::tuple<const void*, int, size_t>, LaunchConfig> cache;
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return e;
    std::lock_guard<std::mutex> lock(mu);
    const auto key = std::make_tuple(reinterpret_cast<const void*>(kernel), dev, smem);
    const auto it = cache.find(key);
    if (it != cache.end()) {
        *out = it->second;
        return cudaSuccess;
    }
    LaunchConfig c;
    // The limit is the largest any layer may need, not this layer's: a smaller limit set for a later layer would
    // make a cached larger one fail to launch.
    if ((e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(max_smem))) !=
        cudaSuccess)
        return e;
    if ((e = cudaDeviceGetAttribute(&c.sms, cudaDevAttrMultiProcessorCount, dev)) != cudaSuccess) return e;
    if ((e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&c.per_sm, kernel, threads, smem)) != cudaSuccess) return e;
    if (c.per_sm < 1) return cudaErrorInvalidConfiguration;
    cache.emplace(key, c);
    *out = c;
    return cudaSuccess;
}

// The tiled variants (igemm_tiled.cu): 1 = 128x64 tiles, 2 = 128x128, 3 = 64x64 (pixels x output channels), each
// narrowed to the layer's output channels. They need x and w 16-byte aligned and ldx a multiple of 8 (16-byte
// cp.async rows); the caller checks.
cudaError_t launch_tiled(const Args& a, int kh, int variant, cudaStream_t stream);

// The wgmma variants (sm90a/igemm_wgmma.cu, compiled for sm_90a only): 4 = 128 pixels x 16, 32, 64 or 128 output
// channels (the narrowest that covers K), 5 = 128x64. Same alignment needs as the tiled variants; they run on a
// compute-capability 9.0 GPU only (igemm_conv.cu checks).
cudaError_t launch_wgmma(const Args& a, int kh, int variant, cudaStream_t stream);

// The TMA-fed, warp-specialized wgmma variant 6 (sm90a/igemm_tma.cu, sm_90a only): tiles of 8 x 16 output pixels
// x 16, 32, 64 or 128 output channels. Same alignment needs as variants 4 and 5; cudaErrorNotSupported where the
// driver offers no tensor-map encoder.
cudaError_t launch_tma(const Args& a, int kh, cudaStream_t stream);

// The same kernel on FP8 E4M3 operands x8 and w8 (a.x and a.w unused), k32 wgmma, channel blocks of 32, 64 or 128,
// fp32 sums multiplied by a.scale per output channel, then the fp16 epilogue; with a.out_scale, y is written as E4M3
// (times the output scale). x8 rows (ldx) and w8 rows (C) must be multiples of 16 bytes.
cudaError_t launch_tma_fp8(const Args& a, const void* x8, const void* w8, int kh, cudaStream_t stream);

}  // namespace itscam::cuda_kernels::igemm
