// History: the traffic analytics tables (schema version 3): per-interval line counts, zone figures and crossing
// speeds, and the congestion changes.
#include <cmath>
#include <map>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/time_format.h"
#include "service/history.h"
#include "service/history_sql.h"

namespace itscam::service {

using namespace history_sql;

namespace {

constexpr const char* kSchemaV3[] = {
    "CREATE TABLE IF NOT EXISTS line_counts ("
    " id INTEGER PRIMARY KEY, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, camera_id TEXT NOT NULL,"
    " line TEXT NOT NULL, direction TEXT NOT NULL, class TEXT NOT NULL, count INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS line_counts_camera_start ON line_counts (camera_id, start_ms)",
    "CREATE INDEX IF NOT EXISTS line_counts_start ON line_counts (start_ms)",
    "CREATE TABLE IF NOT EXISTS zone_intervals ("
    " id INTEGER PRIMARY KEY, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, camera_id TEXT NOT NULL,"
    " zone TEXT NOT NULL, occupancy_pct REAL NOT NULL, mean_occupancy REAL NOT NULL, max_queue INTEGER NOT NULL,"
    " entries INTEGER NOT NULL, exits INTEGER NOT NULL, mean_speed_kmh REAL, congestion TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS zone_intervals_camera_start ON zone_intervals (camera_id, start_ms)",
    "CREATE INDEX IF NOT EXISTS zone_intervals_start ON zone_intervals (start_ms)",
    "CREATE TABLE IF NOT EXISTS speed_samples ("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, camera_id TEXT NOT NULL,"
    " speed_kmh REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS speed_samples_camera_ts ON speed_samples (camera_id, ts_ms)",
    "CREATE INDEX IF NOT EXISTS speed_samples_ts ON speed_samples (ts_ms)",
    "CREATE TABLE IF NOT EXISTS analytics_events ("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, camera_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " event_id TEXT NOT NULL UNIQUE, payload_json TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS analytics_events_ts ON analytics_events (ts_ms)",
};

// Version 4: cluster mode's ownership epoch of the camera that made the row (docs/cluster.md); NULL outside it.
constexpr const char* kSchemaV4[] = {
    "ALTER TABLE line_counts ADD COLUMN epoch INTEGER",
    "ALTER TABLE zone_intervals ADD COLUMN epoch INTEGER",
    "ALTER TABLE speed_samples ADD COLUMN epoch INTEGER",
    "ALTER TABLE analytics_events ADD COLUMN epoch INTEGER",
};

constexpr const char* kDeleteLineCounts = "DELETE FROM line_counts WHERE start_ms < ?1";
constexpr const char* kDeleteZoneIntervals = "DELETE FROM zone_intervals WHERE start_ms < ?1";
constexpr const char* kDeleteSpeeds = "DELETE FROM speed_samples WHERE ts_ms < ?1";
constexpr const char* kDeleteAnalyticsEvents = "DELETE FROM analytics_events WHERE ts_ms < ?1";

constexpr const char* kInsertLineCount =
    "INSERT INTO line_counts (start_ms, end_ms, camera_id, line, direction, class, count, epoch) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kInsertZone =
    "INSERT INTO zone_intervals (start_ms, end_ms, camera_id, zone, occupancy_pct, mean_occupancy, max_queue, "
    "entries, exits, mean_speed_kmh, congestion, epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr const char* kInsertSpeed =
    "INSERT INTO speed_samples (ts_ms, end_ms, camera_id, speed_kmh, epoch) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kInsertEvent =
    "INSERT OR IGNORE INTO analytics_events (ts_ms, camera_id, kind, event_id, payload_json, epoch) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
// ?3 = '' selects every camera.
constexpr const char* kSelectLineCounts =
    "SELECT start_ms, end_ms, camera_id, line, direction, class, count FROM line_counts "
    "WHERE start_ms >= ?1 AND start_ms < ?2 AND (?3 = '' OR camera_id = ?3) ORDER BY start_ms, id";
constexpr const char* kSelectZones =
    "SELECT start_ms, end_ms, camera_id, zone, occupancy_pct, mean_occupancy, max_queue, entries, exits, "
    "mean_speed_kmh, congestion FROM zone_intervals "
    "WHERE start_ms >= ?1 AND start_ms < ?2 AND (?3 = '' OR camera_id = ?3) ORDER BY start_ms, id";
constexpr const char* kSelectSpeeds =
    "SELECT ts_ms, end_ms, camera_id, speed_kmh FROM speed_samples "
    "WHERE ts_ms >= ?1 AND ts_ms < ?2 AND (?3 = '' OR camera_id = ?3) ORDER BY ts_ms, id";
constexpr const char* kSelectEvents =
    "SELECT ts_ms, camera_id, kind, event_id, payload_json FROM analytics_events "
    "WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms, id";

int64_t us_to_ms(int64_t us) {
    // Floor, so that an interval starting at a whole minute stays on it for negative times too.
    return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
}

// The JSON stored with a congestion change: analytics::event_json's fields and names (the JSONL sink's and MQTT's),
// built here because the history library does not link the analytics one.
std::string congestion_payload(const analytics::AnalyticsEvent& e) {
    nlohmann::json j{{"schema", analytics::kEventSchemaVersion},
                     {"id", e.id},
                     {"type", "congestion_change"},
                     {"camera", e.camera},
                     {"time", iso8601_utc(SystemTime(std::chrono::microseconds(e.wall_time_us)))},
                     {"wall_time_us", e.wall_time_us},
                     {"frame", e.frame},
                     {"pts", std::round(e.pts * 1e6) / 1e6},
                     {"zone", e.zone},
                     {"level", e.level},
                     {"previous_level", e.previous_level}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string text_field(const nlohmann::json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

namespace history_sql {

std::vector<const char*> schema_v3_statements() { return {std::begin(kSchemaV3), std::end(kSchemaV3)}; }
std::vector<const char*> schema_v4_statements() { return {std::begin(kSchemaV4), std::end(kSchemaV4)}; }

std::vector<const char*> analytics_retention_statements() {
    return {kDeleteLineCounts, kDeleteZoneIntervals, kDeleteSpeeds, kDeleteAnalyticsEvents};
}

}  // namespace history_sql

Status History::record_intervals(const std::vector<analytics::IntervalAggregate>& intervals) {
    for (const auto& a : intervals) {
        if (a.camera.empty()) return invalid_argument("history: an analytics interval without a camera");
        if (a.end_us <= a.start_us)
            return invalid_argument("history: analytics interval of camera '" + a.camera + "' ends before it starts");
    }
    if (intervals.empty()) return Status::ok();
    std::lock_guard<std::mutex> lock(mu_);
    ITSCAM_RETURN_IF_ERROR(exec_locked("BEGIN IMMEDIATE"));
    const auto write_all = [&]() -> Status {
        for (const auto& a : intervals) {
            const int64_t s_ms = us_to_ms(a.start_us), e_ms = us_to_ms(a.end_us);
            for (const auto& [key, n] : a.line_counts) {
                ITSCAM_RETURN_IF_ERROR(insert_locked(kInsertLineCount, "insert line count", [&](sqlite3_stmt* st) {
                    sqlite3_bind_int64(st, 1, s_ms);
                    sqlite3_bind_int64(st, 2, e_ms);
                    bind_text(st, 3, a.camera);
                    bind_text(st, 4, std::get<0>(key));
                    bind_text(st, 5, std::get<1>(key));
                    bind_text(st, 6, std::get<2>(key));
                    sqlite3_bind_int64(st, 7, n);
                    bind_epoch(st, 8, a.epoch);
                }));
            }
            for (const auto& [name, z] : a.zones) {
                ITSCAM_RETURN_IF_ERROR(insert_locked(kInsertZone, "insert zone interval", [&](sqlite3_stmt* st) {
                    sqlite3_bind_int64(st, 1, s_ms);
                    sqlite3_bind_int64(st, 2, e_ms);
                    bind_text(st, 3, a.camera);
                    bind_text(st, 4, name);
                    sqlite3_bind_double(st, 5, z.occupancy_pct);
                    sqlite3_bind_double(st, 6, z.mean_occupancy);
                    sqlite3_bind_int(st, 7, z.max_queue);
                    sqlite3_bind_int64(st, 8, z.entries);
                    sqlite3_bind_int64(st, 9, z.exits);
                    bind_opt(st, 10, z.mean_speed_kmh && std::isfinite(*z.mean_speed_kmh) ? z.mean_speed_kmh
                                                                                          : std::nullopt);
                    bind_text(st, 11, z.congestion);
                    bind_epoch(st, 12, a.epoch);
                }));
            }
            for (double v : a.speeds_kmh) {
                if (!std::isfinite(v)) continue;
                ITSCAM_RETURN_IF_ERROR(insert_locked(kInsertSpeed, "insert speed", [&](sqlite3_stmt* st) {
                    sqlite3_bind_int64(st, 1, s_ms);
                    sqlite3_bind_int64(st, 2, e_ms);
                    bind_text(st, 3, a.camera);
                    sqlite3_bind_double(st, 4, v);
                    bind_epoch(st, 5, a.epoch);
                }));
            }
        }
        return Status::ok();
    };
    if (Status st = write_all(); !st.is_ok()) {
        (void)exec_locked("ROLLBACK");
        return st;
    }
    return exec_locked("COMMIT");
}

Status History::record_event(const analytics::AnalyticsEvent& e) {
    if (e.kind != analytics::EventKind::kCongestionChange)
        return invalid_argument("history: only congestion changes are stored as events (crossings and zone "
                                "entries are counted per interval)");
    if (e.camera.empty() || e.id.empty()) return invalid_argument("history: a congestion change needs a camera and id");
    std::lock_guard<std::mutex> lock(mu_);
    return insert_locked(kInsertEvent, "insert analytics event", [&](sqlite3_stmt* st) {
        sqlite3_bind_int64(st, 1, us_to_ms(e.wall_time_us));
        bind_text(st, 2, e.camera);
        bind_text(st, 3, "congestion_change");
        bind_text(st, 4, e.id);
        bind_text(st, 5, congestion_payload(e));
        bind_epoch(st, 6, e.epoch);
    });
}

Result<std::vector<analytics::IntervalAggregate>> History::query_intervals(SystemTime from, SystemTime to,
                                                                           const std::string& camera) {
    // Rows of the three tables grouped by (start, camera, end): one IntervalAggregate each, in time order.
    using Key = std::tuple<int64_t, std::string, int64_t>;
    std::map<Key, analytics::IntervalAggregate> by_key;
    const auto slot = [&](int64_t s_ms, const std::string& cam, int64_t e_ms) -> analytics::IntervalAggregate& {
        auto [it, fresh] = by_key.try_emplace(Key{s_ms, cam, e_ms});
        if (fresh) {
            it->second.camera = cam;
            it->second.start_us = s_ms * 1000;
            it->second.end_us = e_ms * 1000;
        }
        return it->second;
    };
    std::lock_guard<std::mutex> lock(mu_);
    const auto run = [&](const char* sql, const char* what, const auto& row) -> Status {
        ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(sql));
        StmtReset reset{st};
        sqlite3_bind_int64(st, 1, to_epoch_ms(from));
        sqlite3_bind_int64(st, 2, to_epoch_ms(to));
        bind_text(st, 3, camera);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
        if (rc != SQLITE_DONE) return error_locked(rc, what);
        return Status::ok();
    };
    ITSCAM_RETURN_IF_ERROR(run(kSelectLineCounts, "query line counts", [&](sqlite3_stmt* st) {
        auto& a = slot(sqlite3_column_int64(st, 0), col_text(st, 2), sqlite3_column_int64(st, 1));
        a.line_counts[{col_text(st, 3), col_text(st, 4), col_text(st, 5)}] += sqlite3_column_int64(st, 6);
    }));
    ITSCAM_RETURN_IF_ERROR(run(kSelectZones, "query zone intervals", [&](sqlite3_stmt* st) {
        auto& a = slot(sqlite3_column_int64(st, 0), col_text(st, 2), sqlite3_column_int64(st, 1));
        auto& z = a.zones[col_text(st, 3)];
        z.occupancy_pct = sqlite3_column_double(st, 4);
        z.mean_occupancy = sqlite3_column_double(st, 5);
        z.max_queue = sqlite3_column_int(st, 6);
        z.entries = sqlite3_column_int64(st, 7);
        z.exits = sqlite3_column_int64(st, 8);
        z.mean_speed_kmh = col_opt(st, 9);
        z.congestion = col_text(st, 10);
    }));
    ITSCAM_RETURN_IF_ERROR(run(kSelectSpeeds, "query speeds", [&](sqlite3_stmt* st) {
        auto& a = slot(sqlite3_column_int64(st, 0), col_text(st, 2), sqlite3_column_int64(st, 1));
        a.speeds_kmh.push_back(sqlite3_column_double(st, 3));
    }));
    std::vector<analytics::IntervalAggregate> out;
    out.reserve(by_key.size());
    for (auto& [k, a] : by_key) out.push_back(std::move(a));
    return out;
}

Result<std::vector<CountBucket>> History::query_counts(const std::string& camera, SystemTime since, SystemTime until,
                                                       int64_t bucket_s) {
    if (camera.empty()) return invalid_argument("history: query_counts needs a camera");
    // Checked before reading: a bad range must not cost a scan.
    ITSCAM_RETURN_IF_ERROR(bucket_intervals({}, since, until, bucket_s).status());
    ITSCAM_ASSIGN_OR_RETURN(auto intervals, query_intervals(since, until, camera));
    return bucket_intervals(intervals, since, until, bucket_s);
}

Result<std::vector<AnalyticsEventRow>> History::analytics_events(SystemTime from, SystemTime to) {
    std::lock_guard<std::mutex> lock(mu_);
    ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(kSelectEvents));
    StmtReset reset{st};
    sqlite3_bind_int64(st, 1, to_epoch_ms(from));
    sqlite3_bind_int64(st, 2, to_epoch_ms(to));
    std::vector<AnalyticsEventRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        AnalyticsEventRow r;
        r.timestamp = from_epoch_ms(sqlite3_column_int64(st, 0));
        r.camera_id = col_text(st, 1);
        r.kind = col_text(st, 2);
        r.event_id = col_text(st, 3);
        r.payload_json = col_text(st, 4);
        const auto j = nlohmann::json::parse(r.payload_json, nullptr, false);
        if (!j.is_object()) return corrupt("history '" + path_ + "': analytics event " + r.event_id +
                                           " has a payload that is not a JSON object");
        r.zone = text_field(j, "zone");
        r.level = text_field(j, "level");
        r.previous_level = text_field(j, "previous_level");
        out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return error_locked(rc, "query analytics events");
    return out;
}

}  // namespace itscam::service
