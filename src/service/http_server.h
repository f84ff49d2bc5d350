// The HTTP/1.1 server under HttpService: event-driven on Boost.Beast/Asio. A few I/O threads run every socket
// (accept, header and body reads, writes, the long-lived streams), and a small pool runs the handlers, so no
// connection ever holds a thread: an idle, slow or stalled client costs a socket and a few KiB, never a worker.
//
// Limits (HttpLimits, docs/service.md "HTTP server limits"): a request's headers within header_timeout_s, its
// body within read_timeout_s, every write within write_timeout_s, kept-alive connections closed after
// keep_alive_timeout_s idle or keep_alive_max_count requests, at most max_connections open and
// max_connections_per_client from one address (beyond either a connection gets an immediate 503 and is closed at
// once; over TLS it is just closed). Authentication and the body limit are decided from the headers, before any
// body byte is read (http_connection.h). With a TLS context the port speaks HTTPS only (http_tls.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/status.h"
#include "service/http_limits.h"
#include "service/http_router.h"

namespace itscam::service {

// What every connection shares with the server.
struct HttpServerShared {
    HttpLimits limits;
    const HttpRouter* router = nullptr;
    std::string api_token;   // kWrite routes (and kRead ones)
    std::string read_token;  // kRead routes, when set
    boost::asio::thread_pool* handlers = nullptr;

    // Open connections, in all and by client address, and a way to close them all (stop()).
    struct Open {
        virtual ~Open() = default;
        virtual void close() = 0;  // thread-safe: posted to the connection's strand
    };
    std::mutex mu;
    int open_total = 0;
    std::map<std::string, int> open_by_address;
    std::map<uint64_t, std::weak_ptr<Open>> open;
    uint64_t next_id = 1;
    bool stopping = false;
};

// One admitted connection's place in the counts; released when the connection is destroyed.
class HttpConnectionSlot {
  public:
    HttpConnectionSlot(std::shared_ptr<HttpServerShared> shared, std::string address, uint64_t id)
        : shared_(std::move(shared)), address_(std::move(address)), id_(id) {}
    ~HttpConnectionSlot();
    HttpConnectionSlot(const HttpConnectionSlot&) = delete;
    HttpConnectionSlot& operator=(const HttpConnectionSlot&) = delete;
    const std::string& address() const { return address_; }
    uint64_t id() const { return id_; }
    HttpServerShared& shared() { return *shared_; }

  private:
    std::shared_ptr<HttpServerShared> shared_;
    std::string address_;
    uint64_t id_;
};

class HttpServer {
  public:
    // `router` must outlive the server. `tls`: null for plain HTTP.
    HttpServer(const HttpRouter& router, HttpLimits limits, std::string api_token, std::string read_token,
               std::shared_ptr<boost::asio::ssl::context> tls);
    ~HttpServer();  // stop()
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds host:port (0: any free port) and starts the threads. kUnavailable when the address cannot be bound.
    Status start(const std::string& host, int port);
    // Stops accepting, closes every connection, lets running handlers finish, joins. Idempotent.
    void stop();
    int port() const { return port_; }
    bool running() const { return running_; }
    int open_connections();

  private:
    void accept();
    void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
    void refuse(boost::asio::ip::tcp::socket& socket, const std::string& why);

    std::shared_ptr<HttpServerShared> shared_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    boost::asio::io_context ioc_;
    boost::asio::thread_pool handlers_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::vector<std::thread> io_threads_;
    std::atomic<bool> running_{false};
    int port_ = 0;
};

}  // namespace itscam::service
