// CorsPolicy (http_cors.h) without HTTP: the origin's normal form, which requests get which headers, and how the
// allowed list follows the cluster's members (refresh, outage). The same over real HTTP with a cluster:
// http_cluster_test.cpp; with real nodes and etcd: tests/cluster/cluster_nodes_test.py.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "service/http_cors.h"

using namespace itscam;
using namespace itscam::service;

namespace {

HttpRequest request(const std::string& method, const std::string& origin, const std::string& preflight_method = "") {
    HttpRequest r;
    r.method = method;
    r.target = r.path = "/streams/a/live.mp4";
    if (!origin.empty()) r.headers.emplace_back("Origin", origin);
    if (!preflight_method.empty()) r.headers.emplace_back("Access-Control-Request-Method", preflight_method);
    return r;
}

}  // namespace

TEST(NormalizeOrigin, BrowserForm) {
    EXPECT_EQ(normalize_origin("http://127.0.0.1:8123"), "http://127.0.0.1:8123");
    EXPECT_EQ(normalize_origin("HTTP://Edge-3.Example:8000/"), "http://edge-3.example:8000");
    EXPECT_EQ(normalize_origin("http://host:80"), "http://host");
    EXPECT_EQ(normalize_origin("https://host:443/api"), "https://host");
    EXPECT_EQ(normalize_origin("https://host:80"), "https://host:80");
    EXPECT_EQ(normalize_origin("http://[::1]:8000"), "http://[::1]:8000");
    EXPECT_EQ(normalize_origin("http://[::1]"), "http://[::1]");
    for (const std::string bad : {"", "null", "host:8000", "ftp://host", "http://", "http://:80", "http://u:p@host",
                                  "http://host:0", "http://host:65536", "http://host:", "http://host:8a",
                                  "http://host/?q=1", "http://host#x", "http://ho st", "http://[::1"})
        EXPECT_EQ(normalize_origin(bad), std::nullopt) << bad;
}

TEST(CorsPolicy, AllowedOriginGetsTheHeaders) {
    CorsPolicy p([] { return Result<std::vector<std::string>>(std::vector<std::string>{"http://10.0.0.5:8000/"}); });
    HttpResponse res;
    p.annotate(request("GET", "http://10.0.0.5:8000"), res);
    EXPECT_EQ(res.get_header_value("Access-Control-Allow-Origin"), "http://10.0.0.5:8000");
    EXPECT_EQ(res.get_header_value("Vary"), "Origin");

    HttpResponse pre;
    p.preflight(request("OPTIONS", "http://10.0.0.5:8000", "GET"), pre);
    EXPECT_EQ(pre.status, 204);
    EXPECT_EQ(pre.get_header_value("Access-Control-Allow-Origin"), "http://10.0.0.5:8000");
    EXPECT_EQ(pre.get_header_value("Access-Control-Allow-Methods"), "GET, HEAD");
    EXPECT_EQ(pre.get_header_value("Access-Control-Allow-Headers"), "Authorization");
    EXPECT_EQ(pre.get_header_value("Access-Control-Max-Age"), "600");
}

TEST(CorsPolicy, OtherOriginsWritesAndPlainRequestsGetNone) {
    CorsPolicy p([] { return Result<std::vector<std::string>>(std::vector<std::string>{"http://10.0.0.5:8000"}); });
    for (const auto& req : {request("GET", "http://10.0.0.6:8000"), request("GET", ""), request("GET", "null"),
                            request("DELETE", "http://10.0.0.5:8000"), request("POST", "http://10.0.0.5:8000")}) {
        HttpResponse res;
        p.annotate(req, res);
        EXPECT_EQ(res.get_header_value("Access-Control-Allow-Origin"), "") << req.method;
    }
    for (const auto& req : {request("OPTIONS", "http://10.0.0.6:8000", "GET"),
                            request("OPTIONS", "http://10.0.0.5:8000", "DELETE"),
                            request("OPTIONS", "http://10.0.0.5:8000", "POST"),
                            request("OPTIONS", "http://10.0.0.5:8000")}) {
        HttpResponse res;
        p.preflight(req, res);
        EXPECT_EQ(res.status, 204);
        EXPECT_EQ(res.get_header_value("Access-Control-Allow-Origin"), "");
        EXPECT_EQ(res.get_header_value("Access-Control-Allow-Methods"), "");
    }
}

TEST(CorsPolicy, FollowsTheMembersAndSurvivesAnOutage) {
    std::atomic<int> calls{0};
    std::atomic<int> phase{0};  // 0: etcd down from the start; 1: member A; 2: member B; 3: down again
    CorsPolicy p(
        [&]() -> Result<std::vector<std::string>> {
            ++calls;
            switch (phase.load()) {
                case 1: return std::vector<std::string>{"http://a:1"};
                case 2: return std::vector<std::string>{"http://b:2", "not a url"};
                default: return unavailable("etcd down");
            }
        },
        std::chrono::milliseconds(50));
    EXPECT_EQ(p.allowed_origin(request("GET", "http://a:1")), "") << "nothing before the first answer";
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    phase = 1;
    EXPECT_EQ(p.allowed_origin(request("GET", "http://a:1")), "http://a:1");
    const int after = calls.load();
    for (int i = 0; i < 20; ++i) p.allowed_origin(request("GET", "http://a:1"));
    EXPECT_EQ(calls.load(), after) << "the source is asked at most once per refresh";
    phase = 2;
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    EXPECT_EQ(p.allowed_origin(request("GET", "http://a:1")), "") << "a member that left is no longer trusted";
    EXPECT_EQ(p.allowed_origin(request("GET", "http://b:2")), "http://b:2");
    phase = 3;
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    EXPECT_EQ(p.allowed_origin(request("GET", "http://b:2")), "http://b:2") << "an outage keeps the last list";
}

TEST(CorsPolicy, DashboardMayConnectToTheMembers) {
    CorsPolicy p([] {
        return Result<std::vector<std::string>>(std::vector<std::string>{"http://10.0.0.5:8000", "http://10.0.0.6:80"});
    });
    HttpResponse res;
    res.set_header("Content-Security-Policy", "default-src 'none'; connect-src 'self'; base-uri 'none'");
    p.extend_csp(res);
    EXPECT_EQ(res.get_header_value("Content-Security-Policy"),
              "default-src 'none'; connect-src 'self' http://10.0.0.5:8000 http://10.0.0.6; base-uri 'none'");
    HttpResponse none;
    p.extend_csp(none);
    EXPECT_FALSE(none.get_header_value("Content-Security-Policy").size()) << "no policy: none made up";
}
