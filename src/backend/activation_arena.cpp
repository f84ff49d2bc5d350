#include "backend/activation_arena.h"

namespace itscam {

void ActivationArena::reserve(size_t bytes) {
    if (bytes <= size()) return;
    buf_ = Tensor();  // free the old block before taking the larger one
    buf_ = Tensor::zeros(DType::kU8, {static_cast<int64_t>(bytes)});
}

}  // namespace itscam
