// NVDEC reader: against the FFmpeg reader on the shared clips (same frames, same pts, byte-identical NV12), the
// 1088 -> 1080 crop, truncated files, codecs it refuses, interrupt(), and the errors without a driver. The GPU
// tests skip, saying why, where the driver cannot be loaded (CI, machines without an NVIDIA GPU).
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "video/nvdec/nvdec_driver.h"
#include "video/nvdec/nvdec_reader.h"
#include "video/nvdec/nvdec_sessions.h"
#include "video/video_reader.h"
#include "video_test_util.h"

namespace itscam::video {
namespace {

using test::TempDir;

#define SKIP_WITHOUT_NVDEC()                                                      \
    do {                                                                          \
        const Status nv_ = nvdec_load_status();                                   \
        if (!nv_.is_ok()) GTEST_SKIP() << "no NVDEC here: " << nv_.to_string(); \
    } while (0)

// Encodes a clip with the ffmpeg CLI; "" when the CLI (or the encoder) is missing. On a machine without the CLI (the
// GPU machine), $ITSCAM_TEST_CLIPS may hold the same clips made elsewhere with these arguments, under `name`.
std::string encode_clip(const TempDir& dir, const std::string& name, const std::vector<std::string>& args) {
    if (const char* premade = std::getenv("ITSCAM_TEST_CLIPS")) {
        const std::string src = std::string(premade) + "/" + name;
        if (std::filesystem::exists(src)) {
            std::filesystem::copy_file(src, dir.file(name), std::filesystem::copy_options::overwrite_existing);
            return dir.file(name);
        }
    }
    const std::string ffmpeg = test::find_program("ffmpeg");
    if (ffmpeg.empty()) return {};
    std::vector<std::string> argv = {ffmpeg, "-nostdin", "-loglevel", "error"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("-y");
    argv.push_back(dir.file(name));
    test::ChildProcess p;
    if (!p.start(argv)) return {};
    if (!test::wait_for([&] { return !p.alive(); }, 120)) return {};
    return std::filesystem::exists(dir.file(name)) && std::filesystem::file_size(dir.file(name)) > 0 ? dir.file(name)
                                                                                                     : std::string();
}

// A decoded frame as host bytes: the Y rows then the UV rows, packed (width bytes a row).
struct HostFrame {
    int width = 0, height = 0;
    double pts = 0;
    std::vector<uint8_t> nv12;
};

HostFrame to_host(const Frame& f) {
    HostFrame h;
    h.width = f.width;
    h.height = f.height;
    h.pts = f.pts;
    const size_t w = static_cast<size_t>(f.width), rows = static_cast<size_t>(f.height) * 3 / 2;
    h.nv12.resize(w * rows);
    // The whole buffer down (stride * height * 3/2 bytes, Y then UV at data + stride * height), then packed.
    auto down = download_frame(f);
    EXPECT_TRUE(down.is_ok()) << down.status().to_string();
    if (!down.is_ok()) return h;
    const uint8_t* raw = down->data.get();
    for (size_t r = 0; r < rows; ++r) std::memcpy(h.nv12.data() + r * w, raw + r * f.stride, w);
    return h;
}

struct Decoded {
    Status status;
    std::vector<HostFrame> frames;
};

Decoded decode_all(Result<std::unique_ptr<VideoReader>> made, bool expect_device) {
    Decoded out;
    if (!made.is_ok()) {
        out.status = made.status();
        return out;
    }
    VideoReader& r = **made;
    out.status = r.open();
    if (!out.status.is_ok()) return out;
    Frame f;
    for (;;) {
        Result<bool> got = r.read(f);
        if (!got.is_ok()) {
            out.status = got.status();
            return out;
        }
        if (!*got) return out;
        EXPECT_EQ(f.format, PixelFormat::kNV12);
        EXPECT_EQ(f.on_device(), expect_device);
        EXPECT_EQ(f.index, static_cast<int64_t>(out.frames.size()));
        EXPECT_EQ(f.stride % 64, 0u);
        out.frames.push_back(to_host(f));
    }
}

Decoded decode_nvdec(const std::string& path, ReaderOptions o = {}) {
    return decode_all(make_nvdec_reader(path, o), true);
}

Decoded decode_ffmpeg(const std::string& path) {
    ReaderOptions o;
    o.format = PixelFormat::kNV12;
    return decode_all(make_reader(path, o), false);
}

// Same frame count, pts and bytes; `what` names the clip in failures.
void expect_same_frames(const Decoded& gpu, const Decoded& cpu, const std::string& what) {
    ASSERT_TRUE(gpu.status.is_ok()) << what << ": " << gpu.status.to_string();
    ASSERT_TRUE(cpu.status.is_ok()) << what << ": " << cpu.status.to_string();
    ASSERT_EQ(gpu.frames.size(), cpu.frames.size()) << what;
    int different = 0;
    for (size_t i = 0; i < gpu.frames.size(); ++i) {
        const HostFrame& g = gpu.frames[i];
        const HostFrame& c = cpu.frames[i];
        ASSERT_EQ(g.width, c.width) << what << " frame " << i;
        ASSERT_EQ(g.height, c.height) << what << " frame " << i;
        EXPECT_EQ(g.pts, c.pts) << what << " frame " << i;
        if (g.nv12 != c.nv12 && ++different <= 3) ADD_FAILURE() << what << ": frame " << i << " differs";
    }
    EXPECT_EQ(different, 0) << what << ": frames whose NV12 bytes differ";
}

// ---- Without a GPU (and with one) ----

TEST(Nvdec, LoaderErrorIsClearWithoutDriver) {
    const Status st = nvdec_load_status();
    if (st.is_ok()) GTEST_SKIP() << "an NVIDIA driver is loaded here; this test is for machines without one";
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find("NVDEC unavailable"), std::string::npos) << st.message();
    EXPECT_TRUE(st.message().find("libcuda.so.1") != std::string::npos ||
                st.message().find("libnvcuvid.so.1") != std::string::npos ||
                st.message().find("CUDA device") != std::string::npos || st.message().find("cuInit") != std::string::npos)
        << st.message();
    // The same answer every time, from every entry point.
    EXPECT_EQ(nvdec_load_status().message(), st.message());
    auto made = make_nvdec_reader(test::clip_path(0), {});
    ASSERT_FALSE(made.is_ok());
    EXPECT_EQ(made.status().code(), StatusCode::kUnavailable);
    const Result<bool> caps = nvdec_supports("h264", 1280, 720, 0);
    ASSERT_FALSE(caps.is_ok());
    EXPECT_EQ(caps.status().code(), StatusCode::kUnavailable);
    NvdecReader direct(test::clip_path(0), {});
    const Status opened = direct.open();
    EXPECT_EQ(opened.code(), StatusCode::kUnavailable) << opened.to_string();
}

TEST(Nvdec, FactoryChecksOptionsAndSchemes) {
    ReaderOptions bad;
    bad.rtsp_transport = "sctp";
    EXPECT_EQ(make_nvdec_reader(test::clip_path(0), bad).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(make_nvdec_reader("", {}).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(make_nvdec_reader("synthetic://640x480@25", {}).status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(make_nvdec_reader("nosuchscheme://x", {}).status().code(), StatusCode::kUnsupported);
    ReaderOptions cpu;
    cpu.cuda_device = -1;
    EXPECT_EQ(make_nvdec_reader(test::clip_path(0), cpu).status().code(), StatusCode::kInvalidArgument);
}

// Codecs NVDEC is not used for are refused by name when opening, before the driver is needed.
TEST(Nvdec, UnsupportedCodecIsNamed) {
    TempDir dir;
    const std::string clip = encode_clip(dir, "mpeg4.mp4",
                                         {"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-frames:v", "10",
                                          "-c:v", "mpeg4"});
    if (clip.empty()) GTEST_SKIP() << "the ffmpeg CLI (Debian package ffmpeg) is needed to make the test clip";
    NvdecReader r(clip, {});
    const Status st = r.open();
    EXPECT_EQ(st.code(), StatusCode::kUnsupported) << st.to_string();
    EXPECT_NE(st.message().find("mpeg4"), std::string::npos) << st.message();
}

TEST(Nvdec, TenBitIsRefusedWhenOpening) {
    TempDir dir;
    const std::string clip = encode_clip(dir, "h264_10bit.mkv",
                                         {"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-frames:v", "5",
                                          "-c:v", "libx264", "-pix_fmt", "yuv420p10le"});
    if (clip.empty()) GTEST_SKIP() << "ffmpeg with a 10-bit libx264 is needed to make the test clip";
    NvdecReader r(clip, {});
    const Status st = r.open();
    EXPECT_EQ(st.code(), StatusCode::kUnsupported) << st.to_string();
    EXPECT_NE(st.message().find("8-bit 4:2:0"), std::string::npos) << st.message();
}

// interrupt() from another thread unblocks an open() that waits on a server which never answers.
TEST(Nvdec, InterruptUnblocksOpen) {
    const test_util::SilentListener silent;
    ASSERT_GT(silent.port(), 0);
    ReaderOptions o;
    o.open_timeout_s = 60;
    o.read_timeout_s = 60;
    NvdecReader r("http://127.0.0.1:" + std::to_string(silent.port()) + "/cam.mp4", o);
    std::atomic<bool> done{false};
    Status st;
    const auto t0 = std::chrono::steady_clock::now();
    std::thread t([&] {
        st = r.open();
        done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_FALSE(done.load()) << "open() returned before the interrupt: " << st.to_string();
    r.interrupt();
    EXPECT_TRUE(test::wait_for([&] { return done.load(); }, 10));
    t.join();
    EXPECT_LT(test::seconds_since(t0), 10.0);
    EXPECT_EQ(st.code(), StatusCode::kCancelled) << st.to_string();
}

// The session accounting that sends cameras past the driver's NVDEC session cap to the CPU at once.
TEST(NvdecSessionCap, NoCapUntilTheDriverRefusesOne) {
    NvdecSessions s(3, std::chrono::seconds(60));
    const auto t = NvdecSessions::Clock::now();
    for (int i = 0; i < 500; ++i) {
        ASSERT_TRUE(s.admit("cam", t).is_ok());
        s.opened();
    }
    EXPECT_EQ(s.open_sessions(), 500);
    EXPECT_EQ(s.cap(), -1);
    EXPECT_EQ(s.refusals(), 0);
}

TEST(NvdecSessionCap, RefusedAtOnceAtTheCapAndAdmittedBelowIt) {
    NvdecSessions s(2, std::chrono::seconds(60));
    const auto t = NvdecSessions::Clock::now();
    for (int i = 0; i < 378; ++i) s.opened();
    s.refused(t);  // the 379th create: CUDA_ERROR_OUT_OF_MEMORY
    EXPECT_EQ(s.cap(), 378);
    const Status st = s.admit("rtsp://cam42", t + std::chrono::seconds(1));
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find("rtsp://cam42"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("cuda:2"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("378 open"), std::string::npos) << st.message();
    EXPECT_EQ(s.check("x", t + std::chrono::seconds(2)).code(), StatusCode::kUnavailable);
    EXPECT_EQ(s.refusals(), 2);  // the driver's, and the one answered here (check() counts none)
    // A camera stopped: a session is free again under the cap.
    s.closed();
    EXPECT_TRUE(s.check("x", t + std::chrono::seconds(3)).is_ok());
    EXPECT_TRUE(s.admit("x", t + std::chrono::seconds(3)).is_ok());
    s.opened();
    EXPECT_EQ(s.cap(), 378);
    EXPECT_EQ(s.admit("x", t + std::chrono::seconds(4)).code(), StatusCode::kUnavailable);
}

TEST(NvdecSessionCap, OneAttemptPerPeriodAfterARefusal) {
    NvdecSessions s(0, std::chrono::seconds(60));
    const auto t = NvdecSessions::Clock::now();
    for (int i = 0; i < 10; ++i) s.opened();
    s.refused(t);
    const auto later = t + std::chrono::seconds(61);
    // check() does not take the attempt: every reader may still decide on NVDEC...
    EXPECT_TRUE(s.check("a", later).is_ok());
    EXPECT_TRUE(s.check("b", later).is_ok());
    // ...and the first create takes it; the next is refused until its answer or the next period.
    EXPECT_TRUE(s.admit("a", later).is_ok());
    EXPECT_EQ(s.admit("b", later).code(), StatusCode::kUnavailable);
    // The driver took it: the cap is lifted.
    s.opened();
    EXPECT_EQ(s.cap(), -1);
    EXPECT_TRUE(s.admit("b", later).is_ok());
    s.opened();
    // Refused again at 12: the cap follows.
    s.refused(later);
    EXPECT_EQ(s.cap(), 12);
    EXPECT_EQ(s.admit("c", later + std::chrono::seconds(59)).code(), StatusCode::kUnavailable);
    EXPECT_TRUE(s.admit("c", later + std::chrono::seconds(60)).is_ok());
}

TEST(NvdecSessionCap, RefusedWithNoneOpenBlocksEveryone) {
    NvdecSessions s(1, std::chrono::seconds(60));
    const auto t = NvdecSessions::Clock::now();
    s.refused(t);
    EXPECT_EQ(s.cap(), 0);
    EXPECT_EQ(s.admit("a", t).code(), StatusCode::kUnavailable);
    s.closed();  // never below zero
    EXPECT_EQ(s.open_sessions(), 0);
    s.forget_cap();
    EXPECT_TRUE(s.admit("a", t).is_ok());
}

TEST(NvdecSessionCap, ConcurrentOpensAndClosesBalance) {
    NvdecSessions s(5);
    std::vector<std::thread> ts;
    for (int k = 0; k < 8; ++k)
        ts.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                if (s.admit("x").is_ok()) s.opened();
                s.closed();
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(s.open_sessions(), 0);
}

// ---- With a GPU ----

// Past the session cap a reader is refused before it opens anything, and a reader already made is refused when it
// would create its decoder: both kUnavailable, which the capture loop answers by decoding on the CPU at once.
TEST(NvdecGpu, SessionCapRefusesAtOnce) {
    SKIP_WITHOUT_NVDEC();
    NvdecSessions& sessions = NvdecSessions::of_device(0);
    ASSERT_EQ(sessions.open_sessions(), 0) << "a decoder of an earlier test is still open";
    NvdecReader made_before(test::clip_path(0), {});
    sessions.refused();  // as the driver does at its cap: here, with none open
    const auto t0 = std::chrono::steady_clock::now();
    auto made = make_nvdec_reader(test::clip_path(0), {});
    ASSERT_FALSE(made.is_ok());
    EXPECT_EQ(made.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(made.status().message().find("no NVDEC decoder session free"), std::string::npos)
        << made.status().message();
    Status st = made_before.open();
    Frame f;
    if (st.is_ok()) st = made_before.read(f).status();
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.to_string();
    EXPECT_TRUE(made_before.decoder_failed());
    EXPECT_LT(test::seconds_since(t0), 5.0);
    sessions.forget_cap();
    NvdecReader after(test::clip_path(0), {});
    ASSERT_TRUE(after.open().is_ok());
    const Result<bool> r = after.read(f);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_TRUE(*r);
    EXPECT_EQ(sessions.open_sessions(), 1);
}

TEST(NvdecGpu, SupportsQueriesTheCaps) {
    SKIP_WITHOUT_NVDEC();
    const Result<bool> h264 = nvdec_supports("h264", 1280, 720, 0);
    ASSERT_TRUE(h264.is_ok()) << h264.status().to_string();
    EXPECT_TRUE(*h264);
    EXPECT_FALSE(*nvdec_supports("h264", 65536, 65536, 0));
    EXPECT_FALSE(*nvdec_supports("vp9", 1280, 720, 0));
    EXPECT_FALSE(nvdec_supports("h264", 1280, 720, 4096).is_ok());  // no such device
}

// The shared clips decode to the same frames as the FFmpeg reader's NV12: count, pts and every byte.
TEST(NvdecGpu, MatchesFfmpegOnSharedClips) {
    SKIP_WITHOUT_NVDEC();
    for (int i = 0; i < 3; ++i) {
        const std::string clip = test::clip_path(i);
        const Decoded gpu = decode_nvdec(clip);
        const Decoded cpu = decode_ffmpeg(clip);
        expect_same_frames(gpu, cpu, clip);
        EXPECT_EQ(static_cast<int>(gpu.frames.size()), test::kClips[i].frames) << clip;
    }
}

// 1080p is coded as 1088 rows: the frames are the 1920x1080 display rectangle.
TEST(NvdecGpu, CropsCodedHeightTo1080) {
    SKIP_WITHOUT_NVDEC();
    TempDir dir;
    const std::string clip =
        encode_clip(dir, "t1080.mp4",
                    {"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-t", "2", "-c:v", "libx264", "-pix_fmt",
                     "yuv420p"});
    if (clip.empty()) GTEST_SKIP() << "ffmpeg with libx264 is needed to make the 1080p clip";
    const Decoded gpu = decode_nvdec(clip);
    const Decoded cpu = decode_ffmpeg(clip);
    expect_same_frames(gpu, cpu, clip);
    ASSERT_EQ(gpu.frames.size(), 60u);
    EXPECT_EQ(gpu.frames[0].width, 1920);
    EXPECT_EQ(gpu.frames[0].height, 1080);
}

TEST(NvdecGpu, HevcMatchesFfmpeg) {
    SKIP_WITHOUT_NVDEC();
    TempDir dir;
    const std::string clip = encode_clip(dir, "hevc.mp4",
                                         {"-i", test::clip_path(2), "-an", "-frames:v", "50", "-c:v", "libx265",
                                          "-preset", "ultrafast", "-x265-params", "log-level=error"});
    if (clip.empty()) GTEST_SKIP() << "ffmpeg with libx265 is needed to make the HEVC clip";
    expect_same_frames(decode_nvdec(clip), decode_ffmpeg(clip), clip);
}

// A new size mid-stream re-creates the decoder; every frame still matches.
TEST(NvdecGpu, ResolutionChangeMidStream) {
    SKIP_WITHOUT_NVDEC();
    TempDir dir;
    const std::string a = encode_clip(dir, "a.ts",
                                      {"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-frames:v", "20", "-c:v",
                                       "libx264", "-pix_fmt", "yuv420p", "-bf", "0"});
    const std::string b = encode_clip(dir, "b.ts",
                                      {"-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-frames:v", "20", "-c:v",
                                       "libx264", "-pix_fmt", "yuv420p", "-bf", "0"});
    if (a.empty() || b.empty()) GTEST_SKIP() << "ffmpeg with libx264 is needed to make the test clips";
    const std::string ab = dir.file("ab.ts");
    ASSERT_TRUE(test::write_file(ab, test::read_file(a) + test::read_file(b)));
    const Decoded gpu = decode_nvdec(ab);
    const Decoded cpu = decode_ffmpeg(ab);
    expect_same_frames(gpu, cpu, ab);
    ASSERT_EQ(gpu.frames.size(), 40u);
    EXPECT_EQ(gpu.frames.front().width, 320);
    EXPECT_EQ(gpu.frames.back().width, 640);
}

// The first 40% of a clip: an error status or the end of the stream, never a crash or a hang.
TEST(NvdecGpu, TruncatedFileEndsCleanly) {
    SKIP_WITHOUT_NVDEC();
    TempDir dir;
    const std::string whole = test::read_file(test::clip_path(0));
    const std::string cut = dir.file("cut.mp4");
    ASSERT_TRUE(test::write_file(cut, whole.substr(0, whole.size() * 4 / 10)));
    const auto t0 = std::chrono::steady_clock::now();
    const Decoded gpu = decode_nvdec(cut);
    EXPECT_LT(test::seconds_since(t0), 60.0);
    const Decoded cpu = decode_ffmpeg(cut);
    EXPECT_LE(gpu.frames.size(), static_cast<size_t>(test::kClips[0].frames));
    EXPECT_EQ(gpu.status.code(), cpu.status.code()) << gpu.status.to_string() << " vs " << cpu.status.to_string();
    if (!gpu.status.is_ok()) {
        EXPECT_NE(gpu.status.code(), StatusCode::kInternal) << gpu.status.to_string();
    }
}

// A looping file starts over on the same reader (the capture loop's rewind()): the second pass gives the same
// frames, byte for byte, with the same pts, from the same decoder session.
TEST(NvdecGpu, RewindDecodesTheFileAgain) {
    SKIP_WITHOUT_NVDEC();
    const std::string clip = test::clip_path(1);
    auto made = make_nvdec_reader(clip, {});
    ASSERT_TRUE(made.is_ok()) << made.status().to_string();
    VideoReader& r = **made;
    EXPECT_EQ(r.rewind().code(), StatusCode::kInternal);  // not open yet
    ASSERT_TRUE(r.open().is_ok());
    EXPECT_EQ(r.rewind().code(), StatusCode::kInvalidArgument);  // not at the end yet
    std::vector<HostFrame> pass[2];
    for (int p = 0; p < 2; ++p) {
        if (p == 1) {
            const Status st = r.rewind();
            ASSERT_TRUE(st.is_ok()) << st.to_string();
        }
        Frame f;
        for (;;) {
            Result<bool> got = r.read(f);
            ASSERT_TRUE(got.is_ok()) << got.status().to_string();
            if (!*got) break;
            pass[p].push_back(to_host(f));
        }
    }
    ASSERT_EQ(static_cast<int>(pass[0].size()), test::kClips[1].frames);
    ASSERT_EQ(pass[1].size(), pass[0].size());
    for (size_t i = 0; i < pass[0].size(); ++i) {
        EXPECT_EQ(pass[1][i].pts, pass[0][i].pts) << "frame " << i;
        ASSERT_TRUE(pass[1][i].nv12 == pass[0][i].nv12) << "frame " << i << " differs on the second pass";
    }
}

// Frames come from ReaderOptions::device_allocator when one is set.
TEST(NvdecGpu, DeviceAllocatorIsUsed) {
    SKIP_WITHOUT_NVDEC();
    const NvdecDriver& d = *nvdec_driver().value();
    std::atomic<int> calls{0}, freed{0};
    ReaderOptions o;
    o.device_allocator = [&](size_t bytes) -> std::shared_ptr<uint8_t> {
        ++calls;
        CUdeviceptr p = 0;  // the reader calls this with the device's primary context current
        if (d.cu->cuMemAlloc(&p, bytes) != CUDA_SUCCESS) return nullptr;
        return std::shared_ptr<uint8_t>(reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(p)), [&](uint8_t* q) {
            ++freed;
            CUdevice dev = 0;
            CUcontext ctx = nullptr, popped = nullptr;
            d.cu->cuDeviceGet(&dev, 0);
            d.cu->cuDevicePrimaryCtxRetain(&ctx, dev);
            d.cu->cuCtxPushCurrent(ctx);
            d.cu->cuMemFree(static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(q)));
            d.cu->cuCtxPopCurrent(&popped);
            d.cu->cuDevicePrimaryCtxRelease(dev);
        });
    };
    const Decoded gpu = decode_nvdec(test::clip_path(2), o);
    ASSERT_TRUE(gpu.status.is_ok()) << gpu.status.to_string();
    EXPECT_EQ(calls.load(), static_cast<int>(gpu.frames.size()));
    EXPECT_EQ(freed.load(), calls.load());
}

// The reader alone (frames stay on the device): every frame of the 720p clip, and the rate it reads them at.
TEST(NvdecGpu, ReaderThroughput) {
    SKIP_WITHOUT_NVDEC();
    auto r = make_nvdec_reader(test::clip_path(0), {});
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_TRUE((*r)->open().is_ok());
    const auto t0 = std::chrono::steady_clock::now();
    Frame f;
    int frames = 0;
    double last_pts = -1;
    for (;;) {
        Result<bool> got = (*r)->read(f);
        ASSERT_TRUE(got.is_ok()) << got.status().to_string();
        if (!*got) break;
        EXPECT_GT(f.pts, last_pts) << "frame " << frames;  // display order
        last_pts = f.pts;
        ++frames;
    }
    const double s = test::seconds_since(t0);
    EXPECT_EQ(frames, test::kClips[0].frames);
    std::printf("NvdecReader: %d frames of %s in %.3f s: %.0f fps\n", frames, test::kClips[0].file, s, frames / s);
    RecordProperty("fps", static_cast<int>(frames / s));
}

TEST(NvdecGpu, InterruptCancelsRead) {
    SKIP_WITHOUT_NVDEC();
    auto r = make_nvdec_reader(test::clip_path(2), {});
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_TRUE((*r)->open().is_ok());
    Frame f;
    ASSERT_TRUE((*r)->read(f).is_ok());
    std::thread t([&] { (*r)->interrupt(); });
    t.join();
    const Result<bool> got = (*r)->read(f);
    ASSERT_FALSE(got.is_ok());
    EXPECT_EQ(got.status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace itscam::video
