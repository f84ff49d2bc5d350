// The limits of the HTTP server (src/service/http_server.h), each enforced by it: see docs/service.md, "HTTP
// server limits". Mapped from ServiceOptions (http_service.h), which config::ServerConfig fills (server.*).
#pragma once

#include <cstddef>

namespace itscam::service {

struct HttpLimits {
    double header_timeout_s = 10;         // a request's line and headers must arrive within this, from its first byte
                                          // (from the accept for the first request; the TLS handshake included)
    double read_timeout_s = 5;            // the body must arrive within this once the headers are in
    double write_timeout_s = 5;           // each response must be taken within this, a stream must make progress
                                          // within it; a stalled viewer is dropped
    double keep_alive_timeout_s = 5;      // idle seconds before a kept-alive connection is closed
    int keep_alive_max_count = 100;       // requests per connection, then Connection: close
    int max_connections = 1024;           // open connections in all; beyond: 503 and closed at once
    int max_connections_per_client = 64;  // ... from one client address
    size_t max_header_bytes = 16 * 1024;  // request line + headers; beyond: 431 and closed
    size_t max_body_bytes = 64 * 1024;    // the decoded body; beyond: 413 and closed
    int io_threads = 2;                   // threads running the sockets (accept, parse, write, streams)
    int handler_threads = 4;              // threads running the handlers (so a slow handler never stalls I/O)
    int send_buffer_bytes = 0;            // SO_SNDBUF of every connection (0: the OS default)
};

}  // namespace itscam::service
