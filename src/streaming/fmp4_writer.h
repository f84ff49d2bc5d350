// A minimal fragmented-MP4 (CMAF-style) writer for one H.264 video track. No FFmpeg: pure byte layout.
//
//   init segment:  ftyp (iso6, cmfc, avc1) + moov (mvhd, trak{tkhd, mdia{mdhd, hdlr, minf{vmhd, dinf, stbl{stsd{avc1
//                  {avcC}}, empty stts/stsc/stsz/stco}}}}, mvex{trex})
//   fragment:      moof (mfhd, traf{tfhd default-base-is-moof, tfdt v1, trun with per-sample duration/size/flags})
//                  + mdat (samples as 4-byte length-prefixed NAL units)
//
// Why not libavformat's mp4 muxer: with frag_custom it derives each fragment's tfdt from the previous fragment's
// nominal sample durations (and rejects a timestamp before that nominal end), so live capture times that jitter or
// skip frames either drift the timeline or trip its continuity check. Here tfdt is always the fragment's first
// frame's own timestamp, exactly, and sample durations are the real gaps (the last one nominal).
// Not thread-safe; cheap to construct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace itscam::streaming {

struct Fmp4Sample {
    int64_t dts = 0;       // in the timescale (no B-frames: pts == dts)
    bool keyframe = false;
    std::string data;      // AVCC: 4-byte big-endian length + NAL, repeated
};

class Fmp4Writer {
public:
    // sps/pps: raw NAL units (no start code). timescale: ticks per second (90000).
    Fmp4Writer(int width, int height, uint32_t timescale, std::string sps, std::string pps);

    std::string init_segment() const;
    // One moof+mdat for the samples (non-empty, dts increasing). last_duration: the last sample's duration (the
    // others get the gap to the next sample). sequence: mfhd sequence number (1, 2, ...).
    std::string fragment(const std::vector<Fmp4Sample>& samples, uint32_t last_duration, uint32_t sequence) const;

    // Annex-B (start codes) to AVCC (length prefixes), dropping SPS/PPS/AUD NAL units (they live in avcC).
    static std::string annexb_to_avcc(const uint8_t* data, size_t size);
    // Splits Annex-B extradata into its first SPS and PPS (raw NAL units); false when either is missing.
    static bool split_sps_pps(const uint8_t* data, size_t size, std::string& sps, std::string& pps);

private:
    int width_, height_;
    uint32_t timescale_;
    std::string sps_, pps_;
};

}  // namespace itscam::streaming
