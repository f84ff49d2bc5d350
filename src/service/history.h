// History: the SQLite store of recorded metrics, alert transitions, camera events and circuit-breaker transitions
// (the source of the daily report and the weekly analysis).
//
// One connection guarded by a mutex (thread-safe); WAL journal, synchronous=NORMAL, busy timeout 5 s. Every
// statement is prepared once and bound with parameters. Times are stored as INTEGER milliseconds since the Unix
// epoch (UTC). Schema (version 4, in table `meta` key 'schema_version'; a newer version is refused, an older one is
// migrated in place when opened: version 1 databases gain the `baselines` table, version 2 the analytics tables,
// version 3 the analytics tables' `epoch` column):
//   metric_samples(id, ts_ms, camera_id NULL = pipeline-wide, latency_p50_ms, latency_p95_ms, latency_p99_ms, fps,
//                  pool_efficiency, gpu_utilization, circuit_state, frames_processed, frames_dropped, error_rate,
//                  gpu_memory_pressure, memory_allocation_p99_ms)          -- NULL columns = not measured
//   alert_events(id, ts_ms, rule, severity, from_state, to_state, value, threshold, message)
//   camera_events(id, ts_ms, camera_id, kind, message)
//   circuit_transitions(id, ts_ms, device, from_state, to_state, reason)
//   baselines(id, ts_ms, p99_ms, samples, source)   -- regression baselines; the newest one is in force
// Traffic analytics (version 3, history_analytics.cpp; one row per closed aggregation interval and key):
//   line_counts(id, start_ms, end_ms, camera_id, line, direction, class, count)
//   zone_intervals(id, start_ms, end_ms, camera_id, zone, occupancy_pct, mean_occupancy, max_queue, entries, exits,
//                  mean_speed_kmh NULL = not calibrated, congestion)
//   speed_samples(id, ts_ms = start of the interval, end_ms, camera_id, speed_kmh)   -- speeds at line crossings
//   analytics_events(id, ts_ms, camera_id, kind, event_id UNIQUE, payload_json)     -- congestion changes only
// Each of the four analytics tables also has `epoch` (version 4): the camera's cluster ownership epoch
// (docs/cluster.md), NULL outside cluster mode.
// frames_processed / frames_dropped are per-sample deltas (frames since the previous sample), so sums over a time
// range are the totals for that range.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "analytics/analytics_event.h"
#include "core/status.h"
#include "service/alerts.h"
#include "service/history_analytics.h"

struct sqlite3;
struct sqlite3_stmt;

namespace itscam::service {

struct HistorySample {
    SystemTime timestamp{};
    std::string camera_id;  // empty: pipeline-wide
    std::optional<double> latency_p50_ms, latency_p95_ms, latency_p99_ms;
    std::optional<double> fps;
    std::optional<double> pool_efficiency;  // 0..1
    std::optional<double> gpu_utilization;  // 0..1; absent without a GPU / NVML
    std::string circuit_state;  // "closed" | "open" | "half_open"; empty: not recorded (NULL)
    int64_t frames_processed = 0, frames_dropped = 0;  // since the previous sample
    std::optional<double> error_rate, gpu_memory_pressure, memory_allocation_p99_ms;
};

struct AlertEventRecord {
    SystemTime timestamp{};
    std::string rule, severity, from_state, to_state;
    double value = 0, threshold = 0;
    std::string message;
};
AlertEventRecord alert_event_from_transition(const AlertTransition& t);

enum class CameraEventKind { kConnected, kDisconnected, kReconnecting, kFailed, kAdded, kRemoved };
const char* camera_event_kind_name(CameraEventKind k);  // "connected" | ... | "removed"
Result<CameraEventKind> parse_camera_event_kind(const std::string& s);

struct CameraEvent {
    SystemTime timestamp{};
    std::string camera_id;
    CameraEventKind kind = CameraEventKind::kConnected;
    std::string message;
};

struct CircuitEventRecord {
    SystemTime timestamp{};
    std::string device;           // e.g. "cuda:0"
    std::string from_state, to_state;  // "closed" | "open" | "half_open"
    std::string reason;
};

// A regression baseline: the inference p99 recorded as the reference the regression rule and `itscam report`
// compare against (SEED_SETTINGS.md "Regression detection").
struct BaselineRecord {
    SystemTime timestamp{};
    double p99_ms = 0;     // > 0
    int64_t samples = 0;   // latency samples the p99 was computed over (0: not known)
    std::string source;    // how it was recorded, e.g. "POST /api/v1/baseline"
};

struct HistoryCounts {
    int64_t samples = 0, alerts = 0, camera_events = 0, circuit_transitions = 0;
};

class History {
public:
    static constexpr int kSchemaVersion = 4;

    // Opens (creating if needed) the database at `path` (":memory:" for a private in-memory store).
    // kIo: cannot open/create (missing directory, permissions); kCorrupt: not a database / damaged;
    // kUnsupported: written by a newer itscam (schema_version > kSchemaVersion).
    static Result<std::unique_ptr<History>> open(const std::string& path);
    ~History();
    History(const History&) = delete;
    History& operator=(const History&) = delete;

    const std::string& path() const { return path_; }
    Result<int> schema_version();

    Status insert_sample(const HistorySample& s);
    Status insert_samples(const std::vector<HistorySample>& samples);  // one transaction
    Status insert_alert(const AlertEventRecord& a);
    Status record_alert(const AlertTransition& t) { return insert_alert(alert_event_from_transition(t)); }
    Status insert_camera_event(const CameraEvent& e);
    Status insert_circuit_transition(const CircuitEventRecord& c);
    // Records a baseline (kInvalidArgument unless p99_ms is finite and > 0). The newest one is in force.
    Status insert_baseline(const BaselineRecord& b);
    // The baseline in force: the newest recorded (by timestamp, then insertion), or none.
    Result<std::optional<BaselineRecord>> latest_baseline();

    // Rows with from <= timestamp < to, oldest first.
    Result<std::vector<HistorySample>> samples(SystemTime from, SystemTime to);  // pipeline-wide rows only
    Result<std::vector<HistorySample>> camera_samples(const std::string& camera_id, SystemTime from, SystemTime to);
    Result<std::vector<AlertEventRecord>> alerts(SystemTime from, SystemTime to);
    Result<std::vector<CameraEvent>> camera_events(SystemTime from, SystemTime to);
    Result<std::vector<CircuitEventRecord>> circuit_transitions(SystemTime from, SystemTime to);
    Result<std::optional<SystemTime>> latest_sample_time();  // newest pipeline-wide sample, if any
    Result<HistoryCounts> counts();

    // ---- traffic analytics (history_analytics.cpp) ----
    // Closed aggregation intervals (Pipeline::take_intervals), all in one transaction: their line counts, zone
    // figures and crossing speeds. kInvalidArgument for an interval without a camera or with end <= start.
    Status record_intervals(const std::vector<analytics::IntervalAggregate>& intervals);
    // A congestion change. Other kinds are kInvalidArgument: crossings and zone entries/exits are counted in the
    // intervals, not stored one by one. An event id already stored is not stored again (a replay is harmless).
    Status record_event(const analytics::AnalyticsEvent& e);
    // The intervals with from <= start < to, rebuilt from their rows (speeds included), oldest first; of one camera,
    // or of every camera when `camera` is empty.
    Result<std::vector<analytics::IntervalAggregate>> query_intervals(SystemTime from, SystemTime to,
                                                                      const std::string& camera = "");
    // A camera's intervals in bucket_s buckets over [since, until) (bucket_intervals, history_analytics.h).
    Result<std::vector<CountBucket>> query_counts(const std::string& camera, SystemTime since, SystemTime until,
                                                  int64_t bucket_s);
    // Stored congestion changes with from <= timestamp < to, oldest first.
    Result<std::vector<AnalyticsEventRow>> analytics_events(SystemTime from, SystemTime to);

    // Deletes rows of every table older than `cutoff` (except the newest baseline, which stays in force); returns
    // the number of rows deleted.
    Result<int64_t> delete_older_than(SystemTime cutoff);
    // Retention: delete_older_than(now - days). Call it periodically (e.g. hourly). days must be > 0.
    Result<int64_t> apply_retention(int days, SystemTime now = std::chrono::system_clock::now());

private:
    explicit History(std::string path);
    Status init();
    Status migrate_locked();
    Status exec_locked(const char* sql);
    Result<sqlite3_stmt*> stmt_locked(const char* sql);  // prepared once, cached, reset before reuse
    Status error_locked(int rc, const std::string& what) const;
    // Prepares `sql` (an INSERT), lets `bind` bind its parameters and runs it once; `what` names it in errors.
    Status insert_locked(const char* sql, const char* what, const std::function<void(sqlite3_stmt*)>& bind);
    Status insert_sample_locked(const HistorySample& s);
    // Runs a range query (parameters 1 and 2: from and to in epoch ms, 3: `camera` when given) and maps every row
    // with `row(stmt, out)`; `what` names it in errors. Defined in history.cpp, where all its callers are.
    template <typename T, typename RowFn>
    Result<std::vector<T>> query_range_locked(const char* sql, const std::string* camera, SystemTime from,
                                              SystemTime to, const char* what, RowFn row);

    std::string path_;
    std::mutex mu_;
    sqlite3* db_ = nullptr;
    std::map<const char*, sqlite3_stmt*> stmts_;
};

int64_t to_epoch_ms(SystemTime t);
SystemTime from_epoch_ms(int64_t ms);

}  // namespace itscam::service
