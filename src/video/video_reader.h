// VideoReader: one connection to one video source, decoded frame by frame (pull). Implementations: FFmpeg (files,
// RTSP, HTTP; when built with FFmpeg) and synthetic/raw frames (always). The decoder sits behind this interface so
// that a GPU decoder (NVDEC) can slot in later.
//
// Thread-safety: read() from one thread; interrupt() may be called from any thread and makes a blocked open() or
// read() return kCancelled promptly.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "core/status.h"
#include "video/decode_gate.h"
#include "video/frame.h"

namespace itscam::video {

// Which decoder a reader uses: FFmpeg on the CPU, NVDEC on the GPU (frames stay in device memory as NV12), or
// NVDEC where it is available and supports the stream (the capture loop falls back to the CPU otherwise).
enum class Decoder { kCpu, kNvdec, kAuto };
const char* decoder_name(Decoder d);
// "auto" | "cpu" | "nvdec" (the config's `decode`); kInvalidArgument otherwise.
Result<Decoder> decoder_from_name(const std::string& name);

struct ReaderOptions {
    PixelFormat format = PixelFormat::kBGR24;
    int decode_threads = 1;          // FFmpeg frame threads for this stream (0: FFmpeg decides)
    std::string rtsp_transport = "tcp";  // "tcp" | "udp"
    double open_timeout_s = 10.0;    // connect/open deadline
    double read_timeout_s = 10.0;    // no packet for this long -> read() fails (stall)
    BufferAllocator allocator;       // empty: heap_allocator()
    // GPU decoders (NVDEC): the CUDA device to decode on and where its frames' device memory comes from (a pool of
    // that device, counted against TOTAL_GPU_MEMORY_GB; empty: the decoder allocates its own).
    int cuda_device = 0;
    BufferAllocator device_allocator;
    Decoder decoder = Decoder::kCpu;  // kNvdec/kAuto: an NVDEC reader where this build has one (see make_reader)
    // CPU decoders: the slots shared with the pipeline's other cameras (video/decode_gate.h); empty: no limit.
    std::shared_ptr<DecodeGate> decode_gate;
};

struct StreamInfo {
    std::string codec;     // "h264", ...
    int width = 0, height = 0;
    double fps = 0;        // nominal (from the container; informational only)
    bool live = false;     // network stream (rtsp/http/udp...), as opposed to a seekable file
};

class VideoReader {
public:
    virtual ~VideoReader() = default;
    virtual Status open() = 0;
    // Decodes the next frame. Returns true with a frame, false at end of stream; an error status on failure.
    // Frame.pts is the stream's own timestamp in seconds (may restart on reopen; CaptureLoop makes it monotonic).
    virtual Result<bool> read(Frame& out) = 0;
    virtual void interrupt() = 0;
    virtual StreamInfo info() const = 0;
    // "cpu" or "nvdec": where this reader decodes.
    virtual const char* decoder() const { return "cpu"; }
    // True when the last open()/read() failure came from the GPU decoder (unsupported codec or size, no decoder
    // session, a decode error), not from the source: the capture loop then decodes the camera on the CPU.
    virtual bool decoder_failed() const { return false; }
    // After read() returned false (the end of a file): starts over from the first frame, keeping what open() set
    // up (a GPU decoder session, which costs far more to create than a file costs to seek). kUnsupported where the
    // reader cannot (live streams, readers without it): the caller reopens instead. Frame.pts restart with the file.
    virtual Status rewind() { return unsupported("this reader does not rewind"); }
    // on: from the next packet, the decoder skips the frames no other frame references (non-reference B- and
    // P-frames), which then never come out of read(); the others decode exactly as before. off: every frame again.
    // For a consumer that would drop most frames anyway (pipeline/decode_thinning.h). false where the reader
    // cannot (it then decodes every frame).
    virtual bool skip_nonref(bool on) { return false; }
};

// "synthetic://1920x1080@30" (moving boxes on a gradient, deterministic) or any URL FFmpeg can open
// (file path, file://, rtsp://, rtsps://, http(s)://, udp://...). Unknown schemes and, without FFmpeg, every
// non-synthetic URL are kUnsupported errors. opt.decoder kNvdec/kAuto gives an NVDEC reader for FFmpeg URLs when this
// build has NVDEC and the driver's libraries load (nvdec_available()); kAuto falls back to FFmpeg otherwise, kNvdec
// is then a kUnavailable error naming why.
Result<std::unique_ptr<VideoReader>> make_reader(const std::string& url, const ReaderOptions& opt);
bool is_live_url(const std::string& url);
// Lower-cased scheme of "scheme://...", or "" for a plain path.
std::string url_scheme(const std::string& url);
// The checks every reader factory makes: a URL, rtsp_transport "tcp" or "udp", decode_threads >= 0.
Status check_reader_options(const std::string& url, const ReaderOptions& opt);
bool ffmpeg_available();
// This build has the NVDEC reader and libcuda/libnvcuvid load; otherwise `why` (if given) says what is missing.
bool nvdec_available(std::string* why = nullptr);
// A host copy (heap memory, same format and layout) of a frame whose pixels are on a CUDA device; kUnsupported in a
// build without NVDEC (where no such frame exists), a device error otherwise.
Result<Frame> download_frame(const Frame& f);

}  // namespace itscam::video
