// Live H.264 encoding packaged as fragmented MP4 (CMAF-style: an init segment ftyp+moov, then moof+mdat fragments).
//
//   Frame (BGR24 | NV12, any size) --swscale--> YUV420P at the output size --libx264 (tune zerolatency)--> packets
//     --libavformat mp4 muxer (empty_moov + default_base_moof + frag_custom, custom AVIO)--> init segment + fragments
//
// One encoder is one stream (one camera at one rendition). The caller owns the thread: an encoder is not thread-safe
// and is meant to be driven by one encode thread per stream (StreamHub). The muxer's output goes to memory only; a
// fragment is cut after `frames_per_fragment` frames or `fragment_ms`, and always before a keyframe, so every
// keyframe starts a fragment (a late or lagging viewer can start at any fragment whose `keyframe` is true).
// Timestamps: the caller gives each frame its media time in microseconds (strictly increasing); the fragments carry
// them in a 90 kHz timescale with tfdt = the absolute media time, so several encoders of one camera (renditions)
// share one timeline and a viewer can switch between them (after the new init segment, at a keyframe).
// Built with FFmpeg (ITSCAM_HAVE_FFMPEG); without it create_fmp4_encoder answers kUnsupported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "video/frame.h"

namespace itscam::streaming {

enum class RateControl { kCrf, kCbr };

struct EncoderOptions {
    int width = 0, height = 0;        // output size (even); the input is scaled when it differs
    double fps = 30;                  // nominal rate: x264's rate control and the last sample's duration
    std::string preset = "veryfast";
    std::string tune = "zerolatency"; // "" for none
    std::string profile = "high";     // baseline | main | high
    int gop = 60;                     // frames between keyframes (and the keyframe-starting fragments)
    RateControl rc = RateControl::kCrf;
    double crf = 23;                  // kCrf
    int bitrate_kbps = 4000;          // kCbr: target = maxrate; VBV buffer = vbv_seconds of it
    int max_bitrate_kbps = 0;         // kCrf: optional VBV cap (0: none)
    double vbv_seconds = 1.0;
    int threads = 1;                  // x264 threads (0: x264's choice)
    int frames_per_fragment = 1;      // fragment cut after this many frames ...
    double fragment_ms = 0;           // ... or once the fragment spans this long (0: only frames_per_fragment)
    std::string x264_params;          // extra "key=value:key=value" for libx264 (e.g. "aq-mode=2")
    bool keep_recon = false;          // decode each packet back (bench): recon_luma() after encode()
};

// One region of a frame whose quantizer is shifted (FFmpeg's AVRegionOfInterest; libx264 applies it per macroblock
// when adaptive quantization is on). qoffset in [-1, 1] of the QP range: negative = better quality. When regions
// overlap the FIRST one in the list wins (list the objects before a frame-wide background region).
struct RoiRegion {
    int x = 0, y = 0, w = 0, h = 0;  // in output pixels
    float qoffset = 0;
    bool operator==(const RoiRegion&) const = default;
};

// Per-frame control from the quality controller. Fields left at their defaults change nothing.
struct FrameControl {
    double crf = -1;               // >= 0: CRF from this frame on (kCrf)
    int bitrate_kbps = 0;          // > 0: CBR target / CRF cap from this frame on
    std::vector<RoiRegion> rois;
    std::vector<RoiRegion> key_rois;  // non-empty: the map instead of `rois` when this frame will be a keyframe
    bool force_keyframe = false;   // an IDR now (a viewer joined or switched rendition)
};

// One moof+mdat, complete and immutable once emitted (shared by every viewer of the stream).
struct Fragment {
    std::string data;               // the bytes (moof + mdat)
    uint64_t sequence = 0;          // 1, 2, ... per encoder
    int64_t pts_start_us = 0;       // media time of the first frame
    int64_t pts_end_us = 0;         // media time after the last frame (start of the next, nominally)
    bool keyframe = false;          // starts with an IDR: a viewer can start here
    int frames = 0;
    std::vector<int64_t> capture_us;  // steady-clock µs of each frame's capture (latency accounting)
    int64_t available_us = 0;         // steady-clock µs when the fragment was complete
    double duration_s() const { return static_cast<double>(pts_end_us - pts_start_us) / 1e6; }
};

struct EncoderStats {
    int64_t frames = 0;
    int64_t bytes = 0;              // all fragment bytes so far (init segment excluded)
    int64_t keyframes = 0;
    int64_t key_roi_frames = 0;     // frames encoded with FrameControl::key_rois (predicted keyframes)
    int64_t fragments = 0;
    int last_frame_bytes = 0;       // the last frame's compressed size
    double last_qp = 0;             // the last frame's average QP (libx264's quality stats)
    char last_pict_type = '?';      // I / P / B
    double last_encode_ms = 0;
    double crf = 0;                 // the rate control in force now
    int bitrate_kbps = 0;
};

class StreamEncoder {
public:
    virtual ~StreamEncoder() = default;
    StreamEncoder() = default;
    StreamEncoder(const StreamEncoder&) = delete;
    StreamEncoder& operator=(const StreamEncoder&) = delete;

    // ftyp + moov, valid from creation (SPS/PPS come from the encoder's global header).
    virtual const std::string& init_segment() const = 0;
    // RFC 6381 codec string from the SPS ("avc1.64001f"), for the MSE mime type.
    virtual std::string codec_string() const = 0;
    virtual int width() const = 0;
    virtual int height() const = 0;
    // Encodes one frame (pts_us strictly increasing; capture_us: steady-clock µs of capture). Fragments completed by
    // this frame are appended to `out` (zerolatency: usually the frame's own fragment, right away).
    virtual Status encode(const video::Frame& frame, int64_t pts_us, int64_t capture_us, const FrameControl& ctl,
                          std::vector<Fragment>& out) = 0;
    // Closes the open fragment, if any (end of stream).
    virtual Status flush(std::vector<Fragment>& out) = 0;
    virtual const EncoderStats& stats() const = 0;
    // keep_recon: the last frame's decoded luma (width x height, tightly packed) and the luma that was encoded
    // (the input after colour conversion/scaling), for quality measurement.
    virtual const std::vector<uint8_t>& recon_luma() const = 0;
    virtual const std::vector<uint8_t>& source_luma() const = 0;
};

Result<std::unique_ptr<StreamEncoder>> create_fmp4_encoder(const EncoderOptions& opt);

// "avc1.PPCCLL" from an SPS found in Annex-B or avcC extradata; "avc1.42E01F" (baseline 3.1) when none is found.
std::string h264_codec_string(const uint8_t* extradata, size_t size);

// ISO-BMFF top-level boxes of a byte range: type and size (a box whose size runs past the end is reported with
// truncated=true and ends the walk). For tests and sanity checks of what the muxer wrote.
struct Mp4Box {
    std::string type;
    uint64_t offset = 0, size = 0;
    bool truncated = false;
};
std::vector<Mp4Box> mp4_top_level_boxes(const uint8_t* data, size_t size);
// The base media decode time (tfdt) of the first traf of a moof fragment, or -1.
int64_t mp4_fragment_tfdt(const uint8_t* data, size_t size);

}  // namespace itscam::streaming
