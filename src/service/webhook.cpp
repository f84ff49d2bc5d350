#include "service/webhook.h"

#include <httplib.h>

#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/thread_info.h"
#include "core/redact.h"

namespace itscam::service {

Status parse_webhook_url(const std::string& url, std::string* scheme_host_port, std::string* path) {
    if (url.empty()) return invalid_argument("webhook: empty URL");
    const std::string shown = mask_url_userinfo(url);  // errors quote the URL, never its password
    const size_t sep = url.find("://");
    if (sep == std::string::npos) return invalid_argument("webhook: URL '" + shown + "' has no scheme (http://...)");
    const std::string scheme = url.substr(0, sep);
    if (scheme != "http" && scheme != "https")
        return invalid_argument("webhook: URL '" + shown + "': scheme must be http or https");
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
    if (scheme == "https") return unsupported("webhook: https URLs need cpp-httplib with OpenSSL support");
#endif
    const size_t host_begin = sep + 3;
    const size_t slash = url.find_first_of("/?", host_begin);
    const std::string host = url.substr(host_begin, slash == std::string::npos ? std::string::npos : slash - host_begin);
    if (host.empty() || host[0] == ':') return invalid_argument("webhook: URL '" + shown + "' has no host");
    *scheme_host_port = url.substr(0, slash == std::string::npos ? url.size() : slash);
    *path = slash == std::string::npos ? "/" : url.substr(slash);
    if ((*path)[0] == '?') *path = "/" + *path;
    return Status::ok();
}

struct WebhookNotifier::Shared {
    WebhookOptions opt;
    std::string base, path;
    mutable std::mutex mu;
    std::condition_variable cv;       // work queued / stop
    std::condition_variable idle_cv;  // queue drained
    std::deque<std::string> queue;
    bool stopping = false;
    bool in_flight = false;
    WebhookStats st;
    std::thread thread;

    bool push(std::string text) {
        // A payload leaves the process: URL userinfo and the registered secrets masked, as everywhere else. The
        // masking keeps JSON valid (a URL's authority ends at '"' or '\\'; a secret becomes ***).
        std::string body = redact(text);
        std::lock_guard<std::mutex> lock(mu);
        if (stopping || queue.size() >= opt.queue_capacity) {
            ++st.dropped;
            return false;
        }
        queue.push_back(std::move(body));
        ++st.enqueued;
        cv.notify_one();
        return true;
    }

    // One POST attempt; "" on success, else the error (the URL in it masked: it is shown by the API and logs).
    std::string attempt(httplib::Client& cli, const std::string& body) {
        const std::string shown = mask_url_userinfo(opt.url);
        httplib::Headers headers;
        for (const auto& [k, v] : opt.headers) headers.emplace(k, v);
        try {
            auto res = cli.Post(path, headers, body, "application/json");
            if (!res) return "POST " + shown + ": " + httplib::to_string(res.error());
            if (res->status < 200 || res->status >= 300)
                return "POST " + shown + ": HTTP " + std::to_string(res->status);
            return "";
        } catch (const std::exception& e) {
            return redact("POST " + shown + ": " + e.what());
        } catch (...) {
            return "POST " + shown + ": unknown error";
        }
    }

    void run() {
        const auto to = std::chrono::microseconds(static_cast<int64_t>(opt.timeout_s * 1e6));
        httplib::Client cli(base);
        cli.set_connection_timeout(to);
        cli.set_read_timeout(to);
        cli.set_write_timeout(to);
        cli.set_keep_alive(false);
        std::unique_lock<std::mutex> lock(mu);
        for (;;) {
            cv.wait(lock, [&] { return stopping || !queue.empty(); });
            if (stopping) break;
            std::string body = std::move(queue.front());
            queue.pop_front();
            in_flight = true;
            std::string err;
            for (int attempt_no = 0; attempt_no <= opt.max_retries; ++attempt_no) {
                if (attempt_no > 0) {
                    ++st.retries;
                    const double wait_s = opt.backoff_s * std::pow(2.0, attempt_no - 1);
                    cv.wait_for(lock, std::chrono::duration<double>(wait_s), [&] { return stopping; });
                    if (stopping) break;
                }
                lock.unlock();
                err = attempt(cli, body);
                lock.lock();
                if (err.empty()) break;
            }
            if (err.empty()) {
                ++st.sent;
            } else {
                ++st.failed;
                st.last_error = err;
            }
            in_flight = false;
            if (queue.empty()) idle_cv.notify_all();
        }
        st.dropped += static_cast<int64_t>(queue.size());
        queue.clear();
        in_flight = false;
        idle_cv.notify_all();
    }
};

WebhookNotifier::WebhookNotifier(std::shared_ptr<Shared> s) : s_(std::move(s)) {}

Result<std::unique_ptr<WebhookNotifier>> WebhookNotifier::create(WebhookOptions opt) {
    auto s = std::make_shared<Shared>();
    ITSCAM_RETURN_IF_ERROR(parse_webhook_url(opt.url, &s->base, &s->path));
    if (!std::isfinite(opt.timeout_s) || opt.timeout_s <= 0) return invalid_argument("webhook: timeout must be > 0");
    if (opt.max_retries < 0) return invalid_argument("webhook: max_retries must be >= 0");
    if (!std::isfinite(opt.backoff_s) || opt.backoff_s < 0) return invalid_argument("webhook: backoff must be >= 0");
    if (opt.queue_capacity == 0) return invalid_argument("webhook: queue_capacity must be > 0");
    s->opt = std::move(opt);
    try {
        s->thread = std::thread([p = s.get()] {
            set_thread_name("webhook");
            p->run();
        });
    } catch (const std::exception& e) {
        return internal_error(std::string("webhook: cannot start the sender thread: ") + e.what());
    }
    return std::unique_ptr<WebhookNotifier>(new WebhookNotifier(std::move(s)));
}

WebhookNotifier::~WebhookNotifier() { stop(); }

void WebhookNotifier::stop() {
    {
        std::lock_guard<std::mutex> lock(s_->mu);
        s_->stopping = true;
        s_->cv.notify_all();
    }
    if (s_->thread.joinable()) s_->thread.join();
}

bool WebhookNotifier::notify(const AlertTransition& t) {
    const bool wanted = t.to == AlertState::kFiring || t.to == AlertState::kResolved ||
                        (s_->opt.send_pending && t.to == AlertState::kPending);
    if (!wanted) return false;
    nlohmann::json j = alert_transition_to_json(t);
    j["source"] = "itscam";
    return enqueue(std::move(j));
}

bool WebhookNotifier::enqueue(nlohmann::json payload) {
    std::string body;
    try {
        body = payload.dump();
    } catch (const std::exception&) {  // invalid UTF-8 in a string
        body = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return s_->push(std::move(body));
}

void WebhookNotifier::attach(AlertEngine& engine) {
    std::weak_ptr<Shared> weak = s_;
    const bool send_pending = s_->opt.send_pending;
    engine.on_transition([weak, send_pending](const AlertTransition& t) {
        auto s = weak.lock();
        if (!s) return;
        const bool wanted = t.to == AlertState::kFiring || t.to == AlertState::kResolved ||
                            (send_pending && t.to == AlertState::kPending);
        if (!wanted) return;
        nlohmann::json j = alert_transition_to_json(t);
        j["source"] = "itscam";
        s->push(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    });
}

Status WebhookNotifier::flush(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(s_->mu);
    const bool ok = s_->idle_cv.wait_for(lock, timeout, [&] {
        return (s_->queue.empty() && !s_->in_flight) || s_->stopping;
    });
    if (!ok) return unavailable("webhook: queue not drained within " + std::to_string(timeout.count()) + " ms");
    return Status::ok();
}

WebhookStats WebhookNotifier::stats() const {
    std::lock_guard<std::mutex> lock(s_->mu);
    WebhookStats st = s_->st;
    st.queued = static_cast<int64_t>(s_->queue.size());
    return st;
}

}  // namespace itscam::service
