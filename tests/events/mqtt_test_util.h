// Test helpers: a real mosquitto broker on a free loopback port (config written by the test, killed and restarted at
// will), and a libmosquitto subscriber that records what it receives. The generic ones (a temporary folder, free
// ports, waiting with a deadline) are ../common/loopback_util.h's.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../common/loopback_util.h"

extern char** environ;

namespace itscam::events::testing {

namespace fs = std::filesystem;

inline constexpr const char* kMosquittoBin = "/usr/sbin/mosquitto";

inline bool have_mosquitto() { return ::access(kMosquittoBin, X_OK) == 0; }
inline bool have_command(const std::string& name) {
    return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

using test_util::free_port;
using test_util::port_accepts;
using test_util::read_file;
using test_util::seconds_since;
using test_util::TempDir;
using test_util::wait_until;
using test_util::write_file;

// mosquitto with `body` as its config after a common head (no persistence, log to a file, run as this user).
class TestBroker {
public:
    TestBroker(const fs::path& dir, std::vector<int> ports) : dir_(dir), ports_(std::move(ports)) {}
    ~TestBroker() { kill(); }

    void set_config(const std::string& body) { body_ = body; }

    bool start() {
        const passwd* pw = ::getpwuid(::getuid());
        const std::string conf = (dir_ / "mosquitto.conf").string();
        write_file(conf, "persistence false\nlog_dest file " + (dir_ / "mosquitto.log").string() +
                             "\nlog_type all\nuser " + std::string(pw ? pw->pw_name : "root") +
                             // mosquitto keeps at most 1000 queued QoS 1 messages per client by default and drops
                             // the rest; a test subscriber slowed by a sanitizer or a busy machine would then miss
                             // a burst's tail that the publisher did deliver.
                             "\nmax_queued_messages 0\n" + body_);
        if (!child_.spawn({kMosquittoBin, "-c", conf}, (dir_ / "mosquitto.stderr").string())) return false;
        return wait_until(
            [&] {
                for (int p : ports_)
                    if (!port_accepts(p)) return false;
                return true;
            },
            10);
    }
    // SIGKILL: the broker vanishes as in a crash (no clean close of the clients).
    void kill() { child_.kill(); }
    void reload() { child_.signal(SIGHUP); }
    std::string log() const { return read_file((dir_ / "mosquitto.log").string()); }

private:
    fs::path dir_;
    std::vector<int> ports_;
    std::string body_;
    test_util::ChildProcess child_;
};

// mosquitto_passwd -b: creates (`create`) or extends the password file.
inline bool add_password(const std::string& file, const std::string& user, const std::string& pw, bool create) {
    const std::string cmd = "mosquitto_passwd -b " + std::string(create ? "-c " : "") + "'" + file + "' '" + user +
                            "' '" + pw + "' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

struct ReceivedMessage {
    std::string topic, payload;
    bool retain = false;
};

// Clean session, QoS 1, resubscribes after each reconnect (libmosquitto's own thread and reconnect).
class TestSubscriber {
public:
    TestSubscriber(int port, std::string topic, std::string user = "", std::string password = "")
        : topic_(std::move(topic)) {
        static std::once_flag once;
        std::call_once(once, [] { mosquitto_lib_init(); });
        static std::atomic<int> n{0};
        const std::string id = "itscam-test-sub-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
        m_ = mosquitto_new(id.c_str(), true, this);
        if (!user.empty()) mosquitto_username_pw_set(m_, user.c_str(), password.c_str());
        mosquitto_reconnect_delay_set(m_, 1, 1, false);
        mosquitto_connect_callback_set(m_, [](mosquitto* m, void* self, int rc) {
            auto* s = static_cast<TestSubscriber*>(self);
            if (rc == 0) mosquitto_subscribe(m, nullptr, s->topic_.c_str(), 1);
        });
        mosquitto_subscribe_callback_set(m_, [](mosquitto*, void* self, int, int, const int*) {
            auto* s = static_cast<TestSubscriber*>(self);
            std::lock_guard<std::mutex> lk(s->mu_);
            ++s->subscribed_;
        });
        mosquitto_message_callback_set(m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
            auto* s = static_cast<TestSubscriber*>(self);
            std::lock_guard<std::mutex> lk(s->mu_);
            s->msgs_.push_back({msg->topic, std::string(static_cast<const char*>(msg->payload),
                                                        static_cast<size_t>(msg->payloadlen)),
                                msg->retain});
        });
        mosquitto_connect_async(m_, "127.0.0.1", port, 30);
        mosquitto_loop_start(m_);
    }
    ~TestSubscriber() {
        mosquitto_disconnect(m_);
        mosquitto_loop_stop(m_, true);
        mosquitto_destroy(m_);
    }
    int subscribed() {
        std::lock_guard<std::mutex> lk(mu_);
        return subscribed_;
    }
    bool wait_subscribed(int times = 1, double timeout_s = 10) {
        return wait_until([&] { return subscribed() >= times; }, timeout_s);
    }
    std::vector<ReceivedMessage> messages() {
        std::lock_guard<std::mutex> lk(mu_);
        return msgs_;
    }
    size_t count() {
        std::lock_guard<std::mutex> lk(mu_);
        return msgs_.size();
    }

private:
    std::string topic_;
    mosquitto* m_ = nullptr;
    std::mutex mu_;
    int subscribed_ = 0;
    std::vector<ReceivedMessage> msgs_;
};

// Thread-safe log sink for the publisher under test.
class LogCapture {
public:
    std::function<void(const std::string&)> fn() {
        return [this](const std::string& line) {
            std::lock_guard<std::mutex> lk(mu_);
            lines_.push_back(line);
        };
    }
    std::string all() {
        std::lock_guard<std::mutex> lk(mu_);
        std::string s;
        for (const auto& l : lines_) s += l + "\n";
        return s;
    }

private:
    std::mutex mu_;
    std::vector<std::string> lines_;
};

}  // namespace itscam::events::testing
