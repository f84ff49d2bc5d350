// MqttPublisher against a real mosquitto on loopback: order, a broker outage (ITSCAM_MQTT_OUTAGE_S, default 30 s),
// a publisher restart with a backlog, credentials, TLS, and the status topic's last will.
#include "events/mqtt_publisher.h"

#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "mqtt_test_util.h"

namespace itscam::events {
namespace {

using namespace testing;  // NOLINT: the helpers of mqtt_test_util.h
using Clock = std::chrono::steady_clock;

std::string event_payload(const std::string& camera, int64_t n) {
    return nlohmann::json{{"schema", 1}, {"id", camera + "-" + std::to_string(n)}, {"camera", camera}, {"n", n}}
        .dump();
}
std::string event_id(const std::string& camera, int64_t n) { return camera + "-" + std::to_string(n); }

// First occurrences must be 0, 1, 2, ... in that order; a repeat (same id) must be of one already seen.
struct OrderReport {
    int64_t unique = 0, duplicates = 0;
    std::string problem;
};
OrderReport check_order(const std::vector<ReceivedMessage>& msgs, const std::string& camera) {
    OrderReport r;
    std::set<std::string> seen;
    for (const auto& m : msgs) {
        const auto j = nlohmann::json::parse(m.payload, nullptr, false);
        if (j.is_discarded() || !j.contains("id") || !j.contains("n") || j["camera"] != camera) continue;
        const std::string id = j["id"];
        const int64_t n = j["n"];
        if (id != event_id(camera, n)) r.problem = "id " + id + " does not match n " + std::to_string(n);
        if (seen.count(id)) {
            ++r.duplicates;
            continue;
        }
        if (n != r.unique && r.problem.empty())
            r.problem = "expected event " + std::to_string(r.unique) + " next, got " + std::to_string(n);
        seen.insert(id);
        ++r.unique;
    }
    return r;
}

class MqttPublisherTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!have_mosquitto()) GTEST_SKIP() << kMosquittoBin << " is not installed";
        port_ = free_port();
        ASSERT_GT(port_, 0);
    }

    MqttConfig config() const {
        MqttConfig c;
        c.enabled = true;
        c.host = "127.0.0.1";
        c.port = port_;
        c.node = "testnode";
        c.spool_dir = dir_.str("spool");
        c.reconnect_min_s = 0.1;
        c.reconnect_max_s = 1;
        return c;
    }
    std::unique_ptr<MqttPublisher> make(const MqttConfig& c) {
        auto p = MqttPublisher::create(c, logs_.fn());
        EXPECT_TRUE(p.is_ok()) << p.status().to_string();
        return p.is_ok() ? std::move(*p) : nullptr;
    }
    static bool connected(MqttPublisher& p, double timeout_s = 10) {
        return wait_until([&] { return p.stats().connected; }, timeout_s);
    }
    std::string topic(const std::string& camera) const { return *mqtt_events_topic(config(), camera); }

    TempDir dir_{"mqtt_pub"};
    LogCapture logs_;
    int port_ = 0;
};

TEST_F(MqttPublisherTest, AThousandEventsArriveInOrder) {
    TestBroker broker(dir_.path(), {port_});
    broker.set_config("listener " + std::to_string(port_) + " 127.0.0.1\nallow_anonymous true\n");
    ASSERT_TRUE(broker.start());
    TestSubscriber sub(port_, topic("cam1"));
    ASSERT_TRUE(sub.wait_subscribed());
    auto p = make(config());
    ASSERT_TRUE(p);
    ASSERT_TRUE(connected(*p));
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < 1000; ++i) p->publish(topic("cam1"), event_payload("cam1", i), event_id("cam1", i));
    const double publish_s = seconds_since(t0);
    ASSERT_TRUE(p->flush(20)) << p->stats().spooled << " still spooled";
    ASSERT_TRUE(wait_until([&] { return sub.count() >= 1000; }, 10)) << sub.count();
    const double deliver_s = seconds_since(t0);
    const auto r = check_order(sub.messages(), "cam1");
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.unique, 1000);
    EXPECT_EQ(r.duplicates, 0);
    const PublisherStats s = p->stats();
    EXPECT_TRUE(s.connected);
    EXPECT_EQ(s.last_error, "");
    EXPECT_EQ(s.published, 1000);
    EXPECT_EQ(s.spooled, 0);
    EXPECT_EQ(s.dropped, 0);
    EXPECT_EQ(s.reconnects, 0);
    std::cout << "[ mqtt ] 1000 events: publish() calls " << publish_s * 1e3 << " ms, all acknowledged and received in "
              << deliver_s * 1e3 << " ms\n";
}

TEST_F(MqttPublisherTest, ManyPublishingThreadsEachKeepTheirOrder) {
    TestBroker broker(dir_.path(), {port_});
    broker.set_config("listener " + std::to_string(port_) + " 127.0.0.1\nallow_anonymous true\n");
    ASSERT_TRUE(broker.start());
    TestSubscriber sub(port_, "itscam/+/events");
    ASSERT_TRUE(sub.wait_subscribed());
    auto p = make(config());
    ASSERT_TRUE(p);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            const std::string cam = "cam" + std::to_string(t);
            for (int64_t i = 0; i < 250; ++i) p->publish(topic(cam), event_payload(cam, i), event_id(cam, i));
        });
    for (auto& th : threads) th.join();
    ASSERT_TRUE(p->flush(20));
    ASSERT_TRUE(wait_until([&] { return sub.count() >= 1000; }, 10)) << sub.count();
    const auto msgs = sub.messages();
    for (int t = 0; t < 4; ++t) {
        const auto r = check_order(msgs, "cam" + std::to_string(t));
        EXPECT_EQ(r.problem, "") << t;
        EXPECT_EQ(r.unique, 250) << t;
    }
}

// The test: the broker is killed during a run and restarted after ITSCAM_MQTT_OUTAGE_S (default 30) on the
// same port. Every event arrives, in order; duplicates (resent after the reconnect) carry the same id.
TEST_F(MqttPublisherTest, BrokerOutageEveryEventArrivesInOrder) {
    if (!have_command("mosquitto_passwd")) GTEST_SKIP() << "mosquitto_passwd is not installed";
    const char* env = std::getenv("ITSCAM_MQTT_OUTAGE_S");
    const double outage_s = env ? std::atof(env) : 30.0;
    // The subscriber has a clean session: after the restart it must be subscribed again before the publisher gets
    // in, or the backlog would go to nobody. The restarted broker first knows only the subscriber's password; the
    // publisher's is added (SIGHUP reload) once the subscriber is back.
    const std::string pwfile = dir_.str("passwd");
    ASSERT_TRUE(add_password(pwfile, "sub", "sub-pass-1", true));
    ASSERT_TRUE(add_password(pwfile, "pub", "pub-pass-1", false));
    TestBroker broker(dir_.path(), {port_});
    broker.set_config("listener " + std::to_string(port_) + " 127.0.0.1\nallow_anonymous false\npassword_file " +
                      pwfile + "\n");
    ASSERT_TRUE(broker.start());
    TestSubscriber sub(port_, topic("cam1"), "sub", "sub-pass-1");
    ASSERT_TRUE(sub.wait_subscribed());
    MqttConfig c = config();
    c.username = "pub";
    c.password = "pub-pass-1";
    c.reconnect_max_s = 2;
    auto p = make(c);
    ASSERT_TRUE(p);
    ASSERT_TRUE(connected(*p));

    // Events keep coming at ~1 kHz while the broker dies (some are in flight then).
    std::atomic<int64_t> sent{0};
    std::atomic<bool> go_on{true};
    std::thread producer([&] {
        while (go_on) {
            const int64_t i = sent.load();
            p->publish(topic("cam1"), event_payload("cam1", i), event_id("cam1", i));
            sent = i + 1;
            std::this_thread::sleep_for(std::chrono::microseconds(1000));
        }
    });
    ASSERT_TRUE(wait_until([&] { return sent >= 500; }, 10));
    broker.kill();
    const auto down_at = Clock::now();
    ASSERT_TRUE(wait_until([&] { return !p->stats().connected; }, 5));
    ASSERT_TRUE(wait_until([&] { return sent >= 2000; }, 10));
    go_on = false;
    producer.join();
    const int64_t total = sent;
    // While down: every unacknowledged event waits in the spool, and stats say so.
    PublisherStats s = p->stats();
    EXPECT_FALSE(s.connected);
    EXPECT_NE(s.last_error, "");
    EXPECT_EQ(s.spooled, total - s.published) << s.published << " of " << total << " acknowledged";
    EXPECT_GE(s.spooled, total - 500 - 100);
    EXPECT_GT(s.spool_bytes, 0);
    std::cout << "[ mqtt ] broker killed after " << s.published << " acknowledged events; " << s.spooled
              << " spooled while down (" << s.spool_bytes << " bytes); last_error: " << s.last_error << "\n";
    while (seconds_since(down_at) < outage_s) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        EXPECT_FALSE(p->stats().connected);
    }

    // Restart on the same port, subscriber first.
    ASSERT_TRUE(add_password(pwfile, "sub", "sub-pass-1", true));
    const int subscribed_before = sub.subscribed();
    ASSERT_TRUE(broker.start());
    const auto up_at = Clock::now();
    ASSERT_TRUE(sub.wait_subscribed(subscribed_before + 1, 15));
    ASSERT_TRUE(add_password(pwfile, "pub", "pub-pass-1", false));
    broker.reload();
    ASSERT_TRUE(p->flush(60)) << p->stats().spooled << " still spooled; " << p->stats().last_error;
    ASSERT_TRUE(wait_until([&] { return check_order(sub.messages(), "cam1").unique >= total; }, 60))
        << check_order(sub.messages(), "cam1").unique << " of " << total << " received";
    const double catch_up_s = seconds_since(up_at);
    const auto r = check_order(sub.messages(), "cam1");
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.unique, total);
    s = p->stats();
    EXPECT_TRUE(s.connected);
    EXPECT_GE(s.reconnects, 1);
    EXPECT_EQ(s.spooled, 0);
    EXPECT_EQ(s.dropped, 0);
    EXPECT_EQ(s.published, total);  // each event acknowledged once (resends replace an unacknowledged send)
    std::cout << "[ mqtt ] outage " << outage_s << " s: " << total << " events, all received in order, "
              << r.duplicates << " duplicates (same id), backlog delivered " << catch_up_s
              << " s after the broker came back\n";
}

// Events spooled while no broker is reachable survive a publisher restart and go out first, in order.
TEST_F(MqttPublisherTest, ARestartedPublisherDeliversTheBacklog) {
    const int n = 300;
    {
        auto p = make(config());  // nothing listens on port_
        ASSERT_TRUE(p);
        for (int64_t i = 0; i < n; ++i) p->publish(topic("cam1"), event_payload("cam1", i), event_id("cam1", i));
        ASSERT_TRUE(wait_until([&] { return !p->stats().last_error.empty(); }, 5));
        const auto s = p->stats();
        EXPECT_EQ(s.spooled, n);
        EXPECT_FALSE(s.connected);
        EXPECT_NE(s.last_error.find("cannot connect to MQTT broker 127.0.0.1:" + std::to_string(port_)),
                  std::string::npos)
            << s.last_error;
    }
    {
        auto p = make(config());  // a second run, still no broker: the backlog is there
        ASSERT_TRUE(p);
        EXPECT_EQ(p->stats().spooled, n);
    }
    TestBroker broker(dir_.path(), {port_});
    broker.set_config("listener " + std::to_string(port_) + " 127.0.0.1\nallow_anonymous true\n");
    ASSERT_TRUE(broker.start());
    TestSubscriber sub(port_, topic("cam1"));
    ASSERT_TRUE(sub.wait_subscribed());
    const auto t0 = Clock::now();
    auto p = make(config());
    ASSERT_TRUE(p);
    for (int64_t i = n; i < n + 50; ++i) p->publish(topic("cam1"), event_payload("cam1", i), event_id("cam1", i));
    ASSERT_TRUE(p->flush(20));
    ASSERT_TRUE(wait_until([&] { return sub.count() >= static_cast<size_t>(n + 50); }, 10));
    const auto r = check_order(sub.messages(), "cam1");
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.unique, n + 50);
    EXPECT_EQ(r.duplicates, 0);
    EXPECT_NE(logs_.all().find("events waiting in the spool"), std::string::npos) << logs_.all();
    std::cout << "[ mqtt ] backlog of " << n << " from a previous run delivered in " << seconds_since(t0) * 1e3
              << " ms\n";
}

// A long outage fills the spool: the oldest events go, counted in stats().dropped and logged.
TEST_F(MqttPublisherTest, AFullSpoolDropsTheOldestAndCountsThem) {
    MqttConfig c = config();  // nothing listens on port_
    c.spool_max_mb = 0.0625;  // 64 KiB
    auto p = make(c);
    ASSERT_TRUE(p);
    const std::string pad(1000, 'x');
    for (int64_t i = 0; i < 300; ++i)
        p->publish(topic("cam1"), event_payload("cam1", i) + pad, event_id("cam1", i));
    const auto s = p->stats();
    EXPECT_GT(s.dropped, 0);
    EXPECT_EQ(s.dropped + s.spooled, 300);
    EXPECT_LE(s.spool_bytes, 64 << 10);
    EXPECT_NE(logs_.all().find("is full"), std::string::npos) << logs_.all();
    // The newest survive and go out in order once a broker is there.
    TestBroker broker(dir_.path(), {port_});
    broker.set_config("listener " + std::to_string(port_) + " 127.0.0.1\nallow_anonymous true\n");
    ASSERT_TRUE(broker.start());
    TestSubscriber sub(port_, topic("cam1"));
    ASSERT_TRUE(sub.wait_subscribed());
    ASSERT_TRUE(p->flush(20)) << p->stats().last_error;
    ASSERT_TRUE(wait_until([&] { return sub.count() >= static_cast<size_t>(s.spooled); }, 10));
    const auto msgs = sub.messages();
    ASSERT_FALSE(msgs.empty());
    int64_t prev = -1;
    for (const auto& m : msgs) {
        const int64_t n = nlohmann::json::parse(m.payload.substr(0, m.payload.size() - pad.size()))["n"];
        EXPECT_EQ(prev < 0 ? 300 - s.spooled : prev + 1, n);
        prev = n;
    }
    EXPECT_EQ(prev, 299);
}

TEST_F(MqttPublisherTest, RefusedCredentialsAreAClearErrorThenTheRightOnesDeliver) {
    if (!have_command("mosquitto_passwd")) GTEST_SKIP() << "mosquitto_passwd is not installed";
    const std::string pwfile = dir_.str("passwd");
    const std::string good = "Right-Pass-4711", bad = "Wrong-Pass-0815";
    ASSERT_TRUE(add_password(pwfile, "itscam", good, true));
    TestBroker broker(dir_.path(), {port_});
    broker.set_config("listener " + std::to_string(port_) + " 127.0.0.1\nallow_anonymous false\npassword_file " +
                      pwfile + "\n");
    ASSERT_TRUE(broker.start());
    TestSubscriber sub(port_, topic("cam1"), "itscam", good);
    ASSERT_TRUE(sub.wait_subscribed());
    MqttConfig c = config();
    c.username = "itscam";
    c.password = bad;
    c.reconnect_max_s = 0.5;
    {
        auto p = make(c);
        ASSERT_TRUE(p);
        for (int64_t i = 0; i < 10; ++i) p->publish(topic("cam1"), event_payload("cam1", i), event_id("cam1", i));
        ASSERT_TRUE(wait_until([&] { return !p->stats().last_error.empty(); }, 5));
        const auto s = p->stats();
        EXPECT_FALSE(s.connected);
        EXPECT_EQ(s.last_error.rfind("MQTT broker 127.0.0.1:" + std::to_string(port_) + " refused the credentials (", 0),
                  0u)
            << s.last_error;
        EXPECT_EQ(s.spooled, 10);
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a few slow retries: still refused, no crash
        EXPECT_NE(p->stats().last_error.find("refused the credentials"), std::string::npos);
        EXPECT_EQ(sub.count(), 0u);
        const std::string log = logs_.all();
        EXPECT_NE(log.find("refused the credentials"), std::string::npos) << log;
        EXPECT_EQ(log.find(bad), std::string::npos) << log;
        EXPECT_EQ(log.find(good), std::string::npos) << log;
        EXPECT_EQ(p->stats().last_error.find(bad), std::string::npos);
        std::cout << "[ mqtt ] wrong password: " << p->stats().last_error << "\n";
    }
    c.password = good;  // fixed: the 10 events spooled meanwhile go out
    auto p = make(c);
    ASSERT_TRUE(p);
    ASSERT_TRUE(connected(*p));
    ASSERT_TRUE(p->flush(10));
    ASSERT_TRUE(wait_until([&] { return sub.count() >= 10; }, 5));
    EXPECT_EQ(check_order(sub.messages(), "cam1").unique, 10);
    EXPECT_EQ(p->stats().last_error, "");
    EXPECT_EQ(logs_.all().find(good), std::string::npos);
}

TEST_F(MqttPublisherTest, TlsWithTheBrokersCaDeliversAndAnotherCaDoesNot) {
    if (!have_command("openssl")) GTEST_SKIP() << "openssl CLI not installed";
    const auto sh = [&](const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; };
    const std::string d = dir_.path().string();
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    ASSERT_TRUE(sh("cd '" + d + "' && openssl req -x509 " + ec +
                   " -days 2 -subj /CN=itscam-test-ca -keyout ca.key -out ca.crt"));
    ASSERT_TRUE(sh("cd '" + d + "' && openssl req -x509 " + ec +
                   " -days 2 -subj /CN=other-ca -keyout other.key -out other.crt"));
    write_file(dir_.str("san.ext"), "subjectAltName=IP:127.0.0.1\n");
    ASSERT_TRUE(sh("cd '" + d + "' && openssl req " + ec + " -subj /CN=127.0.0.1 -keyout server.key -out server.csr"));
    ASSERT_TRUE(sh("cd '" + d + "' && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
                   "-days 2 -extfile san.ext -out server.crt"));
    const int plain = free_port();
    TestBroker broker(dir_.path(), {port_, plain});
    broker.set_config("allow_anonymous true\nlistener " + std::to_string(port_) + " 127.0.0.1\ncafile " + d +
                      "/ca.crt\ncertfile " + d + "/server.crt\nkeyfile " + d + "/server.key\nlistener " +
                      std::to_string(plain) + " 127.0.0.1\n");
    ASSERT_TRUE(broker.start()) << broker.log();
    TestSubscriber sub(plain, topic("cam1"));
    ASSERT_TRUE(sub.wait_subscribed());
    MqttConfig c = config();
    {
        c.tls_ca_file = d + "/other.crt";  // not the CA that signed the broker's certificate
        c.spool_dir = dir_.str("spool-other");
        auto p = make(c);
        ASSERT_TRUE(p);
        p->publish(topic("cam1"), event_payload("cam1", 0), event_id("cam1", 0));
        ASSERT_TRUE(wait_until([&] { return !p->stats().last_error.empty(); }, 5));
        EXPECT_NE(p->stats().last_error.find("TLS"), std::string::npos) << p->stats().last_error;
        EXPECT_FALSE(p->stats().connected);
        std::cout << "[ mqtt ] wrong CA: " << p->stats().last_error << "\n";
    }
    c.tls_ca_file = d + "/ca.crt";
    c.spool_dir = dir_.str("spool");
    auto p = make(c);
    ASSERT_TRUE(p);
    ASSERT_TRUE(connected(*p)) << p->stats().last_error;
    for (int64_t i = 0; i < 20; ++i) p->publish(topic("cam1"), event_payload("cam1", i), event_id("cam1", i));
    ASSERT_TRUE(p->flush(10));
    ASSERT_TRUE(wait_until([&] { return sub.count() >= 20; }, 5));
    const auto r = check_order(sub.messages(), "cam1");
    EXPECT_EQ(r.problem, "");
    EXPECT_EQ(r.unique, 20);
}

TEST_F(MqttPublisherTest, StatusOnlineRetainedOfflineAsLastWillAndOnCleanStop) {
    TestBroker broker(dir_.path(), {port_});
    broker.set_config("listener " + std::to_string(port_) + " 127.0.0.1\nallow_anonymous true\n");
    ASSERT_TRUE(broker.start());
    const std::string status = *mqtt_status_topic(config());
    ASSERT_EQ(status, "itscam/testnode/status");
    TestSubscriber sub(port_, status);
    ASSERT_TRUE(sub.wait_subscribed());
    const auto last_payload = [&] {
        const auto m = sub.messages();
        return m.empty() ? std::string() : m.back().payload;
    };
    auto p = make(config());
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status_topic(), status);
    ASSERT_TRUE(wait_until([&] { return last_payload() == "online"; }, 5));
    {
        TestSubscriber late(port_, status);  // connects after: gets the retained value
        ASSERT_TRUE(wait_until([&] { return late.count() >= 1; }, 5));
        EXPECT_EQ(late.messages().front().payload, "online");
        EXPECT_TRUE(late.messages().front().retain);
    }
    // A crash (socket closed without DISCONNECT): the broker publishes the will.
    const size_t before = sub.count();
    p->kill_connection_for_test();
    ASSERT_TRUE(wait_until([&] { return sub.count() > before && last_payload() == "offline"; }, 5));
    p.reset();
    {
        TestSubscriber late(port_, status);
        ASSERT_TRUE(wait_until([&] { return late.count() >= 1; }, 5));
        EXPECT_EQ(late.messages().front().payload, "offline");  // the will is retained too
    }
    // Back online, then a clean stop says "offline" itself.
    p = make(config());
    ASSERT_TRUE(p);
    ASSERT_TRUE(wait_until([&] { return last_payload() == "online"; }, 5));
    const auto t0 = Clock::now();
    p.reset();
    const double stop_s = seconds_since(t0);
    ASSERT_TRUE(wait_until([&] { return last_payload() == "offline"; }, 5));
    EXPECT_LT(stop_s, 3.0);
    std::cout << "[ mqtt ] clean stop (offline + DISCONNECT) took " << stop_s * 1e3 << " ms\n";
}

TEST_F(MqttPublisherTest, DestructionIsBoundedWhateverTheBrokerDoes) {
    // A listener that accepts TCP but never answers MQTT (CONNACK never comes).
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    auto p = make(config());
    ASSERT_TRUE(p);
    for (int64_t i = 0; i < 5; ++i) p->publish(topic("cam1"), event_payload("cam1", i), event_id("cam1", i));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(p->stats().connected);
    EXPECT_FALSE(p->flush(0.2));
    const auto t0 = Clock::now();
    p.reset();
    EXPECT_LT(seconds_since(t0), 3.5);
    ::close(fd);
    // The spool kept the events.
    auto again = make(config());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->stats().spooled, 5);
}

TEST_F(MqttPublisherTest, BadConfigIsRefusedAtCreate) {
    MqttConfig c = config();
    c.qos = 7;
    auto p = MqttPublisher::create(c, nullptr);
    ASSERT_FALSE(p.is_ok());
    EXPECT_NE(p.status().message().find("mqtt.qos"), std::string::npos);
    c = config();
    auto first = make(c);
    ASSERT_TRUE(first);
    auto second = MqttPublisher::create(c, nullptr);  // same spool folder
    ASSERT_FALSE(second.is_ok());
    EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status().to_string();
}

}  // namespace
}  // namespace itscam::events
