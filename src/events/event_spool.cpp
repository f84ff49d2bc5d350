#include "events/event_spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

namespace itscam::events {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kAckPersistIntervalUs = 50'000;
constexpr const char* kAckFile = "acked";
constexpr const char* kAckTmpFile = "acked.tmp";
constexpr const char* kLockFile = "lock";

int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

Status errno_error(const std::string& what) { return io_error(what + ": " + std::strerror(errno)); }

std::string segment_name(uint64_t first_seq) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "seg-%020" PRIu64 ".log", first_seq);
    return buf;
}

// "seg-<20 digits>.log" -> its first seq; anything else is not ours.
bool parse_segment_name(const std::string& name, uint64_t* first_seq) {
    if (name.size() != 28 || name.compare(0, 4, "seg-") != 0 || name.compare(24, 4, ".log") != 0) return false;
    uint64_t v = 0;
    for (size_t i = 4; i < 24; ++i) {
        if (name[i] < '0' || name[i] > '9') return false;
        const uint64_t d = static_cast<uint64_t>(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *first_seq = v;
    return true;
}

std::string ack_text(uint64_t seq) {
    const std::string s = std::to_string(seq);
    char crc[16];
    std::snprintf(crc, sizeof(crc), "%08x", crc32_ieee(s));
    return "itscam-spool-ack 1 " + s + " " + crc + "\n";
}

bool write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

bool pread_all(int fd, char* p, size_t n, int64_t off) {
    while (n > 0) {
        const ssize_t r = ::pread(fd, p, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<size_t>(r);
        off += r;
    }
    return true;
}

}  // namespace

Result<std::unique_ptr<EventSpool>> EventSpool::open(const SpoolOptions& opt_in) {
    SpoolOptions opt = opt_in;
    if (opt.dir.empty()) return invalid_argument("the MQTT spool folder is empty");
    if (opt.max_bytes < 4096) return invalid_argument("the MQTT spool size limit is below 4 KiB");
    if (opt.segment_bytes <= 0) opt.segment_bytes = std::max<int64_t>(opt.max_bytes / 8, 4096);
    opt.segment_bytes = std::min(opt.segment_bytes, opt.max_bytes);
    if (opt.memory_bytes <= 0) opt.memory_bytes = std::min<int64_t>(opt.max_bytes, int64_t{8} << 20);
    std::error_code ec;
    fs::create_directories(opt.dir, ec);
    if (ec) return io_error("cannot create the MQTT spool folder '" + opt.dir + "': " + ec.message());
    if (!fs::is_directory(opt.dir, ec)) return invalid_argument("the MQTT spool path '" + opt.dir + "' is not a folder");
    std::unique_ptr<EventSpool> s(new EventSpool(opt));
    const std::string lock_path = (fs::path(opt.dir) / kLockFile).string();
    s->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd_ < 0) return errno_error("cannot open the MQTT spool lock '" + lock_path + "'");
    if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return unavailable("the MQTT spool folder '" + opt.dir + "' is in use by another publisher");
        return errno_error("cannot lock the MQTT spool '" + lock_path + "'");
    }
    const Status st = s->recover();
    s->emit_notes();
    if (!st.is_ok()) return st;
    return s;
}

EventSpool::~EventSpool() {
    (void)sync();
    for (auto& seg : segments_)
        if (seg.fd >= 0) ::close(seg.fd);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void EventSpool::note(std::string msg) { notes_.push_back(std::move(msg)); }

void EventSpool::emit_notes() {
    std::vector<std::string> notes;
    {
        std::lock_guard<std::mutex> lk(mu_);
        notes.swap(notes_);
    }
    // Outside the lock: the log callback may call back into the spool (stats) without a deadlock.
    if (opt_.log)
        for (const auto& n : notes) opt_.log(n);
}

void EventSpool::read_ack_file() {
    const std::string path = (fs::path(opt_.dir) / kAckFile).string();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return;  // a new spool (or one that never delivered): everything in it is pending
    char buf[128] = {};
    const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    ::close(fd);
    unsigned long long seq = 0;
    char crc[16] = {};
    int version = 0;
    if (n > 0 && std::sscanf(buf, "itscam-spool-ack %d %llu %15s", &version, &seq, crc) == 3 && version == 1 &&
        ack_text(seq) == std::string(buf, static_cast<size_t>(n))) {
        acked_ = persisted_ack_ = seq;
        return;
    }
    note("MQTT spool '" + opt_.dir + "': the acknowledged position (" + path +
        ") is damaged; every event still in the spool will be sent again (duplicates carry the same id)");
}

Status EventSpool::recover() {
    std::error_code ec;
    fs::remove(fs::path(opt_.dir) / kAckTmpFile, ec);
    read_ack_file();
    std::vector<uint64_t> firsts;
    for (const auto& de : fs::directory_iterator(opt_.dir, ec)) {
        uint64_t first = 0;
        if (parse_segment_name(de.path().filename().string(), &first)) firsts.push_back(first);
    }
    if (ec) return io_error("cannot list the MQTT spool folder '" + opt_.dir + "': " + ec.message());
    std::sort(firsts.begin(), firsts.end());
    uint64_t prev_seq = 0;
    for (size_t i = 0; i < firsts.size(); ++i) {
        Segment seg;
        seg.first_seq = firsts[i];
        seg.path = (fs::path(opt_.dir) / segment_name(firsts[i])).string();
        seg.fd = ::open(seg.path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NONBLOCK);
        if (seg.fd < 0) return errno_error("cannot open the MQTT spool segment '" + seg.path + "'");
        struct stat sb {};
        if (::fstat(seg.fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            ::close(seg.fd);
            return io_error("the MQTT spool segment '" + seg.path + "' is not a regular file");
        }
        segments_.push_back(seg);  // owned (closed by the destructor) before anything can fail
        ITSCAM_RETURN_IF_ERROR(scan_segment(segments_.back(), i + 1 == firsts.size(), prev_seq));
    }
    next_seq_ = std::max(acked_, prev_seq) + 1;
    for (const auto& seg : segments_) bytes_ += seg.size;
    // Segments holding nothing undelivered (an empty last one included) go now.
    while (!segments_.empty() && segments_.front().last_seq <= acked_) {
        Segment& seg = segments_.front();
        ::close(seg.fd);
        ::unlink(seg.path.c_str());
        bytes_ -= seg.size;
        segments_.pop_front();
    }
    enforce_bound_locked();
    return Status::ok();
}

Status EventSpool::scan_segment(Segment& seg, bool last, uint64_t& prev_seq) {
    struct stat sb {};
    if (::fstat(seg.fd, &sb) != 0) return errno_error("cannot stat '" + seg.path + "'");
    std::string data(static_cast<size_t>(sb.st_size), '\0');
    if (!data.empty() && !pread_all(seg.fd, data.data(), data.size(), 0))
        return errno_error("cannot read the MQTT spool segment '" + seg.path + "'");
    std::string magic;
    for (int i = 0; i < 4; ++i) magic.push_back(static_cast<char>((kSpoolRecordMagic >> (8 * i)) & 0xff));
    size_t off = 0, valid_end = 0;
    int64_t skipped = 0;
    SpoolRecord rec;
    while (off < data.size()) {
        size_t used = 0;
        const std::string_view rest(data.data() + off, data.size() - off);
        if (decode_spool_record(rest, &rec, &used) == DecodeOutcome::kOk) {
            if (rec.seq > prev_seq) {
                prev_seq = rec.seq;
                seg.last_seq = rec.seq;
                if (rec.seq > acked_) {
                    Entry e{rec.seq, seg.first_seq, static_cast<int64_t>(off), static_cast<uint32_t>(used), nullptr};
                    if (memory_used_ + static_cast<int64_t>(used) <= opt_.memory_bytes) {
                        e.cached = std::make_shared<const SpoolRecord>(std::move(rec));
                        memory_used_ += static_cast<int64_t>(used);
                    }
                    entries_.push_back(std::move(e));
                }
            } else {
                skipped += static_cast<int64_t>(used);  // out of order: not a record this spool wrote here
            }
            off += used;
            valid_end = off;
            continue;
        }
        // Damage (or a torn write): resume at the next offset where a whole valid record starts.
        size_t next = data.find(magic, off + 1);
        while (next != std::string::npos) {
            size_t u = 0;
            if (decode_spool_record(std::string_view(data.data() + next, data.size() - next), &rec, &u) ==
                DecodeOutcome::kOk)
                break;
            next = data.find(magic, next + 1);
        }
        if (next == std::string::npos) break;
        skipped += static_cast<int64_t>(next - off);
        off = next;
    }
    const int64_t tail = static_cast<int64_t>(data.size() - valid_end);
    seg.size = static_cast<int64_t>(data.size());
    if (tail > 0 && last) {
        // The end of the segment being appended to: a record torn by a crash. Cut it off so appends continue
        // after the last whole record.
        if (::ftruncate(seg.fd, static_cast<off_t>(valid_end)) != 0)
            return errno_error("cannot truncate the torn end of '" + seg.path + "'");
        seg.size = static_cast<int64_t>(valid_end);
        note("MQTT spool: cut off " + std::to_string(tail) + " bytes of a torn or damaged record at the end of '" +
            seg.path + "'");
    } else if (tail > 0) {
        skipped += tail;
    }
    if (skipped > 0)
        note("MQTT spool: skipped " + std::to_string(skipped) + " damaged bytes in '" + seg.path +
            "' (the records in them are lost; no damaged record is sent)");
    damaged_ += skipped + (last ? tail : 0);
    return Status::ok();
}

Status EventSpool::start_segment_locked(uint64_t first_seq) {
    if (!segments_.empty() && segments_.back().fd >= 0 && dirty_data_) {
        ::fdatasync(segments_.back().fd);  // a closed-off segment is complete on the device
        dirty_data_ = false;
    }
    Segment seg;
    seg.first_seq = first_seq;
    seg.path = (fs::path(opt_.dir) / segment_name(first_seq)).string();
    seg.fd = ::open(seg.path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (seg.fd < 0) return errno_error("cannot create the MQTT spool segment '" + seg.path + "'");
    segments_.push_back(seg);
    dirty_dir_ = true;
    return Status::ok();
}

Result<uint64_t> EventSpool::append(const std::string& topic, const std::string& payload, const std::string& id) {
    Result<uint64_t> r = append_impl(topic, payload, id);
    emit_notes();
    return r;
}

Result<uint64_t> EventSpool::append_impl(const std::string& topic, const std::string& payload,
                                         const std::string& id) {
    if (topic.empty()) return invalid_argument("an MQTT event without a topic");
    SpoolRecord rec{0, topic, payload, id};
    const size_t size = spool_record_size(rec);
    if (static_cast<int64_t>(size) > opt_.segment_bytes || size - kSpoolHeaderBytes > kSpoolMaxBodyBytes)
        return invalid_argument("an MQTT event of " + std::to_string(size) + " bytes is larger than the spool's " +
                                "segment size (" + std::to_string(opt_.segment_bytes) + " bytes)");
    std::lock_guard<std::mutex> lk(mu_);
    const uint64_t seq = rec.seq = next_seq_;
    const std::string bytes = encode_spool_record(rec);
    if (segments_.empty() || (segments_.back().size > 0 &&
                              segments_.back().size + static_cast<int64_t>(size) > opt_.segment_bytes))
        ITSCAM_RETURN_IF_ERROR(start_segment_locked(rec.seq));
    Segment& seg = segments_.back();
    if (!write_all(seg.fd, bytes.data(), bytes.size())) {
        const int err = errno;
        // Leave no partial record behind (it would read as damage after a restart).
        if (::ftruncate(seg.fd, static_cast<off_t>(seg.size)) != 0)
            note("MQTT spool: could not cut a partial record off '" + seg.path + "' (it reads as damage later)");
        return io_error("cannot write to the MQTT spool segment '" + seg.path + "': " + std::strerror(err));
    }
    Entry e{rec.seq, seg.first_seq, seg.size, static_cast<uint32_t>(size), nullptr};
    seg.size += static_cast<int64_t>(size);
    seg.last_seq = rec.seq;
    bytes_ += static_cast<int64_t>(size);
    ++next_seq_;
    dirty_data_ = true;
    if (memory_used_ + static_cast<int64_t>(size) <= opt_.memory_bytes) {
        e.cached = std::make_shared<const SpoolRecord>(std::move(rec));
        memory_used_ += static_cast<int64_t>(size);
    }
    entries_.push_back(std::move(e));
    enforce_bound_locked();
    return seq;
}

void EventSpool::enforce_bound_locked() {
    while (bytes_ > opt_.max_bytes && segments_.size() > 1) {
        Segment seg = segments_.front();
        segments_.pop_front();
        int64_t lost = 0;
        uint64_t lo = 0, hi = 0;
        while (!entries_.empty() && entries_.front().segment == seg.first_seq) {
            const Entry& e = entries_.front();
            if (lost == 0) lo = e.seq;
            hi = e.seq;
            if (e.cached) memory_used_ -= e.size;
            entries_.pop_front();
            ++lost;
        }
        ::close(seg.fd);
        ::unlink(seg.path.c_str());
        bytes_ -= seg.size;
        acked_ = std::max(acked_, seg.last_seq);  // nothing at or before it is pending any more
        if (lost > 0) {
            dropped_ += lost;
            note("MQTT spool '" + opt_.dir + "' is full (" + std::to_string(opt_.max_bytes) + " bytes): dropped the " +
                "oldest " + std::to_string(lost) + " undelivered events (seq " + std::to_string(lo) + ".." +
                std::to_string(hi) + "), " + std::to_string(dropped_) + " dropped in all");
        }
    }
}

std::vector<SpoolRecord> EventSpool::peek(uint64_t after_seq, size_t max_n) {
    std::vector<SpoolRecord> out;
    {
        std::lock_guard<std::mutex> lk(mu_);
        auto it = std::upper_bound(entries_.begin(), entries_.end(), after_seq,
                                   [](uint64_t s, const Entry& e) { return s < e.seq; });
        while (it != entries_.end() && out.size() < max_n) {
            if (it->cached) {
                out.push_back(*it->cached);
                ++it;
                continue;
            }
            SpoolRecord rec;
            if (read_entry_locked(*it, &rec)) {
                out.push_back(std::move(rec));
                ++it;
            } else {
                it = entries_.erase(it);  // unreadable now: never sent, and not waited for
            }
        }
    }
    emit_notes();
    return out;
}

EventSpool::Segment* EventSpool::find_segment_locked(uint64_t first_seq) {
    auto it = std::lower_bound(segments_.begin(), segments_.end(), first_seq,
                               [](const Segment& s, uint64_t f) { return s.first_seq < f; });
    return it != segments_.end() && it->first_seq == first_seq ? &*it : nullptr;
}

bool EventSpool::read_entry_locked(const Entry& e, SpoolRecord* out) {
    const Segment* seg = find_segment_locked(e.segment);
    std::string buf(e.size, '\0');
    size_t used = 0;
    if (seg && pread_all(seg->fd, buf.data(), buf.size(), e.offset) &&
        decode_spool_record(buf, out, &used) == DecodeOutcome::kOk && used == e.size && out->seq == e.seq)
        return true;
    // Changed on the disk since it was written or scanned: never send what does not check out.
    damaged_ += e.size;
    note("MQTT spool: the event with seq " + std::to_string(e.seq) + " in '" + (seg ? seg->path : opt_.dir) +
        "' no longer reads back intact; it is skipped");
    return false;
}

void EventSpool::ack(uint64_t seq) {
    std::lock_guard<std::mutex> lk(mu_);
    if (seq <= acked_) return;
    acked_ = std::min(seq, next_seq_ - 1);
    while (!entries_.empty() && entries_.front().seq <= acked_) {
        if (entries_.front().cached) memory_used_ -= entries_.front().size;
        entries_.pop_front();
    }
    if (now_us() - last_persist_us_ >= kAckPersistIntervalUs) (void)persist_ack_locked();
}

Status EventSpool::persist_ack_locked() {
    last_persist_us_ = now_us();
    if (acked_ != persisted_ack_) {
        const std::string tmp = (fs::path(opt_.dir) / kAckTmpFile).string();
        const std::string dst = (fs::path(opt_.dir) / kAckFile).string();
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return errno_error("cannot write '" + tmp + "'");
        const std::string text = ack_text(acked_);
        const bool ok = write_all(fd, text.data(), text.size());
        ::close(fd);
        // rename() replaces the file whole: a crash leaves the old or the new position, never a torn one.
        if (!ok || ::rename(tmp.c_str(), dst.c_str()) != 0) return errno_error("cannot replace '" + dst + "'");
        persisted_ack_ = acked_;
    }
    delete_acked_segments_locked();
    return Status::ok();
}

void EventSpool::delete_acked_segments_locked() {
    // Only what the file on disk says is delivered: a crash before the next persist must not find records gone.
    while (segments_.size() > 1 && segments_.front().last_seq <= persisted_ack_) {
        Segment& seg = segments_.front();
        ::close(seg.fd);
        ::unlink(seg.path.c_str());
        bytes_ -= seg.size;
        segments_.pop_front();
        dirty_dir_ = true;
    }
}

Status EventSpool::sync() {
    int fd = -1;
    bool dir = false;
    std::string path;
    {
        std::lock_guard<std::mutex> lk(mu_);
        // The device flush runs without the lock (on a duplicate descriptor): appends need not wait for it.
        if (dirty_data_ && !segments_.empty()) {
            fd = ::dup(segments_.back().fd);
            path = segments_.back().path;
        }
        dirty_data_ = false;
        dir = std::exchange(dirty_dir_, false);
    }
    Status st;
    if (fd >= 0) {
        if (::fdatasync(fd) != 0) st = errno_error("cannot sync '" + path + "'");
        ::close(fd);
    }
    if (dir) {
        const int dfd = ::open(opt_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            ::fsync(dfd);  // new segment names are on the device too
            ::close(dfd);
        }
    }
    Status ack_st;
    {
        std::lock_guard<std::mutex> lk(mu_);
        ack_st = persist_ack_locked();
    }
    emit_notes();
    return st.is_ok() ? ack_st : st;
}

uint64_t EventSpool::acked() const {
    std::lock_guard<std::mutex> lk(mu_);
    return acked_;
}

int64_t EventSpool::pending() const {
    std::lock_guard<std::mutex> lk(mu_);
    return static_cast<int64_t>(entries_.size());
}

int64_t EventSpool::bytes() const {
    std::lock_guard<std::mutex> lk(mu_);
    return bytes_;
}

int64_t EventSpool::dropped() const {
    std::lock_guard<std::mutex> lk(mu_);
    return dropped_;
}

int64_t EventSpool::damaged_bytes() const {
    std::lock_guard<std::mutex> lk(mu_);
    return damaged_;
}

}  // namespace itscam::events
