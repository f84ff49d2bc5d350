// Implicit-GEMM convolution with input and weight tiles streamed through shared memory: the tiled and split-k
// variants of igemm_conv_nhwc (kernels_impl.h), which the convolution autotune times against cuDNN and the
// resident-weight kernel (igemm_conv.cu) per layer.
//
// GEMM view: rows = output pixels (N*OH*OW), columns = output channels, k = (input channel, tap). A CTA computes a
// BM x BN tile with 4 warps in a 2x2 arrangement; k advances BK channels of one tap per step, all taps of a channel
// step in turn. Each step's A tile (BM pixels x BK channels, zero where the tap falls in the padding or past C) and
// B tile (BN output channels x BK) land in shared memory by 16-byte cp.async, three steps in flight, and the warps
// read their fragments with ldmatrix: one instruction per 16x16 A fragment or pair of 8-channel B fragments, where
// the resident-weight kernel needs four global loads per A fragment. Rows are padded by 8 halves so the 8 row
// addresses of an ldmatrix fall in distinct bank groups. Bias, activation and residual are applied in registers and
// written as half2 into strided views, as in igemm_conv.cu.
//
// Split k (variants 6 and 7) is for the layers with too few tiles to fill the GPU: batch 1's 40x40 and 20x20 layers
// have 7-25 pixel tiles, so a plain launch runs a handful of CTAs, each through a long serial k-loop, and the layer
// takes 4.5-10 us however little work it is. There, gridDim.y CTAs share each tile's k-steps. Each writes its fp32
// partial tile to its own slab of scratch and counts itself in on the tile's counter; the CTA that arrives last sums
// the slabs in split order, so the result does not depend on which CTA that is, and runs the usual epilogue. The
// counter wraps back to zero on the last arrival (atomicInc), so the scratch is ready for the next launch.
#include <cuda_fp16.h>

#include <algorithm>
#include <climits>
#include <map>
#include <mutex>

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

// Split k: this CTA's partial tile (acc) goes to its slab, and the CTA that arrives last at tile `tile` gets the sum
// of every split's partial in acc (true); the others get false and are done. A slab is in fragment order, each
// thread's float2 pairs 128 apart, so both the writes and the last CTA's reads are coalesced.
template <int MT, int NT>
__device__ bool split_reduce(const Args& a, int tile, float (&acc)[MT][NT][4]) {
    constexpr int kPairs = MT * NT * 2;  // float2 per thread
    constexpr int kSlab = kPairs * kThreads;
    __shared__ unsigned arrived;
    const int tid = threadIdx.x, split = blockIdx.y, splits = gridDim.y;
    float2* slabs = reinterpret_cast<float2*>(a.partials) + static_cast<size_t>(tile) * splits * kSlab;
    float2* mine = slabs + static_cast<size_t>(split) * kSlab;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int h = 0; h < 2; ++h)
                __stcg(mine + ((mt * NT + j) * 2 + h) * kThreads + tid,
                       make_float2(acc[mt][j][2 * h], acc[mt][j][2 * h + 1]));
    __threadfence();  // the slab is visible GPU-wide before the count says so
    __syncthreads();
    if (tid == 0) arrived = atomicInc(a.counters + tile, static_cast<unsigned>(splits - 1));
    __syncthreads();
    if (arrived != static_cast<unsigned>(splits - 1)) return false;
    __threadfence();
    // The slabs in split order (the sum is the same whichever CTA does it), kU of them in flight at once: each
    // thread's loads of a slab are independent, so a group costs one round trip to L2. L1 is bypassed (__ldcg): it may
    // hold stale lines of the scratch.
    constexpr int kU = kPairs <= 8 ? 4 : 2;
    float2 sum[kPairs];
#pragma unroll
    for (int i = 0; i < kPairs; ++i) sum[i] = make_float2(0.f, 0.f);
    for (int s0 = 0; s0 < splits; s0 += kU) {
        float2 v[kU][kPairs];
#pragma unroll
        for (int u = 0; u < kU; ++u)
#pragma unroll
            for (int i = 0; i < kPairs; ++i)
                v[u][i] = s0 + u < splits ? __ldcg(slabs + static_cast<size_t>(s0 + u) * kSlab + i * kThreads + tid)
                                          : make_float2(0.f, 0.f);
#pragma unroll
        for (int u = 0; u < kU; ++u)
#pragma unroll
            for (int i = 0; i < kPairs; ++i) {
                sum[i].x += v[u][i].x;
                sum[i].y += v[u][i].y;
            }
    }
#pragma unroll
    for (int i = 0; i < kPairs; ++i) {
        acc[i / (NT * 2)][(i / 2) % NT][2 * (i % 2)] = sum[i].x;
        acc[i / (NT * 2)][(i / 2) % NT][2 * (i % 2) + 1] = sum[i].y;
    }
    return true;
}

// KS: the (square) kernel size. BM x BN: the CTA's tile of pixels x output channels. BK: channels per k-step (16 or
// 32). kSplit: blockIdx.y is the CTA's split of the tile's k-steps (a.kper each), and split_reduce combines them.
template <int KS, int BM, int BN, int BK, bool kSplit = false>
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
    const int kb = kSplit ? static_cast<int>(blockIdx.y) * a.kper : 0;
    const int ke = kSplit ? min(nk, kb + a.kper) : nk;  // this CTA's k-steps: [kb, ke)
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
    int next = kb;
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (next < ke) load_stage(s, next);
        cp_async_commit();
        ++next;
    }
    for (int ks = kb; ks < ke; ++ks) {
        cp_async_wait<kStages - 2>();
        __syncthreads();  // step ks has landed for every thread, and every warp is done with step ks - 1's slot
        if (next < ke) load_stage((next - kb) % kStages, next);
        cp_async_commit();
        ++next;

        const int slot = (ks - kb) % kStages;
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
    if constexpr (kSplit) {
        if (!split_reduce(a, static_cast<int>(blockIdx.x), acc)) return;
    }

    // Epilogue: lane holds columns 2t, 2t+1 of rows g and g+8 of every 16x8 tile.
#pragma unroll
    for (int j = 0; j < NT; ++j) {
        const int n = n0 + wn + j * 8 + 2 * t;
        if (n >= a.K) continue;  // K is a multiple of 8, so n + 1 < K too
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int m = m0 + wm + mt * 16 + g + 8 * h;
                if (m < a.M) store_pair(a, m, n, acc[mt][j][2 * h], acc[mt][j][2 * h + 1]);
            }
    }
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

template <int KS, int BM, int BN, int BK>
cudaError_t launch_split_tile(const Args& a, const SplitPlan& p, cudaStream_t stream) {
    auto kernel = igemm_tiled_kernel<KS, BM, BN, BK, true>;
    constexpr size_t smem = smem_bytes<BM, BN, BK>();
    LaunchConfig cfg;
    if (const cudaError_t e = launch_config(kernel, kThreads, smem, &cfg); e != cudaSuccess) return e;
    kernel<<<dim3(static_cast<unsigned>(p.counters()), static_cast<unsigned>(p.splits)), kThreads, smem, stream>>>(a);
    return cudaGetLastError();
}

template <int KS, int BM, int BK>
cudaError_t launch_split_bn(const Args& a, const SplitPlan& p, cudaStream_t stream) {
    switch (p.bn) {
        case 16:
            return launch_split_tile<KS, BM, 16, BK>(a, p, stream);
        case 32:
            return launch_split_tile<KS, BM, 32, BK>(a, p, stream);
        default:
            return launch_split_tile<KS, BM, 64, BK>(a, p, stream);
    }
}

template <int KS>
cudaError_t launch_split_ks(const Args& a, const SplitPlan& p, cudaStream_t stream) {
    if (p.bm == 32) return launch_split_bn<KS, 32, 32>(a, p, stream);  // 32 rows need 32-channel steps (kThreads / 4)
    return p.bk == 16 ? launch_split_bn<KS, 64, 16>(a, p, stream) : launch_split_bn<KS, 64, 32>(a, p, stream);
}

}  // namespace

cudaError_t launch_tiled(const Args& a, int kh, int variant, cudaStream_t stream) {
    return kh == 3 ? launch_variant<3>(a, variant, stream) : launch_variant<1>(a, variant, stream);
}

SplitPlan split_plan(int64_t M, int64_t C, int64_t K, int kh, int variant, int sms) {
    SplitPlan p;
    if ((variant != 6 && variant != 7) || M <= 0 || C <= 0 || K <= 0 || sms <= 0) return p;
    p.bm = variant == 6 ? 64 : 32;
    p.bn = K <= 16 ? 16 : K <= 32 ? 32 : 64;
    p.bk = p.bm == 64 && C <= 16 ? 16 : 32;
    const int64_t tiles = (M + p.bm - 1) / p.bm, slices = (K + p.bn - 1) / p.bn;
    const int64_t nk = static_cast<int64_t>(kh) * kh * ((C + p.bk - 1) / p.bk);
    // About one CTA an SM (variant 6) or two (7), at most 16 splits (the last CTA reads every split's slab), and
    // every split at least one k-step: the splits are then rounded so that none is left empty. A layer with enough
    // tiles to fill the GPU gets fewer than 2, which the variant does not take.
    constexpr int64_t kMaxSplits = 16;
    const int64_t want = (variant == 6 ? sms : 2 * sms) / (tiles * slices);
    const int64_t splits = std::min({kMaxSplits, nk, want});
    if (splits < 2) return p;
    p.tiles = static_cast<int>(tiles);
    p.slices = static_cast<int>(slices);
    p.nk = static_cast<int>(nk);
    p.kper = static_cast<int>((nk + splits - 1) / splits);
    p.splits = (p.nk + p.kper - 1) / p.kper;
    return p;
}

cudaError_t launch_split(const Args& a, int kh, int variant, const SplitPlan& plan, cudaStream_t stream) {
    if ((variant != 6 && variant != 7) || plan.splits < 2 || a.kper != plan.kper || !a.partials || !a.counters)
        return cudaErrorInvalidValue;
    return kh == 3 ? launch_split_ks<3>(a, plan, stream) : launch_split_ks<1>(a, plan, stream);
}

int sm_count() {
    static std::mutex mu;
    static std::map<int, int> known;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return 0;
    std::lock_guard<std::mutex> lock(mu);
    if (const auto it = known.find(dev); it != known.end()) return it->second;
    int sms = 0;
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) return 0;
    known.emplace(dev, sms);
    return sms;
}

}  // namespace itscam::cuda_kernels::igemm
