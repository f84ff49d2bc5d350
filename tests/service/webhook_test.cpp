#include <gtest/gtest.h>

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/webhook.h"

namespace itscam::service {
namespace {

using namespace std::chrono_literals;

// An httplib server on 127.0.0.1, any free port, recording POST /hook bodies. The first `fail_first` requests get
// HTTP 500.
struct HookServer {
    httplib::Server svr;
    std::thread th;
    int port = -1;
    std::mutex mu;
    std::vector<std::string> bodies;
    std::atomic<int> requests{0};
    int fail_first = 0;

    HookServer() {
        svr.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
            const int n = requests++;
            if (n < fail_first) {
                res.status = 500;
                return;
            }
            std::lock_guard<std::mutex> lock(mu);
            bodies.push_back(req.body);
            res.status = 204;
        });
        port = svr.bind_to_any_port("127.0.0.1");
        th = std::thread([this] { svr.listen_after_bind(); });
        while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~HookServer() {
        svr.stop();
        th.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
    std::vector<std::string> received() {
        std::lock_guard<std::mutex> lock(mu);
        return bodies;
    }
};

AlertTransition firing(const std::string& rule = "inference_latency_p99_high") {
    AlertTransition t;
    t.from = AlertState::kPending;
    t.to = AlertState::kFiring;
    t.at = std::chrono::system_clock::now();
    t.alert.rule = rule;
    t.alert.severity = AlertSeverity::kCritical;
    t.alert.state = AlertState::kFiring;
    t.alert.value = 134.2;
    t.alert.threshold = 100;
    t.alert.fired_at = t.at;
    t.alert.message = "inference latency p99 134.2 ms > 100 ms";
    return t;
}

TEST(Webhook, ParsesUrls) {
    std::string base, path;
    ASSERT_TRUE(parse_webhook_url("http://example.com:8080/a/b?x=1", &base, &path).is_ok());
    EXPECT_EQ(base, "http://example.com:8080");
    EXPECT_EQ(path, "/a/b?x=1");
    ASSERT_TRUE(parse_webhook_url("http://host", &base, &path).is_ok());
    EXPECT_EQ(path, "/");
    EXPECT_FALSE(parse_webhook_url("", &base, &path).is_ok());
    EXPECT_FALSE(parse_webhook_url("ftp://host/x", &base, &path).is_ok());
    EXPECT_FALSE(parse_webhook_url("host/x", &base, &path).is_ok());
    EXPECT_FALSE(parse_webhook_url("http:///x", &base, &path).is_ok());
    EXPECT_FALSE(WebhookNotifier::create(WebhookOptions{}).is_ok());
}

TEST(Webhook, PostsFiringAndResolvedTransitions) {
    HookServer server;
    ASSERT_GT(server.port, 0);
    WebhookOptions opt;
    opt.url = server.url();
    opt.headers["X-Token"] = "secret";
    auto n = WebhookNotifier::create(opt);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    AlertTransition pending = firing();
    pending.from = AlertState::kInactive;
    pending.to = AlertState::kPending;
    EXPECT_FALSE((*n)->notify(pending));  // pending is not sent by default
    EXPECT_TRUE((*n)->notify(firing()));
    AlertTransition resolved = firing();
    resolved.from = AlertState::kFiring;
    resolved.to = AlertState::kResolved;
    EXPECT_TRUE((*n)->notify(resolved));
    ASSERT_TRUE((*n)->flush(10s).is_ok());
    const auto bodies = server.received();
    ASSERT_EQ(bodies.size(), 2u);
    const auto j = nlohmann::json::parse(bodies[0]);
    EXPECT_EQ(j["rule"], "inference_latency_p99_high");
    EXPECT_EQ(j["state"], "firing");
    EXPECT_EQ(j["severity"], "critical");
    EXPECT_EQ(j["source"], "itscam");
    EXPECT_DOUBLE_EQ(j["value"].get<double>(), 134.2);
    EXPECT_EQ(nlohmann::json::parse(bodies[1])["state"], "resolved");
    const WebhookStats st = (*n)->stats();
    EXPECT_EQ(st.sent, 2);
    EXPECT_EQ(st.failed, 0);
    EXPECT_EQ(st.dropped, 0);
}

TEST(Webhook, PayloadsAndErrorsNeverCarryCredentials) {
    HookServer server;
    ASSERT_GT(server.port, 0);
    WebhookOptions opt;
    opt.url = server.url();
    auto n = WebhookNotifier::create(opt);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    EXPECT_TRUE((*n)->enqueue({{"message", "camera rtsp://admin:PlantedHookPw@10.0.0.1/x failed"}}));
    ASSERT_TRUE((*n)->flush(10s).is_ok());
    const auto bodies = server.received();
    ASSERT_EQ(bodies.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(bodies[0])["message"], "camera rtsp://admin:***@10.0.0.1/x failed");
    // A webhook URL with a password (nothing listens on port 1): its errors show it masked.
    WebhookOptions dead;
    dead.url = "http://hook:PlantedHookUrlPw@127.0.0.1:1/hook";
    dead.timeout_s = 0.5;
    dead.max_retries = 0;
    auto d = WebhookNotifier::create(dead);
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_TRUE((*d)->enqueue({{"x", 1}}));
    ASSERT_TRUE((*d)->flush(10s).is_ok());
    const std::string err = (*d)->stats().last_error;
    EXPECT_FALSE(err.empty());
    EXPECT_EQ(err.find("PlantedHookUrlPw"), std::string::npos) << err;
    EXPECT_NE(err.find("http://hook:***@127.0.0.1:1/hook"), std::string::npos) << err;
    EXPECT_EQ(parse_webhook_url("ftp://u:PlantedHookUrlPw@h/x", nullptr, nullptr).message().find("PlantedHookUrlPw"),
              std::string::npos);
}

TEST(Webhook, AttachedToEngine) {
    HookServer server;
    WebhookOptions opt;
    opt.url = server.url();
    auto n = WebhookNotifier::create(opt);
    ASSERT_TRUE(n.is_ok());
    AlertRulesConfig cfg = AlertRulesConfig::defaults();
    cfg.find("circuit_breaker_open")->for_s = 0;
    AlertEngine eng(cfg);
    (*n)->attach(eng);
    MetricsSample s;
    s.circuit_open = true;
    eng.evaluate(s);
    ASSERT_TRUE((*n)->flush(10s).is_ok());
    const auto bodies = server.received();
    ASSERT_EQ(bodies.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(bodies[0])["rule"], "circuit_breaker_open");
    n->reset();  // the engine's callback must now be a harmless no-op
    MetricsSample closed;
    closed.circuit_open = false;
    eng.evaluate(closed);
}

TEST(Webhook, RetriesOnServerError) {
    HookServer server;
    server.fail_first = 2;
    WebhookOptions opt;
    opt.url = server.url();
    opt.backoff_s = 0.01;
    auto n = WebhookNotifier::create(opt);
    ASSERT_TRUE(n.is_ok());
    EXPECT_TRUE((*n)->notify(firing()));
    ASSERT_TRUE((*n)->flush(10s).is_ok());
    EXPECT_EQ(server.received().size(), 1u);
    const WebhookStats st = (*n)->stats();
    EXPECT_EQ(st.sent, 1);
    EXPECT_EQ(st.retries, 2);
    EXPECT_EQ(st.failed, 0);
}

TEST(Webhook, UnreachableUrlDoesNotBlockAndCountsFailure) {
    int dead_port;
    {
        HookServer tmp;  // take a free port, then close it
        dead_port = tmp.port;
    }
    WebhookOptions opt;
    opt.url = "http://127.0.0.1:" + std::to_string(dead_port) + "/hook";
    opt.timeout_s = 0.5;
    opt.backoff_s = 0.01;
    opt.queue_capacity = 2;
    auto n = WebhookNotifier::create(opt);
    ASSERT_TRUE(n.is_ok());
    const auto t0 = std::chrono::steady_clock::now();
    int accepted = 0;
    for (int i = 0; i < 50; ++i) accepted += (*n)->notify(firing()) ? 1 : 0;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // never waits for the network
    ASSERT_TRUE((*n)->flush(20s).is_ok());
    const WebhookStats st = (*n)->stats();
    EXPECT_EQ(st.enqueued, accepted);
    EXPECT_EQ(st.dropped, 50 - accepted);
    EXPECT_GT(st.dropped, 0);
    EXPECT_EQ(st.failed, accepted);
    EXPECT_EQ(st.sent, 0);
    EXPECT_EQ(st.retries, 2 * accepted);
    EXPECT_FALSE(st.last_error.empty());
}

TEST(Webhook, StopIsPromptWithQueuedWork) {
    WebhookOptions opt;
    opt.url = "http://127.0.0.1:1/hook";
    opt.backoff_s = 5;  // a long backoff the stop must cut short
    auto n = WebhookNotifier::create(opt);
    ASSERT_TRUE(n.is_ok());
    for (int i = 0; i < 5; ++i) (*n)->notify(firing());
    std::this_thread::sleep_for(50ms);
    const auto t0 = std::chrono::steady_clock::now();
    (*n)->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
    EXPECT_FALSE((*n)->notify(firing()));  // stopped: dropped
}

}  // namespace
}  // namespace itscam::service
