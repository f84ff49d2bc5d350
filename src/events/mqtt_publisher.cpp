#include "events/mqtt_publisher.h"

#include <mosquitto.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>

#include "core/thread_info.h"
#include "core/redact.h"
#include "events/event_spool.h"
#include "events/mqtt_error_text.h"

namespace itscam::events {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kLoopTimeoutMs = 10;             // how soon a new event is sent while connected
constexpr double kConnectTimeoutS = 10;        // TCP + TLS + CONNACK
constexpr double kSyncIntervalS = 1;           // spool fdatasync + acknowledged position
constexpr auto kStopWait = std::chrono::seconds(3);
constexpr double kOfflineWaitS = 1.5;          // PUBACK of the "offline" status at a clean stop

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

// Encrypted client keys would make OpenSSL prompt on the terminal; refuse them instead (mqtt.tls_key_file must be
// unencrypted, like the server's TLS key).
int no_key_password(char*, int, int, void*) { return 0; }

void init_library() {
    static std::once_flag once;
    std::call_once(once, [] { mosquitto_lib_init(); });  // never cleaned up: other clients may live in the process
}

}  // namespace

struct MqttPublisher::Core {
    struct InFlight {
        uint64_t seq = 0;
        int mid = -1;
        bool done = false;
        bool sent = true;  // false: undeliverable (skipped), not counted as published
    };

    MqttConfig cfg;
    std::string endpoint, client_id, status_topic;
    std::function<void(const std::string&)> log_fn;
    std::atomic<bool> log_on{true};

    mutable std::mutex mu;
    std::condition_variable cv;
    std::shared_ptr<EventSpool> spool;  // null once the thread has finished
    bool stop = false, abrupt = false, finished = false;
    bool connected = false;
    std::string last_error;
    int64_t published = 0, reconnects = 0, append_failures = 0;

    // The thread's own state (callbacks run on it, inside mosquitto_loop).
    mosquitto* mosq = nullptr;
    bool session = false, ever_connected = false;
    int refused_code = -1;
    std::deque<InFlight> inflight;
    uint64_t last_sent = 0;
    int status_mid = -1;
    bool status_acked = false;
    double backoff = 0;
    Clock::time_point next_attempt{}, attempt_started{}, last_sync{};
    std::string last_logged;
    std::minstd_rand rng{std::random_device{}()};

    void log(const std::string& msg) {
        if (log_on && log_fn) log_fn(redact(msg));
    }
    bool stopping() {
        std::lock_guard<std::mutex> lk(mu);
        return stop;
    }

    void run();
    void connect();
    void fail(const std::string& msg, bool slow);
    void pump();
    void advance();
    void on_connack(int code);
    void on_puback(int mid);
    void shutdown();
    void close_client();
    void wait_for_attempt();
};

void MqttPublisher::Core::run() {
    backoff = cfg.reconnect_min_s;
    next_attempt = last_sync = Clock::now();
    while (!stopping()) {
        if (Clock::now() - last_sync >= seconds(kSyncIntervalS)) {
            if (const Status st = spool->sync(); !st.is_ok()) log("MQTT spool: " + st.message());
            last_sync = Clock::now();
        }
        if (!mosq) {
            if (Clock::now() < next_attempt) {
                wait_for_attempt();
                continue;
            }
            connect();
            continue;
        }
        if (session) pump();
        if (!mosq) continue;
        errno = 0;
        const int rc = mosquitto_loop(mosq, kLoopTimeoutMs, 1);
        const int err = errno;
        if (refused_code >= 0) {
            const int code = refused_code;
            fail(mqtt_connack_text(endpoint, code), mqtt_refused_credentials(code));
        } else if (rc != MOSQ_ERR_SUCCESS) {
            fail(mqtt_error_text(endpoint, rc, err, session), false);
        } else if (!session && Clock::now() - attempt_started > seconds(kConnectTimeoutS)) {
            fail("cannot connect to MQTT broker " + endpoint + ": no answer (CONNACK) within 10 s", false);
        }
    }
    shutdown();
}

void MqttPublisher::Core::wait_for_attempt() {
    std::unique_lock<std::mutex> lk(mu);
    const auto until = std::min(next_attempt, Clock::now() + seconds(kSyncIntervalS));
    cv.wait_until(lk, until, [this] { return stop; });
}

void MqttPublisher::Core::connect() {
    attempt_started = Clock::now();
    refused_code = -1;
    session = false;
    mosq = mosquitto_new(client_id.c_str(), /*clean_session=*/true, this);
    if (!mosq) {
        fail("cannot create an MQTT client: " + std::string(std::strerror(errno)), false);
        return;
    }
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(mosq, static_cast<unsigned>(cfg.max_inflight));
    mosquitto_connect_callback_set(mosq, [](mosquitto*, void* self, int code) {
        static_cast<Core*>(self)->on_connack(code);
    });
    mosquitto_publish_callback_set(mosq, [](mosquitto*, void* self, int mid) {
        static_cast<Core*>(self)->on_puback(mid);
    });
    static const char kOffline[] = "offline";
    int rc = mosquitto_will_set(mosq, status_topic.c_str(), sizeof(kOffline) - 1, kOffline, 1, true);
    if (rc == MOSQ_ERR_SUCCESS && !cfg.username.empty())
        rc = mosquitto_username_pw_set(mosq, cfg.username.c_str(), cfg.password.empty() ? nullptr : cfg.password.c_str());
    if (rc == MOSQ_ERR_SUCCESS && !cfg.tls_ca_file.empty()) {
        rc = mosquitto_tls_set(mosq, cfg.tls_ca_file.c_str(), nullptr,
                               cfg.tls_cert_file.empty() ? nullptr : cfg.tls_cert_file.c_str(),
                               cfg.tls_key_file.empty() ? nullptr : cfg.tls_key_file.c_str(), no_key_password);
        if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(mosq, 1, nullptr, nullptr);
        if (rc == MOSQ_ERR_SUCCESS && cfg.tls_insecure) rc = mosquitto_tls_insecure_set(mosq, true);
        if (rc != MOSQ_ERR_SUCCESS) {
            fail("MQTT TLS settings rejected (mqtt.tls_ca_file, tls_cert_file, tls_key_file): " +
                     std::string(mosquitto_strerror(rc)), true);
            return;
        }
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        fail("MQTT client settings rejected: " + std::string(mosquitto_strerror(rc)), true);
        return;
    }
    errno = 0;
    rc = mosquitto_connect_async(mosq, cfg.host.c_str(), cfg.port, cfg.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) fail(mqtt_error_text(endpoint, rc, errno, false), false);
}

void MqttPublisher::Core::close_client() {
    if (mosq) mosquitto_destroy(mosq);  // closes the socket; no DISCONNECT is sent
    mosq = nullptr;
    session = false;
    inflight.clear();
    status_mid = -1;
}

void MqttPublisher::Core::fail(const std::string& msg, bool slow) {
    close_client();
    {
        std::lock_guard<std::mutex> lk(mu);
        connected = false;
        last_error = redact(msg);
    }
    cv.notify_all();
    // Refused credentials do not fix themselves quickly: retry at the slowest rate.
    const double base = slow ? cfg.reconnect_max_s : backoff;
    backoff = std::min(backoff * 2, cfg.reconnect_max_s);
    const double delay = base * std::uniform_real_distribution<double>(0.8, 1.2)(rng);
    next_attempt = Clock::now() + seconds(delay);
    if (msg != last_logged) {
        log(msg + (slow ? "; retrying every " : "; retrying with backoff up to ") +
            std::to_string(static_cast<int>(cfg.reconnect_max_s + 0.5)) + " s; events wait in the spool");
        last_logged = msg;
    }
}

void MqttPublisher::Core::on_connack(int code) {
    if (code != 0) {
        refused_code = code;
        return;
    }
    session = true;
    inflight.clear();
    last_sent = spool->acked();  // resend everything not acknowledged, in order
    backoff = cfg.reconnect_min_s;
    static const char kOnline[] = "online";
    status_acked = false;
    mosquitto_publish(mosq, &status_mid, status_topic.c_str(), sizeof(kOnline) - 1, kOnline, 1, true);
    const int64_t waiting = spool->pending();
    {
        std::lock_guard<std::mutex> lk(mu);
        connected = true;
        last_error.clear();
        if (ever_connected) ++reconnects;
    }
    ever_connected = true;
    last_logged.clear();
    log("MQTT: connected to " + endpoint + " as '" + client_id + "'" +
        (waiting > 0 ? " (" + std::to_string(waiting) + " events waiting in the spool)" : ""));
}

void MqttPublisher::Core::on_puback(int mid) {
    if (mid == status_mid) {
        status_acked = true;
        status_mid = -1;  // the id is free again: a later event may get it
        return;
    }
    for (auto& f : inflight)
        if (f.mid == mid && !f.done) {
            f.done = true;
            break;
        }
    advance();
}

// Acknowledges in order: the spool position moves only over a prefix of delivered events.
void MqttPublisher::Core::advance() {
    int64_t n = 0;
    while (!inflight.empty() && inflight.front().done) {
        spool->ack(inflight.front().seq);
        if (inflight.front().sent) ++n;
        inflight.pop_front();
    }
    if (n > 0) {
        {
            std::lock_guard<std::mutex> lk(mu);
            published += n;
        }
        cv.notify_all();
    }
}

void MqttPublisher::Core::pump() {
    const size_t cap = static_cast<size_t>(cfg.max_inflight);
    while (mosq && session && inflight.size() < cap) {
        const std::vector<SpoolRecord> recs = spool->peek(last_sent, cap - inflight.size());
        if (recs.empty()) return;
        for (const SpoolRecord& r : recs) {
            int mid = -1;
            const int rc = mosquitto_publish(mosq, &mid, r.topic.c_str(), static_cast<int>(r.payload.size()),
                                             r.payload.data(), cfg.qos, false);
            if (rc == MOSQ_ERR_SUCCESS) {
                inflight.push_back({r.seq, mid, false, true});
                last_sent = r.seq;
                continue;
            }
            if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_MALFORMED_UTF8 ||
                rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_QOS_NOT_SUPPORTED) {
                // This event can never be sent (bad topic, too large): skip it rather than block the queue.
                log("MQTT: event '" + r.id + "' on topic '" + r.topic + "' cannot be sent (" +
                    mosquitto_strerror(rc) + "); dropped");
                {
                    std::lock_guard<std::mutex> lk(mu);
                    ++append_failures;
                }
                inflight.push_back({r.seq, -1, true, false});
                last_sent = r.seq;
                continue;
            }
            return;  // the connection is going; mosquitto_loop reports why
        }
        advance();
    }
}

void MqttPublisher::Core::shutdown() {
    bool was_abrupt;
    {
        std::lock_guard<std::mutex> lk(mu);
        was_abrupt = abrupt;
    }
    if (mosq && session && !was_abrupt) {
        static const char kOffline[] = "offline";
        status_acked = false;
        if (mosquitto_publish(mosq, &status_mid, status_topic.c_str(), sizeof(kOffline) - 1, kOffline, 1, true) ==
            MOSQ_ERR_SUCCESS) {
            const auto until = Clock::now() + seconds(kOfflineWaitS);
            while (!status_acked && Clock::now() < until && mosquitto_loop(mosq, kLoopTimeoutMs, 1) == MOSQ_ERR_SUCCESS) {
            }
        }
        mosquitto_disconnect(mosq);
        const auto until = Clock::now() + seconds(0.5);
        while (Clock::now() < until && mosquitto_loop(mosq, kLoopTimeoutMs, 1) == MOSQ_ERR_SUCCESS) {
        }
    }
    close_client();
    std::shared_ptr<EventSpool> sp;
    {
        std::lock_guard<std::mutex> lk(mu);
        connected = false;
        sp = std::move(spool);
    }
    sp.reset();  // syncs, persists the position, unlocks the folder (after any publish() still holding it)
    {
        std::lock_guard<std::mutex> lk(mu);
        finished = true;
    }
    cv.notify_all();
}

Result<std::unique_ptr<MqttPublisher>> MqttPublisher::create(const MqttConfig& cfg_in,
                                                             std::function<void(const std::string&)> log) {
    MqttConfig cfg = cfg_in;
    cfg.enabled = true;  // validate everything: the caller asked for a publisher
    if (!cfg.password.empty()) register_secret(cfg.password);
    ITSCAM_RETURN_IF_ERROR(validate_mqtt_config(cfg));
    auto core = std::make_shared<Core>();
    core->cfg = cfg;
    core->endpoint = cfg.host + ":" + std::to_string(cfg.port);
    core->client_id = effective_mqtt_client_id(cfg);
    ITSCAM_ASSIGN_OR_RETURN(core->status_topic, mqtt_status_topic(cfg));
    core->log_fn = std::move(log);
    SpoolOptions so;
    so.dir = cfg.spool_dir;
    so.max_bytes = cfg.spool_max_bytes();
    Core* raw = core.get();
    so.log = [raw](const std::string& m) { raw->log(m); };
    auto spool = EventSpool::open(so);
    if (!spool.is_ok()) return spool.status().with_context("MQTT spool '" + cfg.spool_dir + "'");
    core->spool = std::shared_ptr<EventSpool>(std::move(*spool));
    init_library();
    std::unique_ptr<MqttPublisher> p(new MqttPublisher(core));
    p->thread_ = std::thread([core] {
        set_thread_name("mqtt");
        core->run();
    });
    return p;
}

MqttPublisher::MqttPublisher(std::shared_ptr<Core> core) : core_(std::move(core)) {}

MqttPublisher::~MqttPublisher() { stop(false); }

void MqttPublisher::stop(bool abrupt) {
    if (!thread_.joinable()) return;
    std::unique_lock<std::mutex> lk(core_->mu);
    core_->stop = true;
    core_->abrupt = abrupt;
    core_->cv.notify_all();
    const bool done = core_->cv.wait_for(lk, kStopWait, [this] { return core_->finished; });
    lk.unlock();
    if (done) {
        thread_.join();
    } else {
        // Stuck in a blocking call (a DNS look-up): let it finish alone; it owns what it uses (core_).
        core_->log_on = false;
        thread_.detach();
    }
}

void MqttPublisher::kill_connection_for_test() { stop(true); }

void MqttPublisher::publish(const std::string& topic, const std::string& payload, const std::string& id) {
    std::shared_ptr<EventSpool> sp;
    {
        std::lock_guard<std::mutex> lk(core_->mu);
        sp = core_->spool;
    }
    Status st = sp ? sp->append(topic, payload, id).status() : unavailable("the MQTT publisher has stopped");
    if (st.is_ok()) return;
    int64_t failures;
    {
        std::lock_guard<std::mutex> lk(core_->mu);
        failures = ++core_->append_failures;
    }
    // The first failures and then one in a thousand: a full disk must not flood the log.
    if (failures <= 10 || failures % 1000 == 0)
        core_->log("MQTT: event '" + id + "' dropped: " + st.message() + " (" + std::to_string(failures) +
                   " dropped so far)");
}

PublisherStats MqttPublisher::stats() const {
    PublisherStats s;
    std::shared_ptr<EventSpool> sp;
    {
        std::lock_guard<std::mutex> lk(core_->mu);
        s.connected = core_->connected;
        s.last_error = core_->last_error;
        s.published = core_->published;
        s.reconnects = core_->reconnects;
        s.dropped = core_->append_failures;
        sp = core_->spool;
    }
    if (sp) {
        s.spooled = sp->pending();
        s.spool_bytes = sp->bytes();
        s.dropped += sp->dropped();
    }
    return s;
}

bool MqttPublisher::flush(double timeout_s) {
    const auto deadline = Clock::now() + seconds(std::max(0.0, timeout_s));
    std::unique_lock<std::mutex> lk(core_->mu);
    for (;;) {
        std::shared_ptr<EventSpool> sp = core_->spool;
        if (!sp) return false;
        lk.unlock();
        const bool empty = sp->pending() == 0;
        lk.lock();
        if (empty) return true;
        if (Clock::now() >= deadline || core_->finished) return false;
        // PUBACKs notify; the timeout only bounds a missed wake-up.
        core_->cv.wait_until(lk, std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
    }
}

const std::string& MqttPublisher::status_topic() const { return core_->status_topic; }
const std::string& MqttPublisher::client_id() const { return core_->client_id; }

}  // namespace itscam::events
