#include "backend/cpu/lowering_context.h"

#include <algorithm>

namespace itscam::cpu {

memory::dims to_dims(const Shape& s) {
    return memory::dims(s.begin(), s.end());
}

Status dnnl_status(const dnnl::error& e, const std::string& what) {
    return Status(StatusCode::kDevice,
                  what + ": oneDNN error " + std::to_string(static_cast<int>(e.status)) + " " + e.what());
}

LoweringContext::LoweringContext(const Graph& g, const BackendOptions& opt) : g_(g), opt_(opt) {}

Status LoweringContext::init() {
    if (opt_.precision == Precision::kBF16 || opt_.precision == Precision::kInt8) {
        // int8 runs its convolutions on uint8 copies of bf16 activations; the rest of the graph runs in bf16.
        act_dt_ = dt::bf16;
        act_dtype_ = DType::kBF16;
        int8_ = opt_.precision == Precision::kInt8;
    } else if (opt_.precision != Precision::kF32) {
        return unsupported(std::string("the cpu backend runs fp32, bf16 or int8, not ") +
                           precision_name(opt_.precision));
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

void LoweringContext::allocate(const std::vector<bool>& per_run) {
    std::set<std::string> bound_per_run;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
        if (per_run[i])
            for (const auto& o : g_.nodes[i].outputs) bound_per_run.insert(o);
    for (auto& [name, s] : slots_) {
        const bool plain_needed = !s.producer_nhwc || s.need_plain;
        const bool is_input = std::find(g_.inputs.begin(), g_.inputs.end(), name) != g_.inputs.end();
        if (plain_needed && !bound_per_run.count(name) && !is_input) {
            s.plain = Tensor::zeros(s.dtype, s.shape);
            s.plain_prealloc = true;
            bytes_ += s.plain.nbytes();
        }
        if ((s.producer_nhwc || s.need_nhwc) && !s.q_only) {
            s.nhwc = Tensor::zeros(act_dtype_, s.shape);
            bytes_ += s.nhwc.nbytes();
        }
        if (s.need_q) {
            s.q = Tensor::zeros(DType::kU8, s.shape);
            bytes_ += s.q.nbytes();
        }
    }
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
