#include "service/http_cors.h"

#include <algorithm>
#include <cctype>

namespace itscam::service {

namespace {

std::string lower(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

bool host_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'; }

// "[v6]" or a name / IPv4 address.
bool valid_host(const std::string& h) {
    if (h.empty()) return false;
    if (h.front() == '[')
        return h.size() > 2 && h.back() == ']' &&
               std::all_of(h.begin() + 1, h.end() - 1,
                           [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; });
    return std::all_of(h.begin(), h.end(), host_char);
}

}  // namespace

std::optional<std::string> normalize_origin(const std::string& url) {
    const size_t sep = url.find("://");
    if (sep == std::string::npos) return std::nullopt;
    const std::string scheme = lower(url.substr(0, sep));
    if (scheme != "http" && scheme != "https") return std::nullopt;
    if (url.find_first_of("?#") != std::string::npos) return std::nullopt;
    const size_t start = sep + 3;
    const size_t end = std::min(url.find('/', start), url.size());
    const std::string authority = lower(url.substr(start, end - start));
    if (authority.find('@') != std::string::npos) return std::nullopt;
    // The port follows the last ':' outside an IPv6 address's brackets.
    const size_t colon = authority.rfind(':');
    const bool has_port = colon != std::string::npos && authority.find(']', colon) == std::string::npos;
    const std::string host = has_port ? authority.substr(0, colon) : authority;
    if (!valid_host(host)) return std::nullopt;
    std::string out = scheme + "://" + host;
    if (!has_port) return out;
    const std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    const int n = std::stoi(port);
    if (n < 1 || n > 65535) return std::nullopt;
    if ((scheme == "http" && n == 80) || (scheme == "https" && n == 443)) return out;
    return out + ":" + std::to_string(n);
}

CorsPolicy::CorsPolicy(Source source, std::chrono::milliseconds refresh) : source_(std::move(source)), refresh_(refresh) {}

std::vector<std::string> CorsPolicy::origins() {
    std::unique_lock<std::mutex> lk(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (!asking_ && (!asked_once_ || now - asked_ >= refresh_)) {
        asking_ = true;
        lk.unlock();
        Result<std::vector<std::string>> r = source_ ? source_() : Result<std::vector<std::string>>(std::vector<std::string>{});
        std::vector<std::string> fresh;
        if (r.is_ok())
            for (const auto& base : *r)
                if (auto o = normalize_origin(base)) fresh.push_back(std::move(*o));
        lk.lock();
        if (r.is_ok()) origins_ = std::move(fresh);  // a failure keeps the last list
        asked_ = std::chrono::steady_clock::now();
        asked_once_ = true;
        asking_ = false;
        fetched_cv_.notify_all();
    } else {
        // Before the first answer, wait for it; afterwards use the last list while one thread refreshes it.
        fetched_cv_.wait(lk, [this] { return asked_once_; });
    }
    return origins_;
}

std::string CorsPolicy::allowed_origin(const HttpRequest& req) {
    if (!req.has_header("Origin")) return "";
    const auto origin = normalize_origin(req.get_header_value("Origin"));
    if (!origin) return "";
    const auto allowed = origins();
    return std::find(allowed.begin(), allowed.end(), *origin) != allowed.end() ? *origin : "";
}

void CorsPolicy::annotate(const HttpRequest& req, HttpResponse& res) {
    res.set_header("Vary", "Origin");
    if (req.method != "GET" && req.method != "HEAD") return;
    const std::string origin = allowed_origin(req);
    if (!origin.empty()) res.set_header("Access-Control-Allow-Origin", origin);
}

void CorsPolicy::preflight(const HttpRequest& req, HttpResponse& res) {
    res.status = 204;
    res.body.clear();
    res.set_header("Vary", "Origin");
    const std::string method = req.get_header_value("Access-Control-Request-Method");
    if (method != "GET" && method != "HEAD") return;  // not a preflight, or one for a write: no CORS
    const std::string origin = allowed_origin(req);
    if (origin.empty()) return;
    res.set_header("Access-Control-Allow-Origin", origin);
    res.set_header("Access-Control-Allow-Methods", "GET, HEAD");
    res.set_header("Access-Control-Allow-Headers", "Authorization");
    res.set_header("Access-Control-Max-Age", std::to_string(kMaxAgeS));
}

void CorsPolicy::extend_csp(HttpResponse& res) {
    std::string csp = res.get_header_value("Content-Security-Policy");
    const size_t at = csp.find("connect-src");
    if (at == std::string::npos) return;
    size_t end = csp.find(';', at);
    if (end == std::string::npos) end = csp.size();
    std::string more;
    for (const auto& o : origins()) more += " " + o;  // normalized: no space, quote or ';' in them
    if (more.empty()) return;
    csp.insert(end, more);
    res.set_header("Content-Security-Policy", csp);
}

}  // namespace itscam::service
