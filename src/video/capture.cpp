#include "video/capture.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <random>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/thread_info.h"
#include "core/redact.h"

namespace itscam::video {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

std::string describe(const StreamInfo& i) {
    return std::to_string(i.width) + "x" + std::to_string(i.height) + " " + i.codec;
}

}  // namespace

const char* capture_state_name(CaptureState s) {
    switch (s) {
        case CaptureState::kStarting:
            return "starting";
        case CaptureState::kStreaming:
            return "streaming";
        case CaptureState::kReconnecting:
            return "reconnecting";
        case CaptureState::kEnded:
            return "ended";
        case CaptureState::kFailed:
            return "failed";
        case CaptureState::kStopped:
            return "stopped";
    }
    return "unknown";
}

const char* capture_event_name(CaptureEvent::Kind k) {
    switch (k) {
        case CaptureEvent::Kind::kConnected:
            return "connected";
        case CaptureEvent::Kind::kDisconnected:
            return "disconnected";
        case CaptureEvent::Kind::kReconnecting:
            return "reconnecting";
        case CaptureEvent::Kind::kFormatChanged:
            return "format_changed";
        case CaptureEvent::Kind::kEnded:
            return "ended";
        case CaptureEvent::Kind::kFailed:
            return "failed";
        case CaptureEvent::Kind::kStall:
            return "stall";
        case CaptureEvent::Kind::kDecoderFallback:
            return "decoder_fallback";
    }
    return "unknown";
}

namespace {
// Raises the calling thread's nice value to `nice` (Linux: per thread, inherited by threads it creates later); never
// lowers it (a process started under `nice` stays at least that nice). Needs no privilege; a failure leaves the
// thread as it was.
void lower_thread_priority(int nice) {
    if (nice <= 0) return;
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    const int cur = getpriority(PRIO_PROCESS, tid);
    if (errno != 0 || cur >= nice) return;
    (void)setpriority(PRIO_PROCESS, tid, std::min(nice, 19));
}
}  // namespace

CaptureLoop::CaptureLoop(std::string url, CaptureOptions opt) : url_(std::move(url)), opt_(std::move(opt)) {}

CaptureLoop::~CaptureLoop() {
    stop();
}

void CaptureLoop::start(FrameCallback on_frame, EventCallback on_event) {
    if (running()) return;
    // A finished run (ended, failed or stopped) may be started again.
    if (thread_.joinable()) thread_.join();
    if (watchdog_.joinable()) watchdog_.join();
    started_ = true;
    on_frame_ = std::move(on_frame);
    on_event_ = std::move(on_event);
    stop_ = false;
    done_ = false;
    {
        std::lock_guard lk(mu_);
        stats_ = CaptureStats{};
    }
    thread_ = std::thread([this] {
        set_thread_name("cap:" + opt_.name);
        lower_thread_priority(opt_.thread_nice);
        run();
    });
    if (opt_.stall_timeout_s > 0 && is_live_url(url_)) watchdog_ = std::thread([this] {
        set_thread_name("watch:" + opt_.name);
        watchdog();
    });
}

void CaptureLoop::interrupt_reader() {
    std::lock_guard lk(mu_);
    if (reader_) reader_->interrupt();
}

void CaptureLoop::request_stop() {
    stop_ = true;
    interrupt_reader();
    cv_.notify_all();
}

void CaptureLoop::stop() {
    request_stop();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    if (watchdog_.joinable() && watchdog_.get_id() != std::this_thread::get_id()) watchdog_.join();
}

void CaptureLoop::wait() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [this] { return done_.load() || !started_; });
}

bool CaptureLoop::running() const {
    return started_ && !done_;
}

CaptureStats CaptureLoop::stats() const {
    std::lock_guard lk(mu_);
    return stats_;
}

bool CaptureLoop::sleep_interruptible(double seconds) {
    std::unique_lock lk(mu_);
    if (seconds > 0) {
        cv_.wait_for(lk, std::chrono::duration<double>(seconds), [this] { return stop_.load(); });
    }
    return !stop_;
}

void CaptureLoop::set_state(CaptureState s) {
    std::lock_guard lk(mu_);
    stats_.state = s;
}

void CaptureLoop::emit(CaptureEvent::Kind kind, std::string message, double retry_in_s) {
    if (!on_event_) return;
    CaptureEvent e{kind, redact(message), retry_in_s};  // events end up in logs and history
    on_event_(e);
}

void CaptureLoop::watchdog() {
    const auto limit_ns = static_cast<int64_t>(opt_.stall_timeout_s * 1e9);
    const auto period = std::chrono::duration<double>(std::clamp(opt_.stall_timeout_s / 4, 0.01, 0.25));
    std::unique_lock lk(mu_);
    while (!stop_ && !done_) {
        cv_.wait_for(lk, period, [this] { return stop_.load() || done_.load(); });
        if (stop_ || done_) break;
        const int64_t since = read_since_ns_.load();
        if (since != 0 && now_ns() - since > limit_ns && reader_) {
            read_since_ns_ = 0;  // fire once per read
            stall_ = true;
            ++stats_.stalls;
            reader_->interrupt();
        }
    }
}

void CaptureLoop::run() {
    const bool live = is_live_url(url_);
    const bool retry = opt_.reconnect && (live || opt_.reconnect_on_eof);
    ReaderOptions ropt = opt_.reader;
    if (!ropt.allocator) ropt.allocator = heap_allocator();
    std::mt19937_64 rng(std::random_device{}());

    int64_t index = 0;
    uint32_t generation = 0;
    bool ever_connected = false;
    bool looping = false;   // the next open is a loop restart of a file
    int failures = 0;       // consecutive failed attempts (reset once frames flow)
    double pts_offset = 0;  // added to the reader's pts to keep them strictly increasing
    double last_pts = 0;    // last pts handed out (after the offset)
    bool have_last = false;
    Clock::time_point last_frame_time;
    double frame_dur = 1.0 / 25;
    // realtime pacing anchor
    bool anchored = false;
    Clock::time_point anchor_time;
    double anchor_pts = 0;
    // max_fps
    bool have_due = false;
    double next_due = 0;
    // format of the last delivered frame
    int last_w = 0, last_h = 0;
    PixelFormat last_fmt = PixelFormat::kBGR24;
    // GPU decoding until it fails once; then the CPU, resuming a file after the last raw pts delivered.
    bool gpu_decode = ropt.decoder != Decoder::kCpu;
    bool resuming = false;
    double resume_after_raw = 0;
    double last_raw = 0;
    auto fall_back_to_cpu = [&](const std::string& why) {
        gpu_decode = false;
        {
            std::lock_guard lk(mu_);
            ++stats_.decoder_fallbacks;
            stats_.decoder = "cpu";
        }
        emit(CaptureEvent::Kind::kDecoderFallback, redact(why) + "; decoding on the CPU from now on");
    };

    CaptureState final_state = CaptureState::kStopped;

    auto fail = [&](const std::string& msg) {
        final_state = CaptureState::kFailed;
        {
            std::lock_guard lk(mu_);
            stats_.last_error = redact(msg);
        }
        emit(CaptureEvent::Kind::kFailed, msg);
    };
    // Backoff before the next attempt; false when we should give up or were stopped.
    auto backoff = [&](const std::string& why) -> bool {
        if (opt_.max_reconnects >= 0 && failures >= opt_.max_reconnects) {
            fail(url_ + ": giving up after " + std::to_string(failures) +
                 " failed reconnect attempt(s); last error: " + why);
            return false;
        }
        double delay = opt_.backoff_initial_s * std::pow(std::max(opt_.backoff_multiplier, 1.0), failures);
        delay = std::min(delay, opt_.backoff_max_s);
        if (opt_.backoff_jitter > 0) {
            std::uniform_real_distribution<double> u(-opt_.backoff_jitter, opt_.backoff_jitter);
            delay *= 1.0 + u(rng);
        }
        delay = std::max(delay, 0.0);
        ++failures;
        set_state(CaptureState::kReconnecting);
        emit(CaptureEvent::Kind::kReconnecting, why, delay);
        return sleep_interruptible(delay);
    };

    while (!stop_) {
        // ---- connect
        Status st;
        {
            ReaderOptions r = ropt;
            if (!gpu_decode) r.decoder = Decoder::kCpu;
            auto made = make_reader(url_, r);
            if (!made.is_ok() && gpu_decode && made.status().code() == StatusCode::kUnavailable) {
                fall_back_to_cpu(made.status().message());  // no NVDEC here (library, driver or build)
                continue;
            }
            if (!made.is_ok()) {
                st = made.status();
            } else {
                std::lock_guard lk(mu_);
                reader_ = std::move(made).value();
                if (stop_) reader_->interrupt();
            }
        }
        if (st.is_ok()) st = reader_->open();
        if (stop_) break;
        if (!st.is_ok() && gpu_decode && reader_ && reader_->decoder_failed()) {
            {
                std::lock_guard lk(mu_);
                reader_.reset();
            }
            fall_back_to_cpu(st.message());
            continue;  // at once, on the CPU: not a source failure
        }
        if (!st.is_ok()) {
            {
                std::lock_guard lk(mu_);
                ++stats_.errors;
                stats_.last_error = redact(st.message());  // shown by the API: never the URL's password
                reader_.reset();
            }
            // A source that never opened and is not live (missing file, not a video) will not get better.
            if (!retry || (!ever_connected && !live)) {
                fail(st.message());
                break;
            }
            if (!backoff(st.message())) break;
            continue;
        }
        const StreamInfo info = reader_->info();
        if (info.fps > 1 && info.fps < 1000) frame_dur = 1.0 / info.fps;
        ++generation;
        {
            std::lock_guard lk(mu_);
            if (ever_connected && !looping && !resuming) ++stats_.reconnects;
            stats_.stream = info;
            stats_.state = CaptureState::kStreaming;
            stats_.decoder = reader_->decoder();
            stats_.skipping_nonref = false;  // a new reader decodes every frame until asked again
        }
        if (!looping) emit(CaptureEvent::Kind::kConnected, describe(info) + " (" + reader_->decoder() + " decode)");
        // First pts of this connection continues after the last one; a file resumed on the CPU decoder keeps its
        // timeline and skips what the GPU decoder already delivered.
        bool need_rebase = have_last && !(resuming && !live);
        const bool skip_delivered = resuming && !live;
        resuming = false;
        stall_ = false;
        looping = false;
        ever_connected = true;

        // ---- read
        int64_t frames_here = 0;
        bool eof = false;
        st = Status::ok();
        // A looping file starts over on the same reader where it can (rewind(): an NVDEC reader keeps its decoder
        // session instead of creating one per pass); otherwise it is reopened below.
        bool skip_applied = false;  // a new reader decodes every frame
        for (int64_t pass_start = 0;; pass_start = frames_here) {
            while (!stop_) {
                if (const bool want = skip_nonref_want_.load(std::memory_order_relaxed); want != skip_applied) {
                    const bool skipping = reader_->skip_nonref(want) && want;
                    skip_applied = want;
                    std::lock_guard lk(mu_);
                    stats_.skipping_nonref = skipping;
                }
                Frame f;
                read_since_ns_ = now_ns();
                Result<bool> r = reader_->read(f);
                read_since_ns_ = 0;
                if (stop_) break;
                if (!r.is_ok()) {
                    st = r.status();
                    if (stall_.exchange(false)) {
                        char secs[32];
                        std::snprintf(secs, sizeof(secs), "%.3g", opt_.stall_timeout_s);
                        st = unavailable(url_ + ": no frame for " + secs + " s (stream stalled)");
                        emit(CaptureEvent::Kind::kStall, st.message());
                    }
                    break;
                }
                if (!*r) {
                    eof = true;
                    break;
                }
                // Timestamps: strictly increasing across loops, reconnects and publisher restarts.
                const double raw = f.pts;
                if (skip_delivered && raw <= resume_after_raw) continue;
                last_raw = raw;
                if (need_rebase) {
                    // Live: let the outage show in the timeline; files: the next loop follows the last frame.
                    double gap = frame_dur;
                    if (live) gap = std::max(gap, std::chrono::duration<double>(Clock::now() - last_frame_time).count());
                    pts_offset = last_pts + gap - raw;
                    need_rebase = false;
                }
                double pts = raw + pts_offset;
                if (have_last && !(pts > last_pts)) {
                    // The stream's clock jumped back (publisher restarted, broken timestamps): continue after the last.
                    pts_offset += last_pts + frame_dur - pts;
                    pts = last_pts + frame_dur;
                } else if (have_last && pts - last_pts > 0 && pts - last_pts < 1.0 && !(info.fps > 1)) {
                    frame_dur = pts - last_pts;
                }
                last_pts = pts;
                last_frame_time = Clock::now();
                have_last = true;
                ++frames_here;
                failures = 0;

                if (frames_here > 1 && (f.width != last_w || f.height != last_h || f.format != last_fmt)) {
                    ++generation;
                    {
                        std::lock_guard lk(mu_);
                        ++stats_.format_changes;
                        stats_.stream.width = f.width;
                        stats_.stream.height = f.height;
                    }
                    emit(CaptureEvent::Kind::kFormatChanged,
                         std::to_string(f.width) + "x" + std::to_string(f.height) + " " + info.codec);
                }
                last_w = f.width;
                last_h = f.height;
                last_fmt = f.format;

                if (opt_.max_fps > 0) {
                    const double interval = 1.0 / opt_.max_fps;
                    if (have_due && pts < next_due - 1e-3) {
                        std::lock_guard lk(mu_);
                        ++stats_.skipped_fps;
                        continue;
                    }
                    next_due = have_due ? next_due + interval : pts + interval;
                    if (next_due < pts) next_due = pts + interval;  // fell far behind: do not burst
                    have_due = true;
                }
                if (opt_.realtime && !live) {
                    const auto now = Clock::now();
                    if (!anchored) {
                        anchored = true;
                        anchor_time = now;
                        anchor_pts = pts;
                    } else {
                        const auto target = anchor_time + std::chrono::duration_cast<Clock::duration>(
                                                              std::chrono::duration<double>(pts - anchor_pts));
                        if (target > now) {
                            if (!sleep_interruptible(std::chrono::duration<double>(target - now).count())) break;
                        } else if (now - target > std::chrono::seconds(1)) {
                            anchor_time = now;  // far behind (slow consumer): re-anchor instead of bursting
                            anchor_pts = pts;
                        }
                    }
                    // The frame "arrives" when it is delivered.
                    f.capture_time = Clock::now();
                    f.wall_time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count();
                }
                f.pts = pts;
                f.index = index++;
                f.generation = generation;
                {
                    std::lock_guard lk(mu_);
                    ++stats_.frames;
                    stats_.decode_ms_total += f.decode_ms;
                }
                if (on_frame_) on_frame_(std::move(f));
            }
            if (!eof || stop_ || live || !opt_.loop || frames_here == pass_start || !reader_->rewind().is_ok()) break;
            eof = false;
        }
        bool decoder_failed = false;
        {
            std::unique_ptr<VideoReader> done_reader;
            {
                std::lock_guard lk(mu_);
                done_reader = std::move(reader_);
            }
            decoder_failed = !eof && done_reader->decoder_failed();
            if (stop_) done_reader->interrupt();
            done_reader.reset();  // closes outside the lock (an RTSP TEARDOWN must not block stats())
        }
        if (stop_) break;

        if (gpu_decode && decoder_failed) {  // decoder_failed implies a read error, not the end
            fall_back_to_cpu(st.message());
            resuming = true;
            resume_after_raw = last_raw;
            continue;
        }
        if (eof) {
            if (!live && opt_.loop && frames_here > 0) {
                looping = true;  // reopen from the start; pts continue after the last frame
                continue;
            }
            if (!retry) {
                final_state = CaptureState::kEnded;
                emit(CaptureEvent::Kind::kEnded, url_ + ": end of stream");
                break;
            }
            st = unavailable(url_ + ": stream ended");
        } else {
            std::lock_guard lk(mu_);
            ++stats_.errors;
            stats_.last_error = redact(st.message());
        }
        emit(CaptureEvent::Kind::kDisconnected, st.message());
        if (!retry) {
            if (!live && opt_.loop && frames_here > 0) {  // damaged tail of a looping file: start over
                looping = true;
                continue;
            }
            fail(st.message());
            break;
        }
        if (!backoff(st.message())) break;
    }

    {
        std::lock_guard lk(mu_);
        reader_.reset();
        stats_.state = stop_ && final_state == CaptureState::kStopped ? CaptureState::kStopped : final_state;
        done_ = true;
    }
    cv_.notify_all();
}

}  // namespace itscam::video
