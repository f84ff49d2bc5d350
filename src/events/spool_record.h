// One record of the MQTT spool's segment files, and its check sum. Layout (little-endian):
//   magic u32 "ISR1" | body_len u32 | crc32(body) u32 | body
//   body = seq u64 | topic_len u32 | id_len u32 | payload_len u32 | topic | id | payload
// The magic lets a reader find the next record after damaged bytes; the CRC covers everything that is delivered,
// so a damaged record is skipped, never sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace itscam::events {

struct SpoolRecord {
    uint64_t seq = 0;
    std::string topic, payload, id;
};

inline constexpr uint32_t kSpoolRecordMagic = 0x31525349;  // "ISR1" in file order
inline constexpr size_t kSpoolHeaderBytes = 12;
inline constexpr size_t kSpoolBodyFixedBytes = 20;
// Far above any event; a length beyond it is damage, not a record.
inline constexpr size_t kSpoolMaxBodyBytes = size_t{64} << 20;

// CRC-32 (IEEE 802.3, the polynomial of zlib and gzip), continuing from `crc` (0 to start).
uint32_t crc32_ieee(std::string_view data, uint32_t crc = 0);

// Header + body bytes of `r`.
std::string encode_spool_record(const SpoolRecord& r);
size_t spool_record_size(const SpoolRecord& r);

enum class DecodeOutcome {
    kOk,        // *out holds the record, *used its size in bytes
    kTruncated, // a record starts here but the bytes end before it does (a torn write at the end of a file)
    kBad,       // no valid record starts here (wrong magic, impossible lengths, CRC mismatch)
};
DecodeOutcome decode_spool_record(std::string_view bytes, SpoolRecord* out, size_t* used);

}  // namespace itscam::events
