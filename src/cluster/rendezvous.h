// Weighted rendezvous (highest random weight) hashing: every node computes a camera's owner from the same member
// list alone, and a join or leave moves only the cameras that the joining node wins or the leaving node held
// (about 1/N of them). Weighted form: score = -w / ln(u), with u in (0, 1) from a 64-bit hash of (member, key);
// a member's expected share is w / sum(w).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace itscam::cluster {

struct WeightedMember {
    std::string name;
    double weight = 1.0;  // capacity; <= 0 or not finite: never chosen
};

// 64-bit hash of the pair (member, key): FNV-1a 64 of each string, combined and finished by SplitMix64's mixer
// (full avalanche). Fixed for all builds and platforms: every node must compute the same value.
uint64_t rendezvous_hash(std::string_view member, std::string_view key);
// -weight / ln(u), u = the hash mapped to (0, 1). 0 for a weight that cannot be chosen.
double rendezvous_score(std::string_view member, double weight, std::string_view key);
// The index of `key`'s owner in `members` (highest score; ties by the smaller name), or -1 when no member can be
// chosen.
int rendezvous_owner(const std::vector<WeightedMember>& members, std::string_view key);

}  // namespace itscam::cluster
