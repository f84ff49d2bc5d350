// Shared by config.cpp (tables, environment, validation, to_yaml) and config_yaml.cpp (the yaml-cpp parser).
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

// Text -> value. They return "" on success, else what was expected ("expected an integer").
std::string parse_bool(std::string_view s, bool& out);
std::string parse_int(std::string_view s, int& out);
std::string parse_double(std::string_view s, double& out);
// "0,1", "[0, 1]" (environment form of a list).
std::string parse_int_list(std::string_view s, std::vector<int>& out);

// " (did you mean 'X'?)" for the closest candidate, or "".
std::string did_you_mean(const std::string& key, const std::vector<std::string>& candidates);
// A value quoted for an error message, shortened and with control bytes escaped.
std::string quote_for_message(std::string_view s);
std::string format_number(double v);

template <typename S>
using Member = std::variant<bool S::*, int S::*, double S::*, std::string S::*, std::vector<int> S::*>;
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
const std::vector<Field<SinkConfig>>& sink_fields();
const std::vector<Field<StreamingConfig>>& streaming_fields();  // scalars; `renditions` is read as a list
const std::vector<Field<RenditionConfig>>& rendition_fields();
const std::vector<Field<CameraConfig>>& camera_fields();
// Names accepted at the top level besides the fields (maps and lists).
const std::vector<std::string>& top_sections();       // pipeline, fallback, sinks, cameras, circuit_breaker
const std::vector<std::string>& reserved_sections();  // alerts

Status apply_env(Config& c, const Env& env, Provenance& prov);
Status validate_config(const Config& c, const Provenance* p);
Status validate_camera(const CameraConfig& cam, const std::string& prefix, const Provenance* p);

}  // namespace itscam::config::internal
