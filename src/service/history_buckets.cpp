// Bucketing of aggregation intervals (history_analytics.h): the counts API's and the report's buckets.
#include <algorithm>
#include <cmath>

#include "service/history.h"
#include "service/history_analytics.h"

namespace itscam::service {

int congestion_rank(const std::string& level) {
    if (level == "free") return 0;
    if (level == "slow") return 1;
    if (level == "queued") return 2;
    return -1;
}

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

// Running sums of one zone over a bucket; finished into a ZoneBucket.
struct ZoneAcc {
    double weight = 0, occ_pct = 0, mean_occ = 0;
    double speed_weight = 0, speed_sum = 0;
    ZoneBucket z;
    int64_t last_start = INT64_MIN;
};

}  // namespace

Result<std::vector<CountBucket>> bucket_intervals(const std::vector<analytics::IntervalAggregate>& intervals,
                                                  SystemTime from, SystemTime to, int64_t bucket_s) {
    if (bucket_s <= 0) return invalid_argument("bucket length must be > 0 s, got " + std::to_string(bucket_s));
    if (to <= from) return invalid_argument("the end of the range must be after its start");
    const int64_t step_ms = bucket_s * 1000;
    const int64_t first = floor_div(to_epoch_ms(from), step_ms);
    const int64_t last = floor_div(to_epoch_ms(to) - 1, step_ms);  // [from, to): the bucket of to's last ms
    if (last - first + 1 > kMaxCountBuckets)
        return invalid_argument("the range holds " + std::to_string(last - first + 1) + " buckets of " +
                                std::to_string(bucket_s) + " s; at most " + std::to_string(kMaxCountBuckets));
    const size_t n = static_cast<size_t>(last - first + 1);
    std::vector<CountBucket> out(n);
    std::vector<std::map<std::string, ZoneAcc>> zones(n);
    std::vector<double> speed_sum(n, 0);
    for (size_t i = 0; i < n; ++i) {
        out[i].start = from_epoch_ms((first + static_cast<int64_t>(i)) * step_ms);
        out[i].end = from_epoch_ms((first + static_cast<int64_t>(i) + 1) * step_ms);
    }
    const int64_t from_ms = to_epoch_ms(from), to_ms = to_epoch_ms(to);
    for (const auto& a : intervals) {
        const int64_t s_ms = a.start_us >= 0 ? a.start_us / 1000 : -((-a.start_us + 999) / 1000);
        if (s_ms < from_ms || s_ms >= to_ms) continue;
        const size_t i = static_cast<size_t>(floor_div(s_ms, step_ms) - first);
        CountBucket& b = out[i];
        ++b.intervals;
        for (const auto& [k, c] : a.line_counts) b.counts[k] += c;
        const double w = std::max(1.0, static_cast<double>(a.end_us - a.start_us) / 1e6);
        for (const auto& [name, z] : a.zones) {
            ZoneAcc& acc = zones[i][name];
            acc.weight += w;
            acc.occ_pct += z.occupancy_pct * w;
            acc.mean_occ += z.mean_occupancy * w;
            acc.z.max_queue = std::max(acc.z.max_queue, z.max_queue);
            acc.z.entries += z.entries;
            acc.z.exits += z.exits;
            if (z.mean_speed_kmh && std::isfinite(*z.mean_speed_kmh)) {
                acc.speed_weight += w;
                acc.speed_sum += *z.mean_speed_kmh * w;
            }
            if (s_ms >= acc.last_start) {  // intervals may come in any order: the latest one's level wins
                acc.last_start = s_ms;
                acc.z.congestion = z.congestion;
            }
            if (congestion_rank(z.congestion) > congestion_rank(acc.z.worst_congestion))
                acc.z.worst_congestion = z.congestion;
        }
        for (double v : a.speeds_kmh) {
            if (!std::isfinite(v)) continue;
            ++b.speed_samples;
            speed_sum[i] += v;
        }
    }
    for (size_t i = 0; i < n; ++i) {
        for (auto& [name, acc] : zones[i]) {
            ZoneBucket z = acc.z;
            z.occupancy_pct = acc.occ_pct / acc.weight;
            z.mean_occupancy = acc.mean_occ / acc.weight;
            if (acc.speed_weight > 0) z.mean_speed_kmh = acc.speed_sum / acc.speed_weight;
            out[i].zones.emplace(name, std::move(z));
        }
        if (out[i].speed_samples > 0) out[i].mean_speed_kmh = speed_sum[i] / static_cast<double>(out[i].speed_samples);
    }
    return out;
}

}  // namespace itscam::service
