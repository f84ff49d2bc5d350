// CaptureLoop: runs one camera's VideoReader on its own thread and delivers frames to a callback.
// - Files: optional loop (restarts at the end, pts keeps increasing) and realtime pacing (frames are delivered at
//   the stream's own rate instead of as fast as they decode).
// - Live sources (and files when reconnect_on_eof): on error or end of stream, reconnect with exponential backoff
//   and jitter; a stall watchdog treats "no frame for stall_timeout_s" as an error and reconnects.
// - A change of resolution or codec mid-stream is delivered as frames of the new size with a new generation.
// - Failures stay inside this camera: the callback never sees an error, only frames and events.
// - Frame.generation starts at 1 on the first connect and increments on every reconnect, every loop restart of a
//   file and every mid-stream format change (kFormatChanged). Frame.index and Frame.pts continue across all of them.
// - A source that fails its very first open and is not live (missing file, not a video) ends in kFailed at once.
// - Callbacks (frames and events) run on the capture thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "video/video_reader.h"

namespace itscam::video {

enum class CaptureState { kStarting, kStreaming, kReconnecting, kEnded, kFailed, kStopped };
const char* capture_state_name(CaptureState s);

struct CaptureOptions {
    ReaderOptions reader;
    bool loop = false;            // files: restart at end of file
    bool realtime = false;        // files/synthetic: pace delivery at the stream's own pts (live sources pace
                                  // themselves)
    double max_fps = 0;           // >0: drop frames to at most this rate (before they are delivered)
    bool reconnect = true;        // live sources (is_live_url): reconnect on error/EOS
    bool reconnect_on_eof = false;  // files/synthetic too (with `reconnect`): reopen with backoff on error/EOS
    double backoff_initial_s = 0.5;
    double backoff_max_s = 30.0;
    double backoff_multiplier = 2.0;
    double backoff_jitter = 0.2;  // +-20% random jitter on each delay
    int max_reconnects = -1;      // consecutive failed reconnect attempts before kFailed; -1: forever
    double stall_timeout_s = 10.0;  // no frame for this long -> reconnect (live sources); <= 0: off
    // The capture thread's nice value (0..19, Linux), set when it starts, so inherited by the decoder's own threads
    // (FFmpeg frame threads) created after it: under CPU overload the scheduler then favours the threads at the
    // default priority (inference workers, the HTTP API) over decoding more frames than can be served. 0: as the
    // process; never lowers a nicer process's value. Does nothing while the CPU has idle time.
    int thread_nice = 0;
    // Names the capture thread "cap:<name>" (and its watchdog "watch:<name>"); threads the decoder starts inherit it.
    std::string name;
};

struct CaptureEvent {
    // kDecoderFallback: the GPU decoder failed (or does not support the stream); the camera decodes on the CPU from
    // now on (a file resumes after the last frame delivered).
    enum class Kind { kConnected, kDisconnected, kReconnecting, kFormatChanged, kEnded, kFailed, kStall,
                      kDecoderFallback };
    Kind kind;
    std::string message;  // error text or "1280x720 h264"
    double retry_in_s = 0;  // kReconnecting: the backoff delay
};
const char* capture_event_name(CaptureEvent::Kind k);

struct CaptureStats {
    int64_t frames = 0;          // delivered to the callback
    int64_t skipped_fps = 0;     // dropped by max_fps
    int64_t reconnects = 0;      // successful re-opens after the first open
    int64_t errors = 0;          // open/read failures
    int64_t stalls = 0;          // watchdog firings
    int64_t format_changes = 0;
    double decode_ms_total = 0;
    std::string decoder = "cpu";     // where the current connection decodes: cpu | nvdec
    int64_t decoder_fallbacks = 0;   // GPU decoder failures that moved the camera to the CPU decoder
    bool skipping_nonref = false;    // the decoder skips non-reference frames now (CaptureLoop::skip_nonref)
    std::string last_error;
    CaptureState state = CaptureState::kStarting;
    StreamInfo stream;
};

class CaptureLoop {
public:
    using FrameCallback = std::function<void(Frame&&)>;
    using EventCallback = std::function<void(const CaptureEvent&)>;

    CaptureLoop(std::string url, CaptureOptions opt);
    ~CaptureLoop();  // stops
    CaptureLoop(const CaptureLoop&) = delete;
    CaptureLoop& operator=(const CaptureLoop&) = delete;

    void start(FrameCallback on_frame, EventCallback on_event = {});
    // Stops promptly (interrupts a blocked open/read and any backoff sleep) and joins the thread.
    void stop();
    // The first half of stop(), without the join: the loop ends at its next check. Stopping many loops, request
    // every stop first and then join each (stop()): a loop that is busy decoding on a starved CPU takes a while to
    // notice, and joined one at a time those waits add up (320 cameras took minutes).
    void request_stop();
    // Blocks until the loop ends on its own (end of a non-looping file, max_reconnects exhausted) or is stopped.
    void wait();
    bool running() const;
    CaptureStats stats() const;
    const std::string& url() const { return url_; }
    // Asks the decoder to skip non-reference frames (VideoReader::skip_nonref), or to decode every frame again;
    // from any thread, applied by the capture thread before its next read (and to every reader it opens after).
    void skip_nonref(bool on) { skip_nonref_want_.store(on, std::memory_order_relaxed); }

private:
    void run();
    bool sleep_interruptible(double seconds);  // false when stopped
    void watchdog();
    void emit(CaptureEvent::Kind kind, std::string message, double retry_in_s = 0);
    void set_state(CaptureState s);
    void interrupt_reader();

    std::string url_;
    CaptureOptions opt_;
    FrameCallback on_frame_;
    EventCallback on_event_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> done_{false};
    mutable std::mutex mu_;
    std::condition_variable cv_;
    CaptureStats stats_;
    std::unique_ptr<VideoReader> reader_;  // guarded by mu_ for interrupt()
    std::thread watchdog_;
    std::atomic<int64_t> read_since_ns_{0};  // steady-clock ns when the current read() began; 0: not reading
    std::atomic<bool> stall_{false};         // the watchdog interrupted the current read
    std::atomic<bool> skip_nonref_want_{false};
    bool started_ = false;
};

}  // namespace itscam::video
