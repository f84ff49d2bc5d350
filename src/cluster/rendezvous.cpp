#include "cluster/rendezvous.h"

#include <cmath>

namespace itscam::cluster {

namespace {

uint64_t fnv1a64(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char ch : s) {
        h ^= ch;
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t mix64(uint64_t z) {  // SplitMix64's finalizer
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace

uint64_t rendezvous_hash(std::string_view member, std::string_view key) {
    return mix64(mix64(fnv1a64(member)) ^ fnv1a64(key) ^ (static_cast<uint64_t>(key.size()) << 56));
}

double rendezvous_score(std::string_view member, double weight, std::string_view key) {
    if (!(weight > 0) || !std::isfinite(weight)) return 0;
    // The top 53 bits, centred in their cell: u is never 0 or 1, so ln(u) is finite and negative.
    const double u = (static_cast<double>(rendezvous_hash(member, key) >> 11) + 0.5) * 0x1.0p-53;
    return -weight / std::log(u);
}

int rendezvous_owner(const std::vector<WeightedMember>& members, std::string_view key) {
    int best = -1;
    double best_score = 0;
    for (size_t i = 0; i < members.size(); ++i) {
        const double s = rendezvous_score(members[i].name, members[i].weight, key);
        if (s <= 0) continue;
        if (best < 0 || s > best_score || (s == best_score && members[i].name < members[best].name)) {
            best = static_cast<int>(i);
            best_score = s;
        }
    }
    return best;
}

}  // namespace itscam::cluster
