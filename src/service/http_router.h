// Routing for the HTTP server: a method and a path pattern ("/api/v1/cameras/{id}": {id} matches one non-empty
// path segment) to a handler. Unknown path: 404. Known path, method not among its handlers (PUT, OPTIONS, BREW,
// TRACE, CONNECT...): 405 with Allow. GET routes also answer HEAD.
//
// Each route carries its access level, which the connection checks from the headers alone, before any body byte
// is read (http_connection.cpp):
//   kOpen   anyone (/health, /health/ready, the dashboard files)
//   kRead   Authorization: Bearer <read_token or api_token> when a read token is configured, else anyone
//   kWrite  Authorization: Bearer <api_token>; with no api_token configured, 403
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "service/http_message.h"

namespace itscam::service {

enum class Access { kOpen, kRead, kWrite };

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

class HttpRouter {
  public:
    // `pattern`: "/literal/segments/{name}/..."; a method may be added to a pattern more than once (last wins).
    // `denied`, when set, may add headers to the 401/403 the access check answers (the CORS headers of a
    // cross-origin read, so that the page sees the 401 itself rather than a network error).
    void add(const std::string& method, const std::string& pattern, Access access, HttpHandler handler,
             HttpHandler denied = {});

    struct Match {
        int status = 404;  // 200: found; 404: no such path; 405: path known, method not
        const HttpHandler* handler = nullptr;
        const HttpHandler* denied = nullptr;  // set when the route has a `denied` hook
        Access access = Access::kOpen;
        std::vector<std::string> captures;
        std::string allow;         // for 405: "GET, HEAD, POST"
        bool query_token = false;  // the route accepts ?access_token= (EventSource cannot send headers)
    };
    // `path` is percent-decoded. HEAD finds the GET handler.
    Match match(const std::string& method, const std::string& path) const;
    // Routes under this prefix accept the read token as ?access_token= too.
    void allow_query_token(const std::string& prefix) { query_token_prefix_ = prefix; }

  private:
    struct Route {
        std::vector<std::string> segments;  // "{}" for a capture
        struct Method {
            std::string name;
            Access access;
            HttpHandler handler;
            HttpHandler denied;
        };
        std::vector<Method> methods;
    };
    static std::vector<std::string> split(const std::string& path);
    std::vector<Route> routes_;
    std::string query_token_prefix_;
};

// Every error body: {"error": message, "status": N} (application/json).
void http_error(HttpResponse& res, int status, const std::string& message);

// Constant-time comparison of two secrets (time depends only on the length of `given`).
bool constant_time_equal(const std::string& expected, const std::string& given);

// The access check of a matched route, from the request's headers (and, where the route allows it, its
// ?access_token= query parameter): true, or false with `res` set to the 401 (WWW-Authenticate: Bearer) or 403.
bool check_access(Access access, bool query_token_allowed, const HttpRequest& req, const std::string& api_token,
                  const std::string& read_token, HttpResponse& res);

// Percent-decoding ("%2F" -> "/", and '+' as a space when `plus_is_space`); false on a malformed escape.
bool percent_decode(const std::string& in, std::string* out, bool plus_is_space);

}  // namespace itscam::service
