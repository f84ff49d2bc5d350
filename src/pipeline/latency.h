// LatencyRecorder: thread-safe latency statistics for one pipeline stage.
// - Exact percentiles (p50/p95/p99/max) over a sliding window: the most recent samples (at most `window`) that
//   are younger than `max_age_s` (what alerts and /health/performance report: "now", not since start; a latency
//   spike leaves the window within max_age_s even when traffic is light).
// - Cumulative histogram buckets and sum/count since start (what Prometheus histograms need).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

namespace itscam::pipeline {

struct LatencySummary {
    int64_t count = 0;       // samples since start
    double sum_ms = 0;       // since start
    int64_t window = 0;      // samples in the window
    double mean_ms = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;  // over the window
};

class LatencyRecorder {
public:
    // Upper bounds (ms) of the histogram buckets; +Inf is implied.
    static constexpr std::array<double, 16> kBucketsMs = {0.5, 1,   2,   5,    10,   20,   35,   50,
                                                          75,  100, 150, 250, 500, 1000, 2500, 5000};

    explicit LatencyRecorder(size_t window = 4096, double max_age_s = 60.0);
    void record(double ms);
    LatencySummary summary() const;
    // Cumulative counts per bucket (same order as kBucketsMs), then the +Inf count (== count).
    std::vector<int64_t> buckets() const;
    void reset_window();  // forget the window (keeps the since-start counters)

private:
    mutable std::mutex mu_;
    std::vector<float> ring_;
    std::vector<std::chrono::steady_clock::time_point> times_;
    std::chrono::steady_clock::duration max_age_;
    size_t pos_ = 0, filled_ = 0;
    int64_t count_ = 0;
    double sum_ = 0;
    std::array<int64_t, kBucketsMs.size() + 1> bucket_counts_{};
};

// Percentile (0..100) of a sample, nearest-rank on a copy (sorted in place). 0 for an empty sample.
double percentile(std::vector<float>& values, double p);

}  // namespace itscam::pipeline
