// Environment overrides: every SEED name, ITSCAM_* for our own keys, CIRCUIT_BREAKER_CONFIG as a dict.
#include <cctype>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/config_internal.h"
#include "core/redact.h"

extern char** environ;

namespace itscam::config {

namespace internal {

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
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                return parse_string_list(text, obj.*m);
            } else {
                return parse_int_list(text, obj.*m);
            }
        },
        member);
}

// The file's positions for `path` (and its list items and fields) no longer apply once the environment set it.
void forget_file_positions(Provenance& prov, const std::string& path) {
    for (auto fi = prov.file.begin(); fi != prov.file.end();) {
        const std::string& k = fi->first;
        const bool under = k == path || (k.size() > path.size() && k.compare(0, path.size(), path) == 0 &&
                                         (k[path.size()] == '[' || k[path.size()] == '.'));
        fi = under ? prov.file.erase(fi) : std::next(fi);
    }
}

template <typename S>
Status apply_env_field(S& obj, const Field<S>& f, const std::string& var, const std::string& path, const Env& env,
                       Config& c, Provenance& prov) {
    const auto it = env.find(var);
    if (it == env.end() || trim(it->second).empty()) return Status::ok();
    // A token never reaches the startup log or an error message.
    const bool secret = is_secret_setting(path);
    const std::string shown = var + "=" + (secret ? std::string(kMask) : quote_for_message(it->second));
    const std::string err = set_from_text(obj, f.member, it->second);
    if (!err.empty()) return invalid_argument("environment: " + shown + ": " + err);
    prov.env[path] = shown;
    forget_file_positions(prov, path);
    c.env_overrides.push_back(var + "=" + (secret ? std::string(kMask) : it->second));
    return Status::ok();
}

// Every field of `section` from ITSCAM_<SECTION>_<KEY> (ITSCAM_STREAMING_PRESET, ITSCAM_CLUSTER_NODE).
template <typename S>
Status apply_env_section(S& obj, const std::vector<Field<S>>& fields, const std::string& section, const Env& env,
                         Config& c, Provenance& prov) {
    for (const auto& f : fields) {
        std::string var = "ITSCAM_";
        for (const char ch : section + "_" + f.name) var += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        ITSCAM_RETURN_IF_ERROR(apply_env_field(obj, f, var, section + "." + f.name, env, c, prov));
    }
    return Status::ok();
}

bool env_set(const Env& env, const std::string& var) {
    const auto it = env.find(var);
    return it != env.end() && !trim(it->second).empty();
}

// The environment name of a server setting, or "".
std::string server_env_var(const std::string& n) {
    if (n == "host") return "ITSCAM_HTTP_HOST";
    if (n == "port") return "ITSCAM_HTTP_PORT";
    if (n == "allow_file_cameras") return "ITSCAM_ALLOW_FILE_CAMERAS";
    if (n == "api_token" || n == "read_token" || n == "api_token_file" || n == "read_token_file") {
        std::string var = "ITSCAM_";
        for (char ch : n) var += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        return var;
    }
    return "";
}

// server.* from ITSCAM_HTTP_HOST, ITSCAM_HTTP_PORT and the tokens (ITSCAM_API_TOKEN, ITSCAM_READ_TOKEN, or their
// files ITSCAM_API_TOKEN_FILE, ITSCAM_READ_TOKEN_FILE). A token or token file from the environment replaces both
// forms of the file's (the file may say api_token_file while the environment gives the token itself).
Status apply_env_server(Config& c, const Env& env, Provenance& prov) {
    for (const char* token : {"api_token", "read_token"}) {
        const std::string var = server_env_var(token), file_var = server_env_var(std::string(token) + "_file");
        if (env_set(env, var) && env_set(env, file_var))
            return invalid_argument("environment: " + var + " and " + file_var + " are both set: give one");
        std::string ServerConfig::*other = nullptr;
        if (env_set(env, var))
            other = std::string(token) == "api_token" ? &ServerConfig::api_token_file : &ServerConfig::read_token_file;
        if (env_set(env, file_var))
            other = std::string(token) == "api_token" ? &ServerConfig::api_token : &ServerConfig::read_token;
        if (other != nullptr) {
            (c.server.*other).clear();
            forget_file_positions(prov, std::string("server.") + token + (env_set(env, var) ? "_file" : ""));
        }
    }
    for (const auto& f : server_fields()) {
        const std::string var = server_env_var(f.name);
        if (!var.empty())
            ITSCAM_RETURN_IF_ERROR(apply_env_field(c.server, f, var, std::string("server.") + f.name, env, c, prov));
    }
    return Status::ok();
}

// A quoted ('...' or "...") or bare token at the start of `s`, which is advanced past it. A bare token ends at
// `stops` or white space. False when a quote is not closed.
bool take_token(std::string_view& s, const char* stops, std::string& out) {
    if (!s.empty() && (s.front() == '"' || s.front() == '\'')) {
        const char q = s.front();
        const size_t end = s.find(q, 1);
        if (end == std::string_view::npos) return false;
        out = std::string(s.substr(1, end - 1));
        s.remove_prefix(end + 1);
        return true;
    }
    size_t n = 0;
    while (n < s.size() && std::strchr(stops, s[n]) == nullptr && !std::isspace(static_cast<unsigned char>(s[n]))) ++n;
    out = std::string(s.substr(0, n));
    s.remove_prefix(n);
    return !out.empty();
}

// A flat map on one line, as JSON ({"failure_threshold": 15}), a Python dict ({'failure_threshold': 15}) or YAML
// flow ({failure_threshold: 15}); scalar values only. "" or what was expected.
std::string parse_flat_map(std::string_view s, std::vector<std::pair<std::string, std::string>>& out) {
    const char* expected = "expected a map such as {\"failure_threshold\": 15, \"recovery_timeout\": 30.0}";
    s = trim(s);
    if (s.size() < 2 || s.front() != '{' || s.back() != '}') return expected;
    s = trim(s.substr(1, s.size() - 2));
    while (!s.empty()) {
        std::string key, value;
        if (!take_token(s, ":,{}[]", key)) return expected;
        s = trim(s);
        if (s.empty() || s.front() != ':') return expected;
        s = trim(s.substr(1));
        if (!take_token(s, ",{}[]", value)) return expected;
        out.emplace_back(std::move(key), std::move(value));
        s = trim(s);
        if (s.empty()) break;
        if (s.front() != ',') return expected;
        s = trim(s.substr(1));
    }
    return "";
}

// CIRCUIT_BREAKER_CONFIG: the seed's dict form, in the environment as a flat map (parse_flat_map). A key also set
// by its own variable (CIRCUIT_BREAKER_FAILURE_THRESHOLD for failure_threshold) is an error naming both.
Status apply_env_circuit_breaker(Config& c, const Env& env, Provenance& prov) {
    const std::string var = "CIRCUIT_BREAKER_CONFIG";
    const auto it = env.find(var);
    if (it == env.end() || trim(it->second).empty()) return Status::ok();
    const std::string shown = var + "=" + quote_for_message(it->second);
    std::vector<std::pair<std::string, std::string>> entries;
    if (const std::string err = parse_flat_map(it->second, entries); !err.empty())
        return invalid_argument("environment: " + shown + ": " + err);
    std::vector<std::string> keys;
    for (const auto& k : circuit_breaker_keys()) keys.emplace_back(k.key);
    std::set<std::string> seen;
    for (const auto& [key, value] : entries) {
        const std::string setting = circuit_breaker_setting(key);
        if (setting.empty()) {
            std::string list;
            for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
            return invalid_argument("environment: " + shown + ": unknown key " + quote_for_message(key) +
                                    did_you_mean(key, keys) + " (expected " + list + ")");
        }
        if (!seen.insert(key).second)
            return invalid_argument("environment: " + shown + ": key " + quote_for_message(key) + " is given twice");
        if (const auto flat = env.find(setting); flat != env.end() && !trim(flat->second).empty()) {
            return invalid_argument("environment: " + shown + " (" + key + ") and " + setting + "=" +
                                    quote_for_message(flat->second) + " are the same setting: give it once");
        }
        if (const std::string err = set_from_text(c.settings, settings_field(setting).member, value); !err.empty())
            return invalid_argument("environment: " + shown + ": " + key + ": " + err + ", got " +
                                    quote_for_message(value));
        prov.env[setting] = shown + ": " + key;
        forget_file_positions(prov, setting);
    }
    c.env_overrides.push_back(var + "=" + it->second);
    return Status::ok();
}

}  // namespace

Status apply_env(Config& c, const Env& env, Provenance& prov) {
    for (const auto& f : settings_fields())
        ITSCAM_RETURN_IF_ERROR(apply_env_field(c.settings, f, f.name, f.name, env, c, prov));
    ITSCAM_RETURN_IF_ERROR(apply_env_circuit_breaker(c, env, prov));
    for (const auto& f : top_fields()) {
        std::string var = "ITSCAM_";
        for (const char* p = f.name; *p; ++p) var += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
        ITSCAM_RETURN_IF_ERROR(apply_env_field(c, f, var, f.name, env, c, prov));
    }
    ITSCAM_RETURN_IF_ERROR(apply_env_server(c, env, prov));
    for (const auto& f : history_fields())
        if (std::string(f.name) == "path")
            ITSCAM_RETURN_IF_ERROR(apply_env_field(c.history, f, "ITSCAM_HISTORY_PATH", "history.path", env, c, prov));
    ITSCAM_RETURN_IF_ERROR(apply_env_section(c.streaming, streaming_fields(), "streaming", env, c, prov));
    ITSCAM_RETURN_IF_ERROR(apply_env_section(c.cluster, cluster_fields(), "cluster", env, c, prov));
    return Status::ok();
}

}  // namespace internal

using namespace internal;

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
    ITSCAM_RETURN_IF_ERROR(load_secret_files(c, prov));
    resolve(c);
    ITSCAM_RETURN_IF_ERROR(validate_config(c, &prov));
    return c;
}

}  // namespace itscam::config
