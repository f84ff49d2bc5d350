// The service's in-memory ring of recent aggregation intervals: what GET /api/v1/cameras/{id}/counts answers from
// when the SQLite history is off. Bounded by age (24 h behind the newest interval by default) and by count, so a
// long run with many cameras cannot grow it without limit. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "analytics/analytics_event.h"
#include "service/alerts.h"  // SystemTime

namespace itscam::service {

class RecentIntervals {
  public:
    explicit RecentIntervals(std::chrono::seconds keep = std::chrono::hours(24), size_t max_intervals = 100000);
    // Appends intervals (any order across cameras); drops those older than `keep` behind the newest end, then the
    // oldest beyond max_intervals.
    void add(const std::vector<analytics::IntervalAggregate>& intervals);
    // A camera's intervals with from <= start < to, oldest first.
    std::vector<analytics::IntervalAggregate> query(const std::string& camera, SystemTime from, SystemTime to) const;
    size_t size() const;

  private:
    const int64_t keep_us_;
    const size_t max_;
    mutable std::mutex mu_;
    std::deque<analytics::IntervalAggregate> items_;  // in arrival order (start order per camera)
    int64_t newest_end_us_ = 0;
};

}  // namespace itscam::service
