// Data-movement lowering (ops/data_movement.cpp): what the backend's compile and the head planning need from it.
#pragma once

#include <string>

#include "backend/cuda/lowering_context.h"

namespace itscam::cuda {

// Plans, after plan_layouts() and before any lowering, which channel-Concat members (or Split inputs) are placed
// straight into the Concat's buffer (Val::placed_in). Split inputs are placed only with the latency kernels on.
void plan_concat_placements(CudaLowering& cx);

// Whether `op` is lowered as a view of its input (Reshape, Flatten, Squeeze, Unsqueeze, Identity): no step, the
// output shares the input's plain buffer.
bool is_view_op(const std::string& op);

}  // namespace itscam::cuda
