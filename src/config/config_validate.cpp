// Validation: every range and cross-field rule, reported at the value's file position or environment variable.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <set>

#include "config/config.h"
#include "config/config_internal.h"
#include "device/device_name.h"

namespace itscam::config {

namespace internal {

namespace {

bool valid_device(const std::string& d) {
    return device::device_name_validate(d).is_ok();
}

// A GPU device name ("cuda", "cuda:N").
bool is_gpu_device(const std::string& d) {
    return device::device_gpu_ordinal(d) >= 0;
}

// Range checks written so that NaN fails them.
Status check_int(const Provenance* p, const std::string& path, int v, int lo, int hi) {
    if (v >= lo && v <= hi) return Status::ok();
    if (hi == INT_MAX)
        return config_error(p, path, "must be at least " + std::to_string(lo) + ", got " + std::to_string(v));
    return config_error(
        p, path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(v));
}

Status check_ratio(const Provenance* p, const std::string& path, double v) {
    if (v >= 0.0 && v <= 1.0) return Status::ok();
    return config_error(p, path, "must be between 0 and 1, got " + format_number(v));
}

Status check_positive(const Provenance* p, const std::string& path, double v) {
    if (v > 0.0 && std::isfinite(v)) return Status::ok();
    return config_error(p, path, "must be greater than 0, got " + format_number(v));
}

Status check_non_negative(const Provenance* p, const std::string& path, double v) {
    if (v >= 0.0 && std::isfinite(v)) return Status::ok();
    return config_error(p, path, "must be 0 or more, got " + format_number(v));
}

Status check_device(const Provenance* p, const std::string& path, const std::string& d) {
    if (valid_device(d)) return Status::ok();
    return config_error(p, path, "expected one of cpu, ref, cuda, cuda:N, got " + quote_for_message(d));
}

Status check_imgsz(const Provenance* p, const std::string& path, int v) {
    if (v == 0 || (v >= 32 && v <= 4096 && v % 32 == 0)) return Status::ok();
    return config_error(p, path,
                        "must be 0 (the model's) or a multiple of 32 between 32 and 4096, got " + std::to_string(v));
}

Status validate_settings(const Settings& s, const Provenance* p) {
    ITSCAM_RETURN_IF_ERROR(check_int(p, "MEMORY_POOL_SIZE", s.MEMORY_POOL_SIZE, 0, 1024));
    ITSCAM_RETURN_IF_ERROR(check_positive(p, "TOTAL_GPU_MEMORY_GB", s.TOTAL_GPU_MEMORY_GB));
    ITSCAM_RETURN_IF_ERROR(check_ratio(p, "UNIFIED_MEMORY_RATIO", s.UNIFIED_MEMORY_RATIO));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "MAX_STREAMS_PER_DEVICE", s.MAX_STREAMS_PER_DEVICE, 1, 1024));
    if (s.STREAMS_PER_DEVICE < 1 || s.STREAMS_PER_DEVICE > s.MAX_STREAMS_PER_DEVICE) {
        return config_error(p, "STREAMS_PER_DEVICE",
                            "must be between 1 and MAX_STREAMS_PER_DEVICE (" +
                                std::to_string(s.MAX_STREAMS_PER_DEVICE) + "), got " +
                                std::to_string(s.STREAMS_PER_DEVICE));
    }
    ITSCAM_RETURN_IF_ERROR(
        check_int(p, "CIRCUIT_BREAKER_FAILURE_THRESHOLD", s.CIRCUIT_BREAKER_FAILURE_THRESHOLD, 1, INT_MAX));
    ITSCAM_RETURN_IF_ERROR(check_positive(p, "CIRCUIT_BREAKER_RECOVERY_TIMEOUT", s.CIRCUIT_BREAKER_RECOVERY_TIMEOUT));
    ITSCAM_RETURN_IF_ERROR(
        check_int(p, "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS", s.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS, 1, INT_MAX));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "gpu_memory_failure_threshold", s.gpu_memory_failure_threshold, 1, INT_MAX));
    ITSCAM_RETURN_IF_ERROR(check_ratio(p, "TARGET_BANDWIDTH_REDUCTION", s.TARGET_BANDWIDTH_REDUCTION));
    if (s.device_ids.empty()) return config_error(p, "device_ids", "must list at least one device");
    std::set<int> seen;
    for (size_t i = 0; i < s.device_ids.size(); ++i) {
        const int id = s.device_ids[i];
        if (id < 0) return config_error(p, at("device_ids", i), "must be 0 or more, got " + std::to_string(id));
        if (!seen.insert(id).second)
            return config_error(p, at("device_ids", i), "device " + std::to_string(id) + " is listed twice");
    }
    return Status::ok();
}

// `pl` with max_batch_size resolved (validate_config checks the value as written).
Status validate_pipeline(const PipelineConfig& pl, const Provenance* p) {
    const std::string k = "pipeline.";
    std::set<int> seen;
    for (size_t i = 0; i < pl.preferred_batch_sizes.size(); ++i) {
        const std::string path = at(k + "preferred_batch_sizes", i);
        const int b = pl.preferred_batch_sizes[i];
        if (b < 1 || b > pl.max_batch_size) {
            return config_error(p, path,
                                "must be between 1 and max_batch_size (" + std::to_string(pl.max_batch_size) +
                                    "), got " + std::to_string(b));
        }
        if (!seen.insert(b).second)
            return config_error(p, path, "batch size " + std::to_string(b) + " is listed twice");
    }
    ITSCAM_RETURN_IF_ERROR(check_non_negative(p, k + "max_queue_delay_ms", pl.max_queue_delay_ms));
    ITSCAM_RETURN_IF_ERROR(check_ratio(p, k + "deadline_fraction", pl.deadline_fraction));
    ITSCAM_RETURN_IF_ERROR(check_int(p, k + "queue_capacity", pl.queue_capacity, 1, INT_MAX));
    ITSCAM_RETURN_IF_ERROR(check_int(p, k + "decode_threads", pl.decode_threads, 0, 1024));
    ITSCAM_RETURN_IF_ERROR(check_int(p, k + "decode_slots", pl.decode_slots, -1, 4096));
    if (pl.decode != "auto" && pl.decode != "cpu" && pl.decode != "nvdec")
        return config_error(p, k + "decode", "expected auto, cpu or nvdec, got " + quote_for_message(pl.decode));
    ITSCAM_RETURN_IF_ERROR(check_int(p, k + "inference_workers", pl.inference_workers, 1, 1024));
    ITSCAM_RETURN_IF_ERROR(check_int(p, k + "max_inference_workers", pl.max_inference_workers, 0, 1024));
    if (pl.max_inference_workers > 0 && pl.max_inference_workers < pl.inference_workers)
        return config_error(p, k + "max_inference_workers",
                            "must be 0 (no growth) or at least inference_workers (" +
                                std::to_string(pl.inference_workers) + "), got " +
                                std::to_string(pl.max_inference_workers));
    ITSCAM_RETURN_IF_ERROR(check_positive(p, k + "stall_timeout_s", pl.stall_timeout_s));
    ITSCAM_RETURN_IF_ERROR(check_positive(p, k + "latency_window_s", pl.latency_window_s));
    ITSCAM_RETURN_IF_ERROR(check_positive(p, k + "reconnect_initial_s", pl.reconnect_initial_s));
    ITSCAM_RETURN_IF_ERROR(check_positive(p, k + "reconnect_max_s", pl.reconnect_max_s));
    if (pl.reconnect_max_s < pl.reconnect_initial_s) {
        return config_error(p, k + "reconnect_max_s",
                            "must be at least reconnect_initial_s (" + format_number(pl.reconnect_initial_s) +
                                "), got " + format_number(pl.reconnect_max_s));
    }
    ITSCAM_RETURN_IF_ERROR(check_ratio(p, k + "nms_iou", pl.nms_iou));
    ITSCAM_RETURN_IF_ERROR(check_int(p, k + "max_det", pl.max_det, 1, 100000));
    return Status::ok();
}

}  // namespace

namespace {

bool valid_rendition_name(const std::string& n) {
    if (n.empty() || n.size() > 32) return false;
    return std::all_of(n.begin(), n.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    });
}

Status validate_streaming(const StreamingConfig& s, const Provenance* p) {
    static const char* kPresets[] = {"ultrafast", "superfast", "veryfast", "faster",  "fast",
                                     "medium",    "slow",      "slower",   "veryslow"};
    if (std::find_if(std::begin(kPresets), std::end(kPresets), [&](const char* x) { return s.preset == x; }) ==
        std::end(kPresets)) {
        return config_error(p, "streaming.preset",
                            "expected an x264 preset (ultrafast, superfast, veryfast, faster, fast, medium, slow, "
                            "slower, veryslow), got " +
                                quote_for_message(s.preset));
    }
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.gop", s.gop, 1, 1000));
    if (s.rate_control != "crf" && s.rate_control != "cbr")
        return config_error(p, "streaming.rate_control",
                            "expected crf or cbr, got " + quote_for_message(s.rate_control));
    if (!(s.crf >= 0 && s.crf <= 51))
        return config_error(p, "streaming.crf", "must be in 0..51, got " + format_number(s.crf));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.bitrate_kbps", s.bitrate_kbps, 50, 200000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.max_bitrate_kbps", s.max_bitrate_kbps, 0, 200000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.encoder_threads", s.encoder_threads, 0, 64));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.max_viewers", s.max_viewers, 0, 1000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.viewer_queue_fragments", s.viewer_queue_fragments, 2, 100000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.viewer_queue_kib", s.viewer_queue_kib, 64, 1 << 20));
    if (!(s.idle_stop_s >= 0 && s.idle_stop_s <= 3600))
        return config_error(p, "streaming.idle_stop_s",
                            "must be in 0..3600 seconds, got " + format_number(s.idle_stop_s));
    std::map<std::string, size_t> names;
    for (size_t i = 0; i < s.renditions.size(); ++i) {
        const RenditionConfig& r = s.renditions[i];
        const std::string k = at("streaming.renditions", i);
        if (!valid_rendition_name(r.name))
            return config_error(p, k + ".name", "must be 1 to 32 of a-z 0-9 _ -, got " + quote_for_message(r.name));
        if (auto [it, inserted] = names.emplace(r.name, i); !inserted) {
            return config_error(p, k + ".name",
                                "rendition " + quote_for_message(r.name) + " is already used by " +
                                    at("streaming.renditions", it->second));
        }
        ITSCAM_RETURN_IF_ERROR(check_int(p, k + ".height", r.height, 0, 4320));
        if (r.height % 2 != 0 || (r.height != 0 && r.height < 64))
            return config_error(p, k + ".height",
                                "must be 0 (the camera's) or an even number >= 64, got " + std::to_string(r.height));
        ITSCAM_RETURN_IF_ERROR(check_int(p, k + ".bitrate_kbps", r.bitrate_kbps, 0, 200000));
        if (r.bitrate_kbps != 0 && r.bitrate_kbps < 50)
            return config_error(p, k + ".bitrate_kbps",
                                "must be 0 or at least 50, got " + std::to_string(r.bitrate_kbps));
        if (!(r.fragment_ms >= 0 && r.fragment_ms <= 10000))
            return config_error(p, k + ".fragment_ms", "must be in 0..10000 ms, got " + format_number(r.fragment_ms));
    }
    return Status::ok();
}

}  // namespace

int resolved_max_batch_size(const Config& c) {
    if (c.pipeline.max_batch_size != 0) return c.pipeline.max_batch_size;
    // Larger batches buy a host device no throughput, only latency; a GPU fills its cores with them.
    return is_gpu_device(c.device) ? 8 : 1;
}

Status validate_camera(const CameraConfig& cam, const std::string& prefix, const Provenance* p) {
    ITSCAM_RETURN_IF_ERROR(check_camera_strings(cam, prefix, p));
    ITSCAM_RETURN_IF_ERROR(check_non_negative(p, join(prefix, "max_fps"), cam.max_fps));
    if (cam.max_fps > 1000)
        return config_error(p, join(prefix, "max_fps"), "must be at most 1000, got " + format_number(cam.max_fps));
    if (!(cam.confidence > 0.0 && cam.confidence <= 1.0)) {
        return config_error(p, join(prefix, "confidence"),
                            "must be greater than 0 and at most 1, got " + format_number(cam.confidence));
    }
    if (cam.classes.size() > 1000)
        return config_error(p, join(prefix, "classes"),
                            "lists " + std::to_string(cam.classes.size()) + " classes, at most 1000 are allowed");
    for (size_t i = 0; i < cam.classes.size(); ++i)
        ITSCAM_RETURN_IF_ERROR(check_int(p, at(join(prefix, "classes"), i), cam.classes[i], 0, 999));
    if (!cam.decode.empty() && cam.decode != "auto" && cam.decode != "cpu" && cam.decode != "nvdec") {
        return config_error(p, join(prefix, "decode"),
                            "expected auto, cpu or nvdec (or nothing: pipeline.decode), got " +
                                quote_for_message(cam.decode));
    }
    if (cam.rtsp_transport != "tcp" && cam.rtsp_transport != "udp") {
        return config_error(p, join(prefix, "rtsp_transport"),
                            "expected tcp or udp, got " + quote_for_message(cam.rtsp_transport));
    }
    if (cam.lossless && (camera_url_kind(cam.url) == UrlKind::kNetwork || cam.realtime)) {
        return config_error(p, join(prefix, "lossless"),
                            "is for files read as fast as they decode (realtime: false): a live camera, or a file "
                            "paced like one, cannot wait for the detector without falling behind");
    }
    // The analytics' own checks (geometry, ranges), also for a config built in code rather than read from YAML.
    if (!cam.analytics.empty())
        if (Status st = analytics::validate_analytics(cam.analytics); !st)
            return config_error(p, join(prefix, "analytics"), st.message());
    return Status::ok();
}

// A section validated outside this module, whose messages start with "<section>.<key>" (`section` "mqtt",
// "cluster"): the error gets the key's position in the file (or its environment variable). `outer` is where the
// section sits ("events." for mqtt, "" for cluster) and is also put before the section's other keys the message
// names.
Status located_section_error(const Status& st, const std::string& section, const std::string& outer,
                             const Provenance* p) {
    if (st) return Status::ok();
    std::string m = st.message();
    std::string path = outer + section;
    if (m.rfind(section + ".", 0) == 0) {
        const size_t end = m.find_first_of(": ");
        path = outer + m.substr(0, end);
        if (end != std::string::npos && m.compare(end, 2, ": ") == 0) m = m.substr(end + 2);
    }
    if (!outer.empty()) {
        const std::string named = " " + section + ".";
        for (size_t i = m.find(named); i != std::string::npos; i = m.find(named, i + named.size() + outer.size()))
            m.insert(i + 1, outer);
    }
    return config_error(p, path, m);
}

// events.mqtt (src/events/events_config.h).
Status validate_events(const EventsConfig& e, const Provenance* p) {
    return located_section_error(events::validate_mqtt_config(e.mqtt), "mqtt", "events.", p);
}

Status validate_config(const Config& c, const Provenance* p) {
    ITSCAM_RETURN_IF_ERROR(check_config_strings(c, p));
    ITSCAM_RETURN_IF_ERROR(validate_events(c.events, p));
    ITSCAM_RETURN_IF_ERROR(located_section_error(cluster::validate_cluster_config(c.cluster), "cluster", "", p));
    ITSCAM_RETURN_IF_ERROR(validate_settings(c.settings, p));
    ITSCAM_RETURN_IF_ERROR(check_device(p, "device", c.device));
    if (c.precision != "auto" && c.precision != "fp32" && c.precision != "bf16" && c.precision != "int8" &&
        c.precision != "fp16") {
        return config_error(p, "precision",
                            "expected one of auto, fp32, bf16, int8, fp16, got " + quote_for_message(c.precision));
    }
    if (c.settings.ENABLE_TORCH_JIT_OPTIMIZATION && c.precision != "auto" && c.precision != "fp32") {
        return config_error(p, "ENABLE_TORCH_JIT_OPTIMIZATION",
                            "true runs the optimized graph without a precision change (fp32), but precision is " +
                                quote_for_message(c.precision) +
                                ": set precision to auto or fp32, or ENABLE_TORCH_JIT_OPTIMIZATION to false");
    }
    ITSCAM_RETURN_IF_ERROR(check_int(p, "threads", c.threads, 0, 1024));
    ITSCAM_RETURN_IF_ERROR(check_imgsz(p, "imgsz", c.imgsz));
    {
        // 0: by device (resolve()); the other checks see what it resolves to.
        ITSCAM_RETURN_IF_ERROR(check_int(p, "pipeline.max_batch_size", c.pipeline.max_batch_size, 0, 1024));
        PipelineConfig pl = c.pipeline;
        pl.max_batch_size = resolved_max_batch_size(c);
        ITSCAM_RETURN_IF_ERROR(validate_pipeline(pl, p));
    }
    // NVDEC pictures stay on the GPU for a CUDA engine; a host engine would copy every frame back down.
    if (!is_gpu_device(c.device)) {
        auto refuse = [&](const std::string& path) {
            return config_error(p, path,
                                "nvdec decodes on a GPU for a CUDA engine, but device is " +
                                    quote_for_message(c.device) + " (use auto or cpu)");
        };
        if (c.pipeline.decode == "nvdec") return refuse("pipeline.decode");
        for (size_t i = 0; i < c.cameras.size(); ++i)
            if (c.cameras[i].decode == "nvdec") return refuse(at("cameras", i) + ".decode");
    }
    ITSCAM_RETURN_IF_ERROR(check_device(p, "fallback.device", c.fallback.device));
    ITSCAM_RETURN_IF_ERROR(check_imgsz(p, "fallback.imgsz", c.fallback.imgsz));
    ITSCAM_RETURN_IF_ERROR(check_non_negative(p, "fallback.max_fps", c.fallback.max_fps));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "fallback.threads", c.fallback.threads, 0, 1024));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "server.port", c.server.port, 0, 65535));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "server.max_body_bytes", c.server.max_body_bytes, 1024, 64 << 20));
    if (c.server.host.empty())
        return config_error(p, "server.host", "must not be empty (127.0.0.1: this machine only)");
    if (!(c.server.read_timeout_s > 0)) return config_error(p, "server.read_timeout_s", "must be > 0");
    if (!(c.server.write_timeout_s > 0)) return config_error(p, "server.write_timeout_s", "must be > 0");
    if (!(c.server.header_timeout_s > 0) || c.server.header_timeout_s > 3600)
        return config_error(p, "server.header_timeout_s", "must be in (0, 3600] seconds");
    ITSCAM_RETURN_IF_ERROR(check_int(p, "server.max_connections", c.server.max_connections, 1, 1000000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "server.max_connections_per_client", c.server.max_connections_per_client, 1,
                                     c.server.max_connections));
    if (c.server.tls_cert.empty() != c.server.tls_key.empty())
        return config_error(p, c.server.tls_cert.empty() ? "server.tls_cert" : "server.tls_key",
                            "server.tls_cert and server.tls_key must be set together (PEM files)");
    if (c.history.enabled && c.history.path.empty())
        return config_error(p, "history.path", "must not be empty (or set history.enabled: false)");
    if (!(c.history.sample_interval_s >= 1) || c.history.sample_interval_s > 3600)
        return config_error(p, "history.sample_interval_s", "must be in 1..3600 seconds");
    if (!(c.history.retention_days > 0)) return config_error(p, "history.retention_days", "must be > 0");
    ITSCAM_RETURN_IF_ERROR(validate_streaming(c.streaming, p));
    for (size_t i = 0; i < c.sinks.size(); ++i) {
        const SinkConfig& s = c.sinks[i];
        if (s.type != "jsonl")
            return config_error(p, at("sinks", i) + ".type", "expected jsonl, got " + quote_for_message(s.type));
        if (s.path.empty()) return config_error(p, at("sinks", i) + ".path", "must not be empty (\"-\": stdout)");
    }
    std::map<std::string, size_t> ids;
    for (size_t i = 0; i < c.cameras.size(); ++i) {
        const CameraConfig& cam = c.cameras[i];
        ITSCAM_RETURN_IF_ERROR(validate_camera(cam, at("cameras", i), p));
        ITSCAM_RETURN_IF_ERROR(check_not_self(c, cam, at("cameras", i) + ".url", p));
        if (auto [it, inserted] = ids.emplace(cam.id, i); !inserted) {
            return config_error(p, at("cameras", i) + ".id",
                                "camera id " + quote_for_message(cam.id) + " is already used by cameras[" +
                                    std::to_string(it->second) + "]");
        }
        if (cam.model.empty() && c.model.empty()) {
            return config_error(p, at("cameras", i),
                                "no model: set 'model' at the top level (or ITSCAM_MODEL) or for this camera");
        }
    }
    return Status::ok();
}

}  // namespace internal

Status validate(const Config& c) {
    return internal::validate_config(c, nullptr);
}

}  // namespace itscam::config
