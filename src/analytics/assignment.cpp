#include "analytics/assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace itscam::analytics {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Buffers of the Hungarian kernel, kept across the components of one call.
struct HungarianWork {
    std::vector<double> u, v, minv;
    std::vector<int> p, way;
    std::vector<char> used;
};

// Shortest augmenting paths with potentials (the Hungarian method in Jonker-Volgenant form): rows are added one at a
// time, each by a Dijkstra-like search over reduced costs a[i][j] - u[i] - v[j] >= 0, so the result is optimal after
// the last row. O(n^2 m) for n rows <= m columns. a: row-major n x m. row_col[i] receives row i's column.
void hungarian(int n, int m, const double* a, std::vector<int>& row_col, HungarianWork& w) {
    // 1-based columns with column 0 as the virtual start of each search (the classic formulation).
    w.u.assign(n + 1, 0);
    w.v.assign(m + 1, 0);
    w.p.assign(m + 1, 0);
    w.way.assign(m + 1, 0);
    for (int i = 1; i <= n; ++i) {
        w.p[0] = i;
        int j0 = 0;
        w.minv.assign(m + 1, kInf);
        w.used.assign(m + 1, 0);
        do {
            w.used[j0] = 1;
            const int i0 = w.p[j0];
            double delta = kInf;
            int j1 = 0;
            const double* row = a + static_cast<size_t>(i0 - 1) * m;
            for (int j = 1; j <= m; ++j) {
                if (w.used[j]) continue;
                const double cur = row[j - 1] - w.u[i0] - w.v[j];
                if (cur < w.minv[j]) {
                    w.minv[j] = cur;
                    w.way[j] = j0;
                }
                if (w.minv[j] < delta) {
                    delta = w.minv[j];
                    j1 = j;
                }
            }
            for (int j = 0; j <= m; ++j) {
                if (w.used[j]) {
                    w.u[w.p[j]] += delta;
                    w.v[j] -= delta;
                } else {
                    w.minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (w.p[j0] != 0);
        do {  // flip the augmenting path
            const int j1 = w.way[j0];
            w.p[j0] = w.p[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    row_col.assign(n, -1);
    for (int j = 1; j <= m; ++j)
        if (w.p[j] != 0) row_col[w.p[j] - 1] = j - 1;
}

int find_root(std::vector<int>& parent, int x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];  // path halving
        x = parent[x];
    }
    return x;
}

}  // namespace

Result<std::vector<int>> solve_min_cost(int rows, int cols, const std::vector<double>& cost) {
    if (rows < 0 || cols < 0) return invalid_argument("assignment: negative size");
    if (rows > cols)
        return invalid_argument("assignment: " + std::to_string(rows) + " rows > " + std::to_string(cols) +
                                " columns (transpose the matrix)");
    if (cost.size() != static_cast<size_t>(rows) * cols)
        return invalid_argument("assignment: " + std::to_string(cost.size()) + " costs for a " +
                                std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
    for (double c : cost)
        if (!std::isfinite(c)) return invalid_argument("assignment: a cost is not finite");
    std::vector<int> out;
    HungarianWork w;
    if (rows > 0) hungarian(rows, cols, cost.data(), out, w);
    return out;
}

Result<Assignment> assign_sparse(int rows, int cols, const std::vector<AssignmentPair>& pairs, float min_score) {
    if (rows < 0 || cols < 0) return invalid_argument("assignment: negative size");
    std::vector<AssignmentPair> edges;
    edges.reserve(pairs.size());
    for (const AssignmentPair& e : pairs) {
        if (e.row < 0 || e.row >= rows || e.col < 0 || e.col >= cols)
            return invalid_argument("assignment: pair (" + std::to_string(e.row) + ", " + std::to_string(e.col) +
                                    ") outside " + std::to_string(rows) + "x" + std::to_string(cols));
        // NaN fails both comparisons, so it is dropped here too.
        if (e.score >= min_score && e.score > 0) edges.push_back(e);
    }

    // Connected components of the gated graph (rows are nodes 0..rows-1, columns rows..rows+cols-1).
    std::vector<int> parent(static_cast<size_t>(rows) + cols);
    std::iota(parent.begin(), parent.end(), 0);
    for (const AssignmentPair& e : edges) {
        const int a = find_root(parent, e.row), b = find_root(parent, rows + e.col);
        if (a != b) parent[b] = a;
    }
    // Edges grouped by component: a counting sort on the root.
    std::vector<int> start(parent.size() + 1, 0);
    std::vector<int> root_of(edges.size());
    for (size_t k = 0; k < edges.size(); ++k) {
        root_of[k] = find_root(parent, edges[k].row);
        ++start[root_of[k] + 1];
    }
    std::partial_sum(start.begin(), start.end(), start.begin());
    std::vector<int> order(edges.size());
    {
        std::vector<int> fill(start.begin(), start.end() - 1);
        for (size_t k = 0; k < edges.size(); ++k) order[fill[root_of[k]]++] = static_cast<int>(k);
    }

    std::vector<int> row_match(rows, -1), col_match(cols, -1);
    std::vector<int> local_row(rows, -1), local_col(cols, -1);
    std::vector<int> comp_rows, comp_cols, sol;
    std::vector<double> cost;
    HungarianWork work;
    for (size_t root = 0; root < parent.size(); ++root) {
        const int b = start[root], e = start[root + 1];
        if (b == e) continue;
        comp_rows.clear();
        comp_cols.clear();
        int best = -1;
        for (int k = b; k < e; ++k) {
            const AssignmentPair& p = edges[order[k]];
            if (local_row[p.row] < 0) {
                local_row[p.row] = static_cast<int>(comp_rows.size());
                comp_rows.push_back(p.row);
            }
            if (local_col[p.col] < 0) {
                local_col[p.col] = static_cast<int>(comp_cols.size());
                comp_cols.push_back(p.col);
            }
            if (best < 0 || p.score > edges[order[best]].score) best = k;
        }
        if (comp_rows.size() == 1 || comp_cols.size() == 1) {
            // A star: the best edge is the optimum.
            const AssignmentPair& p = edges[order[best]];
            row_match[p.row] = p.col;
            col_match[p.col] = p.row;
        } else {
            // Rows of the kernel are the smaller side. A pair outside the gate costs 0, the same as leaving both
            // unmatched, so a full assignment of the smaller side is a partial matching of the same total; such
            // pairs are dropped afterwards.
            const bool transpose = comp_rows.size() > comp_cols.size();
            const int n = static_cast<int>(transpose ? comp_cols.size() : comp_rows.size());
            const int m = static_cast<int>(transpose ? comp_rows.size() : comp_cols.size());
            cost.assign(static_cast<size_t>(n) * m, 0.0);
            for (int k = b; k < e; ++k) {
                const AssignmentPair& p = edges[order[k]];
                const int r = local_row[p.row], c = local_col[p.col];
                double& slot = transpose ? cost[static_cast<size_t>(c) * m + r] : cost[static_cast<size_t>(r) * m + c];
                slot = std::min(slot, -static_cast<double>(p.score));
            }
            hungarian(n, m, cost.data(), sol, work);
            for (int i = 0; i < n; ++i) {
                const int j = sol[i];
                if (j < 0 || cost[static_cast<size_t>(i) * m + j] >= 0) continue;
                const int r = transpose ? comp_rows[j] : comp_rows[i];
                const int c = transpose ? comp_cols[i] : comp_cols[j];
                row_match[r] = c;
                col_match[c] = r;
            }
        }
        for (int r : comp_rows) local_row[r] = -1;
        for (int c : comp_cols) local_col[c] = -1;
    }

    Assignment out;
    for (int r = 0; r < rows; ++r) {
        if (row_match[r] >= 0)
            out.matches.push_back({r, row_match[r]});
        else
            out.unmatched_rows.push_back(r);
    }
    for (int c = 0; c < cols; ++c)
        if (col_match[c] < 0) out.unmatched_cols.push_back(c);
    return out;
}

Result<Assignment> assign_dense(int rows, int cols, const std::vector<float>& scores, float min_score) {
    if (rows < 0 || cols < 0) return invalid_argument("assignment: negative size");
    if (scores.size() != static_cast<size_t>(rows) * cols)
        return invalid_argument("assignment: " + std::to_string(scores.size()) + " scores for a " +
                                std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
    std::vector<AssignmentPair> pairs;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const float s = scores[static_cast<size_t>(r) * cols + c];
            if (s >= min_score && s > 0) pairs.push_back({r, c, s});
        }
    return assign_sparse(rows, cols, pairs, min_score);
}

}  // namespace itscam::analytics
