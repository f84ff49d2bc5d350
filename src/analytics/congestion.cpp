#include "analytics/congestion.h"

namespace itscam::analytics {

const char* congestion_level_name(CongestionLevel l) {
    switch (l) {
        case CongestionLevel::kFree: return "free";
        case CongestionLevel::kSlow: return "slow";
        case CongestionLevel::kQueued: return "queued";
    }
    return "free";
}

CongestionLevel congestion_condition(const ZoneConfig& z, int occupancy, int queue,
                                     std::optional<double> mean_speed_kmh) {
    if (occupancy <= 0) return CongestionLevel::kFree;
    if (queue >= z.queued_min_queue || (mean_speed_kmh && *mean_speed_kmh < z.queued_speed_kmh))
        return CongestionLevel::kQueued;
    const bool overcrowded = z.overcrowd_threshold > 0 && occupancy >= z.overcrowd_threshold;
    if ((mean_speed_kmh && *mean_speed_kmh < z.slow_speed_kmh) || overcrowded || (queue > 0 && 2 * queue >= occupancy))
        return CongestionLevel::kSlow;
    return CongestionLevel::kFree;
}

std::optional<CongestionLevel> CongestionState::update(CongestionLevel condition, double t_s) {
    if (condition == level_) {
        candidate_.reset();
        return std::nullopt;
    }
    if (!candidate_ || *candidate_ != condition || t_s < since_) {  // a new condition (or time went back)
        candidate_ = condition;
        since_ = t_s;
    }
    if (t_s - since_ < hold_s_ - 1e-9) return std::nullopt;  // tolerance: frame times are sums of floats
    level_ = condition;
    candidate_.reset();
    return level_;
}

}  // namespace itscam::analytics
