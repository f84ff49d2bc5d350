// Implicit-GEMM convolution on Hopper's warpgroup tensor-core instruction (wgmma): variants 4 and 5 of
// igemm_conv_nhwc (kernels_impl.h), which the convolution autotune times per layer against cuDNN and the other
// variants. This file is compiled for sm_90a only (wgmma has no portable PTX); src/CMakeLists.txt builds it into
// its own library when the CUDA architectures include 90, and igemm_conv.cu offers the variants only on a
// compute-capability 9.0 GPU.
//
// GEMM view, as in igemm_tiled.cu: rows = output pixels (N*OH*OW), columns = output channels, k = (tap, input
// channel) in the filter's own [K][R][S][C] order, so a k-block of 64 may span taps where C < 64. A CTA of two
// warpgroups computes a 128 x BN tile; each warpgroup owns 64 rows and issues m64nBNk16 wgmma instructions that read
// both operands from shared memory. Tiles land there by 16-byte cp.async (zero-filled in the padding, past the
// pixels, past K and past R*S*C) in the 128-byte-swizzled K-major layout wgmma reads without bank conflicts: row r
// of a tile is 128 bytes (64 halves of k), its 16-byte chunk q stored at chunk q ^ (r % 8). Three to five stages
// rotate (two CTAs fit an SM at every tile width); the loads run one to three k-blocks ahead of the tensor cores,
// and one wgmma group stays in flight while the next block's loads are issued. The grid is persistent and the
// pipeline runs on across a CTA's tiles, since most layers here have only 1 to 9 k-blocks a tile: the next tile's
// first blocks load during this tile's last ones and its epilogue. Bias, activation and residual are applied in
// registers and written as half2 into the strided destination view (igemm_common.cuh).
#include <cuda_fp16.h>

#include <algorithm>
#include <climits>

#include "backend/cuda/kernels/igemm_common.cuh"
#include "backend/cuda/kernels/sm90a/wgmma.cuh"

namespace itscam::cuda_kernels::igemm {

namespace {

constexpr int kThreads = 256;   // two warpgroups
constexpr int kBM = 128;        // output pixels a tile holds
constexpr int kRowBytes = 128;  // one k-block row: 64 halves

template <int BN>
constexpr size_t smem_bytes() {
    return static_cast<size_t>(stages<BN>()) * (kBM + BN) * kRowBytes + 1024;  // + alignment to the swizzle atom
}

// KS: the (square) kernel size; BN: output channels per tile (16, 32, 64 or 128). The grid is persistent: CTA b
// computes tiles b, b + gridDim.x, ..., and its pipeline runs across them, so the next tile's first k-blocks load
// while this tile's last ones and its epilogue run (most layers here have 1 to 9 k-blocks a tile).
template <int KS, int BN>
__global__ void __launch_bounds__(kThreads) igemm_wgmma_kernel(const Args a) {
    constexpr int S = stages<BN>(), kABytes = kBM * kRowBytes, kStageBytes = (kBM + BN) * kRowBytes, R = BN / 2;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;

    const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
    const int slices = (a.K + BN - 1) / BN;
    const int ktot = KS * KS * a.C;
    const int nk = (ktot + 63) / 64;
    const int first = static_cast<int>(blockIdx.x), stride = static_cast<int>(gridDim.x);
    const int mine = first < a.tiles ? (a.tiles - 1 - first) / stride + 1 : 0;  // tiles this CTA computes
    const int steps = mine * nk;
    const int chunk = tid & 7, row0 = tid >> 3;  // this thread's 16-byte column and first row of every tile

    // Tile t: pixel tile t / slices, channel slice t % slices (consecutive tiles share their input rows in L2).
    auto origin = [&](int q, int& m0, int& n0) {
        const int t = first + (q / nk) * stride, mt = t / slices;
        m0 = mt * kBM;
        n0 = (t - mt * slices) * BN;
    };

    auto load = [&](int slot, int q) {
        int m0, n0;
        origin(q, m0, n0);
        const int kk = (q % nk) * 64 + chunk * 8;
        const bool kok = kk < ktot;  // C is a multiple of 8: a chunk is wholly inside one tap or past the end
        const int tap = kok ? kk / a.C : 0, c = kk - tap * a.C;
        const int r = tap / KS, s = tap - r * KS;
        const uint32_t as = base + slot * kStageBytes, bs = as + kABytes;
#pragma unroll
        for (int p = 0; p < 4; ++p) {
            const int row = row0 + 32 * p;
            int pb, ih, iw;
            window_of(a, m0 + row, pb, ih, iw);
            ih += r;
            iw += s;
            const bool ok = kok && static_cast<unsigned>(ih) < static_cast<unsigned>(a.H) &&
                            static_cast<unsigned>(iw) < static_cast<unsigned>(a.W);
            const __half* src = ok ? a.x + (pb + ih * a.W + iw) * a.ldx + c : a.x;
            cp_async16_ca(as + row * kRowBytes + ((chunk ^ (row & 7)) << 4), src, ok ? 16 : 0);
        }
#pragma unroll
        for (int row = row0; row < BN; row += 32) {
            const int n = n0 + row;
            const bool ok = kok && n < a.K;
            const __half* src = ok ? a.w + n * ktot + kk : a.w;
            cp_async16_cg(bs + row * kRowBytes + ((chunk ^ (row & 7)) << 4), src, ok ? 16 : 0);
        }
    };

    // Prologue: steps 0 .. S - 3 in flight. Every iteration commits one group, empty or not, so that the wait below
    // leaves exactly the newer S - 3 pending.
#pragma unroll
    for (int q = 0; q < S - 2; ++q) {
        if (q < steps) load(q, q);
        cp_async_commit();
    }
    float acc[R];
#pragma unroll
    for (int i = 0; i < R; ++i) acc[i] = 0.f;
    const int g = lane >> 2, t = lane & 3;
    for (int q = 0; q < steps; ++q) {
        cp_async_wait<S - 3>();
        // This thread's copies of step q are complete; make them visible to the tensor cores' (async) proxy, then
        // wait for every thread's. Past this barrier every warpgroup has also retired its wgmma group q - 2, whose
        // slot the next load overwrites.
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        if (const int next = q + S - 2; next < steps) load(next % S, next);
        cp_async_commit();

        const uint32_t as = base + (q % S) * kStageBytes + wg * (64 * kRowBytes);
        const uint32_t bs = base + (q % S) * kStageBytes + kABytes;
        fence_operands(acc);
        wgmma_fence();
#pragma unroll
        for (int k16 = 0; k16 < 4; ++k16) Wgmma<BN>::mma(acc, smem_desc(as + k16 * 32), smem_desc(bs + k16 * 32));
        wgmma_commit();
        if (q % nk != nk - 1) {
            wgmma_wait<1>();
            fence_operands(acc);
            continue;
        }
        wgmma_wait<0>();
        fence_operands(acc);
        // The tile's epilogue: registers 4j .. 4j+3 hold columns 8j + 2t, +1 of rows g and g + 8 of the warp's 16.
        int m0, n0;
        origin(q, m0, n0);
        const int mrow = m0 + wg * 64 + warp * 16 + g;
        with_epilogue(a, [&](const auto& ep) {
#pragma unroll
            for (int j = 0; j < BN / 8; ++j) {
                const int n = n0 + j * 8 + 2 * t;
                if (n < a.K) {  // K is a multiple of 8, so n + 1 < K too
                    const float2 b = ep.bias(n);
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        const int m = mrow + 8 * h;
                        if (m < a.M) ep.store(m, n, acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1], b);
                    }
                }
#pragma unroll
                for (int e = 0; e < 4; ++e) acc[4 * j + e] = 0.f;
            }
        });
    }
    wgmma_wait<0>();  // the last step ends a tile, so nothing is in flight here; this tells the assembler so
    cp_async_wait<0>();
}

template <int KS, int BN>
cudaError_t launch(Args a, cudaStream_t stream) {
    auto kernel = igemm_wgmma_kernel<KS, BN>;
    constexpr size_t smem = smem_bytes<BN>();
    LaunchConfig cfg;
    if (const cudaError_t e = launch_config(kernel, kThreads, smem, &cfg, smem); e != cudaSuccess) return e;
    const int64_t tiles = static_cast<int64_t>((a.M + kBM - 1) / kBM) * ((a.K + BN - 1) / BN);
    if (tiles > INT_MAX) return cudaErrorInvalidValue;
    a.tiles = static_cast<int>(tiles);
    const int64_t ctas = std::min<int64_t>(tiles, static_cast<int64_t>(cfg.sms) * cfg.per_sm);
    kernel<<<static_cast<unsigned>(ctas), kThreads, smem, stream>>>(a);
    return cudaGetLastError();
}

// Variant 4: the narrowest tile that covers K (with_tile_width); variant 5: 64.
template <int KS>
cudaError_t launch_variant(const Args& a, int variant, cudaStream_t stream) {
    if (variant == 5) return launch<KS, 64>(a, stream);
    return with_tile_width(a.K, [&](auto bn) { return launch<KS, decltype(bn)::value>(a, stream); });
}

}  // namespace

cudaError_t launch_wgmma(const Args& a, int kh, int variant, cudaStream_t stream) {
    return kh == 3 ? launch_variant<3>(a, variant, stream) : launch_variant<1>(a, variant, stream);
}

}  // namespace itscam::cuda_kernels::igemm
