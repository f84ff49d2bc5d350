#include "service/alerts_baseline.h"

#include <cmath>

#include "core/time_format.h"

namespace itscam::service {

Result<nlohmann::json> record_baseline(AlertEngine& alerts, History* history, double p99_ms, int64_t samples,
                                       SystemTime now) {
    if (!std::isfinite(p99_ms) || p99_ms <= 0) return invalid_argument("baseline p99 must be > 0 ms");
    if (history) {
        BaselineRecord b;
        b.timestamp = now;
        b.p99_ms = p99_ms;
        b.samples = samples;
        b.source = "POST /api/v1/baseline";
        ITSCAM_RETURN_IF_ERROR(history->insert_baseline(b).with_context("recording the baseline"));
    }
    ITSCAM_RETURN_IF_ERROR(alerts.set_baseline(p99_ms));
    return nlohmann::json{{"baseline_p99_ms", p99_ms},
                          {"samples", samples},
                          {"recorded_at", iso8601_utc(now)},
                          {"persisted", history != nullptr}};
}

Result<std::optional<BaselineRecord>> restore_baseline(AlertEngine& alerts, History& history) {
    ITSCAM_ASSIGN_OR_RETURN(std::optional<BaselineRecord> b, history.latest_baseline());
    if (b) ITSCAM_RETURN_IF_ERROR(alerts.set_baseline(b->p99_ms));
    return b;
}

}  // namespace itscam::service
