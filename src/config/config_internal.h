// Shared by config.cpp (tables, text conversions, to_yaml), config_env.cpp (environment), config_validate.cpp
// (validation) and config_yaml.cpp (the yaml-cpp parser).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"

namespace itscam::config::internal {

// 1-based; line 0 means unknown.
struct Location {
    int line = 0;
    int column = 0;
};

// Where each value came from, by key path ("MEMORY_POOL_SIZE", "pipeline.max_batch_size", "cameras[1].classes[0]"),
// so that validation errors can name the file position or the environment variable.
struct Provenance {
    std::string origin;
    std::map<std::string, Location> file;
    std::map<std::string, std::string> env;  // key path -> NAME='value'
};

// "origin:line:col: path: what", "environment: NAME='value': what", or "path: what" without provenance. A path that
// has no position of its own uses its closest parent's ("cameras[1].id" -> "cameras[1]" -> "cameras").
std::string format_error(const Provenance* p, const std::string& path, const std::string& what);
Status config_error(const Provenance* p, const std::string& path, const std::string& what);

std::string_view trim(std::string_view s);  // without leading and trailing white space
std::string join(const std::string& prefix, const std::string& name);  // "a" + "b" -> "a.b"; "" + "b" -> "b"
std::string at(const std::string& path, size_t i);                     // "a", 2 -> "a[2]"

// Text -> value. They return "" on success, else what was expected ("expected an integer").
std::string parse_bool(std::string_view s, bool& out);
std::string parse_int(std::string_view s, int& out);
std::string parse_double(std::string_view s, double& out);
// "0,1", "[0, 1]" (environment form of a list).
std::string parse_int_list(std::string_view s, std::vector<int>& out);
// "a,b", "[a, b]" (environment form of a list of strings: items trimmed, none empty).
std::string parse_string_list(std::string_view s, std::vector<std::string>& out);

// " (did you mean 'X'?)" for the closest candidate, or "".
std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates);
// A value quoted for an error message, shortened and with control bytes escaped.
std::string quote_for_message(std::string_view s);
std::string format_number(double v);

template <typename S>
using Member = std::variant<bool S::*, int S::*, double S::*, std::string S::*, std::vector<int> S::*,
                            std::vector<std::string> S::*>;
template <typename S>
struct Field {
    const char* name;
    Member<S> member;
};

// In the order to_yaml writes them.
const std::vector<Field<Settings>>& settings_fields();
const std::vector<Field<Config>>& top_fields();  // device, precision, threads, model, imgsz
const std::vector<Field<PipelineConfig>>& pipeline_fields();
const std::vector<Field<FallbackConfig>>& fallback_fields();
const std::vector<Field<ServerConfig>>& server_fields();
const std::vector<Field<HistoryConfig>>& history_fields();
const std::vector<Field<events::MqttConfig>>& mqtt_fields();
const std::vector<Field<cluster::ClusterConfig>>& cluster_fields();
const std::vector<Field<SinkConfig>>& sink_fields();
const std::vector<Field<StreamingConfig>>& streaming_fields();  // scalars; `renditions` is read as a list
const std::vector<Field<RenditionConfig>>& rendition_fields();
const std::vector<Field<CameraConfig>>& camera_fields();
// The circuit-breaker dict (the seed's CIRCUIT_BREAKER_CONFIG, also spelled circuit_breaker): its keys and the
// setting each one sets. A setting given both flat and in a dict is an error naming both.
struct DictKey {
    const char* key;      // "failure_threshold"
    const char* setting;  // "CIRCUIT_BREAKER_FAILURE_THRESHOLD"
};
const std::vector<DictKey>& circuit_breaker_keys();
std::string circuit_breaker_setting(const std::string& key);  // the setting a dict key sets, or ""
bool is_circuit_breaker_setting(const std::string& setting);
// The field of a setting name; the name must be one of settings_fields().
const Field<Settings>& settings_field(const std::string& name);

// Names accepted at the top level besides the fields (maps and lists).
// pipeline, fallback, server, history, streaming, sinks, cameras, circuit_breaker, CIRCUIT_BREAKER_CONFIG, events,
// cluster
const std::vector<std::string>& top_sections();
const std::vector<std::string>& reserved_sections();  // alerts

Status apply_env(Config& c, const Env& env, Provenance& prov);

// Secrets from outside the file (config_secrets.cpp).
// `text` with each ${NAME} replaced by env[NAME] and $${ by ${. "" on success, else what is wrong (an unset or empty
// variable, an unterminated ${, a bad name).
std::string interpolate(std::string_view text, const Env& env, std::string& out);
// The inverse for to_yaml: every "${" written "$${", so that interpolate() gives `text` back.
std::string escape_interpolation(std::string_view text);
// Settings whose values are secrets: never shown (environment override lines, errors, to_yaml).
bool is_secret_setting(const std::string& path);  // "server.api_token", "server.read_token"
// server.api_token / read_token and their *_file forms: both given in the file is an error; a *_file is read into
// its token; a token "***" (the masked value of --print-config) is an error. Runs after apply_env (which settles
// the environment's precedence).
Status load_secret_files(Config& c, const Provenance& prov);
Status validate_config(const Config& c, const Provenance* p);
// pipeline.max_batch_size with 0 ("by device") resolved: 1 on the host devices (cpu, ref), 8 on a GPU.
int resolved_max_batch_size(const Config& c);
Status validate_camera(const CameraConfig& cam, const std::string& prefix, const Provenance* p);
// config_limits.cpp: every string setting's length and control bytes (check_config_strings: all but the cameras);
// a camera's id, url (length, control bytes, scheme allow-list) and other strings; an http(s) camera URL that
// points at the service's own server.
Status check_config_strings(const Config& c, const Provenance* p);
Status check_camera_strings(const CameraConfig& cam, const std::string& prefix, const Provenance* p);
Status check_not_self(const Config& c, const CameraConfig& cam, const std::string& path, const Provenance* p);

}  // namespace itscam::config::internal
