#include "service/recent_intervals.h"

#include <algorithm>

namespace itscam::service {

namespace {
int64_t to_us(SystemTime t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
}  // namespace

RecentIntervals::RecentIntervals(std::chrono::seconds keep, size_t max_intervals)
    : keep_us_(std::chrono::duration_cast<std::chrono::microseconds>(keep).count()),
      max_(std::max<size_t>(max_intervals, 1)) {}

void RecentIntervals::add(const std::vector<analytics::IntervalAggregate>& intervals) {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& a : intervals) {
        items_.push_back(a);
        newest_end_us_ = std::max(newest_end_us_, a.end_us);
    }
    const int64_t cutoff = newest_end_us_ - keep_us_;
    // Arrival order is close to time order, so the old ones sit at the front; one out of order stays a little
    // longer, which is harmless.
    while (!items_.empty() && (items_.front().end_us < cutoff || items_.size() > max_)) items_.pop_front();
}

std::vector<analytics::IntervalAggregate> RecentIntervals::query(const std::string& camera, SystemTime from,
                                                                 SystemTime to) const {
    const int64_t f = to_us(from), t = to_us(to);
    std::vector<analytics::IntervalAggregate> out;
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (const auto& a : items_)
            if (a.camera == camera && a.start_us >= f && a.start_us < t) out.push_back(a);
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.start_us < y.start_us; });
    return out;
}

size_t RecentIntervals::size() const {
    std::lock_guard<std::mutex> lk(mu_);
    return items_.size();
}

}  // namespace itscam::service
