// Config: one YAML file with the service settings (the names of ../shared/design/SEED_SETTINGS.md, kept exactly)
// and the cameras. Environment variables of the same names override the file (ITSCAM_* for our own keys).
// Every error names the file, line and column, and what was expected.
//
//   ENABLE_MEMORY_PREALLOCATION: true
//   MEMORY_POOL_SIZE: 4
//   CIRCUIT_BREAKER_FAILURE_THRESHOLD: 15
//   device_ids: [0]
//   model: ../shared/models/yolo11n.onnx
//   pipeline: { max_batch_size: 8, preferred_batch_sizes: [1, 2, 4, 8], max_queue_delay_ms: 10, queue_capacity: 2 }
//   fallback: { device: cpu, imgsz: 320, max_fps: 5 }
//   sinks: [ { type: jsonl, path: detections.jsonl } ]
//   cameras:
//     - { id: cam1, url: ../shared/data/videos/urban_road_cctv_360p.mp4, loop: true, max_fps: 15 }
//
// Relative paths (model, camera file urls, sink paths) are kept as written and resolve against the current working
// directory of the process, not against the config file's folder (configs/example.yaml is written for running from
// the repository root). Nothing here checks that files exist: sources fail (and reconnect) at run time. Every string
// setting is limited in length (4096 bytes; server.host 253; camera ids 64) and may hold no control characters.
// The `alerts:` section is consumed by the alerting module: accepted here and kept as YAML text in Config::reserved.
// The circuit breaker's settings may also be given as the seed's dict, CIRCUIT_BREAKER_CONFIG (or circuit_breaker):
//   CIRCUIT_BREAKER_CONFIG: { failure_threshold: 15, recovery_timeout: 30.0, half_open_max_calls: 10,
//                             gpu_memory_failure_threshold: 3 }
// with the same validation as the flat keys; a setting given both ways is an error naming both.
// Environment: every SEED name overrides the setting of the same name (device_ids as "0,1" or "[0,1]";
// CIRCUIT_BREAKER_CONFIG as a one-line map: JSON, a Python dict or YAML flow); our own keys come from ITSCAM_DEVICE,
// ITSCAM_PRECISION, ITSCAM_THREADS, ITSCAM_MODEL and ITSCAM_IMGSZ. An empty variable is treated as unset. Booleans
// accept true/false/yes/no/on/off/1/0 (any case) in YAML and in the environment.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analytics/analytics_config.h"
#include "cluster/cluster_config.h"
#include "events/events_config.h"
#include "core/status.h"

namespace itscam::config {

struct CameraConfig {
    std::string id;                 // [A-Za-z0-9_.-]{1,64}, not "." or "..", unique
    std::string url;                // rtsp(s)://, http(s)://, synthetic://WxH@fps, or a local file (a path or
                                    // file:///path; from the API only with server.allow_file_cameras); at most
                                    // 4096 bytes, no control characters. Other schemes are refused.
    bool enabled = true;
    double max_fps = 0;             // 0: as delivered
    std::string model;              // empty: the global model
    double confidence = 0.25;       // (0, 1]
    std::vector<int> classes;       // empty: all classes
    bool loop = false;              // files only
    bool realtime = true;           // files: pace at the clip's frame rate (a file behaves like a camera)
    std::string rtsp_transport = "tcp";  // tcp | udp
    std::string decode;                  // auto | cpu | nvdec; empty: pipeline.decode
    // Files read for analysis (realtime: false only): the reader waits for the detector instead of dropping frames,
    // so every frame is processed (counting studies on recordings). Live cameras always keep the latest frame.
    bool lossless = false;
    // Tracking, counting lines, zones, speed and congestion (docs/analytics.md). Empty: no tracker runs.
    analytics::AnalyticsConfig analytics;

    bool operator==(const CameraConfig&) const = default;
};

// The HTTP API (health, metrics, cameras). Mutating endpoints need api_token (ITSCAM_API_TOKEN in the
// environment, `${NAME}` interpolation or api_token_file keep it out of the file); without one they answer 403.
// read_token (ITSCAM_READ_TOKEN), when set, protects the reads too (docs/service.md lists the endpoints that stay
// open).
struct ServerConfig {
    bool enabled = true;
    // Cameras added through the API may be local files (a path or file://): off by default, so that an API token
    // cannot make the service read any file it can open (file:///etc/passwd). Cameras in the config file may
    // always be files: the operator wrote them. Environment: ITSCAM_ALLOW_FILE_CAMERAS.
    bool allow_file_cameras = false;
    std::string host = "127.0.0.1";
    int port = 8000;                // 0: any free port (printed at start)
    std::string api_token;          // empty: POST/DELETE disabled
    std::string read_token;
    // A file holding the token (one line; one trailing newline is dropped), read when the config is loaded. Giving
    // both the token and its file is an error; the environment (ITSCAM_API_TOKEN / ITSCAM_API_TOKEN_FILE, the same
    // for READ) overrides either form of the file's.
    std::string api_token_file;
    std::string read_token_file;
    int max_body_bytes = 65536;
    double read_timeout_s = 5.0;
    double write_timeout_s = 5.0;
    double header_timeout_s = 10.0;      // request line + headers due within this (slow clients are disconnected)
    int max_connections = 1024;          // open connections; beyond: 503 and closed at once
    int max_connections_per_client = 64; // ... from one client address
    std::string tls_cert;                // PEM certificate chain; with tls_key: HTTPS only
    std::string tls_key;                 // PEM private key (unencrypted)

    bool operator==(const ServerConfig&) const = default;
};

// History: metric samples, alerts, camera events and circuit transitions in SQLite (WAL), kept across restarts;
// `itscam report` reads it. Relative paths resolve against the working directory.
struct HistoryConfig {
    bool enabled = true;
    std::string path = "runs/itscam.db";
    double sample_interval_s = 10.0;
    double retention_days = 30.0;

    bool operator==(const HistoryConfig&) const = default;
};

// Analytics events to a message broker (docs/mqtt.md): `events: { mqtt: {...} }`. The password is a secret like
// the API tokens (${NAME} interpolation keeps it out of the file; --print-config masks it).
struct EventsConfig {
    events::MqttConfig mqtt;

    bool operator==(const EventsConfig&) const = default;
};

// One rung of the live-video ladder (docs/streaming.md). A viewer gets one rung at a time; the network-aware
// controller moves it between rungs by its measured throughput. Rungs are encoded only while someone watches them.
struct RenditionConfig {
    std::string name;        // [a-z0-9_-]{1,32}, unique in the ladder (used in URLs: ?rendition=NAME)
    int height = 0;          // 0: the camera's own height; else scaled to this height (even), aspect kept
    int bitrate_kbps = 0;    // 0: the camera's rate control (crf / bitrate_kbps + the adaptive controller);
                             // else this rung is capped (VBV) at this bitrate
    double fragment_ms = 0;  // fMP4 fragment duration; 0: one frame per fragment (lowest latency). Fragments are
                             // always also cut at keyframes.

    bool operator==(const RenditionConfig&) const = default;
};

// Live annotated video: per camera and rendition one x264 encode shared by all viewers, packaged as fragmented MP4
// (docs/streaming.md). ENABLE_ADAPTIVE_QUALITY, TARGET_BANDWIDTH_REDUCTION and ENABLE_NETWORK_AWARE_STREAMING (in
// Settings) steer the controller. Environment: ITSCAM_STREAMING_<KEY> for every scalar key here
// (ITSCAM_STREAMING_ENABLED, ITSCAM_STREAMING_PRESET, ...).
struct StreamingConfig {
    bool enabled = true;              // serve /streams/...; nothing is encoded until someone watches
    std::string preset = "veryfast";  // x264 preset: ultrafast .. veryslow
    int gop = 60;                     // frames between keyframes
    std::string rate_control = "crf"; // crf | cbr
    double crf = 23;                  // rate_control crf: the base CRF (0..51) the controller moves around
    int bitrate_kbps = 4000;          // rate_control cbr: the target; also the baseline bandwidth of the
                                      // streaming_bandwidth alert and TARGET_BANDWIDTH_REDUCTION
    int max_bitrate_kbps = 0;         // crf: VBV cap (0: none)
    int encoder_threads = 1;          // x264 threads per encode
    bool annotate = true;             // draw boxes and labels before encoding
    int max_viewers = 8;              // concurrent streaming connections (video + events) over all cameras;
                                      // beyond it 503
    int viewer_queue_fragments = 120; // per-viewer queue bound; a viewer past it skips to the latest keyframe
    int viewer_queue_kib = 8192;      // the same bound in bytes
    double idle_stop_s = 10;          // an encode nobody watches stops after this long
    std::vector<RenditionConfig> renditions;  // empty: the default ladder (source/0, 480p/1000k, 240p/300k)

    bool operator==(const StreamingConfig&) const = default;
};

// The ladder used when StreamingConfig::renditions is empty.
std::vector<RenditionConfig> default_renditions();

struct SinkConfig {
    std::string type = "jsonl";     // jsonl
    std::string path = "-";         // "-": stdout

    bool operator==(const SinkConfig&) const = default;
};

struct PipelineConfig {
    // 0: by device (resolve()): 1 on the CPU ("cpu", "ref"), where larger batches buy no throughput, only latency;
    // 8 on a GPU.
    int max_batch_size = 0;
    std::vector<int> preferred_batch_sizes;  // empty: powers of two up to max_batch_size
    double max_queue_delay_ms = 0;           // 0: deadline_fraction x the fastest camera's frame interval
    double deadline_fraction = 0.5;
    int queue_capacity = 2;                  // per camera (latest-frame policy)
    int decode_threads = 0;                  // per camera; 0: cores / cameras, at least 1
    // CPU decodes running at once across all cameras (video/decode_gate.h): 0, the cores this process may use;
    // -1: no limit.
    int decode_slots = 0;
    // Where video is decoded: "auto" (NVDEC when the device is CUDA and the GPU supports the stream's codec and
    // size, else the CPU), "cpu" (FFmpeg on the CPU), or "nvdec" (the GPU's decoder; a camera whose NVDEC session
    // fails falls back to the CPU with a log line and a metric). Cameras may override it (CameraConfig::decode).
    std::string decode = "auto";
    int inference_workers = 1;               // per device
    // Workers per device that take batches only under queueing pressure (pipeline_workers.cpp): up to this many in
    // all, the ones past inference_workers are built at start and parked until a full batch waits while every
    // regular worker of the device is busy. 0: inference_workers (no growth).
    int max_inference_workers = 0;
    // Under overload, a camera whose queue keeps dropping frames has its decoder skip the non-reference frames
    // (pipeline/decode_thinning.h); CPU decoding only. false: every frame is decoded whatever is served.
    bool skip_nonref_under_overload = true;
    double stall_timeout_s = 10.0;
    double reconnect_initial_s = 0.5;
    double reconnect_max_s = 30.0;
    double latency_window_s = 60.0;          // percentiles (alerts, /health/performance) cover this much recent time
    double nms_iou = 0.7;
    int max_det = 300;

    bool operator==(const PipelineConfig&) const = default;
};

struct FallbackConfig {
    bool enabled = true;
    std::string device = "cpu";
    int imgsz = 0;          // 0: same as the primary; else a lower input size (multiple of 32; needs a model
                            // exported with dynamic=True, or a fallback model exported at that size)
    double max_fps = 0;     // 0: no per-camera frame-rate cap while degraded
    int threads = 0;
    std::string model;      // empty: the camera's model; else a lighter model for degraded serving
                            // (e.g. an export at imgsz 320)

    bool operator==(const FallbackConfig&) const = default;
};

struct Settings {
    // SEED_SETTINGS.md names, defaults as documented there.
    bool ENABLE_MEMORY_PREALLOCATION = true;
    int MEMORY_POOL_SIZE = 4;
    bool MEMORY_WARMUP_ON_START = true;
    double TOTAL_GPU_MEMORY_GB = 16.0;
    double UNIFIED_MEMORY_RATIO = 0.6;
    int STREAMS_PER_DEVICE = 16;
    int MAX_STREAMS_PER_DEVICE = 32;
    bool ENABLE_CUDA_STREAMS_MONITORING = true;
    int CIRCUIT_BREAKER_FAILURE_THRESHOLD = 15;
    double CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 30.0;
    int CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS = 10;
    int gpu_memory_failure_threshold = 3;
    bool ENABLE_TENSORRT = true;                 // see optimized_engine()
    bool ENABLE_TORCH_JIT_OPTIMIZATION = false;  // see optimized_engine() and engine_precision()
    bool ENABLE_ADAPTIVE_QUALITY = true;
    double TARGET_BANDWIDTH_REDUCTION = 0.25;
    bool ENABLE_NETWORK_AWARE_STREAMING = true;
    std::vector<int> device_ids = {0};

    bool operator==(const Settings&) const = default;
};

struct Config {
    Settings settings;
    std::string device = "cpu";     // primary inference device: "cpu" | "ref" | "cuda" (then device_ids apply)
    std::string precision = "auto"; // auto (fp16 on cuda, fp32 on cpu) | fp32 | bf16 | int8 | fp16
    int threads = 0;                // CPU backend threads (0: all cores)
    std::string model;              // required when any camera has no model of its own
    int imgsz = 0;                  // 0: the model's
    // Folder of the plan cache (runtime/plan_cache.h): engines built at one start are read back at the next instead
    // of being autotuned again. "": no cache.
    std::string plan_cache_dir = "runs/plan_cache";
    PipelineConfig pipeline;
    FallbackConfig fallback;
    ServerConfig server;
    HistoryConfig history;
    EventsConfig events;
    StreamingConfig streaming;
    // Cluster mode over etcd (docs/cluster.md, src/cluster/cluster_config.h): off without a `cluster:` section.
    // Environment: ITSCAM_CLUSTER_<KEY> for every key (ITSCAM_CLUSTER_ENDPOINTS as "http://a:2379,http://b:2379").
    cluster::ClusterConfig cluster;
    std::vector<SinkConfig> sinks;  // empty: none
    std::vector<CameraConfig> cameras;
    // Sections consumed outside this module ("alerts"): their YAML text, as re-emitted by yaml-cpp.
    std::map<std::string, std::string> reserved;
    // The same sections as JSON text (plain scalars typed: numbers, booleans, null), for consumers that take JSON
    // (the alert rules: alert_rules_from_json). Not part of equality: it is derived from `reserved`.
    struct DerivedJson {
        std::map<std::string, std::string> sections;
        bool operator==(const DerivedJson&) const { return true; }
    } reserved_json;
    // Values that came from the environment, "NAME=value" (for the startup log).
    std::vector<std::string> env_overrides;
    std::string source_path;        // the file it was loaded from ("" for defaults)

    // Compares everything, env_overrides and source_path included (clear those to compare only the settings).
    bool operator==(const Config&) const = default;
};

// Every function returns kInvalidArgument for a bad configuration (load_config: kNotFound / kIo for a missing or
// unreadable file; kUnsupported for YAML input when built without yaml-cpp). Only the first error is reported.
// Parses YAML text. `origin` names it in errors ("config.yaml:12:5: MEMORY_POOL_SIZE: expected an integer >= 0,
// got 'four'"). Unknown top-level keys are errors (with a did-you-mean suggestion for near misses), so a typo in a
// setting name can never be silently ignored. Applies environment overrides when `env` is given.
// Every scalar value may hold `${NAME}`, replaced by the environment variable NAME from `env` (none without one);
// an unset or empty variable is an error naming the file position; `$${` is a literal `${`. Values of the alerts
// section are interpolated too (their JSON form; the kept YAML text is as written). Keys are never interpolated.
// server.*_token_file are read here (relative paths against the working directory).
using Env = std::map<std::string, std::string>;
Result<Config> parse_config(const std::string& yaml_text, const std::string& origin, const Env* env = nullptr);
Result<Config> load_config(const std::string& path, const Env* env = nullptr);
// The process environment as an Env.
Env process_env();
// Settings applied over defaults from the environment only (no file).
Result<Config> config_from_env(const Env& env);
// Checks every range and cross-field rule (unique camera ids, batch sizes, fallback imgsz multiple of 32, ...).
// parse_config/load_config/config_from_env already run it (and report file positions); call it again after changing
// a Config in code. An empty pipeline.preferred_batch_sizes and pipeline.max_batch_size 0 are accepted here; the
// parsers fill them in (resolve()).
Status validate(const Config& c);
// What ENABLE_TENSORRT and ENABLE_TORCH_JIT_OPTIMIZATION ask of every engine the pipeline builds (primary and
// fallback). True: the optimized engine (graph fusions, autotuned algorithms, a plan's recorded tuning). False (both
// off): plain execution (EngineOptions::optimize false: no fusion passes, the backend's default algorithms).
bool optimized_engine(const Settings& s);
// The precision of an engine on a GPU (`gpu`) or host device: `precision`, with auto resolved to fp16 on a GPU and
// fp32 elsewhere, except that ENABLE_TORCH_JIT_OPTIMIZATION ("optimized graph without precision change") resolves
// auto to fp32 everywhere (validate() refuses it with fp16, bf16 or int8).
std::string engine_precision(const Config& c, bool gpu);

// Fills defaults that depend on other settings: max_batch_size 0 by the device (1 on cpu/ref, 8 on cuda), then
// preferred_batch_sizes (powers of two below max_batch_size, then max_batch_size). The parsers call it before
// validating; the pipeline calls it on the Config it is given.
void resolve(Config& c);
// The effective configuration as YAML (for `itscam run --print-config` and the startup log). With Secrets::kMask (the
// default) the tokens read "***" and camera URLs have their userinfo masked (core/redact.h); a token read from a
// *_file is never written, only its file. With kReveal, parse_config accepts the text and gives back an equal Config
// (env_overrides and source_path aside; the overrides are listed as comments). A literal "${" in a value is written
// "$${" (see parse_config).
enum class Secrets { kMask, kReveal };
std::string to_yaml(const Config& c, Secrets secrets = Secrets::kMask);
// Registers the config's secrets (tokens, camera URL passwords) with the process-wide redaction (core/redact.h), so
// that logs and API answers hide them wherever they appear.
void register_secrets(const Config& c);
// Parses one camera from a JSON/YAML mapping text (used by the HTTP API to add cameras at run time). Checks the
// camera on its own (id pattern, url length and scheme, ranges), not against other cameras or the global model.
// A number beyond a double (1e999), .nan or .inf is an error naming the field. No `${NAME}` interpolation: a client
// must never read the service's environment.
Result<CameraConfig> parse_camera(const std::string& yaml_or_json, const std::string& origin);

// What a camera URL opens, by FFmpeg's own protocol rule (the leading [A-Za-z0-9+.-] run before ':'):
// kFile: a plain path or file://; kNetwork: rtsp, rtsps, http, https (any case); kSynthetic: synthetic://;
// kRefused: every other scheme (gopher, ftp, concat:, pipe:, subfile, data:, ...), which validation rejects.
enum class UrlKind { kFile, kNetwork, kSynthetic, kRefused };
UrlKind camera_url_kind(const std::string& url);
// The rule for a camera added at run time (Pipeline::add_camera, i.e. the API), beyond validate(): a local file
// needs server.allow_file_cameras; with `bound_port` > 0 (the HTTP server's real port, server.port may be 0), an
// http(s) URL must not point at this service itself. kInvalidArgument otherwise.
Status check_added_camera(const Config& c, const CameraConfig& cam, int bound_port = 0);

}  // namespace itscam::config
