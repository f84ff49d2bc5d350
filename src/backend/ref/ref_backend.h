// The reference backend: an interpreter over the op registry's naive kernels. It is the oracle for every other
// backend and every pass; it is never optimized.
#pragma once

#include "backend/backend.h"

namespace itscam {

std::unique_ptr<Backend> make_ref_backend();

// Runs a graph once on the reference kernels. `keep_all` fills `env` with every intermediate value.
Status ref_execute(const Graph& g, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs,
                   std::map<std::string, Tensor>* env = nullptr);

}  // namespace itscam
