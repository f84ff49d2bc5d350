// The FFmpeg-free parts of encoder.h: codec strings and the ISO-BMFF box walk (the encoder itself is
// ffmpeg_encoder.cpp).
#include "streaming/encoder.h"

#include <cstdio>

namespace itscam::streaming {

namespace {

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

uint64_t be64(const uint8_t* p) { return (uint64_t(be32(p)) << 32) | be32(p + 4); }

std::string format_codec(uint8_t profile, uint8_t compat, uint8_t level) {
    char b[32];
    std::snprintf(b, sizeof b, "avc1.%02X%02X%02X", profile, compat, level);
    return b;
}

}  // namespace

std::string h264_codec_string(const uint8_t* d, size_t n) {
    if (d != nullptr && n >= 4) {
        // avcC: configurationVersion 1, then profile, compatibility, level.
        if (d[0] == 1) return format_codec(d[1], d[2], d[3]);
        // Annex B: the first SPS NAL (type 7) after a start code.
        for (size_t i = 0; i + 3 < n; ++i) {
            if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
                const size_t h = i + 3;
                if (h + 3 < n && (d[h] & 0x1f) == 7) return format_codec(d[h + 1], d[h + 2], d[h + 3]);
            }
        }
    }
    return "avc1.42E01F";
}

std::vector<Mp4Box> mp4_top_level_boxes(const uint8_t* data, size_t size) {
    std::vector<Mp4Box> boxes;
    uint64_t off = 0;
    while (off + 8 <= size) {
        Mp4Box b;
        b.offset = off;
        uint64_t len = be32(data + off);
        b.type.assign(reinterpret_cast<const char*>(data + off + 4), 4);
        uint64_t header = 8;
        if (len == 1) {
            if (off + 16 > size) {
                b.truncated = true;
                boxes.push_back(b);
                break;
            }
            len = be64(data + off + 8);
            header = 16;
        } else if (len == 0) {
            len = size - off;  // to the end
        }
        if (len < header) {
            b.size = len;
            b.truncated = true;
            boxes.push_back(b);
            break;
        }
        b.size = len;
        if (off + len > size) {
            b.truncated = true;
            boxes.push_back(b);
            break;
        }
        boxes.push_back(b);
        off += len;
    }
    return boxes;
}

int64_t mp4_fragment_tfdt(const uint8_t* data, size_t size) {
    // moof > traf > tfdt: walk children of the first moof and of its first traf.
    for (const Mp4Box& m : mp4_top_level_boxes(data, size)) {
        if (m.type != "moof" || m.truncated) continue;
        const uint8_t* mp = data + m.offset + 8;
        for (const Mp4Box& t : mp4_top_level_boxes(mp, m.size - 8)) {
            if (t.type != "traf" || t.truncated) continue;
            const uint8_t* tp = mp + t.offset + 8;
            for (const Mp4Box& x : mp4_top_level_boxes(tp, t.size - 8)) {
                if (x.type != "tfdt" || x.truncated || x.size < 16) continue;
                const uint8_t* p = tp + x.offset + 8;
                const uint8_t version = p[0];
                if (version == 1 && x.size >= 20) return static_cast<int64_t>(be64(p + 4));
                return be32(p + 4);
            }
        }
        return -1;
    }
    return -1;
}

#ifndef ITSCAM_HAVE_FFMPEG
Result<std::unique_ptr<StreamEncoder>> create_fmp4_encoder(const EncoderOptions&) {
    return unsupported("H.264/fMP4 encoding needs FFmpeg (built with ITSCAM_WITH_FFMPEG=OFF)");
}
#endif

}  // namespace itscam::streaming
