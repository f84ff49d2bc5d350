// Input limits shared by the config file and the API (parse_camera, Pipeline::add_camera): string lengths and
// control bytes, camera ids, and the camera URL schemes.
//
// Why each rule exists: a camera URL was once accepted at any length (a 64 MiB URL grew the log and the history
// database by that much per event); a NUL byte made the stored string differ from the one opened (C APIs stop at
// it); ids "." and ".." cannot be addressed in a URL path (/api/v1/cameras/..); and FFmpeg opens whatever protocol a
// URL names (gopher://, ftp://, concat:, subfile,, data:, file:/etc/passwd), so only the schemes a traffic camera
// uses are allowed. Local files are the operator's: a config file may name them, the API only with
// server.allow_file_cameras (docs/configuration.md).
#include <algorithm>
#include <cctype>

#include "config/config.h"
#include "config/config_internal.h"

namespace itscam::config {

namespace internal {

namespace {

constexpr size_t kMaxCameraIdBytes = 64;
constexpr size_t kMaxUrlBytes = 4096;
constexpr size_t kMaxHostBytes = 253;   // the longest DNS name
constexpr size_t kMaxTextBytes = 4096;  // every other string setting (paths: PATH_MAX)

std::string lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

// The first control byte (NUL, newline, DEL, ...), or npos.
size_t find_control(const std::string& s) {
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char ch = static_cast<unsigned char>(s[i]);
        if (ch < 0x20 || ch == 0x7f) return i;
    }
    return std::string::npos;
}

Status check_text(const Provenance* p, const std::string& path, const std::string& v, size_t max_bytes) {
    if (v.size() > max_bytes) {
        return config_error(
            p, path,
            "is " + std::to_string(v.size()) + " bytes long, at most " + std::to_string(max_bytes) + " are allowed");
    }
    if (const size_t i = find_control(v); i != std::string::npos) {
        return config_error(p, path,
                            "contains a control character (" + quote_for_message(v.substr(i, 1)) + " at byte " +
                                std::to_string(i) + ")" +
                                (is_secret_setting(path) ? std::string() : ", got " + quote_for_message(v)));
    }
    return Status::ok();
}

template <typename S>
Status check_strings(const Provenance* p, const std::string& prefix, const S& obj,
                     const std::vector<Field<S>>& fields) {
    for (const auto& f : fields) {
        const std::string name = f.name;
        if (const auto* list = std::get_if<std::vector<std::string> S::*>(&f.member)) {
            const std::vector<std::string>& items = obj.*(*list);
            for (size_t i = 0; i < items.size(); ++i)
                ITSCAM_RETURN_IF_ERROR(check_text(p, at(join(prefix, name), i), items[i], kMaxTextBytes));
            continue;
        }
        const auto* m = std::get_if<std::string S::*>(&f.member);
        if (m == nullptr) continue;
        const size_t limit = name == "host" ? kMaxHostBytes : kMaxTextBytes;
        ITSCAM_RETURN_IF_ERROR(check_text(p, join(prefix, name), obj.*(*m), limit));
    }
    return Status::ok();
}

// The protocol FFmpeg would pick for `url`, lower-cased, by FFmpeg's own rule (url_find_protocol): the leading run of
// [A-Za-z0-9+.-] followed by ':' (or by ',' with a ':' later: "subfile,,start,0,end,0,,:x"). "" for a plain path.
std::string ffmpeg_scheme(const std::string& url) {
    size_t n = 0;
    while (n < url.size() &&
           (std::isalnum(static_cast<unsigned char>(url[n])) || url[n] == '+' || url[n] == '-' || url[n] == '.'))
        ++n;
    if (n == 0 || n == url.size()) return "";
    if (url[n] == ':' || (url[n] == ',' && url.find(':', n) != std::string::npos)) return lower(url.substr(0, n));
    return "";
}

struct HostPort {
    std::string host;  // lower case, without brackets
    int port = 0;      // the scheme's default when not written
};

// host and port of "scheme://[userinfo@]host[:port][/...]".
HostPort host_port(const std::string& url, const std::string& scheme) {
    HostPort hp;
    const size_t start = url.find("://") + 3;
    const size_t end = url.find_first_of("/?#", start);
    std::string auth = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (const size_t at_sign = auth.rfind('@'); at_sign != std::string::npos) auth = auth.substr(at_sign + 1);
    std::string port;
    if (!auth.empty() && auth.front() == '[') {
        const size_t close = auth.find(']');
        hp.host = auth.substr(1, close == std::string::npos ? std::string::npos : close - 1);
        if (close != std::string::npos && close + 1 < auth.size() && auth[close + 1] == ':')
            port = auth.substr(close + 2);
    } else {
        const size_t colon = auth.rfind(':');
        hp.host = auth.substr(0, colon);
        if (colon != std::string::npos) port = auth.substr(colon + 1);
    }
    hp.host = lower(hp.host);
    hp.port = scheme == "https" ? 443 : 80;
    if (!port.empty()) {
        int v = -1;
        if (parse_int(port, v).empty()) hp.port = v;
    }
    return hp;
}

bool is_local_host(const std::string& h) {
    return h == "localhost" || h == "localhost." || h.rfind("127.", 0) == 0 || h == "::1" || h == "0.0.0.0" ||
           h == "::" || h == "0";
}

Status check_camera_id(const std::string& id, const std::string& path, const Provenance* p) {
    const bool charset_ok = std::all_of(id.begin(), id.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-';
    });
    // "." and ".." would be path segments in /api/v1/cameras/{id} and /streams/{id}: no client can address them.
    if (id.empty() || id.size() > kMaxCameraIdBytes || !charset_ok || id == "." || id == "..") {
        return config_error(p, path,
                            "must be 1 to 64 of A-Z a-z 0-9 _ . - (and not '.' or '..'), got " + quote_for_message(id));
    }
    return Status::ok();
}

Status check_camera_url(const std::string& url, const std::string& path, const Provenance* p) {
    if (url.empty()) return config_error(p, path, "must not be empty");
    ITSCAM_RETURN_IF_ERROR(check_text(p, path, url, kMaxUrlBytes));
    const std::string scheme = ffmpeg_scheme(url);
    const bool has_slashes = url.compare(scheme.size(), 3, "://") == 0;
    switch (camera_url_kind(url)) {
        case UrlKind::kRefused:
            return config_error(p, path,
                                "scheme '" + scheme +
                                    ":' is not allowed (allowed: rtsp, rtsps, http, https; local files as a path "
                                    "or file:///path; a file name with ':' in it as ./name), got " +
                                    quote_for_message(url));
        case UrlKind::kFile:
            if (!scheme.empty() && (!has_slashes || url.size() == scheme.size() + 3))
                return config_error(p, path, "expected file:///path or a plain path, got " + quote_for_message(url));
            return Status::ok();
        case UrlKind::kSynthetic:
        case UrlKind::kNetwork:
            if (!has_slashes || url.size() == scheme.size() + 3)
                return config_error(p, path, "expected " + scheme + "://host/..., got " + quote_for_message(url));
            return Status::ok();
    }
    return Status::ok();
}

}  // namespace

Status check_not_self(const Config& c, const CameraConfig& cam, const std::string& path, const Provenance* p) {
    if (!c.server.enabled || c.server.port == 0 || camera_url_kind(cam.url) != UrlKind::kNetwork) return Status::ok();
    const std::string scheme = ffmpeg_scheme(cam.url);
    if (scheme != "http" && scheme != "https") return Status::ok();
    const HostPort hp = host_port(cam.url, scheme);
    const std::string own = lower(c.server.host);
    const bool same_host = hp.host == own || (is_local_host(hp.host) && (is_local_host(own) || own == "0.0.0.0"));
    if (!same_host || hp.port != c.server.port) return Status::ok();
    return config_error(p, path,
                        "points at this service's own HTTP server (server.host " + c.server.host + ", port " +
                            std::to_string(c.server.port) + "): a camera cannot read the service's own streams");
}

Status check_config_strings(const Config& c, const Provenance* p) {
    ITSCAM_RETURN_IF_ERROR(check_strings(p, "", c, top_fields()));
    ITSCAM_RETURN_IF_ERROR(check_strings(p, "pipeline", c.pipeline, pipeline_fields()));
    ITSCAM_RETURN_IF_ERROR(check_strings(p, "fallback", c.fallback, fallback_fields()));
    ITSCAM_RETURN_IF_ERROR(check_strings(p, "server", c.server, server_fields()));
    ITSCAM_RETURN_IF_ERROR(check_strings(p, "history", c.history, history_fields()));
    ITSCAM_RETURN_IF_ERROR(check_strings(p, "streaming", c.streaming, streaming_fields()));
    ITSCAM_RETURN_IF_ERROR(check_strings(p, "cluster", c.cluster, cluster_fields()));
    for (size_t i = 0; i < c.streaming.renditions.size(); ++i)
        ITSCAM_RETURN_IF_ERROR(
            check_strings(p, at("streaming.renditions", i), c.streaming.renditions[i], rendition_fields()));
    for (size_t i = 0; i < c.sinks.size(); ++i)
        ITSCAM_RETURN_IF_ERROR(check_strings(p, at("sinks", i), c.sinks[i], sink_fields()));
    return Status::ok();
}

Status check_camera_strings(const CameraConfig& cam, const std::string& prefix, const Provenance* p) {
    ITSCAM_RETURN_IF_ERROR(check_camera_id(cam.id, join(prefix, "id"), p));
    ITSCAM_RETURN_IF_ERROR(check_camera_url(cam.url, join(prefix, "url"), p));
    for (const auto& f : camera_fields()) {
        const std::string name = f.name;
        const auto* m = std::get_if<std::string CameraConfig::*>(&f.member);
        if (m == nullptr || name == "id" || name == "url") continue;
        ITSCAM_RETURN_IF_ERROR(check_text(p, join(prefix, name), cam.*(*m), kMaxTextBytes));
    }
    return Status::ok();
}

}  // namespace internal

UrlKind camera_url_kind(const std::string& url) {
    const std::string scheme = internal::ffmpeg_scheme(url);
    if (scheme.empty() || scheme == "file") return UrlKind::kFile;
    if (scheme == "synthetic") return UrlKind::kSynthetic;
    if (scheme == "rtsp" || scheme == "rtsps" || scheme == "http" || scheme == "https") return UrlKind::kNetwork;
    return UrlKind::kRefused;
}

Status check_added_camera(const Config& c, const CameraConfig& cam, int bound_port) {
    if (bound_port > 0 && bound_port != c.server.port) {
        Config bound = c;
        bound.server.port = bound_port;
        ITSCAM_RETURN_IF_ERROR(internal::check_not_self(bound, cam, "url", nullptr));
    }
    if (camera_url_kind(cam.url) == UrlKind::kFile && !c.server.allow_file_cameras) {
        return invalid_argument(
            "url: local files may be added at run time only when server.allow_file_cameras is "
            "true (ITSCAM_ALLOW_FILE_CAMERAS); cameras in the config file may always be files, got " +
            internal::quote_for_message(cam.url));
    }
    return Status::ok();
}

}  // namespace itscam::config
