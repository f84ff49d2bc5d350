// Config without YAML: field tables, text conversions and the YAML writer. Environment overrides are in
// config_env.cpp, validation in config_validate.cpp, the yaml-cpp reader in config_yaml.cpp.
#include "config/config.h"

#include <algorithm>
#include <cstdint>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "config/config_internal.h"
#include "core/redact.h"

namespace itscam::config {

namespace internal {

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& ch : r) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return r;
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

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

std::string at(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

std::string quote_for_message(std::string_view text) {
    constexpr size_t kMax = 60;
    // Masked before shortening: a URL cut before its '@' would show its password.
    const std::string masked = mask_url_userinfo(text);
    const std::string_view s = masked;
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

namespace {

// The items of "a,b" or "[a, b]" (trimmed), each through `item` (false: not a valid item). False for a trailing
// comma or a bad item.
template <typename T, typename Fn>
bool parse_list(std::string_view s, std::vector<T>& out, Fn&& item) {
    s = trim(s);
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = trim(s.substr(1, s.size() - 2));
    std::vector<T> r;
    while (!s.empty()) {
        const size_t comma = s.find(',');
        T v{};
        if (!item(trim(s.substr(0, comma)), v)) return false;
        r.push_back(std::move(v));
        if (comma == std::string_view::npos) break;
        s = s.substr(comma + 1);
        if (trim(s).empty()) return false;
    }
    out = std::move(r);
    return true;
}

}  // namespace

std::string parse_int_list(std::string_view s, std::vector<int>& out) {
    const bool ok = parse_list(s, out, [](std::string_view item, int& v) { return parse_int(item, v).empty(); });
    return ok ? "" : "expected a list of integers such as 0,1 or [0,1]";
}

std::string parse_string_list(std::string_view s, std::vector<std::string>& out) {
    const bool ok = parse_list(s, out, [](std::string_view item, std::string& v) {
        v = std::string(item);
        return !v.empty();
    });
    return ok ? "" : "expected a comma-separated list such as a,b or [a, b] (no empty item)";
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

const std::vector<DictKey>& circuit_breaker_keys() {
    static const std::vector<DictKey> kKeys = {
        {"failure_threshold", "CIRCUIT_BREAKER_FAILURE_THRESHOLD"},
        {"recovery_timeout", "CIRCUIT_BREAKER_RECOVERY_TIMEOUT"},
        {"half_open_max_calls", "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS"},
        {"gpu_memory_failure_threshold", "gpu_memory_failure_threshold"},
    };
    return kKeys;
}

std::string circuit_breaker_setting(const std::string& key) {
    for (const DictKey& k : circuit_breaker_keys())
        if (key == k.key) return k.setting;
    return "";
}

bool is_circuit_breaker_setting(const std::string& setting) {
    for (const DictKey& k : circuit_breaker_keys())
        if (setting == k.setting) return true;
    return false;
}

const Field<Settings>& settings_field(const std::string& name) {
    for (const auto& f : settings_fields())
        if (name == f.name) return f;
    std::abort();  // a programming error: every caller passes a name from the tables
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
        {"decode_slots", &P::decode_slots},
        {"decode", &P::decode},
        {"inference_workers", &P::inference_workers},
        {"max_inference_workers", &P::max_inference_workers},
        {"skip_nonref_under_overload", &P::skip_nonref_under_overload},
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
        {"allow_file_cameras", &S::allow_file_cameras},
        {"host", &S::host},
        {"port", &S::port},
        {"api_token", &S::api_token},
        {"read_token", &S::read_token},
        {"api_token_file", &S::api_token_file},
        {"read_token_file", &S::read_token_file},
        {"max_body_bytes", &S::max_body_bytes},
        {"read_timeout_s", &S::read_timeout_s},
        {"write_timeout_s", &S::write_timeout_s},
        {"header_timeout_s", &S::header_timeout_s},
        {"max_connections", &S::max_connections},
        {"max_connections_per_client", &S::max_connections_per_client},
        {"tls_cert", &S::tls_cert},
        {"tls_key", &S::tls_key},
    };
    return kFields;
}

const std::vector<Field<events::MqttConfig>>& mqtt_fields() {
    using M = events::MqttConfig;
    static const std::vector<Field<M>> kFields = {
        {"enabled", &M::enabled},           {"host", &M::host},
        {"port", &M::port},                 {"client_id", &M::client_id},
        {"node", &M::node},                 {"username", &M::username},
        {"password", &M::password},         {"tls_ca_file", &M::tls_ca_file},
        {"tls_cert_file", &M::tls_cert_file}, {"tls_key_file", &M::tls_key_file},
        {"tls_insecure", &M::tls_insecure}, {"keepalive_s", &M::keepalive_s},
        {"topic_prefix", &M::topic_prefix}, {"qos", &M::qos},
        {"max_inflight", &M::max_inflight}, {"spool_dir", &M::spool_dir},
        {"spool_max_mb", &M::spool_max_mb}, {"reconnect_min_s", &M::reconnect_min_s},
        {"reconnect_max_s", &M::reconnect_max_s},
    };
    return kFields;
}

const std::vector<Field<cluster::ClusterConfig>>& cluster_fields() {
    using K = cluster::ClusterConfig;
    static const std::vector<Field<K>> kFields = {
        {"enabled", &K::enabled},
        {"endpoints", &K::endpoints},
        {"node", &K::node},
        {"capacity", &K::capacity},
        {"lease_ttl_s", &K::lease_ttl_s},
        {"reconcile_interval_s", &K::reconcile_interval_s},
        {"request_timeout_s", &K::request_timeout_s},
        {"advertise", &K::advertise},
        {"key_prefix", &K::key_prefix},
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
        {"decode", &C::decode},
        {"lossless", &C::lossless},
    };
    return kFields;
}

const std::vector<std::string>& top_sections() {
    static const std::vector<std::string> kNames = {"pipeline", "fallback", "server",          "history",
                                                    "streaming", "sinks",  "cameras", "circuit_breaker",
                                                    "CIRCUIT_BREAKER_CONFIG", "events", "cluster"};
    return kNames;
}

const std::vector<std::string>& reserved_sections() {
    static const std::vector<std::string> kNames = {"alerts"};
    return kNames;
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
                return yaml_quote(escape_interpolation(v));
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                std::string r = "[";
                for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + yaml_quote(escape_interpolation(v[i]));
                return r + "]";
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

bool optimized_engine(const Settings& s) {
    return s.ENABLE_TENSORRT || s.ENABLE_TORCH_JIT_OPTIMIZATION;
}

std::string engine_precision(const Config& c, bool gpu) {
    if (c.precision != "auto") return c.precision;
    if (c.settings.ENABLE_TORCH_JIT_OPTIMIZATION) return "fp32";
    return gpu ? "fp16" : "fp32";
}

std::vector<RenditionConfig> default_renditions() {
    return {{"source", 0, 0, 0}, {"mid", 480, 1000, 500}, {"low", 240, 300, 1000}};
}

std::string to_yaml(const Config& config, Secrets secrets) {
    Config c = config;
    // A token read from its file is written as the file (the file is what the config says).
    if (!c.server.api_token_file.empty()) c.server.api_token.clear();
    if (!c.server.read_token_file.empty()) c.server.read_token.clear();
    if (secrets == Secrets::kMask) {
        for (std::string* token : {&c.server.api_token, &c.server.read_token, &c.events.mqtt.password})
            if (!token->empty()) *token = std::string(kMask);
        for (CameraConfig& cam : c.cameras) cam.url = mask_url_userinfo(cam.url);
        for (auto& [name, text] : c.reserved) text = mask_url_userinfo(text);
        for (std::string& o : c.env_overrides) o = mask_url_userinfo(o);
    }
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
    out += "events:\n  mqtt:\n";
    emit_fields(out, c.events.mqtt, mqtt_fields(), "    ");
    out += "cluster:\n";
    emit_fields(out, c.cluster, cluster_fields(), "  ");
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
        for (const CameraConfig& cam : c.cameras) {
            emit_list_item(out, cam, camera_fields());
            // JSON is YAML's flow style: the section reads back as written.
            if (!cam.analytics.empty()) out += "    analytics: " + analytics::analytics_config_json(cam.analytics) + "\n";
        }
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
