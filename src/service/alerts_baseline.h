// The regression baseline across restarts (SEED_SETTINGS.md "Regression detection": 75 ms by default, or a
// recorded baseline). POST /api/v1/baseline records the current inference p99: it is written to the history
// (table `baselines`) and put in force on the alert engine; at start the newest recorded one is put back in force,
// over the configured alerts.baseline_p99_ms. `itscam report` reads the same record (choose_report_baseline).
//
// Thread-safety: as AlertEngine and History (both are thread-safe). Synchronous: one SQLite write or read.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "service/alerts.h"
#include "service/history.h"

namespace itscam::service {

// Records `p99_ms` (over `samples` latency samples) as the baseline at `now`. With a history it is persisted first,
// so a failed write leaves the baseline in force unchanged and returns the error; without one (history disabled) it
// is in force until the process ends. Returns the API answer: {baseline_p99_ms, samples, recorded_at, persisted}.
Result<nlohmann::json> record_baseline(AlertEngine& alerts, History* history, double p99_ms, int64_t samples,
                                       SystemTime now = std::chrono::system_clock::now());

// Puts the newest baseline recorded in `history` in force on `alerts`, and returns it; none recorded: `alerts`
// keeps its configured baseline and the result is empty.
Result<std::optional<BaselineRecord>> restore_baseline(AlertEngine& alerts, History& history);

}  // namespace itscam::service
