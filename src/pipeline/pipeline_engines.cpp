// Pipeline::Impl's engines (pipeline_impl.h): the model groups and their workers, each worker's detectors per
// served batch size (one activation arena per worker, the fallback's detectors or the primary's when they would be
// the same), their staging pools and warm-up, and the rebuild after a sticky device error.
#include <algorithm>

#include "device/registry.h"
#include "pipeline/pipeline_impl.h"

namespace itscam::pipeline {

Result<std::unique_ptr<Detector>> Pipeline::Impl::make_detector(const std::string& model, const std::string& device,
                                                                int batch, int imgsz, int threads, bool with_faults,
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
    if (needs_calibration(dopt.engine.precision))
        return unsupported(std::string("precision ") + precision_name(dopt.engine.precision) +
                           " needs calibration images, which the pipeline does not take yet; use fp32, bf16 or fp16");
    dopt.nms.iou = static_cast<float>(cfg.pipeline.nms_iou);
    dopt.nms.max_det = cfg.pipeline.max_det;
    if (auto f = with_faults ? faults_for(device) : nullptr) {
        dopt.engine.backend_decorator = [f](std::unique_ptr<Backend> b) {
            return make_fault_injecting_backend(std::move(b), f);
        };
    }
    auto d = Detector::create(model, dopt);
    if (!d) return d.status().with_context("building the " + device + " engine (batch " + std::to_string(batch) + ")");
    return d;
}

Result<StagingPools*> Pipeline::Impl::staging_pools(Worker& w, const Detector& d) {
    auto it = w.staging.find(&d);
    if (it != w.staging.end()) return &it->second;
    const Engine& e = d.engine();
    const size_t bytes = static_cast<size_t>(e.batch()) * 3 * e.input_height() * e.input_width() * sizeof(float);
    const std::string name = "staging_b" + std::to_string(e.batch()) + "_" + std::to_string(e.input_height());
    ITSCAM_ASSIGN_OR_RETURN(device::Device * hw, device::device_get(e.options().device));
    const MemoryKind main_kind = hw->staging_memory();
    StagingPools sp;
    sp.mapped_ratio = mapped_ratio(*hw);
    if (sp.mapped_ratio > 0) {
        ITSCAM_ASSIGN_OR_RETURN(sp.mapped, pools->get(MemoryKind::kMapped, bytes, name + "_mapped", hw));
    }
    if (sp.mapped_ratio < 1) {
        const std::string suffix = main_kind == MemoryKind::kHost ? "" : std::string("_") + memory_kind_name(main_kind);
        ITSCAM_ASSIGN_OR_RETURN(sp.main, pools->get(main_kind, bytes, name + suffix, hw));
    }
    return &w.staging.emplace(&d, std::move(sp)).first->second;
}

double Pipeline::Impl::mapped_ratio(device::Device& hw) const {
    const auto mapped = hw.memory_kind(MemoryKind::kMapped);
    return mapped.is_ok() && *mapped == MemoryKind::kMapped ? std::clamp(cfg.settings.UNIFIED_MEMORY_RATIO, 0.0, 1.0)
                                                            : 0.0;
}

Result<Tensor> Pipeline::Impl::staging_tensor(Worker& w, const Detector& d) {
    ITSCAM_ASSIGN_OR_RETURN(StagingPools * sp, staging_pools(w, d));
    const bool mapped = sp->mapped && (!sp->main || mapped_turn(sp->acquires, sp->mapped_ratio));
    ++sp->acquires;
    auto buf = (mapped ? sp->mapped : sp->main)->acquire();
    if (!buf) return out_of_memory("no host memory for a staging buffer");
    const Engine& e = d.engine();
    return Tensor::from_buffer(DType::kF32, {e.batch(), 3, e.input_height(), e.input_width()},
                               std::shared_ptr<std::byte>(buf, reinterpret_cast<std::byte*>(buf.get())));
}

Status Pipeline::Impl::warm_up(Worker& w, Detector& d) {
    if (d.gpu_pre_post()) {
        // The path frames take: upload, letterbox, the graph, decode + NMS, for a full batch of mid-grey 720p
        // frames (the letterbox's and NMS's scratch, the graph's first replay).
        const int fw = 1280, fh = 720;
        const std::vector<uint8_t> grey(static_cast<size_t>(fw) * 3 * fh, 114);
        const std::vector<ImageView> views(static_cast<size_t>(d.engine().batch()),
                                           ImageView{grey.data(), fw, fh, static_cast<size_t>(fw) * 3});
        return d.detect(views).status();
    }
    ITSCAM_ASSIGN_OR_RETURN(Tensor t, staging_tensor(w, d));
    std::fill(t.data<float>(), t.data<float>() + t.numel(), 0.447f);
    std::vector<Tensor> outs;
    return d.engine().run(t, outs);
}

Status Pipeline::Impl::rebuild_primary(Worker& w) {
    log("device " + w.dev->name + ": rebuilding engines after a sticky device error");
    std::map<int, std::unique_ptr<Detector>> fresh;
    for (auto& [b, d] : w.primary) {
        ITSCAM_ASSIGN_OR_RETURN(
            auto nd, make_detector(w.group->model_path, w.dev->name, b, primary_imgsz(*d), w.threads, true, w.arena));
        fresh[b] = std::move(nd);
    }
    w.primary = std::move(fresh);
    w.staging.clear();  // keyed by the old detectors; the pools themselves stay in the registry
    return Status::ok();
}

Status Pipeline::Impl::load_engines() {
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
    // Elastic workers (max_inference_workers) are built like the others, engines and warm-up included, so that one
    // joins in within a millisecond of the pressure instead of after an engine build (tens of seconds on a GPU
    // without a tuned plan). They get the regular workers' thread count: on the CPU they share those cores.
    const int all_per_dev = std::max(workers_per_dev, cfg.pipeline.max_inference_workers);
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
            auto& set = g->sets[dev.get()];
            set = std::make_unique<WorkerSet>();
            set->regular = workers_per_dev;
            for (int wi = 0; wi < all_per_dev; ++wi) {
                auto w = std::make_unique<Worker>();
                w->group = g.get();
                w->dev = dev.get();
                w->set = set.get();
                w->elastic = wi >= workers_per_dev;
                w->threads = cfg.threads > 0 ? std::max(1, cfg.threads / workers_per_dev) : 0;
                for (int b : sizes) {
                    ITSCAM_ASSIGN_OR_RETURN(auto d,
                                            P.make_detector(m, dev->name, b, cfg.imgsz, w->threads, true, w->arena));
                    if (g->names.empty()) g->names = d->class_names();
                    w->primary[b] = std::move(d);
                }
                if (cfg.fallback.enabled) {
                    const std::string& fmodel = cfg.fallback.model.empty() ? m : cfg.fallback.model;
                    const Engine& pe = w->primary.begin()->second->engine();
                    const int pimg = pe.input_height();
                    const int fimg = cfg.fallback.imgsz > 0       ? cfg.fallback.imgsz
                                     : cfg.fallback.model.empty() ? pimg
                                                                  : 0;
                    const int fthreads = cfg.fallback.threads > 0 ? cfg.fallback.threads : w->threads;
                    // A fallback identical to the primary would be a second copy of the same engines.
                    // (The same device means the same precision; fault injection decorates the primary only.)
                    w->fallback_is_primary = !P.faults_for(dev->name) && fmodel == m && cfg.fallback.device == dev->name &&
                                             fimg == pimg && pe.input_width() == pimg && fthreads == w->threads;
                    if (w->fallback_is_primary)
                        P.log("fallback " + cfg.fallback.device +
                              " is the primary's model and settings: it "
                              "serves with the primary's engines");
                    for (int b : w->fallback_is_primary ? std::vector<int>{} : sizes) {
                        ITSCAM_ASSIGN_OR_RETURN(
                            auto d, P.make_detector(fmodel, cfg.fallback.device, b, fimg, fthreads, false, w->arena));
                        if (d->class_names() != g->names)
                            return invalid_argument("fallback model " + fmodel + " has other classes than " + m);
                        w->fallback[b] = std::move(d);
                    }
                }
                for (auto* dm : {&w->primary, &w->fallback})
                    for (auto& [b, d] : *dm) {
                        // The GPU pre/post path takes frames, not staging tensors.
                        if (!d->gpu_pre_post()) ITSCAM_RETURN_IF_ERROR(P.staging_pools(*w, *d).status());
                        if (st.MEMORY_WARMUP_ON_START) {
                            Status ws = P.warm_up(*w, *d);
                            if (!ws) return ws.with_context("warm-up of " + m + " (batch " + std::to_string(b) + ")");
                        }
                    }
                dev->workers++;
                if (w->elastic) dev->elastic_workers++;
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

}  // namespace itscam::pipeline
