// Pipeline::Impl's workers (pipeline_impl.h): each worker thread takes batches from its model group's scheduler
// and runs them on its device's detectors while the circuit breaker allows. Otherwise (or when they fail) the batch
// goes to another device whose circuit is closed, handed back to the scheduler for that device's workers, and only
// without one to the fallback's detectors. The detections go to the cameras' latest records, the sinks and the
// counters.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "device/device_name.h"
#include "pipeline/frame_host.h"
#include "pipeline/pipeline_impl.h"

namespace itscam::pipeline {

Status Pipeline::Impl::run_on(Worker& w, std::map<int, std::unique_ptr<Detector>>& dmap, ModelGroup& g,
                              const std::vector<QueuedFrame>& frames, std::vector<std::vector<vision::Detection>>& dets,
                              DetectTimings& tm) {
    dets.clear();
    tm = {};
    size_t start = 0;
    while (start < frames.size()) {
        const size_t left = frames.size() - start;
        auto it = dmap.lower_bound(static_cast<int>(left));  // smallest batch size >= left
        if (it == dmap.end()) it = std::prev(dmap.end());    // more than the largest: split
        Detector& d = *it->second;
        const size_t n = std::min<size_t>(left, static_cast<size_t>(it->first));
        std::vector<ImageView> views;
        views.reserve(n);
        // NV12 frames go to a GPU's letterbox as they are: NVDEC pictures of that GPU (in place), CPU-decoded ones in
        // page-locked host memory (mapped: in place; pinned: DMA). Any other reader of them (a host detector, e.g.
        // the breaker's CPU fallback, or another GPU for NVDEC pictures) gets a host BGR copy.
        const int gpu = d.gpu_pre_post() ? device::device_gpu_ordinal(d.engine().options().device) : -1;
        std::vector<video::Frame> host_copies;
        host_copies.reserve(n);
        for (size_t i = 0; i < n; ++i) {
            const video::Frame* f = &frames[start + i].frame;
            if (gpu >= 0 && f->format == video::PixelFormat::kNV12 && (!f->on_device() || f->device == gpu)) {
                const uint8_t* y = f->data.get();
                views.push_back(ImageView{y, f->width, f->height, f->stride, y + f->stride * f->height,
                                          f->yuv_matrix == video::YuvMatrix::kBT709, f->yuv_full_range});
                continue;
            }
            if (f->on_device() || f->format != video::PixelFormat::kBGR24) {
                ITSCAM_ASSIGN_OR_RETURN(video::Frame h, host_bgr_frame(*f));
                host_copies.push_back(std::move(h));
                f = &host_copies.back();
            }
            views.push_back(ImageView{f->data.get(), f->width, f->height, f->stride});
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

void Pipeline::Impl::process(Worker& w, Batch& batch) {
    ModelGroup& g = *w.group;
    Device& dev = *w.dev;
    std::vector<std::vector<vision::Detection>> dets;
    DetectTimings tm;
    bool degraded = false;
    bool ok = false;
    bool device_fault = true;  // refused by the circuit, or failed with a device error (not the batch's own fault)
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
            device_fault = classify_device_error(st) != DeviceErrorClass::kNotDevice;
            if (!device_fault) log("device " + dev.name + ": batch failed: " + st.to_string());
        }
    }
    if (!ok && device_fault && batch.handoffs < static_cast<int>(devices.size()) && !stopping.load() &&
        another_device_closed(dev)) {
        // Another GPU serves while this one's circuit is open: the whole batch goes to its workers, not to the
        // (slower) fallback. Not a batch that failed for itself (it would fail there too), not one that every
        // device already had, and not while stopping: the other workers may have drained the queue and gone.
        dev.handoffs++;
        batch.handoffs++;
        dev.busy.add(t0, Clock::now());
        g.sched->hand_back(std::move(batch));
        return;
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
        if (cam->epoch > 0) {
            rec.epoch = cam->epoch;
            rec.node = opt.node;
        }
        rec.class_names = &g.names;
        // Cluster mode: past the deadline of the lease the camera was taken under nothing of this frame is
        // published or counted (the camera's next owner may be running it already); the guard stops the camera
        // moments later.
        const bool publish = !opt.may_publish || opt.may_publish(cam->epoch);
        if (!publish) frames_fenced++;
        const float conf = static_cast<float>(cam->cfg.confidence);
        // The tracker also takes the low-score detections (ByteTrack's second stage), above its own floor.
        const bool tracked = !cam->cfg.analytics.empty();
        const float track_floor = tracked ? std::min(conf, cam->cfg.analytics.tracker.low_score) : conf;
        std::vector<vision::Detection> for_tracker;
        for (const auto& d : dets[i]) {
            if (d.score <= track_floor) continue;
            if (!cam->cfg.classes.empty() &&
                std::find(cam->cfg.classes.begin(), cam->cfg.classes.end(), d.class_id) == cam->cfg.classes.end())
                continue;
            if (tracked) for_tracker.push_back(d);
            if (d.score > conf) rec.detections.push_back(d);
        }
        if (tracked && publish) run_analytics(*cam, for_tracker, rec);
        rec.latency_ms = ms_between(qf.frame.capture_time, done);
        stages.at("decode")->record(qf.frame.decode_ms);
        stages.at("queue")->record(ms_between(qf.enqueued, batch.formed));
        stages.at("e2e")->record(rec.latency_ms);
        cam->e2e.record(rec.latency_ms);
        cam->fps.add(done);
        cam->processed++;
        cam->degraded.store(degraded);
        if (publish) {
            for (auto& s : sinks) s->write(rec);
            if (opt.on_event)
                for (const auto& e : rec.events) opt.on_event(e);
        }
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

bool Pipeline::Impl::another_device_closed(const Device& d) const {
    for (const auto& o : devices)
        if (o.get() != &d && o->workers.load() > 0 && o->breaker->state() == CircuitState::kClosed) return true;
    return false;
}

Status Pipeline::Impl::probe(Worker& w) {
    Device& dev = *w.dev;
    if (!dev.breaker->allow()) return Status::ok();
    const Clock::time_point t0 = Clock::now();
    Status st;
    if (dev.breaker->stats().needs_rebuild) {
        st = rebuild_primary(w);
        if (st) dev.breaker->rebuilt();
    }
    if (st) st = warm_up(w, *w.primary.begin()->second);
    dev.breaker->record(st);
    if (!st) dev.failures++;
    dev.busy.add(t0, Clock::now());
    return st;
}

// An elastic worker's pressure: a full batch waits while every regular worker of its group and device is busy (a free
// one would have taken it: next_batch() dispatches a full batch at once).
bool Pipeline::Impl::under_pressure(const Worker& w) const {
    return w.set->busy.load() >= w.set->regular && w.group->sched->pending() >= w.group->sched->options().max_batch;
}

void Pipeline::Impl::worker_loop(Worker& w) {
    for (;;) {
        // Parked: an elastic worker looks for pressure every millisecond (a lock and two loads), and leaves when the
        // pipeline stops (then it helps drain, or finds the scheduler stopped).
        while (w.elastic && !stopping.load() && !under_pressure(w))
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        // While this device's circuit is not closed and another device's is, take no batch: it would only be handed
        // back. The trials the breaker admits after its recovery timeout run on a blank frame instead (probe()), so
        // the device recovers whatever the traffic: with a faster device waiting for every batch, a trial that waits
        // for one may wait for ever.
        while (!stopping.load() && w.dev->breaker->state() != CircuitState::kClosed && another_device_closed(*w.dev)) {
            // A failed trial waits a little before the next one: one that failed for a reason the breaker does not
            // count (not a device error) gives its slot back at once.
            if (w.dev->breaker->admits() && probe(w).is_ok()) continue;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        Batch b = w.group->sched->next_batch();
        if (b.frames.empty()) return;
        if (w.elastic) {
            w.dev->elastic_batches++;
            process(w, b);
            continue;
        }
        w.set->busy++;
        process(w, b);
        w.set->busy--;
    }
}

}  // namespace itscam::pipeline
