#include "backend/cpu/lowering_context.h"

#include <algorithm>
#include <cstdlib>

#include "backend/arena_plan.h"

namespace itscam::cpu {

memory::dims to_dims(const Shape& s) {
    return memory::dims(s.begin(), s.end());
}

namespace {

const char* cpu_isa_name(dnnl::cpu_isa isa) {
    switch (isa) {
        case dnnl::cpu_isa::sse41: return "SSE4.1";
        case dnnl::cpu_isa::avx: return "AVX";
        case dnnl::cpu_isa::avx2: return "AVX2";
        case dnnl::cpu_isa::avx2_vnni: return "AVX2 VNNI";
        case dnnl::cpu_isa::avx512_mic: return "AVX-512 (Xeon Phi)";
        case dnnl::cpu_isa::avx512_mic_4ops: return "AVX-512 (Xeon Phi 4ops)";
        case dnnl::cpu_isa::avx512_core: return "AVX-512";
        case dnnl::cpu_isa::avx512_core_vnni: return "AVX-512 VNNI";
        case dnnl::cpu_isa::avx512_core_bf16: return "AVX-512 BF16";
        case dnnl::cpu_isa::avx512_core_amx: return "AMX";
        default: return "an instruction set older than SSE4.1";
    }
}

bool cpu_isa_runs_bf16(dnnl::cpu_isa isa) {
    switch (isa) {
        case dnnl::cpu_isa::avx512_core:
        case dnnl::cpu_isa::avx512_core_vnni:
        case dnnl::cpu_isa::avx512_core_bf16:
        case dnnl::cpu_isa::avx512_core_amx: return true;
        default: return false;
    }
}

Status check_bf16_isa(const std::string& precision) {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    if (cpu_isa_runs_bf16(isa)) return Status::ok();
    return unsupported("precision " + precision + " on the cpu backend needs a CPU with AVX-512 (oneDNN runs bf16 " +
                       "there only); this one offers " + cpu_isa_name(isa) +
                       (std::getenv("ONEDNN_MAX_CPU_ISA") || std::getenv("DNNL_MAX_CPU_ISA")
                            ? std::string(" (limited by ONEDNN_MAX_CPU_ISA/DNNL_MAX_CPU_ISA)")
                            : std::string()) +
                       "; use precision fp32");
}

}  // namespace

Status check_precision(Precision p) {
    if (p == Precision::kF32) return Status::ok();
    // oneDNN 2.6 runs bf16 (and so our int8, whose activations are bf16) on AVX-512 cores only; elsewhere every
    // primitive descriptor fails at the first convolution with an opaque "could not create" error. Say why up
    // front, so that the user (and a test) can tell a CPU without the instructions from a real failure.
    if (p == Precision::kBF16 || p == Precision::kInt8) return check_bf16_isa(precision_name(p));
    return unsupported(std::string("the cpu backend runs fp32, bf16 or int8, not ") + precision_name(p));
}

Status dnnl_status(const dnnl::error& e, const std::string& what) {
    return Status(StatusCode::kDevice,
                  what + ": oneDNN error " + std::to_string(static_cast<int>(e.status)) + " " + e.what());
}

LoweringContext::LoweringContext(const Graph& g, const BackendOptions& opt) : g_(g), opt_(opt) {}

Status LoweringContext::init() {
    ITSCAM_RETURN_IF_ERROR(check_precision(opt_.precision));
    if (opt_.precision == Precision::kBF16 || opt_.precision == Precision::kInt8) {
        // int8 runs its convolutions on uint8 copies of bf16 activations; the rest of the graph runs in bf16.
        act_dt_ = dt::bf16;
        act_dtype_ = DType::kBF16;
        int8_ = opt_.precision == Precision::kInt8;
    }
    for (const auto& [name, vi] : g_.values)
        if (!g_.is_constant(name) && !vi.shape_known())
            return invalid_argument("value '" + name + "' has an unknown shape " + shape_str(vi.shape));
    return Status::ok();
}

bool LoweringContext::rank4_f32(const std::string& v) const {
    const ValueInfo* vi = g_.info(v);
    return vi && vi->shape.size() == 4 && vi->dtype == DType::kF32;
}

bool LoweringContext::all_inputs_dynamic(const Node& n) const {
    for (size_t i = 0; i < n.num_inputs(); ++i)
        if (n.inputs[i].empty() || g_.is_constant(n.inputs[i])) return false;
    return true;
}

void LoweringContext::plan_layouts(const std::vector<const Rule*>& rules) {
    auto make_slot = [&](const std::string& v) {
        if (v.empty() || g_.is_constant(v) || slots_.count(v)) return;
        const ValueInfo& vi = g_.values.at(v);
        Slot s;
        s.shape = vi.shape;
        s.dtype = vi.dtype;
        slots_[v] = std::move(s);
    };
    auto nhwc_rule = [&](size_t i) { return rules[i] && rules[i]->layout == Layout::kNhwc; };
    for (const auto& in : g_.inputs) make_slot(in);
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
        for (const auto& o : g_.nodes[i].outputs) {
            make_slot(o);
            if (!o.empty() && nhwc_rule(i)) slots_[o].producer_nhwc = true;
        }
    }
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
        for (const auto& in : g_.nodes[i].inputs) {
            if (in.empty() || g_.is_constant(in)) continue;
            Slot& s = slots_.at(in);
            if (nhwc_rule(i)) {
                if (!s.producer_nhwc) s.need_nhwc = true;
            } else if (s.producer_nhwc) {
                s.need_plain = true;
            }
        }
    }
    for (const auto& o : g_.outputs)
        if (slots_.count(o) && slots_[o].producer_nhwc) slots_[o].need_plain = true;
}

void LoweringContext::allocate(const std::vector<OutputBinding>& binding) {
    const int last_node = static_cast<int>(g_.nodes.size()) - 1;
    // Lifetimes in node order: from the producer (graph inputs: the start) to the last consumer. A view's uses count
    // as uses of the value whose plain buffer it aliases (its root).
    std::map<std::string, std::pair<int, int>> life;
    std::map<std::string, std::string> root;
    auto root_of = [&](const std::string& v) {
        auto it = root.find(v);
        return it == root.end() ? v : it->second;
    };
    for (const auto& in : g_.inputs) life[in] = {0, 0};
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
        const Node& n = g_.nodes[i];
        const int t = static_cast<int>(i);
        for (const auto& in : n.inputs) {
            if (in.empty() || g_.is_constant(in)) continue;
            life[in].second = std::max(life[in].second, t);
            auto& r = life[root_of(in)];
            r.second = std::max(r.second, t);
        }
        for (const auto& o : n.outputs)
            if (!o.empty()) life[o] = {t, t};
        if (binding[i] == OutputBinding::kView && !g_.is_constant(n.inputs[0]))
            for (const auto& o : n.outputs)
                if (!o.empty()) root[o] = root_of(n.inputs[0]);
    }
    // Buffers of their own: what run() reads after the steps (graph outputs and what they alias; recorded ranges).
    std::set<std::string> own;
    for (const auto& o : g_.outputs)
        if (slots_.count(o)) own.insert(root_of(o)), own.insert(o);
    for (const auto& v : range_values_) own.insert(v);
    // Values bound per run get no plain buffer.
    std::set<std::string> bound_per_run;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
        if (binding[i] != OutputBinding::kAllocated)
            for (const auto& o : g_.nodes[i].outputs) bound_per_run.insert(o);

    std::vector<ArenaBlock> blocks;
    std::vector<size_t*> offsets;  // where each block's offset goes
    for (auto& [name, s] : slots_) {
        const bool plain_needed = !s.producer_nhwc || s.need_plain;
        const bool is_input = std::find(g_.inputs.begin(), g_.inputs.end(), name) != g_.inputs.end();
        s.plain_prealloc = plain_needed && !bound_per_run.count(name) && !is_input;
        const bool has_nhwc = (s.producer_nhwc || s.need_nhwc) && !s.q_only;
        const size_t plain_bytes = shape_numel(s.shape) * dtype_size(s.dtype);
        const size_t act_bytes = shape_numel(s.shape) * dtype_size(act_dtype_);
        const size_t q_bytes = shape_numel(s.shape);
        if (own.count(name)) {
            if (s.plain_prealloc) s.plain = Tensor::zeros(s.dtype, s.shape), bytes_ += plain_bytes;
            if (has_nhwc) s.nhwc = Tensor::zeros(act_dtype_, s.shape), bytes_ += act_bytes;
            if (s.need_q) s.q = Tensor::zeros(DType::kU8, s.shape), bytes_ += q_bytes;
            continue;
        }
        const auto [first, last] = life.count(name) ? life.at(name) : std::pair<int, int>{0, last_node};
        auto add = [&](size_t bytes, size_t& off) {
            blocks.push_back({bytes, first, last, 0});
            offsets.push_back(&off);
        };
        if (s.plain_prealloc) add(plain_bytes, s.plain_off);
        if (has_nhwc) add(act_bytes, s.nhwc_off);
        if (s.need_q) add(q_bytes, s.q_off);
    }
    arena_bytes_ = arena_plan(blocks, 64);
    for (size_t i = 0; i < blocks.size(); ++i) *offsets[i] = blocks[i].offset;
    bytes_ += arena_bytes_;
    arena_ = opt_.arena ? opt_.arena : std::make_shared<ActivationArena>();
    arena_->reserve(arena_bytes_);
    bind_arena();
}

void LoweringContext::bind_arena() {
    std::byte* base = arena_->data();
    if (base == bound_base_) return;
    bound_base_ = base;
    // Non-owning views: the arena outlives the slots (arena_ holds it).
    auto view = [base](DType dtype, const Shape& shape, size_t off) {
        return Tensor::from_buffer(dtype, shape, std::shared_ptr<std::byte>(std::shared_ptr<std::byte>(), base + off));
    };
    for (auto& [name, s] : slots_) {
        if (s.plain_off != Slot::kNotInArena) s.plain = view(s.dtype, s.shape, s.plain_off);
        if (s.nhwc_off != Slot::kNotInArena) s.nhwc = view(act_dtype_, s.shape, s.nhwc_off);
        if (s.q_off != Slot::kNotInArena) s.q = view(DType::kU8, s.shape, s.q_off);
    }
}

Result<std::string> LoweringContext::tuned_choice(const std::string& name, const std::string& key) const {
    if (opt_.tuning.empty()) return std::string();
    const std::string prefix = name + " " + key + "=";
    size_t pos = 0;
    while (pos < opt_.tuning.size()) {
        size_t end = opt_.tuning.find('\n', pos);
        if (end == std::string::npos) end = opt_.tuning.size();
        if (opt_.tuning.compare(pos, prefix.size(), prefix) == 0 && pos + prefix.size() <= end)
            return opt_.tuning.substr(pos + prefix.size(), end - pos - prefix.size());
        pos = end + 1;
    }
    return invalid_argument("the plan's tuning has no " + key + " entry for '" + name + "': rebuild the plan");
}

void LoweringContext::add_input_conversions() {
    for (const auto& in : g_.inputs) {
        if (slots_.at(in).need_nhwc) add_reorder(in, true);
        if (slots_.at(in).need_q) add_quantize(in);
    }
}

void LoweringContext::add_output_conversions(const Node& n) {
    for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        const Slot& s = slots_.at(o);
        if (s.producer_nhwc && s.need_plain) add_reorder(o, false);
        if (!s.producer_nhwc && s.need_nhwc) add_reorder(o, true);
        if (s.need_q && !s.q_only) add_quantize(o);
    }
}

memory LoweringContext::nhwc_mem(const std::string& v) {
    Slot& s = slots_.at(v);
    return memory({to_dims(s.shape), act_dt_, tag::nhwc}, eng_, s.nhwc.raw());
}

const Tensor* LoweringContext::const_or_plain(const std::string& v) {
    if (const Tensor* c = g_.constant(v)) return c;
    return &slots_.at(v).plain;
}

void LoweringContext::keep(const Tensor& t, bool counted) {
    keep_.push_back(t);
    if (counted) bytes_ += t.nbytes();
}

void LoweringContext::add_reorder(const std::string& v, bool to_nhwc) {
    Slot& s = slots_.at(v);
    const memory::desc plain_md(to_dims(s.shape), dt::f32, tag::nchw), nhwc_md(to_dims(s.shape), act_dt_, tag::nhwc);
    const memory::desc src_md = to_nhwc ? plain_md : nhwc_md, dst_md = to_nhwc ? nhwc_md : plain_md;
    dnnl::reorder r(dnnl::reorder::primitive_desc(eng_, src_md, eng_, dst_md));
    emit("  reorder " + v + (to_nhwc ? " nchw->nhwc" : " nhwc->nchw"), [this, v, r, src_md, dst_md, to_nhwc]() {
        Slot& s = slots_.at(v);
        memory src(src_md, eng_, to_nhwc ? s.plain.raw() : s.nhwc.raw());
        memory dst(dst_md, eng_, to_nhwc ? s.nhwc.raw() : s.plain.raw());
        r.execute(strm_, src, dst);
        return Status::ok();
    });
}

void LoweringContext::add_quantize(const std::string& v) {
    Slot& s = slots_.at(v);
    memory::desc src_md(to_dims(s.shape), act_dt_, tag::nhwc), dst_md(to_dims(s.shape), dt::u8, tag::nhwc);
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {1.f / s.q_scale});
    attr.set_zero_points(DNNL_ARG_DST, 0, {s.q_zero});
    dnnl::reorder r(dnnl::reorder::primitive_desc(eng_, src_md, eng_, dst_md, attr));
    emit("  quantize " + v + " -> u8 (scale " + std::to_string(s.q_scale) + ", zero " + std::to_string(s.q_zero) + ")",
         [this, v, r, src_md, dst_md]() {
             Slot& s = slots_.at(v);
             memory src(src_md, eng_, s.nhwc.raw()), dst(dst_md, eng_, s.q.raw());
             r.execute(strm_, src, dst);
             return Status::ok();
         });
}

}  // namespace itscam::cpu
