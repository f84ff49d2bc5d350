#include "passes/graph_utils.h"

#include <algorithm>

namespace itscam {

ConsumerMap consumer_map(const Graph& g) {
    ConsumerMap m;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (const auto& in : g.nodes[i].inputs)
            if (!in.empty()) m[in].push_back(i);
    return m;
}

bool is_graph_output(const Graph& g, const std::string& v) {
    return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

int sole_consumer(const Graph& g, const ConsumerMap& consumers, const std::string& v) {
    auto it = consumers.find(v);
    if (it == consumers.end() || it->second.size() != 1 || is_graph_output(g, v)) return -1;
    return static_cast<int>(it->second[0]);
}

void erase_nodes(Graph& g, const std::vector<bool>& dead) {
    std::vector<Node> kept;
    kept.reserve(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(kept);
}

}  // namespace itscam
