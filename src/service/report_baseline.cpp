// The regression baseline `itscam report` compares against: explicit, recorded, configured or the default.
#include <cmath>
#include <utility>

#include "core/time_format.h"
#include "service/report.h"

namespace itscam::service {

Result<ReportBaseline> choose_report_baseline(History& h, std::optional<double> explicit_ms,
                                              std::optional<double> configured_ms) {
    for (const auto& [v, what] :
         {std::pair{explicit_ms, "--baseline-ms"}, std::pair{configured_ms, "alerts.baseline_p99_ms"}})
        if (v && !(std::isfinite(*v) && *v > 0)) return invalid_argument(std::string(what) + " must be > 0 ms");
    ReportBaseline b;
    if (explicit_ms) {
        b.p99_ms = *explicit_ms;
        b.source = "given with --baseline-ms";
        return b;
    }
    ITSCAM_ASSIGN_OR_RETURN(std::optional<BaselineRecord> rec, h.latest_baseline());
    if (rec) {
        b.p99_ms = rec->p99_ms;
        b.recorded = true;
        b.source = "recorded " + iso8601_utc(rec->timestamp) +
                   (rec->source.empty() ? std::string() : " through " + rec->source) +
                   (rec->samples > 0 ? " (" + std::to_string(rec->samples) + " samples)" : std::string());
        return b;
    }
    if (configured_ms) {
        b.p99_ms = *configured_ms;
        b.source = "alerts.baseline_p99_ms of the config (no baseline recorded)";
        return b;
    }
    b.source = "the default (no baseline recorded)";
    return b;
}

}  // namespace itscam::service
