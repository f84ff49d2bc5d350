#include "pipeline/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <shared_mutex>
#include <thread>

#include "backend/activation_arena.h"
#include "core/time_format.h"
#include "device/device_name.h"
#include "device/registry.h"
#include "pipeline/batch_scheduler.h"
#include "runtime/detector.h"

namespace itscam::pipeline {

namespace {

constexpr double kRateWindowS = 5.0;
const char* const kStages[] = {"decode", "queue", "batch_wait", "preprocess", "inference", "nms", "e2e"};

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// Events per second over the last kRateWindowS seconds.
class RateMeter {
public:
    void add(Clock::time_point t, int n = 1) {
        std::lock_guard<std::mutex> lk(mu_);
        for (int i = 0; i < n; ++i) times_.push_back(t);
        prune(t);
    }
    double rate() const {
        std::lock_guard<std::mutex> lk(mu_);
        prune(Clock::now());
        return static_cast<double>(times_.size()) / kRateWindowS;
    }

private:
    void prune(Clock::time_point now) const {
        const auto cutoff = now - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRateWindowS));
        while (!times_.empty() && times_.front() < cutoff) times_.pop_front();
    }
    mutable std::mutex mu_;
    mutable std::deque<Clock::time_point> times_;  // pruned on read too
};

// Busy intervals of a device's workers over the last kRateWindowS seconds.
class BusyMeter {
public:
    void add(Clock::time_point start, Clock::time_point end) {
        std::lock_guard<std::mutex> lk(mu_);
        spans_.emplace_back(start, end);
        const auto cutoff = end - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRateWindowS));
        while (!spans_.empty() && spans_.front().second < cutoff) spans_.pop_front();
    }
    double fraction(int workers) const {
        std::lock_guard<std::mutex> lk(mu_);
        const auto now = Clock::now();
        const auto cutoff = now - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kRateWindowS));
        double busy = 0;
        for (auto& [s, e] : spans_) {
            if (e < cutoff) continue;
            busy += ms_between(std::max(s, cutoff), e);
        }
        return std::clamp(busy / (kRateWindowS * 1000.0 * std::max(1, workers)), 0.0, 1.0);
    }

private:
    mutable std::mutex mu_;
    std::deque<std::pair<Clock::time_point, Clock::time_point>> spans_;
};

void default_log(const std::string& msg) {
    std::fprintf(stderr, "%s itscam: %s\n", iso8601_utc(std::chrono::system_clock::now()).c_str(), msg.c_str());
}

std::string capture_state_str(video::CaptureState s) { return video::capture_state_name(s); }

}  // namespace

struct Device {
    std::string name;           // "cpu", "cuda:0": what EngineOptions.device gets
    std::atomic<device::Device*> hw{nullptr};  // from the device registry at load (null before)
    std::unique_ptr<CircuitBreaker> breaker;
    std::atomic<int64_t> batches{0}, frames{0}, failures{0}, fallback_batches{0};
    std::atomic<int> workers{0};
    BusyMeter busy;
};

struct Camera;

struct ModelGroup {
    std::string model_path;
    std::unique_ptr<BatchScheduler> sched;
    std::vector<std::string> names;
    std::atomic<bool> degraded{false};
    std::atomic<float> min_conf{0.25f};
};

struct Camera {
    config::CameraConfig cfg;
    ModelGroup* group = nullptr;
    uint64_t slot = 0;
    std::unique_ptr<video::CaptureLoop> capture;
    std::atomic<int64_t> captured{0}, processed{0}, skipped{0};
    std::atomic<bool> degraded{false};
    Clock::time_point last_accept{};  // capture thread only (degraded frame-rate cap)
    explicit Camera(double window_s) : e2e(1024, window_s) {}
    LatencyRecorder e2e;
    RateMeter fps;
    mutable std::mutex latest_mu;
    DetectionRecord latest;
    std::atomic<int> width{0}, height{0};
};

// The staging pools of one detector, on its engine's device: that device's staging memory (host memory on the
// host, pinned memory on a GPU), with a UNIFIED_MEMORY_RATIO share of the acquisitions from mapped memory where the
// device has it. They feed Engine::run (the host-input path), which copies them into the engine's own input.
struct StagingPools {
    std::shared_ptr<BufferPool> main;    // staging memory; null when every acquisition is mapped
    std::shared_ptr<BufferPool> mapped;  // devices with mapped memory, UNIFIED_MEMORY_RATIO > 0
    double mapped_ratio = 0;
    uint64_t acquires = 0;  // only the owning worker's thread touches it
};

struct Worker {
    ModelGroup* group = nullptr;
    Device* dev = nullptr;
    int threads = 0;
    // The activations of every engine of this worker (its batch sizes, its fallback's): they run one at a time, on
    // the worker's thread, so they share one arena as large as the largest needs.
    std::shared_ptr<ActivationArena> arena = std::make_shared<ActivationArena>();
    std::map<int, std::unique_ptr<Detector>> primary;   // batch size -> detector
    std::map<int, std::unique_ptr<Detector>> fallback;  // empty when the fallback is disabled or is the primary
    // The fallback is identical to the primary (same model, device, precision, input size and threads, no fault
    // injection): it serves with the primary's detectors instead of building a second set.
    bool fallback_is_primary = false;
    std::map<int, std::unique_ptr<Detector>>& fallback_detectors() { return fallback_is_primary ? primary : fallback; }
    bool has_fallback() const { return fallback_is_primary || !fallback.empty(); }
    std::map<const Detector*, StagingPools> staging;    // resolved once per detector, not per batch
    std::thread thread;
};

struct Pipeline::Impl {
    config::Config cfg;
    PipelineOptions opt;
    Clock::time_point created = Clock::now();
    std::shared_ptr<PoolRegistry> pools;
    std::vector<std::shared_ptr<DetectionSink>> sinks;
    std::shared_ptr<FaultController> faults;
    std::map<std::string, std::unique_ptr<LatencyRecorder>> stages;
    std::vector<std::unique_ptr<Device>> devices;
    std::map<std::string, std::unique_ptr<ModelGroup>> groups;
    std::vector<std::unique_ptr<Worker>> workers;

    mutable std::shared_mutex cams_mu;
    std::map<std::string, std::shared_ptr<Camera>> cameras;
    std::map<uint64_t, std::shared_ptr<Camera>> by_slot;
    int64_t removed_dropped = 0, removed_processed = 0;  // counters of cameras that were removed

    std::mutex batch_mu;
    std::map<int, int64_t> batch_sizes;
    std::atomic<int64_t> frames_processed{0}, batches{0}, frames_failed{0}, transitions{0};
    RateMeter fps;
    std::atomic<bool> running{false}, stopping{false}, is_ready{false};
    std::mutex load_mu;   // held while engines build; groups/workers are complete once loaded is set
    bool loaded = false;  // guarded by load_mu
    mutable std::mutex reason_mu;
    std::string not_ready_reason = "starting";  // guarded by reason_mu
    void set_reason(std::string r) {
        std::lock_guard<std::mutex> lk(reason_mu);
        not_ready_reason = std::move(r);
    }
    std::string reason() const {
        std::lock_guard<std::mutex> lk(reason_mu);
        return not_ready_reason;
    }

    void log(const std::string& m) const { opt.log ? opt.log(m) : default_log(m); }

    int primary_imgsz(const Detector& d) const { return d.engine().input_height(); }

    Result<std::unique_ptr<Detector>> make_detector(const std::string& model, const std::string& device, int batch,
                                                    int imgsz, int threads, bool with_faults,
                                                    const std::shared_ptr<ActivationArena>& arena) {
        DetectorOptions dopt;
        dopt.engine.device = device;
        dopt.engine.batch = batch;
        dopt.engine.height = imgsz;
        dopt.engine.width = imgsz;
        dopt.engine.threads = threads;
        dopt.engine.optimize = config::optimized_engine(cfg.settings);
        dopt.engine.arena = arena;
        dopt.engine.plan_cache_dir = cfg.plan_cache_dir;
        dopt.engine.log = [this](const std::string& m) { log(m); };
        ITSCAM_ASSIGN_OR_RETURN(device::Device * hw, device::device_get(device));
        const std::string prec = config::engine_precision(cfg, hw->prefers_fp16());
        ITSCAM_ASSIGN_OR_RETURN(dopt.engine.precision, parse_precision(prec));
        if (dopt.engine.precision == Precision::kInt8)
            return unsupported("precision int8 needs calibration images, which the pipeline does not take yet; "
                               "use fp32 or bf16");
        dopt.nms.iou = static_cast<float>(cfg.pipeline.nms_iou);
        dopt.nms.max_det = cfg.pipeline.max_det;
        if (with_faults && faults) {
            auto f = faults;
            dopt.engine.backend_decorator = [f](std::unique_ptr<Backend> b) {
                return make_fault_injecting_backend(std::move(b), f);
            };
        }
        auto d = Detector::create(model, dopt);
        if (!d) return d.status().with_context("building the " + device + " engine (batch " + std::to_string(batch) + ")");
        return d;
    }

    // Staging tensors come from one pool per (input size, batch size), looked up in the registry once per
    // detector and kept in the worker.
    Result<StagingPools*> staging_pools(Worker& w, const Detector& d) {
        auto it = w.staging.find(&d);
        if (it != w.staging.end()) return &it->second;
        const Engine& e = d.engine();
        const size_t bytes = static_cast<size_t>(e.batch()) * 3 * e.input_height() * e.input_width() * sizeof(float);
        const std::string name = "staging_b" + std::to_string(e.batch()) + "_" + std::to_string(e.input_height());
        ITSCAM_ASSIGN_OR_RETURN(device::Device * hw, device::device_get(e.options().device));
        const MemoryKind main_kind = hw->staging_memory();
        auto mapped = hw->memory_kind(MemoryKind::kMapped);
        StagingPools sp;
        if (mapped.is_ok() && *mapped == MemoryKind::kMapped)
            sp.mapped_ratio = std::clamp(cfg.settings.UNIFIED_MEMORY_RATIO, 0.0, 1.0);
        if (sp.mapped_ratio > 0) {
            ITSCAM_ASSIGN_OR_RETURN(sp.mapped, pools->get(MemoryKind::kMapped, bytes, name + "_mapped", hw));
        }
        if (sp.mapped_ratio < 1) {
            const std::string suffix = main_kind == MemoryKind::kHost ? "" : std::string("_") + memory_kind_name(main_kind);
            ITSCAM_ASSIGN_OR_RETURN(sp.main, pools->get(main_kind, bytes, name + suffix, hw));
        }
        return &w.staging.emplace(&d, std::move(sp)).first->second;
    }

    // A staging tensor [batch, 3, H, W] for `d`'s engine, from its pools.
    Result<Tensor> staging_tensor(Worker& w, const Detector& d) {
        ITSCAM_ASSIGN_OR_RETURN(StagingPools * sp, staging_pools(w, d));
        // Acquisition n is mapped when floor((n + 1) * ratio) > floor(n * ratio): exactly the ratio over time.
        const uint64_t n = sp->acquires++;
        const double r = sp->mapped_ratio;
        const bool mapped = sp->mapped && (!sp->main || std::floor(static_cast<double>(n + 1) * r) >
                                                            std::floor(static_cast<double>(n) * r));
        auto buf = (mapped ? sp->mapped : sp->main)->acquire();
        if (!buf) return out_of_memory("no host memory for a staging buffer");
        const Engine& e = d.engine();
        return Tensor::from_buffer(DType::kF32, {e.batch(), 3, e.input_height(), e.input_width()},
                                   std::shared_ptr<std::byte>(buf, reinterpret_cast<std::byte*>(buf.get())));
    }

    Status warm_up(Worker& w, Detector& d) {
        ITSCAM_ASSIGN_OR_RETURN(Tensor t, staging_tensor(w, d));
        std::fill(t.data<float>(), t.data<float>() + t.numel(), 0.447f);
        std::vector<Tensor> outs;
        return d.engine().run(t, outs);
    }

    // Runs `frames` on one set of detectors. Fills `dets` (one vector per frame) and the stage timings.
    Status run_on(Worker& w, std::map<int, std::unique_ptr<Detector>>& dmap, ModelGroup& g,
                  const std::vector<QueuedFrame>& frames, std::vector<std::vector<vision::Detection>>& dets,
                  DetectTimings& tm) {
        dets.clear();
        tm = {};
        size_t start = 0;
        while (start < frames.size()) {
            const size_t left = frames.size() - start;
            auto it = dmap.lower_bound(static_cast<int>(left));  // smallest batch size >= left
            if (it == dmap.end()) it = std::prev(dmap.end());   // more than the largest: split
            Detector& d = *it->second;
            const size_t n = std::min<size_t>(left, static_cast<size_t>(it->first));
            std::vector<ImageView> views;
            views.reserve(n);
            for (size_t i = 0; i < n; ++i) {
                const video::Frame& f = frames[start + i].frame;
                views.push_back(ImageView{f.data.get(), f.width, f.height, f.stride});
            }
            d.nms().conf = g.min_conf.load();
            // The GPU pre/post path uploads the frames itself: a staging tensor would go unused.
            Tensor staging;
            if (!d.gpu_pre_post()) {
                ITSCAM_ASSIGN_OR_RETURN(staging, staging_tensor(w, d));
            }
            ITSCAM_ASSIGN_OR_RETURN(auto r, d.gpu_pre_post() ? d.detect(views) : d.detect(views, staging));
            const DetectTimings& t = d.last_timings();
            tm.preprocess_ms += t.preprocess_ms;
            tm.inference_ms += t.inference_ms;
            tm.postprocess_ms += t.postprocess_ms;
            for (auto& v : r) dets.push_back(std::move(v));
            start += n;
        }
        return Status::ok();
    }

    Status rebuild_primary(Worker& w) {
        log("device " + w.dev->name + ": rebuilding engines after a sticky device error");
        std::map<int, std::unique_ptr<Detector>> fresh;
        for (auto& [b, d] : w.primary) {
            ITSCAM_ASSIGN_OR_RETURN(auto nd, make_detector(w.group->model_path, w.dev->name, b,
                                                           primary_imgsz(*d), w.threads, true, w.arena));
            fresh[b] = std::move(nd);
        }
        w.primary = std::move(fresh);
        w.staging.clear();  // keyed by the old detectors; the pools themselves stay in the registry
        return Status::ok();
    }

    void process(Worker& w, Batch& batch) {
        ModelGroup& g = *w.group;
        Device& dev = *w.dev;
        std::vector<std::vector<vision::Detection>> dets;
        DetectTimings tm;
        bool degraded = false;
        bool ok = false;
        std::string served_by = dev.name;
        const Clock::time_point t0 = Clock::now();
        if (dev.breaker->allow()) {
            Status st;
            if (dev.breaker->stats().needs_rebuild) {
                st = rebuild_primary(w);
                if (st) dev.breaker->rebuilt();
            }
            if (st) st = run_on(w, w.primary, g, batch.frames, dets, tm);
            dev.breaker->record(st);
            if (st) {
                ok = true;
            } else {
                dev.failures++;
                if (classify_device_error(st) == DeviceErrorClass::kNotDevice)
                    log("device " + dev.name + ": batch failed: " + st.to_string());
            }
        }
        if (!ok && w.has_fallback()) {
            Status st = run_on(w, w.fallback_detectors(), g, batch.frames, dets, tm);
            if (st) {
                ok = true;
                degraded = true;
                served_by = cfg.fallback.device + "(fallback)";
                dev.fallback_batches++;
            } else {
                log("fallback " + cfg.fallback.device + ": batch failed: " + st.to_string());
            }
        }
        const Clock::time_point t1 = Clock::now();
        dev.busy.add(t0, t1);
        g.degraded.store(degraded || dev.breaker->state() != CircuitState::kClosed);
        if (!ok) {
            frames_failed += static_cast<int64_t>(batch.frames.size());
            return;
        }
        dev.batches++;
        dev.frames += static_cast<int64_t>(batch.frames.size());
        batches++;
        {
            std::lock_guard<std::mutex> lk(batch_mu);
            batch_sizes[static_cast<int>(batch.frames.size())]++;
        }
        stages.at("batch_wait")->record(batch.batch_wait_ms);
        stages.at("preprocess")->record(tm.preprocess_ms);
        stages.at("inference")->record(tm.inference_ms);
        stages.at("nms")->record(tm.postprocess_ms);
        const Clock::time_point done = Clock::now();
        for (size_t i = 0; i < batch.frames.size(); ++i) {
            const QueuedFrame& qf = batch.frames[i];
            std::shared_ptr<Camera> cam;
            {
                std::shared_lock<std::shared_mutex> lk(cams_mu);
                auto it = by_slot.find(qf.camera);
                if (it != by_slot.end()) cam = it->second;
            }
            if (!cam) continue;  // removed while its frame was in flight
            DetectionRecord rec;
            rec.camera = cam->cfg.id;
            rec.frame = qf.frame.index;
            rec.pts = qf.frame.pts;
            rec.wall_time_us = qf.frame.wall_time_us;
            rec.width = qf.frame.width;
            rec.height = qf.frame.height;
            rec.degraded = degraded;
            rec.device = served_by;
            rec.class_names = &g.names;
            const float conf = static_cast<float>(cam->cfg.confidence);
            for (const auto& d : dets[i]) {
                if (d.score <= conf) continue;
                if (!cam->cfg.classes.empty() &&
                    std::find(cam->cfg.classes.begin(), cam->cfg.classes.end(), d.class_id) == cam->cfg.classes.end())
                    continue;
                rec.detections.push_back(d);
            }
            rec.latency_ms = ms_between(qf.frame.capture_time, done);
            stages.at("decode")->record(qf.frame.decode_ms);
            stages.at("queue")->record(ms_between(qf.enqueued, batch.formed));
            stages.at("e2e")->record(rec.latency_ms);
            cam->e2e.record(rec.latency_ms);
            cam->fps.add(done);
            cam->processed++;
            cam->degraded.store(degraded);
            for (auto& s : sinks) s->write(rec);
            if (opt.on_frame) opt.on_frame(qf.frame, rec);
            {
                std::lock_guard<std::mutex> lk(cam->latest_mu);
                cam->latest = std::move(rec);
            }
        }
        for (auto& s : sinks) s->flush();
        frames_processed += static_cast<int64_t>(batch.frames.size());
        fps.add(done, static_cast<int>(batch.frames.size()));
    }

    void worker_loop(Worker& w) {
        for (;;) {
            Batch b = w.group->sched->next_batch();
            if (b.frames.empty()) return;
            process(w, b);
        }
    }

    ModelGroup* group_for(const config::CameraConfig& c) {
        const std::string& m = c.model.empty() ? cfg.model : c.model;
        auto it = groups.find(m);
        return it == groups.end() ? nullptr : it->second.get();
    }

    void update_min_conf(ModelGroup* g) {
        float mc = 1.0f;
        bool any = false;
        for (auto& [id, c] : cameras)
            if (c->group == g) {
                mc = std::min(mc, static_cast<float>(c->cfg.confidence));
                any = true;
            }
        g->min_conf.store(any ? mc : 0.25f);
    }

    int decode_threads(size_t cams) const {
        if (cfg.pipeline.decode_threads > 0) return cfg.pipeline.decode_threads;
        const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        return std::max(1, hw / static_cast<int>(std::max<size_t>(cams, 1)));
    }

    // Caller holds cams_mu exclusively.
    Status start_camera_locked(const std::shared_ptr<Camera>& cam) {
        video::CaptureOptions co;
        co.loop = cam->cfg.loop;
        co.realtime = cam->cfg.realtime;
        co.max_fps = cam->cfg.max_fps;
        co.reconnect = true;
        co.backoff_initial_s = cfg.pipeline.reconnect_initial_s;
        co.backoff_max_s = cfg.pipeline.reconnect_max_s;
        co.stall_timeout_s = cfg.pipeline.stall_timeout_s;
        co.reader.format = video::PixelFormat::kBGR24;
        co.reader.rtsp_transport = cam->cfg.rtsp_transport;
        co.reader.decode_threads = decode_threads(std::max(cameras.size(), cfg.cameras.size()));
        co.reader.read_timeout_s = cfg.pipeline.stall_timeout_s;
        auto reg = pools;
        // One capture thread calls it; the pool is looked up again only when the frame size changes.
        co.reader.allocator = [reg, pool = std::shared_ptr<BufferPool>()](size_t bytes) mutable -> std::shared_ptr<uint8_t> {
            if (!pool || pool->options().buffer_bytes != bytes) {
                auto p = reg->get(MemoryKind::kHost, bytes, "frames_" + std::to_string(bytes));
                if (!p) return nullptr;
                pool = std::move(p).value();
            }
            return pool->acquire();
        };
        cam->capture = std::make_unique<video::CaptureLoop>(cam->cfg.url, co);
        Camera* c = cam.get();
        ModelGroup* g = cam->group;
        const double degraded_fps = cfg.fallback.max_fps;
        const uint64_t slot = cam->slot;
        cam->capture->start(
            [this, c, g, slot, degraded_fps](video::Frame&& f) {
                c->captured++;
                c->width.store(f.width);
                c->height.store(f.height);
                if (degraded_fps > 0 && g->degraded.load()) {
                    const auto min_gap = std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(1.0 / degraded_fps));
                    if (f.capture_time - c->last_accept < min_gap) {
                        c->skipped++;
                        return;
                    }
                }
                c->last_accept = f.capture_time;
                g->sched->push(slot, std::move(f));
            },
            [this, c](const video::CaptureEvent& ev) {
                std::string m = "camera " + c->cfg.id + ": " + video::capture_event_name(ev.kind);
                if (!ev.message.empty()) m += ": " + ev.message;
                if (ev.kind == video::CaptureEvent::Kind::kReconnecting)
                    m += " (retry in " + std::to_string(ev.retry_in_s).substr(0, 4) + " s)";
                log(m);
                if (opt.on_camera_event) opt.on_camera_event(c->cfg.id, video::capture_event_name(ev.kind), ev.message);
            });
        return Status::ok();
    }

    Status load_engines() {
        Impl& P = *this;
        const config::Config& cfg = P.cfg;
        const config::Settings& st = cfg.settings;
        // Model groups: one scheduler per distinct model.
        std::vector<std::string> models;
        if (!cfg.model.empty()) models.push_back(cfg.model);
        for (const auto& c : cfg.cameras)
            if (!c.model.empty() && std::find(models.begin(), models.end(), c.model) == models.end())
                models.push_back(c.model);
        if (models.empty()) return invalid_argument("no model: set 'model' (or a model per camera)");

        BatcherOptions bo;
        bo.max_batch = cfg.pipeline.max_batch_size;
        bo.preferred_batch_sizes = cfg.pipeline.preferred_batch_sizes;
        bo.queue_capacity = cfg.pipeline.queue_capacity;
        bo.max_queue_delay_ms = cfg.pipeline.max_queue_delay_ms;
        if (bo.max_queue_delay_ms <= 0) {
            double fastest = 30;  // fps
            for (const auto& c : cfg.cameras)
                if (c.max_fps > 0) fastest = std::max(fastest, c.max_fps);
            bo.max_queue_delay_ms = cfg.pipeline.deadline_fraction * 1000.0 / fastest;
        }
        if (bo.preferred_batch_sizes.empty())
            for (int b = 1; b <= bo.max_batch; b *= 2) bo.preferred_batch_sizes.push_back(b);

        const int workers_per_dev = std::max(1, cfg.pipeline.inference_workers);
        for (const auto& m : models) {
            auto g = std::make_unique<ModelGroup>();
            g->model_path = m;
            g->sched = std::make_unique<BatchScheduler>(bo);
            const auto& sizes = g->sched->options().preferred_batch_sizes;
            for (auto& dev : P.devices) {
                if (!dev->hw) {
                    ITSCAM_ASSIGN_OR_RETURN(device::Device * hw, device::device_get(dev->name));
                    dev->hw = hw;
                }
                for (int wi = 0; wi < workers_per_dev; ++wi) {
                    auto w = std::make_unique<Worker>();
                    w->group = g.get();
                    w->dev = dev.get();
                    w->threads = cfg.threads > 0 ? std::max(1, cfg.threads / workers_per_dev) : 0;
                    for (int b : sizes) {
                        ITSCAM_ASSIGN_OR_RETURN(auto d, P.make_detector(m, dev->name, b, cfg.imgsz, w->threads, true, w->arena));
                        if (g->names.empty()) g->names = d->class_names();
                        w->primary[b] = std::move(d);
                    }
                    if (cfg.fallback.enabled) {
                        const std::string& fmodel = cfg.fallback.model.empty() ? m : cfg.fallback.model;
                        const Engine& pe = w->primary.begin()->second->engine();
                        const int pimg = pe.input_height();
                        const int fimg = cfg.fallback.imgsz > 0 ? cfg.fallback.imgsz
                                         : cfg.fallback.model.empty() ? pimg
                                                                      : 0;
                        const int fthreads = cfg.fallback.threads > 0 ? cfg.fallback.threads : w->threads;
                        // A fallback identical to the primary would be a second copy of the same engines.
                        // (The same device means the same precision; fault injection decorates the primary only.)
                        w->fallback_is_primary = !P.faults && fmodel == m && cfg.fallback.device == dev->name &&
                                                 fimg == pimg && pe.input_width() == pimg && fthreads == w->threads;
                        if (w->fallback_is_primary)
                            P.log("fallback " + cfg.fallback.device + " is the primary's model and settings: it "
                                  "serves with the primary's engines");
                        for (int b : w->fallback_is_primary ? std::vector<int>{} : sizes) {
                            ITSCAM_ASSIGN_OR_RETURN(auto d, P.make_detector(fmodel, cfg.fallback.device, b, fimg, fthreads, false, w->arena));
                            if (d->class_names() != g->names)
                                return invalid_argument("fallback model " + fmodel + " has other classes than " + m);
                            w->fallback[b] = std::move(d);
                        }
                    }
                    for (auto* dm : {&w->primary, &w->fallback})
                        for (auto& [b, d] : *dm) {
                            ITSCAM_RETURN_IF_ERROR(P.staging_pools(*w, *d).status());
                            if (st.MEMORY_WARMUP_ON_START) {
                                Status ws = P.warm_up(*w, *d);
                                if (!ws) return ws.with_context("warm-up of " + m + " (batch " + std::to_string(b) + ")");
                            }
                        }
                    dev->workers++;
                    P.workers.push_back(std::move(w));
                }
            }
            {
                std::unique_lock<std::shared_mutex> lk(P.cams_mu);
                P.groups[m] = std::move(g);
            }
        }
        return Status::ok();
    }

    CameraSnapshot camera_snapshot(const Camera& c) const {
        CameraSnapshot s;
        s.id = c.cfg.id;
        s.url = c.cfg.url;
        s.model = c.group ? c.group->model_path : "";
        s.enabled = c.cfg.enabled;
        s.width = c.width.load();
        s.height = c.height.load();
        s.frames_captured = c.captured.load();
        s.frames_processed = c.processed.load();
        s.frames_skipped = c.skipped.load();
        s.degraded = c.degraded.load();
        if (c.capture) {
            video::CaptureStats cs = c.capture->stats();
            s.state = capture_state_str(cs.state);
            s.reconnects = cs.reconnects;
            s.errors = cs.errors;
            s.stalls = cs.stalls;
            s.format_changes = cs.format_changes;
            s.frames_skipped += cs.skipped_fps;
            s.last_error = cs.last_error;
        } else {
            s.state = c.cfg.enabled ? "starting" : "disabled";
        }
        if (c.group) {
            CameraQueueStats q = c.group->sched->camera_stats(c.slot);
            s.frames_dropped = q.dropped;
            s.queue_depth = q.depth;
        }
        s.fps = c.fps.rate();
        s.latency = c.e2e.summary();
        return s;
    }
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pipeline::~Pipeline() { stop(false); }

Result<std::unique_ptr<Pipeline>> Pipeline::create(const config::Config& cfg, PipelineOptions opt) {
    ITSCAM_RETURN_IF_ERROR(config::validate(cfg));
    auto impl = std::make_unique<Impl>();
    Impl& P = *impl;
    P.cfg = cfg;
    config::resolve(P.cfg);  // defaults that depend on the device (max_batch_size 0: by device)
    P.opt = std::move(opt);
    P.faults = P.opt.faults;
    for (const char* s : kStages) P.stages[s] = std::make_unique<LatencyRecorder>(4096, cfg.pipeline.latency_window_s);
    const config::Settings& st = cfg.settings;

    // Pools: MEMORY_POOL_SIZE buffers per batch size (none up front when preallocation is off). Frame pools are
    // created at the first frame of each resolution and keep up to the peak number of frames in flight.
    PoolOptions pdef;
    pdef.kind = MemoryKind::kHost;
    pdef.initial_buffers = st.ENABLE_MEMORY_PREALLOCATION ? st.MEMORY_POOL_SIZE : 0;
    pdef.max_buffers = 4096;
    pdef.warmup = st.MEMORY_WARMUP_ON_START;
    P.pools = std::make_shared<PoolRegistry>(pdef);

    // Sinks.
    for (const auto& sc : cfg.sinks) {
        ITSCAM_ASSIGN_OR_RETURN(auto s, JsonlSink::open(sc.path));
        P.sinks.push_back(std::shared_ptr<DetectionSink>(std::move(s)));
    }
    for (auto& s : P.opt.sinks) P.sinks.push_back(s);

    // Devices: the CPU, or one per CUDA device id.
    CircuitBreakerOptions cbo;
    cbo.failure_threshold = st.CIRCUIT_BREAKER_FAILURE_THRESHOLD;
    cbo.recovery_timeout_s = st.CIRCUIT_BREAKER_RECOVERY_TIMEOUT;
    cbo.half_open_max_calls = st.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS;
    cbo.oom_threshold = st.gpu_memory_failure_threshold;
    // Every device's stream pool sizes, GPU memory budget and stream monitoring (process-wide).
    device::DeviceSettings ds;
    ds.streams_initial = st.STREAMS_PER_DEVICE;
    ds.streams_max = st.MAX_STREAMS_PER_DEVICE;
    ds.gpu_memory_budget = static_cast<size_t>(std::max(0.0, st.TOTAL_GPU_MEMORY_GB) * (1ull << 30));
    ds.stream_monitoring = st.ENABLE_CUDA_STREAMS_MONITORING;
    device::devices_configure(ds);
    // The configured device, or one per entry of device_ids for a numbered kind without an ordinal ("cuda").
    Impl* raw = impl.get();
    for (const std::string& name : device::device_names_expand(cfg.device, st.device_ids)) {
        auto d = std::make_unique<Device>();
        d->name = name;
        d->breaker = std::make_unique<CircuitBreaker>(cbo);
        const std::string dn = name;
        d->breaker->on_transition([raw, dn](const CircuitTransition& t) {
            raw->transitions++;
            raw->log("device " + dn + ": circuit " + circuit_state_name(t.from) + " -> " + circuit_state_name(t.to) +
                     " (" + t.reason + ")");
            if (raw->opt.on_circuit_transition) raw->opt.on_circuit_transition(dn, t);
        });
        P.devices.push_back(std::move(d));
    }

    if (cfg.model.empty() && std::any_of(cfg.cameras.begin(), cfg.cameras.end(),
                                         [](const config::CameraConfig& c) { return c.model.empty(); }))
        return invalid_argument("no model: set 'model' (or a model per camera)");
    std::unique_ptr<Pipeline> pipe(new Pipeline(std::move(impl)));
    if (!pipe->impl_->opt.defer_load) ITSCAM_RETURN_IF_ERROR(pipe->load());
    return pipe;
}

Status Pipeline::load() {
    Impl& P = *impl_;
    std::lock_guard<std::mutex> load_lock(P.load_mu);
    if (P.loaded) return invalid_argument("pipeline already loaded");
    P.set_reason("loading models and warming up");
    Status st = P.load_engines();
    if (!st) {
        P.set_reason("model load failed: " + st.to_string());
        return st;
    }
    P.loaded = true;
    P.is_ready = true;
    P.set_reason("");
    return Status::ok();
}

Status Pipeline::start() {
    Impl& P = *impl_;
    {
        std::lock_guard<std::mutex> lk(P.load_mu);
        if (!P.loaded) return invalid_argument("pipeline not loaded: call load() before start()");
    }
    if (P.running.exchange(true)) return invalid_argument("pipeline already started");
    for (auto& w : P.workers) {
        Worker* wp = w.get();
        w->thread = std::thread([&P, wp] { P.worker_loop(*wp); });
    }
    for (const auto& c : P.cfg.cameras) {
        Status s = add_camera(c);
        if (!s) {
            stop(false);
            return s;
        }
    }
    return Status::ok();
}

Status Pipeline::add_camera(const config::CameraConfig& cc) {
    Impl& P = *impl_;
    if (P.stopping) return unavailable("the pipeline is shutting down");
    config::Config probe = P.cfg;
    probe.cameras = {cc};
    ITSCAM_RETURN_IF_ERROR(config::validate(probe).with_context("camera '" + cc.id + "'"));
    std::unique_lock<std::shared_mutex> lk(P.cams_mu);
    if (P.cameras.count(cc.id)) return invalid_argument("camera '" + cc.id + "' already exists");
    auto cam = std::make_shared<Camera>(P.cfg.pipeline.latency_window_s);
    cam->cfg = cc;
    cam->group = P.group_for(cc);
    if (!cam->group)
        return invalid_argument("camera '" + cc.id + "': model '" + cc.model +
                                "' is not loaded (cameras added at run time use a model the pipeline started with)");
    cam->slot = cam->group->sched->add_camera();
    P.cameras[cc.id] = cam;
    P.by_slot[cam->slot] = cam;
    P.update_min_conf(cam->group);
    if (cc.enabled && P.running) ITSCAM_RETURN_IF_ERROR(P.start_camera_locked(cam));
    P.log("camera " + cc.id + ": added (" + cc.url + ")");
    if (P.opt.on_camera_event) P.opt.on_camera_event(cc.id, "added", cc.url);
    return Status::ok();
}

Status Pipeline::remove_camera(const std::string& id) {
    Impl& P = *impl_;
    std::shared_ptr<Camera> cam;
    {
        std::unique_lock<std::shared_mutex> lk(P.cams_mu);
        auto it = P.cameras.find(id);
        if (it == P.cameras.end()) return not_found("camera '" + id + "' does not exist");
        cam = it->second;
        P.cameras.erase(it);
    }
    if (cam->capture) cam->capture->stop();  // outside the lock: may take a moment to interrupt I/O
    const CameraQueueStats q = cam->group->sched->camera_stats(cam->slot);
    cam->group->sched->remove_camera(cam->slot);
    {
        std::unique_lock<std::shared_mutex> lk(P.cams_mu);
        P.by_slot.erase(cam->slot);
        P.removed_dropped += q.dropped + q.depth;
        P.removed_processed += cam->processed.load();
        P.update_min_conf(cam->group);
    }
    P.log("camera " + id + ": removed");
    if (P.opt.on_camera_event) P.opt.on_camera_event(id, "removed", "");
    return Status::ok();
}

std::vector<std::string> Pipeline::camera_ids() const {
    std::shared_lock<std::shared_mutex> lk(impl_->cams_mu);
    std::vector<std::string> ids;
    for (auto& [id, c] : impl_->cameras) ids.push_back(id);
    return ids;
}

Result<config::CameraConfig> Pipeline::camera_config(const std::string& id) const {
    std::shared_lock<std::shared_mutex> lk(impl_->cams_mu);
    auto it = impl_->cameras.find(id);
    if (it == impl_->cameras.end()) return not_found("camera '" + id + "' does not exist");
    return it->second->cfg;
}

Result<DetectionRecord> Pipeline::latest(const std::string& id) const {
    std::shared_ptr<Camera> cam;
    {
        std::shared_lock<std::shared_mutex> lk(impl_->cams_mu);
        auto it = impl_->cameras.find(id);
        if (it == impl_->cameras.end()) return not_found("camera '" + id + "' does not exist");
        cam = it->second;
    }
    std::lock_guard<std::mutex> lk(cam->latest_mu);
    DetectionRecord r = cam->latest;
    if (r.camera.empty()) r.camera = id;
    return r;
}

void Pipeline::wait_cameras_ended() {
    Impl& P = *impl_;
    for (;;) {
        if (P.stopping) return;
        bool any_running = false;
        {
            std::shared_lock<std::shared_mutex> lk(P.cams_mu);
            // No cameras (yet): a service waiting for cameras from the API has not ended.
            any_running = P.cameras.empty();
            for (auto& [id, c] : P.cameras)
                if (c->capture && c->capture->running()) any_running = true;
        }
        if (!any_running) {
            // Let the queued frames finish before reporting the end.
            bool pending = false;
            for (auto& [m, g] : P.groups) pending |= g->sched->pending() > 0;
            if (!pending) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void Pipeline::stop(bool drain) {
    Impl& P = *impl_;
    if (P.stopping.exchange(true)) return;
    std::lock_guard<std::mutex> load_lock(P.load_mu);  // a load in progress finishes first
    std::vector<std::shared_ptr<Camera>> cams;
    {
        std::shared_lock<std::shared_mutex> lk(P.cams_mu);
        for (auto& [id, c] : P.cameras) cams.push_back(c);
    }
    for (auto& c : cams)
        if (c->capture) c->capture->stop();
    for (auto& [m, g] : P.groups) g->sched->stop(drain);
    for (auto& w : P.workers)
        if (w->thread.joinable()) w->thread.join();
    for (auto& s : P.sinks) s->flush();
    P.running = false;
    P.is_ready = false;
    P.set_reason("stopped");
}

bool Pipeline::ready() const {
    const Impl& P = *impl_;
    if (!P.is_ready) return false;
    // Ready while some backend can serve: a closed/half-open device, or the fallback.
    if (P.cfg.fallback.enabled) return true;
    for (auto& d : P.devices)
        if (d->breaker->state() != CircuitState::kOpen) return true;
    return false;
}

const config::Config& Pipeline::config() const { return impl_->cfg; }
std::shared_ptr<FaultController> Pipeline::faults() const { return impl_->faults; }

PipelineSnapshot Pipeline::snapshot() const {
    const Impl& P = *impl_;
    PipelineSnapshot s;
    s.uptime_s = std::chrono::duration<double>(Clock::now() - P.created).count();
    s.ready = ready();
    if (!s.ready) s.not_ready_reason = P.is_ready ? "no backend can serve (circuit open, fallback disabled)" : P.reason();
    s.frames_processed = P.frames_processed.load();
    s.batches = P.batches.load();
    s.frames_failed = P.frames_failed.load();
    s.fps = P.fps.rate();
    {
        std::lock_guard<std::mutex> lk(const_cast<Impl&>(P).batch_mu);
        s.batch_sizes = P.batch_sizes;
    }
    for (auto& [name, rec] : P.stages) {
        s.stages[name] = rec->summary();
        s.stage_buckets[name] = rec->buckets();
    }
    s.pools = P.pools->stats();
    s.pool_total = P.pools->total();
    {
        std::shared_lock<std::shared_mutex> lk(P.cams_mu);
        s.frames_dropped = P.removed_dropped;
        for (auto& [id, c] : P.cameras) {
            s.cameras.push_back(P.camera_snapshot(*c));
            s.frames_dropped += s.cameras.back().frames_dropped;
            s.frames_skipped += s.cameras.back().frames_skipped;
        }
    }
    for (auto& d : P.devices) {
        DeviceSnapshot ds;
        ds.name = d->name;
        ds.circuit = d->breaker->state();
        ds.circuit_stats = d->breaker->stats();
        ds.batches = d->batches.load();
        ds.frames = d->frames.load();
        ds.failures = d->failures.load();
        ds.fallback_batches = d->fallback_batches.load();
        ds.workers = d->workers.load();
        ds.busy_fraction = d->busy.fraction(ds.workers);
        device::Device* hw = d->hw.load();
        if (P.cfg.settings.ENABLE_CUDA_STREAMS_MONITORING && hw)
            for (const device::StreamStats& st : hw->stream_stats())
                if (st.leases > 0 || st.runs > 0) ds.streams.push_back(st);  // streams in use, not the idle pool
        s.devices.push_back(ds);
    }
    s.circuit_transitions = P.transitions.load();
    return s;
}

}  // namespace itscam::pipeline
