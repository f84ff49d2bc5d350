#include "service/http_tls.h"

#include <openssl/ssl.h>

#include <filesystem>

namespace itscam::service {

namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<ssl::context>> make_tls_context(const std::string& cert_path, const std::string& key_path) {
    if (cert_path.empty() || key_path.empty())
        return invalid_argument("server.tls_cert and server.tls_key must be set together (PEM files)");
    for (const auto& [key, path] : {std::pair{"server.tls_cert", cert_path}, std::pair{"server.tls_key", key_path}}) {
        std::error_code fec;
        if (!std::filesystem::is_regular_file(path, fec))
            return invalid_argument(std::string(key) + ": '" + path + "' is not a readable regular file");
    }
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert_path, ec);
    if (ec)
        return invalid_argument("server.tls_cert: cannot load a PEM certificate from '" + cert_path +
                                "': " + ec.message());
    ctx->use_private_key_file(key_path, ssl::context::pem, ec);
    if (ec)
        return invalid_argument("server.tls_key: cannot load a PEM private key from '" + key_path +
                                "': " + ec.message());
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
        return invalid_argument("server.tls_key: the key in '" + key_path + "' does not match the certificate in '" +
                                cert_path + "'");
    return ctx;
}

}  // namespace itscam::service
