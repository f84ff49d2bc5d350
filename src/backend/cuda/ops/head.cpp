// The detection head: DflDecode on plain tensors (kernels/softmax_dfl.cu), and the fused YOLOv8/11 Detect head
// (kernels/detect_head.cu: DFL + box decode + sigmoid + concat in one kernel) that replaces the generic head's steps
// on the latency path once verified against them (ITSCAM_CUDA_FUSED_HEAD=0 switches it off).
#include "backend/cuda/ops/head.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "backend/cuda/ops/data_movement.h"
#include "backend/cuda/ops/registry.h"

namespace itscam::cuda {

namespace {

Status lower_dfl_decode(CudaLowering& cx, const Node& n) {
    ITSCAM_RETURN_IF_ERROR(cx.ensure_plain(n.inputs[0]));
    const Shape xs = cx.vals[n.inputs[0]].shape;
    if (xs.size() != 4 || cx.graph.constant(n.inputs[1])->numel() != xs[2])
        return invalid_argument(n.label() + ": DflDecode expects x [N,4,R,A] and R weights");
    ITSCAM_ASSIGN_OR_RETURN(View wv, cx.upload_constant(n.inputs[1], DType::kF32));
    Val& yv = cx.vals[n.outputs[0]];
    yv.plain.buf = cx.new_buffer(static_cast<size_t>(shape_numel(yv.shape)) * cx.es, n.outputs[0]);
    const View x = cx.vals[n.inputs[0]].plain, y = yv.plain;
    const ck::DT dt = to_dt(cx.act);
    const int64_t N = xs[0] * xs[1] / 4;
    if (xs[1] != 4) return unsupported(n.label() + ": DflDecode with " + std::to_string(xs[1]) + " box sides");
    cx.add_step(
        n.name, "DflDecode " + shape_text(xs), {x.buf, wv.buf, y.buf},
        [&cx, x, wv, y, xs, N, dt](cudaStream_t st) {
            return csl::cuda_status(
                ck::dfl_decode(cx.ptr(x), static_cast<const float*>(cx.ptr(wv)), cx.ptr(y), N, xs[2], xs[3], dt, st),
                "dfl_decode");
        },
        {y.buf});
    return Status::ok();
}

}  // namespace

Status plan_detect_head(CudaLowering& cx) {
    const char* env = std::getenv("ITSCAM_CUDA_FUSED_HEAD");
    if (!cx.latency_kernels || (env && std::string(env) == "0") || cx.graph.outputs.size() != 1 ||
        cx.graph.inputs.size() != 1)
        return Status::ok();
    const std::string& o = cx.graph.outputs[0];
    const Shape os = cx.vals[o].shape;
    const Shape is = cx.vals[cx.graph.inputs[0]].shape;
    if (os.size() != 3 || is.size() != 4) return Status::ok();
    const Node* dfl = nullptr;
    for (const Node& n : cx.graph.nodes)
        if (n.op == "DflDecode") dfl = dfl ? nullptr : &n;
    if (!dfl) return Status::ok();
    auto producer_node = [&](const std::string& v) -> const Node* {
        const int p = cx.graph.producer(v);
        return p < 0 ? nullptr : &cx.graph.nodes[p];
    };
    auto skip_views = [&](const Node* n) {
        while (n && is_view_op(n->op)) n = producer_node(n->inputs[0]);
        return n;
    };
    // Per-level NHWC conv outputs feeding a channel-last Concat through Reshapes: [N, ch, h, w] each.
    auto levels_of = [&](const Node* cat, std::vector<std::string>& vals) {
        if (!cat || cat->op != "Concat") return false;
        for (const auto& in : cat->inputs) {
            const Node* r = producer_node(in);
            if (!r || !is_view_op(r->op)) return false;
            const std::string& v = r->inputs[0];
            if (!cx.vals.count(v) || !cx.vals[v].nhwc_native || cx.vals[v].shape.size() != 4) return false;
            vals.push_back(v);
        }
        return !vals.empty() && vals.size() <= static_cast<size_t>(ck::kMaxHeadLevels);
    };
    std::vector<std::string> box_vals, cls_vals;
    if (!levels_of(skip_views(producer_node(dfl->inputs[0])), box_vals)) return Status::ok();
    const Node* sig = nullptr;
    for (const Node& n : cx.graph.nodes)
        if (n.op == "Sigmoid") sig = sig ? nullptr : &n;
    if (!sig || !levels_of(skip_views(producer_node(sig->inputs[0])), cls_vals) || cls_vals.size() != box_vals.size())
        return Status::ok();
    const int64_t R = cx.graph.constant(dfl->inputs[1])->numel();
    const int64_t nc = cx.vals[cls_vals[0]].shape[1];
    ck::HeadParams hp;
    hp.levels = static_cast<int>(box_vals.size());
    hp.N = os[0];
    hp.R = static_cast<int>(R);
    hp.nc = static_cast<int>(nc);
    int64_t a0 = 0;
    for (int l = 0; l < hp.levels; ++l) {
        const Shape& bs = cx.vals[box_vals[l]].shape;
        const Shape& cs = cx.vals[cls_vals[l]].shape;
        if (bs[1] != 4 * R || cs[1] != nc || bs[2] != cs[2] || bs[3] != cs[3] || bs[0] != os[0]) return Status::ok();
        hp.lv[l].h = static_cast<int>(bs[2]);
        hp.lv[l].w = static_cast<int>(bs[3]);
        hp.lv[l].stride = static_cast<float>(is[2]) / static_cast<float>(bs[2]);
        hp.lv[l].a0 = a0;
        a0 += bs[2] * bs[3];
    }
    hp.A = a0;
    if (os[1] != 4 + nc || os[2] != hp.A || R > 32) return Status::ok();
    // Everything downstream of the level outputs is the generic head; it must end at the output only.
    std::set<std::string> head_vals(box_vals.begin(), box_vals.end()), head_nodes;
    head_vals.insert(cls_vals.begin(), cls_vals.end());
    for (const Node& n : cx.graph.nodes) {
        bool reads = false;
        for (const auto& in : n.inputs) reads |= head_vals.count(in) != 0;
        if (!reads) continue;
        head_nodes.insert(n.name);
        for (const auto& out : n.outputs) head_vals.insert(out);
    }
    if (!head_vals.count(o)) return Status::ok();
    for (size_t i = 0; i < cx.steps.size(); ++i) {
        const std::string& nm = cx.steps[i].name;
        // Helper steps are named "<node>/<value>" (node names contain '/' themselves).
        bool of_head_node = head_nodes.count(nm) != 0;
        for (const auto& hn : head_nodes) of_head_node |= nm.rfind(hn + "/", 0) == 0;
        const bool level_conversion =
            (std::count(box_vals.begin(), box_vals.end(), nm) || std::count(cls_vals.begin(), cls_vals.end(), nm)) &&
            cx.steps[i].desc == "to NCHW";
        if (of_head_node || level_conversion || nm == o) cx.head_generic_steps.push_back(static_cast<int>(i));
    }
    ITSCAM_ASSIGN_OR_RETURN(View bins, cx.upload_constant(dfl->inputs[1], DType::kF32));
    std::vector<int> bufs = {bins.buf, cx.out_bufs[0]};
    std::vector<std::pair<View, View>> lv;
    for (int l = 0; l < hp.levels; ++l) {
        lv.emplace_back(cx.resolve_nhwc(box_vals[l]), cx.resolve_nhwc(cls_vals[l]));
        bufs.push_back(lv.back().first.buf);
        bufs.push_back(lv.back().second.buf);
    }
    const View out{cx.out_bufs[0], 0, 0};
    const ck::DT dt = to_dt(cx.act);
    cx.head_step = static_cast<int>(cx.steps.size());
    cx.add_step("detect_head", "Detect head fused (DFL + box decode + sigmoid + concat) [itscam kernel]", bufs,
                [&cx, hp, lv, bins, out, dt](cudaStream_t st) {
                    ck::HeadParams p = hp;
                    for (int l = 0; l < p.levels; ++l) {
                        p.lv[l].box = cx.ptr(lv[l].first);
                        p.lv[l].box_ld = lv[l].first.ld;
                        p.lv[l].cls = cx.ptr(lv[l].second);
                        p.lv[l].cls_ld = lv[l].second.ld;
                    }
                    return csl::cuda_status(ck::yolo_detect_head(p, static_cast<const float*>(cx.ptr(bins)),
                                                                 static_cast<float*>(cx.ptr(out)), dt, st),
                                            "yolo_detect_head");
                },
                {cx.out_bufs[0]});
    cx.steps[cx.head_step].enabled = false;
    return Status::ok();
}

Status verify_detect_head(CudaLowering& cx) {
    if (cx.head_step < 0) return Status::ok();
    cudaStream_t s = cx.stream.get();
    std::vector<float> in(cx.in_bytes[0] / 4);
    uint32_t r = 12345;
    for (auto& v : in) {
        r = r * 1664525u + 1013904223u;
        v = static_cast<float>(r >> 8) / 16777216.f;
    }
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(cx.binding.input, in.data(), cx.in_bytes[0], cudaMemcpyHostToDevice, s));
    for (auto& st : cx.steps)
        if (st.enabled) ITSCAM_RETURN_IF_ERROR(st.fn(s).with_context(st.name));
    std::vector<float> generic(cx.out_bytes[0] / 4), fused(cx.out_bytes[0] / 4);
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(generic.data(), cx.binding.output, cx.out_bytes[0], cudaMemcpyDeviceToHost, s));
    ITSCAM_RETURN_IF_ERROR(cx.steps[cx.head_step].fn(s).with_context("detect_head"));
    ITSCAM_CUDA_CHECK(cudaMemcpyAsync(fused.data(), cx.binding.output, cx.out_bytes[0], cudaMemcpyDeviceToHost, s));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(s));
    const Shape os = cx.vals[cx.graph.outputs[0]].shape;
    const int64_t A = os[2], C = os[1];
    const bool f16 = cx.act == DType::kF16;
    double worst_box = 0, worst_score = 0;
    bool ok = true;
    for (int64_t n = 0; n < os[0]; ++n)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t a = 0; a < A; ++a) {
                const size_t i = static_cast<size_t>((n * C + c) * A + a);
                const double g = generic[i], f = fused[i], d = std::fabs(g - f);
                if (c < 4) {
                    worst_box = std::max(worst_box, d);
                    ok &= d <= (f16 ? 1.0 + 4e-3 * std::fabs(g) : 1e-2 + 1e-4 * std::fabs(g));
                } else {
                    worst_score = std::max(worst_score, d);
                    ok &= d <= (f16 ? 2e-3 : 1e-5);
                }
                ok &= std::isfinite(f) == std::isfinite(g);
            }
    std::ostringstream st;
    st << (ok ? "on" : "off (disagrees with the generic head)") << ", max |box delta| " << worst_box
       << " px, max |score delta| " << worst_score;
    cx.head_state = st.str();
    if (!ok) {
        std::fprintf(stderr, "itscam cuda: fused detect head %s; keeping the generic head\n", cx.head_state.c_str());
        return Status::ok();
    }
    for (int i : cx.head_generic_steps) cx.steps[i].enabled = false;
    cx.steps[cx.head_step].enabled = true;
    return Status::ok();
}

void register_cuda_head_lowerings(LoweringRegistry<CudaLowering>& r) {
    r.add("DflDecode", {"head", Layout::kPlain,
                        [](const CudaLowering& cx, const Node& n) {
                            return cx.is_dynamic(n.inputs[0]) && cx.graph.is_constant(n.inputs[1]) &&
                                   cx.is_f32(n.inputs[0]);
                        },
                        lower_dfl_decode});
}

}  // namespace itscam::cuda
