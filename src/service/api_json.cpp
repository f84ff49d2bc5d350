#include "service/api_json.h"

#include <string>
#include <vector>

#include "core/redact.h"

namespace itscam::service {

using json = nlohmann::json;
using pipeline::CameraSnapshot;
using pipeline::CircuitState;
using pipeline::LatencySummary;
using pipeline::PipelineSnapshot;

json latency_json(const LatencySummary& l) {
    return json{{"count", l.count},   {"window", l.window}, {"mean_ms", l.mean_ms}, {"p50_ms", l.p50_ms},
                {"p95_ms", l.p95_ms}, {"p99_ms", l.p99_ms}, {"max_ms", l.max_ms}};
}

json camera_config_json(const config::CameraConfig& c) {
    // The API shows cameras to anyone who can read it: the URL with its userinfo masked (rtsp://admin:***@host).
    json j = camera_spec_json(c);
    j["url"] = mask_url_userinfo(c.url);
    j.erase("lossless");
    return j;
}

json camera_spec_json(const config::CameraConfig& c) {
    json j{{"id", c.id},
           {"url", c.url},
           {"lossless", c.lossless},
           {"enabled", c.enabled},
           {"max_fps", c.max_fps},
           {"model", c.model},
           {"confidence", c.confidence},
           {"classes", c.classes},
           {"loop", c.loop},
           {"realtime", c.realtime},
           {"rtsp_transport", c.rtsp_transport},
           {"decode", c.decode}};
    // The analytics section in the form POST /api/v1/cameras takes back (analytics_config.h).
    if (!c.analytics.empty()) j["analytics"] = json::parse(analytics::analytics_config_json(c.analytics), nullptr, false);
    return j;
}

json camera_stats_json(const CameraSnapshot& c) {
    return json{{"width", c.width},
                {"height", c.height},
                {"fps", c.fps},
                {"frames_captured", c.frames_captured},
                {"frames_processed", c.frames_processed},
                {"frames_dropped", c.frames_dropped},
                {"frames_skipped", c.frames_skipped},
                {"reconnects", c.reconnects},
                {"errors", c.errors},
                {"stalls", c.stalls},
                {"format_changes", c.format_changes},
                {"decoder", c.decoder},
                {"decoder_fallbacks", c.decoder_fallbacks},
                {"skipping_nonref", c.skipping_nonref},
                {"nonref_skip_starts", c.nonref_skip_starts},
                {"queue_depth", c.queue_depth},
                {"latency", latency_json(c.latency)},
                {"last_error", redact(c.last_error)},
                {"degraded", c.degraded}};
}

json performance_json(const PipelineSnapshot& s, const GpuSelection& gpus) {
    std::vector<std::string> reasons;
    if (!s.ready) reasons.push_back("not ready: " + (s.not_ready_reason.empty() ? "unknown" : s.not_ready_reason));
    for (const auto& d : s.devices) {
        if (d.circuit != CircuitState::kClosed)
            reasons.push_back("device " + d.name + ": circuit " + pipeline::circuit_state_name(d.circuit));
    }
    auto stage_p99 = [&](const char* name) {
        auto it = s.stages.find(name);
        return it == s.stages.end() ? 0.0 : it->second.p99_ms;
    };
    json j;
    // SEED fields (names kept exactly).
    j["status"] = reasons.empty() ? "healthy" : "degraded";
    j["inference_latency_p99"] = stage_p99("inference");
    const std::optional<double> gpu_utilization = gpus.mean_utilization();
    j["gpu_utilization"] = gpu_utilization ? json(*gpu_utilization) : json(nullptr);
    j["memory_pool_efficiency"] = s.pool_total.hit_rate();
    j["circuit_breaker_state"] = pipeline::circuit_state_name(s.worst_circuit());
    // Extensions.
    j["gpu_utilization_unit"] = "ratio";  // 0..1
    const std::optional<double> decoder = gpus.mean_decoder_utilization();
    j["gpu_decoder_utilization"] = decoder ? json(*decoder) : json(nullptr);  // NVDEC load, 0..1
    json gpu_ids = json::array();
    for (const auto& g : gpus.gpus) gpu_ids.push_back(g.index);
    j["gpu_utilization_gpus"] = std::move(gpu_ids);  // NVML indices
    if (!gpus.note.empty()) j["gpu_utilization_note"] = gpus.note;
    j["reasons"] = reasons;
    j["ready"] = s.ready;
    j["uptime_s"] = s.uptime_s;
    j["e2e_latency_p99"] = stage_p99("e2e");
    j["fps"] = s.fps;
    j["frames_processed"] = s.frames_processed;
    j["frames_dropped"] = s.frames_dropped;
    j["frames_skipped"] = s.frames_skipped;
    j["frames_failed"] = s.frames_failed;
    j["batches"] = s.batches;
    json cams = json::array();
    for (const auto& c : s.cameras) {
        cams.push_back(json{{"id", c.id},
                            {"state", c.state},
                            {"fps", c.fps},
                            {"frames_processed", c.frames_processed},
                            {"frames_dropped", c.frames_dropped},
                            {"frames_skipped", c.frames_skipped},
                            {"reconnects", c.reconnects},
                            {"errors", c.errors},
                            {"e2e_latency_p50", c.latency.p50_ms},
                            {"e2e_latency_p99", c.latency.p99_ms},
                            {"last_error", redact(c.last_error)},
                            {"degraded", c.degraded}});
    }
    j["cameras"] = std::move(cams);
    json devs = json::array();
    for (const auto& d : s.devices) {
        devs.push_back(json{{"name", d.name},
                            {"circuit", pipeline::circuit_state_name(d.circuit)},
                            {"batches", d.batches},
                            {"frames", d.frames},
                            {"failures", d.failures},
                            {"fallback_batches", d.fallback_batches},
                            {"handoff_batches", d.handoffs},
                            {"busy", d.busy_fraction},
                            {"workers", d.workers},
                            {"elastic_workers", d.elastic_workers},
                            {"elastic_batches", d.elastic_batches},
                            {"needs_rebuild", d.circuit_stats.needs_rebuild}});
    }
    j["devices"] = std::move(devs);
    json stages = json::object();
    for (const auto& [name, l] : s.stages)
        stages[name] = json{{"p50_ms", l.p50_ms}, {"p95_ms", l.p95_ms},   {"p99_ms", l.p99_ms},
                            {"max_ms", l.max_ms}, {"mean_ms", l.mean_ms}, {"count", l.count}};
    j["stages"] = std::move(stages);
    j["memory_pool"] = json{{"hit_rate", s.pool_total.hit_rate()},     {"acquires", s.pool_total.acquires},
                            {"misses", s.pool_total.misses},           {"acquire_p99_us", s.pool_total.acquire_p99_us},
                            {"bytes_total", s.pool_total.bytes_total}, {"bytes_in_use", s.pool_total.bytes_in_use}};
    return j;
}

}  // namespace itscam::service
