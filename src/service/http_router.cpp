#include "service/http_router.h"

#include <nlohmann/json.hpp>

namespace itscam::service {

std::vector<std::string> HttpRouter::split(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 1;  // paths start with '/'
    while (i <= path.size()) {
        const size_t j = path.find('/', i);
        const size_t end = j == std::string::npos ? path.size() : j;
        out.push_back(path.substr(i, end - i));
        if (j == std::string::npos) break;
        i = j + 1;
    }
    return out;  // "/" -> {""}
}

void HttpRouter::add(const std::string& method, const std::string& pattern, Access access, HttpHandler handler,
                     HttpHandler denied) {
    std::vector<std::string> segs = split(pattern);
    for (auto& s : segs)
        if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = "{}";
    Route::Method entry{method, access, std::move(handler), std::move(denied)};
    for (auto& r : routes_) {
        if (r.segments != segs) continue;
        for (auto& m : r.methods)
            if (m.name == method) {
                m = std::move(entry);
                return;
            }
        r.methods.push_back(std::move(entry));
        return;
    }
    routes_.push_back(Route{std::move(segs), {}});
    routes_.back().methods.push_back(std::move(entry));
}

HttpRouter::Match HttpRouter::match(const std::string& method, const std::string& path) const {
    Match m;
    if (path.empty() || path.front() != '/') return m;
    const std::vector<std::string> segs = split(path);
    // Literal segments win over captures ("/streams/{id}" must not swallow a literal sibling): the route with the
    // most literal matches is taken.
    const Route* best = nullptr;
    int best_literals = -1;
    std::vector<std::string> best_captures;
    for (const auto& r : routes_) {
        if (r.segments.size() != segs.size()) continue;
        int literals = 0;
        std::vector<std::string> caps;
        bool ok = true;
        for (size_t i = 0; i < segs.size() && ok; ++i) {
            if (r.segments[i] == "{}") {
                ok = !segs[i].empty();
                caps.push_back(segs[i]);
            } else {
                ok = r.segments[i] == segs[i];
                ++literals;
            }
        }
        if (ok && literals > best_literals) {
            best = &r;
            best_literals = literals;
            best_captures = std::move(caps);
        }
    }
    if (!best) return m;
    const std::string want = method == "HEAD" ? "GET" : method;
    for (const auto& e : best->methods) {
        if (!m.allow.empty()) m.allow += ", ";
        m.allow += e.name == "GET" ? "GET, HEAD" : e.name;
        if (e.name == want) {
            m.status = 200;
            m.access = e.access;
            m.handler = &e.handler;
            m.denied = e.denied ? &e.denied : nullptr;
        }
    }
    if (!m.handler) {
        m.status = 405;
        return m;
    }
    m.captures = std::move(best_captures);
    m.query_token = !query_token_prefix_.empty() && path.rfind(query_token_prefix_, 0) == 0;
    return m;
}

void http_error(HttpResponse& res, int status, const std::string& message) {
    res.status = status;
    // replace: invalid UTF-8 (say, in a source's error text) must not turn a status answer into an exception.
    res.set_content(nlohmann::json{{"error", message}, {"status", status}}.dump(
                        -1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
}

bool constant_time_equal(const std::string& expected, const std::string& given) {
    unsigned diff = expected.size() == given.size() ? 0u : 1u;
    const size_t n = expected.size();
    for (size_t i = 0; i < given.size(); ++i) {
        const unsigned char e = n ? static_cast<unsigned char>(expected[i % n]) : 0;
        diff |= static_cast<unsigned>(e ^ static_cast<unsigned char>(given[i]));
    }
    return diff == 0 && n > 0;
}

bool check_access(Access access, bool query_token_allowed, const HttpRequest& req, const std::string& api_token,
                  const std::string& read_token, HttpResponse& res) {
    if (access == Access::kOpen || (access == Access::kRead && read_token.empty())) return true;
    if (access == Access::kWrite && api_token.empty()) {
        http_error(res, 403,
                   "mutating endpoints are disabled: configure an API token (server.api_token, ITSCAM_API_TOKEN) "
                   "and send it as 'Authorization: Bearer <token>'");
        return false;
    }
    const std::string h = req.get_header_value("Authorization");
    const bool bearer = h.size() > 7 && strncasecmp(h.c_str(), "Bearer ", 7) == 0;
    std::string given = bearer ? h.substr(7) : "";
    // EventSource cannot send headers: the streams also take the token as ?access_token=.
    if (h.empty() && query_token_allowed) given = req.get_param_value("access_token");
    // Both comparisons always run, so that the time does not tell which token was close.
    const bool write_ok = constant_time_equal(api_token, given);
    const bool read_ok = access == Access::kRead && constant_time_equal(read_token, given);
    if (write_ok || read_ok) return true;
    const bool sent = !h.empty() || !given.empty();
    res.set_header("WWW-Authenticate",
                   sent ? "Bearer realm=\"itscam\", error=\"invalid_token\"" : "Bearer realm=\"itscam\"");
    http_error(res, 401,
               !sent ? "missing 'Authorization: Bearer <token>' header"
                     : (bearer || !given.empty() ? "invalid bearer token" : "expected a Bearer token"));
    return false;
}

bool percent_decode(const std::string& in, std::string* out, bool plus_is_space) {
    out->clear();
    out->reserve(in.size());
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;
            const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out->push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out->push_back(' ');
        } else {
            out->push_back(c);
        }
    }
    return true;
}

}  // namespace itscam::service
