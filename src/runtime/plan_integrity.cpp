// The plan checksum (format v1: must stay bit for bit what every existing plan carries) and SHA-256 through
// libcrypto's EVP interface.
#include "runtime/plan_integrity.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>

#include "runtime/plan.h"

namespace itscam {

namespace {

// ---- checksum: 4 lanes of xxHash64-style multiply-rotate rounds over 8-byte words ----
// Not XXH64 itself (no merge rounds; other tail constants), so no library computes it: it is part of the format.

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full, kP3 = 0x165667B19E3779F9ull;
inline uint64_t rotl(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}
inline uint64_t round64(uint64_t acc, uint64_t w) {
    return rotl(acc + w * kP2, 31) * kP1;
}
inline uint64_t load64(const unsigned char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// The first queued OpenSSL error, for a message (and clears the queue so the next call starts clean).
Status evp_error(const char* what) {
    const unsigned long e = ERR_get_error();
    std::string msg = std::string("SHA-256 (libcrypto): ") + what + " failed";
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        msg += std::string(": ") + buf;
    }
    ERR_clear_error();
    return internal_error(std::move(msg));
}

}  // namespace

uint64_t plan_checksum(const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    size_t i = 0;
    for (; i + 32 <= size; i += 32) {
        v1 = round64(v1, load64(p + i));
        v2 = round64(v2, load64(p + i + 8));
        v3 = round64(v3, load64(p + i + 16));
        v4 = round64(v4, load64(p + i + 24));
    }
    uint64_t h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18) + static_cast<uint64_t>(size);
    for (; i + 8 <= size; i += 8) h = rotl(h ^ round64(0, load64(p + i)), 27) * kP1 + kP3;
    for (; i < size; ++i) h = rotl(h ^ (p[i] * kP3), 11) * kP1;
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
}

void Sha256::CtxFree::operator()(evp_md_ctx_st* ctx) const {
    EVP_MD_CTX_free(ctx);
}

Result<Sha256> Sha256::create() {
    Sha256 s(EVP_MD_CTX_new());
    if (!s.ctx_) return evp_error("EVP_MD_CTX_new");
    if (EVP_DigestInit_ex(s.ctx_.get(), EVP_sha256(), nullptr) != 1) return evp_error("EVP_DigestInit_ex");
    return s;
}

Status Sha256::update(const void* data, size_t size) {
    if (!ctx_) return internal_error("SHA-256: update after finish");
    if (size && EVP_DigestUpdate(ctx_.get(), data, size) != 1) return evp_error("EVP_DigestUpdate");
    return Status::ok();
}

Result<std::string> Sha256::finish_hex() {
    if (!ctx_) return internal_error("SHA-256: finished twice");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const int rc = EVP_DigestFinal_ex(ctx_.get(), md, &len);
    ctx_.reset();
    if (rc != 1) return evp_error("EVP_DigestFinal_ex");
    static const char* kHex = "0123456789abcdef";
    std::string out;
    out.reserve(2 * len);
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 0xf];
    }
    return out;
}

Result<std::string> sha256_hex(const void* data, size_t size) {
    ITSCAM_ASSIGN_OR_RETURN(Sha256 s, Sha256::create());
    ITSCAM_RETURN_IF_ERROR(s.update(data, size));
    return s.finish_hex();
}

}  // namespace itscam
