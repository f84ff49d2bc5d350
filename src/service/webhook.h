// WebhookNotifier: POSTs alert transitions (firing / resolved) as JSON to a configured URL from a background thread.
// notify() never blocks: payloads go to a bounded queue (a full queue drops the payload and counts it). Each payload
// is tried 1 + max_retries times with exponential backoff (backoff_s, 2x, ...); a 2xx response is success, anything
// else (connection refused, timeout, non-2xx) is a failed attempt. http:// and https:// URLs are accepted (https
// through cpp-httplib's OpenSSL support). Thread-safe. Payload: alert_transition_to_json() plus "source":"itscam".
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "service/alerts.h"

namespace itscam::service {

struct WebhookOptions {
    std::string url;  // "http://host:port/path" (https:// too)
    double timeout_s = 2.0;     // connect / read / write timeout per attempt
    int max_retries = 2;        // extra attempts after the first
    double backoff_s = 0.5;     // wait before the first retry; doubles each retry
    size_t queue_capacity = 256;
    bool send_pending = false;  // also POST inactive->pending transitions (default: firing and resolved only)
    std::map<std::string, std::string> headers;  // extra request headers (e.g. Authorization)
};

struct WebhookStats {
    int64_t enqueued = 0;  // accepted into the queue
    int64_t sent = 0;      // delivered (2xx)
    int64_t failed = 0;    // gave up after all attempts
    int64_t dropped = 0;   // queue full (or notifier stopped)
    int64_t retries = 0;   // attempts after the first
    int64_t queued = 0;    // waiting now
    std::string last_error;
};

// Splits "http://host:port/path?q" into ("http://host:port", "/path?q"). Errors: empty, no scheme, other scheme.
Status parse_webhook_url(const std::string& url, std::string* scheme_host_port, std::string* path);

class WebhookNotifier {
public:
    // Validates the options and starts the sender thread.
    static Result<std::unique_ptr<WebhookNotifier>> create(WebhookOptions opt);
    ~WebhookNotifier();  // stop()
    WebhookNotifier(const WebhookNotifier&) = delete;
    WebhookNotifier& operator=(const WebhookNotifier&) = delete;

    // Queues a transition if it is one the webhook sends (firing / resolved; pending if send_pending).
    // false: not sent (filtered out, queue full, or stopped).
    bool notify(const AlertTransition& t);
    // Queues any JSON payload. false: dropped (queue full or stopped).
    bool enqueue(nlohmann::json payload);
    // Subscribes to an engine's transitions. Safe if the notifier is destroyed first (the callback becomes a no-op).
    void attach(AlertEngine& engine);
    // Waits until the queue is empty and nothing is in flight. kUnavailable on timeout.
    Status flush(std::chrono::milliseconds timeout);
    // Stops the thread: the request in flight finishes (bounded by timeout_s), queued payloads are dropped.
    void stop();
    WebhookStats stats() const;

    struct Shared;  // implementation-defined

private:
    explicit WebhookNotifier(std::shared_ptr<Shared> s);
    std::shared_ptr<Shared> s_;
};

}  // namespace itscam::service
