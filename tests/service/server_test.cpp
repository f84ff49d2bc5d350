// service::Server: the `alerts:` section (rules + webhook), and the GPU inputs wired from a GpuMonitor through the
// Server's own timers into the alert engine, the history and /health/performance: only the configured device_ids,
// only when the device is cuda. This machine has no GPU and no NVML, so the monitor runs on an injected sampler
// (the NVML reader is the same class, compiled and tested for its absence in metrics_test.cpp).
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "pipeline/pipeline.h"
#include "service/server.h"
#include "service_test_util.h"
#include "../events/mqtt_test_util.h"

using namespace itscam;
using namespace itscam::service;
namespace fs = std::filesystem;
using itscam::service::test::wait_for;
using json = nlohmann::json;

namespace {

const std::string kServerModel = test::kYoloModel;

config::Config with_alerts(const std::string& alerts_json) {
    config::Config c;
    c.reserved_json.sections["alerts"] = alerts_json;
    return c;
}

}  // namespace

TEST(AlertSetup, RulesAndWebhookFromTheAlertsSection) {
    const config::Config no_section;
    auto s = alert_setup_from_config(no_section);
    ASSERT_TRUE(s.is_ok());
    EXPECT_FALSE(s->webhook.has_value());
    EXPECT_EQ(s->rules.rules.size(), AlertRulesConfig::defaults().rules.size());

    s = alert_setup_from_config(with_alerts(
        R"({"baseline_p99_ms": 60, "rules": {"gpu_memory_pressure_high": {"threshold": 0.8}},
            "webhook": {"url": "http://127.0.0.1:9/hook", "timeout_s": 1.5, "send_pending": true}})"));
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    EXPECT_EQ(s->rules.baseline_p99_ms, 60);
    EXPECT_EQ(s->rules.find("gpu_memory_pressure_high")->threshold, 0.8);
    ASSERT_TRUE(s->webhook.has_value());
    EXPECT_EQ(s->webhook->url, "http://127.0.0.1:9/hook");
    EXPECT_EQ(s->webhook->timeout_s, 1.5);
    EXPECT_TRUE(s->webhook->send_pending);
}

TEST(AlertSetup, ErrorsNameTheKey) {
    const std::pair<const char*, const char*> bad[] = {
        {R"([1, 2])", "alerts: expected a map"},
        {R"({"webhook": {"url": "http://h/x", "retries": 3}})", "alerts.webhook: unknown key 'retries'"},
        {R"({"webhook": {"url": "ftp://h/x"}})", "alerts.webhook"},
        {R"({"webhook": {"url": "http://h/x", "timeout_s": 0}})", "alerts.webhook.timeout_s"},
        {R"({"rules": {"no_such_rule": {}}})", "unknown rule 'no_such_rule'"},
    };
    for (const auto& [text, want] : bad) {
        const Status st = Server::validate(with_alerts(text));
        EXPECT_FALSE(st.is_ok()) << text;
        EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << text;
        EXPECT_NE(st.message().find(want), std::string::npos) << text << " -> " << st.message();
        EXPECT_FALSE(Server::create(with_alerts(text)).is_ok()) << text;
    }
}

// One loaded pipeline (no cameras) for the Server tests: the Server's timers start once it reports ready.
class ServerGpuTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!fs::exists(kServerModel)) return;
        config::Config c = pipeline_config();
        pipeline::PipelineOptions po;
        po.log = [](const std::string&) {};
        auto p = pipeline::Pipeline::create(c, po);
        ASSERT_TRUE(p.is_ok()) << p.status().to_string();
        pipe_ = std::move(p).value().release();
    }
    static void TearDownTestSuite() {
        delete pipe_;
        pipe_ = nullptr;
    }
    static config::Config pipeline_config() { return test::small_cpu_config(); }
    void SetUp() override {
        if (!fs::exists(kServerModel)) GTEST_SKIP() << "model not found: " << kServerModel;
        ASSERT_NE(pipe_, nullptr);
        dir_ = fs::temp_directory_path() / ("itscam_server_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // The Server's view of the deployment: `device` with device_ids [1]; GPU memory rule after 0.3 s; evaluation
    // every 50 ms, a history sample every 100 ms, the HTTP API on a free port.
    config::Config server_config(const std::string& device) {
        config::Config c = pipeline_config();
        c.device = device;
        c.settings.device_ids = {1};
        c.server.port = 0;
        c.history.path = (dir_ / "history.db").string();
        c.history.sample_interval_s = 0.1;
        c.reserved_json.sections["alerts"] = R"({"rules": {"gpu_memory_pressure_high": {"for": 0.3}}})";
        return c;
    }

    // Two GPUs as NVML would report them: GPU 0 always 99% full (not ours), GPU 1 at `gpu1_used_` GiB of 100.
    std::shared_ptr<GpuMonitor> monitor() {
        return std::make_shared<GpuMonitor>([this] {
            std::vector<GpuSample> v(2);
            for (int i = 0; i < 2; ++i) {
                v[i].index = i;
                v[i].name = "NVIDIA H200";
                v[i].memory_total_bytes = 100ull << 30;
                v[i].memory_known = true;
            }
            v[0].utilization = 1.0;
            v[0].memory_used_bytes = 99ull << 30;
            v[1].utilization = 0.25;
            v[1].memory_used_bytes = static_cast<uint64_t>(gpu1_used_.load()) << 30;
            return v;
        });
    }

    std::unique_ptr<Server> start(const config::Config& c) {
        ServerOptions so;
        so.alert_interval_s = 0.05;
        so.gpu = monitor();
        so.log = [](const std::string&) {};
        auto s = Server::create(c, so);
        EXPECT_TRUE(s.is_ok()) << s.status().to_string();
        if (!s) return nullptr;
        EXPECT_TRUE((*s)->start(*pipe_).is_ok());
        return std::move(s).value();
    }

    static pipeline::Pipeline* pipe_;
    fs::path dir_;
    std::atomic<int> gpu1_used_{50};
};
pipeline::Pipeline* ServerGpuTest::pipe_ = nullptr;

// This machine has no CUDA device: the pipeline runs on the CPU, and the Server is told the deployment is
// `device: cuda, device_ids: [1]`, which is all it reads to choose the GPUs that stand for the pipeline.
TEST_F(ServerGpuTest, GpuMemoryPressureRuleFollowsTheConfiguredGpu) {
    auto server = start(server_config("cuda"));
    ASSERT_TRUE(server);
    std::mutex mu;
    std::vector<AlertState> seen;
    server->alerts().on_transition([&](const AlertTransition& t) {
        if (t.alert.rule != "gpu_memory_pressure_high") return;
        std::lock_guard<std::mutex> lk(mu);
        seen.push_back(t.to);
    });
    auto last = [&] {
        std::lock_guard<std::mutex> lk(mu);
        return seen.empty() ? AlertState::kInactive : seen.back();
    };
    // GPU 0 is 99% full but not configured: nothing fires.
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_EQ(last(), AlertState::kInactive);
    EXPECT_TRUE(server->alerts().active().empty());

    gpu1_used_ = 95;
    ASSERT_TRUE(wait_for([&] { return last() == AlertState::kFiring; }, 10));
    const auto active = server->alerts().active();
    ASSERT_EQ(active.size(), 1u);
    EXPECT_EQ(active[0].rule, "gpu_memory_pressure_high");
    EXPECT_NEAR(active[0].value, 0.95, 1e-9);

    // /health/performance: the configured GPU's utilization only (0.25, not the mean 0.625 over both).
    httplib::Client cli("127.0.0.1", server->http()->port());
    auto r = cli.Get("/health/performance");
    ASSERT_TRUE(r);
    const json j = json::parse(r->body);
    EXPECT_DOUBLE_EQ(j["gpu_utilization"].get<double>(), 0.25) << j.dump();
    EXPECT_EQ(j["gpu_utilization_gpus"], json::array({1}));
    EXPECT_FALSE(j.contains("gpu_utilization_note"));
    // /metrics lists every GPU NVML reports (labelled), and the firing alert.
    r = cli.Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("itscam_gpu_memory_used_bytes{gpu=\"0\""), std::string::npos);
    EXPECT_NE(r->body.find("itscam_alert_active{rule=\"gpu_memory_pressure_high\",severity=\"warning\"} 2"),
              std::string::npos)
        << r->body;

    gpu1_used_ = 50;
    ASSERT_TRUE(wait_for([&] { return last() == AlertState::kResolved; }, 10));

    // The history rows carry the same inputs.
    server->stop();
    server->finish(pipe_->snapshot());
    auto rows = server->history()->samples(std::chrono::system_clock::now() - std::chrono::hours(1),
                                           std::chrono::system_clock::now() + std::chrono::hours(1));
    ASSERT_TRUE(rows.is_ok());
    ASSERT_FALSE(rows->empty());
    double max_pressure = 0;
    for (const auto& h : *rows) {
        ASSERT_TRUE(h.gpu_memory_pressure.has_value());
        ASSERT_TRUE(h.gpu_utilization.has_value());
        EXPECT_DOUBLE_EQ(*h.gpu_utilization, 0.25);
        max_pressure = std::max(max_pressure, *h.gpu_memory_pressure);
    }
    EXPECT_NEAR(max_pressure, 0.95, 1e-9);
}

TEST_F(ServerGpuTest, NoGpuInputsWhenTheDeviceIsNotCuda) {
    gpu1_used_ = 99;
    auto server = start(server_config("cpu"));
    ASSERT_TRUE(server);
    httplib::Client cli("127.0.0.1", server->http()->port());
    auto r = cli.Get("/health/performance");
    ASSERT_TRUE(r);
    const json j = json::parse(r->body);
    EXPECT_TRUE(j["gpu_utilization"].is_null());
    EXPECT_EQ(j["gpu_utilization_note"], "device is cpu: the pipeline uses no GPU");
    EXPECT_EQ(j["gpu_utilization_gpus"], json::array());
    std::this_thread::sleep_for(std::chrono::milliseconds(800));  // 16 evaluations with both GPUs 99% full
    for (const auto& s : server->alerts().stats())
        if (s.rule == "gpu_memory_pressure_high") {
            EXPECT_EQ(s.times_pending, 0);
        }
    server->finish(pipe_->snapshot());
    auto rows = server->history()->samples(std::chrono::system_clock::now() - std::chrono::hours(1),
                                           std::chrono::system_clock::now() + std::chrono::hours(1));
    ASSERT_TRUE(rows.is_ok());
    ASSERT_FALSE(rows->empty());
    for (const auto& h : *rows) {
        EXPECT_FALSE(h.gpu_memory_pressure.has_value());
        EXPECT_FALSE(h.gpu_utilization.has_value());
    }
}

// events.mqtt against a real mosquitto that refuses the publisher's password: /health/ready's body and the log say
// so in plain words (the node stays ready: detections still serve, events wait in the spool), /metrics shows the
// publisher as disconnected with its spool. Then a right password: connected, and the warning is gone.
TEST_F(ServerGpuTest, BrokerRefusingTheCredentialsShowsInReadyMetricsAndLog) {
    namespace et = itscam::events::testing;
    if (!et::have_mosquitto() || !et::have_command("mosquitto_passwd")) GTEST_SKIP() << "mosquitto not installed";
    et::TempDir dir("server_mqtt");
    const int port = et::free_port();
    const std::string pwfile = dir.str("passwd");
    ASSERT_TRUE(et::add_password(pwfile, "itscam", "right-password", true));
    et::TestBroker broker(dir.path(), {port});
    broker.set_config("listener " + std::to_string(port) + " 127.0.0.1\nallow_anonymous false\npassword_file " +
                      pwfile + "\n");
    ASSERT_TRUE(broker.start());

    auto run = [&](const std::string& password, std::vector<std::string>& logs, std::mutex& mu) {
        config::Config c = server_config("cpu");
        c.events.mqtt.enabled = true;
        c.events.mqtt.port = port;
        c.events.mqtt.username = "itscam";
        c.events.mqtt.password = password;
        c.events.mqtt.spool_dir = dir.str("spool");
        c.events.mqtt.reconnect_min_s = 0.1;
        c.events.mqtt.reconnect_max_s = 0.5;
        ServerOptions so;
        so.gpu = monitor();
        so.log = [&](const std::string& l) {
            std::lock_guard<std::mutex> lk(mu);
            logs.push_back(l);
        };
        auto s = Server::create(c, so);
        EXPECT_TRUE(s.is_ok()) << s.status().to_string();
        if (s.is_ok()) {
            EXPECT_TRUE((*s)->start(*pipe_).is_ok());
        }
        return s.is_ok() ? std::move(s).value() : nullptr;
    };
    // Polls /health/ready into `body` until `done()` (10 s).
    auto ready_until = [](httplib::Client& cli, json& body, const std::function<bool()>& done) {
        return wait_for(
            [&] {
                auto r = cli.Get("/health/ready");
                if (!r) return false;
                body = json::parse(r->body);
                return done();
            },
            10);
    };
    const std::string refused = "MQTT broker 127.0.0.1:" + std::to_string(port) + " refused the credentials";
    {
        std::mutex mu;
        std::vector<std::string> logs;
        auto server = run("wrong-password", logs, mu);
        ASSERT_TRUE(server);
        httplib::Client cli("127.0.0.1", server->http()->port());
        json ready;
        ASSERT_TRUE(ready_until(cli, ready, [&] {
            return ready["events"]["mqtt"].value("error", "").find(refused) != std::string::npos;
        })) << ready.dump();
        EXPECT_FALSE(ready["events"]["mqtt"]["connected"].get<bool>());
        ASSERT_TRUE(ready["warnings"].is_array());
        EXPECT_NE(ready["warnings"][0].get<std::string>().find(refused), std::string::npos) << ready.dump();
        EXPECT_EQ(ready.dump().find("wrong-password"), std::string::npos);
        auto m = cli.Get("/metrics");
        ASSERT_TRUE(m);
        EXPECT_NE(m->body.find("\nitscam_mqtt_connected 0\n"), std::string::npos) << m->body;
        EXPECT_NE(m->body.find("\nitscam_mqtt_spooled_messages "), std::string::npos);
        EXPECT_NE(m->body.find("\nitscam_mqtt_dropped_total 0\n"), std::string::npos);
        std::lock_guard<std::mutex> lk(mu);
        bool logged = false;
        for (const auto& l : logs) {
            logged = logged || l.find(refused) != std::string::npos;
            EXPECT_EQ(l.find("wrong-password"), std::string::npos) << l;
        }
        EXPECT_TRUE(logged);
    }
    std::mutex mu;
    std::vector<std::string> logs;
    auto server = run("right-password", logs, mu);
    ASSERT_TRUE(server);
    httplib::Client cli("127.0.0.1", server->http()->port());
    json ready;
    ASSERT_TRUE(ready_until(cli, ready, [&] { return ready["events"]["mqtt"]["connected"].get<bool>(); }))
        << ready.dump();
    EXPECT_FALSE(ready.contains("warnings")) << ready.dump();
    EXPECT_FALSE(ready["events"]["mqtt"].contains("error"));
    auto m = cli.Get("/metrics");
    ASSERT_TRUE(m);
    EXPECT_NE(m->body.find("\nitscam_mqtt_connected 1\n"), std::string::npos) << m->body;
}
