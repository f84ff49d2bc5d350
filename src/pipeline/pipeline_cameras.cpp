// Pipeline::Impl's cameras (pipeline_impl.h): the capture loop of a camera feeding its model group's scheduler
// (with the degraded frame-rate cap), camera events to the log and PipelineOptions.on_camera_event, and the model
// group and confidence floor of the cameras.
#include <algorithm>
#include <chrono>

#include "core/redact.h"
#include "device/device_name.h"
#include "pipeline/pipeline_impl.h"
#include "video/decode_gate.h"

namespace itscam::pipeline {

namespace {
// The lowest priority: the scheduler's weight of a nice-19 thread is 15 against 1,024 at nice 0. With 300 cameras
// on 16 cores (about 19 runnable capture threads a core) an inference worker then keeps about 78% of its core; at
// nice 10 (weight 110) it kept about a third, and on the H200 its batch loop then served 2,533 of the 4,600 fps
// decoded (docs/benchmarks.md). Capture threads still get every cycle the workers, the HTTP API and the
// encoders leave.
constexpr int kCaptureNice = 19;
}  // namespace

ModelGroup* Pipeline::Impl::group_for(const config::CameraConfig& c) {
    const std::string& m = c.model.empty() ? cfg.model : c.model;
    auto it = groups.find(m);
    return it == groups.end() ? nullptr : it->second.get();
}

void Pipeline::Impl::update_min_conf(ModelGroup* g) {
    float mc = 1.0f;
    bool any = false;
    for (auto& [id, c] : cameras)
        if (c->group == g) {
            mc = std::min(mc, static_cast<float>(c->cfg.confidence));
            // A tracked camera's low-score detections feed its tracker's second association stage.
            if (!c->cfg.analytics.empty()) mc = std::min(mc, c->cfg.analytics.tracker.low_score);
            any = true;
        }
    g->min_conf.store(any ? mc : 0.25f);
}

int Pipeline::Impl::decode_threads(size_t cams) const {
    if (cfg.pipeline.decode_threads > 0) return cfg.pipeline.decode_threads;
    // The cores this process may use (its CPU affinity, as for the decode slots): hardware_concurrency() may count
    // the host's cores, not a container's cpuset.
    return std::max(1, video::usable_cores() / static_cast<int>(std::max<size_t>(cams, 1)));
}

void Pipeline::Impl::set_decoder(const config::CameraConfig& c, video::ReaderOptions& ro) {
    // NVDEC decodes on the pipeline's first GPU, where its pictures stay for that GPU's letterbox (a batch on another
    // device copies them through the host). A host-only pipeline always decodes on the CPU.
    const std::string& want = c.decode.empty() ? cfg.pipeline.decode : c.decode;
    int ordinal = -1;
    Device* gpu = first_gpu(&ordinal);
    if (!gpu || want == "cpu") {
        ro.decoder = video::Decoder::kCpu;
        return;
    }
    ro.decoder = want == "nvdec" ? video::Decoder::kNvdec : video::Decoder::kAuto;
    ro.cuda_device = ordinal;
    // Pictures come from a device pool of that GPU (counted against TOTAL_GPU_MEMORY_GB); the pool is looked up
    // again only when the picture size changes.
    device::Device* hw = gpu->hw.load();
    if (!hw) return;  // not loaded yet: the decoder allocates its own pictures
    ro.device_allocator = [src = SizedPools(pools, MemoryKind::kDevice, hw, "nvdec_frames_")](
                              size_t bytes) mutable { return src.acquire(bytes); };
}

Device* Pipeline::Impl::first_gpu(int* ordinal) const {
    for (auto& d : devices) {
        const int o = device::device_gpu_ordinal(d->name);
        if (o < 0) continue;
        if (ordinal) *ordinal = o;
        return d.get();
    }
    return nullptr;
}

void Pipeline::Impl::set_frame_memory(video::ReaderOptions& ro) {
    Device* gpu = first_gpu(nullptr);
    device::Device* hw = gpu ? gpu->hw.load() : nullptr;
    if (!hw) {
        // A host pipeline: BGR frames in host memory, what the CPU letterbox reads.
        ro.format = video::PixelFormat::kBGR24;
        ro.allocator = [src = SizedPools(pools, MemoryKind::kHost, nullptr, "frames_")](size_t bytes) mutable {
            return src.acquire(bytes);
        };
        return;
    }
    // A GPU pipeline: CPU-decoded frames are NV12, the decoder's own 4:2:0 samples repacked (the bytes NVDEC gives,
    // half of BGR's), in page-locked memory of the first GPU, where the letterbox kernel converts them. A
    // UNIFIED_MEMORY_RATIO share of them is mapped, read in place by the kernel (mapped_turn); the rest are copied
    // by DMA on the worker's stream.
    ro.format = video::PixelFormat::kNV12;
    auto pool_of = [&](MemoryKind k) {
        return SizedPools(pools, k, hw, "frames_nv12_", std::string("_") + memory_kind_name(k));
    };
    ro.allocator = [ratio = mapped_ratio(*hw), n = uint64_t{0}, mapped = pool_of(MemoryKind::kMapped),
                    pinned = pool_of(hw->staging_memory())](size_t bytes) mutable {
        return (mapped_turn(n++, ratio) ? mapped : pinned).acquire(bytes);
    };
}

Status Pipeline::Impl::start_camera_locked(const std::shared_ptr<Camera>& cam) {
    video::CaptureOptions co;
    co.loop = cam->cfg.loop;
    co.realtime = cam->cfg.realtime;
    co.max_fps = cam->cfg.max_fps;
    co.reconnect = true;
    co.backoff_initial_s = cfg.pipeline.reconnect_initial_s;
    co.backoff_max_s = cfg.pipeline.reconnect_max_s;
    co.stall_timeout_s = cfg.pipeline.stall_timeout_s;
    // Under CPU overload, serve the frames already decoded before decoding more: the capture and decoder threads
    // run at a lower priority than the inference workers (CaptureOptions::thread_nice). Without it, cameras at twice
    // the capacity starved the workers: throughput fell to half of what the same node served at capacity.
    co.thread_nice = kCaptureNice;
    co.name = cam->cfg.id;
    co.reader.rtsp_transport = cam->cfg.rtsp_transport;
    co.reader.decode_threads = decode_threads(std::max(cameras.size(), cfg.cameras.size()));
    co.reader.read_timeout_s = cfg.pipeline.stall_timeout_s;
    co.reader.decode_gate = decode_gate;
    set_frame_memory(co.reader);
    set_decoder(cam->cfg, co.reader);
    cam->capture = std::make_unique<video::CaptureLoop>(cam->cfg.url, co);
    Camera* c = cam.get();
    ModelGroup* g = cam->group;
    const double degraded_fps = cfg.fallback.max_fps;
    const uint64_t slot = cam->slot;
    const bool thin = cfg.pipeline.skip_nonref_under_overload;
    cam->capture->start(
        [this, c, g, slot, degraded_fps, thin](video::Frame&& f) {
            c->captured++;
            c->width.store(f.width);
            c->height.store(f.height);
            if (degraded_fps > 0 && g->degraded.load()) {
                const auto min_gap =
                    std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / degraded_fps));
                if (f.capture_time - c->last_accept < min_gap) {
                    c->skipped++;
                    return;
                }
            }
            c->last_accept = f.capture_time;
            const bool nvdec_frame = f.on_device();  // NVDEC has its own engines: skipping would not free the CPU
            bool dropped = false;
            g->sched->push(slot, std::move(f), {}, &dropped);
            if (thin && !nvdec_frame) {
                // Frames the queue keeps replacing were decoded for nothing: skip the non-reference ones.
                const bool was = c->thinning.thinning();
                const bool now = c->thinning.on_push(dropped, Clock::now());
                if (now != was) {
                    c->capture->skip_nonref(now);
                    if (now) c->thinning_activations++;
                }
            }
        },
        [this, c](const video::CaptureEvent& ev) {
            std::string m = "camera " + c->cfg.id + ": " + video::capture_event_name(ev.kind);
            if (!ev.message.empty()) m += ": " + ev.message;
            if (ev.kind == video::CaptureEvent::Kind::kReconnecting)
                m += " (retry in " + std::to_string(ev.retry_in_s).substr(0, 4) + " s)";
            log(m);
            if (opt.on_camera_event)
                opt.on_camera_event(c->cfg.id, video::capture_event_name(ev.kind), redact(ev.message));
        });
    return Status::ok();
}

}  // namespace itscam::pipeline
