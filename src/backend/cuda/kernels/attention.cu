// The fused self-attention of YOLO11's PSA block (kernels_impl.h, attention_nhwc): QK^T, the scaled softmax and
// PV in one kernel on tensor cores (mma.sync m16n8k16, fp16 in, fp32 accumulate), flash-attention style: the
// scores of a 16-query x 64-key tile stay in registers, and an online softmax rescales the output as each key block
// arrives, so the [tokens x tokens] attention matrix is never written. It replaces the generic block's dozen steps
// (layout conversion, three Split copies, two Transposes, two cuBLAS MatMuls, the scale, the softmax and two more
// conversions; ops/attention_fused.cpp).
//
// A CTA is one (image, head, block of 16 * kWarps queries); each warp owns 16 queries. Key blocks of 64 tokens (K
// and V rows) stream through two shared-memory stages by cp.async; past the last token the rows are zero-filled
// and the scores masked to -inf. At small batches a CTA is one block of 16 queries whose warps split the key blocks
// between them and merge their partial softmaxes at the end (attention_split_kernel).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/cuda/kernels/igemm_common.cuh"
#include "backend/cuda/kernels/kernels_impl.h"

namespace itscam::cuda_kernels {
namespace {

using igemm::cp_async16_cg;
using igemm::cp_async_commit;
using igemm::cp_async_wait;
using igemm::mma16816;
using igemm::smem_addr;

constexpr int kDk = 32;           // query/key channels a head
constexpr int kDv = 64;           // value channels a head
constexpr int kKeys = 64;         // keys a block
constexpr int kKPitch = kDk + 8;  // shared-memory row pitches in halves: 80 and 144 bytes, conflict-free ldmatrix
constexpr int kVPitch = kDv + 8;
constexpr int kStageHalves = kKeys * (kKPitch + kVPitch);

struct AttnArgs {
    const __half* qkv;
    __half* out;
    __half* vout;
    int ldq, ldo, ldv;
    int hw;            // tokens an image
    int ch;            // qkv channels a head: 2 * kDk + kDv
    float scale_log2;  // the softmax scale times log2(e): exp(s * scale) = exp2(s * scale_log2)
};

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
}

// Key block `kb` of head `head` in image `img` (K rows then V rows) into stage `st`, by `kThreads` threads of which
// this is `tid`: 16-byte cp.async, zero bytes read past the last token.
template <int kThreads>
__device__ __forceinline__ void load_keys(const AttnArgs& a, __half* st, int img, int head, int kb, int tid) {
    constexpr int kChunksK = kKeys * kDk / 8, kChunks = kChunksK + kKeys * kDv / 8;
    for (int c = tid; c < kChunks; c += kThreads) {
        const bool is_k = c < kChunksK;
        const int cc = is_k ? c : c - kChunksK, per_row = is_k ? kDk / 8 : kDv / 8;
        const int row = cc / per_row, col = (cc % per_row) * 8;
        const int tok = kb * kKeys + row;
        const bool in = tok < a.hw;
        const __half* src = a.qkv + static_cast<int64_t>(img * a.hw + (in ? tok : 0)) * a.ldq + head * a.ch +
                            (is_k ? kDk : 2 * kDk) + col;
        __half* dst = is_k ? st + row * kKPitch + col : st + kKeys * kKPitch + row * kVPitch + col;
        cp_async16_cg(smem_addr(dst), src, in ? 16 : 0);
    }
}

// A warp's 16 queries (from q0) as A fragments (rows g and g + 8, channel pairs), zero past the last token.
__device__ __forceinline__ void load_queries(const AttnArgs& a, int img, int head, int q0,
                                             uint32_t (&qf)[kDk / 16][4]) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int r0 = q0 + g, r1 = q0 + g + 8;
    const __half* base = a.qkv + static_cast<int64_t>(img) * a.hw * a.ldq + head * a.ch;
#pragma unroll
    for (int ks = 0; ks < kDk / 16; ++ks) {
        const int c = ks * 16 + 2 * t;
        auto at = [&](int r, int col) -> uint32_t {
            return r < a.hw ? *reinterpret_cast<const uint32_t*>(base + static_cast<int64_t>(r) * a.ldq + col) : 0u;
        };
        qf[ks][0] = at(r0, c);
        qf[ks][1] = at(r1, c);
        qf[ks][2] = at(r0, c + 8);
        qf[ks][3] = at(r1, c + 8);
    }
}

// What a warp has accumulated for its 16 queries: the unnormalised output (accumulator layout of m16n8: rows g and
// g + 8), the running maxima of those rows (log2 units) and this lane's partial sums of exp2(s - m).
struct Partial {
    float o[kDv / 8][4];
    float m0 = -INFINITY, m1 = -INFINITY;
    float l0 = 0.f, l1 = 0.f;
    __device__ Partial() {
#pragma unroll
        for (int j = 0; j < kDv / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    }
};

// One key block (kb, staged at ks_smem: K rows, then V rows) into the warp's partial: S = Q K^T, the online softmax,
// O += P V.
__device__ __forceinline__ void attend_block(const AttnArgs& a, const uint32_t (&qf)[kDk / 16][4],
                                             const __half* ks_smem, int kb, Partial& pt) {
    const int lane = threadIdx.x % 32, t = lane % 4;
    const __half* vs_smem = ks_smem + kKeys * kKPitch;

    // S = Q K^T for 16 queries x 64 keys: 8 tiles of 8 keys. One ldmatrix.x4 gives a key tile's fragments for both
    // 16-channel steps (matrices: channels 0-7, 8-15, 16-23, 24-31 of 8 keys).
    float s[kKeys / 8][4];
#pragma unroll
    for (int j = 0; j < kKeys / 8; ++j) {
        s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
        uint32_t kf[4];
        ldmatrix_x4(kf, smem_addr(ks_smem + (j * 8 + lane % 8) * kKPitch + (lane / 8) * 8));
        mma16816(s[j], qf[0], kf[0], kf[1]);
        mma16816(s[j], qf[1], kf[2], kf[3]);
    }

    // Online softmax: scale, mask the keys past the last token, new row maxima over the quad of lanes that shares a
    // row, rescale what is accumulated.
    float bm0 = -INFINITY, bm1 = -INFINITY;
#pragma unroll
    for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int key = kb * kKeys + j * 8 + 2 * t + (e & 1);
            s[j][e] = key < a.hw ? s[j][e] * a.scale_log2 : -INFINITY;
        }
        bm0 = fmaxf(bm0, fmaxf(s[j][0], s[j][1]));
        bm1 = fmaxf(bm1, fmaxf(s[j][2], s[j][3]));
    }
#pragma unroll
    for (int off = 1; off < 4; off *= 2) {
        bm0 = fmaxf(bm0, __shfl_xor_sync(0xffffffffu, bm0, off));
        bm1 = fmaxf(bm1, __shfl_xor_sync(0xffffffffu, bm1, off));
    }
    const float n0 = fmaxf(pt.m0, bm0), n1 = fmaxf(pt.m1, bm1);  // finite: every block has a token
    const float al0 = exp2f(pt.m0 - n0), al1 = exp2f(pt.m1 - n1);
    pt.m0 = n0;
    pt.m1 = n1;
    pt.l0 *= al0;
    pt.l1 *= al1;
#pragma unroll
    for (int j = 0; j < kDv / 8; ++j) {
        pt.o[j][0] *= al0;
        pt.o[j][1] *= al0;
        pt.o[j][2] *= al1;
        pt.o[j][3] *= al1;
    }

    // O += P V, 16 keys a step: two score tiles make one A fragment (the accumulator layout of m16n8 is the A layout
    // of m16k16), V's fragments come transposed by ldmatrix.trans (matrices: keys 0-7 and 8-15 of value channels
    // 8n..8n+7, then of 8n+8..8n+15).
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
        float p[2][4];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            p[h][0] = exp2f(s[2 * kk + h][0] - pt.m0);
            p[h][1] = exp2f(s[2 * kk + h][1] - pt.m0);
            p[h][2] = exp2f(s[2 * kk + h][2] - pt.m1);
            p[h][3] = exp2f(s[2 * kk + h][3] - pt.m1);
            pt.l0 += p[h][0] + p[h][1];
            pt.l1 += p[h][2] + p[h][3];
        }
        const uint32_t pf[4] = {pack_half2(p[0][0], p[0][1]), pack_half2(p[0][2], p[0][3]),
                                pack_half2(p[1][0], p[1][1]), pack_half2(p[1][2], p[1][3])};
#pragma unroll
        for (int n = 0; n < kDv / 8; n += 2) {
            uint32_t vf[4];
            ldmatrix_x4_trans(
                vf, smem_addr(vs_smem + (kk * 16 + lane % 8 + ((lane / 8) % 2) * 8) * kVPitch + (n + lane / 16) * 8));
            mma16816(pt.o[n], pf, vf[0], vf[1]);
            mma16816(pt.o[n + 1], pf, vf[2], vf[3]);
        }
    }
}

// The partial sums of a row summed over the quad of lanes that shares it.
__device__ __forceinline__ void sum_rows(Partial& pt) {
#pragma unroll
    for (int off = 1; off < 4; off *= 2) {
        pt.l0 += __shfl_xor_sync(0xffffffffu, pt.l0, off);
        pt.l1 += __shfl_xor_sync(0xffffffffu, pt.l1, off);
    }
}

// The value channels of the warp's 16 tokens from q0, head-major (the position encoding's input), 16 bytes a lane.
__device__ __forceinline__ void copy_values(const AttnArgs& a, int img, int head, int q0) {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int c = lane; c < 16 * kDv / 8; c += 32) {
        const int r = q0 + c / (kDv / 8), col = (c % (kDv / 8)) * 8;
        if (r >= a.hw) continue;
        const int64_t row = static_cast<int64_t>(img) * a.hw + r;
        *reinterpret_cast<uint4*>(a.vout + row * a.ldv + head * kDv + col) =
            *reinterpret_cast<const uint4*>(a.qkv + row * a.ldq + head * a.ch + 2 * kDk + col);
    }
}

// A CTA of kWarps warps, each with its own 16 queries, all streaming the same key blocks.
template <int kWarps>
__global__ void __launch_bounds__(32 * kWarps) attention_kernel(AttnArgs a) {
    extern __shared__ __align__(16) __half smem[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int img = blockIdx.z, head = blockIdx.y;
    const int q0 = (blockIdx.x * kWarps + warp) * 16;
    const int nkb = (a.hw + kKeys - 1) / kKeys;

    load_keys<32 * kWarps>(a, smem, img, head, 0, threadIdx.x);
    cp_async_commit();
    uint32_t qf[kDk / 16][4];
    load_queries(a, img, head, q0, qf);
    Partial pt;
    for (int kb = 0; kb < nkb; ++kb) {
        if (kb + 1 < nkb)
            load_keys<32 * kWarps>(a, smem + ((kb + 1) & 1) * kStageHalves, img, head, kb + 1, threadIdx.x);
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        attend_block(a, qf, smem + (kb & 1) * kStageHalves, kb, pt);
        __syncthreads();  // the stage is refilled two blocks on
    }
    sum_rows(pt);
    const float i0 = 1.f / pt.l0, i1 = 1.f / pt.l1;
    const int r0 = q0 + g, r1 = q0 + g + 8;
    __half* out = a.out + static_cast<int64_t>(img) * a.hw * a.ldo + head * kDv + 2 * t;
#pragma unroll
    for (int j = 0; j < kDv / 8; ++j) {
        if (r0 < a.hw)
            *reinterpret_cast<__half2*>(out + static_cast<int64_t>(r0) * a.ldo + j * 8) =
                __floats2half2_rn(pt.o[j][0] * i0, pt.o[j][1] * i0);
        if (r1 < a.hw)
            *reinterpret_cast<__half2*>(out + static_cast<int64_t>(r1) * a.ldo + j * 8) =
                __floats2half2_rn(pt.o[j][2] * i1, pt.o[j][3] * i1);
    }
    if (a.vout) copy_values(a, img, head, q0);
}

// Split keys: a CTA is one block of 16 queries, and its kSplit warps take every kSplit-th key block each (warp w:
// blocks w, w + kSplit, ...), each through its own two stages, so a small batch (YOLO11n's batch 1: 50 CTAs instead
// of 26, each warp through 2 key blocks instead of 7) is not one long chain per warp. The warps' partials are then
// merged through shared memory: per row, the largest maximum M, and the sums and outputs scaled by exp2(m - M).
constexpr int kSplit = 4;
constexpr int kPartPitch = kDv + 2;  // a row of a partial in floats: the output, then m and l

__global__ void __launch_bounds__(32 * kSplit) attention_split_kernel(AttnArgs a) {
    extern __shared__ __align__(16) __half smem[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int img = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * 16;
    const int nkb = (a.hw + kKeys - 1) / kKeys;
    __half* st = smem + warp * 2 * kStageHalves;

    if (warp < nkb) load_keys<32>(a, st, img, head, warp, lane);
    cp_async_commit();
    uint32_t qf[kDk / 16][4];
    load_queries(a, img, head, q0, qf);
    Partial pt;
    for (int i = 0, kb = warp; kb < nkb; ++i, kb += kSplit) {
        if (kb + kSplit < nkb) load_keys<32>(a, st + ((i + 1) & 1) * kStageHalves, img, head, kb + kSplit, lane);
        cp_async_commit();
        cp_async_wait<1>();
        __syncwarp();
        attend_block(a, qf, st + (i & 1) * kStageHalves, kb, pt);
        __syncwarp();  // the stage is refilled two blocks on
    }
    sum_rows(pt);
    cp_async_wait<0>();
    __syncthreads();  // every warp is done with its stages: they hold the partials now

    float* part = reinterpret_cast<float*>(smem);
    float* mine = part + warp * 16 * kPartPitch;
#pragma unroll
    for (int j = 0; j < kDv / 8; ++j) {
        mine[g * kPartPitch + j * 8 + 2 * t] = pt.o[j][0];
        mine[g * kPartPitch + j * 8 + 2 * t + 1] = pt.o[j][1];
        mine[(g + 8) * kPartPitch + j * 8 + 2 * t] = pt.o[j][2];
        mine[(g + 8) * kPartPitch + j * 8 + 2 * t + 1] = pt.o[j][3];
    }
    if (t == 0) {
        mine[g * kPartPitch + kDv] = pt.m0;
        mine[g * kPartPitch + kDv + 1] = pt.l0;
        mine[(g + 8) * kPartPitch + kDv] = pt.m1;
        mine[(g + 8) * kPartPitch + kDv + 1] = pt.l1;
    }
    __syncthreads();

    // The merge: 8 threads a row, 8 channels each. Warp 0 always has key block 0, so M is finite; a warp without a
    // block has m = -inf and adds nothing.
    constexpr int kPerRow = 32 * kSplit / 16, kCols = kDv / kPerRow;
    const int r = threadIdx.x / kPerRow, c0 = (threadIdx.x % kPerRow) * kCols;
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kSplit; ++w) M = fmaxf(M, part[(w * 16 + r) * kPartPitch + kDv]);
    float L = 0.f, acc[kCols] = {};
#pragma unroll
    for (int w = 0; w < kSplit; ++w) {
        const float* row = part + (w * 16 + r) * kPartPitch;
        const float f = exp2f(row[kDv] - M);
        L += row[kDv + 1] * f;
#pragma unroll
        for (int k = 0; k < kCols; ++k) acc[k] += row[c0 + k] * f;
    }
    if (q0 + r < a.hw) {
        const float inv = 1.f / L;
        __half* out = a.out + (static_cast<int64_t>(img) * a.hw + q0 + r) * a.ldo + head * kDv + c0;
#pragma unroll
        for (int k = 0; k < kCols; k += 2)
            *reinterpret_cast<__half2*>(out + k) = __floats2half2_rn(acc[k] * inv, acc[k + 1] * inv);
    }
    if (a.vout && warp == 0) copy_values(a, img, head, q0);
}

template <int kWarps>
cudaError_t launch(const AttnArgs& a, int64_t N, int heads, cudaStream_t stream) {
    constexpr size_t smem = 2 * kStageHalves * sizeof(__half);  // 27.6 KB: under the 48 KB default
    const dim3 grid(static_cast<unsigned>((a.hw + 16 * kWarps - 1) / (16 * kWarps)), static_cast<unsigned>(heads),
                    static_cast<unsigned>(N));
    attention_kernel<kWarps><<<grid, 32 * kWarps, smem, stream>>>(a);
    return cudaGetLastError();
}

cudaError_t launch_split(const AttnArgs& a, int64_t N, int heads, cudaStream_t stream) {
    constexpr size_t smem = kSplit * 2 * kStageHalves * sizeof(__half);  // 112 KB: over the 48 KB default
    static_assert(kSplit * 16 * kPartPitch * sizeof(float) <= smem, "the partials reuse the stages");
    // Per launch, not once: the attribute is the current device's, and this is legal under stream capture.
    if (const cudaError_t e = cudaFuncSetAttribute(attention_split_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                   static_cast<int>(smem));
        e != cudaSuccess)
        return e;
    const dim3 grid(static_cast<unsigned>((a.hw + 15) / 16), static_cast<unsigned>(heads), static_cast<unsigned>(N));
    attention_split_kernel<<<grid, 32 * kSplit, smem, stream>>>(a);
    return cudaGetLastError();
}

}  // namespace

bool attention_supported(int64_t N, int64_t hw, int heads, int dk, int dv, int64_t ldq, int64_t ldo, int64_t ldv) {
    if (dk != kDk || dv != kDv || N <= 0 || hw <= 0 || heads <= 0 || N > 65535 || heads > 65535) return false;
    const int64_t ch = 2 * dk + dv;
    // 16-byte rows for cp.async and the value copy; every element offset fits 32 bits per image and 64 in all.
    if (ldq % 8 != 0 || ldo % 2 != 0 || ldv % 8 != 0 || ldq < heads * ch || ldo < heads * dv || ldv < heads * dv)
        return false;
    return hw * ldq < (int64_t{1} << 31) && hw * ldo < (int64_t{1} << 31) && hw * ldv < (int64_t{1} << 31);
}

cudaError_t attention_nhwc(const void* qkv, int64_t ldq, void* out, int64_t ldo, void* vout, int64_t ldv, int64_t N,
                           int64_t hw, int heads, int dk, int dv, float scale, cudaStream_t stream) {
    if (!attention_supported(N, hw, heads, dk, dv, ldq, ldo, vout ? ldv : heads * dv) || !detail::aligned(qkv, 16) ||
        !detail::aligned(out, 4) || !detail::aligned(vout, 16))
        return cudaErrorInvalidValue;
    AttnArgs a{};
    a.qkv = static_cast<const __half*>(qkv);
    a.out = static_cast<__half*>(out);
    a.vout = static_cast<__half*>(vout);
    a.ldq = static_cast<int>(ldq);
    a.ldo = static_cast<int>(ldo);
    a.ldv = static_cast<int>(ldv);
    a.hw = static_cast<int>(hw);
    a.ch = 2 * dk + dv;
    a.scale_log2 = scale * 1.4426950408889634f;
    // Four warps a CTA where that still gives a wave of CTAs; two at smaller batches; where even a CTA per 16
    // queries is one per SM or fewer (YOLO11n at 640 on a 132-SM H100 or H200: batches 1 and 2), the keys are split
    // across the warps of a CTA instead. The SM count is the current device's (an attribute read: no sync, legal
    // under stream capture).
    int dev = 0, sms = 0;
    if (const cudaError_t e = cudaGetDevice(&dev); e != cudaSuccess) return e;
    if (const cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev); e != cudaSuccess)
        return e;
    const int64_t ctas4 = N * heads * ((hw + 63) / 64), ctas1 = N * heads * ((hw + 15) / 16);
    if (ctas1 <= sms && hw > kKeys) return launch_split(a, N, heads, stream);
    return ctas4 >= 128 ? launch<4>(a, N, heads, stream) : launch<2>(a, N, heads, stream);
}

}  // namespace itscam::cuda_kernels
