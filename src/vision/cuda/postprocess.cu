// GPU YOLO decode + batched class-aware NMS, two kernels:
//   decode_kernel  one thread per (anchor, image): argmax over the class rows (coalesced across anchors), conf and
//                  class filters, and a compaction of the candidates into a per-image list of 64-bit sort keys
//                  (score descending, anchor ascending: unique keys, so any sort reproduces the CPU's stable sort).
//   nms_kernel     one block per image: bitonic sort of the keys, cut to max_nms, box decoding, then greedy NMS
//                  in tiles of 32 survivors (exact greedy order inside a tile by one warp, then one block-wide
//                  suppression pass per tile) until max_det boxes are kept.
// After thresholding an image has few candidates, so everything of nms_kernel lives in shared memory when the image
// has at most kSmemCandidates candidates; above that (very low conf thresholds) the same code runs on per-image
// global scratch instead.
//
// Bit-exactness with vision/postprocess.cpp: floating-point comparisons are done with inline PTX without .ftz (so
// --use_fast_math's flush-to-zero cannot change an argmax or a threshold on denormals), the box corners use
// __fdiv_rn/__fadd_rn/__fsub_rn and the IoU is evaluated in double with __d*_rn intrinsics in the CPU's operation
// order, so that no FMA contraction happens.
#include "vision/cuda/postprocess_impl.h"

namespace itscam::vision::cuda_impl {

namespace {

constexpr int kDecodeBlock = 256;
constexpr int kNmsBlock = 512;
constexpr int kSmemCandidates = 4096;  // power of two; 29 bytes each in shared memory (116 KiB at most)
constexpr int kMinSmemCandidates = 32;
constexpr int kTile = 32;  // greedy NMS tile (one warp)
constexpr size_t kSmemPerCandidate = sizeof(unsigned long long) + sizeof(float4) + sizeof(int) + 1;

size_t align_up(size_t v, size_t a) {
    return (v + a - 1) / a * a;
}

__host__ __device__ __forceinline__ int pow2_ceil(int v) {
    int p = 1;
    while (p < v) p <<= 1;
    return p;
}

// Scratch layout for `batch` images of `anchors` anchors; P = pow2_ceil(anchors) keys per image so that the global
// fallback can sort in place.
struct ScratchLayout {
    size_t counts, keys, cls_anchor, cls_sorted, boxes, removed, total;
    int key_stride;
};

ScratchLayout scratch_layout(int batch, int anchors) {
    ScratchLayout l{};
    const size_t b = static_cast<size_t>(batch), a = static_cast<size_t>(anchors);
    l.key_stride = pow2_ceil(anchors);
    size_t off = 0;
    l.counts = off;
    off = align_up(off + b * sizeof(int), 256);
    l.keys = off;
    off = align_up(off + b * l.key_stride * sizeof(unsigned long long), 256);
    l.cls_anchor = off;
    off = align_up(off + b * a * sizeof(int), 256);
    l.cls_sorted = off;
    off = align_up(off + b * a * sizeof(int), 256);
    l.boxes = off;
    off = align_up(off + b * a * sizeof(float4), 256);
    l.removed = off;
    off = align_up(off + b * a, 256);
    l.total = off;
    return l;
}

// a > b as IEEE says (false on NaN), immune to flush-to-zero.
__device__ __forceinline__ bool gt_ieee(float a, float b) {
    unsigned r;
    asm("{\n\t.reg .pred p;\n\tsetp.gt.f32 p, %1, %2;\n\tselp.u32 %0, 1, 0, p;\n\t}" : "=r"(r) : "f"(a), "f"(b));
    return r != 0;
}

// Sort key: ascending keys = descending score, then ascending anchor. -0.0 is folded into +0.0 so that the two
// compare equal as on the CPU (their order then follows the anchor index).
__device__ __forceinline__ unsigned long long make_key(float score, int anchor) {
    unsigned u = __float_as_uint(score);
    if ((u & 0x7fffffffu) == 0) u = 0;
    const unsigned ord = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // monotonic in the float value
    return (static_cast<unsigned long long>(~ord) << 32) | static_cast<unsigned>(anchor);
}

__device__ __forceinline__ float key_score(unsigned long long key) {
    const unsigned ord = ~static_cast<unsigned>(key >> 32);
    const unsigned u = (ord & 0x80000000u) ? (ord & 0x7fffffffu) : ~ord;
    return __uint_as_float(u);
}

__device__ __forceinline__ int key_anchor(unsigned long long key) {
    return static_cast<int>(static_cast<unsigned>(key & 0xffffffffu));
}

__global__ void __launch_bounds__(kDecodeBlock)
    decode_kernel(const float* __restrict__ out, int channels, int anchors, int key_stride, float conf,
                  const int* __restrict__ classes, int num_classes, int* __restrict__ counts,
                  unsigned long long* __restrict__ keys, int* __restrict__ cls_anchor) {
    const int a = blockIdx.x * kDecodeBlock + threadIdx.x;
    const int b = blockIdx.y;
    if (a >= anchors) return;
    const size_t A = static_cast<size_t>(anchors);
    const float* scores = out + static_cast<size_t>(b) * channels * A + 4 * A + a;
    const int nc = channels - 4;
    float best = scores[0];
    int best_cls = 0;
#pragma unroll 4
    for (int c = 1; c < nc; ++c) {
        const float v = scores[static_cast<size_t>(c) * A];
        if (gt_ieee(v, best)) {  // strict: the first maximum wins, like numpy's argmax
            best = v;
            best_cls = c;
        }
    }
    if (!gt_ieee(best, conf)) return;
    if (num_classes > 0) {
        bool allowed = false;
        for (int k = 0; k < num_classes; ++k) allowed |= classes[k] == best_cls;
        if (!allowed) return;
    }
    const int slot = atomicAdd(counts + b, 1);
    keys[static_cast<size_t>(b) * key_stride + slot] = make_key(best, a);
    cls_anchor[static_cast<size_t>(b) * A + a] = best_cls;
}

// Ascending bitonic sort of keys[0, n) by the whole block; n is a power of two. Works on shared or global memory.
__device__ void bitonic_sort(unsigned long long* keys, int n) {
    const int half = n >> 1;
    for (int k = 2; k <= n; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int p = threadIdx.x; p < half; p += blockDim.x) {
                const int i = ((p & ~(j - 1)) << 1) | (p & (j - 1));  // i has bit j clear; partner i + j
                const unsigned long long x = keys[i], y = keys[i + j];
                const bool ascending = (i & k) == 0;
                if ((x > y) == ascending) {
                    keys[i] = y;
                    keys[i + j] = x;
                }
            }
            __syncthreads();
        }
    }
}

// std::min / std::max of the CPU code, with their exact NaN behaviour.
__device__ __forceinline__ double std_min(double a, double b) {
    return b < a ? b : a;
}
__device__ __forceinline__ double std_max(double a, double b) {
    return a < b ? b : a;
}

struct BoxD {
    double x1, y1, x2, y2, area;
};

__device__ __forceinline__ BoxD offset_box(float4 b, int cls, bool agnostic, double max_wh) {
    const double off = agnostic ? 0.0 : __dmul_rn(static_cast<double>(cls), max_wh);
    BoxD d;
    d.x1 = __dadd_rn(static_cast<double>(b.x), off);
    d.y1 = __dadd_rn(static_cast<double>(b.y), off);
    d.x2 = __dadd_rn(static_cast<double>(b.z), off);
    d.y2 = __dadd_rn(static_cast<double>(b.w), off);
    d.area = __dmul_rn(__dsub_rn(d.x2, d.x1), __dsub_rn(d.y2, d.y1));
    return d;
}

// nms_sorted_limited's test, same operation order: suppress j when !(iou <= thr) (a NaN IoU suppresses).
__device__ __forceinline__ bool suppresses(const BoxD& i, const BoxD& j, double thr) {
    const double w = std_max(__dsub_rn(std_min(i.x2, j.x2), std_max(i.x1, j.x1)), 0.0);
    const double h = std_max(__dsub_rn(std_min(i.y2, j.y2), std_max(i.y1, j.y1)), 0.0);
    const double inter = __dmul_rn(w, h);
    const double den = __dadd_rn(__dsub_rn(__dadd_rn(i.area, j.area), inter), 1e-9);
    // Disjoint boxes (every pair of different classes in class-aware NMS): 0 / den is +-0 unless den is 0 or NaN,
    // and +-0 <= thr alike, so the division can be skipped without changing the outcome.
    if (inter == 0.0 && den != 0.0 && den == den) return !(0.0 <= thr);
    const double iou = __ddiv_rn(inter, den);
    return !(iou <= thr);
}

__global__ void __launch_bounds__(kNmsBlock)
    nms_kernel(const float* __restrict__ out, int channels, int anchors, int key_stride, int smem_cap,
               DecodeNmsParams p, const int* __restrict__ counts, unsigned long long* g_keys,
               const int* __restrict__ g_cls_anchor, int* g_cls, float4* g_boxes, unsigned char* g_removed,
               int* __restrict__ res_counts, GpuDetection* __restrict__ res_dets) {
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ int s_tile[kTile];
    __shared__ BoxD s_tile_box[kTile];
    __shared__ BoxD s_kept_box[kTile];
    __shared__ int s_cur, s_kept, s_nkeep, s_done;
    const int b = blockIdx.x;
    const int tid = threadIdx.x;
    const size_t A = static_cast<size_t>(anchors);
    const int n = min(counts[b], anchors);

    // Candidates: shared memory when they fit, else this image's slice of the global scratch.
    const bool in_smem = n <= smem_cap;
    unsigned long long* keys = g_keys + static_cast<size_t>(b) * key_stride;
    float4* boxes = g_boxes + static_cast<size_t>(b) * A;
    int* cls = g_cls + static_cast<size_t>(b) * A;
    unsigned char* removed = g_removed + static_cast<size_t>(b) * A;
    if (in_smem) {
        unsigned long long* s_keys = reinterpret_cast<unsigned long long*>(smem);
        for (int i = tid; i < n; i += blockDim.x) s_keys[i] = keys[i];
        keys = s_keys;
        boxes = reinterpret_cast<float4*>(smem + sizeof(unsigned long long) * smem_cap);
        cls = reinterpret_cast<int*>(smem + (sizeof(unsigned long long) + sizeof(float4)) * smem_cap);
        removed = smem + (sizeof(unsigned long long) + sizeof(float4) + sizeof(int)) * smem_cap;
    }
    const int sort_n = pow2_ceil(n);
    for (int i = n + tid; i < sort_n; i += blockDim.x) keys[i] = ~0ull;  // padding sorts last
    __syncthreads();
    if (sort_n > 1) bitonic_sort(keys, sort_n);

    const int m = p.max_nms >= 0 ? min(n, p.max_nms) : n;
    const float* img = out + static_cast<size_t>(b) * channels * A;
    const int* cls_a = g_cls_anchor + static_cast<size_t>(b) * A;
    for (int i = tid; i < m; i += blockDim.x) {
        const int a = key_anchor(keys[i]);
        const float cx = img[a], cy = img[A + a], w = img[2 * A + a], h = img[3 * A + a];
        const float hw = __fdiv_rn(w, 2.f), hh = __fdiv_rn(h, 2.f);
        boxes[i] = make_float4(__fsub_rn(cx, hw), __fsub_rn(cy, hh), __fadd_rn(cx, hw), __fadd_rn(cy, hh));
        cls[i] = cls_a[a];
        removed[i] = 0;
    }
    __syncthreads();

    // Greedy NMS in tiles of 32 survivors. Warp 0 takes the next 32 candidates that no kept box has suppressed yet,
    // resolves the greedy order inside the tile exactly (a 32 x 32 suppression bit matrix walked in order), writes the
    // kept ones; then the whole block suppresses the later candidates against the tile's kept boxes. This is the
    // sequential greedy NMS (a candidate is dropped iff an earlier kept box suppresses it) with one block-wide pass
    // per tile instead of one per kept box.
    const bool agnostic = p.agnostic != 0;
    GpuDetection* dets = res_dets + static_cast<size_t>(b) * p.max_det;
    const int warp = tid >> 5, lane = tid & 31;
    if (tid == 0) {
        s_cur = 0;
        s_kept = 0;
    }
    __syncthreads();
    while (true) {
        if (warp == 0) {
            // Gather up to 32 survivors from s_cur on.
            int cnt = 0, pos = s_cur;
            while (cnt < kTile && pos < m) {
                const int j = pos + lane;
                const bool alive = j < m && !removed[j];
                const unsigned bal = __ballot_sync(0xffffffffu, alive);
                const int rank = __popc(bal & ((1u << lane) - 1u));
                const int take = min(__popc(bal), kTile - cnt);
                if (alive && rank < take) s_tile[cnt + rank] = j;
                if (take < __popc(bal)) {
                    unsigned rest = bal;  // position just after the take-th survivor of this chunk
                    for (int k = 1; k < take; ++k) rest &= rest - 1u;
                    pos += __ffs(rest);
                } else {
                    pos += 32;
                }
                cnt += take;
            }
            // Bits u < t of lane t: kept-candidate u (if kept) suppresses t.
            unsigned sup = 0;
            if (lane < cnt) {
                const int j = s_tile[lane];
                s_tile_box[lane] = offset_box(boxes[j], cls[j], agnostic, p.max_wh);
            }
            __syncwarp();
            if (lane < cnt) {
                const BoxD mine = s_tile_box[lane];
                for (int u = 0; u < lane; ++u) {
                    if (suppresses(s_tile_box[u], mine, p.iou_thres)) sup |= 1u << u;
                }
            }
            // Walk the tile in order (uniform across the warp).
            unsigned keep = 0;
            int kept = s_kept;
            for (int t = 0; t < cnt && kept < p.max_det; ++t) {
                const unsigned st = __shfl_sync(0xffffffffu, sup, t);
                if ((st & keep) == 0) {
                    keep |= 1u << t;
                    ++kept;
                }
            }
            if (lane < cnt && ((keep >> lane) & 1u)) {
                const int r = __popc(keep & ((1u << lane) - 1u));
                const int j = s_tile[lane];
                const float4 bj = boxes[j];
                dets[s_kept + r] = GpuDetection{bj.x, bj.y, bj.z, bj.w, key_score(keys[j]), cls[j]};
                s_kept_box[r] = s_tile_box[lane];
            }
            __syncwarp();
            if (lane == 0) {
                s_nkeep = __popc(keep);
                s_kept = kept;
                s_cur = min(pos, m);
                s_done = cnt == 0 || kept >= p.max_det || pos >= m;
            }
        }
        __syncthreads();
        if (s_done) break;
        // Suppress the candidates after the tile against the tile's kept boxes (in order; the first hit decides).
        const int nkeep = s_nkeep;
        for (int j = s_cur + tid; j < m; j += blockDim.x) {
            if (removed[j]) continue;
            const BoxD dj = offset_box(boxes[j], cls[j], agnostic, p.max_wh);
            for (int r = 0; r < nkeep; ++r) {
                if (suppresses(s_kept_box[r], dj, p.iou_thres)) {
                    removed[j] = 1;
                    break;
                }
            }
        }
        __syncthreads();  // removed[] complete; s_* may be rewritten
    }
    if (tid == 0) res_counts[b] = s_kept;
}

}  // namespace

size_t decode_nms_scratch_bytes(int batch, int anchors) {
    if (batch <= 0 || anchors <= 0) return 0;
    return scratch_layout(batch, anchors).total;
}

size_t decode_nms_result_dets_offset(int batch) {
    return align_up(static_cast<size_t>(batch > 0 ? batch : 0) * sizeof(int), 16);
}

size_t decode_nms_result_bytes(int batch, int max_det) {
    if (batch <= 0 || max_det <= 0) return decode_nms_result_dets_offset(batch);
    return decode_nms_result_dets_offset(batch) + static_cast<size_t>(batch) * max_det * sizeof(GpuDetection);
}

cudaError_t decode_nms(const float* out, const DecodeNmsParams& p, void* scratch, size_t scratch_bytes, void* result,
                       cudaStream_t stream) {
    if (out == nullptr || scratch == nullptr || result == nullptr) return cudaErrorInvalidValue;
    if (p.batch <= 0 || p.batch > 65535 || p.channels < 5 || p.anchors <= 0 || p.max_det <= 0) {
        return cudaErrorInvalidValue;
    }
    if (p.num_classes < 0 || (p.num_classes > 0 && p.classes == nullptr)) return cudaErrorInvalidValue;
    const ScratchLayout l = scratch_layout(p.batch, p.anchors);
    if (scratch_bytes < l.total) return cudaErrorInvalidValue;
    auto* base = static_cast<unsigned char*>(scratch);
    int* counts = reinterpret_cast<int*>(base + l.counts);
    auto* keys = reinterpret_cast<unsigned long long*>(base + l.keys);
    int* cls_anchor = reinterpret_cast<int*>(base + l.cls_anchor);
    int* cls_sorted = reinterpret_cast<int*>(base + l.cls_sorted);
    auto* boxes = reinterpret_cast<float4*>(base + l.boxes);
    auto* removed = base + l.removed;
    auto* res = static_cast<unsigned char*>(result);

    cudaError_t e = cudaMemsetAsync(counts, 0, static_cast<size_t>(p.batch) * sizeof(int), stream);
    if (e != cudaSuccess) return e;
    const dim3 grid((p.anchors + kDecodeBlock - 1) / kDecodeBlock, p.batch);
    decode_kernel<<<grid, kDecodeBlock, 0, stream>>>(out, p.channels, p.anchors, l.key_stride, p.conf, p.classes,
                                                     p.num_classes, counts, keys, cls_anchor);
    e = cudaGetLastError();
    if (e != cudaSuccess) return e;

    int cap = pow2_ceil(p.anchors);
    if (cap > kSmemCandidates) cap = kSmemCandidates;
    if (cap < kMinSmemCandidates) cap = kMinSmemCandidates;
    const size_t smem = kSmemPerCandidate * cap;
    if (smem > 48 * 1024) {
        e = cudaFuncSetAttribute(nms_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
        if (e != cudaSuccess) return e;
    }
    nms_kernel<<<p.batch, kNmsBlock, smem, stream>>>(
        out, p.channels, p.anchors, l.key_stride, cap, p, counts, keys, cls_anchor, cls_sorted, boxes, removed,
        reinterpret_cast<int*>(res), reinterpret_cast<GpuDetection*>(res + decode_nms_result_dets_offset(p.batch)));
    return cudaGetLastError();
}

}  // namespace itscam::vision::cuda_impl
