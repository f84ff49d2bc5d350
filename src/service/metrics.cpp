#include "service/metrics.h"

#include <chrono>

namespace itscam::service {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = MetricLabels;
using Builder = FamilyBuilder;

const auto kProcessStart = std::chrono::steady_clock::now();

constexpr double kMsToS = 1e-3;
constexpr double kUsToS = 1e-6;

}  // namespace

double process_uptime_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - kProcessStart).count();
}

double circuit_state_value(pipeline::CircuitState s) {
    switch (s) {
        case pipeline::CircuitState::kClosed: return 0;
        case pipeline::CircuitState::kHalfOpen: return 1;
        case pipeline::CircuitState::kOpen: return 2;
    }
    return 0;
}

std::vector<MetricFamily> pipeline_metric_families(const pipeline::PipelineSnapshot& s,
                                                   const std::vector<GpuSample>& gpus, double process_uptime) {
    Builder b;
    b.single_gauge("itscam_uptime_seconds", "Seconds since the itscam process started.", process_uptime);
    b.single_gauge("itscam_pipeline_uptime_seconds", "Seconds since the pipeline was created.", s.uptime_s);
    b.single_gauge("itscam_ready", "1 when the pipeline can serve (model loaded and warmed, a backend available).",
                   s.ready ? 1 : 0);

    // Stage latency: real histograms from the cumulative buckets (bounds converted from ms to seconds).
    {
        auto& h = b.family("itscam_stage_latency_seconds",
                           "Per-stage latency since start (decode, queue, batch_wait, preprocess, inference, nms, "
                           "e2e = capture to detections).",
                           MetricType::Histogram);
        for (const auto& [stage, sum] : s.stages) {
            ClientMetric m;
            m.label = {{"stage", stage}};
            m.histogram.sample_count = static_cast<uint64_t>(sum.count);
            m.histogram.sample_sum = sum.sum_ms * kMsToS;
            auto it = s.stage_buckets.find(stage);
            if (it != s.stage_buckets.end()) {
                const auto& cum = it->second;
                const size_t nb = pipeline::LatencyRecorder::kBucketsMs.size();
                for (size_t i = 0; i < nb && i < cum.size(); ++i)
                    m.histogram.bucket.push_back(
                        {static_cast<uint64_t>(cum[i]), pipeline::LatencyRecorder::kBucketsMs[i] * kMsToS});
                // +Inf is written by the serializer with sample_count.
            }
            h.metric.push_back(std::move(m));
        }
        // Quantiles over the recent window (what alerts and /health/performance use), as plain gauges: a
        // "quantile" label is reserved for summaries.
        auto& q50 = b.family("itscam_stage_latency_p50_seconds",
                             "Per-stage median latency over the recent window of samples.", MetricType::Gauge);
        auto& q95 = b.family("itscam_stage_latency_p95_seconds",
                             "Per-stage 95th percentile latency over the recent window of samples.", MetricType::Gauge);
        auto& q99 = b.family("itscam_stage_latency_p99_seconds",
                             "Per-stage 99th percentile latency over the recent window of samples.", MetricType::Gauge);
        for (const auto& [stage, sum] : s.stages) {
            if (sum.window == 0) continue;
            Builder::gauge(q50, {{"stage", stage}}, sum.p50_ms * kMsToS);
            Builder::gauge(q95, {{"stage", stage}}, sum.p95_ms * kMsToS);
            Builder::gauge(q99, {{"stage", stage}}, sum.p99_ms * kMsToS);
        }
    }

    // Throughput.
    b.single_counter("itscam_frames_processed_total", "Frames with detections emitted (requests).",
                     static_cast<double>(s.frames_processed));
    b.single_counter("itscam_batches_total", "Inference batches executed (executions).",
                     static_cast<double>(s.batches));
    b.single_counter("itscam_frames_dropped_total", "Frames dropped by the latest-frame queues (queue full).",
                     static_cast<double>(s.frames_dropped));
    b.single_counter("itscam_frames_skipped_total", "Frames skipped by frame-rate caps (max_fps, degraded mode).",
                     static_cast<double>(s.frames_skipped));
    b.single_counter("itscam_frames_failed_total", "Frames whose batch failed on every backend.",
                     static_cast<double>(s.frames_failed));
    b.single_gauge("itscam_fps", "Processed frames per second over the last 5 s.", s.fps);
    b.single_gauge("itscam_decode_slots", "CPU decodes allowed at once over all cameras (0: no limit).",
                   s.decode_slots);
    b.single_counter("itscam_decode_slot_waits_total", "CPU decodes that queued for a decode slot.",
                     static_cast<double>(s.decode_slot_waits));
    b.single_counter("itscam_decode_slot_wait_seconds_total", "Time CPU decodes spent queued for a decode slot.",
                     s.decode_slot_wait_s);
    {
        auto& f = b.family("itscam_batch_executions_total", "Inference batches executed, by batch size.",
                           MetricType::Counter);
        for (const auto& [size, n] : s.batch_sizes)
            Builder::counter(f, {{"batch_size", std::to_string(size)}}, static_cast<double>(n));
    }

    // Cameras.
    {
        auto& up = b.family("itscam_camera_up", "1 while the camera is streaming, else 0.", MetricType::Gauge);
        auto& fps = b.family("itscam_camera_fps", "Processed frames per second over the last 5 s.",
                             MetricType::Gauge);
        auto& qd = b.family("itscam_camera_queue_depth", "Frames waiting in the camera's queue.", MetricType::Gauge);
        auto& deg = b.family("itscam_camera_degraded", "1 when the camera's last frame was served by the fallback.",
                             MetricType::Gauge);
        auto& gdec = b.family("itscam_camera_gpu_decode", "1 while the camera is decoded on the GPU (NVDEC), else 0.",
                              MetricType::Gauge);
        auto& nonref = b.family("itscam_camera_skipping_nonref",
                                "1 while the camera's decoder skips non-reference frames (its queue kept dropping "
                                "frames: skip_nonref_under_overload), else 0.",
                                MetricType::Gauge);
        struct C {
            const char* name;
            const char* help;
            int64_t pipeline::CameraSnapshot::*field;
        };
        const C counters[] = {
            {"itscam_camera_frames_captured_total", "Frames delivered by the capture loop.",
             &pipeline::CameraSnapshot::frames_captured},
            {"itscam_camera_frames_processed_total", "Frames with detections emitted.",
             &pipeline::CameraSnapshot::frames_processed},
            {"itscam_camera_frames_dropped_total", "Frames dropped by the latest-frame queue (queue full).",
             &pipeline::CameraSnapshot::frames_dropped},
            {"itscam_camera_frames_skipped_total", "Frames skipped by frame-rate caps.",
             &pipeline::CameraSnapshot::frames_skipped},
            {"itscam_camera_reconnects_total", "Source reconnections.", &pipeline::CameraSnapshot::reconnects},
            {"itscam_camera_errors_total", "Source errors (open, read, decode).", &pipeline::CameraSnapshot::errors},
            {"itscam_camera_stalls_total", "Stalls detected (no frame within the stall timeout).",
             &pipeline::CameraSnapshot::stalls},
            {"itscam_camera_format_changes_total", "Resolution or pixel format changes of the source.",
             &pipeline::CameraSnapshot::format_changes},
            {"itscam_camera_decoder_fallbacks_total",
             "GPU (NVDEC) decoder failures that moved the camera to the CPU decoder.",
             &pipeline::CameraSnapshot::decoder_fallbacks},
            {"itscam_camera_nonref_skip_starts_total",
             "Times the camera's overload made its decoder skip non-reference frames.",
             &pipeline::CameraSnapshot::nonref_skip_starts},
        };
        for (const auto& c : s.cameras) {
            const Labels l = {{"camera", c.id}};
            Builder::gauge(up, l, c.state == "streaming" ? 1 : 0);
            Builder::gauge(fps, l, c.fps);
            Builder::gauge(qd, l, c.queue_depth);
            Builder::gauge(deg, l, c.degraded ? 1 : 0);
            Builder::gauge(gdec, l, c.decoder == "nvdec" ? 1 : 0);
            Builder::gauge(nonref, l, c.skipping_nonref ? 1 : 0);
        }
        for (const auto& cd : counters) {
            auto& f = b.family(cd.name, cd.help, MetricType::Counter);
            for (const auto& c : s.cameras) Builder::counter(f, {{"camera", c.id}}, static_cast<double>(c.*cd.field));
        }
        auto& lat = b.family("itscam_camera_latency_seconds",
                             "Capture-to-detections latency per camera: quantiles over the recent window, sum and "
                             "count since start.",
                             MetricType::Summary);
        for (const auto& c : s.cameras) {
            ClientMetric m;
            m.label = {{"camera", c.id}};
            m.summary.sample_count = static_cast<uint64_t>(c.latency.count);
            m.summary.sample_sum = c.latency.sum_ms * kMsToS;
            if (c.latency.window > 0)
                m.summary.quantile = {{0.5, c.latency.p50_ms * kMsToS},
                                      {0.95, c.latency.p95_ms * kMsToS},
                                      {0.99, c.latency.p99_ms * kMsToS}};
            lat.metric.push_back(std::move(m));
        }
    }

    // Memory pools.
    {
        auto labels = [](const pipeline::PoolStats& p) -> Labels {
            return {{"device", p.device}, {"kind", pipeline::memory_kind_name(p.kind)}, {"pool", p.name}};
        };
        auto& hr = b.family("itscam_pool_hit_ratio", "Share of acquires served from the pool (0..1).",
                            MetricType::Gauge);
        auto& p50 = b.family("itscam_pool_acquire_p50_seconds", "Median acquire time over the recent window.",
                             MetricType::Gauge);
        auto& p99 = b.family("itscam_pool_acquire_p99_seconds", "99th percentile acquire time over the recent window.",
                             MetricType::Gauge);
        auto& bytes = b.family("itscam_pool_bytes", "Bytes held by the pool (free and in use).", MetricType::Gauge);
        auto& bytes_used = b.family("itscam_pool_bytes_in_use", "Bytes of the pool's buffers in use.",
                                    MetricType::Gauge);
        auto& bufs = b.family("itscam_pool_buffers", "Buffers owned by the pool (free and in use).",
                              MetricType::Gauge);
        auto& bufs_used = b.family("itscam_pool_buffers_in_use", "Buffers of the pool in use.", MetricType::Gauge);
        for (const auto& p : s.pools) {
            const Labels l = labels(p);
            Builder::gauge(hr, l, p.hit_rate());
            Builder::gauge(p50, l, p.acquire_p50_us * kUsToS);
            Builder::gauge(p99, l, p.acquire_p99_us * kUsToS);
            Builder::gauge(bytes, l, static_cast<double>(p.bytes_total));
            Builder::gauge(bytes_used, l, static_cast<double>(p.bytes_in_use));
            Builder::gauge(bufs, l, static_cast<double>(p.buffers_total));
            Builder::gauge(bufs_used, l, static_cast<double>(p.buffers_in_use));
        }
        auto& acq = b.family("itscam_pool_acquires_total", "Buffer acquires.", MetricType::Counter);
        auto& hits = b.family("itscam_pool_hits_total", "Acquires served from the pool.", MetricType::Counter);
        auto& miss = b.family("itscam_pool_misses_total", "Acquires that had to allocate (pool empty).",
                              MetricType::Counter);
        for (const auto& p : s.pools) {
            const Labels l = labels(p);
            Builder::counter(acq, l, static_cast<double>(p.acquires));
            Builder::counter(hits, l, static_cast<double>(p.hits));
            Builder::counter(miss, l, static_cast<double>(p.misses));
        }
        b.single_gauge("itscam_memory_pool_efficiency", "Pool hit ratio over all pools (0..1).",
                       s.pool_total.hit_rate());
    }

    // Devices and circuit breakers.
    {
        auto& st = b.family("itscam_circuit_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
                            MetricType::Gauge);
        auto& busy = b.family("itscam_device_busy_ratio",
                              "Share of wall time the device's inference workers were busy over the last 5 s "
                              "(per worker; per stream: itscam_device_stream_busy_seconds_total).",
                              MetricType::Gauge);
        auto& workers = b.family("itscam_device_workers", "Inference workers of the device.", MetricType::Gauge);
        for (const auto& d : s.devices) {
            const Labels l = {{"device", d.name}};
            Builder::gauge(st, l, circuit_state_value(d.circuit));
            Builder::gauge(busy, l, d.busy_fraction);
            Builder::gauge(workers, l, d.workers);
        }
        struct C {
            const char* name;
            const char* help;
            double (*get)(const pipeline::DeviceSnapshot&);
        };
        const C counters[] = {
            {"itscam_circuit_transitions_total", "Circuit breaker state transitions.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.circuit_stats.transitions); }},
            {"itscam_circuit_opens_total", "Times the circuit breaker opened.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.circuit_stats.opens); }},
            {"itscam_circuit_rejected_total", "Calls the open circuit kept off the device.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.circuit_stats.rejected); }},
            {"itscam_device_failures_total", "Failed inference batches on the device.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.failures); }},
            {"itscam_device_fallback_batches_total", "Batches of this device served by the fallback backend.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.fallback_batches); }},
            {"itscam_device_handoff_batches_total",
             "Batches this device could not serve (circuit open) handed to another device whose circuit was closed.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.handoffs); }},
            {"itscam_device_elastic_batches_total",
             "Batches the device's elastic workers (past inference_workers) took under queueing pressure.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.elastic_batches); }},
            {"itscam_device_batches_total", "Inference batches executed on the device.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.batches); }},
            {"itscam_device_frames_total", "Frames inferred on the device.",
             [](const pipeline::DeviceSnapshot& d) { return static_cast<double>(d.frames); }},
        };
        for (const auto& cd : counters) {
            auto& f = b.family(cd.name, cd.help, MetricType::Counter);
            for (const auto& d : s.devices) Builder::counter(f, {{"device", d.name}}, cd.get(d));
        }
    }

    // Device streams: present in the snapshot only with ENABLE_CUDA_STREAMS_MONITORING.
    {
        auto& busy = b.family("itscam_device_stream_busy_seconds_total",
                              "Time the stream spent on finished units of work (a detector batch), start to end.",
                              MetricType::Counter);
        auto& runs = b.family("itscam_device_stream_work_total", "Units of work finished on the stream.",
                              MetricType::Counter);
        auto& depth = b.family("itscam_device_stream_queue_depth",
                               "Units of work enqueued on the stream and not finished yet.", MetricType::Gauge);
        for (const auto& d : s.devices)
            for (const auto& st : d.streams) {
                const Labels l = {{"device", d.name}, {"stream", std::to_string(st.index)}};
                Builder::counter(busy, l, st.busy_ms * kMsToS);
                Builder::counter(runs, l, static_cast<double>(st.runs));
                Builder::gauge(depth, l, st.queue_depth);
            }
    }

    // GPUs (NVML): only what NVML reported.
    if (!gpus.empty()) {
        auto& util = b.family("itscam_gpu_utilization_ratio",
                              "Share of the last NVML sample period in which a kernel ran on the GPU (0..1).",
                              MetricType::Gauge);
        auto& mutil = b.family("itscam_gpu_memory_utilization_ratio",
                               "Share of the last NVML sample period in which GPU memory was read or written (0..1).",
                               MetricType::Gauge);
        auto& used = b.family("itscam_gpu_memory_used_bytes", "GPU memory in use (all processes).",
                              MetricType::Gauge);
        auto& total = b.family("itscam_gpu_memory_total_bytes", "GPU memory installed.", MetricType::Gauge);
        auto& dec = b.family("itscam_gpu_decoder_utilization_ratio",
                             "Share of the last NVML sample period in which the GPU's video decoders (NVDEC) worked "
                             "(0..1).",
                             MetricType::Gauge);
        for (const auto& g : gpus) {
            const Labels l = {{"gpu", std::to_string(g.index)}, {"name", g.name}};
            Builder::gauge(util, l, g.utilization);
            Builder::gauge(mutil, l, g.memory_utilization);
            if (g.memory_known) {
                Builder::gauge(used, l, static_cast<double>(g.memory_used_bytes));
                Builder::gauge(total, l, static_cast<double>(g.memory_total_bytes));
            }
            if (g.decoder_utilization) Builder::gauge(dec, l, *g.decoder_utilization);
        }
    }

    return b.take();
}

std::string render_metrics(const pipeline::PipelineSnapshot& s, const std::vector<GpuSample>& gpus,
                           double process_uptime) {
    return serialize_metrics(pipeline_metric_families(s, gpus, process_uptime));
}

PipelineCollector::PipelineCollector(const pipeline::Pipeline& pipe, std::shared_ptr<GpuMonitor> gpu)
    : pipe_(pipe), gpu_(std::move(gpu)) {}

std::vector<MetricFamily> PipelineCollector::Collect() const {
    return pipeline_metric_families(pipe_.snapshot(), gpu_ ? gpu_->sample() : std::vector<GpuSample>{},
                                    process_uptime_s());
}

}  // namespace itscam::service
