// The CPU backend's lowering context: everything the op-family rules (src/backend/cpu/ops/) lower a graph with.
//
// Layout. Every value has a Slot. A value produced by an NHWC rule (Layout::kNhwc in the shared registry) lives in
// a dense channels-last buffer in the activation dtype (what oneDNN's convolutions read and write); a value produced
// by a plain rule lives in a row-major buffer in the graph's dtype. A consumer that needs the other layout gets one
// oneDNN reorder, emitted right after the producer (add_output_conversions), and only then. int8 convolutions read a
// uint8 copy of their input (asymmetric, per tensor); a value only int8 convolutions read and a convolution makes is
// written as uint8 directly by its producer.
//
// Memory. The activation buffers live in one arena (backend/activation_arena.h), each at an offset planned from its
// lifetime in node order (backend/arena_plan.h: first fit, largest first), so buffers that are never alive at the
// same time share bytes; the arena may be shared with other graphs that never run at the same time as this one
// (BackendOptions::arena). The graph outputs (and what they alias), and with collect_ranges the values whose ranges
// are recorded, have buffers of their own: they are read after the run. The plain buffers of graph inputs, of views
// and of reference-kernel outputs are bound per run instead (they alias the caller's input, their input's buffer,
// or the kernel's result); a view keeps the buffer it aliases alive until the view's last use. Slot tensors are views
// into the arena, rebound when the arena's base moves (bind_arena(), at the start of every run).
//
// Steps. Rules emit steps (emit()): closures that run in order (cpu/executor.h) and find their buffers through the
// context at run time, never through pointers captured at compile time.
//
// Ownership and thread-safety: the context owns the graph copy, the slots, the steps and the compile-time buffers
// (reordered weights, biases). It is built and run by one thread at a time; steps capture a pointer to it, so it
// never moves (not copyable, not movable).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <set>
#include <string>
#include <vector>

#include "backend/activation_arena.h"
#include "backend/backend.h"
#include "backend/lowering_registry.h"

namespace itscam::cpu {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

memory::dims to_dims(const Shape& s);
Status dnnl_status(const dnnl::error& e, const std::string& what);
// OK when the cpu backend runs precision `p` on this machine: fp32 everywhere; bf16 and int8 on AVX-512 cores only
// (oneDNN 2.6); else kUnsupported with the reason and the way out.
Status check_precision(Precision p);

// The buffers of one graph value.
struct Slot {
    Shape shape;
    DType dtype = DType::kF32;
    Tensor plain;  // row-major buffer (preallocated, or set per run by view/generic steps)
    Tensor nhwc;   // channels-last buffer in the activation dtype
    bool producer_nhwc = false;
    bool need_plain = false;
    bool need_nhwc = false;
    bool plain_prealloc = false;
    bool need_q = false;  // an int8 convolution reads it: keep a uint8 copy (asymmetric, per-tensor)
    bool q_only = false;  // only int8 convolutions read it and a convolution makes it: it exists only as uint8
    Tensor q;
    float q_scale = 1.f;
    int32_t q_zero = 0;
    // Offsets of the arena-resident buffers (kNotInArena: own allocation, bound per run, or absent).
    static constexpr size_t kNotInArena = ~size_t(0);
    size_t plain_off = kNotInArena, nhwc_off = kNotInArena, q_off = kNotInArena;
};

// How a node's outputs get their plain buffers.
enum class OutputBinding {
    kAllocated,  // planned at compile time
    kView,       // the node's step binds them to its input's plain buffer every run (no copy)
    kKernel,     // the node's step binds them to what a reference kernel returns every run
};

// One unit of execution: what describe() and the profile print, and the work.
struct Step {
    std::string desc;
    std::function<Status()> run;
};

class LoweringContext;
using Rule = LoweringRule<LoweringContext>;
using Registry = LoweringRegistry<LoweringContext>;

class LoweringContext {
  public:
    // Sets the activation dtype from opt.precision (fp32; bf16 for bf16 and int8); init() reports a precision the
    // backend does not run.
    LoweringContext(const Graph& g, const BackendOptions& opt);
    LoweringContext(const LoweringContext&) = delete;
    LoweringContext& operator=(const LoweringContext&) = delete;

    // --- Compile: cpu_backend.cpp calls these in order --------------------------------------------------------------
    Status init();
    // Slots for every non-constant value, each output's layout from its node's rule (null: reference kernel, plain),
    // and which values need a conversion to the other layout.
    void plan_layouts(const std::vector<const Rule*>& rules);
    // Plans and allocates every buffer (the arena, then the buffers of their own); `binding[i]` is how node i's
    // outputs are bound.
    void allocate(const std::vector<OutputBinding>& binding);
    // Points the arena-resident slot tensors at the arena's current base, when it moved since the last binding.
    void bind_arena();
    // The conversions of the graph inputs (to NHWC, to uint8) that run before the first node.
    void add_input_conversions();
    // After node n's steps: the reorders of its outputs to the layout their consumers need, and their quantization.
    void add_output_conversions(const Node& n);

    // --- For the rules ----------------------------------------------------------------------------------------------
    const Graph& graph() const { return g_; }
    const BackendOptions& options() const { return opt_; }
    const dnnl::engine& engine() const { return eng_; }
    dnnl::stream& stream() { return strm_; }
    dt act_dt() const { return act_dt_; }
    DType act_dtype() const { return act_dtype_; }
    bool int8() const { return int8_; }
    // The value has a known rank-4 float32 shape (an image-like activation).
    bool rank4_f32(const std::string& v) const;
    // Every input of n is present and not a constant.
    bool all_inputs_dynamic(const Node& n) const;
    // The graph's value info of v (every value a rule sees has one).
    const ValueInfo& info(const std::string& v) const { return *g_.info(v); }

    Slot& slot(const std::string& v) { return slots_.at(v); }
    const Slot& slot(const std::string& v) const { return slots_.at(v); }
    bool has_slot(const std::string& v) const { return slots_.count(v) > 0; }
    // Run time: the NHWC buffer of v as a oneDNN memory in the activation dtype.
    memory nhwc_mem(const std::string& v);
    Tensor& plain(const std::string& v) { return slots_.at(v).plain; }
    // A constant, or the plain buffer of a value.
    const Tensor* const_or_plain(const std::string& v);

    // int8: the convolutions that run on uint8 input (set by plan_conv_int8 in ops/conv.cpp).
    void set_int8_conv(const Node& n) { int8_convs_.insert(n.outputs[0]); }
    bool int8_conv(const Node& n) const { return int8_convs_.count(n.outputs[0]) > 0; }
    // Calibration (collect_ranges): the values whose range each run records.
    std::vector<std::string>& range_values() { return range_values_; }
    const std::vector<std::string>& range_values() const { return range_values_; }

    // Tuning (BackendOptions::tuning, CompiledGraph::tuning()): one line per choice, "<node name> <key>=<choice>".
    // The recorded choice for node `name` and `key` ("" when the options carry no tuning; an error when they carry
    // one without this entry), and the choices this compile made.
    Result<std::string> tuned_choice(const std::string& name, const std::string& key) const;
    bool has_tuning() const { return !opt_.tuning.empty(); }
    void record_choice(const std::string& name, const std::string& key, const std::string& choice) {
        tuning_out_ += name + " " + key + "=" + choice + "\n";
    }
    const std::string& tuning() const { return tuning_out_; }

    // Appends a step.
    void emit(std::string desc, std::function<Status()> run) { steps_.push_back({std::move(desc), std::move(run)}); }
    // Keeps a compile-time buffer alive as long as the graph; `counted`: it is part of memory_bytes().
    void keep(const Tensor& t, bool counted);
    // One oneDNN reorder between the plain f32 buffer and the NHWC buffer (activation dtype) of v.
    void add_reorder(const std::string& v, bool to_nhwc);
    // The uint8 copy of v's NHWC buffer for int8 convolutions.
    void add_quantize(const std::string& v);

    const std::vector<Step>& steps() const { return steps_; }
    // Weights, the buffers of their own, and this graph's arena plan (the shared arena may be larger).
    size_t bytes() const { return bytes_; }
    size_t arena_bytes() const { return arena_bytes_; }

  private:
    Graph g_;
    BackendOptions opt_;
    dnnl::engine eng_{dnnl::engine::kind::cpu, 0};
    dnnl::stream strm_{eng_};
    bool int8_ = false;
    dt act_dt_ = dt::f32;
    DType act_dtype_ = DType::kF32;
    std::map<std::string, Slot> slots_;
    std::set<std::string> int8_convs_;       // output names of the convolutions that run in int8
    std::vector<std::string> range_values_;  // conv inputs whose ranges a calibration run records
    std::vector<Step> steps_;
    std::vector<Tensor> keep_;  // reordered weights and other compile-time buffers
    std::shared_ptr<ActivationArena> arena_;
    size_t arena_bytes_ = 0;
    std::byte* bound_base_ = nullptr;  // the arena base the slot tensors point into
    std::string tuning_out_;
    size_t bytes_ = 0;
};

}  // namespace itscam::cpu
