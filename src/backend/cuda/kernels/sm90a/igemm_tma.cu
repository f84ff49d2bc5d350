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
// run its epilogue: bias, activation and residual in registers, written as half2 into the strided destination view
// (Epilogue, igemm_common.cuh).
//
// The same kernel takes FP8 E4M3 operands (launch_tma_fp8, issue 13 item 5): a k-block is then 32, 64 or 128
// channels of one byte, so the tiles, swizzles and descriptors are those of fp16 blocks of half as many channels, and
// each 32-byte step of a row is one k32 E4M3 wgmma instead of a k16 fp16 one. The fp32 sums are multiplied by the
// output channel's scale (the input's scale times the channel's weight scale) before the same fp16 epilogue.
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

// As many stages as fit 104 KB (two CTAs an SM), at most 8: 3-5 for 128-byte rows, 6-8 for 32 and 64.
template <int BN, int RB>
__host__ __device__ constexpr int tma_stages() {
    return 104 * 1024 / stage_bytes<BN, RB>() < 8 ? 104 * 1024 / stage_bytes<BN, RB>() : 8;
}

template <int BN, int RB>
constexpr size_t smem_bytes() {
    // The tiles (1024-byte aligned: every swizzle's repeat), then a full and an empty barrier per stage.
    return static_cast<size_t>(tma_stages<BN, RB>()) * (stage_bytes<BN, RB>() + 16) + 1024;
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
// T: __half or __nv_fp8_e4m3. RB: a k-block row's bytes, so CB = RB / sizeof(T) channels a block.
template <typename T, int KS, int BN, int RB>
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
    // The box pixel of this thread's two tile rows, the same in every tile (by -1: a row past the box).
    int by[2], bx[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = wg * 64 + wq * 16 + g + 8 * h, q = row / grid.bw;
        by[h] = row < box ? q : -1;
        bx[h] = row - q * grid.bw;
    }
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
        // The epilogue: registers 4j .. 4j+3 hold columns 8j + 2t, +1 of rows g and g + 8 of the warp's 16 (box
        // pixels by[h], bx[h]); m[h] is the row's output pixel, -1 where it lies past the box or the map.
        int n, oh0, ow0, n0;
        tile(i, n, oh0, ow0, n0);
        int m[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int oh = oh0 + by[h], ow = ow0 + bx[h];
            m[h] = by[h] >= 0 && oh < a.OH && ow < a.OW ? (n * a.OH + oh) * a.OW + ow : -1;
        }
        with_epilogue(a, [&](const auto& ep) {
#pragma unroll
            for (int j = 0; j < BN / 8; ++j) {
                const int col = n0 + j * 8 + 2 * t4;
                if (col >= a.K) continue;  // K % 8 == 0, so col + 1 < K too
                const float2 b = ep.bias(col);
                float2 sc = make_float2(1.f, 1.f);
                if constexpr (kFp8) sc = make_float2(__ldg(a.scale + col), __ldg(a.scale + col + 1));
#pragma unroll
                for (int h = 0; h < 2; ++h)
                    if (m[h] >= 0) ep.store(m[h], col, acc[4 * j + 2 * h] * sc.x, acc[4 * j + 2 * h + 1] * sc.y, b);
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

template <typename T, int KS, int BN, int RB>
cudaError_t launch(Args a, const void* x, const void* w, cudaStream_t stream) {
    auto kernel = igemm_tma_kernel<T, KS, BN, RB>;
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
    const int64_t ctas = std::min<int64_t>(tiles, static_cast<int64_t>(cfg.sms) * cfg.per_sm);
    kernel<<<static_cast<unsigned>(ctas), kThreads, smem, stream>>>(tx, tw, a, grid);
    return cudaGetLastError();
}

// The narrowest tile that covers K (with_tile_width), as variant 4, and the narrowest channel block that covers C:
// rows of 32, 64 or 128 bytes (fp16: 16, 32, else 64 channels; FP8: 32, 64, else 128).
template <typename T>
cudaError_t launch_narrowest(const Args& a, const void* x, const void* w, int kh, cudaStream_t stream) {
    constexpr int esize = static_cast<int>(sizeof(T));
    return with_tile_width(a.K, [&](auto bn) {
        constexpr int BN = decltype(bn)::value;
        auto run = [&](auto rb) {
            constexpr int RB = decltype(rb)::value;
            return kh == 3 ? launch<T, 3, BN, RB>(a, x, w, stream) : launch<T, 1, BN, RB>(a, x, w, stream);
        };
        if (a.C * esize <= 32) return run(std::integral_constant<int, 32>{});
        return a.C * esize <= 64 ? run(std::integral_constant<int, 64>{}) : run(std::integral_constant<int, 128>{});
    });
}

}  // namespace

cudaError_t launch_tma(const Args& a, int kh, cudaStream_t stream) {
    return launch_narrowest<__half>(a, a.x, a.w, kh, stream);
}

cudaError_t launch_tma_fp8(const Args& a, const void* x8, const void* w8, int kh, cudaStream_t stream) {
    return launch_narrowest<__nv_fp8_e4m3>(a, x8, w8, kh, stream);
}

}  // namespace itscam::cuda_kernels::igemm
