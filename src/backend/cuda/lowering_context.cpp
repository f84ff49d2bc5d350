// The CUDA lowering context: classification, layouts, buffers and views, steps, the graph's inputs and outputs,
// and the arena plan (see lowering_context.h).
#include "backend/cuda/lowering_context.h"

#include <cstdlib>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "backend/arena_plan.h"
#include "backend/cuda/ops/registry.h"

namespace itscam::cuda {

namespace {

// ITSCAM_CUDA_DIRECT_INPUT=0: no NHWC device input (DeviceBinding::input_nhwc); callers letterbox into the fp32
// input and the graph converts it, as before the direct input existed (for A/B timing).
bool direct_input_allowed() {
    const char* v = std::getenv("ITSCAM_CUDA_DIRECT_INPUT");
    return !(v && std::string(v) == "0");
}

}  // namespace

ck::DT to_dt(DType d) {
    return d == DType::kF16 ? ck::DT::kF16 : ck::DT::kF32;
}

Shape dense_strides(const Shape& s) {
    Shape st(s.size(), 1);
    for (int64_t d = static_cast<int64_t>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
    return st;
}

ck::Dims to_dims(const Shape& s) {
    ck::Dims d;
    d.rank = static_cast<int>(s.size());
    for (size_t i = 0; i < s.size() && i < static_cast<size_t>(ck::kMaxRank); ++i) d.d[i] = s[i];
    return d;
}

std::string shape_text(const Shape& s) {
    std::ostringstream o;
    o << '[';
    for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
    o << ']';
    return o.str();
}

CudaLowering::~CudaLowering() {
    wait_idle();
    if (reserved) csl::memory_unreserve(device, reserved);
}

void CudaLowering::wait_idle() const {
    cudaSetDevice(device);
    if (stream.get()) cudaStreamSynchronize(stream.get());
}

bool CudaLowering::is_rank4_f32(const std::string& v) const {
    const ValueInfo* vi = graph.info(v);
    return vi && vi->shape.size() == 4 && vi->shape_known() && vi->dtype == DType::kF32;
}

bool CudaLowering::is_dynamic(const std::string& v) const {
    return !v.empty() && !graph.is_constant(v);
}

bool CudaLowering::is_f32(const std::string& v) const {
    const ValueInfo* vi = graph.info(v);
    return vi && vi->dtype == DType::kF32;
}

bool CudaLowering::all_inputs_dynamic(const Node& n) const {
    bool all_dynamic = true;
    for (size_t i = 0; i < n.num_inputs(); ++i) all_dynamic &= is_dynamic(n.inputs[i]);
    return all_dynamic;
}

const CudaRule* CudaLowering::classify(const Node& n) const {
    for (const auto& o : n.outputs)
        if (!o.empty() && (!graph.info(o) || !graph.info(o)->shape_known())) return nullptr;
    return cuda_lowering_registry().find(*this, n);
}

// Decides which values are NHWC (the Concat placements are planned next, by ops/data_movement.cpp).
Status CudaLowering::plan_layouts() {
    std::string bad;
    for (const Node& n : graph.nodes) {
        const CudaRule* rule = classify(n);
        rules[n.name] = rule;
        if (!rule) bad += (bad.empty() ? "" : "; ") + n.label();
        for (const auto& o : n.outputs)
            if (!o.empty() && graph.info(o)) {
                Val& v = vals[o];
                v.shape = graph.info(o)->shape;
                v.nhwc_native = rule && rule->layout == Layout::kNhwc;
            }
    }
    if (!bad.empty()) return unsupported("the CUDA backend cannot run: " + bad);
    for (const auto& in : graph.inputs) {
        const ValueInfo* vi = graph.info(in);
        if (!vi || !vi->shape_known() || vi->dtype != DType::kF32)
            return unsupported("CUDA backend: graph input '" + in + "' must be float32 with a bound shape");
        vals[in].shape = vi->shape;
    }
    return Status::ok();
}

int CudaLowering::new_buffer(size_t size, const std::string& what, bool is_persistent) {
    Buffer b;
    b.bytes = align_up(std::max<size_t>(size, 1));
    b.persistent = is_persistent;
    b.what = what;
    bufs.push_back(b);
    return static_cast<int>(bufs.size()) - 1;
}

void CudaLowering::add_step(std::string name, std::string desc, std::vector<int> step_bufs,
                            std::function<Status(cudaStream_t)> fn, std::vector<int> writes) {
    const int idx = static_cast<int>(steps.size());
    for (int b : step_bufs) {
        if (b < 0) continue;
        Buffer& buf = bufs[b];
        if (buf.first < 0) buf.first = idx;
        buf.last = std::max(buf.last, idx);
    }
    if (writes.empty()) writes = step_bufs;
    Step st{std::move(name), std::move(desc), std::move(step_bufs), std::move(fn), true, {}, false};
    for (int b : writes)
        if (b >= 0) st.writes.push_back(b);
    steps.push_back(std::move(st));
}

void CudaLowering::add_copy2d(std::string name, std::string desc, View src, size_t spitch, View dst, size_t dpitch,
                              size_t width, size_t rows) {
    add_step(std::move(name), std::move(desc), {src.buf, dst.buf},
             [this, src, spitch, dst, dpitch, width, rows](cudaStream_t st) {
                 return csl::cuda_status(
                     cudaMemcpy2DAsync(ptr(dst), dpitch, ptr(src), spitch, width, rows, cudaMemcpyDeviceToDevice, st),
                     "cudaMemcpy2DAsync");
             },
             {dst.buf});
}

void CudaLowering::add_fused_group(FusedGroup g) {
    const int id = static_cast<int>(fused_groups.size());
    for (const auto& n : g.nodes) fused_node[n] = id;
    fused_groups.push_back(std::move(g));
}

Result<bool> CudaLowering::fusion_switch(const char* name, const std::string& what) {
    const char* env = std::getenv(name);
    if (!env || std::string(env) == "1") return true;
    if (std::string(env) == "0") return false;
    return invalid_argument(std::string(name) + "='" + env + "': expected 1 (" + what + ", the default) or 0");
}

int CudaLowering::fused_groups_of(const std::string& kind) const {
    int k = 0;
    for (const auto& g : fused_groups) k += g.kind == kind && g.fused;
    return k;
}

Status CudaLowering::lower_fused(const Node& n, bool& done) {
    const auto it = fused_node.find(n.name);
    done = it != fused_node.end();
    if (!done) return Status::ok();
    FusedGroup& g = fused_groups[static_cast<size_t>(it->second)];
    if (n.name != g.nodes.front()) return Status::ok();
    ITSCAM_ASSIGN_OR_RETURN(g.fused, g.lower(*this));
    return Status::ok();
}

View CudaLowering::resolve_nhwc(const std::string& v) {
    Val& val = vals[v];
    if (val.nhwc.valid()) return val.nhwc;
    if (!val.placed_in.empty()) {
        View root = resolve_nhwc(val.placed_in);
        root.off += static_cast<size_t>(val.place_off) * es;
        val.nhwc = root;
    } else if (!val.view_of.empty()) {
        View base = resolve_nhwc(val.view_of);
        base.off += static_cast<size_t>(val.view_off) * es;
        val.nhwc = base;
    } else {
        const Shape& s = val.shape;
        val.nhwc.buf = new_buffer(static_cast<size_t>(shape_numel(s)) * es, v + " (nhwc)");
        val.nhwc.ld = s[1];
    }
    return val.nhwc;
}

Status CudaLowering::ensure_nhwc(const std::string& v, int64_t pad_to) {
    Val& val = vals[v];
    if (val.nhwc.valid()) return Status::ok();
    if (val.nhwc_native) {
        resolve_nhwc(v);
        return Status::ok();
    }
    const auto input = input_f32.find(v);
    if (input == input_f32.end()) ITSCAM_RETURN_IF_ERROR(ensure_plain(v));
    const Shape s = val.shape;
    if (s.size() != 4)
        return internal_error("CUDA backend: NHWC view of a rank-" + std::to_string(s.size()) + " value");
    const int64_t c = s[1], ld = std::max(pad_to, c);
    val.nhwc.buf = new_buffer(static_cast<size_t>(s[0] * s[2] * s[3] * ld) * es, v + " (nhwc)");
    val.nhwc.ld = ld;
    const bool is_input = input != input_f32.end();
    const View x = is_input ? input->second : val.plain, y = val.nhwc;
    const ck::DT xdt = is_input ? ck::DT::kF32 : to_dt(act), ydt = to_dt(act);
    const size_t total = static_cast<size_t>(s[0] * s[2] * s[3] * ld) * es;
    add_step(v, "to NHWC" + std::string(ld > c ? " (padded to " + std::to_string(ld) + " channels)" : ""),
             {x.buf, y.buf},
             [this, x, y, s, xdt, ydt, ld, c, total](cudaStream_t st) -> Status {
                 if (ld > c) ITSCAM_CUDA_CHECK(cudaMemsetAsync(ptr(y), 0, total, st));
                 return csl::cuda_status(ck::nchw_to_nhwc(ptr(x), xdt, ptr(y), ld, ydt, s[0], s[1], s[2] * s[3], st),
                                         "nchw_to_nhwc");
             },
             {y.buf});
    if (is_input && act == DType::kF16 && c == 3 && !graph.inputs.empty() && v == graph.inputs[0]) {
        input_nhwc_step = static_cast<int>(steps.size()) - 1;
        input_nhwc = y;
    }
    return Status::ok();
}

Status CudaLowering::ensure_plain(const std::string& v) {
    Val& val = vals[v];
    if (val.plain.valid()) return Status::ok();
    if (!val.nhwc_native) return internal_error("CUDA backend: value '" + v + "' used before it is produced");
    const Shape s = val.shape;
    const View x = resolve_nhwc(v);
    val.plain.buf = new_buffer(static_cast<size_t>(shape_numel(s)) * es, v + " (plain)");
    const View y = val.plain;
    const ck::DT dt = to_dt(act);
    add_step(v, "to NCHW", {x.buf, y.buf},
             [this, x, y, s, dt](cudaStream_t st) {
                 return csl::cuda_status(ck::nhwc_to_nchw(ptr(x), x.ld, dt, ptr(y), dt, s[0], s[1], s[2] * s[3], st),
                                         "nhwc_to_nchw");
             },
             {y.buf});
    return Status::ok();
}

Result<View> CudaLowering::upload_constant(const std::string& v, DType dtype) {
    const std::string key = v + "@" + dtype_name(dtype);
    auto it = const_views.find(key);
    if (it != const_views.end()) return it->second;
    const Tensor* t = graph.constant(v);
    if (!t) return internal_error("CUDA backend: '" + v + "' is not a constant");
    Tensor c = t->cast(dtype);
    View view;
    view.buf = new_buffer(c.nbytes(), v + " (weights)", true);
    std::vector<char> host(c.nbytes());
    if (c.nbytes()) std::memcpy(host.data(), c.raw(), c.nbytes());
    uploads.emplace_back(view.buf, std::move(host));
    const_views[key] = view;
    return view;
}

// Graph inputs: fp32 NCHW persistent buffers (input 0 is the device binding). NHWC consumers convert from it
// directly; plain consumers read it as is (fp32) or a cast copy in the activation dtype (fp16).
Status CudaLowering::lower_inputs() {
    for (const auto& in : graph.inputs) {
        Val& v = vals[in];
        View f32;
        f32.buf = new_buffer(static_cast<size_t>(shape_numel(v.shape)) * 4, in + " (input)", true);
        input_f32[in] = f32;
        in_bufs.push_back(f32.buf);
        in_bytes.push_back(static_cast<size_t>(shape_numel(v.shape)) * 4);
        bool plain_use = false;
        for (const Node& n : graph.nodes)
            for (const auto& x : n.inputs) plain_use |= x == in && layout_of(n) != Layout::kNhwc;
        plain_use |= std::find(graph.outputs.begin(), graph.outputs.end(), in) != graph.outputs.end();
        if (act == DType::kF32) {
            v.plain = f32;
        } else if (plain_use) {
            View dst;
            dst.buf = new_buffer(static_cast<size_t>(shape_numel(v.shape)) * es, in + " (cast)");
            const int64_t cnt = shape_numel(v.shape);
            add_step(in, "cast input", {f32.buf, dst.buf},
                     [this, f32, dst, cnt](cudaStream_t st) {
                         return csl::cuda_status(ck::cast(ptr(f32), ck::DT::kF32, ptr(dst), ck::DT::kF16, cnt, st),
                                                 "cast");
                     },
                     {dst.buf});
            v.plain = dst;
        }
    }
    return Status::ok();
}

// Graph outputs: fp32 dense persistent buffers.
Status CudaLowering::lower_outputs() {
    for (const auto& o : graph.outputs) {
        if (!vals.count(o)) return unsupported("CUDA backend: graph output '" + o + "' is not computed by a node");
        Val& v = vals[o];
        const int64_t cnt = shape_numel(v.shape);
        View dst;
        dst.buf = new_buffer(static_cast<size_t>(cnt) * 4, o + " (output)", true);
        out_bufs.push_back(dst.buf);
        out_bytes.push_back(static_cast<size_t>(cnt) * 4);
        const ck::DT dt = to_dt(act);
        if (v.nhwc_native && !v.plain.valid()) {
            const View x = resolve_nhwc(o);
            const Shape s = v.shape;
            add_step(o, "output NHWC -> NCHW fp32", {x.buf, dst.buf},
                     [this, x, dst, s, dt](cudaStream_t st) {
                         return csl::cuda_status(
                             ck::nhwc_to_nchw(ptr(x), x.ld, dt, ptr(dst), ck::DT::kF32, s[0], s[1], s[2] * s[3], st),
                             "nhwc_to_nchw");
                     },
                     {dst.buf});
        } else {
            ITSCAM_RETURN_IF_ERROR(ensure_plain(o));
            const View x = v.plain;
            add_step(o, "output to fp32", {x.buf, dst.buf},
                     [this, x, dst, cnt, dt](cudaStream_t st) {
                         return csl::cuda_status(ck::cast(ptr(x), dt, ptr(dst), ck::DT::kF32, cnt, st), "cast");
                     },
                     {dst.buf});
        }
    }
    return Status::ok();
}

Status CudaLowering::allocate() {
    std::vector<int> order;
    std::vector<ArenaBlock> blocks;
    for (size_t i = 0; i < bufs.size(); ++i)
        if (!bufs[i].persistent && bufs[i].first >= 0) {
            order.push_back(static_cast<int>(i));
            blocks.push_back({bufs[i].bytes, bufs[i].first, bufs[i].last, 0});
        }
    const size_t arena_bytes = arena_plan(blocks, kAlign);
    for (size_t k = 0; k < order.size(); ++k) bufs[order[k]].offset = blocks[k].offset;
    size_t persistent_bytes = 0;
    for (const auto& b : bufs)
        if (b.persistent) persistent_bytes += b.bytes;
    // The budget covers the arena, weights/inputs/outputs and the cuBLAS workspace; convolution workspaces are
    // reserved once their size is known (autotune.cpp).
    reserved = arena_bytes + persistent_bytes + kCublasWorkspace;
    ITSCAM_RETURN_IF_ERROR(csl::memory_reserve(device, reserved, "this engine"));
    ITSCAM_ASSIGN_OR_RETURN(arena, csl::device_alloc(arena_bytes));
    bytes = arena_bytes;
    for (auto& b : bufs) {
        if (!b.persistent) continue;
        ITSCAM_ASSIGN_OR_RETURN(csl::DeviceMem m, csl::device_alloc(b.bytes));
        b.ptr = m.get();
        bytes += b.bytes;
        persistent.push_back(std::move(m));
    }
    for (const auto& [buf, host] : uploads)
        if (!host.empty())
            ITSCAM_CUDA_CHECK(
                cudaMemcpyAsync(bufs[buf].ptr, host.data(), host.size(), cudaMemcpyHostToDevice, stream.get()));
    ITSCAM_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    uploads.clear();
    ITSCAM_ASSIGN_OR_RETURN(cublas_ws, csl::device_alloc(kCublasWorkspace));
    ITSCAM_CUBLAS_CHECK(cublasSetWorkspace(cublas.get(), cublas_ws.get(), kCublasWorkspace));
    bytes += kCublasWorkspace;
    size_t in_total = 0, out_total = 0;
    for (size_t b : in_bytes) in_total += align_up(b);
    for (size_t b : out_bytes) out_total += align_up(b);
    ITSCAM_ASSIGN_OR_RETURN(in_host, csl::pinned_alloc(in_total));
    ITSCAM_ASSIGN_OR_RETURN(out_host, csl::pinned_alloc(out_total));
    binding.input = in_bufs.empty() ? nullptr : bufs[in_bufs[0]].ptr;
    // The convolutions' NHWC input can be written by the caller (DeviceBinding::input_nhwc) when converting it is the
    // graph's first step (nothing else uses its memory before it in a run) and nothing else reads the fp32 input.
    if (input_nhwc_step == 0 && in_bufs.size() == 1 && direct_input_allowed()) {
        bool only = true;
        for (size_t i = 1; i < steps.size(); ++i)
            for (int b : steps[i].bufs) only = only && b != in_bufs[0];
        if (only) {
            binding.input_nhwc = ptr(input_nhwc);
            binding.input_nhwc_ld = static_cast<int>(input_nhwc.ld);
        }
    }
    binding.output = out_bufs.empty() ? nullptr : bufs[out_bufs[0]].ptr;
    binding.stream = &stream.lease();
    binding.device_id = device;
    return Status::ok();
}

int64_t graph_batch(const Graph& g) {
    const ValueInfo* in = g.inputs.empty() ? nullptr : g.info(g.inputs[0]);
    return in && !in->shape.empty() ? in->shape[0] : 1;
}

}  // namespace itscam::cuda
