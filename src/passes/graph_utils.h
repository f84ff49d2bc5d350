#pragma once

#include <map>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace itscam {

// value name -> indices of the nodes reading it (a node reading a value twice appears twice).
using ConsumerMap = std::map<std::string, std::vector<size_t>>;
ConsumerMap consumer_map(const Graph& g);
bool is_graph_output(const Graph& g, const std::string& v);
// Index of the one node reading `v`, or -1 when `v` has no reader, several, or is a graph output.
int sole_consumer(const Graph& g, const ConsumerMap& consumers, const std::string& v);
// Removes the nodes whose indices are flagged, keeping order.
void erase_nodes(Graph& g, const std::vector<bool>& dead);

}  // namespace itscam
