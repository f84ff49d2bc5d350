// MaxPool and nearest Resize on NHWC views (kernels/pool_resize.cu): both read a strided input and write a strided
// output, so their results can be placed straight into a Concat's buffer. Chains of equal MaxPools (SPPF) run as
// one kernel (pool_resize.h).
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "backend/cuda/ops/pool_resize.h"
#include "backend/cuda/ops/registry.h"
#include "ops/conv_params.h"
#include "ops/resize_params.h"
#include "passes/graph_utils.h"

namespace itscam::cuda {

namespace {

Status lower_maxpool(CudaLowering& cx, const Node& n) {
    const std::string& xn = n.inputs[0];
    ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(xn));
    const Shape xs = cx.vals[xn].shape;
    ITSCAM_ASSIGN_OR_RETURN(ConvParams p, conv_params(n, xs, {}, true));
    if (p.dh != 1 || p.dw != 1) return unsupported(n.label() + ": dilated pooling on the CUDA backend");
    const View x = cx.vals[xn].nhwc, y = cx.resolve_nhwc(n.outputs[0]);
    const ck::DT dt = to_dt(cx.act);
    cx.add_step(n.name, "MaxPool " + std::to_string(p.kh) + "x" + std::to_string(p.kw) + " " + shape_text(xs),
                {x.buf, y.buf},
                [&cx, x, y, p, dt](cudaStream_t st) {
                    return csl::cuda_status(ck::maxpool_nhwc(cx.ptr(x), x.ld, cx.ptr(y), y.ld, p.n, p.h, p.w, p.c, p.oh,
                                                             p.ow, static_cast<int>(p.kh), static_cast<int>(p.kw),
                                                             static_cast<int>(p.sh), static_cast<int>(p.sw),
                                                             static_cast<int>(p.pt), static_cast<int>(p.pl), dt, st),
                                            "maxpool_nhwc");
                },
                {y.buf});
    return Status::ok();
}

// A MaxPool a chain can hold: k x k with k odd, stride 1, padding k / 2 on every side, no dilation, NHWC. Its
// window size, or 0.
int chain_pool_k(const CudaLowering& cx, const Node& n) {
    if (n.op != "MaxPool" || !cx.rules.at(n.name) || cx.layout_of(n) != Layout::kNhwc || n.outputs.size() != 1 ||
        !cx.graph.info(n.inputs[0]) || !cx.graph.info(n.inputs[0])->shape_known())
        return 0;
    auto p = conv_params(n, cx.graph.info(n.inputs[0])->shape, {}, true);
    if (!p.is_ok()) return 0;
    const int64_t k = p->kh, r = k / 2;
    const bool ok = p->kw == k && k % 2 == 1 && p->sh == 1 && p->sw == 1 && p->dh == 1 && p->dw == 1 && p->pt == r &&
                    p->pl == r && p->pb == r && p->pr == r && p->oh == p->h && p->ow == p->w;
    return ok ? static_cast<int>(k) : 0;
}

// The chain of nodes `idx` as one step; node by node where the views are not 16-byte vectors.
Result<bool> lower_maxpool_chain(CudaLowering& cx, const std::vector<size_t>& idx, int k) {
    const Node& first = cx.graph.nodes[idx[0]];
    ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(first.inputs[0]));
    const View x = cx.vals[first.inputs[0]].nhwc;
    const Shape xs = cx.vals[first.inputs[0]].shape;
    const int count = static_cast<int>(idx.size());
    std::vector<View> ys;
    ck::PoolChainOut lds;
    bool ok = x.off % 16 == 0;
    for (int s = 0; s < count; ++s) {
        ys.push_back(cx.resolve_nhwc(cx.graph.nodes[idx[static_cast<size_t>(s)]].outputs[0]));
        lds.ld[s] = ys.back().ld;
        ok &= ys.back().off % 16 == 0;
    }
    const ck::DT dt = to_dt(cx.act);
    if (!ok || !ck::maxpool_chain_supported(xs[0], xs[2], xs[3], xs[1], x.ld, lds, k, count, dt)) {
        for (size_t i : idx) ITSCAM_RETURN_IF_ERROR(lower_maxpool(cx, cx.graph.nodes[i]));
        return false;
    }
    std::set<int> written;
    for (const View& y : ys) written.insert(y.buf);
    std::vector<int> bufs(written.begin(), written.end());
    const std::vector<int> writes = bufs;
    bufs.push_back(x.buf);
    cx.add_step(
        first.name,
        "MaxPool chain " + std::to_string(count) + " x " + std::to_string(k) + "x" + std::to_string(k) + " " +
            shape_text(xs) + " (one kernel) [itscam kernel]",
        bufs,
        [&cx, x, ys, xs, k, count, dt](cudaStream_t st) {
            ck::PoolChainOut out;
            for (int s = 0; s < count; ++s) {
                out.y[s] = cx.ptr(ys[static_cast<size_t>(s)]);
                out.ld[s] = ys[static_cast<size_t>(s)].ld;
            }
            return csl::cuda_status(
                ck::maxpool_chain_nhwc(cx.ptr(x), x.ld, out, xs[0], xs[2], xs[3], xs[1], k, count, dt, st),
                "maxpool_chain_nhwc");
        },
        writes);
    return true;
}

Status lower_resize(CudaLowering& cx, const Node& n) {
    const std::string& xn = n.inputs[0];
    ITSCAM_RETURN_IF_ERROR(cx.ensure_nhwc(xn));
    const Shape xs = cx.vals[xn].shape;
    ITSCAM_ASSIGN_OR_RETURN(ResizeParams rp, resize_params(cx.graph, n, xs));
    std::vector<int32_t> idx(static_cast<size_t>(rp.out[2] + rp.out[3]));
    for (int64_t i = 0; i < rp.out[2]; ++i) idx[i] = static_cast<int32_t>(resize_nearest_index(rp, 2, i, xs[2]));
    for (int64_t i = 0; i < rp.out[3]; ++i)
        idx[rp.out[2] + i] = static_cast<int32_t>(resize_nearest_index(rp, 3, i, xs[3]));
    const std::string tname = cx.graph.unique_name(n.name + "_idx");
    Tensor t = Tensor::empty(DType::kI32, {static_cast<int64_t>(idx.size())});
    std::memcpy(t.raw(), idx.data(), idx.size() * 4);
    cx.graph.constants[tname] = t;
    ITSCAM_ASSIGN_OR_RETURN(View iv, cx.upload_constant(tname, DType::kI32));
    const View x = cx.vals[xn].nhwc, y = cx.resolve_nhwc(n.outputs[0]);
    const Shape out = rp.out;
    const ck::DT dt = to_dt(cx.act);
    cx.add_step(n.name, "Resize nearest " + shape_text(xs) + "->" + shape_text(out), {x.buf, y.buf, iv.buf},
                [&cx, x, y, xs, out, iv, dt](cudaStream_t st) {
                    const int* ih = static_cast<const int*>(cx.ptr(iv));
                    return csl::cuda_status(
                        ck::resize_nearest_nhwc(cx.ptr(x), x.ld, cx.ptr(y), y.ld, xs[0], xs[2], xs[3], xs[1], out[2],
                                                out[3], ih, ih + out[2], dt, st),
                        "resize_nearest_nhwc");
                },
                {y.buf});
    return Status::ok();
}

}  // namespace

Status plan_maxpool_chains(CudaLowering& cx) {
    ITSCAM_ASSIGN_OR_RETURN(const bool on, CudaLowering::fusion_switch("ITSCAM_CUDA_FUSED_POOLS",
                                                                       "chains of equal MaxPools as one kernel"));
    if (!on) return Status::ok();
    auto readers = consumer_map(cx.graph);
    std::set<size_t> taken;
    for (size_t i = 0; i < cx.graph.nodes.size(); ++i) {
        const int k =
            taken.count(i) || cx.fused_node.count(cx.graph.nodes[i].name) ? 0 : chain_pool_k(cx, cx.graph.nodes[i]);
        if (k == 0) continue;
        std::vector<size_t> idx = {i};
        while (idx.size() < static_cast<size_t>(ck::kMaxPoolChain)) {
            size_t next = 0;
            int found = 0;
            for (size_t j : readers[cx.graph.nodes[idx.back()].outputs[0]])
                if (!taken.count(j) && !cx.fused_node.count(cx.graph.nodes[j].name) &&
                    chain_pool_k(cx, cx.graph.nodes[j]) == k) {
                    next = j;
                    ++found;
                }
            if (found != 1) break;
            idx.push_back(next);
        }
        if (idx.size() < 2) continue;
        const Shape xs = cx.vals[cx.graph.nodes[i].inputs[0]].shape;
        ck::PoolChainOut dense;  // the pitches are checked again on the real views at lowering
        for (size_t s = 0; s < idx.size(); ++s) dense.ld[s] = xs[1];
        if (!ck::maxpool_chain_supported(xs[0], xs[2], xs[3], xs[1], xs[1], dense, k, static_cast<int>(idx.size()),
                                         to_dt(cx.act)))
            continue;
        std::vector<std::string> names;
        for (size_t j : idx) {
            taken.insert(j);
            names.push_back(cx.graph.nodes[j].name);
        }
        cx.add_fused_group(
            {"maxpool chain", std::move(names), [idx, k](CudaLowering& c) { return lower_maxpool_chain(c, idx, k); }});
    }
    return Status::ok();
}

void register_cuda_pool_resize_lowerings(LoweringRegistry<CudaLowering>& r) {
    r.add("MaxPool", {"pool_resize", Layout::kNhwc,
                      [](const CudaLowering& cx, const Node& n) {
                          return cx.is_rank4_f32(n.inputs[0]) && cx.is_dynamic(n.inputs[0]) && n.outputs.size() == 1 &&
                                 n.attr_int("ceil_mode", 0) == 0;
                      },
                      lower_maxpool});
    // Nearest only, and only over H and W (the batch and channels keep their size).
    r.add("Resize", {"pool_resize", Layout::kNhwc,
                     [](const CudaLowering& cx, const Node& n) {
                         if (!(cx.is_rank4_f32(n.inputs[0]) && cx.is_dynamic(n.inputs[0]) &&
                               n.attr_string("mode", "nearest") == "nearest"))
                             return false;
                         auto p = resize_params(cx.graph, n, cx.graph.info(n.inputs[0])->shape);
                         const Shape& in = cx.graph.info(n.inputs[0])->shape;
                         return p && p->out[0] == in[0] && p->out[1] == in[1];
                     },
                     lower_resize});
}

}  // namespace itscam::cuda
