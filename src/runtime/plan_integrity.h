// Integrity of plans (internal to runtime/plan*.cpp; plan.h declares the public functions): the plan checksum over
// header + blobs, and SHA-256 (OpenSSL libcrypto's EVP interface) for the source model's digest.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"

struct evp_md_ctx_st;  // EVP_MD_CTX: no OpenSSL header outside plan_integrity.cpp

namespace itscam {

// Incremental SHA-256. Owns its EVP context; movable, not copyable; one object per thread. finish_hex() ends it.
class Sha256 {
  public:
    static Result<Sha256> create();
    Status update(const void* data, size_t size);
    // The digest as 64 lowercase hex digits. The object is spent afterwards.
    Result<std::string> finish_hex();

  private:
    struct CtxFree {
        void operator()(evp_md_ctx_st* ctx) const;
    };
    explicit Sha256(evp_md_ctx_st* ctx) : ctx_(ctx) {}
    std::unique_ptr<evp_md_ctx_st, CtxFree> ctx_;
};

}  // namespace itscam
