// One convolution with its bias, activation and residual fused, through cuDNN's graph (backend) API:
//   y = act(conv(x, w) + b) [+ r]
// or, with FP8 input and output (issue 13 item 5, docs/cuda.md "FP8 convolutions"):
//   y = q((act(conv(x, w) * scale + b) [+ r]) * out_scale)
// as a single operation graph that cuDNN's runtime-fusion engines compile into one kernel. x, y and r are NHWC views
// with any row pitch, so the result lands straight in a Concat buffer. Grouped convolutions are not offered here
// (the caller keeps the legacy path for them).
//
// Thread-safety: a FusedConv is immutable after create() and may run on any stream of the handle's device; the
// cudnnHandle_t passed to run() must not be used concurrently from another thread.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace itscam {

struct FusedConvSpec {
    cudnnDataType_t dtype = CUDNN_DATA_HALF;  // x, w, b, r, y
    int64_t n = 1, c = 1, h = 1, w = 1;       // input
    int64_t k = 1, r = 1, s = 1;              // filters K x R x S (x C)
    int64_t oh = 1, ow = 1;
    int64_t pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
    int64_t ldx = 0, ldy = 0, ldr = 0;  // NHWC row pitches in elements (0: packed)
    int activation = 0;                 // 0 none, 1 silu, 2 relu, 3 sigmoid
    bool residual = false;
    // fp8_in: x and w are FP8 E4M3 and the convolution's fp32 sum is multiplied per output channel by a float[K]
    // `scale` (the input's scale times each filter's) before the bias; b and r stay `dtype`. fp8_out: the result is
    // multiplied by a float[K] `out_scale` (1 / the output's scale) and written to y as FP8 E4M3.
    bool fp8_in = false, fp8_out = false;
    // Pointers, to derive the alignment cuDNN may assume (the run pointers must keep it).
    const void* x = nullptr;
    const void* wt = nullptr;
    const void* b = nullptr;
    const void* res = nullptr;
    void* y = nullptr;
};

class FusedConv {
public:
    ~FusedConv();
    // Builds the operation graph and up to `max_configs` execution plans that finalize (cuDNN's heuristic order).
    // kUnsupported when cuDNN offers no engine for this graph.
    static Result<std::unique_ptr<FusedConv>> create(cudnnHandle_t handle, const FusedConvSpec& spec, int max_configs,
                                                     size_t max_workspace);
    int num_plans() const { return static_cast<int>(plans_.size()); }
    size_t workspace(int plan) const;
    // cuDNN's name of plan `plan`'s engine (for describe()).
    std::string engine_name(int plan) const;
    Status run(cudnnHandle_t handle, int plan, const void* x, const void* w, const void* b, const void* r, void* y,
               void* workspace) const {
        return run_scaled(handle, plan, x, w, nullptr, b, r, nullptr, y, workspace);
    }
    // run() for a spec with fp8_in (scale) or fp8_out (out_scale); the scales are device float[K].
    Status run_scaled(cudnnHandle_t handle, int plan, const void* x, const void* w, const float* scale, const void* b,
                      const void* r, const float* out_scale, void* y, void* workspace) const;

  private:
    FusedConv() = default;
    struct Plan;
    std::vector<std::unique_ptr<Plan>> plans_;
    std::vector<cudnnBackendDescriptor_t> keep_;  // descriptors the plans reference
    bool residual_ = false, fp8_in_ = false, fp8_out_ = false;
};

}  // namespace itscam
