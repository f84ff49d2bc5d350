// EventSpool: order, restart, torn writes, the size bound, and damaged files (fuzz) never crash nor yield a damaged
// record.
#include "events/event_spool.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "events/spool_record.h"
#include "mqtt_test_util.h"

namespace itscam::events {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

SpoolOptions options(const TempDir& d, int64_t max_bytes = int64_t{1} << 20) {
    SpoolOptions o;
    o.dir = d.str("spool");
    o.max_bytes = max_bytes;
    return o;
}

std::unique_ptr<EventSpool> open_ok(const SpoolOptions& o) {
    auto s = EventSpool::open(o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return s.is_ok() ? std::move(*s) : nullptr;
}

std::string payload_for(uint64_t i) { return R"({"schema":1,"id":"cam1-)" + std::to_string(i) + R"(","n":)" + std::to_string(i) + "}"; }

std::vector<fs::path> segments(const std::string& dir) {
    std::vector<fs::path> v;
    for (const auto& de : fs::directory_iterator(dir))
        if (de.path().filename().string().rfind("seg-", 0) == 0) v.push_back(de.path());
    std::sort(v.begin(), v.end());
    return v;
}

TEST(SpoolRecord, Crc32KnownValueAndEveryTruncationIsNotARecord) {
    EXPECT_EQ(crc32_ieee("123456789"), 0xCBF43926u);  // the standard check value of CRC-32/IEEE
    const SpoolRecord r{42, "itscam/cam1/events", payload_for(42), "cam1-42"};
    const std::string bytes = encode_spool_record(r);
    ASSERT_EQ(bytes.size(), spool_record_size(r));
    SpoolRecord out;
    size_t used = 0;
    ASSERT_EQ(decode_spool_record(bytes, &out, &used), DecodeOutcome::kOk);
    EXPECT_EQ(used, bytes.size());
    EXPECT_EQ(out.seq, 42u);
    EXPECT_EQ(out.topic, r.topic);
    EXPECT_EQ(out.payload, r.payload);
    EXPECT_EQ(out.id, r.id);
    for (size_t n = 0; n < bytes.size(); ++n)
        EXPECT_EQ(decode_spool_record(std::string_view(bytes.data(), n), &out, &used), DecodeOutcome::kTruncated) << n;
    for (size_t i = 0; i < bytes.size() * 8; ++i) {
        std::string b = bytes;
        b[i / 8] = static_cast<char>(b[i / 8] ^ (1 << (i % 8)));
        EXPECT_NE(decode_spool_record(b, &out, &used), DecodeOutcome::kOk) << "bit " << i;
    }
}

TEST(EventSpool, AppendPeekAckInOrder) {
    TempDir d("spool_order");
    auto s = open_ok(options(d));
    ASSERT_TRUE(s);
    for (uint64_t i = 1; i <= 100; ++i) {
        auto seq = s->append("itscam/cam1/events", payload_for(i), "cam1-" + std::to_string(i));
        ASSERT_TRUE(seq.is_ok()) << seq.status().to_string();
        EXPECT_EQ(*seq, i);
    }
    EXPECT_EQ(s->pending(), 100);
    auto all = s->peek(0, 1000);
    ASSERT_EQ(all.size(), 100u);
    for (uint64_t i = 1; i <= 100; ++i) {
        EXPECT_EQ(all[i - 1].seq, i);
        EXPECT_EQ(all[i - 1].payload, payload_for(i));
        EXPECT_EQ(all[i - 1].id, "cam1-" + std::to_string(i));
    }
    auto some = s->peek(10, 5);
    ASSERT_EQ(some.size(), 5u);
    EXPECT_EQ(some.front().seq, 11u);
    s->ack(50);
    EXPECT_EQ(s->pending(), 50);
    EXPECT_EQ(s->acked(), 50u);
    auto rest = s->peek(0, 1000);
    ASSERT_EQ(rest.size(), 50u);
    EXPECT_EQ(rest.front().seq, 51u);
    s->ack(40);  // older positions change nothing
    EXPECT_EQ(s->pending(), 50);
    EXPECT_FALSE(s->append("", "x", "y").is_ok());  // no topic
}

TEST(EventSpool, RestartResumesAtTheFirstUnacknowledged) {
    TempDir d("spool_restart");
    {
        auto s = open_ok(options(d));
        ASSERT_TRUE(s);
        for (uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE(s->append("t/a", payload_for(i), std::to_string(i)).is_ok());
        s->ack(40);
    }
    auto s = open_ok(options(d));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->acked(), 40u);
    EXPECT_EQ(s->pending(), 60);
    auto all = s->peek(0, 1000);
    ASSERT_EQ(all.size(), 60u);
    EXPECT_EQ(all.front().seq, 41u);
    EXPECT_EQ(all.front().payload, payload_for(41));
    EXPECT_EQ(all.back().seq, 100u);
    auto seq = s->append("t/a", payload_for(101), "101");
    ASSERT_TRUE(seq.is_ok());
    EXPECT_EQ(*seq, 101u);
    s->ack(101);
    EXPECT_EQ(s->pending(), 0);
    s.reset();
    auto again = open_ok(options(d));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->pending(), 0);
    EXPECT_EQ(*again->append("t/a", "x", "102"), 102u);  // seq keeps growing across restarts
}

TEST(EventSpool, ASecondOpenOfTheSameFolderIsRefused) {
    TempDir d("spool_lock");
    auto a = open_ok(options(d));
    ASSERT_TRUE(a);
    auto b = EventSpool::open(options(d));
    ASSERT_FALSE(b.is_ok());
    EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(b.status().message().find("in use"), std::string::npos) << b.status().to_string();
    a.reset();
    EXPECT_TRUE(EventSpool::open(options(d)).is_ok());
}

TEST(EventSpool, ATornLastRecordIsCutOff) {
    TempDir d("spool_torn");
    std::vector<std::string> logs;
    SpoolOptions o = options(d);
    o.log = [&](const std::string& l) { logs.push_back(l); };
    {
        auto s = open_ok(o);
        ASSERT_TRUE(s);
        for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(s->append("t/a", payload_for(i), std::to_string(i)).is_ok());
    }
    auto segs = segments(o.dir);
    ASSERT_EQ(segs.size(), 1u);
    const auto full = fs::file_size(segs[0]);
    fs::resize_file(segs[0], full - 5);  // a crash in the middle of writing record 10
    {
        auto s = open_ok(o);
        ASSERT_TRUE(s);
        EXPECT_EQ(s->pending(), 9);
        EXPECT_GT(s->damaged_bytes(), 0);
        EXPECT_LT(fs::file_size(segs[0]), full - 5);  // cut back to the end of record 9
        ASSERT_FALSE(logs.empty());
        EXPECT_NE(logs.back().find("torn"), std::string::npos) << logs.back();
        auto seq = s->append("t/a", payload_for(10), "10");
        ASSERT_TRUE(seq.is_ok());
        EXPECT_EQ(*seq, 10u);
    }
    logs.clear();
    auto s = open_ok(o);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->damaged_bytes(), 0);
    EXPECT_TRUE(logs.empty());
    auto all = s->peek(0, 100);
    ASSERT_EQ(all.size(), 10u);
    for (uint64_t i = 1; i <= 10; ++i) EXPECT_EQ(all[i - 1].payload, payload_for(i));
}

TEST(EventSpool, OverTheBoundTheOldestSegmentsAreDroppedAndCounted) {
    TempDir d("spool_bound");
    std::vector<std::string> logs;
    SpoolOptions o = options(d, 64 << 10);
    EventSpool* self = nullptr;
    o.log = [&](const std::string& l) {
        logs.push_back(l);
        if (self) {
            EXPECT_GE(self->pending(), 0);  // the log callback may call back into the spool (no deadlock)
        }
    };
    auto s = open_ok(o);
    ASSERT_TRUE(s);
    self = s.get();
    const std::string pad(1000, 'x');
    const int n = 300;  // ~310 KB into a 64 KiB spool
    for (int i = 1; i <= n; ++i) {
        ASSERT_TRUE(s->append("t/a", pad + std::to_string(i), std::to_string(i)).is_ok());
        EXPECT_LE(s->bytes(), 64 << 10);
    }
    EXPECT_GT(s->dropped(), 0);
    EXPECT_EQ(s->dropped() + s->pending(), n);
    ASSERT_FALSE(logs.empty());
    EXPECT_NE(logs.front().find("dropped the oldest"), std::string::npos) << logs.front();
    // What is left is the newest, contiguous and in order.
    auto all = s->peek(0, 1000);
    ASSERT_EQ(static_cast<int64_t>(all.size()), s->pending());
    for (size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(all[i].seq, static_cast<uint64_t>(n) - all.size() + 1 + i);
        EXPECT_EQ(all[i].payload, pad + std::to_string(all[i].seq));
    }
    // Dropped records are behind the acknowledged position after a restart too.
    const int64_t pending = s->pending();
    self = nullptr;
    s.reset();
    auto again = open_ok(o);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->pending(), pending);
}

TEST(EventSpool, ABacklogLargerThanMemoryIsReadBackFromDisk) {
    TempDir d("spool_disk");
    SpoolOptions o = options(d);
    o.memory_bytes = 4096;  // a handful of records in memory, the rest only on disk
    auto s = open_ok(o);
    ASSERT_TRUE(s);
    for (uint64_t i = 1; i <= 500; ++i) ASSERT_TRUE(s->append("t/a", payload_for(i), std::to_string(i)).is_ok());
    uint64_t after = 0, expect = 1;
    for (;;) {
        auto batch = s->peek(after, 20);
        if (batch.empty()) break;
        for (const auto& r : batch) {
            EXPECT_EQ(r.seq, expect);
            EXPECT_EQ(r.payload, payload_for(expect));
            ++expect;
        }
        after = batch.back().seq;
        s->ack(after);
    }
    EXPECT_EQ(expect, 501u);
    EXPECT_EQ(s->pending(), 0);
}

TEST(EventSpool, RecordsLargerThanASegmentAreRefused) {
    TempDir d("spool_big");
    auto s = open_ok(options(d, 64 << 10));  // 8 KiB segments
    ASSERT_TRUE(s);
    auto r = s->append("t/a", std::string(20000, 'x'), "big");
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s->pending(), 0);
}

// Random truncations, bit flips and garbage in the segments and the acknowledged-position file: opening never
// fails or crashes, every record returned is byte-identical to one written with that seq, seqs increase, and the
// records of untouched segments after the acknowledged position are all there.
TEST(EventSpool, FuzzDamagedFilesNeverYieldADamagedRecord) {
    std::mt19937 rng(12345);
    const int iterations = 300;
    int64_t returned = 0, damaged_total = 0;
    for (int it = 0; it < iterations; ++it) {
        TempDir d("spool_fuzz");
        SpoolOptions o = options(d, 1 << 20);
        o.segment_bytes = 2048;
        std::map<uint64_t, SpoolRecord> written;
        uint64_t acked = 0;
        {
            auto s = open_ok(o);
            ASSERT_TRUE(s);
            const int n = 1 + static_cast<int>(rng() % 80);
            for (int i = 0; i < n; ++i) {
                const std::string payload(rng() % 300, static_cast<char>('a' + rng() % 26));
                const std::string id = "id-" + std::to_string(i);
                const std::string topic = "itscam/c" + std::to_string(rng() % 3) + "/events";
                auto seq = s->append(topic, payload, id);
                ASSERT_TRUE(seq.is_ok());
                written[*seq] = SpoolRecord{*seq, topic, payload, id};
            }
            if (rng() % 2) {
                acked = rng() % (n + 1);
                s->ack(acked);
            }
        }
        // Damage.
        auto segs = segments(o.dir);
        std::set<std::string> touched;
        bool ack_touched = false;
        const int damages = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < damages && !segs.empty(); ++k) {
            const fs::path& p = segs[rng() % segs.size()];
            std::string bytes = testing::read_file(p.string());
            switch (rng() % 5) {
                case 0:  // truncate anywhere
                    bytes.resize(bytes.empty() ? 0 : rng() % bytes.size());
                    break;
                case 1:  // flip a few bits
                case 2:
                    for (int b = 0, nb = 1 + static_cast<int>(rng() % 8); b < nb && !bytes.empty(); ++b) {
                        const size_t at = rng() % bytes.size();
                        bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
                    }
                    break;
                case 3:  // garbage appended (a torn write of random bytes)
                    for (int b = 0, nb = 1 + static_cast<int>(rng() % 40); b < nb; ++b)
                        bytes.push_back(static_cast<char>(rng()));
                    break;
                default: {  // the acknowledged position damaged
                    const std::string ack = o.dir + "/acked";
                    std::string a = testing::read_file(ack);
                    if (!a.empty()) {
                        a[rng() % a.size()] ^= static_cast<char>(1 << (rng() % 8));
                        testing::write_file(ack, a);
                        ack_touched = true;
                    }
                    continue;
                }
            }
            testing::write_file(p.string(), bytes);
            touched.insert(p.filename().string());
        }
        std::vector<std::string> logs;
        o.log = [&](const std::string& l) { logs.push_back(l); };
        auto s = open_ok(o);
        ASSERT_TRUE(s) << "iteration " << it;
        const int64_t s_damaged = s->damaged_bytes();
        damaged_total += s_damaged;
        const auto all = s->peek(0, 100000);
        uint64_t prev = 0;
        std::set<uint64_t> got;
        for (const auto& r : all) {
            auto w = written.find(r.seq);
            ASSERT_NE(w, written.end()) << "iteration " << it << ": seq " << r.seq << " was never written";
            EXPECT_EQ(r.topic, w->second.topic) << "iteration " << it;
            EXPECT_EQ(r.payload, w->second.payload) << "iteration " << it;
            EXPECT_EQ(r.id, w->second.id) << "iteration " << it;
            EXPECT_GT(r.seq, prev);
            prev = r.seq;
            got.insert(r.seq);
        }
        returned += static_cast<int64_t>(all.size());
        if (!ack_touched) {
            // Records after the acknowledged position in segments nobody touched are all delivered.
            const auto seg_list = segs;
            for (size_t i = 0; i < seg_list.size(); ++i) {
                if (touched.count(seg_list[i].filename().string())) continue;
                const uint64_t first = std::stoull(seg_list[i].filename().string().substr(4, 20));
                const uint64_t end = i + 1 < seg_list.size()
                                         ? std::stoull(seg_list[i + 1].filename().string().substr(4, 20))
                                         : written.rbegin()->first + 1;
                for (uint64_t q = std::max(first, acked + 1); q < end; ++q)
                    EXPECT_TRUE(got.count(q)) << "iteration " << it << ": seq " << q << " of an intact segment lost";
            }
        }
        // Still usable: appends go after everything seen; a reopen reads them back.
        auto seq = s->append("t/a", "after", "after");
        ASSERT_TRUE(seq.is_ok());
        EXPECT_GT(*seq, prev);
        s.reset();
        auto again = open_ok(o);
        ASSERT_TRUE(again);
        EXPECT_LE(again->damaged_bytes(), s_damaged) << "iteration " << it;  // a torn end was cut off for good
        EXPECT_EQ(again->peek(0, 100000).back().id, "after");
    }
    std::cout << "[ fuzz ] " << iterations << " damaged spools reopened, " << returned
              << " intact records returned, " << damaged_total << " damaged bytes skipped\n";
}

}  // namespace
}  // namespace itscam::events
