// HTTPS for the HTTP server: server.tls_cert (a PEM certificate chain, the server's certificate first) and
// server.tls_key (its PEM private key, unencrypted). With both set the port speaks TLS only (1.2 or newer).
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "core/status.h"

namespace itscam::service {

// The server's TLS context. kInvalidArgument naming the file when either cannot be read or parsed, or when the key
// does not belong to the certificate, so that a bad file is a clear start-up error.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const std::string& cert_path,
                                                                    const std::string& key_path);

}  // namespace itscam::service
