// The operator dashboard (web/), embedded into the binary at build time by cmake/web_assets.cmake, and its HTTP
// handler. Only the embedded files are served, each at "/<name>" and index.html also at "/": there is no file
// system access and so no path traversal.
//
// Every answer carries Content-Type, Cache-Control: no-cache (with an ETag, so a reload is a 304), a strict
// Content-Security-Policy (kDashboardCsp: same-origin scripts, styles and connections only; media from blob: for
// Media Source Extensions; no inline script, no frames, no plugins), X-Content-Type-Options: nosniff and
// Referrer-Policy: no-referrer.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace itscam::service {

struct HttpRequest;
struct HttpResponse;

inline constexpr const char* kDashboardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct WebAsset {
    std::string path;          // URL path: "/app.js"; index.html is "/"
    std::string content_type;  // "text/javascript; charset=utf-8"
    std::string_view body;     // the embedded bytes
    std::string etag;          // strong validator from the content: "\"<16 hex digits>\""
};

// The embedded files, index.html first (as "/"), then by name.
const std::vector<WebAsset>& web_assets();
// The asset at a URL path ("/", "/index.html", "/app.js"...), or nullptr.
const WebAsset* find_web_asset(std::string_view url_path);
// GET/HEAD handler: the asset at req.path with the headers above, 304 on a matching If-None-Match, 404 otherwise.
void serve_web_asset(const HttpRequest& req, HttpResponse& res);

namespace web_data {
struct EmbeddedFile {
    const char* name;  // file name in web/
    const char* content_type;
    const unsigned char* data;
    size_t size;
};
extern const EmbeddedFile kFiles[];  // defined by the generated web_assets_data.cpp
extern const size_t kFileCount;
}  // namespace web_data

}  // namespace itscam::service
