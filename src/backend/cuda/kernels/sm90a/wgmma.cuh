// Hopper's warpgroup matrix instruction (wgmma) as the sm_90a kernels use it (nvcc, sm_90a only): the m64nNk16
// fp16 instruction and the m64nNk32 FP8 E4M3 one, both with fp32 accumulators for N = 16, 32, 64 and 128, both
// operands read from shared memory through matrix descriptors of K-major tiles in the 32-, 64- or 128-byte swizzle
// (a step of either instruction reads 32 bytes of each row), and the fence, commit and wait around it.
// igemm_wgmma.cu (cp.async-fed) and igemm_tma.cu (TMA-fed, warp-specialized) both use it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

namespace itscam::cuda_kernels::igemm {

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "the kernels of sm90a/ are sm_90a code: build them for the architecture 90a only (src/CMakeLists.txt)"
#endif

// Pipeline depth of a CTA of 128 pixel rows x BN output channels, 128-byte k-block rows, so that two CTAs fit an
// SM (2 x 113 KB of shared memory) at every tile width.
template <int BN>
__host__ __device__ constexpr int stages() {
    return BN >= 128 ? 3 : BN >= 32 ? 4 : 5;
}

// The tile width a layer of k output channels runs with: the narrowest of 16, 32, 64 or 128 that covers k (tiles of
// 128 past 128). Calls f(std::integral_constant<int, BN>{}) and returns what it returns.
template <typename F>
cudaError_t with_tile_width(int k, F&& f) {
    if (k <= 16) return f(std::integral_constant<int, 16>{});
    if (k <= 32) return f(std::integral_constant<int, 32>{});
    return k <= 64 ? f(std::integral_constant<int, 64>{}) : f(std::integral_constant<int, 128>{});
}

// The shared-memory matrix descriptor of a K-major tile whose rows are RowBytes long (32, 64 or 128: 16, 32 or 64
// halves of k) in the swizzle of that span: start address, the stride between 8-row groups (8 rows), and the layout
// type (1: 128-byte, 2: 64-byte, 3: 32-byte swizzle). The leading-dimension offset is unused in these layouts. A
// k16 step within a row advances the start address by 32 bytes; the tile must sit on the swizzle's repeat
// (8 x RowBytes), since the hardware swizzles absolute shared-memory addresses.
template <int RowBytes = 128>
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
    static_assert(RowBytes == 32 || RowBytes == 64 || RowBytes == 128, "swizzles of 32, 64 or 128 bytes");
    constexpr uint64_t layout = RowBytes == 128 ? 1 : RowBytes == 64 ? 2 : 3;
    uint64_t d = static_cast<uint64_t>((addr & 0x3FFFF) >> 4);
    d |= static_cast<uint64_t>(1) << 16;
    d |= static_cast<uint64_t>(8 * RowBytes >> 4) << 32;
    d |= layout << 62;
    return d;
}

// The accumulator operands of an instruction of width N (N / 2 fp32 registers a thread): "+f" on d[0..N/2) as
// inline-asm operands, and their "{%0, ...}" list in the instruction text. The matrix descriptors and the scale-d
// predicate's source follow them as operands N/2, N/2 + 1 and N/2 + 2.
#define ITSCAM_WGMMA_ACC8(p) \
    "+f"((p)[0]), "+f"((p)[1]), "+f"((p)[2]), "+f"((p)[3]), "+f"((p)[4]), "+f"((p)[5]), "+f"((p)[6]), "+f"((p)[7])
#define ITSCAM_WGMMA_ACC16(p) ITSCAM_WGMMA_ACC8(p), ITSCAM_WGMMA_ACC8((p) + 8)
#define ITSCAM_WGMMA_ACC32(p) ITSCAM_WGMMA_ACC16(p), ITSCAM_WGMMA_ACC16((p) + 16)
#define ITSCAM_WGMMA_ACC64(p) ITSCAM_WGMMA_ACC32(p), ITSCAM_WGMMA_ACC32((p) + 32)
#define ITSCAM_WGMMA_REGS8 "{%0, %1, %2, %3, %4, %5, %6, %7}"
#define ITSCAM_WGMMA_REGS16 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}"
#define ITSCAM_WGMMA_REGS32                                                                                      \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, " \
    "%23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define ITSCAM_WGMMA_REGS64                                                                                          \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "     \
    "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, " \
    "%45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

// One wrapper, Struct<N>::mma(d, da, db): INSTR (the instruction's name, shape and types) on the accumulators (ACC:
// their operands, REGS: their list), the descriptors da and db (operands N/2 and N/2 + 1: DA, DB) and scale-d = 1
// (its predicate's source is operand N/2 + 2: P), then IMM, the instruction's trailing immediates.
#define ITSCAM_WGMMA_WRAPPER(Struct, N, INSTR, ACC, REGS, DA, DB, P, IMM)                                    \
    template <>                                                                                              \
    struct Struct<N> {                                                                                       \
        static __device__ __forceinline__ void mma(float (&d)[(N) / 2], uint64_t da, uint64_t db) {          \
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #P ", 0;\n" INSTR " " REGS ", %" #DA ", %" #DB \
                         ", p, " IMM ";\n}\n"                                                                \
                         : ACC(d)                                                                            \
                         : "l"(da), "l"(db), "r"(1));                                                        \
        }                                                                                                    \
    };

// The four widths of one instruction, m64nNKIND (KIND: its k, accumulator and operand types).
#define ITSCAM_WGMMA_WIDTHS(Struct, KIND, IMM)                                                         \
    ITSCAM_WGMMA_WRAPPER(Struct, 16, "wgmma.mma_async.sync.aligned.m64n16" KIND, ITSCAM_WGMMA_ACC8,    \
                         ITSCAM_WGMMA_REGS8, 8, 9, 10, IMM)                                            \
    ITSCAM_WGMMA_WRAPPER(Struct, 32, "wgmma.mma_async.sync.aligned.m64n32" KIND, ITSCAM_WGMMA_ACC16,   \
                         ITSCAM_WGMMA_REGS16, 16, 17, 18, IMM)                                         \
    ITSCAM_WGMMA_WRAPPER(Struct, 64, "wgmma.mma_async.sync.aligned.m64n64" KIND, ITSCAM_WGMMA_ACC32,   \
                         ITSCAM_WGMMA_REGS32, 32, 33, 34, IMM)                                         \
    ITSCAM_WGMMA_WRAPPER(Struct, 128, "wgmma.mma_async.sync.aligned.m64n128" KIND, ITSCAM_WGMMA_ACC64, \
                         ITSCAM_WGMMA_REGS64, 64, 65, 66, IMM)

// fp16, k16: the two 1s scale A and B by +1, the two 0s leave both K-major (not transposed).
template <int N>
struct Wgmma;
ITSCAM_WGMMA_WIDTHS(Wgmma, "k16.f32.f16.f16", "1, 1, 0, 0")

// FP8 E4M3, k32: both operands K-major (the only layout wgmma takes for 8-bit types), so it has no transpose
// immediates; the two 1s scale A and B by +1.
template <int N>
struct WgmmaE4M3;
ITSCAM_WGMMA_WIDTHS(WgmmaE4M3, "k32.f32.e4m3.e4m3", "1, 1")

__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}

__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

template <int N>
__device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

// Keeps the compiler from moving accumulator reads or writes across the asynchronous wgmma that owns them.
template <int R>
__device__ __forceinline__ void fence_operands(float (&d)[R]) {
#pragma unroll
    for (int i = 0; i < R; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

}  // namespace itscam::cuda_kernels::igemm
