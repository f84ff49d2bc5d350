#include "runtime/process_setup.h"

#include <unistd.h>

#include <cstdlib>

namespace itscam {

void prefer_short_openmp_spins(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "3000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    // execv only returns on failure: carry on with whatever policy the runtime already has.
}

}  // namespace itscam
