// Config without YAML: field tables, text conversions, environment overrides, validation and the YAML writer.
// The yaml-cpp reader is in config_yaml.cpp.
#include "config/config.h"

#include <algorithm>
#include <cstdint>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <set>

#include "config/config_internal.h"

extern char** environ;

namespace itscam::config {

namespace internal {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& ch : r) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return r;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// Parent of a key path: "a.b[2]" -> "a.b" -> "a" -> "".
std::string parent_path(const std::string& path) {
    const size_t pos = path.find_last_of(".[");
    return pos == std::string::npos ? std::string() : path.substr(0, pos);
}

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace

std::string quote_for_message(std::string_view s) {
    constexpr size_t kMax = 60;
    std::string r = "'";
    for (size_t i = 0; i < s.size() && i < kMax; ++i) {
        const unsigned char ch = static_cast<unsigned char>(s[i]);
        if (ch < 0x20 || ch == 0x7f) {
            static const char* kHex = "0123456789abcdef";
            r += "\\x";
            r += kHex[ch >> 4];
            r += kHex[ch & 15];
        } else {
            r += static_cast<char>(ch);
        }
    }
    if (s.size() > kMax) r += "...";
    r += "'";
    return r;
}

std::string format_number(double v) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, res.ptr);
}

std::string format_error(const Provenance* p, const std::string& path, const std::string& what) {
    const std::string tail = path.empty() ? what : path + ": " + what;
    if (p == nullptr) return tail;
    for (std::string q = path;; q = parent_path(q)) {
        if (auto it = p->env.find(q); it != p->env.end()) {
            // The value came from the environment: name the variable (the key path is the variable's own name or
            // says nothing more).
            return "environment: " + it->second + ": " + what;
        }
        if (auto it = p->file.find(q); it != p->file.end() && it->second.line > 0) {
            return p->origin + ":" + std::to_string(it->second.line) + ":" + std::to_string(it->second.column) + ": " +
                   tail;
        }
        if (q.empty()) break;
    }
    return p->origin + ": " + tail;
}

Status config_error(const Provenance* p, const std::string& path, const std::string& what) {
    return invalid_argument(format_error(p, path, what));
}

std::string parse_bool(std::string_view s, bool& out) {
    const std::string v = lower(trim(s));
    if (v == "true" || v == "yes" || v == "on" || v == "1") {
        out = true;
        return "";
    }
    if (v == "false" || v == "no" || v == "off" || v == "0") {
        out = false;
        return "";
    }
    return "expected a boolean (true/false, yes/no, on/off, 1/0)";
}

std::string parse_int(std::string_view s, int& out) {
    s = trim(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    long long v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || res.ptr != s.data() + s.size()) return "expected an integer";
    if (res.ec == std::errc::result_out_of_range || v < INT_MIN || v > INT_MAX) return "integer out of range";
    if (res.ec != std::errc()) return "expected an integer";
    out = static_cast<int>(v);
    return "";
}

std::string parse_double(std::string_view s, double& out) {
    s = trim(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || res.ptr != s.data() + s.size()) return "expected a number";
    if (res.ec == std::errc::result_out_of_range) return "number out of range";
    if (res.ec != std::errc()) return "expected a number";
    if (!std::isfinite(v)) return "expected a finite number";
    out = v;
    return "";
}

std::string parse_int_list(std::string_view s, std::vector<int>& out) {
    s = trim(s);
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = trim(s.substr(1, s.size() - 2));
    std::vector<int> r;
    while (!s.empty()) {
        const size_t comma = s.find(',');
        const std::string_view item = trim(s.substr(0, comma));
        int v = 0;
        if (!parse_int(item, v).empty()) return "expected a list of integers such as 0,1 or [0,1]";
        r.push_back(v);
        if (comma == std::string_view::npos) break;
        s = s.substr(comma + 1);
        if (trim(s).empty()) return "expected a list of integers such as 0,1 or [0,1]";
    }
    out = std::move(r);
    return "";
}

std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates) {
    const std::string k = lower(key);
    if (k.empty() || k.size() > 200) return "";
    std::string best;
    size_t best_d = SIZE_MAX;
    for (const std::string& c : candidates) {
        const std::string lc = lower(c);
        size_t d = edit_distance(k, lc);
        // A prefix of a name ("max_batch" for "max_batch_size") counts as close.
        if (k.size() >= 4 && lc.compare(0, k.size(), k) == 0) d = std::min<size_t>(d, 1);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    const size_t limit = std::max<size_t>(2, k.size() / 3);
    if (best.empty() || best_d > limit) return "";
    return " (did you mean '" + best + "'?)";
}

const std::vector<Field<Settings>>& settings_fields() {
    using S = Settings;
    static const std::vector<Field<S>> kFields = {
        {"ENABLE_MEMORY_PREALLOCATION", &S::ENABLE_MEMORY_PREALLOCATION},
        {"MEMORY_POOL_SIZE", &S::MEMORY_POOL_SIZE},
        {"MEMORY_WARMUP_ON_START", &S::MEMORY_WARMUP_ON_START},
        {"TOTAL_GPU_MEMORY_GB", &S::TOTAL_GPU_MEMORY_GB},
        {"UNIFIED_MEMORY_RATIO", &S::UNIFIED_MEMORY_RATIO},
        {"STREAMS_PER_DEVICE", &S::STREAMS_PER_DEVICE},
        {"MAX_STREAMS_PER_DEVICE", &S::MAX_STREAMS_PER_DEVICE},
        {"ENABLE_CUDA_STREAMS_MONITORING", &S::ENABLE_CUDA_STREAMS_MONITORING},
        {"CIRCUIT_BREAKER_FAILURE_THRESHOLD", &S::CIRCUIT_BREAKER_FAILURE_THRESHOLD},
        {"CIRCUIT_BREAKER_RECOVERY_TIMEOUT", &S::CIRCUIT_BREAKER_RECOVERY_TIMEOUT},
        {"CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS", &S::CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS},
        {"gpu_memory_failure_threshold", &S::gpu_memory_failure_threshold},
        {"ENABLE_TENSORRT", &S::ENABLE_TENSORRT},
        {"ENABLE_TORCH_JIT_OPTIMIZATION", &S::ENABLE_TORCH_JIT_OPTIMIZATION},
        {"ENABLE_ADAPTIVE_QUALITY", &S::ENABLE_ADAPTIVE_QUALITY},
        {"TARGET_BANDWIDTH_REDUCTION", &S::TARGET_BANDWIDTH_REDUCTION},
        {"ENABLE_NETWORK_AWARE_STREAMING", &S::ENABLE_NETWORK_AWARE_STREAMING},
        {"device_ids", &S::device_ids},
    };
    return kFields;
}

const std::vector<Field<Config>>& top_fields() {
    using C = Config;
    static const std::vector<Field<C>> kFields = {
        {"device", &C::device}, {"precision", &C::precision}, {"threads", &C::threads},
        {"model", &C::model},   {"imgsz", &C::imgsz}, {"plan_cache_dir", &C::plan_cache_dir},
    };
    return kFields;
}

const std::vector<Field<PipelineConfig>>& pipeline_fields() {
    using P = PipelineConfig;
    static const std::vector<Field<P>> kFields = {
        {"max_batch_size", &P::max_batch_size},
        {"preferred_batch_sizes", &P::preferred_batch_sizes},
        {"max_queue_delay_ms", &P::max_queue_delay_ms},
        {"deadline_fraction", &P::deadline_fraction},
        {"queue_capacity", &P::queue_capacity},
        {"decode_threads", &P::decode_threads},
        {"inference_workers", &P::inference_workers},
        {"stall_timeout_s", &P::stall_timeout_s},
        {"reconnect_initial_s", &P::reconnect_initial_s},
        {"reconnect_max_s", &P::reconnect_max_s},
        {"latency_window_s", &P::latency_window_s},
        {"nms_iou", &P::nms_iou},
        {"max_det", &P::max_det},
    };
    return kFields;
}

const std::vector<Field<FallbackConfig>>& fallback_fields() {
    using F = FallbackConfig;
    static const std::vector<Field<F>> kFields = {
        {"enabled", &F::enabled}, {"device", &F::device},   {"imgsz", &F::imgsz},
        {"max_fps", &F::max_fps}, {"threads", &F::threads}, {"model", &F::model},
    };
    return kFields;
}

const std::vector<Field<ServerConfig>>& server_fields() {
    using S = ServerConfig;
    static const std::vector<Field<S>> kFields = {
        {"enabled", &S::enabled},
        {"host", &S::host},
        {"port", &S::port},
        {"api_token", &S::api_token},
        {"max_body_bytes", &S::max_body_bytes},
        {"read_timeout_s", &S::read_timeout_s},
        {"write_timeout_s", &S::write_timeout_s},
    };
    return kFields;
}

const std::vector<Field<HistoryConfig>>& history_fields() {
    using H = HistoryConfig;
    static const std::vector<Field<H>> kFields = {
        {"enabled", &H::enabled},
        {"path", &H::path},
        {"sample_interval_s", &H::sample_interval_s},
        {"retention_days", &H::retention_days},
    };
    return kFields;
}

const std::vector<Field<StreamingConfig>>& streaming_fields() {
    using S = StreamingConfig;
    static const std::vector<Field<S>> kFields = {
        {"enabled", &S::enabled},
        {"preset", &S::preset},
        {"gop", &S::gop},
        {"rate_control", &S::rate_control},
        {"crf", &S::crf},
        {"bitrate_kbps", &S::bitrate_kbps},
        {"max_bitrate_kbps", &S::max_bitrate_kbps},
        {"encoder_threads", &S::encoder_threads},
        {"annotate", &S::annotate},
        {"max_viewers", &S::max_viewers},
        {"viewer_queue_fragments", &S::viewer_queue_fragments},
        {"viewer_queue_kib", &S::viewer_queue_kib},
        {"idle_stop_s", &S::idle_stop_s},
    };
    return kFields;
}

const std::vector<Field<RenditionConfig>>& rendition_fields() {
    using R = RenditionConfig;
    static const std::vector<Field<R>> kFields = {
        {"name", &R::name},
        {"height", &R::height},
        {"bitrate_kbps", &R::bitrate_kbps},
        {"fragment_ms", &R::fragment_ms},
    };
    return kFields;
}

const std::vector<Field<SinkConfig>>& sink_fields() {
    static const std::vector<Field<SinkConfig>> kFields = {{"type", &SinkConfig::type}, {"path", &SinkConfig::path}};
    return kFields;
}

const std::vector<Field<CameraConfig>>& camera_fields() {
    using C = CameraConfig;
    static const std::vector<Field<C>> kFields = {
        {"id", &C::id},
        {"url", &C::url},
        {"enabled", &C::enabled},
        {"max_fps", &C::max_fps},
        {"model", &C::model},
        {"confidence", &C::confidence},
        {"classes", &C::classes},
        {"loop", &C::loop},
        {"realtime", &C::realtime},
        {"rtsp_transport", &C::rtsp_transport},
    };
    return kFields;
}

const std::vector<std::string>& top_sections() {
    static const std::vector<std::string> kNames = {"pipeline", "fallback", "server",          "history",
                                                    "streaming", "sinks",  "cameras", "circuit_breaker"};
    return kNames;
}

const std::vector<std::string>& reserved_sections() {
    static const std::vector<std::string> kNames = {"alerts"};
    return kNames;
}

namespace {

// Sets one field from environment text; "" or what was expected.
template <typename S>
std::string set_from_text(S& obj, const Member<S>& member, const std::string& text) {
    return std::visit(
        [&](auto m) -> std::string {
            using T = std::remove_reference_t<decltype(obj.*m)>;
            if constexpr (std::is_same_v<T, bool>) {
                return parse_bool(text, obj.*m);
            } else if constexpr (std::is_same_v<T, int>) {
                return parse_int(text, obj.*m);
            } else if constexpr (std::is_same_v<T, double>) {
                return parse_double(text, obj.*m);
            } else if constexpr (std::is_same_v<T, std::string>) {
                obj.*m = text;
                return "";
            } else {
                return parse_int_list(text, obj.*m);
            }
        },
        member);
}

template <typename S>
Status apply_env_field(S& obj, const Field<S>& f, const std::string& var, const std::string& path, const Env& env,
                       Config& c, Provenance& prov) {
    const auto it = env.find(var);
    if (it == env.end() || trim(it->second).empty()) return Status::ok();
    const std::string shown = var + "=" + quote_for_message(it->second);
    const std::string err = set_from_text(obj, f.member, it->second);
    if (!err.empty()) return invalid_argument("environment: " + shown + ": " + err);
    prov.env[path] = shown;
    // The file's positions for this value (and its list items) no longer apply.
    for (auto fi = prov.file.begin(); fi != prov.file.end();) {
        const std::string& k = fi->first;
        const bool under = k == path || (k.size() > path.size() && k.compare(0, path.size(), path) == 0 &&
                                         (k[path.size()] == '[' || k[path.size()] == '.'));
        fi = under ? prov.file.erase(fi) : std::next(fi);
    }
    c.env_overrides.push_back(var + "=" + it->second);
    return Status::ok();
}

}  // namespace

Status apply_env(Config& c, const Env& env, Provenance& prov) {
    for (const auto& f : settings_fields())
        ITSCAM_RETURN_IF_ERROR(apply_env_field(c.settings, f, f.name, f.name, env, c, prov));
    for (const auto& f : top_fields()) {
        std::string var = "ITSCAM_";
        for (const char* p = f.name; *p; ++p) var += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
        ITSCAM_RETURN_IF_ERROR(apply_env_field(c, f, var, f.name, env, c, prov));
    }
    // server.* from ITSCAM_HTTP_HOST, ITSCAM_HTTP_PORT, ITSCAM_API_TOKEN (the token belongs in the environment).
    for (const auto& f : server_fields()) {
        const std::string n = f.name;
        const std::string var = n == "api_token" ? "ITSCAM_API_TOKEN" : n == "host" ? "ITSCAM_HTTP_HOST"
                                : n == "port"    ? "ITSCAM_HTTP_PORT"
                                                 : "";
        if (!var.empty()) ITSCAM_RETURN_IF_ERROR(apply_env_field(c.server, f, var, "server." + n, env, c, prov));
    }
    for (const auto& f : history_fields())
        if (std::string(f.name) == "path")
            ITSCAM_RETURN_IF_ERROR(apply_env_field(c.history, f, "ITSCAM_HISTORY_PATH", "history.path", env, c, prov));
    for (const auto& f : streaming_fields()) {
        std::string var = "ITSCAM_STREAMING_";
        for (const char* q = f.name; *q; ++q) var += static_cast<char>(std::toupper(static_cast<unsigned char>(*q)));
        ITSCAM_RETURN_IF_ERROR(
            apply_env_field(c.streaming, f, var, std::string("streaming.") + f.name, env, c, prov));
    }
    return Status::ok();
}

namespace {

bool valid_device(const std::string& d) {
    if (d == "cpu" || d == "ref" || d == "cuda") return true;
    if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 8) return false;
    return std::all_of(d.begin() + 5, d.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

bool valid_camera_id(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-';
    });
}

std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

std::string at(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
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

// max_batch_size 0 ("by device") as resolve() sets it.
int resolved_max_batch_size(const Config& c) {
    if (c.pipeline.max_batch_size != 0) return c.pipeline.max_batch_size;
    return c.device == "cpu" || c.device == "ref" ? 1 : 8;
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
    ITSCAM_RETURN_IF_ERROR(check_int(p, k + "inference_workers", pl.inference_workers, 1, 1024));
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
    static const char* kPresets[] = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                     "medium",    "slow",      "slower",   "veryslow"};
    if (std::find_if(std::begin(kPresets), std::end(kPresets), [&](const char* x) { return s.preset == x; }) ==
        std::end(kPresets)) {
        return config_error(p, "streaming.preset",
                            "expected an x264 preset (ultrafast, superfast, veryfast, faster, fast, medium, slow, "
                            "slower, veryslow), got " + quote_for_message(s.preset));
    }
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.gop", s.gop, 1, 1000));
    if (s.rate_control != "crf" && s.rate_control != "cbr")
        return config_error(p, "streaming.rate_control", "expected crf or cbr, got " + quote_for_message(s.rate_control));
    if (!(s.crf >= 0 && s.crf <= 51))
        return config_error(p, "streaming.crf", "must be in 0..51, got " + format_number(s.crf));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.bitrate_kbps", s.bitrate_kbps, 50, 200000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.max_bitrate_kbps", s.max_bitrate_kbps, 0, 200000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.encoder_threads", s.encoder_threads, 0, 64));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.max_viewers", s.max_viewers, 0, 1000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.viewer_queue_fragments", s.viewer_queue_fragments, 2, 100000));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "streaming.viewer_queue_kib", s.viewer_queue_kib, 64, 1 << 20));
    if (!(s.idle_stop_s >= 0 && s.idle_stop_s <= 3600))
        return config_error(p, "streaming.idle_stop_s", "must be in 0..3600 seconds, got " + format_number(s.idle_stop_s));
    std::map<std::string, size_t> names;
    for (size_t i = 0; i < s.renditions.size(); ++i) {
        const RenditionConfig& r = s.renditions[i];
        const std::string k = at("streaming.renditions", i);
        if (!valid_rendition_name(r.name))
            return config_error(p, k + ".name", "must be 1 to 32 of a-z 0-9 _ -, got " + quote_for_message(r.name));
        if (auto [it, inserted] = names.emplace(r.name, i); !inserted) {
            return config_error(p, k + ".name", "rendition " + quote_for_message(r.name) + " is already used by " +
                                                    at("streaming.renditions", it->second));
        }
        ITSCAM_RETURN_IF_ERROR(check_int(p, k + ".height", r.height, 0, 4320));
        if (r.height % 2 != 0 || (r.height != 0 && r.height < 64))
            return config_error(p, k + ".height", "must be 0 (the camera's) or an even number >= 64, got " +
                                                      std::to_string(r.height));
        ITSCAM_RETURN_IF_ERROR(check_int(p, k + ".bitrate_kbps", r.bitrate_kbps, 0, 200000));
        if (r.bitrate_kbps != 0 && r.bitrate_kbps < 50)
            return config_error(p, k + ".bitrate_kbps", "must be 0 or at least 50, got " + std::to_string(r.bitrate_kbps));
        if (!(r.fragment_ms >= 0 && r.fragment_ms <= 10000))
            return config_error(p, k + ".fragment_ms", "must be in 0..10000 ms, got " + format_number(r.fragment_ms));
    }
    return Status::ok();
}

}  // namespace

Status validate_camera(const CameraConfig& cam, const std::string& prefix, const Provenance* p) {
    if (!valid_camera_id(cam.id)) {
        return config_error(p, join(prefix, "id"),
                            "must be 1 to 64 of A-Z a-z 0-9 _ . -, got " + quote_for_message(cam.id));
    }
    if (cam.url.empty()) return config_error(p, join(prefix, "url"), "must not be empty");
    ITSCAM_RETURN_IF_ERROR(check_non_negative(p, join(prefix, "max_fps"), cam.max_fps));
    if (!(cam.confidence > 0.0 && cam.confidence <= 1.0)) {
        return config_error(p, join(prefix, "confidence"),
                            "must be greater than 0 and at most 1, got " + format_number(cam.confidence));
    }
    for (size_t i = 0; i < cam.classes.size(); ++i)
        ITSCAM_RETURN_IF_ERROR(check_int(p, at(join(prefix, "classes"), i), cam.classes[i], 0, 999));
    if (cam.rtsp_transport != "tcp" && cam.rtsp_transport != "udp") {
        return config_error(p, join(prefix, "rtsp_transport"),
                            "expected tcp or udp, got " + quote_for_message(cam.rtsp_transport));
    }
    return Status::ok();
}

Status validate_config(const Config& c, const Provenance* p) {
    ITSCAM_RETURN_IF_ERROR(validate_settings(c.settings, p));
    ITSCAM_RETURN_IF_ERROR(check_device(p, "device", c.device));
    if (c.precision != "auto" && c.precision != "fp32" && c.precision != "bf16" && c.precision != "int8" &&
        c.precision != "fp16") {
        return config_error(p, "precision",
                            "expected one of auto, fp32, bf16, int8, fp16, got " + quote_for_message(c.precision));
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
    ITSCAM_RETURN_IF_ERROR(check_device(p, "fallback.device", c.fallback.device));
    ITSCAM_RETURN_IF_ERROR(check_imgsz(p, "fallback.imgsz", c.fallback.imgsz));
    ITSCAM_RETURN_IF_ERROR(check_non_negative(p, "fallback.max_fps", c.fallback.max_fps));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "fallback.threads", c.fallback.threads, 0, 1024));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "server.port", c.server.port, 0, 65535));
    ITSCAM_RETURN_IF_ERROR(check_int(p, "server.max_body_bytes", c.server.max_body_bytes, 1024, 64 << 20));
    if (c.server.host.empty()) return config_error(p, "server.host", "must not be empty (127.0.0.1: this machine only)");
    if (!(c.server.read_timeout_s > 0)) return config_error(p, "server.read_timeout_s", "must be > 0");
    if (!(c.server.write_timeout_s > 0)) return config_error(p, "server.write_timeout_s", "must be > 0");
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

namespace {

// Double-quoted YAML scalar (escapes only what YAML requires; UTF-8 passes through).
std::string yaml_quote(const std::string& s) {
    std::string r = "\"";
    for (char ch : s) {
        const unsigned char u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            r += '\\';
            r += ch;
        } else if (ch == '\n') {
            r += "\\n";
        } else if (ch == '\t') {
            r += "\\t";
        } else if (u < 0x20 || u == 0x7f) {
            static const char* kHex = "0123456789abcdef";
            r += "\\x";
            r += kHex[u >> 4];
            r += kHex[u & 15];
        } else {
            r += ch;
        }
    }
    r += '"';
    return r;
}

template <typename S>
std::string yaml_value(const S& obj, const Member<S>& member) {
    return std::visit(
        [&](auto m) -> std::string {
            const auto& v = obj.*m;
            using T = std::remove_cv_t<std::remove_reference_t<decltype(v)>>;
            if constexpr (std::is_same_v<T, bool>) {
                return v ? "true" : "false";
            } else if constexpr (std::is_same_v<T, int>) {
                return std::to_string(v);
            } else if constexpr (std::is_same_v<T, double>) {
                // Shortest text that reads back as the same double; a NaN/inf (only possible in a Config built in
                // code) is written as YAML's, which parse_config then rejects.
                if (std::isnan(v)) return ".nan";
                if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
                return format_number(v);
            } else if constexpr (std::is_same_v<T, std::string>) {
                return yaml_quote(v);
            } else {
                std::string r = "[";
                for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
                return r + "]";
            }
        },
        member);
}

template <typename S>
void emit_fields(std::string& out, const S& obj, const std::vector<Field<S>>& fields, const std::string& indent) {
    for (const auto& f : fields) out += indent + f.name + ": " + yaml_value(obj, f.member) + "\n";
}

template <typename S>
void emit_list_item(std::string& out, const S& obj, const std::vector<Field<S>>& fields) {
    bool first = true;
    for (const auto& f : fields) {
        out += (first ? "  - " : "    ") + std::string(f.name) + ": " + yaml_value(obj, f.member) + "\n";
        first = false;
    }
}

}  // namespace

}  // namespace internal

using namespace internal;

void resolve(Config& c) {
    PipelineConfig& pl = c.pipeline;
    pl.max_batch_size = resolved_max_batch_size(c);
    if (pl.preferred_batch_sizes.empty() && pl.max_batch_size >= 1 && pl.max_batch_size <= 1024) {
        for (int b = 1; b < pl.max_batch_size; b *= 2) pl.preferred_batch_sizes.push_back(b);
        pl.preferred_batch_sizes.push_back(pl.max_batch_size);
    }
}

std::vector<RenditionConfig> default_renditions() {
    return {{"source", 0, 0, 0}, {"mid", 480, 1000, 500}, {"low", 240, 300, 1000}};
}

Status validate(const Config& c) {
    return validate_config(c, nullptr);
}

Env process_env() {
    Env env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string kv = *e;
        const size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return env;
}

Result<Config> config_from_env(const Env& env) {
    Config c;
    Provenance prov;
    prov.origin = "defaults";
    ITSCAM_RETURN_IF_ERROR(apply_env(c, env, prov));
    resolve(c);
    ITSCAM_RETURN_IF_ERROR(validate_config(c, &prov));
    return c;
}

std::string to_yaml(const Config& c) {
    std::string out = "# itscam configuration";
    if (!c.source_path.empty()) out += " (from " + c.source_path + ")";
    out += "\n";
    for (const std::string& o : c.env_overrides) {
        std::string line = o;
        std::replace(line.begin(), line.end(), '\n', ' ');
        out += "# from the environment: " + line + "\n";
    }
    emit_fields(out, c.settings, settings_fields(), "");
    emit_fields(out, c, top_fields(), "");
    out += "pipeline:\n";
    emit_fields(out, c.pipeline, pipeline_fields(), "  ");
    out += "fallback:\n";
    emit_fields(out, c.fallback, fallback_fields(), "  ");
    out += "server:\n";
    emit_fields(out, c.server, server_fields(), "  ");
    out += "history:\n";
    emit_fields(out, c.history, history_fields(), "  ");
    out += "streaming:\n";
    emit_fields(out, c.streaming, streaming_fields(), "  ");
    if (c.streaming.renditions.empty()) {
        out += "  renditions: []\n";
    } else {
        out += "  renditions:\n";
        for (const RenditionConfig& r : c.streaming.renditions) {
            bool first = true;
            for (const auto& f : rendition_fields()) {
                out += (first ? "    - " : "      ") + std::string(f.name) + ": " + yaml_value(r, f.member) + "\n";
                first = false;
            }
        }
    }
    if (c.sinks.empty()) {
        out += "sinks: []\n";
    } else {
        out += "sinks:\n";
        for (const SinkConfig& s : c.sinks) emit_list_item(out, s, sink_fields());
    }
    if (c.cameras.empty()) {
        out += "cameras: []\n";
    } else {
        out += "cameras:\n";
        for (const CameraConfig& cam : c.cameras) emit_list_item(out, cam, camera_fields());
    }
    for (const auto& [name, text] : c.reserved) {
        out += name + ":\n";
        size_t pos = 0;
        while (pos < text.size()) {
            const size_t nl = text.find('\n', pos);
            const std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            out += line.empty() ? "\n" : "  " + line + "\n";
            if (nl == std::string::npos) break;
            pos = nl + 1;
        }
    }
    return out;
}

}  // namespace itscam::config
