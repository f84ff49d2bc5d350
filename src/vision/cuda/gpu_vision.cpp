#include "vision/cuda/gpu_vision.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "device/cuda/cuda_device.h"
#include "vision/cuda/postprocess_impl.h"
#include "vision/cuda/preprocess_impl.h"
#include "vision/postprocess.h"

namespace itscam::vision::gpu {

namespace {

size_t align_up(size_t v, size_t a) {
    return (v + a - 1) / a * a;
}

// Bytes of one packed frame copy in the device scratch (rows of 3 * w bytes), 256-byte aligned.
// A host frame's device copy: BGR rows of 3 * w bytes, or NV12's Y rows of w bytes followed by h / 2 CbCr rows.
size_t packed_frame_bytes(int w, int h, bool nv12 = false) {
    const size_t px = static_cast<size_t>(w) * static_cast<size_t>(h);
    return align_up(nv12 ? px * 3 / 2 : px * 3, 256);
}

// Copies a host frame's rows into `d`, packed (packed_frame_bytes' layout).
void pack_host_frame(const FrameRef& f, uint8_t* d) {
    const size_t row = static_cast<size_t>(f.w) * (f.uv ? 1 : 3);
    auto rows = [&](const uint8_t* src, uint8_t* dst, int n) {
        if (f.stride == row) {
            std::memcpy(dst, src, row * n);
        } else {
            for (int y = 0; y < n; ++y) std::memcpy(dst + y * row, src + y * f.stride, row);
        }
    };
    rows(f.bgr, d, f.h);
    if (f.uv) rows(f.uv, d + row * f.h, f.h / 2);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------------
// GpuLetterbox

struct GpuLetterbox::Impl {
    csl::DeviceBuffer frames_dev;  // packed copies of host frames
    csl::PinnedBuffer staging;     // same layout as frames_dev, for pageable frames
    csl::DeviceBuffer jobs_dev;    // LetterboxJob[batch]
    csl::PinnedBuffer jobs_host;   // LetterboxJob[batch]
    csl::Fence copies_done;        // after the last host -> device copy out of staging / jobs_host
    csl::Fence kernel_done;        // after the last kernel reading frames_dev / jobs_dev
    std::vector<int> kind;       // per frame: 0 device, 1 pinned (DMA copy), 2 pageable (staged), 3 mapped (in place)
    std::vector<size_t> offset;  // per copied host frame: offset in frames_dev / staging
    std::vector<const uint8_t*> mapped;  // per mapped frame: its device address
};

GpuLetterbox::GpuLetterbox(int dst_w, int dst_h) : dst_w_(dst_w), dst_h_(dst_h), impl_(std::make_unique<Impl>()) {}

GpuLetterbox::~GpuLetterbox() {
    // Pending copies / kernels may still use the buffers.
    if (impl_) {
        (void)impl_->copies_done.host_wait();
        (void)impl_->kernel_done.host_wait();
    }
}

Result<std::unique_ptr<GpuLetterbox>> GpuLetterbox::create(int dst_w, int dst_h, int max_batch, int max_frame_w,
                                                           int max_frame_h) {
    if (dst_w <= 0 || dst_h <= 0 || max_batch <= 0 || max_frame_w <= 0 || max_frame_h <= 0) {
        return invalid_argument("GpuLetterbox: sizes must be positive");
    }
    std::unique_ptr<GpuLetterbox> lb(new GpuLetterbox(dst_w, dst_h));
    Impl& im = *lb->impl_;
    ITSCAM_RETURN_IF_ERROR(im.copies_done.create());
    ITSCAM_RETURN_IF_ERROR(im.kernel_done.create());
    // All scratch is allocated here, for max_batch frames of the largest size.
    const size_t frames_bytes = static_cast<size_t>(max_batch) * packed_frame_bytes(max_frame_w, max_frame_h);
    ITSCAM_RETURN_IF_ERROR(im.frames_dev.grow(frames_bytes));
    ITSCAM_RETURN_IF_ERROR(im.staging.grow(frames_bytes));
    const size_t jobs_bytes = static_cast<size_t>(max_batch) * sizeof(cuda_impl::LetterboxJob);
    ITSCAM_RETURN_IF_ERROR(im.jobs_dev.grow(jobs_bytes));
    ITSCAM_RETURN_IF_ERROR(im.jobs_host.grow(jobs_bytes));
    return lb;
}

Status GpuLetterbox::run(const std::vector<FrameRef>& frames, float* dst_device, const device::StreamLease& stream,
                         std::vector<LetterboxInfo>& infos) {
    return run_impl(frames, dst_device, false, 0, stream, infos);
}

Status GpuLetterbox::run_f16(const std::vector<FrameRef>& frames, uint16_t* dst_device,
                             const device::StreamLease& stream, std::vector<LetterboxInfo>& infos) {
    return run_impl(frames, dst_device, true, 0, stream, infos);
}

Status GpuLetterbox::run_nhwc_f16(const std::vector<FrameRef>& frames, uint16_t* dst_device, int ld,
                                  const device::StreamLease& stream, std::vector<LetterboxInfo>& infos) {
    if (ld < 3) return invalid_argument("GPU letterbox: an NHWC destination needs at least 3 channels, not " +
                                        std::to_string(ld));
    return run_impl(frames, dst_device, true, ld, stream, infos);
}

Status GpuLetterbox::run_impl(const std::vector<FrameRef>& frames, void* dst_device, bool f16, int nhwc_ld,
                              const device::StreamLease& lease, std::vector<LetterboxInfo>& infos) {
    infos.clear();
    if (frames.empty()) return Status::ok();
    auto cs = csl::stream_of(lease);
    if (!cs) return cs.status().with_context("GpuLetterbox");
    cudaStream_t stream = *cs;
    if (dst_device == nullptr) return invalid_argument("GpuLetterbox: null destination");
    if (frames.size() > 65535) return invalid_argument("GpuLetterbox: batch larger than 65535");
    const int batch = static_cast<int>(frames.size());
    Impl& im = *impl_;

    // Where each frame lives, and the layout of the host frames' device copies.
    im.kind.assign(batch, 0);
    im.offset.assign(batch, 0);
    im.mapped.assign(batch, nullptr);
    size_t need = 0;
    bool any_pageable = false;
    size_t staged_lo = SIZE_MAX, staged_hi = 0;
    for (int i = 0; i < batch; ++i) {
        const FrameRef& f = frames[i];
        const size_t min_stride = static_cast<size_t>(f.w) * (f.uv ? 1 : 3);
        if (f.bgr == nullptr || f.w <= 0 || f.h <= 0 || f.stride < min_stride || (f.uv && (f.w % 2 || f.h % 2))) {
            return invalid_argument("GpuLetterbox: frame " + std::to_string(i) + " is empty or has a bad size/stride");
        }
        cudaPointerAttributes attr{};
        const cudaError_t e = cudaPointerGetAttributes(&attr, f.bgr);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();  // old drivers report plain host pointers as an error: treat as pageable
            attr.type = cudaMemoryTypeUnregistered;
        }
        if (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) {
            im.kind[i] = 0;
            continue;
        }
        if (attr.type == cudaMemoryTypeHost && attr.devicePointer != nullptr) {
            // Mapped page-locked memory (cudaHostAllocMapped / cudaHostRegisterMapped): the kernel reads it in place
            // over the bus. Plain pinned memory is also reachable that way under unified addressing, but is copied
            // by DMA below: the allocation's flags say which the owner asked for.
            unsigned flags = 0;
            if (cudaHostGetFlags(&flags, const_cast<uint8_t*>(f.bgr)) == cudaSuccess && (flags & cudaHostAllocMapped)) {
                im.kind[i] = 3;
                im.mapped[i] = static_cast<const uint8_t*>(attr.devicePointer);
                continue;
            }
            (void)cudaGetLastError();
        }
        im.kind[i] = attr.type == cudaMemoryTypeHost ? 1 : 2;
        im.offset[i] = need;
        const size_t bytes = packed_frame_bytes(f.w, f.h, f.uv != nullptr);
        if (im.kind[i] == 2) {
            any_pageable = true;
            staged_lo = std::min(staged_lo, need);
            staged_hi = std::max(staged_hi, need + bytes);
        }
        need += bytes;
    }

    // The previous batch's copies out of staging / jobs_host must be done before this thread rewrites them.
    ITSCAM_RETURN_IF_ERROR(im.copies_done.host_wait());
    // Grow only when this batch needs more than any before (never on the steady-state path). Wait for the last
    // kernel so that no enqueued work still reads the old buffers.
    const size_t jobs_bytes = static_cast<size_t>(batch) * sizeof(cuda_impl::LetterboxJob);
    if (need > im.frames_dev.bytes() || need > im.staging.bytes() || jobs_bytes > im.jobs_dev.bytes() ||
        jobs_bytes > im.jobs_host.bytes()) {
        ITSCAM_RETURN_IF_ERROR(im.kernel_done.host_wait());
        ITSCAM_RETURN_IF_ERROR(im.frames_dev.grow(need));
        ITSCAM_RETURN_IF_ERROR(im.staging.grow(need));
        ITSCAM_RETURN_IF_ERROR(im.jobs_dev.grow(jobs_bytes));
        ITSCAM_RETURN_IF_ERROR(im.jobs_host.grow(jobs_bytes));
    }
    // The previous kernel (maybe on another stream) must have read frames_dev / jobs_dev before we overwrite them.
    ITSCAM_RETURN_IF_ERROR(im.kernel_done.stream_wait(stream));

    auto* dev = static_cast<uint8_t*>(im.frames_dev.get());
    auto* stage = static_cast<uint8_t*>(im.staging.get());
    auto* jobs = static_cast<cuda_impl::LetterboxJob*>(im.jobs_host.get());
    infos.resize(batch);
    for (int i = 0; i < batch; ++i) {
        const FrameRef& f = frames[i];
        const LetterboxInfo info = letterbox_info(f.w, f.h, dst_w_, dst_h_);
        infos[i] = info;
        cuda_impl::LetterboxJob j{};
        j.bt709 = f.bt709 ? 1 : 0;
        j.full_range = f.full_range ? 1 : 0;
        if (im.kind[i] == 0) {
            j.src = f.bgr;
            j.src_stride = static_cast<long long>(f.stride);
            j.uv = f.uv;
        } else if (im.kind[i] == 3) {
            j.src = im.mapped[i];
            j.src_stride = static_cast<long long>(f.stride);
            if (f.uv) j.uv = im.mapped[i] + (f.uv - f.bgr);  // same allocation, same offset in the device's view
        } else {
            const long long row = static_cast<long long>(f.w) * (f.uv ? 1 : 3);
            j.src = dev + im.offset[i];
            j.src_stride = row;
            if (f.uv) j.uv = dev + im.offset[i] + static_cast<size_t>(row) * f.h;
        }
        j.src_w = f.w;
        j.src_h = f.h;
        j.new_w = info.new_w;
        j.new_h = info.new_h;
        j.pad_x = info.pad_x;
        j.pad_y = info.pad_y;
        cuda_impl::letterbox_job_finalize(j);
        jobs[i] = j;
        if (im.kind[i] == 2) pack_host_frame(f, stage + im.offset[i]);
    }

    // One copy for all staged (pageable) frames, then the pinned frames (their copies come after, so any gap of the
    // staged range that belongs to a pinned frame is overwritten with the right pixels).
    if (any_pageable) {
        ITSCAM_CUDA_CHECK(
            cudaMemcpyAsync(dev + staged_lo, stage + staged_lo, staged_hi - staged_lo, cudaMemcpyHostToDevice, stream));
    }
    for (int i = 0; i < batch; ++i) {
        if (im.kind[i] != 1) continue;
        const FrameRef& f = frames[i];
        const size_t row = static_cast<size_t>(f.w) * (f.uv ? 1 : 3);
        ITSCAM_CUDA_CHECK(cudaMemcpy2DAsync(dev + im.offset[i], row, f.bgr, f.stride, row, f.h, cudaMemcpyHostToDevice, stream));
        if (f.uv)
            ITSCAM_CUDA_CHECK(cudaMemcpy2DAsync(dev + im.offset[i] + row * f.h, row, f.uv, f.stride, row, f.h / 2,
                                                cudaMemcpyHostToDevice, stream));
    }
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(im.jobs_dev.get(), jobs, jobs_bytes, cudaMemcpyHostToDevice, stream));
    ITSCAM_RETURN_IF_ERROR(im.copies_done.record(stream));

    const auto* jobs_dev = static_cast<const cuda_impl::LetterboxJob*>(im.jobs_dev.get());
    if (f16 && nhwc_ld > 0) {
        ITSCAM_CUDA_CHECK(cuda_impl::letterbox_bgr_u8_to_rgb_nhwc_f16(jobs_dev, batch, dst_w_, dst_h_, nhwc_ld,
                                                                      static_cast<__half*>(dst_device), stream));
    } else if (f16) {
        ITSCAM_CUDA_CHECK(cuda_impl::letterbox_bgr_u8_to_rgb_f16(jobs_dev, batch, dst_w_, dst_h_,
                                                       static_cast<__half*>(dst_device), stream));
    } else {
        ITSCAM_CUDA_CHECK(cuda_impl::letterbox_bgr_u8_to_rgb_f32(jobs_dev, batch, dst_w_, dst_h_, static_cast<float*>(dst_device),
                                                       stream));
    }
    return im.kernel_done.record(stream);
}

// ---------------------------------------------------------------------------------------------------------------------
// GpuDecodeNms

struct GpuDecodeNms::Impl {
    csl::DeviceBuffer scratch;
    csl::DeviceBuffer result_dev;
    csl::PinnedBuffer result_host;
    csl::DeviceBuffer classes_dev;
    csl::PinnedBuffer classes_host;
};

GpuDecodeNms::GpuDecodeNms() : impl_(std::make_unique<Impl>()) {}
GpuDecodeNms::~GpuDecodeNms() = default;  // run() synchronizes its stream: nothing is pending

Result<std::unique_ptr<GpuDecodeNms>> GpuDecodeNms::create(int max_batch, int anchors, int max_det) {
    if (max_batch <= 0 || anchors <= 0 || max_det <= 0) {
        return invalid_argument("GpuDecodeNms: sizes must be positive");
    }
    std::unique_ptr<GpuDecodeNms> d(new GpuDecodeNms());
    Impl& im = *d->impl_;
    // All scratch is allocated here; run() grows it only for a larger batch / anchor count / max_det.
    ITSCAM_RETURN_IF_ERROR(im.scratch.grow(cuda_impl::decode_nms_scratch_bytes(max_batch, anchors)));
    const size_t result = cuda_impl::decode_nms_result_bytes(max_batch, max_det);
    ITSCAM_RETURN_IF_ERROR(im.result_dev.grow(result));
    ITSCAM_RETURN_IF_ERROR(im.result_host.grow(result));
    ITSCAM_RETURN_IF_ERROR(im.classes_dev.grow(256));
    ITSCAM_RETURN_IF_ERROR(im.classes_host.grow(256));
    return d;
}

Status GpuDecodeNms::run(const float* out_device, int batch, int channels, int anchors, const NmsOptions& opt,
                         const device::StreamLease& lease, std::vector<std::vector<Detection>>& out) {
    out.clear();
    auto cs = csl::stream_of(lease);
    if (!cs) return cs.status().with_context("GpuDecodeNms");
    cudaStream_t stream = *cs;
    if (batch < 0 || batch > 65535) return invalid_argument("GpuDecodeNms: batch must be in [0, 65535]");
    if (batch == 0) return Status::ok();
    if (out_device == nullptr || channels < 5 || anchors <= 0) {
        return invalid_argument(
            "GpuDecodeNms: expected a non-null [batch, 4 + classes, anchors] output, got channels " +
            std::to_string(channels) + ", anchors " + std::to_string(anchors));
    }
    out.resize(batch);
    if (opt.max_det <= 0) return Status::ok();
    Impl& im = *impl_;

    // Growth (only for a batch / anchor count / max_det larger than any before). The previous run synchronized its
    // stream, so no enqueued work uses these buffers; cudaFree synchronizes the device anyway.
    const size_t scratch_bytes = cuda_impl::decode_nms_scratch_bytes(batch, anchors);
    const size_t result_bytes = cuda_impl::decode_nms_result_bytes(batch, opt.max_det);
    ITSCAM_RETURN_IF_ERROR(im.scratch.grow(scratch_bytes));
    ITSCAM_RETURN_IF_ERROR(im.result_dev.grow(result_bytes));
    ITSCAM_RETURN_IF_ERROR(im.result_host.grow(result_bytes));

    cuda_impl::DecodeNmsParams p;
    p.batch = batch;
    p.channels = channels;
    p.anchors = anchors;
    p.conf = opt.conf;
    p.iou_thres = float_as_decimal(opt.iou);
    p.max_wh = static_cast<double>(opt.max_wh);
    p.max_det = opt.max_det;
    p.max_nms = opt.max_nms;
    p.agnostic = opt.agnostic ? 1 : 0;
    if (!opt.classes.empty()) {
        const size_t bytes = opt.classes.size() * sizeof(int);
        ITSCAM_RETURN_IF_ERROR(im.classes_dev.grow(bytes));
        ITSCAM_RETURN_IF_ERROR(im.classes_host.grow(bytes));
        std::memcpy(im.classes_host.get(), opt.classes.data(), bytes);
        ITSCAM_CUDA_CHECK(
            cudaMemcpyAsync(im.classes_dev.get(), im.classes_host.get(), bytes, cudaMemcpyHostToDevice, stream));
        p.num_classes = static_cast<int>(opt.classes.size());
        p.classes = static_cast<const int*>(im.classes_dev.get());
    }

    ITSCAM_CUDA_CHECK(
        cuda_impl::decode_nms(out_device, p, im.scratch.get(), im.scratch.bytes(), im.result_dev.get(), stream));
    // One copy of all counts + detections back to pinned memory.
    ITSCAM_CUDA_CHECK(
        cudaMemcpyAsync(im.result_host.get(), im.result_dev.get(), result_bytes, cudaMemcpyDeviceToHost, stream));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(stream));

    const auto* base = static_cast<const unsigned char*>(im.result_host.get());
    const auto* counts = reinterpret_cast<const int*>(base);
    const auto* dets =
        reinterpret_cast<const cuda_impl::GpuDetection*>(base + cuda_impl::decode_nms_result_dets_offset(batch));
    for (int b = 0; b < batch; ++b) {
        const int n = std::clamp(counts[b], 0, opt.max_det);
        std::vector<Detection>& v = out[b];
        v.reserve(n);
        const cuda_impl::GpuDetection* d = dets + static_cast<size_t>(b) * opt.max_det;
        for (int k = 0; k < n; ++k) v.push_back({d[k].class_id, d[k].score, d[k].x1, d[k].y1, d[k].x2, d[k].y2});
    }
    return Status::ok();
}

Status copy_to_host(const void* device_src, size_t bytes, void* host_dst, const device::StreamLease& lease) {
    auto cs = csl::stream_of(lease);
    if (!cs) return cs.status().with_context("copy_to_host");
    const cudaStream_t stream = *cs;
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, bytes, cudaMemcpyDeviceToHost, stream));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(stream));
    return Status::ok();
}

}  // namespace itscam::vision::gpu
