// A long-lived chunked response body (GET /streams/{id}/live.mp4 and the SSE /streams/{id}/detections) on one
// connection, after its header was written: polls the StreamSource from the connection's strand (every 10 ms while
// it has nothing, so no thread ever waits on a viewer), writes each piece as one chunk, and ends the body (last
// chunk) when the source finishes. A viewer that takes nothing for write_timeout_s (a write waiting and the send
// queue not shrinking) is dropped by a watchdog, and the source is closed whatever ended the stream.
#pragma once

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
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
          watchdog_(stream.get_executor()),
          owner_(std::move(owner)),
          done_(std::move(done)) {}

    void start() {
        watch();
        poll();
    }

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
        boost::beast::get_lowest_layer(stream_).expires_never();  // the watchdog judges progress instead
        writing_ = true;
        stream_.async_write_some(rest, [self = this->shared_from_this(), total](boost::system::error_code ec,
                                                                                size_t n) {
            self->writing_ = false;
            ++self->completions_;
            if (ec) return self->end(false);  // the viewer went away, or the watchdog found it stalled
            self->sent_ += n;
            if (self->sent_ < total) return self->write_more();
            self->source_->written(self->piece_->size(),
                                   std::chrono::duration<double>(std::chrono::steady_clock::now() - self->t0_).count());
            self->piece_.reset();
            self->poll();
        });
    }

    // Every write_timeout_s: a viewer is stalled when a write has been waiting the whole period (none completed) and
    // the socket's send queue did not shrink (the peer acknowledged nothing). A per-write deadline would not do:
    // the kernel wakes a writer only once a third of the send buffer is free, which a slow but steady reader behind
    // a small window can take longer than write_timeout_s to free.
    void watch() {
        watchdog_.expires_after(write_timeout_);
        watchdog_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
            if (ec || self->ended_) return;
            auto& sock = boost::beast::get_lowest_layer(self->stream_).socket();
            int outq = -1;
            if (sock.is_open() && ::ioctl(sock.native_handle(), SIOCOUTQ, &outq) != 0) outq = -1;
            const bool stalled = self->writing_ && self->completions_ == self->last_completions_ &&
                                 self->last_outq_ >= 0 && outq >= self->last_outq_;
            self->last_outq_ = outq;
            self->last_completions_ = self->completions_;
            if (stalled) return boost::beast::get_lowest_layer(self->stream_).close();  // the write fails: end()
            self->watch();
        });
    }

    void write_last() {
        boost::beast::get_lowest_layer(stream_).expires_after(write_timeout_);
        boost::asio::async_write(
            stream_, boost::beast::http::make_chunk_last(),
            [self = this->shared_from_this()](boost::system::error_code ec, size_t) { self->end(!ec); });
    }

    void end(bool ok) {
        ended_ = true;
        watchdog_.cancel();
        source_->close();
        if (done_) std::exchange(done_, nullptr)(ok);
        owner_.reset();
    }

    Stream& stream_;
    std::shared_ptr<StreamSource> source_;
    std::chrono::steady_clock::duration write_timeout_;
    boost::asio::steady_timer timer_;
    boost::asio::steady_timer watchdog_;
    bool writing_ = false, ended_ = false;
    uint64_t completions_ = 0, last_completions_ = 0;  // write_some calls completed (watchdog's view)
    int last_outq_ = -1;                               // SIOCOUTQ at the previous watchdog tick
    std::shared_ptr<void> owner_;
    std::function<void(bool)> done_;
    std::shared_ptr<const std::string> piece_;
    std::string chunk_head_;  // "<size hex>\r\n" of the chunk being written
    size_t sent_ = 0;         // bytes of the chunk (head, data, CRLF) written so far
    std::chrono::steady_clock::time_point t0_;
};

}  // namespace itscam::service
