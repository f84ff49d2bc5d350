#include "service/http_server.h"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/thread_info.h"
#include "service/http_connection.h"

namespace itscam::service {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

HttpConnectionSlot::~HttpConnectionSlot() {
    std::lock_guard<std::mutex> lk(shared_->mu);
    --shared_->open_total;
    auto it = shared_->open_by_address.find(address_);
    if (it != shared_->open_by_address.end() && --it->second <= 0) shared_->open_by_address.erase(it);
    shared_->open.erase(id_);
}

HttpServer::HttpServer(const HttpRouter& router, HttpLimits limits, std::string api_token, std::string read_token,
                       std::shared_ptr<asio::ssl::context> tls)
    : shared_(std::make_shared<HttpServerShared>()),
      tls_(std::move(tls)),
      handlers_(static_cast<size_t>(std::max(1, limits.handler_threads))),
      acceptor_(ioc_) {
    shared_->limits = limits;
    shared_->router = &router;
    shared_->api_token = std::move(api_token);
    shared_->read_token = std::move(read_token);
    shared_->handlers = &handlers_;
}

HttpServer::~HttpServer() {
    stop();
    // Connections still queued in the io_context go with it; the handler pool has no work left.
    handlers_.join();
}

Status HttpServer::start(const std::string& host, int port) {
    error_code ec;
    tcp::resolver resolver(ioc_);
    const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
    if (ec || results.empty())
        return unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": cannot resolve '" + host +
                           "': " + ec.message());
    const tcp::endpoint ep = results.begin()->endpoint();
    const auto fail = [&](const char* what) {
        return unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " + what + ": " + ec.message() +
                           " (is the port already in use, or the address not local?)");
    };
    acceptor_.open(ep.protocol(), ec);
    if (ec) return fail("socket");
    // SO_REUSEADDR only (not SO_REUSEPORT): a second server on a port in use must fail, not share it.
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor_.bind(ep, ec);
    if (ec) return fail("bind");
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen");
    port_ = acceptor_.local_endpoint().port();
    accept();
    const int n = std::max(1, shared_->limits.io_threads);
    for (int i = 0; i < n; ++i) io_threads_.emplace_back([this] {
        set_thread_name("http");
        ioc_.run();
    });
    running_ = true;
    return Status::ok();
}

void HttpServer::accept() {
    acceptor_.async_accept(asio::make_strand(ioc_),
                           [this](error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void HttpServer::on_accept(error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
        // Out of descriptors (EMFILE) and the like: try again shortly instead of spinning.
        auto t = std::make_shared<asio::steady_timer>(ioc_, std::chrono::milliseconds(50));
        t->async_wait([this, t](error_code) {
            if (acceptor_.is_open()) accept();
        });
        return;
    }
    error_code aec;
    const auto remote = socket.remote_endpoint(aec);
    if (aec) return accept();  // gone already
    const std::string address = remote.address().to_string();
    const HttpLimits& lim = shared_->limits;
    std::unique_ptr<HttpConnectionSlot> slot;
    {
        std::lock_guard<std::mutex> lk(shared_->mu);
        int& mine = shared_->open_by_address[address];
        std::string why;
        if (shared_->stopping)
            why = "the server is stopping";
        else if (shared_->open_total >= lim.max_connections)
            why = "too many connections (server.max_connections " + std::to_string(lim.max_connections) + ")";
        else if (mine >= lim.max_connections_per_client)
            why = "too many connections from " + address + " (server.max_connections_per_client " +
                  std::to_string(lim.max_connections_per_client) + ")";
        if (!why.empty()) {
            if (mine == 0) shared_->open_by_address.erase(address);
            refuse(socket, why);
            return accept();
        }
        ++mine;
        ++shared_->open_total;
        slot = std::make_unique<HttpConnectionSlot>(shared_, address, shared_->next_id++);
    }
    socket.set_option(tcp::no_delay(true), aec);  // small JSON answers must not wait for delayed ACKs (Nagle)
    if (lim.send_buffer_bytes > 0) socket.set_option(asio::socket_base::send_buffer_size(lim.send_buffer_bytes), aec);
    const uint64_t id = slot->id();
    std::shared_ptr<HttpServerShared::Open> conn;
    if (tls_) {
        auto c = std::make_shared<HttpConnection<TlsStream>>(TlsStream(std::move(socket), *tls_), std::move(slot));
        c->run();
        conn = c;
    } else {
        auto c = std::make_shared<HttpConnection<PlainStream>>(PlainStream(std::move(socket)), std::move(slot));
        c->run();
        conn = c;
    }
    {
        std::lock_guard<std::mutex> lk(shared_->mu);
        shared_->open[id] = conn;
    }
    accept();
}

void HttpServer::refuse(tcp::socket& socket, const std::string& why) {
    // Answered from the accept loop without reading the request: the answer fits the socket buffer, so one
    // non-blocking send either takes it or the client does not get it; then the connection is closed at once.
    error_code ec;
    if (!tls_) {
        const std::string body = R"({"error":")" + why + R"(","status":503})";
        const std::string text =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        socket.non_blocking(true, ec);
        socket.send(asio::buffer(text), 0, ec);
        socket.shutdown(tcp::socket::shutdown_send, ec);
    }
    socket.close(ec);
}

int HttpServer::open_connections() {
    std::lock_guard<std::mutex> lk(shared_->mu);
    return shared_->open_total;
}

void HttpServer::stop() {
    if (!running_.exchange(false)) return;
    std::vector<std::shared_ptr<HttpServerShared::Open>> open;
    {
        std::lock_guard<std::mutex> lk(shared_->mu);
        shared_->stopping = true;
        for (auto& [id, w] : shared_->open)
            if (auto c = w.lock()) open.push_back(std::move(c));
    }
    asio::post(ioc_, [this] {
        error_code ec;
        acceptor_.close(ec);
    });
    for (auto& c : open) c->close();
    open.clear();
    handlers_.join();  // running handlers finish (their answers go nowhere: the connections are closed)
    ioc_.stop();
    for (auto& t : io_threads_) t.join();
    io_threads_.clear();
    error_code ec;
    acceptor_.close(ec);  // (if the posted close did not run before the stop) the port is free from here on
}

}  // namespace itscam::service
