// The one list of the CUDA backend's op families (explicit calls: self-registering statics in a static library
// would be dropped by the linker).
#include "backend/cuda/ops/registry.h"

namespace itscam::cuda {

const LoweringRegistry<CudaLowering>& cuda_lowering_registry() {
    static const LoweringRegistry<CudaLowering> registry = [] {
        LoweringRegistry<CudaLowering> r;
        register_cuda_conv_lowerings(r);
        register_cuda_pool_resize_lowerings(r);
        register_cuda_data_movement_lowerings(r);
        register_cuda_elementwise_lowerings(r);
        register_cuda_attention_lowerings(r);
        register_cuda_head_lowerings(r);
        return r;
    }();
    return registry;
}

}  // namespace itscam::cuda
