#include "service/web_assets.h"

#include "service/http_message.h"


#include <cstdint>
#include <cstdio>

namespace itscam::service {

namespace {

std::string etag_of(std::string_view body) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bit: a validator, not a security measure
    for (unsigned char c : body) {
        h ^= c;
        h *= 1099511628211ull;
    }
    char buf[24];
    std::snprintf(buf, sizeof(buf), "\"%016llx\"", static_cast<unsigned long long>(h));
    return buf;
}

std::vector<WebAsset> build() {
    std::vector<WebAsset> v;
    for (size_t i = 0; i < web_data::kFileCount; ++i) {
        const auto& f = web_data::kFiles[i];
        const std::string name = f.name;
        WebAsset a{name == "index.html" ? "/" : "/" + name, f.content_type,
                   std::string_view(reinterpret_cast<const char*>(f.data), f.size), ""};
        a.etag = etag_of(a.body);
        if (name == "index.html") v.insert(v.begin(), std::move(a));
        else v.push_back(std::move(a));
    }
    return v;
}

bool etag_matches(const std::string& if_none_match, const std::string& etag) {
    if (if_none_match.empty()) return false;
    if (if_none_match == "*") return true;
    size_t pos = 0;  // a comma-separated list of (possibly weak) tags
    while (pos < if_none_match.size()) {
        size_t end = if_none_match.find(',', pos);
        if (end == std::string::npos) end = if_none_match.size();
        std::string t = if_none_match.substr(pos, end - pos);
        while (!t.empty() && t.front() == ' ') t.erase(t.begin());
        while (!t.empty() && t.back() == ' ') t.pop_back();
        if (t.rfind("W/", 0) == 0) t = t.substr(2);
        if (t == etag) return true;
        pos = end + 1;
    }
    return false;
}

}  // namespace

const std::vector<WebAsset>& web_assets() {
    static const std::vector<WebAsset> assets = build();
    return assets;
}

const WebAsset* find_web_asset(std::string_view url_path) {
    if (url_path == "/index.html") url_path = "/";
    for (const auto& a : web_assets())
        if (a.path == url_path) return &a;
    return nullptr;
}

void serve_web_asset(const HttpRequest& req, HttpResponse& res) {
    const WebAsset* a = find_web_asset(req.path);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    if (!a) {
        res.status = 404;
        res.set_content(R"({"error":"not found","status":404})", "application/json");
        return;
    }
    res.set_header("Content-Security-Policy", kDashboardCsp);
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("ETag", a->etag);
    if (etag_matches(req.get_header_value("If-None-Match"), a->etag)) {
        res.status = 304;
        return;
    }
    res.status = 200;
    res.set_content(a->body.data(), a->body.size(), a->content_type);
}

}  // namespace itscam::service
