// CORS for the per-camera reads in cluster mode (docs/cluster.md, "Dashboards and CORS"). A dashboard served by one
// node plays a camera that runs on another node straight from that node's API address: its fetch() of
// /streams/{id}/live.mp4 carries an Authorization header (so the browser sends a preflight first) and its
// EventSource of /streams/{id}/detections an Origin. Those requests come from another origin, so the owner answers
// them only for origins it trusts: the API addresses (`owner_api`, cluster.advertise) of the cluster's live members.
//
//   a GET/HEAD with an allowed Origin   Access-Control-Allow-Origin: <that origin>, Vary: Origin (on its 401 too:
//                                       HttpRouter's `denied` hook, so the page can tell a bad token from a dead node)
//   a GET/HEAD with any other Origin    Vary: Origin only (the browser then refuses to hand the answer to the page)
//   OPTIONS (preflight: Access-Control-Request-Method), allowed origin, method GET or HEAD:
//                                       204, Access-Control-Allow-Origin, -Allow-Methods: GET, HEAD,
//                                       -Allow-Headers: Authorization, -Max-Age, Vary: Origin; no token needed
//                                       (preflights carry no credentials)
//   OPTIONS otherwise (origin not allowed, a write method, no preflight at all)
//                                       204 with Vary: Origin, no Access-Control-* header
//
// The dashboard's own Content-Security-Policy (web_assets.h) allows connections to 'self' only; extend_csp adds the
// allowed origins to its connect-src, so that the page's fetch() and EventSource may reach the other members at all.
// A member that joins after the page was loaded is reachable after a reload.
//
// An Origin is never reflected unless it equals (scheme, host, port; case-insensitive, default ports dropped) one of
// the allowed origins. Writes (POST, DELETE) never get CORS headers. Thread-safe: every method runs on the HTTP
// handler threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "service/http_message.h"

namespace itscam::service {

// "scheme://host[:port]" in the form browsers send as Origin: scheme and host in lower case, the port only when it
// is not the scheme's default (http 80, https 443); a trailing path (a base URL's "/" or "/api") is dropped.
// nullopt when `url` is not an http or https URL with a host (userinfo, a query or fragment, a bad port: nullopt),
// and for the opaque origin "null".
std::optional<std::string> normalize_origin(const std::string& url);

class CorsPolicy {
  public:
    // The base URLs to trust (the cluster's live members' API addresses); kUnavailable and the like when they cannot
    // be read right now. Entries that are no http(s) URL are ignored.
    using Source = std::function<Result<std::vector<std::string>>()>;
    // `source` is asked at most once per `refresh`; when it fails, the last list it gave stays in use (an etcd outage
    // does not cut the dashboards of cameras that keep running), and before any success nothing is allowed.
    explicit CorsPolicy(Source source, std::chrono::milliseconds refresh = std::chrono::seconds(1));

    static constexpr int kMaxAgeS = 600;  // Access-Control-Max-Age of a preflight answer

    // The request's Origin when it is allowed (normalized), else "" (none sent, or not allowed).
    std::string allowed_origin(const HttpRequest& req);
    // On the answer of a cross-origin read (GET, HEAD): Vary: Origin, and Access-Control-Allow-Origin when allowed.
    void annotate(const HttpRequest& req, HttpResponse& res);
    // The answer to OPTIONS on a read route (see above).
    void preflight(const HttpRequest& req, HttpResponse& res);
    // The allowed origins appended to the connect-src directive of the response's Content-Security-Policy (a
    // response without one, or a policy without connect-src, is left alone).
    void extend_csp(HttpResponse& res);

  private:
    std::vector<std::string> origins();

    Source source_;
    const std::chrono::milliseconds refresh_;
    std::mutex mu_;
    std::condition_variable fetched_cv_;
    std::vector<std::string> origins_;  // normalized: the last list the source gave
    std::chrono::steady_clock::time_point asked_{};
    bool asked_once_ = false;  // a first answer (or failure) came back
    bool asking_ = false;      // one thread asks the source, outside mu_; the others use origins_ meanwhile
};

}  // namespace itscam::service
