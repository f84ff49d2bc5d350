// The inside of Pipeline (pipeline.h): its devices, model groups, cameras and workers, and Pipeline::Impl, whose
// member functions live in the file named for their concern:
//   pipeline.cpp          the public API (create, load, start, add/remove cameras, stop, ready, snapshot)
//   pipeline_engines.cpp  model groups and workers, their detectors (one activation arena per worker, the fallback
//                         reusing the primary's engines, the plan cache), staging pools, warm-up, rebuilds
//   pipeline_workers.cpp  the workers' batch loop: primary or fallback under the device's circuit breaker, then
//                         detections to the cameras, the sinks and the counters
//   pipeline_cameras.cpp  capture per camera (frames into the scheduler's queues, degraded frame-rate cap, camera
//                         events), the model group and confidence floor of the cameras
// Internal to src/pipeline: only the pipeline's own .cpp files include it.
#pragma once

#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "backend/activation_arena.h"
#include "pipeline/batch_scheduler.h"
#include "pipeline/decode_thinning.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_meters.h"
#include "video/decode_gate.h"
#include "runtime/detector.h"

namespace itscam::pipeline {

struct Device {
    std::string name;                          // "cpu", "cuda:0": what EngineOptions.device gets
    std::atomic<device::Device*> hw{nullptr};  // from the device registry at load (null before)
    std::unique_ptr<CircuitBreaker> breaker;
    std::atomic<int64_t> batches{0}, frames{0}, failures{0}, fallback_batches{0}, handoffs{0};
    std::atomic<int64_t> elastic_batches{0};  // batches the workers past inference_workers took (under pressure)
    std::atomic<int> workers{0};              // all of them, the elastic ones included
    std::atomic<int> elastic_workers{0};
    BusyMeter busy;
};

struct Camera;

// The workers of one model group on one device: how many are regular (take batches whenever they are free) and how
// many of those are processing a batch right now. An elastic worker (max_inference_workers) takes a batch only while
// a full one waits and every regular worker is busy.
struct WorkerSet {
    int regular = 0;
    std::atomic<int> busy{0};  // regular workers inside process()
};

struct ModelGroup {
    std::string model_path;
    std::unique_ptr<BatchScheduler> sched;
    std::map<const Device*, std::unique_ptr<WorkerSet>> sets;  // filled at load, read-only after
    std::vector<std::string> names;
    std::atomic<bool> degraded{false};
    std::atomic<float> min_conf{0.25f};
};

struct Camera {
    config::CameraConfig cfg;
    int64_t epoch = 0;  // cluster mode: the ownership epoch (Pipeline::add_camera)
    ModelGroup* group = nullptr;
    uint64_t slot = 0;
    std::unique_ptr<video::CaptureLoop> capture;
    std::atomic<int64_t> captured{0}, processed{0}, skipped{0};
    std::atomic<bool> degraded{false};
    Clock::time_point last_accept{};  // capture thread only (degraded frame-rate cap)
    DecodeThinning thinning;          // capture thread only (skip_nonref_under_overload)
    std::atomic<int64_t> thinning_activations{0};
    explicit Camera(double window_s) : e2e(1024, window_s) {}
    LatencyRecorder e2e;
    RateMeter fps;
    mutable std::mutex latest_mu;
    DetectionRecord latest;
    std::atomic<int> width{0}, height{0};
    // Cameras with an `analytics:` section: the tracker and counters, fed in frame order under analytics_mu (a
    // frame older than the last one fed, possible with several workers, gets no analytics; see run_analytics).
    std::mutex analytics_mu;
    std::unique_ptr<analytics::CameraAnalytics> analytics;
    int64_t analytics_last_frame = -1;
    double analytics_last_pts = 0;
    std::atomic<int64_t> analytics_late{0};
};

// UNIFIED_MEMORY_RATIO's rule, for staging tensors and CPU-decoded frames alike: acquisition n (counted from 0) is
// from mapped memory when floor((n + 1) * ratio) > floor(n * ratio), exactly `ratio` of them over time.
inline bool mapped_turn(uint64_t n, double ratio) {
    return std::floor(static_cast<double>(n + 1) * ratio) > std::floor(static_cast<double>(n) * ratio);
}

// A frame allocator's memory: buffers of one kind on one device from the registry's pool for the size asked for,
// named prefix + bytes + suffix. The pool is looked up again only when the size changes. One thread calls it (a
// camera's capture thread).
class SizedPools {
public:
    // dev null: the host device.
    SizedPools(std::shared_ptr<PoolRegistry> reg, MemoryKind kind, device::Device* dev, std::string prefix,
               std::string suffix = "")
        : reg_(std::move(reg)), kind_(kind), dev_(dev), prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}
    std::shared_ptr<uint8_t> acquire(size_t bytes) {
        if (!pool_ || pool_->options().buffer_bytes != bytes) {
            auto p = reg_->get(kind_, bytes, prefix_ + std::to_string(bytes) + suffix_, dev_);
            if (!p) return nullptr;
            pool_ = std::move(p).value();
        }
        return pool_->acquire();
    }

private:
    std::shared_ptr<PoolRegistry> reg_;
    MemoryKind kind_;
    device::Device* dev_;
    std::string prefix_, suffix_;
    std::shared_ptr<BufferPool> pool_;
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
    WorkerSet* set = nullptr;  // its group's workers on its device
    bool elastic = false;      // past inference_workers: parked until queueing pressure
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
    std::map<const Detector*, StagingPools> staging;  // resolved once per detector, not per batch
    std::thread thread;
};

struct Pipeline::Impl {
    config::Config cfg;
    PipelineOptions opt;
    Clock::time_point created = Clock::now();
    std::shared_ptr<PoolRegistry> pools;
    std::shared_ptr<video::DecodeGate> decode_gate;  // set by load(); null: pipeline.decode_slots -1 (no limit)
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
    // The last aggregation intervals of removed cameras, until take_intervals() hands them over.
    std::mutex removed_intervals_mu;
    std::vector<analytics::IntervalAggregate> removed_intervals;
    int64_t analytics_epoch = 0;

    std::mutex batch_mu;
    std::map<int, int64_t> batch_sizes;
    std::atomic<int64_t> frames_processed{0}, batches{0}, frames_failed{0}, frames_fenced{0}, transitions{0};
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

    // pipeline.cpp
    void log(const std::string& m) const;
    CameraSnapshot camera_snapshot(const Camera& c) const;

    // pipeline_engines.cpp
    int primary_imgsz(const Detector& d) const { return d.engine().input_height(); }
    // The fault controller of `device`'s primary engines: PipelineOptions::device_faults, else faults (may be null).
    std::shared_ptr<FaultController> faults_for(const std::string& device) const {
        auto it = opt.device_faults.find(device);
        return it != opt.device_faults.end() ? it->second : faults;
    }
    // Another device than `d` whose circuit is closed (its workers can take a batch `d` cannot serve).
    bool another_device_closed(const Device& d) const;
    Result<std::unique_ptr<Detector>> make_detector(const std::string& model, const std::string& device, int batch,
                                                    int imgsz, int threads, bool with_faults,
                                                    const std::shared_ptr<ActivationArena>& arena);
    // Staging tensors come from one pool per (input size, batch size), looked up in the registry once per
    // detector and kept in the worker.
    Result<StagingPools*> staging_pools(Worker& w, const Detector& d);
    // UNIFIED_MEMORY_RATIO (clamped to 0..1) where `hw` has mapped memory, else 0.
    double mapped_ratio(device::Device& hw) const;
    // A staging tensor [batch, 3, H, W] for `d`'s engine, from its pools.
    Result<Tensor> staging_tensor(Worker& w, const Detector& d);
    Status warm_up(Worker& w, Detector& d);
    Status rebuild_primary(Worker& w);
    Status load_engines();

    // pipeline_workers.cpp
    // Runs `frames` on one set of detectors. Fills `dets` (one vector per frame) and the stage timings.
    Status run_on(Worker& w, std::map<int, std::unique_ptr<Detector>>& dmap, ModelGroup& g,
                  const std::vector<QueuedFrame>& frames, std::vector<std::vector<vision::Detection>>& dets,
                  DetectTimings& tm);
    void process(Worker& w, Batch& batch);
    // One trial of the device's breaker on a blank frame (warm_up), after rebuilding its engines if a sticky error
    // asked for it; the outcome is recorded on the breaker.
    Status probe(Worker& w);
    void worker_loop(Worker& w);
    bool under_pressure(const Worker& w) const;

    // pipeline_analytics.cpp
    // The camera's tracker and counters for one processed frame: `all` are the frame's detections above the
    // tracker's low score (ByteTrack's second stage needs them), rec.detections the ones reported. Fills
    // rec.track_ids, rec.speeds_kmh and rec.events.
    void run_analytics(Camera& cam, const std::vector<vision::Detection>& all, DetectionRecord& rec);

    // pipeline_cameras.cpp
    ModelGroup* group_for(const config::CameraConfig& c);
    void update_min_conf(ModelGroup* g);
    int decode_threads(size_t cams) const;
    // Caller holds cams_mu exclusively.
    // The camera's `decode` (or pipeline.decode) as reader options: decoder, CUDA device, device picture pool.
    void set_decoder(const config::CameraConfig& c, video::ReaderOptions& ro);
    // The first GPU of the pipeline's devices (null: none) and its ordinal.
    Device* first_gpu(int* ordinal) const;
    // Where CPU-decoded frames go and in which format: BGR in host pools on a host pipeline; NV12 in the first GPU's
    // pinned and mapped pools (UNIFIED_MEMORY_RATIO) on a GPU pipeline.
    void set_frame_memory(video::ReaderOptions& ro);
    Status start_camera_locked(const std::shared_ptr<Camera>& cam);
};

}  // namespace itscam::pipeline
