// History: the regression baselines (table `baselines`, schema version 2).
#include <cmath>

#include "service/history.h"
#include "service/history_sql.h"

namespace itscam::service {

using namespace history_sql;

namespace {

constexpr const char* kInsertBaseline =
    "INSERT INTO baselines (ts_ms, p99_ms, samples, source) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kLatestBaseline =
    "SELECT ts_ms, p99_ms, samples, source FROM baselines ORDER BY ts_ms DESC, id DESC LIMIT 1";

}  // namespace

Status History::insert_baseline(const BaselineRecord& b) {
    if (!std::isfinite(b.p99_ms) || b.p99_ms <= 0)
        return invalid_argument("history: a baseline p99 must be > 0 ms, got " + std::to_string(b.p99_ms));
    std::lock_guard<std::mutex> lock(mu_);
    return insert_locked(kInsertBaseline, "insert baseline", [&](sqlite3_stmt* st) {
        sqlite3_bind_int64(st, 1, to_epoch_ms(b.timestamp));
        sqlite3_bind_double(st, 2, b.p99_ms);
        sqlite3_bind_int64(st, 3, b.samples);
        bind_text(st, 4, b.source);
    });
}

Result<std::optional<BaselineRecord>> History::latest_baseline() {
    std::lock_guard<std::mutex> lock(mu_);
    ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(kLatestBaseline));
    StmtReset reset{st};
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return std::optional<BaselineRecord>();
    if (rc != SQLITE_ROW) return error_locked(rc, "query baseline");
    BaselineRecord b;
    b.timestamp = from_epoch_ms(sqlite3_column_int64(st, 0));
    b.p99_ms = sqlite3_column_double(st, 1);
    b.samples = sqlite3_column_int64(st, 2);
    b.source = col_text(st, 3);
    if (!std::isfinite(b.p99_ms) || b.p99_ms <= 0)
        return corrupt("history '" + path_ + "': the recorded baseline p99 " + std::to_string(b.p99_ms) +
                       " ms is not > 0");
    return std::optional<BaselineRecord>(b);
}

}  // namespace itscam::service
