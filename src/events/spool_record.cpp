#include "events/spool_record.h"

#include <array>

namespace itscam::events {

namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

void put_u32(std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t get_u32(const char* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}
uint64_t get_u64(const char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}

}  // namespace

uint32_t crc32_ieee(std::string_view data, uint32_t crc) {
    crc = ~crc;
    for (unsigned char b : data) crc = kCrcTable[(crc ^ b) & 0xff] ^ (crc >> 8);
    return ~crc;
}

size_t spool_record_size(const SpoolRecord& r) {
    return kSpoolHeaderBytes + kSpoolBodyFixedBytes + r.topic.size() + r.id.size() + r.payload.size();
}

std::string encode_spool_record(const SpoolRecord& r) {
    std::string body;
    body.reserve(kSpoolBodyFixedBytes + r.topic.size() + r.id.size() + r.payload.size());
    put_u64(body, r.seq);
    put_u32(body, static_cast<uint32_t>(r.topic.size()));
    put_u32(body, static_cast<uint32_t>(r.id.size()));
    put_u32(body, static_cast<uint32_t>(r.payload.size()));
    body += r.topic;
    body += r.id;
    body += r.payload;
    std::string out;
    out.reserve(kSpoolHeaderBytes + body.size());
    put_u32(out, kSpoolRecordMagic);
    put_u32(out, static_cast<uint32_t>(body.size()));
    put_u32(out, crc32_ieee(body));
    out += body;
    return out;
}

DecodeOutcome decode_spool_record(std::string_view bytes, SpoolRecord* out, size_t* used) {
    if (bytes.size() < 4) {
        // A torn header: what is there must at least be the start of the magic.
        for (size_t i = 0; i < bytes.size(); ++i)
            if (static_cast<unsigned char>(bytes[i]) != ((kSpoolRecordMagic >> (8 * i)) & 0xff))
                return DecodeOutcome::kBad;
        return DecodeOutcome::kTruncated;
    }
    if (get_u32(bytes.data()) != kSpoolRecordMagic) return DecodeOutcome::kBad;
    if (bytes.size() < kSpoolHeaderBytes) return DecodeOutcome::kTruncated;
    const uint32_t body_len = get_u32(bytes.data() + 4);
    if (body_len < kSpoolBodyFixedBytes || body_len > kSpoolMaxBodyBytes) return DecodeOutcome::kBad;
    if (bytes.size() - kSpoolHeaderBytes < body_len) return DecodeOutcome::kTruncated;
    const std::string_view body = bytes.substr(kSpoolHeaderBytes, body_len);
    if (crc32_ieee(body) != get_u32(bytes.data() + 8)) return DecodeOutcome::kBad;
    const uint64_t topic_len = get_u32(body.data() + 8), id_len = get_u32(body.data() + 12),
                   payload_len = get_u32(body.data() + 16);
    if (kSpoolBodyFixedBytes + topic_len + id_len + payload_len != body_len || topic_len == 0)
        return DecodeOutcome::kBad;
    out->seq = get_u64(body.data());
    size_t at = kSpoolBodyFixedBytes;
    out->topic.assign(body.substr(at, topic_len));
    at += topic_len;
    out->id.assign(body.substr(at, id_len));
    at += id_len;
    out->payload.assign(body.substr(at, payload_len));
    *used = kSpoolHeaderBytes + body_len;
    return DecodeOutcome::kOk;
}

}  // namespace itscam::events
