#include "core/version.h"

#ifndef ITSCAM_VERSION
#error "ITSCAM_VERSION is set from project(VERSION) by src/core/CMakeLists.txt"
#endif

namespace itscam {

const char* version() {
    return ITSCAM_VERSION;
}

}  // namespace itscam
