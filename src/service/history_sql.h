// SQLite helpers shared by the History implementation files (history.cpp, history_baseline.cpp). Internal to the
// service: not included by anything outside src/service/history*.cpp.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <vector>

namespace itscam::service::history_sql {

// The statements of schema version 3 (the traffic analytics tables), defined in history_analytics.cpp.
std::vector<const char*> schema_v3_statements();
std::vector<const char*> schema_v4_statements();
// Retention deletes of those tables (parameter 1: the cutoff in epoch ms).
std::vector<const char*> analytics_retention_statements();

// Cluster mode's epoch; NULL for 0 (a stand-alone node).
inline void bind_epoch(sqlite3_stmt* st, int i, int64_t epoch) {
    if (epoch > 0)
        sqlite3_bind_int64(st, i, epoch);
    else
        sqlite3_bind_null(st, i);
}
inline void bind_opt(sqlite3_stmt* st, int i, const std::optional<double>& v) {
    if (v)
        sqlite3_bind_double(st, i, *v);
    else
        sqlite3_bind_null(st, i);
}

inline void bind_text(sqlite3_stmt* st, int i, const std::string& s) {
    sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

inline std::optional<double> col_opt(sqlite3_stmt* st, int i) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(st, i);
}

inline std::string col_text(sqlite3_stmt* st, int i) {
    const unsigned char* p = sqlite3_column_text(st, i);
    if (!p) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, i)));
}

// Resets a cached statement when the scope ends, whatever path it takes.
struct StmtReset {
    sqlite3_stmt* st;
    ~StmtReset() {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
};

}  // namespace itscam::service::history_sql
