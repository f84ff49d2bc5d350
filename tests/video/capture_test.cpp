// CaptureLoop tests: end of file, loop, realtime pacing, max_fps, failures, dead and silent RTSP servers, stop()
// while connecting or backing off.
#include "video/capture.h"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "video_test_util.h"

namespace itscam::video {
namespace {

using Clock = std::chrono::steady_clock;

#define SKIP_WITHOUT_FFMPEG() \
    if (!ffmpeg_available()) GTEST_SKIP() << "built without FFmpeg (ITSCAM_WITH_FFMPEG=OFF)"

// Records what a CaptureLoop delivers.
struct Recorder {
    std::mutex mu;
    std::vector<double> pts;
    std::vector<int64_t> index;
    std::vector<uint32_t> generation;
    std::vector<Clock::time_point> arrival;
    std::vector<std::pair<int, int>> sizes;
    std::vector<CaptureEvent> events;

    CaptureLoop::FrameCallback on_frame() {
        return [this](Frame&& f) {
            std::lock_guard lk(mu);
            pts.push_back(f.pts);
            index.push_back(f.index);
            generation.push_back(f.generation);
            arrival.push_back(Clock::now());
            sizes.emplace_back(f.width, f.height);
        };
    }
    CaptureLoop::EventCallback on_event() {
        return [this](const CaptureEvent& e) {
            std::lock_guard lk(mu);
            events.push_back(e);
        };
    }
    size_t frames() {
        std::lock_guard lk(mu);
        return pts.size();
    }
    int count(CaptureEvent::Kind k) {
        std::lock_guard lk(mu);
        int n = 0;
        for (const auto& e : events) n += e.kind == k;
        return n;
    }
    bool pts_strictly_increasing() {
        std::lock_guard lk(mu);
        for (size_t i = 1; i < pts.size(); ++i) {
            if (!(pts[i] > pts[i - 1])) return false;
        }
        return true;
    }
    bool indices_consecutive() {
        std::lock_guard lk(mu);
        for (size_t i = 0; i < index.size(); ++i) {
            if (index[i] != static_cast<int64_t>(i)) return false;
        }
        return true;
    }
};

TEST(CaptureLoop, FileEndsWithoutLoop) {
    SKIP_WITHOUT_FFMPEG();
    Recorder rec;
    CaptureOptions o;
    o.reader.decode_threads = 2;
    CaptureLoop loop(test::clip_path(1), o);
    loop.start(rec.on_frame(), rec.on_event());
    loop.wait();
    EXPECT_FALSE(loop.running());
    const CaptureStats s = loop.stats();
    EXPECT_EQ(s.state, CaptureState::kEnded);
    EXPECT_EQ(s.frames, test::kClips[1].frames);
    EXPECT_EQ(rec.frames(), static_cast<size_t>(test::kClips[1].frames));
    EXPECT_EQ(s.reconnects, 0);
    EXPECT_EQ(s.errors, 0);
    EXPECT_EQ(s.stream.width, 640);
    EXPECT_EQ(s.stream.codec, "h264");
    EXPECT_GT(s.decode_ms_total, 0);
    EXPECT_TRUE(rec.pts_strictly_increasing());
    EXPECT_TRUE(rec.indices_consecutive());
    EXPECT_EQ(rec.count(CaptureEvent::Kind::kConnected), 1);
    EXPECT_EQ(rec.count(CaptureEvent::Kind::kEnded), 1);
    EXPECT_EQ(rec.generation.front(), 1u);
    EXPECT_EQ(rec.generation.back(), 1u);
    loop.stop();
    EXPECT_EQ(loop.stats().state, CaptureState::kEnded);
}

// skip_nonref asked before the start reaches the reader the loop opens: the 720p clip's 260 non-reference frames
// are not decoded, and the frames delivered keep increasing pts and consecutive indices.
TEST(CaptureLoop, SkipNonrefReachesTheReader) {
    SKIP_WITHOUT_FFMPEG();
    Recorder rec;
    CaptureOptions o;
    o.reader.decode_threads = 2;
    CaptureLoop loop(test::clip_path(0), o);
    loop.skip_nonref(true);
    loop.start(rec.on_frame(), rec.on_event());
    loop.wait();
    const CaptureStats s = loop.stats();
    EXPECT_EQ(s.state, CaptureState::kEnded);
    EXPECT_EQ(s.frames, 491);
    EXPECT_TRUE(s.skipping_nonref);
    EXPECT_TRUE(rec.pts_strictly_increasing());
    EXPECT_TRUE(rec.indices_consecutive());
}

TEST(CaptureLoop, LoopKeepsPtsIncreasing) {
    SKIP_WITHOUT_FFMPEG();
    const test::Clip& clip = test::kClips[2];
    Recorder rec;
    CaptureOptions o;
    o.loop = true;
    o.reader.decode_threads = 2;
    CaptureLoop loop(test::clip_path(2), o);
    loop.start(rec.on_frame(), rec.on_event());
    ASSERT_TRUE(test::wait_for([&] { return rec.frames() > static_cast<size_t>(clip.frames) + 50; }, 40));
    loop.stop();
    EXPECT_EQ(loop.stats().state, CaptureState::kStopped);
    EXPECT_GT(loop.stats().frames, clip.frames);
    EXPECT_TRUE(rec.pts_strictly_increasing());
    EXPECT_TRUE(rec.indices_consecutive());
    std::lock_guard lk(rec.mu);
    // Across the boundary the step is one frame duration, as inside the clip.
    const double step = rec.pts[clip.frames] - rec.pts[clip.frames - 1];
    EXPECT_NEAR(step, 1.0 / clip.fps, 1e-3);
    EXPECT_NEAR(rec.pts[clip.frames + 10] - rec.pts[0], (clip.frames + 10) / clip.fps, 0.05);
    EXPECT_EQ(loop.stats().reconnects, 0);
}

TEST(CaptureLoop, RealtimePacesSyntheticSource) {
    Recorder rec;
    CaptureOptions o;
    o.realtime = true;
    CaptureLoop loop("synthetic://160x120@30?frames=15", o);
    const auto t0 = Clock::now();
    loop.start(rec.on_frame(), rec.on_event());
    loop.wait();
    const double elapsed = test::seconds_since(t0);
    EXPECT_EQ(loop.stats().state, CaptureState::kEnded);
    ASSERT_EQ(rec.frames(), 15u);
    std::lock_guard lk(rec.mu);
    const double span = std::chrono::duration<double>(rec.arrival.back() - rec.arrival.front()).count();
    std::printf("[ pacing  ] 15 frames at 30 fps: first->last %.3f s, total %.3f s\n", span, elapsed);
    EXPECT_GE(span, 0.3);  // 14 frame intervals = 0.467 s when paced
    EXPECT_LT(elapsed, 5.0);
}

TEST(CaptureLoop, UnpacedSyntheticIsFast) {
    Recorder rec;
    CaptureLoop loop("synthetic://64x48@30?frames=60", {});
    const auto t0 = Clock::now();
    loop.start(rec.on_frame());
    loop.wait();
    EXPECT_EQ(rec.frames(), 60u);
    EXPECT_LT(test::seconds_since(t0), 1.0);  // 2 s of video, not paced
}

// The capture thread runs at the nice value asked for (the pipeline lowers it so that inference wins under CPU
// overload); the calling thread keeps its own.
TEST(CaptureLoop, ThreadNiceAppliesToTheCaptureThreadOnly) {
    const int before = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    for (int want : {0, 7}) {
        CaptureOptions o;
        o.thread_nice = want;
        std::atomic<int> seen{-100};
        CaptureLoop loop("synthetic://64x48@30?frames=3", o);
        loop.start([&](Frame&&) { seen = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))); });
        loop.wait();
        EXPECT_EQ(seen.load(), std::max(before, want)) << "thread_nice " << want;
    }
    EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))), before);
}

TEST(CaptureLoop, MaxFpsDropsFrames) {
    Recorder rec;
    CaptureOptions o;
    o.max_fps = 10;
    CaptureLoop loop("synthetic://64x48@50?frames=100", o);  // 2 s of video
    loop.start(rec.on_frame());
    loop.wait();
    const CaptureStats s = loop.stats();
    EXPECT_EQ(s.frames + s.skipped_fps, 100);
    EXPECT_NEAR(static_cast<double>(s.frames), 20, 1);
    std::lock_guard lk(rec.mu);
    for (size_t i = 1; i < rec.pts.size(); ++i) EXPECT_GE(rec.pts[i] - rec.pts[i - 1], 0.099);
}

TEST(CaptureLoop, SyntheticLoopAndReconnectOnEof) {
    Recorder rec;
    CaptureOptions o;
    o.reconnect_on_eof = true;
    o.backoff_initial_s = 0.01;
    o.backoff_jitter = 0;
    o.max_reconnects = 100;
    CaptureLoop loop("synthetic://32x32@10?frames=5", o);
    loop.start(rec.on_frame(), rec.on_event());
    ASSERT_TRUE(test::wait_for([&] { return loop.stats().reconnects >= 3; }, 10));
    loop.stop();
    EXPECT_TRUE(rec.pts_strictly_increasing());
    EXPECT_TRUE(rec.indices_consecutive());
    std::lock_guard lk(rec.mu);
    ASSERT_GE(rec.generation.size(), 16u);
    EXPECT_EQ(rec.generation[0], 1u);
    EXPECT_EQ(rec.generation[5], 2u);  // a new generation on every (re)connect
    EXPECT_NEAR(rec.pts[5] - rec.pts[4], 0.1, 1e-9);
}

TEST(CaptureLoop, FormatChangeBumpsGeneration) {
    SKIP_WITHOUT_FFMPEG();
    test::TempDir dir;
    const std::string clip = test::make_resolution_change_clip(dir);
    if (clip.empty()) GTEST_SKIP() << "the ffmpeg CLI (Debian package ffmpeg) is needed to make the test clip";
    Recorder rec;
    CaptureLoop loop(clip, {});
    loop.start(rec.on_frame(), rec.on_event());
    loop.wait();
    EXPECT_EQ(loop.stats().state, CaptureState::kEnded);
    EXPECT_EQ(loop.stats().format_changes, 1);
    EXPECT_EQ(rec.count(CaptureEvent::Kind::kFormatChanged), 1);
    EXPECT_TRUE(rec.pts_strictly_increasing());  // the second segment's clock restarts at 0
    std::lock_guard lk(rec.mu);
    ASSERT_GE(rec.sizes.size(), 36u);
    EXPECT_EQ(rec.sizes.front(), std::make_pair(160, 120));
    EXPECT_EQ(rec.sizes.back(), std::make_pair(96, 64));
    EXPECT_EQ(rec.generation.front(), 1u);
    EXPECT_EQ(rec.generation.back(), 2u);
    EXPECT_EQ(loop.stats().stream.width, 96);
}

TEST(CaptureLoop, MissingFileFailsOnce) {
    SKIP_WITHOUT_FFMPEG();
    test::TempDir dir;
    Recorder rec;
    CaptureLoop loop(dir.file("missing.mp4"), {});
    const auto t0 = Clock::now();
    loop.start(rec.on_frame(), rec.on_event());
    loop.wait();
    EXPECT_LT(test::seconds_since(t0), 2.0);
    const CaptureStats s = loop.stats();
    EXPECT_EQ(s.state, CaptureState::kFailed);
    EXPECT_EQ(s.errors, 1);
    EXPECT_EQ(s.frames, 0);
    EXPECT_NE(s.last_error.find("missing.mp4"), std::string::npos) << s.last_error;
    EXPECT_EQ(rec.count(CaptureEvent::Kind::kFailed), 1);
    EXPECT_EQ(rec.count(CaptureEvent::Kind::kReconnecting), 0);
}

TEST(CaptureLoop, NotAVideoFailsOnce) {
    SKIP_WITHOUT_FFMPEG();
    test::TempDir dir;
    ASSERT_TRUE(test::write_file(dir.file("readme.mp4"), std::string(5000, 'x')));
    CaptureOptions o;
    o.loop = true;
    CaptureLoop loop(dir.file("readme.mp4"), o);
    loop.start([](Frame&&) {});
    loop.wait();
    EXPECT_EQ(loop.stats().state, CaptureState::kFailed);
    EXPECT_EQ(loop.stats().errors, 1);
}

TEST(CaptureLoop, MalformedSyntheticFails) {
    Recorder rec;
    CaptureLoop loop("synthetic://wide@30", {});
    loop.start(rec.on_frame(), rec.on_event());
    loop.wait();
    EXPECT_EQ(loop.stats().state, CaptureState::kFailed);
    EXPECT_NE(loop.stats().last_error.find("synthetic://wide@30"), std::string::npos);
}

TEST(CaptureLoop, StopIsIdempotentAndDestructorStops) {
    auto loop = std::make_unique<CaptureLoop>("synthetic://64x48@30", CaptureOptions{});
    std::atomic<int> n{0};
    loop->start([&](Frame&&) { ++n; });
    ASSERT_TRUE(test::wait_for([&] { return n > 10; }, 5));
    EXPECT_TRUE(loop->running());
    loop->stop();
    loop->stop();
    EXPECT_FALSE(loop->running());
    EXPECT_EQ(loop->stats().state, CaptureState::kStopped);
    // A finished loop can run again.
    CaptureLoop again("synthetic://16x16@30?frames=5", {});
    for (int run = 0; run < 2; ++run) {
        std::atomic<int> got{0};
        again.start([&](Frame&&) { ++got; });
        again.wait();
        EXPECT_EQ(got, 5);
        EXPECT_EQ(again.stats().state, CaptureState::kEnded);
    }
    auto loop2 = std::make_unique<CaptureLoop>("synthetic://64x48@30", CaptureOptions{});
    loop2->start([](Frame&&) {});
    loop2.reset();  // must not hang or crash
}

// ---------------------------------------------------------------- dead and silent servers

TEST(DeadRtsp, OpenFailsQuicklyWithClearMessage) {
    SKIP_WITHOUT_FFMPEG();
    const int port = test::free_port();
    ASSERT_GT(port, 0);
    const std::string url = "rtsp://127.0.0.1:" + std::to_string(port) + "/cam";
    ReaderOptions o;
    o.open_timeout_s = 2;
    auto r = make_reader(url, o);
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE((*r)->info().live || true);
    const auto t0 = Clock::now();
    const Status st = (*r)->open();
    const double dt = test::seconds_since(t0);
    ASSERT_FALSE(st.is_ok());
    std::printf("[ dead    ] %s in %.3f s\n", st.to_string().c_str(), dt);
    EXPECT_LT(dt, 2.5);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find(url), std::string::npos);
    EXPECT_NE(st.message().find("connection refused"), std::string::npos) << st.message();
}

TEST(DeadRtsp, CaptureLoopRetriesWithBackoffAndStopsPromptly) {
    SKIP_WITHOUT_FFMPEG();
    const std::string url = "rtsp://127.0.0.1:" + std::to_string(test::free_port()) + "/cam";
    Recorder rec;
    CaptureOptions o;
    o.reader.open_timeout_s = 2;
    o.backoff_initial_s = 0.05;
    o.backoff_max_s = 0.4;
    o.backoff_multiplier = 2;
    CaptureLoop loop(url, o);
    loop.start(rec.on_frame(), rec.on_event());
    ASSERT_TRUE(test::wait_for([&] { return rec.count(CaptureEvent::Kind::kReconnecting) >= 4; }, 10));
    EXPECT_TRUE(loop.running());
    const CaptureStats s = loop.stats();
    EXPECT_GE(s.errors, 4);
    EXPECT_EQ(s.frames, 0);
    EXPECT_EQ(s.reconnects, 0);
    EXPECT_NE(s.last_error.find("connection refused"), std::string::npos) << s.last_error;
    {
        // Delays grow (exponential backoff with +-20% jitter) and stay under backoff_max_s (+ jitter).
        std::lock_guard lk(rec.mu);
        std::vector<double> delays;
        for (const auto& e : rec.events) {
            if (e.kind == CaptureEvent::Kind::kReconnecting) delays.push_back(e.retry_in_s);
        }
        ASSERT_GE(delays.size(), 4u);
        EXPECT_NEAR(delays[0], 0.05, 0.0101);
        EXPECT_NEAR(delays[2], 0.2, 0.0401);
        for (double d : delays) EXPECT_LE(d, 0.4 * 1.2 + 1e-9);
    }
    const auto t0 = Clock::now();
    loop.stop();
    const double dt = test::seconds_since(t0);
    std::printf("[ dead    ] stop() after %lld attempts took %.3f s\n", static_cast<long long>(s.errors), dt);
    EXPECT_LT(dt, 1.0);
    EXPECT_EQ(loop.stats().state, CaptureState::kStopped);
}

TEST(DeadRtsp, MaxReconnectsGivesUp) {
    SKIP_WITHOUT_FFMPEG();
    const std::string url = "rtsp://127.0.0.1:" + std::to_string(test::free_port()) + "/cam";
    Recorder rec;
    CaptureOptions o;
    o.backoff_initial_s = 0.01;
    o.max_reconnects = 2;
    CaptureLoop loop(url, o);
    loop.start(rec.on_frame(), rec.on_event());
    loop.wait();
    EXPECT_EQ(loop.stats().state, CaptureState::kFailed);
    EXPECT_EQ(loop.stats().errors, 3);  // first attempt + 2 retries
    EXPECT_EQ(rec.count(CaptureEvent::Kind::kFailed), 1);
}

TEST(DeadRtsp, PasswordNeverInErrorsOrEvents) {
    SKIP_WITHOUT_FFMPEG();
    const std::string shown = "rtsp://admin:***@127.0.0.1:" + std::to_string(test::free_port()) + "/cam";
    const std::string url = "rtsp://admin:PlantedCapturePw@" + shown.substr(std::string("rtsp://admin:***@").size());
    Recorder rec;
    CaptureOptions o;
    o.backoff_initial_s = 0.01;
    o.max_reconnects = 2;
    CaptureLoop loop(url, o);
    loop.start(rec.on_frame(), rec.on_event());
    loop.wait();
    // The loop opened the real URL (connection refused at its port); what it shows has the password masked.
    const CaptureStats s = loop.stats();
    EXPECT_EQ(s.last_error.find("PlantedCapturePw"), std::string::npos) << s.last_error;
    EXPECT_NE(s.last_error.find(shown + ": connection refused"), std::string::npos) << s.last_error;
    std::lock_guard lk(rec.mu);
    ASSERT_GE(rec.events.size(), 3u);
    for (const auto& e : rec.events) {
        EXPECT_EQ(e.message.find("PlantedCapturePw"), std::string::npos) << e.message;
        EXPECT_NE(e.message.find(shown), std::string::npos) << e.message;
    }
}

TEST(DeadRtsp, StopDuringLongBackoff) {
    SKIP_WITHOUT_FFMPEG();
    const std::string url = "rtsp://127.0.0.1:" + std::to_string(test::free_port()) + "/cam";
    Recorder rec;
    CaptureOptions o;
    o.backoff_initial_s = 30;
    CaptureLoop loop(url, o);
    loop.start(rec.on_frame(), rec.on_event());
    ASSERT_TRUE(test::wait_for([&] { return rec.count(CaptureEvent::Kind::kReconnecting) >= 1; }, 5));
    const auto t0 = Clock::now();
    loop.stop();
    EXPECT_LT(test::seconds_since(t0), 1.0);
}

// A TCP server that accepts connections (the kernel does, via the backlog) but never answers: open() blocks.
class SilentServer {
  public:
    SilentServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(a);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && ::listen(fd_, 16) == 0 &&
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
            port_ = ntohs(a.sin_port);
    }
    ~SilentServer() { ::close(fd_); }
    int port() const { return port_; }

  private:
    int fd_ = -1;
    int port_ = -1;
};

TEST(SilentRtsp, OpenTimesOut) {
    SKIP_WITHOUT_FFMPEG();
    SilentServer srv;
    ASSERT_GT(srv.port(), 0);
    const std::string url = "rtsp://127.0.0.1:" + std::to_string(srv.port()) + "/cam";
    ReaderOptions o;
    o.open_timeout_s = 0.5;
    auto r = make_reader(url, o);
    ASSERT_TRUE(r.is_ok());
    const auto t0 = Clock::now();
    const Status st = (*r)->open();
    const double dt = test::seconds_since(t0);
    std::printf("[ silent  ] %s in %.3f s\n", st.to_string().c_str(), dt);
    ASSERT_FALSE(st.is_ok());
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find("timed out"), std::string::npos) << st.message();
    EXPECT_GE(dt, 0.4);
    EXPECT_LT(dt, 2.0);
}

TEST(SilentRtsp, InterruptCancelsBlockedOpen) {
    SKIP_WITHOUT_FFMPEG();
    SilentServer srv;
    const std::string url = "rtsp://127.0.0.1:" + std::to_string(srv.port()) + "/cam";
    ReaderOptions o;
    o.open_timeout_s = 30;
    o.read_timeout_s = 30;
    auto r = make_reader(url, o);
    ASSERT_TRUE(r.is_ok());
    VideoReader* reader = r->get();
    std::thread t([reader] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        reader->interrupt();
    });
    const auto t0 = Clock::now();
    const Status st = reader->open();
    const double dt = test::seconds_since(t0);
    t.join();
    EXPECT_EQ(st.code(), StatusCode::kCancelled) << st.to_string();
    EXPECT_LT(dt, 1.5);
}

TEST(SilentRtsp, StopWhileConnecting) {
    SKIP_WITHOUT_FFMPEG();
    SilentServer srv;
    CaptureOptions o;
    o.reader.open_timeout_s = 30;
    o.reader.read_timeout_s = 30;
    CaptureLoop loop("rtsp://127.0.0.1:" + std::to_string(srv.port()) + "/cam", o);
    loop.start([](Frame&&) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(loop.stats().state, CaptureState::kStarting);
    const auto t0 = Clock::now();
    loop.stop();
    EXPECT_LT(test::seconds_since(t0), 1.0);
    EXPECT_EQ(loop.stats().state, CaptureState::kStopped);
}

}  // namespace
}  // namespace itscam::video

namespace itscam::video {
namespace {

// decode: nvdec and auto. Where NVDEC works, the frames are NV12 pictures in device memory; where it does not (this
// build or machine), `nvdec` falls back to the CPU decoder once, with an event and a counted fallback, and `auto`
// quietly decodes on the CPU. Either way every frame of the file arrives, in order.
TEST(CaptureLoop, GpuDecoderOrItsCpuFallbackDeliversEveryFrame) {
    SKIP_WITHOUT_FFMPEG();
    const bool have_nvdec = nvdec_available();
    for (Decoder d : {Decoder::kNvdec, Decoder::kAuto}) {
        Recorder rec;
        std::atomic<int> on_device{0}, nv12{0};
        CaptureOptions o;
        o.reader.decoder = d;
        CaptureLoop loop(test::clip_path(2), o);
        auto record = rec.on_frame();
        loop.start(
            [&](Frame&& f) {
                on_device += f.on_device();
                nv12 += f.format == PixelFormat::kNV12;
                record(std::move(f));
            },
            rec.on_event());
        loop.wait();
        const CaptureStats s = loop.stats();
        EXPECT_EQ(s.state, CaptureState::kEnded) << decoder_name(d);
        EXPECT_EQ(s.frames, test::kClips[2].frames) << decoder_name(d);
        EXPECT_TRUE(rec.pts_strictly_increasing());
        EXPECT_TRUE(rec.indices_consecutive());
        if (have_nvdec) {
            EXPECT_EQ(s.decoder, "nvdec");
            EXPECT_EQ(s.decoder_fallbacks, 0);
            EXPECT_EQ(on_device.load(), test::kClips[2].frames);
            EXPECT_EQ(nv12.load(), test::kClips[2].frames);
        } else {
            EXPECT_EQ(s.decoder, "cpu");
            EXPECT_EQ(on_device.load(), 0);
            const int fallbacks = d == Decoder::kNvdec ? 1 : 0;
            EXPECT_EQ(s.decoder_fallbacks, fallbacks) << decoder_name(d);
            EXPECT_EQ(rec.count(CaptureEvent::Kind::kDecoderFallback), fallbacks) << decoder_name(d);
            EXPECT_EQ(s.errors, 0);
            EXPECT_EQ(s.reconnects, 0);
        }
    }
}

}  // namespace
}  // namespace itscam::video
