// The fallback for nodes no CPU rule takes (none in YOLO11 detect graphs): the op's reference kernel on plain
// tensors. It allocates its outputs on every run.
#include "backend/cpu/ops/ops.h"
#include "ops/op_registry.h"

namespace itscam::cpu {

Status lower_reference(LoweringContext& ctx, const Node& n) {
    if (!op_find(n.op)) return unsupported(n.label() + ": no CPU kernel");
    const Node* node = &n;  // a node of ctx.graph(), which lives as long as the steps
    LoweringContext* c = &ctx;
    ctx.emit(n.name + " " + n.op + " [reference kernel]", [c, node]() -> Status {
        std::vector<const Tensor*> ins(node->inputs.size(), nullptr);
        for (size_t k = 0; k < node->inputs.size(); ++k)
            if (!node->inputs[k].empty()) ins[k] = c->const_or_plain(node->inputs[k]);
        std::vector<Tensor> outs;
        ITSCAM_RETURN_IF_ERROR(op_run_ref(*node, ins, outs));
        for (size_t k = 0; k < node->outputs.size(); ++k)
            if (!node->outputs[k].empty()) c->plain(node->outputs[k]) = std::move(outs[k]);
        return Status::ok();
    });
    return Status::ok();
}

}  // namespace itscam::cpu
