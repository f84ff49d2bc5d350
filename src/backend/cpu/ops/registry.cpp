// The one list of the CPU backend's op families.
#include "backend/cpu/ops/ops.h"

namespace itscam::cpu {

const Registry& registry() {
    static const Registry r = [] {
        Registry reg;
        register_conv(reg);
        register_pooling(reg);
        register_data_movement(reg);
        register_elementwise(reg);
        register_attention(reg);
        register_head(reg);
        return reg;
    }();
    return r;
}

}  // namespace itscam::cpu
