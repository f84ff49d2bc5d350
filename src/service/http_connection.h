// One HTTP/1.1 connection of the HttpServer (plain TCP or TLS), on its own strand. Per request:
//   1. the request line and headers within the header deadline (header_timeout_s from the first byte; from the
//      accept for the first request, TLS handshake included), at most max_header_bytes (else 431);
//   2. from the headers alone, before any body byte is read: framing (Content-Length must be one plain decimal;
//      two Content-Length headers, Content-Length with Transfer-Encoding, or a Transfer-Encoding other than
//      chunked: 400 and close, as request smuggling behind a proxy depends on them), the route (404, 405 with
//      Allow), the access check (401/403), Content-Encoding (anything but identity: 415, bodies are never
//      decompressed), and a declared Content-Length over max_body_bytes (413). A request refused here with a body
//      still unread is answered and the connection closed;
//   3. the body within read_timeout_s, at most max_body_bytes decoded (chunked included; beyond: 413 and close);
//      a request without Content-Length or Transfer-Encoding has an empty body, at once;
//   4. the handler on the server's handler pool, then the response under the write deadline; a StreamSource
//      response goes to an HttpStreamWriter;
//   5. the next request (pipelined requests wait in the buffer and are answered in order) unless the client or
//      keep_alive_max_count ends the connection; an idle kept-alive connection closes after keep_alive_timeout_s.
// Malformed requests get 400 and close; a client that misses a deadline is just disconnected.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "service/http_message.h"
#include "service/http_router.h"
#include "service/http_server.h"

namespace itscam::service {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
class HttpConnection : public HttpServerShared::Open, public std::enable_shared_from_this<HttpConnection<Stream>> {
  public:
    HttpConnection(Stream stream, std::unique_ptr<HttpConnectionSlot> slot);
    void run();
    void close() override;

  private:
    HttpServerShared& shared() { return slot_->shared(); }
    const HttpLimits& limits() { return slot_->shared().limits; }
    void set_deadline(double seconds);
    void wait_next();
    void read_header();
    void on_header(boost::system::error_code ec);
    bool check_framing(HttpResponse& res);
    void read_body();
    void on_body(boost::system::error_code ec);
    void dispatch();
    void write_response(HttpResponse res);
    void start_stream(HttpResponse res);
    void reject(int status, const std::string& message, bool close = true);
    void finish_write(bool close);
    void linger_close();
    void drain(std::shared_ptr<std::array<char, 4096>> buf, size_t total);
    void close_now();

    Stream stream_;
    std::unique_ptr<HttpConnectionSlot> slot_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    HttpRequest req_;
    HttpRouter::Match match_;
    int served_ = 0;
    bool keep_alive_ = false;
    bool closing_ = false;
};

extern template class HttpConnection<PlainStream>;
extern template class HttpConnection<TlsStream>;

}  // namespace itscam::service
