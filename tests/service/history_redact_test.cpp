// The history never stores a credential: camera events and alert messages are redacted when written (the database
// outlives the process and `itscam report` reads it), and rows written before masking existed are redacted when read.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "core/redact.h"
#include "service/history.h"

namespace itscam::service {
namespace {

namespace fs = std::filesystem;

const SystemTime kRedactT0 = from_epoch_ms(1'700'000'000'000);

std::string temp_db() {
    const fs::path p = fs::temp_directory_path() / ("itscam_history_redact_" + std::to_string(::getpid()) + "_" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(p);
    fs::create_directories(p);
    return (p / "h.db").string();
}

// Every text column of the camera_events and alert_events rows, straight from SQLite.
std::string raw_rows(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    std::string out;
    for (const char* sql : {"SELECT camera_id || ' ' || kind || ' ' || message FROM camera_events",
                            "SELECT rule || ' ' || message FROM alert_events"}) {
        sqlite3_stmt* st = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        while (sqlite3_step(st) == SQLITE_ROW)
            out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) + std::string("\n");
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

}  // namespace

TEST(HistoryRedact, CameraEventsAndAlertsAreStoredMasked) {
    const std::string path = temp_db();
    register_secret("Registered-History-Secret");
    {
        auto h = History::open(path);
        ASSERT_TRUE(h.is_ok()) << h.status().to_string();
        CameraEvent e;
        e.timestamp = kRedactT0;
        e.camera_id = "cam";
        e.kind = CameraEventKind::kAdded;
        e.message = "rtsp://admin:PlantedHistoryPw@10.0.0.1/x";
        ASSERT_TRUE((*h)->insert_camera_event(e).is_ok());
        e.kind = CameraEventKind::kReconnecting;
        e.message = "rtsp://admin:PlantedHistoryPw@10.0.0.1/x: connection refused; Registered-History-Secret";
        ASSERT_TRUE((*h)->insert_camera_event(e).is_ok());
        AlertEventRecord a;
        a.timestamp = kRedactT0;
        a.rule = "r";
        a.severity = "warning";
        a.from_state = "inactive";
        a.to_state = "firing";
        a.message = "source http://u:PlantedAlertPw@h/x";
        ASSERT_TRUE((*h)->insert_alert(a).is_ok());
        auto events = (*h)->camera_events(kRedactT0, kRedactT0 + std::chrono::seconds(1));
        ASSERT_TRUE(events.is_ok());
        ASSERT_EQ(events->size(), 2u);
        EXPECT_EQ((*events)[0].message, "rtsp://admin:***@10.0.0.1/x");
        EXPECT_EQ((*events)[1].message, "rtsp://admin:***@10.0.0.1/x: connection refused; ***");
    }
    const std::string raw = raw_rows(path);
    EXPECT_NE(raw.find("cam added rtsp://admin:***@10.0.0.1/x"), std::string::npos) << raw;
    EXPECT_NE(raw.find("r source http://u:***@h/x"), std::string::npos) << raw;
    for (const char* planted : {"PlantedHistoryPw", "PlantedAlertPw", "Registered-History-Secret"})
        EXPECT_EQ(raw.find(planted), std::string::npos) << planted << "\n" << raw;
}

TEST(HistoryRedact, OldRowsAreMaskedWhenRead) {
    const std::string path = temp_db();
    {
        auto h = History::open(path);
        ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    }
    // A row as an older itscam wrote it, password and all.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO camera_events (ts_ms, camera_id, kind, message) VALUES "
                           "(1700000000000, 'cam', 'added', 'rtsp://admin:OldRowPw@h/x')",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto h = History::open(path);
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    auto events = (*h)->camera_events(kRedactT0, kRedactT0 + std::chrono::seconds(1));
    ASSERT_TRUE(events.is_ok());
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ((*events)[0].message, "rtsp://admin:***@h/x");
}

}  // namespace itscam::service
