// The op cases of the cross-backend suite. Each case builds a small graph with one runtime input wherever the
// op allows it (the cpu backend, like the Engine, runs single-input graphs): two-operand cases take their
// operands from a Split/Slice of that input, as the YOLO graph does.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graph_builder_test_util.h"

namespace itscam::test {

// How a case's runtime inputs are drawn.
enum class Dist {
    kUniform,   // [-2, 2)
    kPositive,  // [0.1, 3) (Log, Sqrt)
    kNonZero,   // +-[0.5, 2) (divisors)
    kIntegers,  // small integers -3..3 as floats (comparisons, Mod, Round)
    kSpecial,   // uniform with ~3% each of NaN, +Inf and -Inf
    kNaN,       // uniform with ~3% NaN
    kInf,       // uniform with ~3% each of +Inf and -Inf
    kNegInf,    // uniform with ~10% -Inf (masked Softmax)
};

struct OpCase {
    std::string name;   // "Op_Conv_3x3_s2_b3": the gtest parameter name, unique
    bool yolo = false;  // YOLO11 needs it: the cpu backend must run it
    bool bf16 = false;  // also runs at BackendOptions::precision = kBF16 on cpu (looser tolerance)
    Dist dist = Dist::kUniform;
    double max_nmse = 1e-7;
    std::function<void(GraphBuilder&)> build;
};

const std::vector<OpCase>& backend_op_cases();
// The case's graph, shapes inferred and verified (a failure is a test failure).
Graph build_case(const OpCase& c);
// Inputs for the graph; `variant` picks another draw of the same distribution.
std::vector<Tensor> case_inputs(const Graph& g, const OpCase& c, uint32_t variant);

}  // namespace itscam::test
