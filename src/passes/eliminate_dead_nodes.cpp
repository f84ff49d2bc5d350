#include <algorithm>
#include <set>

#include "passes/graph_utils.h"
#include "passes/passes.h"

namespace itscam {

// Legality: a node is dead when none of its outputs is a graph output or read by a live node. Nodes have no side
// effects in this IR, so removing them never changes results.
Result<int> eliminate_dead_nodes(Graph& g) {
    std::set<std::string> live(g.outputs.begin(), g.outputs.end());
    std::vector<bool> dead(g.nodes.size(), true);
    for (size_t k = g.nodes.size(); k-- > 0;) {
        const Node& n = g.nodes[k];
        for (const auto& o : n.outputs)
            if (live.count(o)) dead[k] = false;
        if (!dead[k])
            for (const auto& in : n.inputs)
                if (!in.empty()) live.insert(in);
    }
    int removed = static_cast<int>(std::count(dead.begin(), dead.end(), true));
    erase_nodes(g, dead);
    for (auto it = g.constants.begin(); it != g.constants.end();) {
        if (!live.count(it->first)) {
            g.values.erase(it->first);
            it = g.constants.erase(it);
        } else {
            ++it;
        }
    }
    // Drop type info of values that no longer exist.
    std::set<std::string> existing(g.inputs.begin(), g.inputs.end());
    for (const auto& [k, v] : g.constants) existing.insert(k);
    for (const auto& n : g.nodes)
        for (const auto& o : n.outputs) existing.insert(o);
    for (auto it = g.values.begin(); it != g.values.end();) it = existing.count(it->first) ? std::next(it) : g.values.erase(it);
    return removed;
}

}  // namespace itscam
