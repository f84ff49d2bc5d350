// Host memory shared by the activations of compiled graphs that never run at the same time: one inference worker's
// engines for its batch sizes, and its fallback's. Each graph plans its activations as offsets into an arena
// (backend/arena_plan.h), reserves its size when it compiles and resolves the arena's base address when it runs, so
// the arena holds what the largest graph needs instead of the sum over the graphs.
//
// Pass one through BackendOptions::arena (EngineOptions::arena); without one, a graph makes its own. Contents do not
// survive from one run to the next (every activation is written before it is read within a run), nor a growth.
// Ownership: shared by the graphs (shared_ptr). Thread-safety: none; the graphs that share an arena compile and run
// on one thread at a time (an inference worker does).
#pragma once

#include <cstddef>

#include "core/tensor.h"

namespace itscam {

class ActivationArena {
  public:
    ActivationArena() = default;
    ActivationArena(const ActivationArena&) = delete;
    ActivationArena& operator=(const ActivationArena&) = delete;

    // Grows the arena to at least `bytes` (zeroed, 64-byte aligned). A growth moves the base address; graphs re-read
    // data() on every run. Compile time only: runs never allocate.
    void reserve(size_t bytes);
    std::byte* data() { return static_cast<std::byte*>(buf_.raw()); }
    size_t size() const { return buf_.defined() ? buf_.nbytes() : 0; }

  private:
    Tensor buf_;
};

}  // namespace itscam
