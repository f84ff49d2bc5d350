#include "analytics/assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace itscam::analytics {
namespace {

// The best total over every partial matching that uses only gated pairs (score >= gate and > 0), by trying every
// injective map of rows to columns-or-nothing. Fine for up to 6 x 6.
double brute_force_best(int rows, int cols, const std::vector<float>& s, float gate) {
    double best = 0;
    std::vector<char> used(cols, 0);
    auto rec = [&](auto&& self, int r, double sum) -> void {
        if (r == rows) {
            best = std::max(best, sum);
            return;
        }
        self(self, r + 1, sum);  // row r unmatched
        for (int c = 0; c < cols; ++c) {
            const float v = s[static_cast<size_t>(r) * cols + c];
            if (used[c] || !(v >= gate && v > 0)) continue;
            used[c] = 1;
            self(self, r + 1, sum + v);
            used[c] = 0;
        }
    };
    rec(rec, 0, 0.0);
    return best;
}

// The total of an assignment after checking that it is one: gated pairs, each row and column once, and the
// unmatched lists exactly the complement.
double checked_total(int rows, int cols, const std::vector<float>& s, float gate, const Assignment& a) {
    std::vector<int> row_seen(rows, 0), col_seen(cols, 0);
    double sum = 0;
    for (const AssignmentMatch& m : a.matches) {
        EXPECT_GE(m.row, 0);
        EXPECT_LT(m.row, rows);
        EXPECT_GE(m.col, 0);
        EXPECT_LT(m.col, cols);
        const float v = s[static_cast<size_t>(m.row) * cols + m.col];
        EXPECT_TRUE(v >= gate && v > 0) << "ungated pair chosen: " << m.row << "," << m.col << " = " << v;
        ++row_seen[m.row];
        ++col_seen[m.col];
        sum += v;
    }
    EXPECT_TRUE(std::is_sorted(a.matches.begin(), a.matches.end(),
                               [](const AssignmentMatch& x, const AssignmentMatch& y) { return x.row < y.row; }));
    for (int r : a.unmatched_rows) ++row_seen[r];
    for (int c : a.unmatched_cols) ++col_seen[c];
    for (int r = 0; r < rows; ++r) EXPECT_EQ(row_seen[r], 1) << "row " << r;
    for (int c = 0; c < cols; ++c) EXPECT_EQ(col_seen[c], 1) << "col " << c;
    return sum;
}

TEST(Assignment, MatchesBruteForceOnRandomSmallMatrices) {
    std::mt19937 rng(12);
    std::uniform_int_distribution<int> size(0, 6);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    int nontrivial = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        const int rows = size(rng), cols = size(rng);
        // Mixtures of dense and sparse matrices; quantised scores make ties frequent (where greedy and wrong
        // tie-breaking show).
        const float density = u(rng);
        const bool quantised = iter % 3 == 0;
        std::vector<float> s(static_cast<size_t>(rows) * cols, 0.f);
        for (float& v : s) {
            if (u(rng) > density) continue;
            v = quantised ? std::round(u(rng) * 4) / 4 : u(rng);
        }
        const float gate = iter % 2 ? 0.2f : 0.f;
        auto a = assign_dense(rows, cols, s, gate);
        ASSERT_TRUE(a.is_ok()) << a.status().to_string();
        const double best = brute_force_best(rows, cols, s, gate);
        const double got = checked_total(rows, cols, s, gate, *a);
        ASSERT_NEAR(got, best, 1e-5) << "iteration " << iter << " (" << rows << "x" << cols << ")";
        if (a->matches.size() >= 2) ++nontrivial;
    }
    EXPECT_GT(nontrivial, 1000);
}

TEST(Assignment, BeatsGreedyWhereGreedyIsWrong) {
    // Greedy takes (0,0) = 0.9 and is left with (1,1) = 0.1: total 1.0. The optimum is (0,1) + (1,0) = 1.6.
    const std::vector<float> s = {0.9f, 0.8f,  //
                                  0.8f, 0.1f};
    auto a = assign_dense(2, 2, s, 0.f);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->matches, (std::vector<AssignmentMatch>{{0, 1}, {1, 0}}));
    // With a gate of 0.2 the (1,1) pair is out, and the answer is the same.
    a = assign_dense(2, 2, s, 0.2f);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->matches, (std::vector<AssignmentMatch>{{0, 1}, {1, 0}}));
}

TEST(Assignment, GateLeavesRowsAndColumnsUnmatched) {
    const std::vector<float> s = {0.15f, 0.f, 0.7f,  //
                                  0.1f, 0.19f, 0.f};
    auto a = assign_dense(2, 3, s, 0.2f);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->matches, (std::vector<AssignmentMatch>{{0, 2}}));
    EXPECT_EQ(a->unmatched_rows, std::vector<int>{1});
    EXPECT_EQ(a->unmatched_cols, (std::vector<int>{0, 1}));
}

TEST(Assignment, SparseSplitsComponentsAndKeepsTheBestDuplicate) {
    // Two independent 2x2 blocks in a 4x4 problem, plus a duplicate pair whose better score decides.
    std::vector<AssignmentPair> pairs = {{0, 0, 0.9f}, {0, 1, 0.8f}, {1, 0, 0.8f}, {1, 1, 0.1f},
                                         {2, 3, 0.5f}, {3, 2, 0.5f}, {3, 3, 0.3f}, {3, 3, 0.95f}};
    auto a = assign_sparse(4, 4, pairs, 0.05f);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->matches, (std::vector<AssignmentMatch>{{0, 1}, {1, 0}, {2, 3}, {3, 2}}));
    // Above, (2,3) + (3,2) = 1.0 beat (3,3) at its best listing, 0.95; at 1.2, (3,3) alone wins.
    pairs.push_back({3, 3, 1.2f});
    a = assign_sparse(4, 4, pairs, 0.05f);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->matches, (std::vector<AssignmentMatch>{{0, 1}, {1, 0}, {3, 3}}));
    EXPECT_EQ(a->unmatched_rows, std::vector<int>{2});
    EXPECT_EQ(a->unmatched_cols, std::vector<int>{2});
}

TEST(Assignment, NanAndNonPositiveScoresAreNeverChosen) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    auto a = assign_dense(2, 2, {nan, -0.5f, 0.f, nan}, -1.f);
    ASSERT_TRUE(a.is_ok());
    EXPECT_TRUE(a->matches.empty());
    EXPECT_EQ(a->unmatched_rows, (std::vector<int>{0, 1}));
}

TEST(Assignment, EmptySides) {
    auto a = assign_dense(0, 3, {}, 0.f);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->unmatched_cols, (std::vector<int>{0, 1, 2}));
    a = assign_sparse(2, 0, {}, 0.f);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->unmatched_rows, (std::vector<int>{0, 1}));
}

TEST(Assignment, BadInputIsAnError) {
    EXPECT_EQ(assign_dense(2, 2, {0.5f}, 0.f).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(assign_dense(-1, 2, {}, 0.f).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(assign_sparse(2, 2, {{2, 0, 0.5f}}, 0.f).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(assign_sparse(2, 2, {{0, -1, 0.5f}}, 0.f).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(solve_min_cost(3, 2, std::vector<double>(6, 0.0)).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(solve_min_cost(2, 2, {1, 2, 3}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(solve_min_cost(1, 2, {1, std::numeric_limits<double>::infinity()}).status().code(),
              StatusCode::kInvalidArgument);
}

TEST(Assignment, MinCostKernelMatchesBruteForce) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> u(-5, 5);
    for (int iter = 0; iter < 500; ++iter) {
        const int n = 1 + iter % 6, m = n + (iter / 6) % 3;
        std::vector<double> c(static_cast<size_t>(n) * m);
        for (double& v : c) v = iter % 2 ? std::round(u(rng)) : u(rng);
        auto sol = solve_min_cost(n, m, c);
        ASSERT_TRUE(sol.is_ok());
        ASSERT_EQ(sol->size(), static_cast<size_t>(n));
        std::vector<char> used(m, 0);
        double got = 0;
        for (int i = 0; i < n; ++i) {
            const int j = (*sol)[i];
            ASSERT_GE(j, 0);
            ASSERT_LT(j, m);
            ASSERT_FALSE(used[j]);
            used[j] = 1;
            got += c[static_cast<size_t>(i) * m + j];
        }
        // Every injection of rows into columns: permutations of the columns, first n of each.
        std::vector<int> perm(m);
        std::iota(perm.begin(), perm.end(), 0);
        double best = std::numeric_limits<double>::infinity();
        do {
            double s = 0;
            for (int i = 0; i < n; ++i) s += c[static_cast<size_t>(i) * m + perm[i]];
            best = std::min(best, s);
        } while (std::next_permutation(perm.begin(), perm.end()));
        ASSERT_NEAR(got, best, 1e-9) << "iteration " << iter;
    }
}

}  // namespace
}  // namespace itscam::analytics
