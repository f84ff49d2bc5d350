// Implicit-GEMM convolution with input and weight tiles streamed through shared memory: the tiled variants of
// igemm_conv_nhwc (kernels_impl.h), which the convolution autotune times against cuDNN and the resident-weight kernel
// (igemm_conv.cu) per layer.
//
// GEMM view: rows = output pixels (N*OH*OW), columns = output channels, k = (input channel, tap). A CTA computes a
// BM x BN tile with 4 warps in a 2x2 arrangement; k advances BK channels of one tap per step, all taps of a channel
// step in turn. Each step's A tile (BM pixels x BK channels, zero where the tap falls in the padding or past C) and
// B tile (BN output channels x BK) land in shared memory by 16-byte cp.async, three steps in flight, and the warps
// read their fragments with ldmatrix: one instruction per 16x16 A fragment or pair of 8-channel B fragments, where
// the resident-weight kernel needs four global loads per A fragment. Rows are padded by 8 halves so the 8 row
// addresses of an ldmatrix fall in distinct bank groups. Bias, activation and residual are applied in registers and
// written as half2 into strided views, as in igemm_conv.cu.
#include <cuda_fp16.h>

#include <climits>

#include "backend/cuda/kernels/igemm_common.cuh"
#include "backend/cuda/kernels/kernels_common.cuh"

namespace itscam::cuda_kernels::igemm {

namespace {

constexpr int kThreads = 128;  // 4 warps, 2 (pixels) x 2 (channels)
constexpr int kStages = 3;

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x2(uint32_t& r0, uint32_t& r1, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r0), "=r"(r1) : "r"(addr));
}

template <int BM, int BN, int BK>
constexpr size_t smem_bytes() {
    return static_cast<size_t>(kStages) * (BM + BN) * (BK + 8) * sizeof(__half);
}

// KS: the (square) kernel size. BM x BN: the CTA's tile of pixels x output channels. BK: channels per k-step (16 or
// 32).
template <int KS, int BM, int BN, int BK>
__global__ void __launch_bounds__(kThreads) igemm_tiled_kernel(const Args a) {
    constexpr int LDS = BK + 8;  // shared-memory row pitch in halves
    constexpr int WM = BM / 2, WN = BN / 2, MT = WM / 16, NT = WN / 8;
    constexpr int CH = BK / 8;          // 16-byte chunks per row
    constexpr int ARP = kThreads / CH;  // A rows one pass of the CTA loads
    constexpr int AP = BM / ARP;        // passes per A tile
    static_assert(NT == 1 || NT % 2 == 0, "B fragments load in pairs");
    extern __shared__ __align__(16) unsigned char smem_raw[];
    __half* As = reinterpret_cast<__half*>(smem_raw);  // [kStages][BM][LDS]
    __half* Bs = As + kStages * BM * LDS;              // [kStages][BN][LDS]

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int wm = (warp >> 1) * WM, wn = (warp & 1) * WN;
    const int slices = (a.K + BN - 1) / BN;
    // Consecutive CTAs share a pixel tile (one per channel slice), so its input is read from L2 after the first.
    const int mtile = static_cast<int>(blockIdx.x) / slices;
    const int m0 = mtile * BM, n0 = (static_cast<int>(blockIdx.x) - mtile * slices) * BN;
    const int nk = KS * KS * ((a.C + BK - 1) / BK);  // k-steps: taps x channel steps
    const int wld = KS * KS * a.C;
    const int chunk = tid % CH;  // this thread's 16-byte column of every A and B row it loads

    // This thread's A rows: the image's first pixel and the window's corner.
    int abase[AP], aih[AP], aiw[AP];
#pragma unroll
    for (int p = 0; p < AP; ++p) window_of(a, m0 + tid / CH + p * ARP, abase[p], aih[p], aiw[p]);

    auto load_stage = [&](int slot, int ks) {
        // The taps of one channel step run back to back: a 3x3 layer's next step reads the same input rows shifted
        // by one pixel, mostly from L1.
        const int cs = ks / (KS * KS), tap = ks - cs * (KS * KS), c = cs * BK + chunk * 8;
        const int r = tap / KS, s = tap - r * KS;
        const bool cok = c < a.C;  // C is a multiple of 8: a chunk is wholly inside or wholly past it
        const uint32_t as = smem_addr(As + slot * BM * LDS), bs = smem_addr(Bs + slot * BN * LDS);
#pragma unroll
        for (int p = 0; p < AP; ++p) {
            const int row = tid / CH + p * ARP;
            const int ih = aih[p] + r, iw = aiw[p] + s;
            const bool ok = cok && static_cast<unsigned>(ih) < static_cast<unsigned>(a.H) &&
                            static_cast<unsigned>(iw) < static_cast<unsigned>(a.W);
            const __half* src = ok ? a.x + (abase[p] + ih * a.W + iw) * a.ldx + c : a.x;
            cp_async16_ca(as + (row * LDS + chunk * 8) * 2, src, ok ? 16 : 0);
        }
#pragma unroll
        for (int i = tid; i < BN * CH; i += kThreads) {  // kThreads is a multiple of CH: i % CH == chunk
            const int row = i / CH, n = n0 + row;
            const bool ok = cok && n < a.K;
            const __half* src = ok ? a.w + n * wld + tap * a.C + c : a.w;
            cp_async16_cg(bs + (row * LDS + chunk * 8) * 2, src, ok ? 16 : 0);
        }
    };

    float acc[MT][NT][4];
    zero(acc);

    // Prologue: the first kStages - 1 steps in flight. Every iteration commits a group, empty or not, so the wait
    // below always leaves exactly the newer kStages - 2 pending.
    int next = 0;
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (next < nk) load_stage(s, next);
        cp_async_commit();
        ++next;
    }
    for (int ks = 0; ks < nk; ++ks) {
        cp_async_wait<kStages - 2>();
        __syncthreads();  // step ks has landed for every thread, and every warp is done with step ks - 1's slot
        if (next < nk) load_stage(next % kStages, next);
        cp_async_commit();
        ++next;

        const int slot = ks % kStages;
        const uint32_t as = smem_addr(As + slot * BM * LDS), bs = smem_addr(Bs + slot * BN * LDS);
#pragma unroll
        for (int kk = 0; kk < BK / 16; ++kk) {
            uint32_t fa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
                ldmatrix_x4(fa[mt], as + ((wm + mt * 16 + (lane & 15)) * LDS + kk * 16 + (lane >> 4) * 8) * 2);
            uint32_t fb[NT][2];
            if constexpr (NT == 1) {
                ldmatrix_x2(fb[0][0], fb[0][1], bs + ((wn + (lane & 7)) * LDS + kk * 16 + ((lane >> 3) & 1) * 8) * 2);
            } else {
#pragma unroll
                for (int jp = 0; jp < NT / 2; ++jp) {
                    uint32_t r4[4];
                    ldmatrix_x4(r4, bs + ((wn + jp * 16 + (lane & 7) + (lane >> 4) * 8) * LDS + kk * 16 +
                                          ((lane >> 3) & 1) * 8) *
                                             2);
                    fb[2 * jp][0] = r4[0];
                    fb[2 * jp][1] = r4[1];
                    fb[2 * jp + 1][0] = r4[2];
                    fb[2 * jp + 1][1] = r4[3];
                }
            }
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int j = 0; j < NT; ++j) mma16816(acc[mt][j], fa[mt], fb[j][0], fb[j][1]);
        }
    }
    cp_async_wait<0>();

    // Epilogue: lane holds columns 2t, 2t+1 of rows g and g+8 of every 16x8 tile.
    with_epilogue(a, [&](const auto& ep) {
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int n = n0 + wn + j * 8 + 2 * t;
            if (n >= a.K) continue;  // K is a multiple of 8, so n + 1 < K too
            const float2 b = ep.bias(n);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const int m = m0 + wm + mt * 16 + g + 8 * h;
                    if (m < a.M) ep.store(m, n, acc[mt][j][2 * h], acc[mt][j][2 * h + 1], b);
                }
        }
    });
}

template <int KS, int BM, int BN, int BK>
cudaError_t launch(const Args& a, cudaStream_t stream) {
    auto kernel = igemm_tiled_kernel<KS, BM, BN, BK>;
    constexpr size_t smem = smem_bytes<BM, BN, BK>();
    static_assert(smem <= kMaxSmem, "tile past the shared-memory limit");
    LaunchConfig cfg;  // sets the kernel's shared-memory limit once
    if (const cudaError_t e = launch_config(kernel, kThreads, smem, &cfg); e != cudaSuccess) return e;
    const int64_t ctas = static_cast<int64_t>((a.M + BM - 1) / BM) * ((a.K + BN - 1) / BN);
    if (ctas > INT_MAX) return cudaErrorInvalidValue;
    kernel<<<static_cast<unsigned>(ctas), kThreads, smem, stream>>>(a);
    return cudaGetLastError();
}

template <int KS, int BM, int BN>
cudaError_t launch_bk(const Args& a, cudaStream_t stream) {
    // 16 channels per step for the narrow layers (8 or 16 channels), where a 32-channel step would be half zeros.
    return a.C <= 16 ? launch<KS, BM, BN, 16>(a, stream) : launch<KS, BM, BN, 32>(a, stream);
}

// The narrowest tile of BM pixels by at most MaxBN output channels that the layer's K needs.
template <int KS, int BM, int MaxBN>
cudaError_t launch_bn(const Args& a, cudaStream_t stream) {
    if (a.K <= 16) return launch_bk<KS, BM, 16>(a, stream);
    if (a.K <= 32) return launch_bk<KS, BM, 32>(a, stream);
    if constexpr (MaxBN >= 128) {
        if (a.K > 64) return launch_bk<KS, BM, 128>(a, stream);
    }
    return launch_bk<KS, BM, 64>(a, stream);
}

template <int KS>
cudaError_t launch_variant(const Args& a, int variant, cudaStream_t stream) {
    switch (variant) {
        case 1:
            return launch_bn<KS, 128, 64>(a, stream);
        case 2:
            return launch_bn<KS, 128, 128>(a, stream);
        case 3:
            return launch_bn<KS, 64, 64>(a, stream);
        default:
            return cudaErrorInvalidValue;
    }
}

}  // namespace

cudaError_t launch_tiled(const Args& a, int kh, int variant, cudaStream_t stream) {
    return kh == 3 ? launch_variant<3>(a, variant, stream) : launch_variant<1>(a, variant, stream);
}

}  // namespace itscam::cuda_kernels::igemm
