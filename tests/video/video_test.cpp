// VideoReader tests: exact frame counts of the shared clips (BGR and NV12), timestamps, the synthetic source, and
// bad inputs (missing, not a video, truncated, garbage) that must fail cleanly and quickly.
#include "video/video_reader.h"

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "video/frame.h"
#include "video/synthetic_reader.h"
#include "video_test_util.h"

namespace itscam::video {
namespace {

using test::TempDir;

#if defined(ITSCAM_HAVE_FFMPEG) && ITSCAM_HAVE_FFMPEG
constexpr bool kHaveFfmpeg = true;
#else
constexpr bool kHaveFfmpeg = false;
#endif

#define SKIP_WITHOUT_FFMPEG() \
    if (!ffmpeg_available()) GTEST_SKIP() << "built without FFmpeg (ITSCAM_WITH_FFMPEG=OFF)"

// Sum over a sparse grid of bytes, and whether they are not all the same: "the picture is not blank".
struct Content {
    uint64_t sum = 0;
    bool varied = false;
};
Content sample_content(const Frame& f) {
    Content c;
    const uint8_t first = f.data.get()[0];
    const size_t row_bytes = f.format == PixelFormat::kBGR24 ? static_cast<size_t>(f.width) * 3 : f.width;
    for (int y = 0; y < f.height; y += 7) {
        const uint8_t* row = f.data.get() + f.stride * static_cast<size_t>(y);
        for (size_t x = 0; x < row_bytes; x += 13) {
            c.sum += row[x];
            c.varied |= row[x] != first;
        }
    }
    return c;
}

struct DecodeResult {
    int frames = 0;
    int blank = 0;
    bool pts_increasing = true;
    bool sizes_ok = true;
    bool layout_ok = true;
    double first_pts = 0, last_pts = 0;
    Status status;
};

DecodeResult decode_all(const std::string& url, const ReaderOptions& opt, int expect_w, int expect_h,
                        int max_frames = 1 << 30) {
    DecodeResult r;
    auto reader = make_reader(url, opt);
    if (!reader.is_ok()) {
        r.status = reader.status();
        return r;
    }
    r.status = (*reader)->open();
    if (!r.status.is_ok()) return r;
    Frame f;
    double last = -1e300;
    while (r.frames < max_frames) {
        Result<bool> got = (*reader)->read(f);
        if (!got.is_ok()) {
            r.status = got.status();
            break;
        }
        if (!*got) break;
        if (r.frames == 0) r.first_pts = f.pts;
        r.pts_increasing &= f.pts > last;
        last = f.pts;
        r.last_pts = f.pts;
        if (expect_w > 0) r.sizes_ok &= f.width == expect_w && f.height == expect_h;
        const size_t min_stride = f.format == PixelFormat::kBGR24 ? static_cast<size_t>(f.width) * 3 : f.width;
        r.layout_ok &= !f.empty() && f.stride >= min_stride && f.stride % 64 == 0 && f.format == opt.format &&
                       reinterpret_cast<uintptr_t>(f.data.get()) % 64 == 0 && f.index == r.frames;
        const Content c = sample_content(f);
        if (c.sum == 0 || !c.varied) ++r.blank;
        ++r.frames;
    }
    return r;
}

// ---------------------------------------------------------------- basics

TEST(Frame, NamesAndAlignedAllocator) {
    EXPECT_STREQ(pixel_format_name(PixelFormat::kBGR24), "bgr24");
    EXPECT_STREQ(pixel_format_name(PixelFormat::kNV12), "nv12");
    BufferAllocator alloc = heap_allocator();
    for (size_t n : {size_t{1}, size_t{63}, size_t{64}, size_t{1000}, size_t{1920 * 1080 * 3}}) {
        std::shared_ptr<uint8_t> p = alloc(n);
        ASSERT_TRUE(p);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p.get()) % 64, 0u);
        std::memset(p.get(), 0xAB, n);  // writable over its whole size (ASan checks this)
    }
    Frame f;
    EXPECT_TRUE(f.empty());
    f.width = 4;
    f.height = 2;
    f.stride = 64;
    EXPECT_EQ(f.bytes(), 128u);
    f.format = PixelFormat::kNV12;
    EXPECT_EQ(f.bytes(), 192u);
}

TEST(VideoReader, LiveUrls) {
    EXPECT_TRUE(is_live_url("rtsp://127.0.0.1:8554/cam"));
    EXPECT_TRUE(is_live_url("RTSPS://host/cam"));
    EXPECT_TRUE(is_live_url("http://host/stream.ts"));
    EXPECT_TRUE(is_live_url("udp://239.0.0.1:1234"));
    EXPECT_FALSE(is_live_url("/data/clip.mp4"));
    EXPECT_FALSE(is_live_url("file:///data/clip.mp4"));
    EXPECT_FALSE(is_live_url("synthetic://640x480@30"));
    EXPECT_FALSE(is_live_url("C:\\videos\\x.mp4"));
}

TEST(VideoReader, UnknownSchemeIsUnsupported) {
    auto r = make_reader("bogus://host/x", {});
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(r.status().message().find("bogus://host/x"), std::string::npos) << r.status().message();
}

TEST(VideoReader, BadOptionsAreInvalid) {
    ReaderOptions o;
    o.rtsp_transport = "sctp";
    auto r = make_reader("synthetic://64x64@10", o);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(VideoReader, WithoutFfmpegFilesAreUnsupported) {
    if (kHaveFfmpeg) GTEST_SKIP() << "this build has FFmpeg";
    auto r = make_reader(test::clip_path(0), {});
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(r.status().message().find("FFmpeg"), std::string::npos) << r.status().message();
}

// ---------------------------------------------------------------- synthetic

TEST(Synthetic, DeterministicAndMoving) {
    ReaderOptions o;
    auto a = make_reader("synthetic://320x240@30?frames=12", o);
    auto b = make_reader("synthetic://320x240@30?frames=12", o);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    ASSERT_TRUE(b.is_ok());
    ASSERT_TRUE((*a)->open().is_ok());
    ASSERT_TRUE((*b)->open().is_ok());
    EXPECT_EQ((*a)->info().width, 320);
    EXPECT_EQ((*a)->info().height, 240);
    EXPECT_DOUBLE_EQ((*a)->info().fps, 30);
    EXPECT_FALSE((*a)->info().live);
    Frame prev;
    int n = 0;
    for (;; ++n) {
        Frame fa, fb;
        Result<bool> ra = (*a)->read(fa);
        Result<bool> rb = (*b)->read(fb);
        ASSERT_TRUE(ra.is_ok() && rb.is_ok());
        ASSERT_EQ(*ra, *rb);
        if (!*ra) break;
        ASSERT_EQ(fa.width, 320);
        ASSERT_EQ(fa.stride, fb.stride);
        EXPECT_DOUBLE_EQ(fa.pts, n / 30.0);
        EXPECT_EQ(fa.index, n);
        EXPECT_EQ(std::memcmp(fa.data.get(), fb.data.get(), fa.bytes()), 0) << "frame " << n << " differs";
        const Content c = sample_content(fa);
        EXPECT_TRUE(c.varied && c.sum > 0);
        if (n > 0) {
            EXPECT_NE(std::memcmp(fa.data.get(), prev.data.get(), fa.bytes()), 0) << "frame " << n << " did not move";
        }
        prev = fa;
    }
    EXPECT_EQ(n, 12);
}

TEST(Synthetic, Nv12) {
    ReaderOptions o;
    o.format = PixelFormat::kNV12;
    const DecodeResult r = decode_all("synthetic://64x48@25?frames=5", o, 64, 48);
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.frames, 5);
    EXPECT_TRUE(r.layout_ok);
    EXPECT_EQ(r.blank, 0);

    o.format = PixelFormat::kNV12;
    auto odd = make_reader("synthetic://63x47@25", o);
    ASSERT_TRUE(odd.is_ok());
    const Status st = (*odd)->open();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

TEST(Synthetic, MalformedUrls) {
    for (const char* url :
         {"synthetic://", "synthetic://640x@30", "synthetic://640x480", "synthetic://x480@30", "synthetic://0x480@30",
          "synthetic://640x480@0", "synthetic://640x480@abc", "synthetic://-5x480@30",
          "synthetic://640x480@30?frames=x", "synthetic://640x480@30?color=red", "synthetic://99999x480@30"}) {
        auto r = make_reader(url, {});
        ASSERT_FALSE(r.is_ok()) << url;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << url;
        EXPECT_NE(r.status().message().find(url), std::string::npos) << r.status().message();
    }
    auto spec = parse_synthetic_url("synthetic://1920x1080@29.97?frames=7");
    ASSERT_TRUE(spec.is_ok()) << spec.status().to_string();
    EXPECT_EQ(spec->width, 1920);
    EXPECT_EQ(spec->height, 1080);
    EXPECT_DOUBLE_EQ(spec->fps, 29.97);
    EXPECT_EQ(spec->frames, 7);
}

TEST(Synthetic, InterruptCancels) {
    auto r = make_reader("synthetic://32x32@10", {});
    ASSERT_TRUE(r.is_ok());
    ASSERT_TRUE((*r)->open().is_ok());
    Frame f;
    ASSERT_TRUE((*r)->read(f).is_ok());
    (*r)->interrupt();
    EXPECT_EQ((*r)->read(f).status().code(), StatusCode::kCancelled);
}

// ---------------------------------------------------------------- the shared clips

struct ClipCase {
    int clip;
    PixelFormat format;
};

class ClipDecode : public ::testing::TestWithParam<ClipCase> {};

TEST_P(ClipDecode, ExactFrameCountAndIncreasingPts) {
    SKIP_WITHOUT_FFMPEG();
    const test::Clip& clip = test::kClips[GetParam().clip];
    ReaderOptions o;
    o.format = GetParam().format;
    o.decode_threads = 2;
    const auto t0 = std::chrono::steady_clock::now();
    const DecodeResult r = decode_all(test::clip_path(GetParam().clip), o, clip.width, clip.height);
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.frames, clip.frames) << clip.file;
    EXPECT_TRUE(r.pts_increasing);
    EXPECT_TRUE(r.sizes_ok);
    EXPECT_TRUE(r.layout_ok);
    EXPECT_EQ(r.blank, 0);
    EXPECT_GE(r.first_pts, 0);
    EXPECT_NEAR(r.last_pts - r.first_pts, (clip.frames - 1) / clip.fps, 0.1);
    std::printf("[ decode  ] %s %s: %d frames in %.2f s\n", clip.file, pixel_format_name(o.format), r.frames,
                test::seconds_since(t0));
}

INSTANTIATE_TEST_SUITE_P(Clips, ClipDecode,
                         ::testing::Values(ClipCase{0, PixelFormat::kBGR24}, ClipCase{1, PixelFormat::kBGR24},
                                           ClipCase{2, PixelFormat::kBGR24}, ClipCase{0, PixelFormat::kNV12},
                                           ClipCase{1, PixelFormat::kNV12}, ClipCase{2, PixelFormat::kNV12}),
                         [](const ::testing::TestParamInfo<ClipCase>& i) {
                             return std::string(i.param.clip == 0   ? "Highway720p"
                                                : i.param.clip == 1 ? "Intersection480p"
                                                                    : "Urban360p") +
                                    (i.param.format == PixelFormat::kBGR24 ? "Bgr" : "Nv12");
                         });

TEST(FfmpegReader, InfoFileUrlAndAutoThreads) {
    SKIP_WITHOUT_FFMPEG();
    ReaderOptions o;
    o.decode_threads = 0;  // FFmpeg decides
    auto r = make_reader("file://" + test::clip_path(1), o);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ASSERT_TRUE((*r)->open().is_ok());
    const StreamInfo info = (*r)->info();
    EXPECT_EQ(info.codec, "h264");
    EXPECT_EQ(info.width, 640);
    EXPECT_EQ(info.height, 480);
    EXPECT_NEAR(info.fps, 30, 0.01);
    EXPECT_FALSE(info.live);
    Frame f;
    for (int i = 0; i < 10; ++i) {
        Result<bool> got = (*r)->read(f);
        ASSERT_TRUE(got.is_ok() && *got);
        EXPECT_NEAR(f.pts, i / 30.0, 1e-6);
        EXPECT_GT(f.wall_time_us, 0);
        EXPECT_GE(f.decode_ms, 0);
    }
}

// Hash of a frame's pixels (rows without their padding), keyed by pts in ms.
std::map<int64_t, size_t> frame_hashes(const std::string& url, int threads, int skip_from, int* frames,
                                       std::shared_ptr<DecodeGate> gate = nullptr) {
    ReaderOptions o;
    o.format = PixelFormat::kNV12;
    o.decode_threads = threads;
    o.decode_gate = std::move(gate);
    auto r = make_reader(url, o);
    std::map<int64_t, size_t> out;
    if (!r.is_ok() || !(*r)->open().is_ok()) return out;
    Frame f;
    int n = 0;
    for (;;) {
        if (n == skip_from) {
            EXPECT_TRUE((*r)->skip_nonref(true));
        }
        Result<bool> got = (*r)->read(f);
        EXPECT_TRUE(got.is_ok()) << got.status().to_string();
        if (!got.is_ok() || !*got) break;
        std::string bytes;
        for (int y = 0; y < f.height * 3 / 2; ++y)
            bytes.append(reinterpret_cast<const char*>(f.data.get()) + f.stride * y, static_cast<size_t>(f.width));
        const int64_t key = std::llround(f.pts * 1000);
        EXPECT_EQ(out.count(key), 0u) << "pts " << f.pts << " twice";
        out[key] = std::hash<std::string>{}(bytes);
        ++n;
    }
    *frames = n;
    return out;
}

// Three readers decoding at once through one decode slot (pipeline.decode_slots 1) give every frame of a full,
// ungated decode, bit for bit, and each frame's decode went through the gate.
TEST(FfmpegReader, ReadersSharingOneDecodeSlotDecodeEveryFrame) {
    SKIP_WITHOUT_FFMPEG();
    const std::string url = test::clip_path(1);
    int full_n = 0;
    const auto full = frame_hashes(url, 1, -1, &full_n);
    ASSERT_EQ(full_n, test::kClips[1].frames);
    auto gate = std::make_shared<DecodeGate>(1);
    std::vector<std::map<int64_t, size_t>> got(3);
    std::vector<int> n(3, 0);
    std::vector<std::thread> ts;
    for (int i = 0; i < 3; ++i)
        ts.emplace_back([&, i] { got[i] = frame_hashes(url, i == 2 ? 2 : 1, -1, &n[i], gate); });
    for (auto& t : ts) t.join();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(n[i], full_n) << "reader " << i;
        EXPECT_TRUE(got[i] == full) << "reader " << i << ": frames that decode differently";
    }
    const DecodeGate::Stats s = gate->stats();
    EXPECT_GE(s.grants, 3 * full_n);  // at least one slot per decoded frame (taken for its packet's decode)
    EXPECT_GT(s.waits, 0);            // three readers, one slot: some waited
    EXPECT_EQ(gate->queued(), 0);
}

// skip_nonref: the 720p clip's non-reference frames (its 260 B-frames: x264 without a B-pyramid, ffprobe
// -show_frames) are not decoded; every frame that is, is the same picture at the same pts as in a full decode. From
// the start, and switched on mid-stream, with one decoder thread and with frame threads.
TEST(FfmpegReader, SkipNonReferenceFramesKeepsTheOthersIdentical) {
    SKIP_WITHOUT_FFMPEG();
    const std::string url = test::clip_path(0);
    int full_n = 0;
    const auto full = frame_hashes(url, 1, -1, &full_n);
    ASSERT_EQ(full_n, test::kClips[0].frames);
    for (int threads : {1, 2}) {
        for (int from : {0, 300}) {
            int n = 0;
            const auto thin = frame_hashes(url, threads, from, &n);
            const int expect = from == 0 ? 491 : -1;
            if (expect > 0) {
                EXPECT_EQ(n, expect) << "threads " << threads;
            }
            EXPECT_LT(n, full_n - (from == 0 ? 200 : 100)) << "threads " << threads << " from " << from;
            int differ = 0, missing = 0;
            for (const auto& [pts, h] : thin) {
                auto it = full.find(pts);
                if (it == full.end()) {
                    ++missing;
                } else if (it->second != h) {
                    ++differ;
                }
            }
            EXPECT_EQ(missing, 0) << "frames at pts the full decode does not have";
            EXPECT_EQ(differ, 0) << "threads " << threads << " from " << from << ": frames that decode differently";
            if (from > 0) {  // every frame before the switch is there
                int before = 0;
                for (const auto& [pts, h] : thin) before += pts < 300 * 40;
                EXPECT_GE(before, 295);
            }
        }
    }
    // The synthetic reader cannot skip, and says so.
    auto syn = make_reader("synthetic://64x48@10", {});
    ASSERT_TRUE(syn.is_ok());
    ASSERT_TRUE((*syn)->open().is_ok());
    EXPECT_FALSE((*syn)->skip_nonref(true));
}

TEST(FfmpegReader, CustomAllocatorIsUsed) {
    SKIP_WITHOUT_FFMPEG();
    int calls = 0;
    ReaderOptions o;
    o.allocator = [&](size_t bytes) {
        ++calls;
        return heap_allocator()(bytes);
    };
    const DecodeResult r = decode_all(test::clip_path(2), o, 640, 360, 5);
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.frames, 5);
    EXPECT_EQ(calls, 5);
}

TEST(FfmpegReader, InterruptCancelsRead) {
    SKIP_WITHOUT_FFMPEG();
    auto r = make_reader(test::clip_path(2), {});
    ASSERT_TRUE(r.is_ok());
    ASSERT_TRUE((*r)->open().is_ok());
    Frame f;
    ASSERT_TRUE((*r)->read(f).is_ok());
    (*r)->interrupt();
    Result<bool> got = (*r)->read(f);
    ASSERT_FALSE(got.is_ok());
    EXPECT_EQ(got.status().code(), StatusCode::kCancelled);
}

// Mid-stream resolution change: two MPEG-TS segments of different sizes glued together.
TEST(FfmpegReader, MidStreamResolutionChange) {
    SKIP_WITHOUT_FFMPEG();
    TempDir dir;
    const std::string clip = test::make_resolution_change_clip(dir);
    if (clip.empty()) GTEST_SKIP() << "the ffmpeg CLI (Debian package ffmpeg) is needed to make the test clip";
    auto r = make_reader(clip, {});
    ASSERT_TRUE(r.is_ok());
    ASSERT_TRUE((*r)->open().is_ok());
    int small = 0, big = 0;
    Frame f;
    for (;;) {
        Result<bool> got = (*r)->read(f);
        ASSERT_TRUE(got.is_ok()) << got.status().to_string();
        if (!*got) break;
        if (f.width == 160 && f.height == 120) ++big;
        if (f.width == 96 && f.height == 64) ++small;
        EXPECT_EQ(sample_content(f).varied, true);
    }
    // The decoder may drop the last picture before the new sequence header.
    EXPECT_GE(big, 18);
    EXPECT_GE(small, 18);
}

// ---------------------------------------------------------------- bad inputs

void expect_clean_open_failure(const std::string& path, std::initializer_list<StatusCode> codes) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = make_reader(path, {});
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    const Status st = (*r)->open();
    ASSERT_FALSE(st.is_ok()) << path << " opened";
    bool code_ok = false;
    for (StatusCode c : codes) code_ok |= st.code() == c;
    EXPECT_TRUE(code_ok) << st.to_string();
    EXPECT_NE(st.message().find(path), std::string::npos) << "message does not name the file: " << st.message();
    EXPECT_LT(test::seconds_since(t0), 5.0);
    std::printf("[ error   ] %s\n", st.to_string().c_str());
}

TEST(BadInput, MissingFile) {
    SKIP_WITHOUT_FFMPEG();
    TempDir dir;
    expect_clean_open_failure(dir.file("no_such_clip.mp4"), {StatusCode::kNotFound});
}

// A named pipe would block FFmpeg's open forever (no writer ever comes); a device never ends. Both are named.
TEST(BadInput, NamedPipeAndDeviceAreNotVideoFiles) {
    SKIP_WITHOUT_FFMPEG();
    TempDir dir;
    const std::string fifo = dir.file("clip.mp4");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    expect_clean_open_failure(fifo, {StatusCode::kInvalidArgument});
    auto r = make_reader("file://" + fifo, {});
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ((*r)->open().message(), "file://" + fifo + ": is a named pipe, not a regular file");
    expect_clean_open_failure("/dev/zero", {StatusCode::kInvalidArgument});
}

TEST(BadInput, TextFileIsNotAVideo) {
    SKIP_WITHOUT_FFMPEG();
    TempDir dir;
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += "camera " + std::to_string(i) + ": this is a configuration note, not a video\n";
    ASSERT_TRUE(test::write_file(dir.file("notes.mp4"), text));
    expect_clean_open_failure(dir.file("notes.mp4"), {StatusCode::kCorrupt, StatusCode::kUnsupported});
}

TEST(BadInput, EmptyFileAndDirectory) {
    SKIP_WITHOUT_FFMPEG();
    TempDir dir;
    ASSERT_TRUE(test::write_file(dir.file("empty.mp4"), ""));
    expect_clean_open_failure(dir.file("empty.mp4"), {StatusCode::kCorrupt});
    expect_clean_open_failure(dir.path(), {StatusCode::kInvalidArgument});
}

// Truncated copies: the fragmented 360p clip still plays its first part; the 720p clip has its index at the end,
// so it cannot be opened. Either way: a clean result, no crash, no hang.
TEST(BadInput, TruncatedClips) {
    SKIP_WITHOUT_FFMPEG();
    TempDir dir;
    for (int clip : {2, 0, 1}) {
        const std::string bytes = test::read_file(test::clip_path(clip));
        ASSERT_FALSE(bytes.empty());
        const std::string path = dir.file("truncated_" + std::to_string(clip) + ".mp4");
        ASSERT_TRUE(test::write_file(path, bytes.substr(0, bytes.size() * 3 / 10)));
        const auto t0 = std::chrono::steady_clock::now();
        const DecodeResult r = decode_all(path, {}, test::kClips[clip].width, test::kClips[clip].height);
        std::printf("[ trunc   ] %s: %d frames, %s\n", test::kClips[clip].file, r.frames,
                    r.status.is_ok() ? "clean end" : r.status.to_string().c_str());
        EXPECT_LT(test::seconds_since(t0), 20.0);
        EXPECT_LT(r.frames, test::kClips[clip].frames);
        EXPECT_TRUE(r.pts_increasing);
        if (!r.status.is_ok()) {
            EXPECT_NE(r.status.message().find(path), std::string::npos) << r.status.message();
        }
        if (clip == 2) {
            EXPECT_GT(r.frames, 100) << "the fragmented clip should play up to the cut";
        }
        if (clip == 0) {
            EXPECT_FALSE(r.status.is_ok()) << "no index (moov) in the first 30%";
        }
    }
}

TEST(BadInput, GarbageFiles) {
    SKIP_WITHOUT_FFMPEG();
    TempDir dir;
    std::mt19937 rng(1234);
    for (int i = 0; i < 4; ++i) {
        std::string bytes(static_cast<size_t>(64 * 1024) << i, '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        if (i == 3) {
            // A real header followed by garbage.
            const std::string real = test::read_file(test::clip_path(2));
            bytes = real.substr(0, 4096) + bytes;
        }
        const std::string path = dir.file("garbage_" + std::to_string(i) + ".mp4");
        ASSERT_TRUE(test::write_file(path, bytes));
        const auto t0 = std::chrono::steady_clock::now();
        const DecodeResult r = decode_all(path, {}, 0, 0, 10000);
        std::printf("[ garbage ] %zu bytes: %d frames, %s\n", bytes.size(), r.frames,
                    r.status.is_ok() ? "clean end" : r.status.to_string().c_str());
        EXPECT_LT(test::seconds_since(t0), 20.0);
        if (!r.status.is_ok()) {
            EXPECT_NE(r.status.message().find(path), std::string::npos) << r.status.message();
        }
    }
}

}  // namespace
}  // namespace itscam::video
