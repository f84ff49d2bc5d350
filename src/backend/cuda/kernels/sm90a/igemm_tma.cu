// Implicit-GEMM convolution on Hopper, fed by the tensor memory accelerator (TMA): variant 6 of igemm_conv_nhwc
// (kernels_impl.h), which the convolution autotune times per layer against cuDNN where ITSCAM_CUDA_IGEMM_VARIANTS
// lists it. sm_90a only, like igemm_wgmma.cu (variants 4 and 5), whose cp.async loads cost each thread a division
// and a window computation per 16 bytes; here no thread computes a load address.
//
// A tile is a box of up to 128 output pixels of one image (8 x 16, or the shape that wastes least on the layer's
// map: tile_grid) by BN output channels. k runs over the taps (r, s) and, within a tap, over blocks of CB input
// channels: 16 or 32 where the layer has that few (YOLO11's large maps have 16 or 32 channels: 64-channel blocks
// would move and multiply 2-4x the data, zeros included), else 64. For each k-block one thread issues two bulk
// tensor copies:
//   - the input box: CB channels x bw columns x bh rows of one image, from a 4-D tensor map (C, W, H, N) whose row
//     pitch is the view's ldx (so strided Concat views need no copy), moved to the tap: (c0, ow0 * sw + s - pl,
//     oh0 * sh + r - pt, n). Its element strides are (1, sw, sh, 1), so a stride-2 layer reads every second pixel.
//     TMA fills coordinates outside the tensor with zeros, the negative ones included: the padding, the pixels past
//     the image's edge and the channels past C cost no instruction;
//   - the weights: CB channels of tap (r, s) for BN output channels, from a 3-D map (C, R*S, K).
// Both land in shared memory in the swizzle of the row's span that wgmma reads (one row of CB channels per pixel or
// per output channel, 32, 64 or 128 bytes: the swizzle of that span), and complete a "full" mbarrier by their byte
// count.
//
// Warp specialization: the CTA is two consumer warpgroups (64 pixel rows each, m64nBNk16 wgmma from shared memory,
// fp32 accumulators in registers) and one producer warp whose lane 0 runs ahead through up to S stages (as many as
// fit two CTAs an SM, at most 8). A stage is refilled once both warpgroups have released it on its "empty"
// mbarrier; nothing in the main loop waits at a __syncthreads. The grid is persistent (CTA b takes tiles b,
// b + gridDim.x, ...), so the producer loads the next tile's first blocks while the consumers finish this one and
// run its epilogue: bias and activation in registers; then, per 16 output channels, each warp's 16 rows go through
// 1 KB of shared memory so that a lane adds the residual to 8 consecutive channels of one row and stores them as 16
// bytes: a row's 32 bytes (a whole L2 sector) per lane pair, where the fragments' own pairs are 4 bytes, 8 rows
// apart. A destination or residual view whose rows are not 16-byte aligned takes the fragments' pairs as they lie.
//
// The same kernel takes FP8 E4M3 operands (launch_tma_fp8, issue 13 item 5): a k-block is then 32, 64 or 128
// channels of one byte, so the tiles, swizzles and descriptors are those of fp16 blocks of half as many channels, and
// each 32-byte step of a row is one k32 E4M3 wgmma instead of a k16 fp16 one. The fp32 sums are multiplied by the
// output channel's scale (the input's scale times the channel's weight scale) before the same fp16 epilogue; with
// an output scale, y is E4M3: the epilogue's value times the channel's output scale, saturated to +-448.
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <climits>

#include "backend/cuda/kernels/igemm_common.cuh"
#include "backend/cuda/kernels/sm90a/wgmma.cuh"

namespace itscam::cuda_kernels::igemm {

namespace {

constexpr int kConsumers = 2;                              // consumer warpgroups
constexpr int kThreads = 128 * kConsumers + 32;            // + the producer warp
constexpr int kBM = 128;  // a tile's GEMM rows: the box's output pixels (at most 128), in row-major box order

// A stage: the input box and the weights of one k-block, rows of RB bytes (32, 64 or 128: the block's channels
// times the element size).
template <int BN, int RB>
__host__ __device__ constexpr int stage_bytes() {
    return (kBM + BN) * RB;
}

// The epilogue's staging: per consumer warp, 16 rows x 16 columns of fp32 (1 KB).
constexpr int kStageFloats = 16 * 16;
constexpr int kEpilogueBytes = 4 * kConsumers * kStageFloats * 4;

// As many stages as fit 100 KB, at most 8: 3-5 for 128-byte rows, 6-8 for 32 and 64. With the barriers, the slice's
// bias and scales and the epilogue's staging, two CTAs fit an SM (2 x 113 KB). 100 KB gives every tile the stages
// 104 KB gave before the staging.
template <int BN, int RB>
__host__ __device__ constexpr int tma_stages() {
    return 100 * 1024 / stage_bytes<BN, RB>() < 8 ? 100 * 1024 / stage_bytes<BN, RB>() : 8;
}

template <int BN, int RB>
constexpr size_t smem_bytes() {
    // The tiles (1024-byte aligned: every swizzle's repeat), a full and an empty barrier per stage, then the CTA's
    // slice of bias, scale and output scale (BN floats each), then the epilogue's staging.
    return static_cast<size_t>(tma_stages<BN, RB>()) * (stage_bytes<BN, RB>() + 16) + 12 * BN + kEpilogueBytes + 1024;
}

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}

__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, int bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

// Waits until the barrier's phase of this parity has completed. A barrier's phase before its first counts as
// completed, so a wait for parity 1 on a fresh barrier returns at once (the producer's first pass over the stages).
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
    uint32_t done = 0;
    do {
        asm volatile(
            "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(bar), "r"(parity)
            : "memory");
    } while (!done);
}

__device__ __forceinline__ void tma_load_4d(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1, int c2,
                                            int c3) {
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, "
        "%6}], [%2];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
        : "memory");
}

__device__ __forceinline__ void tma_load_3d(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1,
                                            int c2) {
    asm volatile(
        "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], "
        "[%2];\n" ::"r"(dst),
        "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
        : "memory");
}

// The tile grid: boxes of bw x bh output pixels, tiles_w x tiles_h of them per image, N images, `slices`
// output-channel slices of BN (innermost, so consecutive tiles read the same input box from L2).
struct Grid {
    int bw, bh, tiles_w, tiles_h, slices;
};

// The box shape with the fewest tiles per image, of widths 16 (8 rows: the default), 8, 32, 64, 128 and the map's
// own width up to 128, each as tall as 128 pixels allow. A map that no width divides wastes less in a box of its
// width: a 20 x 20 map takes 4 boxes of 20 x 6 (78% of the rows used) instead of 6 of 16 x 8 (52%), a 40 x 40 map 14
// of 40 x 3 instead of 15.
Grid tile_grid(int oh, int ow, int slices) {
    Grid best{};
    int64_t best_tiles = INT64_MAX;
    for (const int bw : {16, 8, 32, 64, 128, ow}) {
        if (bw > 128 || bw < 1) continue;
        const int bh = kBM / bw, tiles_w = (ow + bw - 1) / bw, tiles_h = (oh + bh - 1) / bh;
        const int64_t tiles = static_cast<int64_t>(tiles_w) * tiles_h;
        if (tiles < best_tiles) {
            best_tiles = tiles;
            best = Grid{bw, bh, tiles_w, tiles_h, slices};
        }
    }
    return best;
}

// Two CTAs an SM, as the stages are sized for: without the bound, ptxas gave the 128-channel tiles 160 registers a
// thread, one CTA an SM; with it, 96 and no spills.
// T: __half or __nv_fp8_e4m3. RB: a k-block row's bytes, so CB = RB / sizeof(T) channels a block. O8 (FP8 only):
// y is E4M3, each value multiplied by its channel's a.out_scale last.
template <typename T, int KS, int BN, int RB, bool O8>
__global__ void __launch_bounds__(kThreads, 2)
    igemm_tma_kernel(const __grid_constant__ CUtensorMap tx, const __grid_constant__ CUtensorMap tw, const Args a,
                     const Grid grid) {
    constexpr bool kFp8 = sizeof(T) == 1;
    constexpr int CB = RB / static_cast<int>(sizeof(T)), S = tma_stages<BN, RB>(), kRowBytes = RB,
                  kABytes = kBM * kRowBytes, kStageBytes = stage_bytes<BN, RB>(), R = BN / 2;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
    const uint32_t bars = base + S * kStageBytes;  // full[s] at bars + 8 s, empty[s] at bars + 8 (S + s)
    auto full = [&](int s) { return bars + 8u * static_cast<uint32_t>(s); };
    auto empty = [&](int s) { return bars + 8u * static_cast<uint32_t>(S + s); };
    // The launch makes the grid a multiple of the slice count, so every tile of this CTA has the same output
    // channels: their bias and scale are read from global memory once, here, instead of in every tile's epilogue
    // (Nsight Compute put most of the consumers' stalls on those loads: docs/cuda.md, "Our own FP8 kernel").
    float* const sbias = reinterpret_cast<float*>(smem_raw + (bars + 16u * S - smem_addr(smem_raw)));
    float* const sscale = sbias + BN;
    float* const sout = sscale + BN;
    float* const staged = sout + BN + (threadIdx.x >> 5) * kStageFloats;  // this warp's (consumers only)

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int cblocks = (a.C + CB - 1) / CB, nk = KS * KS * cblocks;
    // A box of fewer than 128 pixels leaves the A tile's last rows as they were: they feed only output rows the
    // epilogue skips. The copies complete the box's bytes and the weights'.
    const int box = grid.bw * grid.bh, tx_bytes = (box + BN) * kRowBytes;
    const int first = static_cast<int>(blockIdx.x), stride = static_cast<int>(gridDim.x);
    const int mine = first < a.tiles ? (a.tiles - 1 - first) / stride + 1 : 0;  // tiles this CTA computes

    if (tid == 0) {
        for (int s = 0; s < S; ++s) {
            mbar_init(full(s), 1);                // the producer's arrive; the copies complete its bytes
            mbar_init(empty(s), 4 * kConsumers);  // one arrive per consumer warp
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    {
        const int n0 = (first % grid.slices) * BN;
        for (int i = tid; i < BN; i += kThreads) {
            const bool in = n0 + i < a.K;
            sbias[i] = in && a.bias ? a.bias[n0 + i] : 0.f;
            sscale[i] = in && kFp8 ? a.scale[n0 + i] : 1.f;
            sout[i] = in && O8 ? a.out_scale[n0 + i] : 1.f;
        }
    }
    __syncthreads();

    // Tile i of this CTA: image n, the box's first output row and column, and the first output channel.
    auto tile = [&](int i, int& n, int& oh0, int& ow0, int& n0) {
        const int t = first + i * stride, pt = t / grid.slices;
        n0 = (t - pt * grid.slices) * BN;
        ow0 = (pt % grid.tiles_w) * grid.bw;
        const int q = pt / grid.tiles_w;
        oh0 = (q % grid.tiles_h) * grid.bh;
        n = q / grid.tiles_h;
    };

    if (warp == 4 * kConsumers) {  // the producer warp: lane 0 issues every copy
        if (lane == 0) {
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&tx)) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&tw)) : "memory");
            int slot = 0;
            uint32_t phase = 0;
            for (int i = 0; i < mine; ++i) {
                int n, oh0, ow0, n0;
                tile(i, n, oh0, ow0, n0);
                for (int kb = 0; kb < nk; ++kb) {
                    const int tap = kb / cblocks, c0 = (kb - tap * cblocks) * CB, r = tap / KS, s = tap - r * KS;
                    mbar_wait(empty(slot), phase ^ 1u);
                    mbar_expect_tx(full(slot), tx_bytes);
                    const uint32_t as = base + slot * kStageBytes;
                    tma_load_4d(as, &tx, full(slot), c0, ow0 * a.sw + s - a.pl, oh0 * a.sh + r - a.pt, n);
                    tma_load_3d(as + kABytes, &tw, full(slot), c0, tap, n0);
                    if (++slot == S) {
                        slot = 0;
                        phase ^= 1u;
                    }
                }
            }
        }
        return;
    }

    // The consumers: warpgroup wg owns the tile's rows (box pixels) 64 wg .. 64 wg + 63.
    const int wg = warp >> 2, wq = warp & 3, g = lane >> 2, t4 = lane & 3;
    int slot = 0;
    uint32_t phase = 0;
    float acc[R];
    // The staged epilogue stores 16 bytes of fp16 (8 of E4M3) a lane: it needs rows and pointers that keep them
    // aligned (igemm_conv_fp8_nhwc refuses E4M3 output without). Else each lane stores its fragment's fp16 pairs
    // where they lie.
    constexpr int kOutBytes = O8 ? 8 : 16;
    const bool vec = O8 || (a.ldy % 8 == 0 && reinterpret_cast<uintptr_t>(a.y) % kOutBytes == 0 &&
                            (!a.res || (a.ldr % 8 == 0 && reinterpret_cast<uintptr_t>(a.res) % 16 == 0)));
    // A warp releases a stage once the wgmma that read it has retired: one wgmma group stays in flight while the
    // next block's wait and issue run, so a block's release comes one block late, and the tile's last at its end.
    auto release = [&](int s) {
        __syncwarp();
        if (lane == 0) mbar_arrive(empty(s));
    };
    for (int i = 0; i < mine; ++i) {
#pragma unroll
        for (int e = 0; e < R; ++e) acc[e] = 0.f;
        int prev = -1;
        for (int kb = 0; kb < nk; ++kb) {
            mbar_wait(full(slot), phase);
            const uint32_t as = base + slot * kStageBytes + wg * (64 * kRowBytes);
            const uint32_t bs = base + slot * kStageBytes + kABytes;
            fence_operands(acc);
            wgmma_fence();
            // One instruction per 32 bytes of the rows: k16 in fp16, k32 in FP8.
#pragma unroll
            for (int k = 0; k < kRowBytes / 32; ++k) {
                const uint64_t da = smem_desc<kRowBytes>(as + k * 32), db = smem_desc<kRowBytes>(bs + k * 32);
                if constexpr (kFp8) {
                    WgmmaE4M3<BN>::mma(acc, da, db);
                } else {
                    Wgmma<BN>::mma(acc, da, db);
                }
            }
            wgmma_commit();
            wgmma_wait<1>();
            fence_operands(acc);
            if (prev >= 0) release(prev);
            prev = slot;
            if (++slot == S) {
                slot = 0;
                phase ^= 1u;
            }
        }
        wgmma_wait<0>();
        fence_operands(acc);
        release(prev);
        // The epilogue: registers 4j .. 4j+3 hold columns 8j + 2t, +1 of rows g and g + 8 of the warp's 16.
        int n, oh0, ow0, n0;
        tile(i, n, oh0, ow0, n0);
        // m[h]: the output pixel of the tile's row (box pixel) g + 8h of this warp's 16, and m[2] that of row
        // lane / 2, which the staged epilogue stores; -1 where the row lies past the box or the map. Worked out
        // here, not kept in registers through the main loop.
        int m[3];
#pragma unroll
        for (int h = 0; h < 3; ++h) {
            const int row = wg * 64 + wq * 16 + (h < 2 ? g + 8 * h : lane >> 1), by = row / grid.bw;
            const int oh = oh0 + by, ow = ow0 + row - by * grid.bw;
            m[h] = row < box && oh < a.OH && ow < a.OW ? (n * a.OH + oh) * a.OW + ow : -1;
        }
        with_epilogue(a, [&](const auto& ep) {
            // act(sum x scale + bias) of registers 4j + 2h, +1 (columns 8j + 2t of row g + 8h).
            auto value = [&](int j, int h, int c) {
                const float2 b = *reinterpret_cast<const float2*>(sbias + c);
                float s0 = acc[4 * j + 2 * h], s1 = acc[4 * j + 2 * h + 1];
                if constexpr (kFp8) {
                    const float2 sc = *reinterpret_cast<const float2*>(sscale + c);
                    s0 *= sc.x;
                    s1 *= sc.y;
                }
                return make_float2(ep.act(s0 + b.x), ep.act(s1 + b.y));
            };
            if (vec) {
                // Per 16 columns: the warp's 16 x 16 values go through shared memory (the row's four 4-float units
                // XOR-swizzled by 3 on rows 2-3 of every 4, so neither the fragments' 8-byte writes nor the rows'
                // 16-byte reads meet a bank twice), then lane l adds the residual to columns 8 (l % 2) .. + 7 of
                // row l / 2 and stores them: 32 bytes of a row (a whole sector) per lane pair.
                auto at = [](int r, int c) { return r * 16 + ((((c >> 2) ^ (((r >> 1) & 1) * 3))) << 2) + (c & 3); };
                const int half = lane & 1;
#pragma unroll
                for (int p = 0; p < BN / 16; ++p) {
                    if (n0 + p * 16 >= a.K) break;
#pragma unroll
                    for (int jj = 0; jj < 2; ++jj)
#pragma unroll
                        for (int h = 0; h < 2; ++h)
                            *reinterpret_cast<float2*>(staged + at(g + 8 * h, 8 * jj + 2 * t4)) =
                                value(2 * p + jj, h, 16 * p + 8 * jj + 2 * t4);
                    __syncwarp();
                    const int c = 16 * p + 8 * half, col = n0 + c;
                    if (m[2] >= 0 && col < a.K) {
                        // In two halves of 4 values, to keep the registers the accumulators leave free.
                        uint32_t w[4];
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            float4 v = *reinterpret_cast<const float4*>(staged + at(lane >> 1, 8 * half + 4 * e));
                            if (a.res) {
                                const uint2 rv = *reinterpret_cast<const uint2*>(a.res + m[2] * a.ldr + col + 4 * e);
                                const float2 r0 = __half22float2(*reinterpret_cast<const __half2*>(&rv.x));
                                const float2 r1 = __half22float2(*reinterpret_cast<const __half2*>(&rv.y));
                                v.x += r0.x;
                                v.y += r0.y;
                                v.z += r1.x;
                                v.w += r1.y;
                            }
                            if constexpr (O8) {
                                const float4 so = *reinterpret_cast<const float4*>(sout + c + 4 * e);
                                w[e] = static_cast<uint32_t>(__nv_cvt_float2_to_fp8x2(
                                           make_float2(v.x * so.x, v.y * so.y), __NV_SATFINITE, __NV_E4M3)) |
                                       static_cast<uint32_t>(__nv_cvt_float2_to_fp8x2(
                                           make_float2(v.z * so.z, v.w * so.w), __NV_SATFINITE, __NV_E4M3))
                                           << 16;
                            } else {
                                const __half2 h0 = __floats2half2_rn(v.x, v.y), h1 = __floats2half2_rn(v.z, v.w);
                                w[2 * e] = *reinterpret_cast<const uint32_t*>(&h0);
                                w[2 * e + 1] = *reinterpret_cast<const uint32_t*>(&h1);
                            }
                        }
                        if constexpr (O8) {
                            *reinterpret_cast<uint2*>(reinterpret_cast<unsigned char*>(a.y) + m[2] * a.ldy + col) =
                                make_uint2(w[0], w[1]);
                        } else {
                            *reinterpret_cast<uint4*>(a.y + m[2] * a.ldy + col) = make_uint4(w[0], w[1], w[2], w[3]);
                        }
                    }
                    __syncwarp();
                }
                return;
            }
            if constexpr (!O8) {  // E4M3 output is always staged (vec)
#pragma unroll
                for (int j = 0; j < BN / 8; ++j) {
                    const int c = j * 8 + 2 * t4, col = n0 + c;
                    if (col >= a.K) continue;  // K % 8 == 0, so col + 1 < K too
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        if (m[h] < 0) continue;
                        const float2 v = value(j, h, c);
                        ep.put(m[h], col, v.x, v.y);
                    }
                }
            }
        });
    }
}

// cuTensorMapEncodeTiled from the driver, found through the runtime (nothing links libcuda). Null where the driver
// lacks it.
PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
    static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void* p = nullptr;
        cudaDriverEntryPointQueryResult q{};
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) !=
                cudaSuccess ||
            q != cudaDriverEntryPointSuccess)
            p = nullptr;
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
    }();
    return fn;
}

// One tensor map of fp16 or 1-byte elements (esize) whose box rows (box[0] elements) land in the swizzle of their
// span in bytes, out-of-bounds elements read as zero.
cudaError_t encode_map(CUtensorMap* map, cuuint32_t rank, const void* base, int esize, const cuuint64_t* dims,
                       const cuuint64_t* strides, const cuuint32_t* box, const cuuint32_t* element_strides) {
    const cuuint32_t span = box[0] * static_cast<cuuint32_t>(esize);
    const CUtensorMapSwizzle swizzle = span == 32   ? CU_TENSOR_MAP_SWIZZLE_32B
                                       : span == 64 ? CU_TENSOR_MAP_SWIZZLE_64B
                                                    : CU_TENSOR_MAP_SWIZZLE_128B;
    const PFN_cuTensorMapEncodeTiled_v12000 encode = encode_tiled();
    if (!encode) return cudaErrorNotSupported;
    return encode(map, esize == 2 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_UINT8, rank,
                  const_cast<void*>(base), dims, strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                  CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS
               ? cudaSuccess
               : cudaErrorInvalidValue;
}

// The two tensor maps of a layer, x and w of esize-byte elements. The input's 4-D map has the view's row pitch
// (ldx) and the stride's element strides; both boxes are cb channels wide.
cudaError_t encode_maps(const Args& a, const void* x, const void* w, int esize, const Grid& grid, int ks, int bn,
                        int cb, CUtensorMap* tx, CUtensorMap* tw) {
    const cuuint64_t xdim[4] = {static_cast<cuuint64_t>(a.C), static_cast<cuuint64_t>(a.W),
                                static_cast<cuuint64_t>(a.H), static_cast<cuuint64_t>(a.N)};
    const cuuint64_t row = static_cast<cuuint64_t>(a.ldx) * esize;
    const cuuint64_t xstride[3] = {row, row * a.W, row * a.W * a.H};
    const cuuint32_t xbox[4] = {static_cast<cuuint32_t>(cb), static_cast<cuuint32_t>(grid.bw * a.sw),
                                static_cast<cuuint32_t>(grid.bh * a.sh), 1};
    const cuuint32_t xel[4] = {1, static_cast<cuuint32_t>(a.sw), static_cast<cuuint32_t>(a.sh), 1};
    if (const cudaError_t e = encode_map(tx, 4, x, esize, xdim, xstride, xbox, xel); e != cudaSuccess) return e;
    const cuuint64_t wdim[3] = {static_cast<cuuint64_t>(a.C), static_cast<cuuint64_t>(ks * ks),
                                static_cast<cuuint64_t>(a.K)};
    const cuuint64_t wrow = static_cast<cuuint64_t>(a.C) * esize;
    const cuuint64_t wstride[2] = {wrow, wrow * ks * ks};
    const cuuint32_t wbox[3] = {static_cast<cuuint32_t>(cb), 1, static_cast<cuuint32_t>(bn)};
    const cuuint32_t wel[3] = {1, 1, 1};
    return encode_map(tw, 3, w, esize, wdim, wstride, wbox, wel);
}

template <typename T, int KS, int BN, int RB, bool O8>
cudaError_t launch(Args a, const void* x, const void* w, cudaStream_t stream) {
    auto kernel = igemm_tma_kernel<T, KS, BN, RB, O8>;
    constexpr int esize = static_cast<int>(sizeof(T));
    constexpr size_t smem = smem_bytes<BN, RB>();
    LaunchConfig cfg;
    if (const cudaError_t e = launch_config(kernel, kThreads, smem, &cfg, smem); e != cudaSuccess) return e;
    const Grid grid = tile_grid(a.OH, a.OW, (a.K + BN - 1) / BN);
    const int64_t tiles = static_cast<int64_t>(a.N) * grid.tiles_h * grid.tiles_w * grid.slices;
    if (tiles > INT_MAX) return cudaErrorInvalidValue;
    a.tiles = static_cast<int>(tiles);
    alignas(64) CUtensorMap tx, tw;
    if (const cudaError_t e = encode_maps(a, x, w, esize, grid, KS, BN, RB / esize, &tx, &tw); e != cudaSuccess)
        return e;
    // A multiple of the slice count (tiles is one), so that each CTA keeps one output-channel slice.
    int64_t ctas = std::min<int64_t>(tiles, static_cast<int64_t>(cfg.sms) * cfg.per_sm);
    ctas = ctas < grid.slices ? grid.slices : ctas - ctas % grid.slices;
    kernel<<<static_cast<unsigned>(ctas), kThreads, smem, stream>>>(tx, tw, a, grid);
    return cudaGetLastError();
}

// The narrowest tile that covers K (with_tile_width), as variant 4, and the narrowest channel block that covers C:
// rows of 32, 64 or 128 bytes (fp16: 16, 32, else 64 channels; FP8: 32, 64, else 128).
template <typename T, bool O8>
cudaError_t launch_narrowest(const Args& a, const void* x, const void* w, int kh, cudaStream_t stream) {
    constexpr int esize = static_cast<int>(sizeof(T));
    return with_tile_width(a.K, [&](auto bn) {
        constexpr int BN = decltype(bn)::value;
        auto run = [&](auto rb) {
            constexpr int RB = decltype(rb)::value;
            return kh == 3 ? launch<T, 3, BN, RB, O8>(a, x, w, stream) : launch<T, 1, BN, RB, O8>(a, x, w, stream);
        };
        if (a.C * esize <= 32) return run(std::integral_constant<int, 32>{});
        return a.C * esize <= 64 ? run(std::integral_constant<int, 64>{}) : run(std::integral_constant<int, 128>{});
    });
}

}  // namespace

cudaError_t launch_tma(const Args& a, int kh, cudaStream_t stream) {
    return launch_narrowest<__half, false>(a, a.x, a.w, kh, stream);
}

cudaError_t launch_tma_fp8(const Args& a, const void* x8, const void* w8, int kh, cudaStream_t stream) {
    return a.out_scale ? launch_narrowest<__nv_fp8_e4m3, true>(a, x8, w8, kh, stream)
                       : launch_narrowest<__nv_fp8_e4m3, false>(a, x8, w8, kh, stream);
}

}  // namespace itscam::cuda_kernels::igemm
