// The request and response the HTTP handlers see (src/service/http_service.cpp): plain structs, independent of the
// network library, so that the handlers (and web_assets) compile without Boost.Beast. The connection
// (http_connection.cpp) fills an HttpRequest from the parsed message and serializes the HttpResponse.
#pragma once

#include <strings.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace itscam::service {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method;  // as sent ("GET", "BREW")
    std::string target;  // the request target as sent ("/streams/a/live.mp4?rendition=low")
    std::string path;    // the target's path, percent-decoded
    std::vector<std::pair<std::string, std::string>> params;  // the query, percent-decoded, in order
    HttpHeaders headers;
    std::string body;                   // decoded (no transfer coding), at most max_body_bytes
    std::vector<std::string> captures;  // the route's {id} captures, in order
    std::string remote_address;

    bool has_header(const std::string& name) const {
        for (const auto& [k, v] : headers)
            if (strcasecmp(k.c_str(), name.c_str()) == 0) return true;
        return false;
    }
    // The first value of a header ("" when absent); names are case-insensitive.
    std::string get_header_value(const std::string& name) const {
        for (const auto& [k, v] : headers)
            if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
        return "";
    }
    std::string get_param_value(const std::string& name) const {
        for (const auto& [k, v] : params)
            if (k == name) return v;
        return "";
    }
};

// A long-lived response body (live video, Server-Sent Events), pulled by the connection's I/O thread: every call
// must return at once. The connection polls every few milliseconds while poll() has nothing, writes each piece as
// one chunk under the write deadline, and calls close() when it ends for any reason (viewer gone, write deadline,
// server stopping).
class StreamSource {
  public:
    virtual ~StreamSource() = default;
    // The next bytes to send, or nullptr when there is nothing right now.
    virtual std::shared_ptr<const std::string> poll() = 0;
    // True when the source has ended (closed by the hub): the response is finished after what poll() returned.
    virtual bool finished() const = 0;
    // `n` bytes were written in `seconds` (flow control for the stream's network controller).
    virtual void written(size_t /*n*/, double /*seconds*/) {}
    virtual void close() = 0;
};

struct HttpResponse {
    int status = 200;
    HttpHeaders headers;
    std::string body;
    std::shared_ptr<StreamSource> stream;  // set: a chunked long-lived body (headers first, then the stream)
    bool close_connection = false;         // answer, then close (set for errors found before the body was read)

    void set_header(const std::string& name, const std::string& value) {
        for (auto& [k, v] : headers)
            if (strcasecmp(k.c_str(), name.c_str()) == 0) {
                v = value;
                return;
            }
        headers.emplace_back(name, value);
    }
    std::string get_header_value(const std::string& name) const {
        for (const auto& [k, v] : headers)
            if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
        return "";
    }
    void set_content(std::string content, const std::string& content_type) {
        body = std::move(content);
        set_header("Content-Type", content_type);
    }
    void set_content(const char* data, size_t n, const std::string& content_type) {
        set_content(std::string(data, n), content_type);
    }
    void set_stream(std::shared_ptr<StreamSource> s, const std::string& content_type) {
        stream = std::move(s);
        set_header("Content-Type", content_type);
    }
};

}  // namespace itscam::service
