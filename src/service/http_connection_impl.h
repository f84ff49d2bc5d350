// HttpConnection's member templates, included by the two files that instantiate it: http_connection_plain.cpp
// (PlainStream) and http_connection_tls.cpp (TlsStream). Each instantiation is one of the heaviest translation
// units of the build (Beast, Asio, OpenSSL); apart, the two compile in parallel.
#pragma once

#include "service/http_connection.h"

#include <array>
#include <cctype>
#include <chrono>
#include <limits>
#include <type_traits>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "service/http_stream_writer.h"

namespace itscam::service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace http_connection_detail {

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

inline std::string_view sv(beast::string_view s) {
    return {s.data(), s.size()};
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

inline bool is_http_parse_error(const error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_method).category();
}

// Splits the origin-form target into the decoded path and query parameters; false when it is not origin-form or
// an escape is malformed, or the path holds a NUL.
inline bool parse_target(const std::string& target, HttpRequest& req) {
    if (target.empty() || target.front() != '/') return false;
    const size_t q = target.find('?');
    if (!percent_decode(target.substr(0, q), &req.path, false)) return false;
    if (req.path.find('\0') != std::string::npos) return false;
    if (q == std::string::npos) return true;
    const std::string query = target.substr(q + 1);
    size_t i = 0;
    while (i <= query.size()) {
        size_t amp = query.find('&', i);
        if (amp == std::string::npos) amp = query.size();
        const std::string part = query.substr(i, amp - i);
        if (!part.empty()) {
            const size_t eq = part.find('=');
            std::string k, v;
            if (!percent_decode(part.substr(0, eq), &k, true)) return false;
            if (eq != std::string::npos && !percent_decode(part.substr(eq + 1), &v, true)) return false;
            req.params.emplace_back(std::move(k), std::move(v));
        }
        i = amp + 1;
    }
    return true;
}

inline const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace http_connection_detail

using namespace http_connection_detail;  // NOLINT(google-build-using-namespace): this header's own helpers

template <class Stream>
HttpConnection<Stream>::HttpConnection(Stream stream, std::unique_ptr<HttpConnectionSlot> slot)
    : stream_(std::move(stream)), slot_(std::move(slot)) {}

template <class Stream>
void HttpConnection<Stream>::set_deadline(double seconds) {
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds)));
}

template <class Stream>
void HttpConnection<Stream>::run() {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
        // The first request's headers (and the TLS handshake before them) are due header_timeout_s after accept.
        self->set_deadline(self->limits().header_timeout_s);
        if constexpr (std::is_same_v<Stream, TlsStream>) {
            self->stream_.async_handshake(asio::ssl::stream_base::server, [self](error_code ec) {
                if (ec) return self->close_now();
                self->read_header();
            });
        } else {
            self->read_header();
        }
    });
}

template <class Stream>
void HttpConnection<Stream>::close() {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
}

template <class Stream>
void HttpConnection<Stream>::close_now() {
    closing_ = true;
    error_code ec;
    auto& sock = beast::get_lowest_layer(stream_).socket();
    if (sock.is_open()) sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).close();
}

template <class Stream>
void HttpConnection<Stream>::wait_next() {
    if (closing_) return;
    if (buffer_.size() > 0) {  // a pipelined request is already here
        set_deadline(limits().header_timeout_s);
        return read_header();
    }
    // Idle between requests: keep_alive_timeout_s for the first byte, then the header deadline.
    set_deadline(limits().keep_alive_timeout_s);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](error_code ec, size_t n) {
        if (ec) return self->close_now();
        self->buffer_.commit(n);
        self->set_deadline(self->limits().header_timeout_s);
        self->read_header();
    });
}

template <class Stream>
void HttpConnection<Stream>::read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits().max_header_bytes));
    // No body limit yet: Beast would refuse a large Content-Length while parsing the headers, before the access
    // check; on_header decides 401/403 first, then 413, then sets the limit for a chunked body. (The largest value,
    // not boost::none: Beast 1.74 compares a Content-Length against an empty optional as "over the limit".)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
}

template <class Stream>
bool HttpConnection<Stream>::check_framing(HttpResponse& res) {
    const auto& msg = parser_->get();
    int lengths = 0;
    for (const auto& f : msg) {
        if (f.name() == http::field::content_length) {
            ++lengths;
            // Beast accepts "5, 5" and repeated equal values; a proxy in front may not read them the same way.
            if (f.value().find(',') != beast::string_view::npos) ++lengths;
        }
        if (f.name() == http::field::transfer_encoding && !iequals(trim(sv(f.value())), "chunked")) {
            http_error(res, 400, "unsupported Transfer-Encoding '" + std::string(f.value()) + "' (only chunked)");
            return false;
        }
    }
    if (lengths > 1) {
        http_error(res, 400, "more than one Content-Length");
        return false;
    }
    return true;
}

template <class Stream>
void HttpConnection<Stream>::on_header(error_code ec) {
    if (closing_) return;
    if (ec == http::error::header_limit)
        return reject(431, "request line and headers exceed " + std::to_string(limits().max_header_bytes) + " bytes");
    if (ec && is_http_parse_error(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message)
        return reject(400, "malformed request: " + ec.message());
    if (ec) return close_now();  // the client left, or missed the header deadline

    const auto& msg = parser_->get();
    req_ = HttpRequest{};
    req_.method = std::string(msg.method_string());
    req_.target = std::string(msg.target());
    req_.remote_address = slot_->address();
    for (const auto& f : msg) req_.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    keep_alive_ = msg.keep_alive();
    const bool body_pending = !parser_->is_done();

    HttpResponse res;
    res.close_connection = body_pending;  // an answer before the body: the unread body ends the connection
    if (!check_framing(res)) {
        res.close_connection = true;
        return write_response(std::move(res));
    }
    if (msg.version() != 10 && msg.version() != 11) {
        http_error(res, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
        res.close_connection = true;
        return write_response(std::move(res));
    }
    if ((req_.method == "CONNECT" || req_.target == "*") && req_.target.rfind('/', 0) != 0) {
        // CONNECT host:port, OPTIONS *: this is no proxy, and there is nothing to say about the server as a whole.
        res.set_header("Allow", "GET, HEAD, POST, DELETE");
        http_error(res, 405, "method " + req_.method + " " + req_.target + " is not supported");
        return write_response(std::move(res));
    }
    if (!parse_target(req_.target, req_)) {
        http_error(res, 400, "malformed request target");
        res.close_connection = true;
        return write_response(std::move(res));
    }
    match_ = shared().router->match(req_.method, req_.path);
    if (match_.status == 404) {
        http_error(res, 404, "no such endpoint: " + req_.method + " " + req_.path);
        return write_response(std::move(res));
    }
    if (match_.status == 405) {
        res.set_header("Allow", match_.allow);
        http_error(res, 405,
                   "method " + req_.method + " is not allowed on " + req_.path + " (allowed: " + match_.allow + ")");
        return write_response(std::move(res));
    }
    if (!check_access(match_.access, match_.query_token, req_, shared().api_token, shared().read_token, res)) {
        if (match_.denied) (*match_.denied)(req_, res);
        return write_response(std::move(res));
    }
    const std::string coding = req_.get_header_value("Content-Encoding");
    if (!coding.empty() && !iequals(trim(coding), "identity")) {
        // Bodies are never decompressed, so a small compressed body cannot grow past max_body_bytes.
        http_error(res, 415, "Content-Encoding '" + coding + "' is not supported (send the body uncompressed)");
        return write_response(std::move(res));
    }
    if (const auto n = parser_->content_length(); n && *n > limits().max_body_bytes) {
        http_error(res, 413, "request body too large (limit " + std::to_string(limits().max_body_bytes) + " bytes)");
        return write_response(std::move(res));
    }
    if (!body_pending) return dispatch();
    parser_->body_limit(static_cast<std::uint64_t>(limits().max_body_bytes));  // the decoded size, chunked too
    if (iequals(trim(req_.get_header_value("Expect")), "100-continue")) {
        set_deadline(limits().write_timeout_s);
        return asio::async_write(stream_, asio::buffer(kContinue),
                                 [self = this->shared_from_this()](error_code wec, size_t) {
                                     if (wec) return self->close_now();
                                     self->read_body();
                                 });
    }
    read_body();
}

template <class Stream>
void HttpConnection<Stream>::read_body() {
    set_deadline(limits().read_timeout_s);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](error_code ec, size_t) { self->on_body(ec); });
}

template <class Stream>
void HttpConnection<Stream>::on_body(error_code ec) {
    if (closing_) return;
    if (ec == http::error::body_limit)
        return reject(413, "request body too large (limit " + std::to_string(limits().max_body_bytes) + " bytes)");
    if (ec && is_http_parse_error(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message)
        return reject(400, "malformed request body: " + ec.message());
    if (ec) return close_now();  // the client left, or missed the body deadline
    req_.body = std::move(parser_->get().body());
    dispatch();
}

template <class Stream>
void HttpConnection<Stream>::dispatch() {
    req_.captures = match_.captures;
    beast::get_lowest_layer(stream_).expires_never();  // the handler's time is not the client's
    const HttpHandler* handler = match_.handler;
    asio::post(*shared().handlers, [self = this->shared_from_this(), handler] {
        HttpResponse res;
        try {
            (*handler)(self->req_, res);
        } catch (const std::exception& e) {
            res = HttpResponse{};
            http_error(res, 500, std::string("internal error: ") + e.what());
        } catch (...) {
            res = HttpResponse{};
            http_error(res, 500, "internal error: unknown exception");
        }
        asio::post(self->stream_.get_executor(),
                   [self, r = std::move(res)]() mutable { self->write_response(std::move(r)); });
    });
}

template <class Stream>
void HttpConnection<Stream>::reject(int status, const std::string& message, bool close) {
    HttpResponse res;
    http_error(res, status, message);
    res.close_connection = close;
    write_response(std::move(res));
}

template <class Stream>
void HttpConnection<Stream>::write_response(HttpResponse res) {
    if (closing_) {
        if (res.stream) res.stream->close();
        return;
    }
    const bool head = req_.method == "HEAD";
    if (res.stream && head) {
        res.stream->close();
        res.stream.reset();
    }
    if (res.stream) return start_stream(std::move(res));
    const bool keep = keep_alive_ && !res.close_connection && served_ + 1 < limits().keep_alive_max_count;
    auto msg = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(res.status), 11);
    for (const auto& [k, v] : res.headers) msg->insert(k, v);
    msg->body() = std::move(res.body);
    msg->keep_alive(keep);
    msg->prepare_payload();
    set_deadline(limits().write_timeout_s);
    auto done = [self = this->shared_from_this(), keep](error_code ec, size_t) {
        if (ec) return self->close_now();
        self->finish_write(!keep);
    };
    if (head) {  // the GET answer's headers (Content-Length included), no body
        auto h = std::make_shared<http::response<http::empty_body>>(msg->base());
        return http::async_write(stream_, *h, [h, done](error_code ec, size_t n) { done(ec, n); });
    }
    http::async_write(stream_, *msg, [msg, done](error_code ec, size_t n) { done(ec, n); });
}

template <class Stream>
void HttpConnection<Stream>::start_stream(HttpResponse res) {
    auto h = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(res.status), 11);
    for (const auto& [k, v] : res.headers) h->insert(k, v);
    h->chunked(true);
    h->keep_alive(false);  // the connection ends with the stream
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*h);
    set_deadline(limits().write_timeout_s);
    http::async_write_header(stream_, *sr,
                             [self = this->shared_from_this(), h, sr, source = res.stream](error_code ec, size_t) {
                                 if (ec) {
                                     source->close();
                                     return self->close_now();
                                 }
                                 auto writer = std::make_shared<HttpStreamWriter<Stream>>(
                                     self->stream_, source, self->limits().write_timeout_s, self, [self](bool ok) {
                                         if (ok)
                                             self->linger_close();
                                         else
                                             self->close_now();
                                     });
                                 writer->start();
                             });
}

template <class Stream>
void HttpConnection<Stream>::finish_write(bool close) {
    if (close) return linger_close();
    ++served_;
    wait_next();
}

template <class Stream>
void HttpConnection<Stream>::linger_close() {
    // Half-close, then read and discard what the client still sends (at most 1 MiB, 1 s): closing a socket with
    // unread data sends a reset, which can destroy the answer before the client reads it.
    error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(1));
    drain(std::make_shared<std::array<char, 4096>>(), 0);
}

template <class Stream>
void HttpConnection<Stream>::drain(std::shared_ptr<std::array<char, 4096>> buf, size_t total) {
    beast::get_lowest_layer(stream_).async_read_some(
        asio::buffer(*buf), [self = this->shared_from_this(), buf, total](error_code ec, size_t n) {
            if (ec || self->closing_ || total + n > (1u << 20)) return self->close_now();
            self->drain(buf, total + n);
        });
}

}  // namespace itscam::service
