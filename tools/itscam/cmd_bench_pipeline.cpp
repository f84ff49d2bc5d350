// itscam bench pipeline: N cameras (a real clip, looped and paced at its own frame rate, or synthetic frames)
// through the whole pipeline for a fixed time. Reports sustained FPS, capture-to-detection latency, drop rate and
// pool statistics, measured after a warm-up period so start-up costs do not blur the steady state.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench_fault.h"
#include "bench_meters.h"
#include "commands.h"
#include "config/config.h"
#include "device/device_name.h"
#include "pipeline/pipeline.h"
#include "pipeline_report.h"

namespace itscam::cli {

namespace {

struct PipeBenchArgs {
    std::string cameras = "4";
    std::string source = "synthetic";
    std::string model;
    std::string device = "cpu";
    std::string precision = "fp32";
    int threads = 0;
    int imgsz = 0;
    int max_batch = 8;
    double fps = 30;
    double duration_s = 20;
    double warmup_s = 5;
    double max_delay_ms = 0;
    int workers = 1;
    int max_workers = 0;
    std::string decode = "auto";
    double unified_memory_ratio = config::Settings{}.UNIFIED_MEMORY_RATIO;
    std::string json_out;
    bool verbose = false;
    FaultDrillOptions fault;
    std::string fallback = "none";
    int fallback_imgsz = 0;
    double recovery_s = -1;
    bool skip_nonref = true;
    int decode_slots = 0;
    std::string device_ids;  // "0,1": device_ids for a plain --device cuda
    std::string devices;     // "cpu,ref": serve on these devices instead
    // Parsed by run_bench_pipeline: --device-ids and --devices.
    std::vector<int> device_id_list;
    std::vector<std::string> device_list;
};

// How long the cameras may take to deliver their first frames beyond --warmup before the run is an error.
constexpr double kStartTimeoutS = 120;

struct Counters {
    int64_t processed = 0, captured = 0, dropped = 0, skipped = 0, acquires = 0, hits = 0, misses = 0;
};

Counters counters(const pipeline::PipelineSnapshot& s) {
    Counters c;
    c.processed = s.frames_processed;
    c.dropped = s.frames_dropped;
    c.skipped = s.frames_skipped;
    for (const auto& cam : s.cameras) c.captured += cam.frames_captured;
    c.acquires = s.pool_total.acquires;
    c.hits = s.pool_total.hits;
    c.misses = s.pool_total.misses;
    return c;
}

nlohmann::json run_one(const PipeBenchArgs& a, int ncam, int& rc) {
    rc = 0;
    config::Config cfg;
    cfg.device = a.device;  // "cuda:N" is one device; plain "cuda" is device_ids' (cuda:0 by default)
    if (!a.device_id_list.empty()) cfg.settings.device_ids = a.device_id_list;
    cfg.precision = a.precision;
    cfg.threads = a.threads;
    cfg.model = a.model;
    cfg.imgsz = a.imgsz;
    cfg.pipeline.max_batch_size = a.max_batch;
    cfg.pipeline.preferred_batch_sizes.clear();
    for (int b = 1; b <= a.max_batch; b *= 2) cfg.pipeline.preferred_batch_sizes.push_back(b);
    if (cfg.pipeline.preferred_batch_sizes.back() != a.max_batch) cfg.pipeline.preferred_batch_sizes.push_back(a.max_batch);
    cfg.pipeline.max_queue_delay_ms = a.max_delay_ms;
    cfg.pipeline.inference_workers = a.workers;
    cfg.pipeline.max_inference_workers = a.max_workers;
    cfg.pipeline.decode = a.decode;
    cfg.pipeline.skip_nonref_under_overload = a.skip_nonref;
    cfg.pipeline.decode_slots = a.decode_slots;
    cfg.settings.UNIFIED_MEMORY_RATIO = a.unified_memory_ratio;
    cfg.fallback.enabled = a.fallback != "none";
    if (cfg.fallback.enabled) {
        cfg.fallback.device = a.fallback;
        cfg.fallback.imgsz = a.fallback_imgsz;
    }
    if (a.recovery_s >= 0) cfg.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = a.recovery_s;
    for (int i = 0; i < ncam; ++i) {
        config::CameraConfig c;
        c.id = "cam" + std::to_string(i);
        if (a.source == "synthetic") {
            char url[96];
            std::snprintf(url, sizeof url, "synthetic://1920x1080@%g", a.fps);
            c.url = url;
        } else {
            c.url = a.source;
            c.loop = true;
        }
        c.realtime = true;
        cfg.cameras.push_back(c);
    }
    pipeline::PipelineOptions po;
    if (!a.verbose) po.log = [](const std::string&) {};
    if (!a.device_list.empty()) {
        po.devices = a.device_list;
        cfg.device = po.devices.front();
    }
    std::unique_ptr<FaultDrill> drill;
    if (!a.fault.kind.empty()) {
        auto made = FaultDrill::create(a.fault, a.duration_s);  // checked before the first run
        if (!made) {
            std::fprintf(stderr, "itscam: error: %s\n", made.status().to_string().c_str());
            rc = 2;
            return {};
        }
        drill = std::move(made).value();
        if (drill->device().empty()) {
            po.faults = drill->controller();
        } else {
            po.device_faults[drill->device()] = drill->controller();
        }
    }
    if (drill && !drill->device().empty()) {
        // Checked against the names the pipeline will give its devices, before any engine is built.
        const std::vector<std::string> names =
            po.devices.empty() ? device::device_names_expand(cfg.device, cfg.settings.device_ids) : po.devices;
        if (std::find(names.begin(), names.end(), drill->device()) == names.end()) {
            std::string list;
            for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
            std::fprintf(stderr, "itscam: error: --fault-device %s is not one of this run's devices (%s)\n",
                         drill->device().c_str(), list.c_str());
            rc = 2;
            return {};
        }
    }
    auto p = pipeline::Pipeline::create(cfg, po);
    if (!p) {
        std::fprintf(stderr, "itscam: error: %s\n", p.status().to_string().c_str());
        rc = 2;
        return {};
    }
    pipeline::Pipeline& pipe = **p;
    if (Status st = pipe.start(); !st) {
        std::fprintf(stderr, "itscam: error: %s\n", st.to_string().c_str());
        rc = 1;
        return {};
    }
    std::fprintf(stderr, "  %d camera(s): warming up %.0f s, measuring %.0f s...\n", ncam, a.warmup_s, a.duration_s);
    // The measurement starts once every camera delivers (hundreds of cameras take seconds to open, NVDEC sessions
    // longer: a window that began before would count cameras that had not started as starved), and at least
    // --warmup after the start.
    const auto started = std::chrono::steady_clock::now();
    double all_streaming_s = -1;
    for (;;) {
        const pipeline::PipelineSnapshot s = pipe.snapshot();
        const bool all = std::all_of(s.cameras.begin(), s.cameras.end(),
                                     [](const auto& c) { return c.frames_captured > 0; });
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (all && all_streaming_s < 0) all_streaming_s = waited;
        if (all && waited >= a.warmup_s) break;
        if (waited > a.warmup_s + kStartTimeoutS) {
            const auto idle = std::count_if(s.cameras.begin(), s.cameras.end(),
                                            [](const auto& c) { return c.frames_captured == 0; });
            std::fprintf(stderr, "itscam: error: %ld of %d camera(s) delivered no frame within %.0f s of the start\n",
                         static_cast<long>(idle), ncam, waited);
            pipe.stop(false);
            rc = 1;
            return {};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    BenchMeters meters(cfg);
    const pipeline::PipelineSnapshot s0 = pipe.snapshot();
    const Counters c0 = counters(s0);
    meters.start(s0);
    const auto t0 = std::chrono::steady_clock::now();
    // Reset nothing: percentiles come from the recent window, which by now only holds steady-state samples
    // once the measurement is long enough; counters are differenced.
    if (drill) {
        // The drill's clock: the fault starts and heals on time, and the circuit's state is sampled.
        for (double t = 0; t < a.duration_s;
             t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) {
            drill->step(t, pipe.snapshot());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    } else {
        std::this_thread::sleep_for(std::chrono::duration<double>(a.duration_s));
    }
    const pipeline::PipelineSnapshot s = pipe.snapshot();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Counters c1 = counters(s);
    nlohmann::json j = meters.stop(s, secs);
    const auto stop_t0 = std::chrono::steady_clock::now();
    pipe.stop(false);
    // How long the pipeline took to stop (every capture loop and worker joined): hundreds of starved decoders
    // once took minutes here.
    j["stop_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_t0).count();
    const auto& e2e = s.stages.at("e2e");
    const int64_t processed = c1.processed - c0.processed;
    const int64_t captured = c1.captured - c0.captured;
    const int64_t dropped = c1.dropped - c0.dropped;
    const int64_t acquires = c1.acquires - c0.acquires, hits = c1.hits - c0.hits;
    j["cameras"] = ncam;
    j["all_cameras_streaming_s"] = all_streaming_s;  // from start() until every camera had delivered a frame
    j["source"] = a.source;
    j["device"] = a.device;
    j["precision"] = a.precision;
    j["seconds"] = secs;
    j["fps"] = processed / secs;
    j["fps_per_camera"] = processed / secs / ncam;
    j["offered_fps"] = captured / secs;
    j["e2e_p50_ms"] = e2e.p50_ms;
    j["e2e_p99_ms"] = e2e.p99_ms;
    j["drop_rate"] = captured > 0 ? static_cast<double>(dropped) / captured : 0.0;
    j["pool_hit_rate"] = acquires > 0 ? static_cast<double>(hits) / acquires : 1.0;
    j["pool_acquires"] = acquires;
    j["pool_acquire_p50_us"] = s.pool_total.acquire_p50_us;
    j["pool_acquire_p99_us"] = s.pool_total.acquire_p99_us;
    j["mean_batch"] = s.batches ? static_cast<double>(s.frames_processed) / s.batches : 0.0;
    j["inference_p50_ms"] = s.stages.at("inference").p50_ms;
    j["queue_p99_ms"] = s.stages.at("queue").p99_ms;
    j["busy"] = s.devices.empty() ? 0.0 : s.devices[0].busy_fraction;
    // Per device (several with device_ids): what each served over the measurement, and its share of the work.
    for (const auto& d : s.devices) {
        const pipeline::DeviceSnapshot* before = nullptr;
        for (const auto& d0 : s0.devices)
            if (d0.name == d.name) before = &d0;
        nlohmann::json dj;
        dj["name"] = d.name;
        dj["batches"] = d.batches - (before ? before->batches : 0);
        dj["frames"] = d.frames - (before ? before->frames : 0);
        dj["fps"] = static_cast<double>(d.frames - (before ? before->frames : 0)) / secs;
        dj["handoff_batches"] = d.handoffs - (before ? before->handoffs : 0);
        dj["fallback_batches"] = d.fallback_batches - (before ? before->fallback_batches : 0);
        dj["elastic_workers"] = d.elastic_workers;
        dj["elastic_batches"] = d.elastic_batches - (before ? before->elastic_batches : 0);
        dj["busy"] = d.busy_fraction;
        dj["circuit"] = pipeline::circuit_state_name(d.circuit);
        j["devices"].push_back(dj);
    }
    j["decode"] = a.decode;
    j["unified_memory_ratio"] = a.unified_memory_ratio;
    int nvdec = 0;
    for (const auto& cam : s.cameras) nvdec += cam.decoder == "nvdec";
    j["cameras_on_nvdec"] = nvdec;
    int skipping = 0;
    int64_t skip_starts = 0;
    for (const auto& cam : s.cameras) {
        skipping += cam.skipping_nonref;
        skip_starts += cam.nonref_skip_starts;
    }
    j["skip_nonref"] = a.skip_nonref;
    j["cameras_skipping_nonref"] = skipping;  // at the end of the run
    j["nonref_skip_starts"] = skip_starts;
    for (const auto& [stage, lat] : s.stages) j["stage_p99_ms"][stage] = lat.p99_ms;
    j["frames_failed"] = s.frames_failed - s0.frames_failed;
    j["decode_slots"] = s.decode_slots;  // 0: no limit
    j["decode_slot_waits"] = s.decode_slot_waits - s0.decode_slot_waits;
    j["decode_slot_wait_s"] = s.decode_slot_wait_s - s0.decode_slot_wait_s;
    if (drill) j["fault"] = drill->result(s0, s);
    if (a.verbose) std::fprintf(stderr, "%s", pipeline_summary(s).c_str());
    return j;
}

int run_bench_pipeline(const PipeBenchArgs& args) {
    PipeBenchArgs a = args;
    std::vector<int> cams;
    std::string err;
    if (!parse_int_csv(a.cameras, cams, err)) return fail("--cameras: " + err, 2);
    for (int c : cams)
        if (c < 1 || c > 1024) return fail("--cameras values must be in 1..1024", 2);
    if (a.source != "synthetic" && !std::ifstream(a.source)) return fail("--source: cannot open '" + a.source + "'", 2);
    if (!a.device_ids.empty()) {
        if (!parse_int_csv(a.device_ids, a.device_id_list, err)) return fail("--device-ids: " + err, 2);
        if (a.device != "cuda") return fail("--device-ids needs --device cuda (cuda:N is one device)", 2);
    }
    if (!a.devices.empty() && !split_csv(a.devices, a.device_list))
        return fail("--devices: an empty device name in '" + a.devices + "'", 2);
    if (!a.fault.kind.empty()) {
        if (auto d = FaultDrill::create(a.fault, a.duration_s); !d) return fail(d.status().message(), 2);
    } else if (a.fault.at_s >= 0 || a.fault.for_s >= 0) {
        return fail("--fault-at and --fault-for need --fault", 2);
    }
    nlohmann::json all = nlohmann::json::array();
    std::printf("%7s %9s %9s %9s %9s %9s %9s %9s %10s %7s %6s %6s %6s\n", "cameras", "fps", "offered", "p50 ms",
                "p99 ms", "drop %", "batch", "pool hit", "acq p99us", "cpu %", "gpu %", "dec %", "fair");
    for (int n : cams) {
        int rc = 0;
        nlohmann::json j = run_one(a, n, rc);
        if (rc) return rc;
        auto pct = [&](const char* k) { return j.contains(k) ? 100 * j[k].get<double>() : NAN; };
        std::printf("%7d %9.1f %9.1f %9.1f %9.1f %9.2f %9.2f %9.4f %10.2f %7.1f %6.1f %6.1f %6.3f\n", n,
                    j["fps"].get<double>(), j["offered_fps"].get<double>(), j["e2e_p50_ms"].get<double>(),
                    j["e2e_p99_ms"].get<double>(), 100 * j["drop_rate"].get<double>(), j["mean_batch"].get<double>(),
                    j["pool_hit_rate"].get<double>(), j["pool_acquire_p99_us"].get<double>(), pct("cpu_share"),
                    pct("gpu_busy"), pct("gpu_decoder"), j.value("camera_fairness", NAN));
        // Where the time and the CPU go: every stage's p99, and CPU cores by thread role.
        std::printf("        stage p99 ms:");
        for (const auto& [stage, p99] : j["stage_p99_ms"].items()) std::printf(" %s %.1f", stage.c_str(), p99.get<double>());
        std::printf("\n        all cameras streaming after %.1f s, stopped in %.1f s; %d camera(s) skipping "
                    "non-reference frames at the end (%lld starts); cpu cores:",
                    j["all_cameras_streaming_s"].get<double>(), j["stop_s"].get<double>(),
                    j["cameras_skipping_nonref"].get<int>(),
                    static_cast<long long>(j["nonref_skip_starts"].get<int64_t>()));
        for (const auto& [role, c] : j["cpu_cores_by_role"].items()) std::printf(" %s %.2f", role.c_str(), c.get<double>());
        const int64_t waits = j["decode_slot_waits"].get<int64_t>();
        if (j["decode_slots"].get<int>() > 0)
            std::printf("; %d decode slots: %lld decodes queued, %.2f ms each", j["decode_slots"].get<int>(),
                        static_cast<long long>(waits),
                        waits > 0 ? 1e3 * j["decode_slot_wait_s"].get<double>() / static_cast<double>(waits) : 0.0);
        else
            std::printf("; decode slots unlimited");
        for (const auto& d : j["devices"])
            if (d["elastic_workers"].get<int>() > 0)
                std::printf("; %s: %d elastic worker(s) took %lld batches", d["name"].get<std::string>().c_str(),
                            d["elastic_workers"].get<int>(), static_cast<long long>(d["elastic_batches"].get<int64_t>()));
        std::printf("\n");
        if (j["devices"].size() > 1) {
            std::printf("        per device:");
            for (const auto& d : j["devices"])
                std::printf(" %s %.1f fps in %lld batches (busy %.0f%%, %lld handed over)", d["name"].get<std::string>().c_str(),
                            d["fps"].get<double>(), static_cast<long long>(d["batches"].get<int64_t>()),
                            100 * d["busy"].get<double>(), static_cast<long long>(d["handoff_batches"].get<int64_t>()));
            std::printf("\n");
        }
        if (j.contains("fault")) std::printf("        %s\n", FaultDrill::describe(j["fault"]).c_str());
        std::fflush(stdout);
        all.push_back(j);
    }
    if (!a.json_out.empty()) {
        std::ofstream f(a.json_out);
        if (!f) return fail("cannot write " + a.json_out);
        f << all.dump(2) << "\n";
    }
    return 0;
}

}  // namespace

RunFn add_bench_pipeline_command(CLI::App& app) {
    auto a = std::make_shared<PipeBenchArgs>();
    app.add_option("--model", a->model, "ONNX model or itscam plan (it must serve the batch sizes used)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--cameras", a->cameras, "Camera counts to run, comma-separated (one run each)")->capture_default_str();
    app.add_option("--source", a->source, "A video file (looped, paced at its frame rate) or 'synthetic' (1080p)")
        ->capture_default_str();
    app.add_option("--fps", a->fps, "Synthetic cameras' frame rate")->check(CLI::Range(0.1, 1000.0))->capture_default_str();
    app.add_option("--device", a->device, "cpu | ref | cuda[:N]")->capture_default_str();
    app.add_option("--device-ids", a->device_ids,
                   "device_ids for --device cuda: one device per GPU ordinal, e.g. 0,1 (default: the setting's, 0)");
    app.add_option("--devices", a->devices,
                   "Serve on these devices instead, comma-separated: cuda:0,cuda:1; or cpu,ref to try the paths of "
                   "several devices (hand-over, per-device breakers) on a machine without two GPUs");
    app.add_option("--precision", a->precision, "fp32 | bf16 | fp16")->capture_default_str();
    app.add_option("--threads", a->threads, "Backend threads (0: all cores)")->check(CLI::NonNegativeNumber);
    app.add_option("--imgsz", a->imgsz, "Model input size (0: the model's)")->check(CLI::NonNegativeNumber);
    app.add_option("--max-batch", a->max_batch, "Max batch size (preferred sizes: powers of two up to it)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    app.add_option("--max-delay-ms", a->max_delay_ms, "Batcher deadline (0: half a frame interval)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--workers", a->workers, "Inference workers")->check(CLI::Range(1, 64))->capture_default_str();
    app.add_option("--max-workers", a->max_workers,
                   "pipeline.max_inference_workers: workers per device in all, the ones past --workers taking batches "
                   "only under queueing pressure (0: no growth)")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    app.add_option("--decode", a->decode, "Where the clip is decoded: auto | cpu | nvdec (nvdec: GPU devices only)")
        ->check(CLI::IsMember({"auto", "cpu", "nvdec"}))
        ->capture_default_str();
    app.add_option("--unified-memory-ratio", a->unified_memory_ratio,
                   "UNIFIED_MEMORY_RATIO: the share of CPU-decoded frames on a GPU in mapped memory, read in place by "
                   "the letterbox kernel (the rest are copied by DMA)")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--skip-nonref", a->skip_nonref,
                   "skip_nonref_under_overload: a camera whose queue keeps dropping frames has its CPU decoder skip "
                   "non-reference frames")
        ->capture_default_str();
    app.add_option("--decode-slots", a->decode_slots,
                   "pipeline.decode_slots: CPU decodes at once over all cameras (0: one per usable core; -1: no "
                   "limit)")
        ->check(CLI::Range(-1, 4096))
        ->capture_default_str();
    app.add_option("--duration", a->duration_s, "Measured seconds per run")->check(CLI::Range(1.0, 3600.0))->capture_default_str();
    app.add_option("--warmup", a->warmup_s, "Unmeasured seconds before each run (at least; the measurement also waits until every camera delivers)")->check(CLI::Range(0.0, 600.0))->capture_default_str();
    app.add_option("--fault", a->fault.kind,
                   "Fault drill: from --fault-at, every engine run on the device fails as a transient device error, "
                   "an out-of-memory error or a lost device (sticky: the engines are rebuilt), until --fault-for "
                   "later it heals")
        ->check(CLI::IsMember({"transient", "oom", "sticky"}));
    app.add_option("--fault-device", a->fault.device,
                   "The device that fails (e.g. cuda:1 of device_ids [0, 1]); default: every device");
    app.add_option("--fault-at", a->fault.at_s, "Seconds into the measurement the fault starts (default: a quarter of --duration)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--fault-for", a->fault.for_s, "Seconds the fault lasts (default: a quarter of --duration)")
        ->check(CLI::PositiveNumber);
    app.add_option("--fallback", a->fallback,
                   "Where batches go while the device's circuit is open: none | cpu | ref | cuda[:N] (the config's "
                   "fallback.device; none: the batches fail and their frames are lost)")
        ->capture_default_str();
    app.add_option("--fallback-imgsz", a->fallback_imgsz, "The fallback's input size (0: the primary's)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--breaker-recovery-s", a->recovery_s,
                   "CIRCUIT_BREAKER_RECOVERY_TIMEOUT for the run: seconds an open circuit waits before its trial "
                   "batches (default: the setting's, 30 s)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--json", a->json_out, "Write results as JSON");
    app.add_flag("-v,--verbose", a->verbose, "Log pipeline events and print a full summary per run");
    return [a] { return run_bench_pipeline(*a); };
}

}  // namespace itscam::cli
