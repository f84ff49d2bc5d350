#include "streaming/fmp4_writer.h"

#include <utility>

namespace itscam::streaming {

namespace {

void u8(std::string& s, uint32_t v) { s.push_back(static_cast<char>(v & 0xff)); }
void u16(std::string& s, uint32_t v) {
    u8(s, v >> 8);
    u8(s, v);
}
void u32(std::string& s, uint32_t v) {
    u16(s, v >> 16);
    u16(s, v);
}
void u64(std::string& s, uint64_t v) {
    u32(s, static_cast<uint32_t>(v >> 32));
    u32(s, static_cast<uint32_t>(v));
}
void zeros(std::string& s, size_t n) { s.append(n, '\0'); }

// A box around a body: size, type, body.
std::string box(const char* type, const std::string& body) {
    std::string b;
    u32(b, static_cast<uint32_t>(body.size() + 8));
    b.append(type, 4);
    b += body;
    return b;
}

// A full box: version and flags first.
std::string full_box(const char* type, uint8_t version, uint32_t flags, const std::string& body) {
    std::string h;
    u8(h, version);
    u8(h, flags >> 16);
    u16(h, flags & 0xffff);
    return box(type, h + body);
}

void matrix(std::string& s) {
    const uint32_t m[9] = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};
    for (uint32_t v : m) u32(s, v);
}

// NAL units of an Annex-B buffer as [begin, end) ranges (start codes excluded).
std::vector<std::pair<size_t, size_t>> nal_units(const uint8_t* d, size_t n) {
    std::vector<std::pair<size_t, size_t>> out;
    size_t i = 0, start = std::string::npos;
    while (i + 2 < n) {
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
            if (start != std::string::npos) {
                size_t end = i;
                while (end > start && d[end - 1] == 0) --end;  // trailing zero of a 4-byte start code
                out.emplace_back(start, end);
            }
            i += 3;
            start = i;
        } else {
            ++i;
        }
    }
    if (start != std::string::npos && start < n) out.emplace_back(start, n);
    return out;
}

}  // namespace

Fmp4Writer::Fmp4Writer(int width, int height, uint32_t timescale, std::string sps, std::string pps)
    : width_(width), height_(height), timescale_(timescale), sps_(std::move(sps)), pps_(std::move(pps)) {}

std::string Fmp4Writer::init_segment() const {
    std::string ftyp;
    ftyp.append("iso6", 4);
    u32(ftyp, 0);
    for (const char* b : {"iso6", "cmfc", "isom", "avc1", "mp41"}) ftyp.append(b, 4);

    std::string mvhd;
    u32(mvhd, 0);  // creation
    u32(mvhd, 0);  // modification
    u32(mvhd, 1000);
    u32(mvhd, 0);  // duration: unknown (live)
    u32(mvhd, 0x00010000);
    u16(mvhd, 0x0100);
    zeros(mvhd, 10);
    matrix(mvhd);
    zeros(mvhd, 24);
    u32(mvhd, 2);  // next track id

    std::string tkhd;
    u32(tkhd, 0);
    u32(tkhd, 0);
    u32(tkhd, 1);  // track id
    u32(tkhd, 0);
    u32(tkhd, 0);  // duration
    zeros(tkhd, 8);
    u16(tkhd, 0);  // layer
    u16(tkhd, 0);  // alternate group
    u16(tkhd, 0);  // volume
    u16(tkhd, 0);
    matrix(tkhd);
    u32(tkhd, static_cast<uint32_t>(width_) << 16);
    u32(tkhd, static_cast<uint32_t>(height_) << 16);

    std::string mdhd;
    u32(mdhd, 0);
    u32(mdhd, 0);
    u32(mdhd, timescale_);
    u32(mdhd, 0);
    u16(mdhd, 0x55c4);  // "und"
    u16(mdhd, 0);

    std::string hdlr;
    u32(hdlr, 0);
    hdlr.append("vide", 4);
    zeros(hdlr, 12);
    hdlr.append("VideoHandler", 12);
    hdlr.push_back('\0');

    std::string vmhd;
    zeros(vmhd, 8);
    std::string url = full_box("url ", 0, 1, "");
    std::string dref;
    u32(dref, 1);
    dref += url;
    const std::string dinf = box("dinf", full_box("dref", 0, 0, dref));

    std::string avcc;
    u8(avcc, 1);
    u8(avcc, sps_.size() > 1 ? static_cast<uint8_t>(sps_[1]) : 0x42);
    u8(avcc, sps_.size() > 2 ? static_cast<uint8_t>(sps_[2]) : 0xE0);
    u8(avcc, sps_.size() > 3 ? static_cast<uint8_t>(sps_[3]) : 0x1F);
    u8(avcc, 0xFF);  // 4-byte lengths
    u8(avcc, 0xE1);  // one SPS
    u16(avcc, static_cast<uint32_t>(sps_.size()));
    avcc += sps_;
    u8(avcc, 1);  // one PPS
    u16(avcc, static_cast<uint32_t>(pps_.size()));
    avcc += pps_;

    std::string avc1;
    zeros(avc1, 6);
    u16(avc1, 1);  // data reference index
    zeros(avc1, 16);
    u16(avc1, static_cast<uint32_t>(width_));
    u16(avc1, static_cast<uint32_t>(height_));
    u32(avc1, 0x00480000);
    u32(avc1, 0x00480000);
    u32(avc1, 0);
    u16(avc1, 1);  // frame count
    zeros(avc1, 32);
    u16(avc1, 0x0018);
    u16(avc1, 0xFFFF);
    avc1 += box("avcC", avcc);

    std::string stsd;
    u32(stsd, 1);
    stsd += box("avc1", avc1);
    std::string empty_table;
    u32(empty_table, 0);
    std::string stsz;
    u32(stsz, 0);
    u32(stsz, 0);
    const std::string stbl = box("stbl", full_box("stsd", 0, 0, stsd) + full_box("stts", 0, 0, empty_table) +
                                             full_box("stsc", 0, 0, empty_table) + full_box("stsz", 0, 0, stsz) +
                                             full_box("stco", 0, 0, empty_table));
    const std::string minf = box("minf", full_box("vmhd", 0, 1, vmhd) + dinf + stbl);
    const std::string mdia = box("mdia", full_box("mdhd", 0, 0, mdhd) + full_box("hdlr", 0, 0, hdlr) + minf);
    const std::string trak = box("trak", full_box("tkhd", 0, 3, tkhd) + mdia);

    std::string trex;
    u32(trex, 1);  // track id
    u32(trex, 1);  // sample description index
    u32(trex, 0);
    u32(trex, 0);
    u32(trex, 0);
    const std::string mvex = box("mvex", full_box("trex", 0, 0, trex));
    return box("ftyp", ftyp) + box("moov", full_box("mvhd", 0, 0, mvhd) + trak + mvex);
}

std::string Fmp4Writer::fragment(const std::vector<Fmp4Sample>& samples, uint32_t last_duration,
                                 uint32_t sequence) const {
    std::string mfhd;
    u32(mfhd, sequence);
    std::string tfhd;
    u32(tfhd, 1);  // track id
    std::string tfdt;
    u64(tfdt, static_cast<uint64_t>(samples.empty() ? 0 : samples.front().dts));

    // trun: data offset, then per sample duration, size, flags.
    constexpr uint32_t kTrunFlags = 0x000001 | 0x000100 | 0x000200 | 0x000400;
    std::string trun_body;
    u32(trun_body, static_cast<uint32_t>(samples.size()));
    const size_t data_offset_at = trun_body.size();
    u32(trun_body, 0);  // patched below
    size_t mdat_payload = 0;
    for (size_t i = 0; i < samples.size(); ++i) {
        const uint32_t dur = i + 1 < samples.size()
                                 ? static_cast<uint32_t>(samples[i + 1].dts - samples[i].dts)
                                 : last_duration;
        u32(trun_body, dur);
        u32(trun_body, static_cast<uint32_t>(samples[i].data.size()));
        // key: depends on nothing; else depends on others and is not a sync sample.
        u32(trun_body, samples[i].keyframe ? 0x02000000u : 0x01010000u);
        mdat_payload += samples[i].data.size();
    }
    const std::string traf_probe = box("traf", full_box("tfhd", 0, 0x020000, tfhd) + full_box("tfdt", 1, 0, tfdt) +
                                                   full_box("trun", 0, kTrunFlags, trun_body));
    const size_t moof_size = 8 + full_box("mfhd", 0, 0, mfhd).size() + traf_probe.size();
    const uint32_t data_offset = static_cast<uint32_t>(moof_size + 8);
    for (int k = 0; k < 4; ++k)
        trun_body[data_offset_at + k] = static_cast<char>((data_offset >> (24 - 8 * k)) & 0xff);
    const std::string traf = box("traf", full_box("tfhd", 0, 0x020000, tfhd) + full_box("tfdt", 1, 0, tfdt) +
                                             full_box("trun", 0, kTrunFlags, trun_body));
    std::string out = box("moof", full_box("mfhd", 0, 0, mfhd) + traf);
    out.reserve(out.size() + 8 + mdat_payload);
    u32(out, static_cast<uint32_t>(mdat_payload + 8));
    out.append("mdat", 4);
    for (const auto& s : samples) out += s.data;
    return out;
}

std::string Fmp4Writer::annexb_to_avcc(const uint8_t* data, size_t size) {
    std::string out;
    out.reserve(size + 16);
    for (const auto& [b, e] : nal_units(data, size)) {
        if (e <= b) continue;
        const int type = data[b] & 0x1f;
        if (type == 7 || type == 8 || type == 9) continue;  // SPS, PPS (in avcC), AUD
        u32(out, static_cast<uint32_t>(e - b));
        out.append(reinterpret_cast<const char*>(data + b), e - b);
    }
    return out;
}

bool Fmp4Writer::split_sps_pps(const uint8_t* data, size_t size, std::string& sps, std::string& pps) {
    sps.clear();
    pps.clear();
    for (const auto& [b, e] : nal_units(data, size)) {
        if (e <= b) continue;
        const int type = data[b] & 0x1f;
        if (type == 7 && sps.empty()) sps.assign(reinterpret_cast<const char*>(data + b), e - b);
        if (type == 8 && pps.empty()) pps.assign(reinterpret_cast<const char*>(data + b), e - b);
    }
    return !sps.empty() && !pps.empty();
}

}  // namespace itscam::streaming
