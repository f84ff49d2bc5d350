// Element-wise ops on plain tensors (kernels/elementwise.cu): Add/Sub/Mul/Div with numpy broadcasting (a constant
// scalar operand is passed by value), and the Sigmoid/Relu activations. Activations fused into convolutions run in
// the convolution's epilogue instead (ops/conv.cpp).
#include <string>

#include "backend/cuda/ops/registry.h"

namespace itscam::cuda {

namespace {

Status lower_binary(CudaLowering& cx, const Node& n) {
    const Shape out = cx.vals[n.outputs[0]].shape;
    const size_t r = out.size();
    struct Operand {
        View v;
        ck::Dims strides;
        float scalar = 0.f;
        bool is_scalar = false;
    };
    Operand ops[2];
    for (int i = 0; i < 2; ++i) {
        const std::string& in = n.inputs[i];
        Shape s;
        if (const Tensor* c = cx.graph.constant(in)) {
            s = c->shape();
            if (c->numel() == 1) {
                ops[i].is_scalar = true;
                ops[i].scalar = c->cast(DType::kF32).data<float>()[0];
                continue;
            }
            ITSCAM_ASSIGN_OR_RETURN(ops[i].v, cx.upload_constant(in, cx.act));
        } else {
            ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(in));
            ops[i].v = cx.vals[in].plain;
            s = cx.vals[in].shape;
        }
        if (s.size() > r) return unsupported(n.label() + ": operand rank above the output's");
        Shape aligned(r - s.size(), 1);
        aligned.insert(aligned.end(), s.begin(), s.end());
        const Shape st = dense_strides(aligned);
        ops[i].strides.rank = static_cast<int>(r);
        for (size_t d = 0; d < r; ++d) ops[i].strides.d[d] = aligned[d] == 1 && out[d] != 1 ? 0 : st[d];
    }
    const ck::BinOp op = n.op == "Add"   ? ck::BinOp::kAdd
                         : n.op == "Sub" ? ck::BinOp::kSub
                         : n.op == "Mul" ? ck::BinOp::kMul
                                         : ck::BinOp::kDiv;
    Val& yv = cx.vals[n.outputs[0]];
    yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(out)) * cx.es, n.outputs[0]);
    const View y = yv.plain;
    const ck::Dims od = to_dims(out);
    const ck::DT dt = to_dt(cx.act);
    const Operand a = ops[0], b = ops[1];
    cx.add_step(n.name, n.op + " " + shape_text(out), {a.v.buf, b.v.buf, y.buf},
                [&cx, a, b, y, od, op, dt](cudaStream_t st) {
                    return csl::cuda_status(
                        ck::binary(op, a.is_scalar ? nullptr : cx.ptr(a.v), a.strides, a.scalar,
                                   b.is_scalar ? nullptr : cx.ptr(b.v), b.strides, b.scalar, cx.ptr(y), od, dt, st),
                        "binary");
                },
                {y.buf});
    return Status::ok();
}

Status lower_activation(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[0]));
    Val& yv = cx.vals[n.outputs[0]];
    yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * cx.es, n.outputs[0]);
    const View x = cx.vals[n.inputs[0]].plain, y = yv.plain;
    const int64_t count = shape_numel(yv.shape);
    const ck::Act act = n.op == "Sigmoid" ? ck::Act::kSigmoid : ck::Act::kReLU;
    const ck::DT dt = to_dt(cx.act);
    cx.add_step(n.name, n.op + " " + shape_text(yv.shape), {x.buf, y.buf},
                [&cx, x, y, count, act, dt](cudaStream_t st) {
                    return csl::cuda_status(ck::activation(cx.ptr(x), cx.ptr(y), count, act, 0.f, dt, st),
                                            "activation");
                },
                {y.buf});
    return Status::ok();
}

}  // namespace

void register_cuda_elementwise_lowerings(LoweringRegistry<CudaLowering>& r) {
    for (const char* op : {"Add", "Sub", "Mul", "Div"})
        r.add(op, {"elementwise", Layout::kPlain,
                   [](const CudaLowering& cx, const Node& n) {
                       return cx.is_f32(n.inputs[0]) && cx.is_f32(n.inputs[1]) &&
                              (cx.is_dynamic(n.inputs[0]) || cx.is_dynamic(n.inputs[1])) &&
                              cx.graph.info(n.outputs[0])->shape.size() <= 6;
                   },
                   lower_binary});
    for (const char* op : {"Sigmoid", "Relu"})
        r.add(op, {"elementwise", Layout::kPlain,
                   [](const CudaLowering& cx, const Node& n) {
                       return cx.is_dynamic(n.inputs[0]) && cx.is_f32(n.inputs[0]);
                   },
                   lower_activation});
}

}  // namespace itscam::cuda
