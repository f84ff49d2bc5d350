// Op-family lowering registry, shared by the optimized backends (cpu, cuda).
//
// A backend compiles a graph by lowering it node by node into steps over its own buffers. The lowering of each op
// family (convolutions, element-wise ops, data movement, attention, the detect head, ...) lives in its own file
// and registers one rule per op it handles: a predicate that says whether the rule takes a node in the backend's
// lowering context (dtypes, ranks, constant inputs, backend settings), the layout the rule produces its outputs in,
// and the function that emits the node's steps. The backend asks the registry for each node; adding an op is a new
// file (or a new rule in its family's file) plus one line in the backend's registration list, never a new case in
// a switch.
//
// Layout is the one classification both backends plan with: a value produced by an NHWC rule lives as a dense or
// pitched "channels last" activation (what oneDNN's and cuDNN's fast convolutions read and write); a value produced
// by a plain rule is a row-major tensor in the graph's own dimension order. A consumer that needs the other layout
// gets one conversion, placed by the backend.
//
// Rules for one op are tried in registration order and the first that matches wins, so a family registers its
// specialised rule (e.g. channel Concat on NHWC) before its general one (Concat on plain tensors).
//
// Thread-safety: a registry is built once (each backend's function-local static) and only read afterwards.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "graph/graph.h"

namespace itscam {

// The memory layout a lowered node produces its outputs in.
enum class Layout { kNhwc, kPlain };

inline const char* layout_name(Layout l) { return l == Layout::kNhwc ? "nhwc" : "plain"; }

template <class Ctx>
struct LoweringRule {
    std::string family;  // "conv", "elementwise", "data_movement", "attention", "head", ...: for describe()/profiles
    Layout layout = Layout::kPlain;
    // Whether this rule takes the node. Cheap checks only, no side effects; called during planning, before any
    // buffer exists.
    std::function<bool(const Ctx&, const Node&)> matches;
    // Emits the node's steps into the context. Errors name what the rule cannot do; the backend adds the node label.
    std::function<Status(Ctx&, const Node&)> lower;
};

template <class Ctx>
class LoweringRegistry {
public:
    void add(const std::string& op, LoweringRule<Ctx> rule) { rules_[op].push_back(std::move(rule)); }

    // The first rule registered for n.op that matches the node, or null when none does (the backend cannot run it).
    const LoweringRule<Ctx>* find(const Ctx& ctx, const Node& n) const {
        auto it = rules_.find(n.op);
        if (it == rules_.end()) return nullptr;
        for (const auto& r : it->second)
            if (!r.matches || r.matches(ctx, n)) return &r;
        return nullptr;
    }

    // The op names that have at least one rule, sorted.
    std::vector<std::string> ops() const {
        std::vector<std::string> v;
        for (const auto& [op, rules] : rules_) v.push_back(op);
        return v;
    }

private:
    std::map<std::string, std::vector<LoweringRule<Ctx>>> rules_;
};

}  // namespace itscam
