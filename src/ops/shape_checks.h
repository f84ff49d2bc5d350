// Limits and checks shared by the shape, data-movement and generator ops (shape_ops.cpp, data_movement.cpp,
// generators.cpp): they refuse absurd shapes from hostile files before anything is allocated or overflows int64.
// Internal to src/ops: not included by anything outside those files.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ops/op_registry.h"

namespace itscam::op_shape_checks {

inline constexpr int64_t kMaxElements = int64_t{1} << 34;  // refuse absurd shapes from hostile files
inline constexpr int64_t kMaxRank = 64;

inline Status check_shape_sane(const Node& n, const Shape& s) {
    int64_t total = 1;
    for (int64_t d : s) {
        if (d < 0) return op_error(n, "negative dimension in " + shape_str(s));
        if (d > 0 && total > kMaxElements / d) return op_error(n, "shape " + shape_str(s) + " is too large");
        total *= d;
    }
    return Status::ok();
}

inline bool all_known(const Shape& s) {
    return std::all_of(s.begin(), s.end(), [](int64_t d) { return d >= 0; });
}

}  // namespace itscam::op_shape_checks
