// The YAML reader (yaml-cpp): types and unknown keys are checked here with file positions; ranges and cross-field
// rules are checked by validate_config, which finds the positions this reader recorded. No exception leaves this file.
#include <cctype>
#include <cstdlib>
#include <cstdio>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "config/config.h"
#include "config/config_internal.h"
#include "core/regular_file.h"

#ifdef ITSCAM_HAVE_YAML
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#endif

namespace itscam::config {

using namespace internal;

#ifdef ITSCAM_HAVE_YAML

namespace {

std::string json_escape(const std::string& in) {
    std::string out = "\"";
    for (unsigned char ch : in) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (ch < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", ch);
                    out += b;
                } else {
                    out += static_cast<char>(ch);
                }
        }
    }
    return out + "\"";
}

Location loc_of(const YAML::Node& n);

// Where interpolating a reserved section's value failed.
struct InterpolationError {
    std::string what;
    Location loc;
};

// A YAML node as JSON text. Plain (untagged, unquoted) scalars become numbers, booleans or null when they read as
// such; everything else is a string. Scalars are interpolated (${NAME}) from `env` first; the first failure is kept
// in `err`. Depth-limited like the rest of the reader.
std::string yaml_to_json(const YAML::Node& n, int depth, const Env& env, InterpolationError& err) {
    if (depth > 64) return "null";
    if (!n.IsDefined() || n.IsNull()) return "null";
    if (n.IsMap()) {
        std::string out = "{";
        bool first = true;
        for (const auto& kv : n) {
            if (!first) out += ",";
            first = false;
            out += json_escape(kv.first.Scalar()) + ":" + yaml_to_json(kv.second, depth + 1, env, err);
        }
        return out + "}";
    }
    if (n.IsSequence()) {
        std::string out = "[";
        for (size_t i = 0; i < n.size(); ++i) out += (i ? "," : "") + yaml_to_json(n[i], depth + 1, env, err);
        return out + "]";
    }
    std::string v;
    if (const std::string e = interpolate(n.Scalar(), env, v); !e.empty()) {
        if (err.what.empty()) err = {e, loc_of(n)};
        return "null";
    }
    if (n.Tag() == "?") {  // plain scalar
        std::string low;
        for (char ch : v) low += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (low == "true" || low == "false") return low;
        if (low == "~" || low == "null") return "null";
        char* end = nullptr;
        errno = 0;
        const double d = std::strtod(v.c_str(), &end);
        if (!v.empty() && end == v.c_str() + v.size() && errno == 0 && std::isfinite(d) &&
            v.find_first_of("xXpP") == std::string::npos)
            return v.front() == '+' ? v.substr(1) : (v.front() == '.' ? "0" + v : v);
    }
    return json_escape(v);
}

constexpr size_t kMaxConfigBytes = 1 << 20;

Location loc_of_mark(const YAML::Mark& m) {
    if (m.is_null() || m.line < 0 || m.column < 0) return {};
    return {m.line + 1, m.column + 1};
}

Location loc_of(const YAML::Node& n) {
    return loc_of_mark(n.Mark());
}

std::string describe(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Null:
            return "nothing";
        case YAML::NodeType::Scalar:
            return quote_for_message(n.Scalar());
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Undefined:
            break;
    }
    return "an undefined value";
}

template <typename S>
std::vector<std::string> names_of(const std::vector<Field<S>>& fields) {
    std::vector<std::string> names;
    for (const auto& f : fields) names.emplace_back(f.name);
    return names;
}

class Reader {
  public:
    // `env`: the variables ${NAME} is replaced from; null: no interpolation (values are taken as written).
    Reader(Provenance& prov, const Env* env) : prov_(prov), env_(env) {}

    Status error(Location loc, const std::string& path, const std::string& what) const {
        const std::string tail = path.empty() ? what : path + ": " + what;
        if (loc.line <= 0) return invalid_argument(prov_.origin + ": " + tail);
        return invalid_argument(prov_.origin + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column) +
                                ": " + tail);
    }

    Status read_config(const YAML::Node& root, Config& c) {
        std::vector<std::string> names = names_of(settings_fields());
        for (const auto& n : names_of(top_fields())) names.push_back(n);
        for (const auto& n : top_sections()) names.push_back(n);
        for (const auto& n : reserved_sections()) names.push_back(n);
        // The circuit-breaker settings have a flat key and a dict form (circuit_breaker / CIRCUIT_BREAKER_CONFIG):
        // where each was given first, as written, so that a second spelling is an error naming both.
        std::map<std::string, std::pair<std::string, Location>> breaker_given;
        auto read_breaker = [&](const std::string& section, const std::string& key, const YAML::Node& v,
                                Location kloc, Location vloc) -> Status {
            const std::string setting = section.empty() ? key : circuit_breaker_setting(key);
            const std::string written = join(section, key);
            const auto [it, first] = breaker_given.emplace(setting, std::make_pair(written, kloc));
            if (!first) {
                const auto& [was, where] = it->second;
                // The flat key and the dict's are spelled alike (gpu_memory_failure_threshold): one name says both.
                const std::string flat = section.empty() ? key : was;
                const std::string in_dict = section.empty() ? was.substr(was.find('.') + 1) : key;
                const std::string other = section.empty() ? was.substr(0, was.find('.')) : section;
                if (flat == setting && in_dict == setting) {
                    return error(kloc, "",
                                 setting + " is given twice (first at line " + std::to_string(where.line) +
                                     "; use either the top-level or the " + other + " form)");
                }
                return error(kloc, "",
                             written + " and " + was + " (line " + std::to_string(where.line) +
                                 ") are the same setting: give it once");
            }
            return read_field(c.settings, settings_field(setting).member, v, setting, vloc);
        };
        return for_each_entry(
            root, "", [&](const std::string& name, Location kloc, const YAML::Node& v, Location vloc) -> Status {
                for (const auto& f : settings_fields()) {
                    if (name != f.name) continue;
                    if (is_circuit_breaker_setting(name)) return read_breaker("", name, v, kloc, vloc);
                    return read_field(c.settings, f.member, v, name, vloc);
                }
                for (const auto& f : top_fields())
                    if (name == f.name) return read_field(c, f.member, v, name, vloc);
                if (name == "pipeline") return read_struct(v, name, kloc, vloc, c.pipeline, pipeline_fields());
                if (name == "fallback") return read_struct(v, name, kloc, vloc, c.fallback, fallback_fields());
                if (name == "server") return read_struct(v, name, kloc, vloc, c.server, server_fields());
                if (name == "history") return read_struct(v, name, kloc, vloc, c.history, history_fields());
                if (name == "events") {
                    prov_.file[name] = kloc;
                    if (v.IsNull()) return Status::ok();
                    if (!v.IsMap()) return error(vloc, name, "expected a map, got " + describe(v));
                    return for_each_entry(
                        v, name, [&](const std::string& key, Location kl, const YAML::Node& value, Location vl) -> Status {
                            if (key == "mqtt")
                                return read_struct(value, "events.mqtt", kl, vl, c.events.mqtt, mqtt_fields());
                            return unknown(kl, name, key, {"mqtt"});
                        });
                }
                if (name == "streaming") return read_streaming(v, kloc, vloc, c.streaming);
                if (name == "cluster") {
                    // A `cluster:` section turns cluster mode on unless it says enabled: false.
                    c.cluster.enabled = true;
                    return read_struct(v, name, kloc, vloc, c.cluster, cluster_fields());
                }
                if (name == "circuit_breaker" || name == "CIRCUIT_BREAKER_CONFIG") {
                    prov_.file[name] = kloc;
                    if (v.IsNull()) return Status::ok();
                    if (!v.IsMap()) return error(vloc, name, "expected a map, got " + describe(v));
                    std::vector<std::string> keys;
                    for (const auto& k : circuit_breaker_keys()) keys.emplace_back(k.key);
                    return for_each_entry(
                        v, name,
                        [&](const std::string& key, Location kl, const YAML::Node& value, Location vl) -> Status {
                            if (circuit_breaker_setting(key).empty()) {
                                for (const auto& k : circuit_breaker_keys())  // a flat name inside the dict
                                    if (key == k.setting && key != k.key)
                                        return error(kl, name, "unknown setting " + quote_for_message(key) +
                                                                   " (here it is '" + k.key + "')");
                                return unknown(kl, name, key, keys);
                            }
                            return read_breaker(name, key, value, kl, vl);
                        });
                }
                if (name == "sinks") {
                    return read_list(v, name, kloc, vloc, "sinks",
                                     [&](const YAML::Node& item, const std::string& path, Location iloc) -> Status {
                                         SinkConfig s;
                                         ITSCAM_RETURN_IF_ERROR(read_struct(item, path, iloc, iloc, s, sink_fields()));
                                         c.sinks.push_back(std::move(s));
                                         return Status::ok();
                                     });
                }
                if (name == "cameras") {
                    return read_list(v, name, kloc, vloc, "cameras",
                                     [&](const YAML::Node& item, const std::string& path, Location iloc) -> Status {
                                         CameraConfig cam;
                                         ITSCAM_RETURN_IF_ERROR(read_camera(item, path, iloc, cam));
                                         c.cameras.push_back(std::move(cam));
                                         return Status::ok();
                                     });
                }
                for (const auto& r : reserved_sections()) {
                    if (name != r) continue;
                    // Reserved for later issues: any content, kept as text.
                    prov_.file[name] = kloc;
                    c.reserved[name] = YAML::Dump(v);  // as written: ${NAME} stays (to_yaml shows no secret)
                    InterpolationError err;
                    static const Env kNoEnv;
                    c.reserved_json.sections[name] = yaml_to_json(v, 0, env_ ? *env_ : kNoEnv, err);
                    if (!err.what.empty()) return error(err.loc.line > 0 ? err.loc : kloc, name, err.what);
                    return Status::ok();
                }
                return unknown(kloc, "", name, names);
            });
    }

    Status read_camera(const YAML::Node& node, const std::string& path, Location loc, CameraConfig& cam) {
        if (!node.IsMap()) return error(loc, path, "expected a map with at least id and url, got " + describe(node));
        prov_.file[path] = loc;
        std::vector<std::string> names = names_of(camera_fields());
        names.push_back("analytics");
        ITSCAM_RETURN_IF_ERROR(for_each_entry(
            node, path, [&](const std::string& name, Location kl, const YAML::Node& v, Location vl) -> Status {
                if (name == "analytics") return read_analytics(v, join(path, name), kl, vl, cam.analytics);
                for (const auto& f : camera_fields())
                    if (name == f.name) return read_field(cam, f.member, v, join(path, name), vl);
                return unknown(kl, path, name, names);
            }));
        for (const char* required : {"id", "url"}) {
            if (prov_.file.count(join(path, required)) == 0)
                return error(loc, path, std::string("missing required setting '") + required + "'");
        }
        return Status::ok();
    }

    // A camera's `analytics:` section (src/analytics/analytics_config.h): its JSON form goes to the analytics
    // parser, whose errors start with the offending value's path ("zones[0].polygon[2]: ..."); that value's
    // position in the file is looked up here so the message points at it.
    Status read_analytics(const YAML::Node& node, const std::string& path, Location kloc, Location vloc,
                          analytics::AnalyticsConfig& out) {
        prov_.file[path] = kloc;
        if (node.IsNull()) return Status::ok();
        if (!node.IsMap()) return error(vloc, path, "expected a map, got " + describe(node));
        InterpolationError ierr;
        static const Env kNoEnv;
        const std::string json = yaml_to_json(node, 0, env_ ? *env_ : kNoEnv, ierr);
        if (!ierr.what.empty()) return error(ierr.loc.line > 0 ? ierr.loc : vloc, path, ierr.what);
        auto parsed = analytics::parse_analytics_config(json);
        if (!parsed) {
            const std::string& msg = parsed.status().message();
            const size_t colon = msg.find(": ");
            Location at = vloc;
            if (colon != std::string::npos) {
                const Location found = locate(node, msg.substr(0, colon));
                if (found.line > 0) at = found;
            }
            return error(at, path, msg);
        }
        out = std::move(parsed).value();
        out.enabled = true;
        return Status::ok();
    }

    // The position of "lines[1].a[0]" under `root` (no position when the path does not lead anywhere).
    // Nodes are rebound with reset(): yaml-cpp's operator= would write into the tree.
    static Location locate(const YAML::Node& root, const std::string& path) {
        YAML::Node n(root);
        size_t i = 0;
        while (i < path.size()) {
            if (path[i] == '.') {
                ++i;
                continue;
            }
            if (path[i] == '[') {
                const size_t end = path.find(']', i);
                if (end == std::string::npos || !n.IsSequence()) break;
                const size_t idx = std::strtoul(path.substr(i + 1, end - i - 1).c_str(), nullptr, 10);
                if (idx >= n.size()) break;
                const YAML::Node item = static_cast<const YAML::Node&>(n)[idx];
                n.reset(item);
                i = end + 1;
                continue;
            }
            size_t end = path.find_first_of(".[", i);
            if (end == std::string::npos) end = path.size();
            const std::string key = path.substr(i, end - i);
            if (!n.IsMap()) break;
            bool found = false;
            for (auto it = n.begin(); it != n.end() && !found; ++it)
                if (it->first.IsScalar() && it->first.Scalar() == key) {
                    n.reset(it->second);
                    found = true;
                }
            if (!found) break;
            i = end;
        }
        return n.IsDefined() ? loc_of(n) : Location{};
    }

    // streaming: the scalar keys, plus `renditions` (a list of maps).
    Status read_streaming(const YAML::Node& node, Location kloc, Location vloc, StreamingConfig& s) {
        const std::string path = "streaming";
        prov_.file[path] = kloc;
        if (node.IsNull()) return Status::ok();
        if (!node.IsMap()) return error(vloc, path, "expected a map, got " + describe(node));
        std::vector<std::string> names = names_of(streaming_fields());
        names.push_back("renditions");
        return for_each_entry(
            node, path, [&](const std::string& name, Location kl, const YAML::Node& v, Location vl) -> Status {
                if (name == "renditions") {
                    s.renditions.clear();
                    return read_list(v, join(path, name), kl, vl, "renditions",
                                     [&](const YAML::Node& item, const std::string& ipath, Location iloc) -> Status {
                                         RenditionConfig r;
                                         ITSCAM_RETURN_IF_ERROR(
                                             read_struct(item, ipath, iloc, iloc, r, rendition_fields()));
                                         if (prov_.file.count(join(ipath, "name")) == 0)
                                             return error(iloc, ipath, "missing required setting 'name'");
                                         s.renditions.push_back(std::move(r));
                                         return Status::ok();
                                     });
                }
                for (const auto& f : streaming_fields())
                    if (name == f.name) return read_field(s, f.member, v, join(path, name), vl);
                return unknown(kl, path, name, names);
            });
    }

  private:
    // Calls fn(name, key position, value, value position) for each entry; rejects non-scalar and repeated keys. A
    // null value has no position of its own in yaml-cpp (it reports the next token's), so it gets the key's.
    template <typename Fn>
    Status for_each_entry(const YAML::Node& map, const std::string& path, Fn&& fn) {
        std::set<std::string> seen;
        for (auto it = map.begin(); it != map.end(); ++it) {
            const YAML::Node key = it->first;
            const YAML::Node value = it->second;
            const Location kloc = loc_of(key);
            if (!key.IsScalar()) return error(kloc, path, "expected a setting name, got " + describe(key));
            const std::string name = key.Scalar();
            if (!seen.insert(name).second)
                return error(kloc, path, "setting " + quote_for_message(name) + " is given twice");
            Location vloc = value.IsNull() ? kloc : loc_of(value);
            if (vloc.line <= 0) vloc = kloc;
            ITSCAM_RETURN_IF_ERROR(fn(name, kloc, value, vloc));
        }
        return Status::ok();
    }

    Status unknown(Location kloc, const std::string& path, const std::string& name,
                   const std::vector<std::string>& candidates) const {
        return error(kloc, path, "unknown setting " + quote_for_message(name) + did_you_mean(name, candidates));
    }

    template <typename S>
    Status read_struct(const YAML::Node& node, const std::string& path, Location kloc, Location vloc, S& obj,
                       const std::vector<Field<S>>& fields) {
        prov_.file[path] = kloc;
        if (node.IsNull()) return Status::ok();
        if (!node.IsMap()) return error(vloc, path, "expected a map, got " + describe(node));
        return for_each_entry(node, path,
                              [&](const std::string& name, Location kl, const YAML::Node& v, Location vl) -> Status {
                                  for (const auto& f : fields)
                                      if (name == f.name) return read_field(obj, f.member, v, join(path, name), vl);
                                  return unknown(kl, path, name, names_of(fields));
                              });
    }

    template <typename Fn>
    Status read_list(const YAML::Node& node, const std::string& path, Location kloc, Location vloc, const char* what,
                     Fn&& fn) {
        prov_.file[path] = kloc;
        if (node.IsNull()) return Status::ok();
        if (!node.IsSequence())
            return error(vloc, path, std::string("expected a list of ") + what + ", got " + describe(node));
        size_t i = 0;
        for (auto it = node.begin(); it != node.end(); ++it, ++i) {
            const YAML::Node item = *it;
            Location iloc = loc_of(item);
            if (iloc.line <= 0) iloc = vloc;
            const std::string ipath = at(path, i);
            prov_.file[ipath] = iloc;
            if (!item.IsMap()) return error(iloc, ipath, "expected a map, got " + describe(item));
            ITSCAM_RETURN_IF_ERROR(fn(item, ipath, iloc));
        }
        return Status::ok();
    }

    Status scalar_error(const YAML::Node& v, const std::string& path, Location loc, const std::string& expected) {
        return error(loc, path, expected + ", got " + describe(v));
    }

    // The text of a scalar with ${NAME} interpolated (when this reader interpolates).
    Status scalar_text(const YAML::Node& v, const std::string& path, Location loc, std::string& out) {
        if (env_ == nullptr) {
            out = v.Scalar();
            return Status::ok();
        }
        const std::string err = interpolate(v.Scalar(), *env_, out);
        return err.empty() ? Status::ok() : error(loc, path, err);
    }

    // A type error for an interpolated value names both the text and what it became.
    Status value_error(const YAML::Node& v, const std::string& text, const std::string& path, Location loc,
                       const std::string& expected) {
        if (text == v.Scalar()) return scalar_error(v, path, loc, expected);
        return error(loc, path, expected + ", got " + quote_for_message(text) + " (from " + describe(v) + ")");
    }

    template <typename S>
    Status read_field(S& obj, const Member<S>& member, const YAML::Node& v, const std::string& path, Location loc) {
        prov_.file[path] = loc;
        return std::visit(
            [&](auto m) -> Status {
                auto& out = obj.*m;
                using T = std::remove_reference_t<decltype(out)>;
                if constexpr (std::is_same_v<T, std::vector<int>> || std::is_same_v<T, std::vector<std::string>>) {
                    constexpr bool kInts = std::is_same_v<T, std::vector<int>>;
                    out.clear();
                    if (v.IsNull()) return Status::ok();
                    if (!v.IsSequence())
                        return scalar_error(v, path, loc, kInts ? "expected a list of integers" : "expected a list of strings");
                    size_t i = 0;
                    for (auto it = v.begin(); it != v.end(); ++it, ++i) {
                        const YAML::Node item = *it;
                        Location iloc = loc_of(item);
                        if (iloc.line <= 0) iloc = loc;
                        const std::string ipath = at(path, i);
                        prov_.file[ipath] = iloc;
                        if (!item.IsScalar())
                            return scalar_error(item, ipath, iloc, kInts ? "expected an integer" : "expected a string");
                        std::string text;
                        ITSCAM_RETURN_IF_ERROR(scalar_text(item, ipath, iloc, text));
                        if constexpr (kInts) {
                            int x = 0;
                            const std::string err = parse_int(text, x);
                            if (!err.empty()) return value_error(item, text, ipath, iloc, err);
                            out.push_back(x);
                        } else {
                            out.push_back(std::move(text));
                        }
                    }
                    return Status::ok();
                } else {
                    if constexpr (std::is_same_v<T, std::string>) {
                        if (!v.IsScalar()) return scalar_error(v, path, loc, "expected a string");
                        return scalar_text(v, path, loc, out);
                    } else {
                        std::string text;
                        if (v.IsScalar()) ITSCAM_RETURN_IF_ERROR(scalar_text(v, path, loc, text));
                        std::string err;
                        if constexpr (std::is_same_v<T, bool>) {
                            err = parse_bool(text, out);
                        } else if constexpr (std::is_same_v<T, int>) {
                            err = parse_int(text, out);
                        } else {
                            err = parse_double(text, out);
                        }
                        if (!err.empty()) return value_error(v, text, path, loc, err);
                        return Status::ok();
                    }
                }
            },
            member);
    }

    Provenance& prov_;
    const Env* env_;
};

// Counts the documents of a stream and where each starts, ignoring everything else.
class DocumentCounter : public YAML::EventHandler {
  public:
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

    std::vector<YAML::Mark> starts;
};

std::string position(const std::string& origin, Location loc) {
    if (loc.line <= 0) loc = {1, 1};
    return origin + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column) + ": ";
}

// The one document of `text`. YAML::LoadAll is not used: on a stray ',' at the top level, yaml-cpp 0.7 reports an
// endless series of empty documents (LoadAll then grows until memory runs out), so the documents are counted by a
// parse that stops after the second one, and the first is loaded on its own.
Status load_root(const std::string& text, const std::string& origin, bool require_map, YAML::Node& root) {
    try {
        std::istringstream in(text);
        YAML::Parser parser(in);
        DocumentCounter counter;
        for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
        }
        if (counter.starts.size() > 1) {
            return invalid_argument(position(origin, loc_of_mark(counter.starts[1])) +
                                    "unexpected content after the configuration (only one YAML document is allowed)");
        }
        root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        const Location loc = loc_of_mark(e.mark);
        if (loc.line <= 0) return invalid_argument(origin + ": invalid YAML: " + e.msg);
        return invalid_argument(position(origin, loc) + "invalid YAML: " + e.msg);
    }
    if (root.IsNull())
        return invalid_argument(position(origin, {}) + "the configuration is empty (expected a map of settings)");
    if (require_map && !root.IsMap()) {
        return invalid_argument(position(origin, loc_of(root)) + "expected a map of settings at the top level, got " +
                                describe(root));
    }
    return Status::ok();
}

Result<Config> parse_config_impl(const std::string& yaml_text, const std::string& origin, const Env* env) {
    YAML::Node root;
    ITSCAM_RETURN_IF_ERROR(load_root(yaml_text, origin, /*require_map=*/true, root));
    Provenance prov;
    prov.origin = origin;
    Config c;
    // ${NAME} is always interpolated in a config file; without an environment no variable is set.
    static const Env kNoEnv;
    Reader reader(prov, env != nullptr ? env : &kNoEnv);
    ITSCAM_RETURN_IF_ERROR(reader.read_config(root, c));
    if (env != nullptr) ITSCAM_RETURN_IF_ERROR(apply_env(c, *env, prov));
    ITSCAM_RETURN_IF_ERROR(load_secret_files(c, prov));
    resolve(c);
    ITSCAM_RETURN_IF_ERROR(validate_config(c, &prov));
    return c;
}

Result<CameraConfig> parse_camera_impl(const std::string& text, const std::string& origin) {
    YAML::Node root;
    ITSCAM_RETURN_IF_ERROR(load_root(text, origin, /*require_map=*/false, root));
    Provenance prov;
    prov.origin = origin;
    CameraConfig cam;
    Reader reader(prov, nullptr);  // a client's camera: never the service's environment
    Location loc = loc_of(root);
    if (loc.line <= 0) loc = {1, 1};
    ITSCAM_RETURN_IF_ERROR(reader.read_camera(root, "", loc, cam));
    ITSCAM_RETURN_IF_ERROR(validate_camera(cam, "", &prov));
    return cam;
}

// yaml-cpp reports bad input by exceptions (and a few internal ones on odd trees): none may escape.
template <typename Fn>
auto guarded(const std::string& origin, Fn&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const YAML::Exception& e) {
        return invalid_argument(origin + ": invalid YAML: " + e.what());
    } catch (const std::bad_alloc&) {
        return out_of_memory(origin + ": out of memory while reading the configuration");
    } catch (const std::exception& e) {
        return internal_error(origin + ": while reading the configuration: " + e.what());
    } catch (...) {
        return internal_error(origin + ": unknown error while reading the configuration");
    }
}

}  // namespace

Result<Config> parse_config(const std::string& yaml_text, const std::string& origin, const Env* env) {
    return guarded(origin, [&] { return parse_config_impl(yaml_text, origin, env); });
}

Result<CameraConfig> parse_camera(const std::string& yaml_or_json, const std::string& origin) {
    return guarded(origin, [&] { return parse_camera_impl(yaml_or_json, origin); });
}

Result<Config> load_config(const std::string& path, const Env* env) {
    // A named pipe, device or /proc file is refused by what it is (opening a pipe would block start-up).
    ITSCAM_ASSIGN_OR_RETURN(RegularFile f, RegularFile::open(path, path + ": "));
    if (f.size() > kMaxConfigBytes) {
        return invalid_argument(path + ": " + std::to_string(f.size()) +
                                " bytes is too large for a config file (at most 1 MiB)");
    }
    auto text = f.read_all(kMaxConfigBytes);
    if (!text && text.status().code() == StatusCode::kInvalidArgument)
        return invalid_argument(path + ": too large for a config file (at most 1 MiB)");
    ITSCAM_RETURN_IF_ERROR(text.status());
    ITSCAM_ASSIGN_OR_RETURN(Config c, parse_config(*text, path, env));
    c.source_path = path;
    return c;
}

#else  // !ITSCAM_HAVE_YAML

Result<Config> parse_config(const std::string&, const std::string& origin, const Env*) {
    return unsupported(origin + ": built without YAML support");
}

Result<CameraConfig> parse_camera(const std::string&, const std::string& origin) {
    return unsupported(origin + ": built without YAML support");
}

Result<Config> load_config(const std::string& path, const Env*) {
    return unsupported(path + ": built without YAML support");
}

#endif  // ITSCAM_HAVE_YAML

}  // namespace itscam::config
