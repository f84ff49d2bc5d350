#include "pipeline/latency.h"

#include <algorithm>
#include <cmath>

namespace itscam::pipeline {

double percentile(std::vector<float>& values, double p) {
    if (values.empty()) return 0;
    const size_t n = values.size();
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
    rank = std::clamp<size_t>(rank, 1, n) - 1;
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank), values.end());
    return values[rank];
}

LatencyRecorder::LatencyRecorder(size_t window, double max_age_s)
    : ring_(std::max<size_t>(window, 1)),
      times_(ring_.size()),
      max_age_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(max_age_s > 0 ? max_age_s : 1e9))) {}

void LatencyRecorder::record(double ms) {
    if (!std::isfinite(ms) || ms < 0) ms = 0;
    const size_t b = static_cast<size_t>(std::lower_bound(kBucketsMs.begin(), kBucketsMs.end(), ms) - kBucketsMs.begin());
    std::lock_guard<std::mutex> lk(mu_);
    ring_[pos_] = static_cast<float>(ms);
    times_[pos_] = std::chrono::steady_clock::now();
    pos_ = (pos_ + 1) % ring_.size();
    filled_ = std::min(filled_ + 1, ring_.size());
    ++count_;
    sum_ += ms;
    ++bucket_counts_[b];
}

LatencySummary LatencyRecorder::summary() const {
    std::vector<float> v;
    LatencySummary s;
    {
        std::lock_guard<std::mutex> lk(mu_);
        const auto cutoff = std::chrono::steady_clock::now() - max_age_;
        v.reserve(filled_);
        for (size_t i = 0; i < filled_; ++i)
            if (times_[i] >= cutoff) v.push_back(ring_[i]);
        s.count = count_;
        s.sum_ms = sum_;
    }
    s.window = static_cast<int64_t>(v.size());
    if (v.empty()) return s;
    double total = 0;
    float mx = 0;
    for (float x : v) {
        total += x;
        mx = std::max(mx, x);
    }
    s.mean_ms = total / static_cast<double>(v.size());
    s.max_ms = mx;
    s.p50_ms = percentile(v, 50);
    s.p95_ms = percentile(v, 95);
    s.p99_ms = percentile(v, 99);
    return s;
}

std::vector<int64_t> LatencyRecorder::buckets() const {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<int64_t> out(bucket_counts_.size());
    int64_t acc = 0;
    for (size_t i = 0; i < bucket_counts_.size(); ++i) {
        acc += bucket_counts_[i];
        out[i] = acc;
    }
    return out;
}

void LatencyRecorder::reset_window() {
    std::lock_guard<std::mutex> lk(mu_);
    pos_ = filled_ = 0;
}

}  // namespace itscam::pipeline
