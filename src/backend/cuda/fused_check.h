// The output check behind every fused convolution the autotuner keeps (autotune.cpp), and behind our implicit-GEMM
// kernel where it is kept: each cuDNN graph-API engine of a layer is run on the real layer, with the same
// deterministic inputs, next to the legacy convolution + epilogue (or, for a layer whose strided input only the fused
// path takes, a direct reference convolution: kernels/verify.cu), and its output compared. cuDNN can finalize an
// engine that computes the wrong thing for a given shape and stride (on the H200 at HEAD, one of yolo11n's fp16
// layers at batch 2 turned every detection into noise); such an engine must never be chosen, whatever its speed.
#pragma once

#include <vector>

#include "backend/cuda/lowering_context.h"

namespace itscam::cuda {

// Most a fused engine's output may differ from the legacy path's: sum((fused - legacy)^2) / sum(legacy^2). fp16
// rounding of the two paths stays near 1e-6; a wrong engine is near 1.
inline constexpr double kFusedMaxNmse = 1e-3;

// The normalized squared error of each of L.fused's engines against the legacy path, or the direct reference where
// L has none (must_fuse). L.fused must be set. Overwrites L's input (and residual) with a fixed pattern and its
// output; run only while tuning, before any real input is written. Leaves L.fused_plan at -1.
Result<std::vector<double>> fused_engine_errors(CudaLowering& cx, ConvLayer& L);

// The same check for our implicit-GEMM kernel on L (L.igemm_ok): its normalized squared error against the direct
// reference convolution, on the same patterns. Leaves L.use_igemm as it was.
Result<double> igemm_error(CudaLowering& cx, ConvLayer& L);

}  // namespace itscam::cuda
