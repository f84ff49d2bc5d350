// EventSpool: the MQTT publisher's bounded, ordered, crash-safe queue on the local disk (docs/mqtt.md, "Spool").
//
// Files in the spool folder:
//   seg-<first seq, 20 digits>.log   append-only segments of spool_record.h records (seq grows by one per append)
//   acked                            "itscam-spool-ack 1 <seq> <crc32 hex>": every record <= seq was delivered;
//                                    replaced atomically (write acked.tmp, rename)
//   lock                             flock()ed while open: two processes never share a spool
// Reopened after a crash or restart, the spool resumes at the first record after the acknowledged position. A torn
// last record (a crash mid-write) is cut off; damaged bytes elsewhere are skipped up to the next valid record, and
// a record whose CRC does not match is never returned. Past max_bytes the oldest segments are deleted, their
// undelivered records counted in dropped() and logged.
// Records are also kept in memory (up to memory_bytes) so that the sender reads the disk only for a backlog larger
// than that. Thread-safe: append() from any thread, the rest from the sender.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "events/spool_record.h"

namespace itscam::events {

struct SpoolOptions {
    std::string dir;
    int64_t max_bytes = int64_t{64} << 20;
    int64_t segment_bytes = 0;  // 0: max_bytes / 8 (at least 4 KiB): the unit dropped when full
    int64_t memory_bytes = 0;   // 0: min(max_bytes, 8 MiB)
    std::function<void(const std::string&)> log;  // drops, damage found at open; may be empty
};

class EventSpool {
public:
    // Creates the folder when missing. kUnavailable when another EventSpool (this or another process) holds it.
    static Result<std::unique_ptr<EventSpool>> open(const SpoolOptions& opt);
    ~EventSpool();  // persists the acknowledged position and syncs the files; the records stay on disk
    EventSpool(const EventSpool&) = delete;
    EventSpool& operator=(const EventSpool&) = delete;

    // Appends to the disk (and memory); returns its seq. kInvalidArgument for a record larger than a segment or an
    // empty topic; kIo when the disk write fails (nothing of the record is left in the file then).
    Result<uint64_t> append(const std::string& topic, const std::string& payload, const std::string& id);
    // Up to max_n undelivered records with seq > after_seq, in order (from memory, or read back from the disk).
    std::vector<SpoolRecord> peek(uint64_t after_seq, size_t max_n);
    // Every record with seq <= seq was delivered. Persisted at most every 50 ms, and by sync() and the destructor:
    // a crash may resend the last few records, never lose one.
    void ack(uint64_t seq);
    // Flushes appended records to the device (fdatasync) and persists the acknowledged position.
    Status sync();

    uint64_t acked() const;
    int64_t pending() const;        // records not yet acknowledged
    int64_t bytes() const;          // segment bytes on disk (acknowledged records of a live segment included)
    int64_t dropped() const;        // undelivered records deleted because the spool was full
    int64_t damaged_bytes() const;  // bytes skipped or cut off as damaged since open
    const std::string& dir() const { return opt_.dir; }

private:
    struct Segment {
        uint64_t first_seq = 0;  // from the file name
        uint64_t last_seq = 0;   // highest seq in it (0: none)
        int64_t size = 0;
        int fd = -1;
        std::string path;
    };
    struct Entry {
        uint64_t seq = 0;
        uint64_t segment = 0;  // Segment::first_seq
        int64_t offset = 0;
        uint32_t size = 0;
        std::shared_ptr<const SpoolRecord> cached;  // null: read it from the disk
    };

    explicit EventSpool(SpoolOptions opt) : opt_(std::move(opt)) {}
    Status recover();
    Status scan_segment(Segment& seg, bool last, uint64_t& prev_seq);
    void read_ack_file();
    Status persist_ack_locked();
    Status start_segment_locked(uint64_t first_seq);
    void delete_acked_segments_locked();
    void enforce_bound_locked();
    Segment* find_segment_locked(uint64_t first_seq);
    bool read_entry_locked(const Entry& e, SpoolRecord* out);
    Result<uint64_t> append_impl(const std::string& topic, const std::string& payload, const std::string& id);
    void note(std::string msg);  // under mu_ (or before the spool is shared); emit_notes() logs them
    void emit_notes();

    SpoolOptions opt_;
    int lock_fd_ = -1;
    mutable std::mutex mu_;
    std::deque<Segment> segments_;  // oldest first; the back one is appended to
    std::deque<Entry> entries_;     // the undelivered records, seq order
    uint64_t next_seq_ = 1;
    uint64_t acked_ = 0;
    uint64_t persisted_ack_ = 0;
    int64_t last_persist_us_ = 0;
    int64_t bytes_ = 0;
    int64_t memory_used_ = 0;
    int64_t dropped_ = 0;
    int64_t damaged_ = 0;
    bool dirty_data_ = false, dirty_dir_ = false;
    std::vector<std::string> notes_;  // log lines made under mu_, written out after it is released
};

}  // namespace itscam::events
