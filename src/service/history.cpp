#include "service/history.h"

#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <iterator>
#include <utility>
#include <vector>

#include "core/redact.h"
#include "core/regular_file.h"
#include "service/history_sql.h"

namespace itscam::service {

using namespace history_sql;

int64_t to_epoch_ms(SystemTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

SystemTime from_epoch_ms(int64_t ms) {
    return SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::milliseconds(ms)));
}

AlertEventRecord alert_event_from_transition(const AlertTransition& t) {
    AlertEventRecord r;
    r.timestamp = t.at;
    r.rule = t.alert.rule;
    r.severity = alert_severity_name(t.alert.severity);
    r.from_state = alert_state_name(t.from);
    r.to_state = alert_state_name(t.to);
    r.value = t.alert.value;
    r.threshold = t.alert.threshold;
    r.message = t.alert.message;
    return r;
}

const char* camera_event_kind_name(CameraEventKind k) {
    switch (k) {
        case CameraEventKind::kConnected: return "connected";
        case CameraEventKind::kDisconnected: return "disconnected";
        case CameraEventKind::kReconnecting: return "reconnecting";
        case CameraEventKind::kFailed: return "failed";
        case CameraEventKind::kAdded: return "added";
        case CameraEventKind::kRemoved: return "removed";
    }
    return "?";
}

Result<CameraEventKind> parse_camera_event_kind(const std::string& s) {
    for (CameraEventKind k : {CameraEventKind::kConnected, CameraEventKind::kDisconnected,
                              CameraEventKind::kReconnecting, CameraEventKind::kFailed, CameraEventKind::kAdded,
                              CameraEventKind::kRemoved})
        if (s == camera_event_kind_name(k)) return k;
    return corrupt("unknown camera event kind '" + s + "'");
}

namespace {

constexpr const char* kSchemaV1[] = {
    "CREATE TABLE IF NOT EXISTS metric_samples ("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, camera_id TEXT,"
    " latency_p50_ms REAL, latency_p95_ms REAL, latency_p99_ms REAL, fps REAL, pool_efficiency REAL,"
    " gpu_utilization REAL, circuit_state TEXT, frames_processed INTEGER NOT NULL DEFAULT 0,"
    " frames_dropped INTEGER NOT NULL DEFAULT 0, error_rate REAL, gpu_memory_pressure REAL,"
    " memory_allocation_p99_ms REAL)",
    "CREATE INDEX IF NOT EXISTS metric_samples_ts ON metric_samples (ts_ms)",
    "CREATE INDEX IF NOT EXISTS metric_samples_camera_ts ON metric_samples (camera_id, ts_ms)",
    "CREATE TABLE IF NOT EXISTS alert_events ("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL,"
    " from_state TEXT NOT NULL, to_state TEXT NOT NULL, value REAL, threshold REAL, message TEXT)",
    "CREATE INDEX IF NOT EXISTS alert_events_ts ON alert_events (ts_ms)",
    "CREATE TABLE IF NOT EXISTS camera_events ("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, camera_id TEXT NOT NULL, kind TEXT NOT NULL, message TEXT)",
    "CREATE INDEX IF NOT EXISTS camera_events_ts ON camera_events (ts_ms)",
    "CREATE TABLE IF NOT EXISTS circuit_transitions ("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, device TEXT NOT NULL, from_state TEXT NOT NULL,"
    " to_state TEXT NOT NULL, reason TEXT)",
    "CREATE INDEX IF NOT EXISTS circuit_transitions_ts ON circuit_transitions (ts_ms)",
};

// Version 2: the regression baselines recorded through POST /api/v1/baseline (history_baseline.cpp).
constexpr const char* kSchemaV2[] = {
    "CREATE TABLE IF NOT EXISTS baselines ("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, p99_ms REAL NOT NULL, samples INTEGER NOT NULL DEFAULT 0,"
    " source TEXT NOT NULL DEFAULT '')",
};

// SQL texts (their addresses key the statement cache).
constexpr const char* kInsertSample =
    "INSERT INTO metric_samples (ts_ms, camera_id, latency_p50_ms, latency_p95_ms, latency_p99_ms, fps, "
    "pool_efficiency, gpu_utilization, circuit_state, frames_processed, frames_dropped, error_rate, "
    "gpu_memory_pressure, memory_allocation_p99_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
constexpr const char* kSelectSamples =
    "SELECT ts_ms, camera_id, latency_p50_ms, latency_p95_ms, latency_p99_ms, fps, pool_efficiency, "
    "gpu_utilization, circuit_state, frames_processed, frames_dropped, error_rate, gpu_memory_pressure, "
    "memory_allocation_p99_ms FROM metric_samples WHERE camera_id IS NULL AND ts_ms >= ?1 AND ts_ms < ?2 "
    "ORDER BY ts_ms, id";
constexpr const char* kSelectCameraSamples =
    "SELECT ts_ms, camera_id, latency_p50_ms, latency_p95_ms, latency_p99_ms, fps, pool_efficiency, "
    "gpu_utilization, circuit_state, frames_processed, frames_dropped, error_rate, gpu_memory_pressure, "
    "memory_allocation_p99_ms FROM metric_samples WHERE camera_id = ?3 AND ts_ms >= ?1 AND ts_ms < ?2 "
    "ORDER BY ts_ms, id";
constexpr const char* kLatestSample = "SELECT MAX(ts_ms) FROM metric_samples WHERE camera_id IS NULL";
constexpr const char* kInsertAlert =
    "INSERT INTO alert_events (ts_ms, rule, severity, from_state, to_state, value, threshold, message) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kSelectAlerts =
    "SELECT ts_ms, rule, severity, from_state, to_state, value, threshold, message FROM alert_events "
    "WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms, id";
constexpr const char* kInsertCamera =
    "INSERT INTO camera_events (ts_ms, camera_id, kind, message) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kSelectCamera =
    "SELECT ts_ms, camera_id, kind, message FROM camera_events WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms, id";
constexpr const char* kInsertCircuit =
    "INSERT INTO circuit_transitions (ts_ms, device, from_state, to_state, reason) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kSelectCircuit =
    "SELECT ts_ms, device, from_state, to_state, reason FROM circuit_transitions WHERE ts_ms >= ?1 AND ts_ms < ?2 "
    "ORDER BY ts_ms, id";
constexpr const char* kDeleteSamples = "DELETE FROM metric_samples WHERE ts_ms < ?1";
constexpr const char* kDeleteAlerts = "DELETE FROM alert_events WHERE ts_ms < ?1";
constexpr const char* kDeleteCamera = "DELETE FROM camera_events WHERE ts_ms < ?1";
constexpr const char* kDeleteCircuit = "DELETE FROM circuit_transitions WHERE ts_ms < ?1";
// The newest baseline is kept whatever its age: it is the one in force.
constexpr const char* kDeleteBaselines =
    "DELETE FROM baselines WHERE ts_ms < ?1 AND id NOT IN (SELECT id FROM baselines ORDER BY ts_ms DESC, id DESC "
    "LIMIT 1)";
constexpr const char* kGetVersion = "SELECT value FROM meta WHERE key = 'schema_version'";
constexpr const char* kSetVersion = "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)";
constexpr const char* kCountSamples = "SELECT COUNT(*) FROM metric_samples";
constexpr const char* kCountAlerts = "SELECT COUNT(*) FROM alert_events";
constexpr const char* kCountCamera = "SELECT COUNT(*) FROM camera_events";
constexpr const char* kCountCircuit = "SELECT COUNT(*) FROM circuit_transitions";

}  // namespace

History::History(std::string path) : path_(std::move(path)) {}

History::~History() {
    for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
    stmts_.clear();
    if (db_) sqlite3_close_v2(db_);
}

Status History::error_locked(int rc, const std::string& what) const {
    const int primary = rc & 0xff;
    std::string msg = "history '" + path_ + "': " + what + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    switch (primary) {
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT: return corrupt(msg + " (the file is not an itscam history database or is damaged)");
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_READONLY:
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_AUTH: return io_error(msg);
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return unavailable(msg);
        case SQLITE_NOMEM: return out_of_memory(msg);
        default: return internal_error(msg);
    }
}

Result<std::unique_ptr<History>> History::open(const std::string& path) {
    if (path.empty()) return invalid_argument("history: empty database path");
    // SQLite keeps its journal and WAL beside the database (PATH-journal, PATH-wal): an existing path that is not a
    // regular file (/dev/null, a pipe, a directory) would create /dev/null-journal and the like, or block. Refused;
    // history.enabled: false is how history is turned off.
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
        const Status st = check_regular_file(path, "history database '" + path + "': ");
        if (st.code() == StatusCode::kInvalidArgument)
            return invalid_argument(st.message() + " (set history.enabled: false to run without history)");
        ITSCAM_RETURN_IF_ERROR(st);
    }
    std::unique_ptr<History> h(new History(path));
    ITSCAM_RETURN_IF_ERROR(h->init());
    return h;
}

Status History::init() {
    std::lock_guard<std::mutex> lock(mu_);
    const int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) {
        Status st = error_locked(rc, "cannot open");
        if (db_) {
            sqlite3_close_v2(db_);
            db_ = nullptr;
        }
        return st;
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);
    // journal_mode returns a row; run it through a statement. Fails with SQLITE_NOTADB on a garbage file.
    {
        sqlite3_stmt* st = nullptr;
        int r = sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &st, nullptr);
        if (r == SQLITE_OK) {
            r = sqlite3_step(st);
            if (r == SQLITE_ROW || r == SQLITE_DONE) r = SQLITE_OK;
        }
        sqlite3_finalize(st);
        if (r != SQLITE_OK) return error_locked(r, "cannot set WAL journal mode");
    }
    ITSCAM_RETURN_IF_ERROR(exec_locked("PRAGMA synchronous=NORMAL"));
    ITSCAM_RETURN_IF_ERROR(exec_locked("PRAGMA foreign_keys=ON"));
    // A damaged database (as opposed to a non-database) usually shows here.
    {
        sqlite3_stmt* st = nullptr;
        int r = sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &st, nullptr);
        std::string result;
        if (r == SQLITE_OK) {
            r = sqlite3_step(st);
            if (r == SQLITE_ROW) {
                result = col_text(st, 0);
                r = SQLITE_OK;
            } else if (r == SQLITE_DONE) {
                r = SQLITE_OK;
            }
        }
        sqlite3_finalize(st);
        if (r != SQLITE_OK) return error_locked(r, "integrity check failed");
        if (!result.empty() && result != "ok")
            return corrupt("history '" + path_ + "': database is damaged: " + result);
    }
    return migrate_locked();
}

Status History::exec_locked(const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return error_locked(rc, std::string("'") + sql + "'");
    return Status::ok();
}

Result<sqlite3_stmt*> History::stmt_locked(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return it->second;
    sqlite3_stmt* st = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return error_locked(rc, "prepare");
    }
    stmts_.emplace(sql, st);
    return st;
}

Status History::migrate_locked() {
    ITSCAM_RETURN_IF_ERROR(exec_locked("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
    int version = 0;
    {
        ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(kGetVersion));
        StmtReset reset{st};
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const std::string v = col_text(st, 0);
            char* end = nullptr;
            const long parsed = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || parsed < 0)
                return corrupt("history '" + path_ + "': bad schema_version '" + v + "' in table meta");
            version = static_cast<int>(parsed);
        } else if (rc != SQLITE_DONE) {
            return error_locked(rc, "read schema_version");
        }
    }
    if (version > kSchemaVersion)
        return unsupported("history '" + path_ + "': schema version " + std::to_string(version) +
                           " is newer than this build supports (" + std::to_string(kSchemaVersion) +
                           "); upgrade itscam or use another database file");
    if (version == kSchemaVersion) return Status::ok();
    // Every step from the stored version up, in one transaction: 0 -> 1 (the tables), 1 -> 2 (baselines), 2 -> 3
    // (traffic analytics), 3 -> 4 (the cluster epoch of the analytics rows). A later version appends its step here.
    ITSCAM_RETURN_IF_ERROR(exec_locked("BEGIN IMMEDIATE"));
    Status st;
    const std::pair<int, std::vector<const char*>> kSteps[] = {
        {1, {std::begin(kSchemaV1), std::end(kSchemaV1)}},
        {2, {std::begin(kSchemaV2), std::end(kSchemaV2)}},
        {3, schema_v3_statements()},
        {4, schema_v4_statements()},
    };
    for (const auto& [to, statements] : kSteps) {
        if (version >= to) continue;
        for (const char* sql : statements) {
            st = exec_locked(sql);
            if (!st.is_ok()) break;
        }
        if (!st.is_ok()) break;
    }
    if (st.is_ok()) {
        auto set = stmt_locked(kSetVersion);
        if (!set.is_ok()) {
            st = set.status();
        } else {
            StmtReset reset{*set};
            sqlite3_bind_int(*set, 1, kSchemaVersion);  // stored as TEXT by column affinity
            const int rc = sqlite3_step(*set);
            if (rc != SQLITE_DONE) st = error_locked(rc, "write schema_version");
        }
    }
    if (!st.is_ok()) {
        (void)exec_locked("ROLLBACK");
        return st;
    }
    return exec_locked("COMMIT");
}

Result<int> History::schema_version() {
    std::lock_guard<std::mutex> lock(mu_);
    ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(kGetVersion));
    StmtReset reset{st};
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return static_cast<int>(sqlite3_column_int(st, 0));
    if (rc == SQLITE_DONE) return 0;
    return error_locked(rc, "read schema_version");
}

Status History::insert_locked(const char* sql, const char* what, const std::function<void(sqlite3_stmt*)>& bind) {
    ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(sql));
    StmtReset reset{st};
    bind(st);
    const int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) return error_locked(rc, what);
    return Status::ok();
}

Status History::insert_sample_locked(const HistorySample& s) {
    return insert_locked(kInsertSample, "insert sample", [&](sqlite3_stmt* st) {
        sqlite3_bind_int64(st, 1, to_epoch_ms(s.timestamp));
        if (s.camera_id.empty()) sqlite3_bind_null(st, 2);
        else bind_text(st, 2, s.camera_id);
        bind_opt(st, 3, s.latency_p50_ms);
        bind_opt(st, 4, s.latency_p95_ms);
        bind_opt(st, 5, s.latency_p99_ms);
        bind_opt(st, 6, s.fps);
        bind_opt(st, 7, s.pool_efficiency);
        bind_opt(st, 8, s.gpu_utilization);
        if (!s.circuit_state.empty()) bind_text(st, 9, s.circuit_state);
        else sqlite3_bind_null(st, 9);
        sqlite3_bind_int64(st, 10, s.frames_processed);
        sqlite3_bind_int64(st, 11, s.frames_dropped);
        bind_opt(st, 12, s.error_rate);
        bind_opt(st, 13, s.gpu_memory_pressure);
        bind_opt(st, 14, s.memory_allocation_p99_ms);
    });
}

Status History::insert_sample(const HistorySample& s) {
    std::lock_guard<std::mutex> lock(mu_);
    return insert_sample_locked(s);
}

Status History::insert_samples(const std::vector<HistorySample>& samples) {
    std::lock_guard<std::mutex> lock(mu_);
    ITSCAM_RETURN_IF_ERROR(exec_locked("BEGIN IMMEDIATE"));
    for (const auto& s : samples) {
        Status st = insert_sample_locked(s);
        if (!st.is_ok()) {
            (void)exec_locked("ROLLBACK");
            return st;
        }
    }
    return exec_locked("COMMIT");
}

Status History::insert_alert(const AlertEventRecord& a) {
    std::lock_guard<std::mutex> lock(mu_);
    return insert_locked(kInsertAlert, "insert alert", [&](sqlite3_stmt* st) {
        sqlite3_bind_int64(st, 1, to_epoch_ms(a.timestamp));
        bind_text(st, 2, a.rule);
        bind_text(st, 3, a.severity);
        bind_text(st, 4, a.from_state);
        bind_text(st, 5, a.to_state);
        sqlite3_bind_double(st, 6, a.value);
        sqlite3_bind_double(st, 7, a.threshold);
        bind_text(st, 8, redact(a.message));
    });
}

Status History::insert_camera_event(const CameraEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    return insert_locked(kInsertCamera, "insert camera event", [&](sqlite3_stmt* st) {
        sqlite3_bind_int64(st, 1, to_epoch_ms(e.timestamp));
        bind_text(st, 2, e.camera_id);
        bind_text(st, 3, camera_event_kind_name(e.kind));
        bind_text(st, 4, redact(e.message));  // the database outlives the process: never a password in it
    });
}

Status History::insert_circuit_transition(const CircuitEventRecord& c) {
    std::lock_guard<std::mutex> lock(mu_);
    return insert_locked(kInsertCircuit, "insert circuit transition", [&](sqlite3_stmt* st) {
        sqlite3_bind_int64(st, 1, to_epoch_ms(c.timestamp));
        bind_text(st, 2, c.device);
        bind_text(st, 3, c.from_state);
        bind_text(st, 4, c.to_state);
        bind_text(st, 5, c.reason);
    });
}

template <typename T, typename RowFn>
Result<std::vector<T>> History::query_range_locked(const char* sql, const std::string* camera, SystemTime from,
                                                   SystemTime to, const char* what, RowFn row) {
    ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(sql));
    StmtReset reset{st};
    sqlite3_bind_int64(st, 1, to_epoch_ms(from));
    sqlite3_bind_int64(st, 2, to_epoch_ms(to));
    if (camera) bind_text(st, 3, *camera);
    std::vector<T> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        T item;
        ITSCAM_RETURN_IF_ERROR(row(st, item));
        out.push_back(std::move(item));
    }
    if (rc != SQLITE_DONE) return error_locked(rc, what);
    return out;
}

namespace {

Status sample_row(sqlite3_stmt* st, HistorySample& s) {
    s.timestamp = from_epoch_ms(sqlite3_column_int64(st, 0));
    s.camera_id = col_text(st, 1);
    s.latency_p50_ms = col_opt(st, 2);
    s.latency_p95_ms = col_opt(st, 3);
    s.latency_p99_ms = col_opt(st, 4);
    s.fps = col_opt(st, 5);
    s.pool_efficiency = col_opt(st, 6);
    s.gpu_utilization = col_opt(st, 7);
    s.circuit_state = col_text(st, 8);
    s.frames_processed = sqlite3_column_int64(st, 9);
    s.frames_dropped = sqlite3_column_int64(st, 10);
    s.error_rate = col_opt(st, 11);
    s.gpu_memory_pressure = col_opt(st, 12);
    s.memory_allocation_p99_ms = col_opt(st, 13);
    return Status::ok();
}

}  // namespace

Result<std::vector<HistorySample>> History::samples(SystemTime from, SystemTime to) {
    std::lock_guard<std::mutex> lock(mu_);
    return query_range_locked<HistorySample>(kSelectSamples, nullptr, from, to, "query samples", sample_row);
}

Result<std::vector<HistorySample>> History::camera_samples(const std::string& camera_id, SystemTime from,
                                                           SystemTime to) {
    std::lock_guard<std::mutex> lock(mu_);
    return query_range_locked<HistorySample>(kSelectCameraSamples, &camera_id, from, to, "query samples", sample_row);
}

Result<std::vector<AlertEventRecord>> History::alerts(SystemTime from, SystemTime to) {
    std::lock_guard<std::mutex> lock(mu_);
    return query_range_locked<AlertEventRecord>(
        kSelectAlerts, nullptr, from, to, "query alerts", [](sqlite3_stmt* st, AlertEventRecord& a) {
            a.timestamp = from_epoch_ms(sqlite3_column_int64(st, 0));
            a.rule = col_text(st, 1);
            a.severity = col_text(st, 2);
            a.from_state = col_text(st, 3);
            a.to_state = col_text(st, 4);
            a.value = sqlite3_column_double(st, 5);
            a.threshold = sqlite3_column_double(st, 6);
            a.message = col_text(st, 7);
            return Status::ok();
        });
}

Result<std::vector<CameraEvent>> History::camera_events(SystemTime from, SystemTime to) {
    std::lock_guard<std::mutex> lock(mu_);
    return query_range_locked<CameraEvent>(
        kSelectCamera, nullptr, from, to, "query camera events", [this](sqlite3_stmt* st, CameraEvent& e) -> Status {
            e.timestamp = from_epoch_ms(sqlite3_column_int64(st, 0));
            e.camera_id = col_text(st, 1);
            auto kind = parse_camera_event_kind(col_text(st, 2));
            if (!kind) return kind.status().with_context("history '" + path_ + "'");
            e.kind = *kind;
            e.message = redact(col_text(st, 3));  // rows written before masking existed
            return Status::ok();
        });
}

Result<std::vector<CircuitEventRecord>> History::circuit_transitions(SystemTime from, SystemTime to) {
    std::lock_guard<std::mutex> lock(mu_);
    return query_range_locked<CircuitEventRecord>(
        kSelectCircuit, nullptr, from, to, "query circuit transitions", [](sqlite3_stmt* st, CircuitEventRecord& c) {
            c.timestamp = from_epoch_ms(sqlite3_column_int64(st, 0));
            c.device = col_text(st, 1);
            c.from_state = col_text(st, 2);
            c.to_state = col_text(st, 3);
            c.reason = col_text(st, 4);
            return Status::ok();
        });
}

Result<std::optional<SystemTime>> History::latest_sample_time() {
    std::lock_guard<std::mutex> lock(mu_);
    ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(kLatestSample));
    StmtReset reset{st};
    const int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return error_locked(rc, "query latest sample");
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) return std::optional<SystemTime>();
    return std::optional<SystemTime>(from_epoch_ms(sqlite3_column_int64(st, 0)));
}

Result<HistoryCounts> History::counts() {
    std::lock_guard<std::mutex> lock(mu_);
    HistoryCounts c;
    const std::pair<const char*, int64_t*> qs[] = {{kCountSamples, &c.samples},
                                                   {kCountAlerts, &c.alerts},
                                                   {kCountCamera, &c.camera_events},
                                                   {kCountCircuit, &c.circuit_transitions}};
    for (const auto& [sql, dst] : qs) {
        ITSCAM_ASSIGN_OR_RETURN(sqlite3_stmt * st, stmt_locked(sql));
        StmtReset reset{st};
        const int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) return error_locked(rc, "count rows");
        *dst = sqlite3_column_int64(st, 0);
    }
    return c;
}

Result<int64_t> History::delete_older_than(SystemTime cutoff) {
    std::lock_guard<std::mutex> lock(mu_);
    ITSCAM_RETURN_IF_ERROR(exec_locked("BEGIN IMMEDIATE"));
    int64_t deleted = 0;
    std::vector<const char*> deletes = {kDeleteSamples, kDeleteAlerts, kDeleteCamera, kDeleteCircuit, kDeleteBaselines};
    for (const char* sql : analytics_retention_statements()) deletes.push_back(sql);
    for (const char* sql : deletes) {
        auto st = stmt_locked(sql);
        if (!st.is_ok()) {
            (void)exec_locked("ROLLBACK");
            return st.status();
        }
        StmtReset reset{*st};
        sqlite3_bind_int64(*st, 1, to_epoch_ms(cutoff));
        const int rc = sqlite3_step(*st);
        if (rc != SQLITE_DONE) {
            Status err = error_locked(rc, "retention delete");
            (void)exec_locked("ROLLBACK");
            return err;
        }
        deleted += sqlite3_changes(db_);
    }
    ITSCAM_RETURN_IF_ERROR(exec_locked("COMMIT"));
    return deleted;
}

Result<int64_t> History::apply_retention(int days, SystemTime now) {
    if (days <= 0) return invalid_argument("history retention: days must be > 0, got " + std::to_string(days));
    return delete_older_than(now - std::chrono::hours(24) * days);
}

}  // namespace itscam::service
