// A long-lived chunked response body (GET /streams/{id}/live.mp4 and the SSE /streams/{id}/detections) on one
// connection, after its header was written: polls the StreamSource from the connection's strand (every 10 ms while
// it has nothing, so no thread ever waits on a viewer), writes each piece as one chunk, and ends the body (last
// chunk) when the source finishes. A viewer that takes nothing for write_timeout_s is dropped (the socket is closed
// by the deadline), and the source is closed whatever ended the stream.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "service/http_message.h"

namespace itscam::service {

template <class Stream>
class HttpStreamWriter : public std::enable_shared_from_this<HttpStreamWriter<Stream>> {
  public:
    // `owner` keeps the connection (and so `stream`) alive; `done` runs on the strand when the body has ended:
    // true after the last chunk was written, false when the viewer went away or stalled.
    HttpStreamWriter(Stream& stream, std::shared_ptr<StreamSource> source, double write_timeout_s,
                     std::shared_ptr<void> owner, std::function<void(bool)> done)
        : stream_(stream),
          source_(std::move(source)),
          write_timeout_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::duration<double>(write_timeout_s))),
          timer_(stream.get_executor()),
          owner_(std::move(owner)),
          done_(std::move(done)) {}

    void start() { poll(); }

  private:
    static constexpr std::chrono::milliseconds kPollInterval{10};

    void poll() {
        piece_ = source_->poll();
        if (piece_) return write_piece();
        if (source_->finished()) return write_last();
        timer_.expires_after(kPollInterval);
        timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
            if (ec) return self->end(false);
            self->poll();
        });
    }

    // One chunk ("<size>\r\n" data "\r\n") by write_some calls, each under its own write deadline: a slow viewer
    // that keeps taking bytes stays (the hub skips it ahead), one that takes nothing for write_timeout_s is
    // dropped.
    void write_piece() {
        char size[24];
        const int n = std::snprintf(size, sizeof size, "%zx\r\n", piece_->size());
        chunk_head_.assign(size, static_cast<size_t>(n));
        sent_ = 0;
        t0_ = std::chrono::steady_clock::now();
        write_more();
    }

    void write_more() {
        static constexpr char kCrlf[] = "\r\n";
        const std::array<boost::asio::const_buffer, 3> all = {
            boost::asio::buffer(chunk_head_), boost::asio::buffer(*piece_), boost::asio::buffer(kCrlf, 2)};
        std::array<boost::asio::const_buffer, 3> rest;
        size_t skip = sent_, total = 0;
        for (size_t i = 0; i < all.size(); ++i) {
            total += all[i].size();
            const size_t k = std::min(skip, all[i].size());
            rest[i] = all[i] + k;
            skip -= k;
        }
        boost::beast::get_lowest_layer(stream_).expires_after(write_timeout_);
        stream_.async_write_some(rest, [self = this->shared_from_this(), total](boost::system::error_code ec,
                                                                                size_t n) {
            if (ec) return self->end(false);  // the viewer went away, or took nothing within the write deadline
            self->sent_ += n;
            if (self->sent_ < total) return self->write_more();
            self->source_->written(self->piece_->size(),
                                   std::chrono::duration<double>(std::chrono::steady_clock::now() - self->t0_).count());
            self->piece_.reset();
            self->poll();
        });
    }

    void write_last() {
        boost::beast::get_lowest_layer(stream_).expires_after(write_timeout_);
        boost::asio::async_write(
            stream_, boost::beast::http::make_chunk_last(),
            [self = this->shared_from_this()](boost::system::error_code ec, size_t) { self->end(!ec); });
    }

    void end(bool ok) {
        source_->close();
        if (done_) std::exchange(done_, nullptr)(ok);
        owner_.reset();
    }

    Stream& stream_;
    std::shared_ptr<StreamSource> source_;
    std::chrono::steady_clock::duration write_timeout_;
    boost::asio::steady_timer timer_;
    std::shared_ptr<void> owner_;
    std::function<void(bool)> done_;
    std::shared_ptr<const std::string> piece_;
    std::string chunk_head_;  // "<size hex>\r\n" of the chunk being written
    size_t sent_ = 0;         // bytes of the chunk (head, data, CRLF) written so far
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace itscam::service
