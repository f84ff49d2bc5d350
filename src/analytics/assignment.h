// Optimal linear assignment for the tracker's association: given scores (IoU, plus any bonus) between rows (tracks)
// and columns (detections), choose pairs, each row and column at most once, that maximise the total score. A pair
// scoring below the gate is never chosen (ByteTrack's cost limit), so every chosen pair is a plausible match.
//
// Gating leaves a sparse graph; it is split into connected components (usually one track and one detection, a few
// where objects overlap), and each component is solved exactly by the shortest-augmenting-path Hungarian method
// (Jonker-Volgenant's augmentation with dual potentials). Cost grows with the components, not with the frame.
#pragma once

#include <vector>

#include "core/status.h"

namespace itscam::analytics {

// A candidate pair: row and column index, and its score (higher is better).
struct AssignmentPair {
    int row = 0, col = 0;
    float score = 0;
};

struct AssignmentMatch {
    int row = 0, col = 0;
    bool operator==(const AssignmentMatch&) const = default;
};

struct Assignment {
    std::vector<AssignmentMatch> matches;       // sorted by row
    std::vector<int> unmatched_rows;  // ascending
    std::vector<int> unmatched_cols;  // ascending
};

// Maximises the sum of the chosen pairs' scores over the pairs with score >= min_score (a pair listed twice counts
// with its best score; NaN scores are never chosen). Scores <= 0 never help a sum and are never chosen either.
// Errors (kInvalidArgument): negative sizes, a pair outside rows x cols.
Result<Assignment> assign_sparse(int rows, int cols, const std::vector<AssignmentPair>& pairs, float min_score);

// The same over a dense row-major rows x cols score matrix.
Result<Assignment> assign_dense(int rows, int cols, const std::vector<float>& scores, float min_score);

// The dense kernel: a minimum-cost assignment of every row to a distinct column of a row-major rows x cols cost
// matrix with rows <= cols (finite costs). Returns the column of each row. Errors: rows > cols, a size mismatch, a
// cost that is not finite.
Result<std::vector<int>> solve_min_cost(int rows, int cols, const std::vector<double>& cost);

}  // namespace itscam::analytics
