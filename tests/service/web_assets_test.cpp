// The embedded dashboard (src/service/web_assets.*): exactly the files of web/, with their types and security
// headers, and nothing else (no path traversal, no file system).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "service/http_message.h"
#include "service/http_router.h"
#include "service/web_assets.h"

namespace itscam::service {
namespace {

HttpResponse get(const std::string& path, const std::string& if_none_match = "") {
    HttpRequest req;
    req.method = "GET";
    req.path = path;
    if (!if_none_match.empty()) req.headers.emplace_back("If-None-Match", if_none_match);
    HttpResponse res;
    serve_web_asset(req, res);
    return res;
}

TEST(WebAssets, EmbedsTheDashboardWithTypes) {
    std::set<std::string> paths;
    for (const auto& a : web_assets()) {
        paths.insert(a.path);
        EXPECT_FALSE(a.body.empty()) << a.path;
        EXPECT_EQ(a.etag.size(), 18u) << a.path;
    }
    EXPECT_TRUE(paths.count("/") && paths.count("/app.js") && paths.count("/style.css"));
    EXPECT_EQ(web_assets().front().path, "/");
    EXPECT_EQ(find_web_asset("/")->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(find_web_asset("/index.html"), find_web_asset("/"));
    EXPECT_EQ(find_web_asset("/app.js")->content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(find_web_asset("/style.css")->content_type, "text/css; charset=utf-8");
    EXPECT_NE(std::string(find_web_asset("/")->body).find("<script src=\"/app.js\""), std::string::npos);
}

TEST(WebAssets, ServesWithSecurityHeadersAndEtag) {
    const auto res = get("/app.js");
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.get_header_value("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(res.get_header_value("Cache-Control"), "no-cache");
    EXPECT_EQ(res.get_header_value("Content-Security-Policy"), kDashboardCsp);
    EXPECT_EQ(res.get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(res.body, std::string(find_web_asset("/app.js")->body));
    const std::string etag = res.get_header_value("ETag");
    ASSERT_FALSE(etag.empty());
    EXPECT_EQ(get("/app.js", etag).status, 304);
    EXPECT_EQ(get("/app.js", "\"other\", W/" + etag).status, 304);
    EXPECT_EQ(get("/app.js", "\"other\"").status, 200);
    // The policy forbids inline script and anything from elsewhere.
    const std::string csp = kDashboardCsp;
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe"), std::string::npos);
}

TEST(WebAssets, NothingOutsideTheEmbeddedList) {
    for (const char* p : {"/../CMakeLists.txt", "/web/app.js", "/app.js/", "/APP.JS", "/index.htm", "//app.js",
                          "/etc/passwd", "/app.js%00", "/.git/config", ""}) {
        EXPECT_EQ(get(p).status, 404) << p;
        EXPECT_EQ(find_web_asset(p), nullptr) << p;
    }
    // Routed as the service routes them (one literal route per file): exactly the embedded paths.
    HttpRouter router;
    for (const auto& a : web_assets()) router.add("GET", a.path, Access::kOpen, serve_web_asset);
    router.add("GET", "/index.html", Access::kOpen, serve_web_asset);
    for (const auto& a : web_assets()) EXPECT_EQ(router.match("GET", a.path).status, 200) << a.path;
    EXPECT_EQ(router.match("GET", "/index.html").status, 200);
    EXPECT_EQ(router.match("POST", "/app.js").status, 405);
    for (const char* p : {"/appxjs", "/app.js/x", "/x/app.js", "/health", "/api/v1/cameras", "/style.cssx"})
        EXPECT_EQ(router.match("GET", p).status, 404) << p;
}

}  // namespace
}  // namespace itscam::service
