// What this binary is: the project version (itscam::version(), core/version.h) and the source commit it was built from,
// recorded at every build by cmake/build_commit.cmake (`git describe --always --dirty`; "unknown" when built outside a
// git checkout or without git). Shown by `itscam --version` and at the start of `itscam run`.
#pragma once

#include <string>

#include "core/version.h"

namespace itscam::cli {

extern const char* const kBuildCommit;  // the generated build_commit.cpp

// "itscam 0.1.0 (commit ae7bb32)"
inline std::string version_line() {
    return std::string("itscam ") + version() + " (commit " + kBuildCommit + ")";
}

}  // namespace itscam::cli
