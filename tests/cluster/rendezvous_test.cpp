// Weighted rendezvous hashing: fixed across builds, shares follow the weights, and a join or leave moves only the
// keys it must (about 1/N of them).
#include "cluster/rendezvous.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace itscam::cluster {
namespace {

std::vector<std::string> keys(int n) {
    std::vector<std::string> k;
    for (int i = 0; i < n; ++i) k.push_back("cam-" + std::to_string(i));
    return k;
}

std::map<std::string, std::string> assign(const std::vector<WeightedMember>& members,
                                          const std::vector<std::string>& ks) {
    std::map<std::string, std::string> out;
    for (const std::string& k : ks) {
        const int i = rendezvous_owner(members, k);
        EXPECT_GE(i, 0);
        out[k] = members[static_cast<size_t>(i)].name;
    }
    return out;
}

TEST(Rendezvous, IsDeterministicAndFixedAcrossBuilds) {
    // Pinned values (also computed by an independent Python rendering of FNV-1a + SplitMix64): every node of a
    // cluster, whatever its build, must compute the same owners.
    EXPECT_EQ(rendezvous_hash("node-a", "cam-1"), rendezvous_hash("node-a", "cam-1"));
    EXPECT_EQ(rendezvous_hash("", ""), 0xcfa3c5eb015b4663ull) << std::hex << rendezvous_hash("", "");
    EXPECT_EQ(rendezvous_hash("node-a", "cam-1"), 0x93349c5b42bb4230ull) << std::hex << rendezvous_hash("node-a", "cam-1");
    // The pair is ordered and the boundary counts: ("ab", "c") is not ("a", "bc").
    EXPECT_NE(rendezvous_hash("a", "b"), rendezvous_hash("b", "a"));
    EXPECT_NE(rendezvous_hash("ab", "c"), rendezvous_hash("a", "bc"));
    // The owner does not depend on the order the members are listed in.
    const std::vector<WeightedMember> m1 = {{"a", 1}, {"b", 2}, {"c", 1}};
    const std::vector<WeightedMember> m2 = {{"c", 1}, {"a", 1}, {"b", 2}};
    for (const std::string& k : keys(500))
        EXPECT_EQ(m1[static_cast<size_t>(rendezvous_owner(m1, k))].name, m2[static_cast<size_t>(rendezvous_owner(m2, k))].name);
}

TEST(Rendezvous, NoEligibleMemberMeansNoOwner) {
    EXPECT_EQ(rendezvous_owner({}, "cam"), -1);
    EXPECT_EQ(rendezvous_owner({{"a", 0}, {"b", -1}, {"c", std::nan("")}}, "cam"), -1);
    EXPECT_EQ(rendezvous_owner({{"a", 0}, {"b", 1}}, "cam"), 1);
    EXPECT_EQ(rendezvous_score("a", 0, "cam"), 0);
    EXPECT_GT(rendezvous_score("a", 1, "cam"), 0);
}

TEST(Rendezvous, SharesFollowTheWeights) {
    const std::vector<WeightedMember> members = {{"n1", 1}, {"n2", 2}, {"n3", 3}, {"n4", 4}};
    const auto ks = keys(10000);
    std::map<std::string, int> count;
    for (const auto& [k, owner] : assign(members, ks)) ++count[owner];
    for (const WeightedMember& m : members) {
        const double share = count[m.name] / 10000.0;
        EXPECT_NEAR(share, m.weight / 10.0, 0.02) << m.name;
    }
    // Equal weights: equal shares.
    const std::vector<WeightedMember> equal = {{"a", 1}, {"b", 1}, {"c", 1}};
    std::map<std::string, int> eq;
    for (const auto& [k, owner] : assign(equal, ks)) ++eq[owner];
    for (const auto& [name, n] : eq) EXPECT_NEAR(n / 10000.0, 1.0 / 3, 0.02) << name;
}

TEST(Rendezvous, AJoinMovesAboutAQuarterAndOnlyToTheNewNode) {
    const auto ks = keys(10000);
    const std::vector<WeightedMember> three = {{"n1", 1}, {"n2", 1}, {"n3", 1}};
    std::vector<WeightedMember> four = three;
    four.push_back({"n4", 1});
    const auto before = assign(three, ks), after = assign(four, ks);
    int moved = 0;
    for (const std::string& k : ks) {
        if (before.at(k) == after.at(k)) continue;
        ++moved;
        EXPECT_EQ(after.at(k), "n4") << k << " moved from " << before.at(k) << " to " << after.at(k);
    }
    const double fraction = moved / 10000.0;
    EXPECT_GE(fraction, 0.2);
    EXPECT_LE(fraction, 0.3);
}

TEST(Rendezvous, ALeaveMovesOnlyTheLeaversKeys) {
    const auto ks = keys(10000);
    const std::vector<WeightedMember> four = {{"n1", 1}, {"n2", 2}, {"n3", 1}, {"n4", 1}};
    const std::vector<WeightedMember> without_n2 = {{"n1", 1}, {"n3", 1}, {"n4", 1}};
    const auto before = assign(four, ks), after = assign(without_n2, ks);
    int moved = 0;
    for (const std::string& k : ks) {
        if (before.at(k) == "n2") {
            ++moved;
            EXPECT_NE(after.at(k), "n2");
        } else {
            EXPECT_EQ(after.at(k), before.at(k)) << k;
        }
    }
    EXPECT_NEAR(moved / 10000.0, 0.4, 0.02);  // n2's weight share: 2 / 5
}

}  // namespace
}  // namespace itscam::cluster
