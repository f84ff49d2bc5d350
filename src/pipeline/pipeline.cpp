// The public Pipeline API (pipeline.h): create, load, start, cameras added and removed, stop, ready, snapshot.
// The machinery behind it is Pipeline::Impl (pipeline_impl.h, which lists the files that hold each concern).
#include "pipeline/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <shared_mutex>
#include <thread>

#include "core/thread_info.h"
#include "core/time_format.h"
#include "core/redact.h"
#include "device/device_name.h"
#include "device/registry.h"
#include "pipeline/pipeline_impl.h"

namespace itscam::pipeline {

namespace {

const char* const kStages[] = {"decode", "queue", "batch_wait", "preprocess", "inference", "nms", "e2e"};

void default_log(const std::string& msg) {
    std::fprintf(stderr, "%s itscam: %s\n", iso8601_utc(std::chrono::system_clock::now()).c_str(), msg.c_str());
}

std::string capture_state_str(video::CaptureState s) {
    return video::capture_state_name(s);
}

// Validates and adds one camera (start(): the config's cameras; add_camera(): the API's, after its own rule).
Status add_camera_to(Pipeline::Impl& P, const config::CameraConfig& cc, int64_t epoch = 0);

}  // namespace

// Every log line goes through the redaction: camera URLs (their userinfo) and known secrets never reach a log.
void Pipeline::Impl::log(const std::string& m) const {
    const std::string shown = redact(m);
    opt.log ? opt.log(shown) : default_log(shown);
}

CameraSnapshot Pipeline::Impl::camera_snapshot(const Camera& c) const {
    CameraSnapshot s;
    s.id = c.cfg.id;
    s.url = mask_url_userinfo(c.cfg.url);  // what is shown; the capture opens c.cfg.url
    s.model = c.group ? c.group->model_path : "";
    s.enabled = c.cfg.enabled;
    s.width = c.width.load();
    s.height = c.height.load();
    s.frames_captured = c.captured.load();
    s.frames_processed = c.processed.load();
    s.frames_skipped = c.skipped.load();
    s.nonref_skip_starts = c.thinning_activations.load();
    s.degraded = c.degraded.load();
    if (c.capture) {
        video::CaptureStats cs = c.capture->stats();
        s.state = capture_state_str(cs.state);
        s.reconnects = cs.reconnects;
        s.errors = cs.errors;
        s.stalls = cs.stalls;
        s.format_changes = cs.format_changes;
        s.decoder = cs.decoder;
        s.decoder_fallbacks = cs.decoder_fallbacks;
        s.skipping_nonref = cs.skipping_nonref;
        s.frames_skipped += cs.skipped_fps;
        s.last_error = redact(cs.last_error);
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
    s.analytics_late_frames = c.analytics_late.load();
    return s;
}

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pipeline::~Pipeline() {
    stop(false);
}

Result<std::unique_ptr<Pipeline>> Pipeline::create(const config::Config& cfg, PipelineOptions opt) {
    ITSCAM_RETURN_IF_ERROR(config::validate(cfg));
    auto impl = std::make_unique<Impl>();
    Impl& P = *impl;
    P.cfg = cfg;
    config::resolve(P.cfg);  // defaults that depend on the device (max_batch_size 0: by device)
    P.opt = std::move(opt);
    P.faults = P.opt.faults;
    P.analytics_epoch = P.opt.analytics_epoch > 0
                            ? P.opt.analytics_epoch
                            : std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch()).count();
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
    const std::vector<std::string> names =
        P.opt.devices.empty() ? device::device_names_expand(cfg.device, st.device_ids) : P.opt.devices;
    for (size_t i = 0; i < names.size(); ++i) {
        for (size_t j = 0; j < i; ++j)
            if (names[j] == names[i]) return invalid_argument("device " + names[i] + " is named twice");
        ITSCAM_RETURN_IF_ERROR(device::device_name_validate(names[i]));
    }
    for (const std::string& name : names) {
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
    // CPU decode slots: by default one per usable core. The inference workers need no slot of their own: the
    // capture threads run at nice 19, so a worker is served first, and with as many decoders as cores a slot handed
    // to a thread that is not yet running costs no core its work. On 2 cores at 48 cameras, 2 slots served
    // 77.9-79.5 fps, 1 slot 55.7-70.9, 4 slots 61.3, no limit 8.5-20.3 (docs/benchmarks.md).
    const int slots = P.cfg.pipeline.decode_slots;
    if (slots >= 0) P.decode_gate = std::make_shared<video::DecodeGate>(slots > 0 ? slots : video::usable_cores());
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
        w->thread = std::thread([&P, wp, i = &w - P.workers.data()] {
            set_thread_name("infer" + std::to_string(i));
            P.worker_loop(*wp);
        });
    }
    for (const auto& c : P.cfg.cameras) {
        Status s = add_camera_to(P, c);
        if (!s) {
            stop(false);
            return s;
        }
    }
    return Status::ok();
}

Status Pipeline::add_camera(const config::CameraConfig& cc, int64_t epoch) {
    // Cameras added at run time come from the API: local files only with server.allow_file_cameras (the config
    // file's own cameras, added by start(), may always be files).
    ITSCAM_RETURN_IF_ERROR(config::check_added_camera(impl_->cfg, cc).with_context("camera '" + cc.id + "'"));
    return add_camera_to(*impl_, cc, epoch);
}

namespace {

Status add_camera_to(Pipeline::Impl& P, const config::CameraConfig& cc, int64_t epoch) {
    // Its password is hidden wherever it shows up from now on (FFmpeg messages, errors), in any form.
    register_url_secrets(cc.url);
    if (P.stopping) return unavailable("the pipeline is shutting down");
    config::Config probe = P.cfg;
    probe.cameras = {cc};
    ITSCAM_RETURN_IF_ERROR(config::validate(probe).with_context("camera '" + cc.id + "'"));
    std::unique_lock<std::shared_mutex> lk(P.cams_mu);
    if (P.cameras.count(cc.id)) return invalid_argument("camera '" + cc.id + "' already exists");
    auto cam = std::make_shared<Camera>(P.cfg.pipeline.latency_window_s);
    cam->cfg = cc;
    cam->epoch = epoch;
    cam->group = P.group_for(cc);
    if (!cam->group)
        return invalid_argument("camera '" + cc.id + "': model '" + cc.model +
                                "' is not loaded (cameras added at run time use a model the pipeline started with)");
    if (!cc.analytics.empty())
        cam->analytics = std::make_unique<analytics::CameraAnalytics>(cc.id, cc.analytics, cam->group->names,
                                                                      epoch > 0 ? epoch : P.analytics_epoch);
    cam->slot = cam->group->sched->add_camera(cc.lossless);
    P.cameras[cc.id] = cam;
    P.by_slot[cam->slot] = cam;
    P.update_min_conf(cam->group);
    if (cc.enabled && P.running) ITSCAM_RETURN_IF_ERROR(P.start_camera_locked(cam));
    P.log("camera " + cc.id + ": added (" + cc.url + ")");
    if (P.opt.on_camera_event) P.opt.on_camera_event(cc.id, "added", redact(cc.url));
    return Status::ok();
}

}  // namespace

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
    {
        // Its running aggregation interval is closed and kept for the service's next take_intervals().
        std::lock_guard<std::mutex> alk(cam->analytics_mu);
        if (cam->analytics) {
            auto iv = cam->analytics->take_intervals(true);
            for (auto& a : iv) a.epoch = cam->epoch;
            std::lock_guard<std::mutex> rlk(P.removed_intervals_mu);
            P.removed_intervals.insert(P.removed_intervals.end(), std::make_move_iterator(iv.begin()),
                                       std::make_move_iterator(iv.end()));
        }
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
    // Every capture loop is told first, then each is joined: they wind down together, not one after another.
    for (auto& c : cams)
        if (c->capture) c->capture->request_stop();
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

const config::Config& Pipeline::config() const {
    return impl_->cfg;
}
std::shared_ptr<FaultController> Pipeline::faults() const {
    return impl_->faults;
}

PipelineSnapshot Pipeline::snapshot() const {
    const Impl& P = *impl_;
    PipelineSnapshot s;
    s.uptime_s = std::chrono::duration<double>(Clock::now() - P.created).count();
    s.ready = ready();
    if (!s.ready)
        s.not_ready_reason = P.is_ready ? "no backend can serve (circuit open, fallback disabled)" : P.reason();
    s.frames_processed = P.frames_processed.load();
    s.batches = P.batches.load();
    s.frames_failed = P.frames_failed.load();
    s.frames_fenced = P.frames_fenced.load();
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
        ds.handoffs = d->handoffs.load();
        ds.workers = d->workers.load();
        ds.elastic_workers = d->elastic_workers.load();
        ds.elastic_batches = d->elastic_batches.load();
        ds.busy_fraction = d->busy.fraction(ds.workers - ds.elastic_workers);
        device::Device* hw = d->hw.load();
        if (P.cfg.settings.ENABLE_CUDA_STREAMS_MONITORING && hw)
            for (const device::StreamStats& st : hw->stream_stats())
                if (st.leases > 0 || st.runs > 0) ds.streams.push_back(st);  // streams in use, not the idle pool
        s.devices.push_back(ds);
    }
    s.circuit_transitions = P.transitions.load();
    if (P.decode_gate) {
        const video::DecodeGate::Stats gs = P.decode_gate->stats();
        s.decode_slots = P.decode_gate->slots();
        s.decode_slot_waits = gs.waits;
        s.decode_slot_wait_s = gs.wait_s;
    }
    return s;
}

}  // namespace itscam::pipeline
