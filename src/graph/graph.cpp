#include "graph/graph.h"

#include <algorithm>
#include <deque>
#include <set>
#include <sstream>

namespace itscam {

int64_t Node::attr_int(const std::string& k, int64_t def) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? def : it->second.i;
}
float Node::attr_float(const std::string& k, float def) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? def : it->second.f;
}
std::string Node::attr_string(const std::string& k, const std::string& def) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? def : it->second.s;
}
std::vector<int64_t> Node::attr_ints(const std::string& k, const std::vector<int64_t>& def) const {
    auto it = attrs.find(k);
    return it == attrs.end() ? def : it->second.ints;
}
std::string Node::label() const { return "node '" + name + "' (op " + op + ")"; }
size_t Node::num_inputs() const {
    size_t n = inputs.size();
    while (n > 0 && inputs[n - 1].empty()) --n;
    return n;
}
const std::string& Node::input(size_t i) const {
    static const std::string kEmpty;
    return i < inputs.size() ? inputs[i] : kEmpty;
}

bool ValueInfo::shape_known() const {
    for (int64_t d : shape)
        if (d < 0) return false;
    return true;
}

const Tensor* Graph::constant(const std::string& v) const {
    auto it = constants.find(v);
    return it == constants.end() ? nullptr : &it->second;
}
const ValueInfo* Graph::info(const std::string& v) const {
    auto it = values.find(v);
    return it == values.end() ? nullptr : &it->second;
}
int Graph::producer(const std::string& v) const {
    for (size_t i = 0; i < nodes.size(); ++i)
        for (const auto& o : nodes[i].outputs)
            if (o == v) return static_cast<int>(i);
    return -1;
}
int Graph::use_count(const std::string& v) const {
    int n = 0;
    for (const auto& node : nodes)
        for (const auto& in : node.inputs)
            if (in == v) ++n;
    for (const auto& o : outputs)
        if (o == v) ++n;
    return n;
}
std::string Graph::unique_name(const std::string& prefix) const {
    for (int i = 0;; ++i) {
        std::string n = prefix + "_" + std::to_string(i);
        if (!values.count(n) && !constants.count(n)) {
            bool used = false;
            for (const auto& node : nodes)
                for (const auto& o : node.outputs) used |= o == n;
            if (!used) return n;
        }
    }
}
std::map<std::string, int> Graph::op_histogram() const {
    std::map<std::string, int> h;
    for (const auto& n : nodes) h[n.op]++;
    return h;
}

Status Graph::verify() const {
    std::set<std::string> defined(inputs.begin(), inputs.end());
    for (const auto& [k, v] : constants) defined.insert(k);
    std::set<std::string> produced;
    for (const auto& n : nodes) {
        if (n.name.empty()) return invalid_argument("a node of op " + n.op + " has no name");
        for (const auto& in : n.inputs) {
            if (in.empty()) continue;
            if (!defined.count(in))
                return invalid_argument(n.label() + ": input '" + in + "' is not produced by an earlier node, "
                                        "nor a graph input or initializer");
        }
        for (const auto& o : n.outputs) {
            if (o.empty()) continue;
            if (produced.count(o) || constants.count(o) ||
                std::find(inputs.begin(), inputs.end(), o) != inputs.end())
                return invalid_argument(n.label() + ": output '" + o + "' is produced more than once");
            produced.insert(o);
            defined.insert(o);
        }
    }
    for (const auto& o : outputs)
        if (!defined.count(o)) return invalid_argument("graph output '" + o + "' is never produced");
    if (outputs.empty()) return invalid_argument("graph has no outputs");
    return Status::ok();
}

Status Graph::topo_sort() {
    std::map<std::string, size_t> producer_of;
    for (size_t i = 0; i < nodes.size(); ++i)
        for (const auto& o : nodes[i].outputs)
            if (!o.empty()) producer_of[o] = i;
    std::vector<int> pending(nodes.size(), 0);
    std::vector<std::vector<size_t>> consumers(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
        std::set<size_t> deps;
        for (const auto& in : nodes[i].inputs) {
            auto it = producer_of.find(in);
            if (it != producer_of.end() && it->second != i) deps.insert(it->second);
            if (it != producer_of.end() && it->second == i)
                return invalid_argument(nodes[i].label() + " reads its own output");
        }
        pending[i] = static_cast<int>(deps.size());
        for (size_t d : deps) consumers[d].push_back(i);
    }
    // Stable: always take the lowest-index ready node so the original order is kept where legal.
    std::set<size_t> ready;
    for (size_t i = 0; i < nodes.size(); ++i)
        if (pending[i] == 0) ready.insert(i);
    std::vector<Node> sorted;
    sorted.reserve(nodes.size());
    while (!ready.empty()) {
        size_t i = *ready.begin();
        ready.erase(ready.begin());
        sorted.push_back(nodes[i]);
        for (size_t c : consumers[i])
            if (--pending[c] == 0) ready.insert(c);
    }
    if (sorted.size() != nodes.size()) return invalid_argument("graph has a cycle");
    nodes = std::move(sorted);
    return Status::ok();
}

std::string graph_dump(const Graph& g) {
    std::ostringstream os;
    auto val = [&](const std::string& v) {
        std::string s = v;
        if (const ValueInfo* vi = g.info(v)) s += std::string(":") + dtype_name(vi->dtype) + shape_str(vi->shape);
        if (g.is_constant(v)) s += "(const)";
        return s;
    };
    for (const auto& in : g.inputs) os << "input " << val(in) << "\n";
    for (const auto& n : g.nodes) {
        os << n.op << " " << n.name << " (";
        for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << val(n.inputs[i]);
        os << ") -> (";
        for (size_t i = 0; i < n.outputs.size(); ++i) os << (i ? ", " : "") << val(n.outputs[i]);
        os << ")\n";
    }
    for (const auto& o : g.outputs) os << "output " << val(o) << "\n";
    return os.str();
}

}  // namespace itscam
