// A real RTSP server on loopback: rtsp-server-perl (Debian package rtsp-server-perl), fed by the ffmpeg CLI.
// The server is killed and restarted several times; the CaptureLoop must reconnect each time with increasing pts
// and continuing frame indices, while a second CaptureLoop on another source keeps flowing.
//
// rtsp-server-perl relays RTP over UDP only (it answers 400 to RTP-over-TCP SETUP), so the client uses
// rtsp_transport=udp.
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "video/capture.h"
#include "video_test_util.h"

namespace itscam::video {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kServerPackage = "rtsp-server-perl";

bool udp_ports_free(int first, int count) {
    std::vector<int> fds;
    bool ok = true;
    for (int p = first; p < first + count && ok; ++p) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(p));
        ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
        if (fd >= 0) fds.push_back(fd);
    }
    for (int fd : fds) ::close(fd);
    return ok;
}

// rtsp-server-perl + an ffmpeg publisher looping `source` into it.
class RtspRelay {
  public:
    RtspRelay(std::string server, std::string ffmpeg, std::string source, std::string log_dir)
        : server_bin_(std::move(server)),
          ffmpeg_(std::move(ffmpeg)),
          source_(std::move(source)),
          log_dir_(std::move(log_dir)) {
        client_port_ = test::free_port();
        source_port_ = test::free_port();
        while (source_port_ == client_port_) source_port_ = test::free_port();
        std::mt19937 rng(std::random_device{}());
        for (int i = 0; i < 200; ++i) {
            const int p = 20000 + 2 * static_cast<int>(rng() % 20000);
            if (udp_ports_free(p, 16)) {
                rtp_port_ = p;
                break;
            }
        }
    }
    ~RtspRelay() { kill(); }

    std::string client_url() const { return "rtsp://127.0.0.1:" + std::to_string(client_port_) + "/cam"; }
    std::string source_url() const { return "rtsp://127.0.0.1:" + std::to_string(source_port_) + "/cam"; }
    bool ports_ok() const { return client_port_ > 0 && source_port_ > 0 && rtp_port_ > 0; }

    // Starts the server, waits until it listens, then starts the publisher.
    bool start() {
        ++starts_;
        if (!server_.start(
                {server_bin_, "--clientport", std::to_string(client_port_), "--serverport",
                 std::to_string(source_port_), "--client_listen_address", "127.0.0.1", "--source_listen_address",
                 "127.0.0.1", "--rtp_start_port", std::to_string(rtp_port_), "--loglevel", "2"},
                log_dir_ + "/server.log"))
            return false;
        if (!test::wait_for([&] { return test::port_accepts(client_port_) || !server_.alive(); }, 10) ||
            !server_.alive())
            return false;
        return publisher_.start({ffmpeg_, "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", source_,
                                 "-c", "copy", "-f", "rtsp", source_url()},
                                log_dir_ + "/publisher.log");
    }
    void kill() {
        publisher_.kill();
        server_.kill();
    }
    void kill_publisher() { publisher_.kill(); }
    std::string logs() const {
        return "\n--- server.log ---\n" + test::read_file(log_dir_ + "/server.log") + "\n--- publisher.log ---\n" +
               test::read_file(log_dir_ + "/publisher.log");
    }

  private:
    std::string server_bin_, ffmpeg_, source_, log_dir_;
    int client_port_ = -1, source_port_ = -1, rtp_port_ = -1;
    int starts_ = 0;
    test::ChildProcess server_, publisher_;
};

struct Received {
    std::mutex mu;
    std::vector<double> pts;
    std::vector<int64_t> index;
    std::vector<uint32_t> generation;
    std::vector<CaptureEvent> events;
    int width = 0, height = 0;
    size_t size() {
        std::lock_guard lk(mu);
        return pts.size();
    }
};

// Re-encodes a few seconds of a shared clip with short GOPs, so that a client joining mid-stream gets a keyframe
// quickly. "" on failure.
std::string make_short_gop_source(const std::string& ffmpeg, const test::TempDir& dir) {
    const std::string out = dir.file("source.mp4");
    for (const char* codec : {"libx264", "mpeg4"}) {
        test::ChildProcess p;
        std::vector<std::string> args = {ffmpeg,
                                         "-nostdin",
                                         "-loglevel",
                                         "error",
                                         "-i",
                                         test::clip_path(2),
                                         "-t",
                                         "8",
                                         "-an",
                                         "-vf",
                                         "scale=320:180",
                                         "-c:v",
                                         codec,
                                         "-g",
                                         "10",
                                         "-bf",
                                         "0"};
        if (std::string(codec) == "libx264") {
            for (const char* a : {"-preset", "ultrafast", "-tune", "zerolatency"}) args.emplace_back(a);
        }
        args.insert(args.end(), {"-y", out});
        if (!p.start(args, dir.file("encode.log"))) continue;
        if (test::wait_for([&] { return !p.alive(); }, 60) && !test::read_file(out).empty()) return out;
    }
    return {};
}

TEST(Rtsp, ReconnectsAcrossServerRestarts) {
    if (!ffmpeg_available()) GTEST_SKIP() << "built without FFmpeg (ITSCAM_WITH_FFMPEG=OFF)";
    const std::string server = test::find_program(kServerPackage);
    if (server.empty())
        GTEST_SKIP() << "RTSP test server missing: apt-get install -y --no-install-recommends " << kServerPackage;
    const std::string ffmpeg = test::find_program("ffmpeg");
    if (ffmpeg.empty()) GTEST_SKIP() << "the ffmpeg CLI is missing: apt-get install -y ffmpeg";

    test::TempDir dir;
    const std::string source = make_short_gop_source(ffmpeg, dir);
    ASSERT_FALSE(source.empty()) << test::read_file(dir.file("encode.log"));
    RtspRelay relay(server, ffmpeg, source, dir.path());
    ASSERT_TRUE(relay.ports_ok());
    ASSERT_TRUE(relay.start()) << relay.logs();
    const auto t_start = Clock::now();

    // A plain reader first: live stream info and frames.
    {
        ReaderOptions ro;
        ro.rtsp_transport = "udp";
        ro.open_timeout_s = 5;
        ro.read_timeout_s = 3;
        std::unique_ptr<VideoReader> reader;
        // The publisher may need a moment to announce the stream (404 until then).
        ASSERT_TRUE(test::wait_for(
            [&] {
                auto r = make_reader(relay.client_url(), ro);
                if (!r.is_ok() || !(*r)->open().is_ok()) return false;
                reader = std::move(r).value();
                return true;
            },
            10))
            << relay.logs();
        EXPECT_TRUE(reader->info().live);
        EXPECT_EQ(reader->info().width, 320);
        // The reader's pts are the stream's own (RTP clocks may jump when the first RTCP sender report arrives);
        // CaptureLoop is what makes them strictly increasing, checked below.
        Frame f;
        for (int i = 0; i < 10; ++i) {
            Result<bool> got = reader->read(f);
            ASSERT_TRUE(got.is_ok()) << got.status().to_string();
            ASSERT_TRUE(*got);
            EXPECT_EQ(f.width, 320);
            EXPECT_EQ(f.height, 180);
            EXPECT_TRUE(std::isfinite(f.pts));
        }
    }

    Received cam_rx;
    CaptureOptions o;
    o.reader.rtsp_transport = "udp";
    o.reader.open_timeout_s = 3;
    o.reader.read_timeout_s = 4;
    o.stall_timeout_s = 1.5;
    o.backoff_initial_s = 0.2;
    o.backoff_max_s = 1.0;
    CaptureLoop cam(relay.client_url(), o);
    cam.start(
        [&](Frame&& f) {
            std::lock_guard lk(cam_rx.mu);
            cam_rx.pts.push_back(f.pts);
            cam_rx.index.push_back(f.index);
            cam_rx.generation.push_back(f.generation);
            cam_rx.width = f.width;
            cam_rx.height = f.height;
        },
        [&](const CaptureEvent& e) {
            std::lock_guard lk(cam_rx.mu);
            cam_rx.events.push_back(e);
        });

    // The neighbour: a paced synthetic camera that must never notice the RTSP trouble.
    std::mutex other_mu;
    Clock::time_point other_last{};
    double other_max_gap = 0;
    CaptureOptions so;
    so.realtime = true;
    CaptureLoop other("synthetic://320x240@30", so);
    other.start([&](Frame&&) {
        std::lock_guard lk(other_mu);
        const auto now = Clock::now();
        if (other_last != Clock::time_point{})
            other_max_gap = std::max(other_max_gap, std::chrono::duration<double>(now - other_last).count());
        other_last = now;
    });

    constexpr int kRestarts = 3;
    for (int cycle = 0; cycle <= kRestarts; ++cycle) {
        const auto t0 = Clock::now();
        if (cycle > 0) {
            ASSERT_TRUE(relay.start()) << relay.logs();
        }
        const size_t before = cam_rx.size();
        ASSERT_TRUE(test::wait_for([&] { return cam_rx.size() >= before + 25; }, 20))
            << "no frames after (re)start " << cycle << "; last error: " << cam.stats().last_error << relay.logs();
        std::printf("[ rtsp    ] cycle %d: 25 frames %.2f s after the server (re)started\n", cycle,
                    test::seconds_since(t0));
        if (cycle == kRestarts) break;
        const int64_t errors = cam.stats().errors;
        const auto t_kill = Clock::now();
        if (cycle == 1) {
            // Only the publisher goes away: the RTSP session stays open but no packet arrives. The stall watchdog
            // (stall_timeout_s < read_timeout_s here) must interrupt the read and reconnect.
            const int64_t stalls = cam.stats().stalls;
            relay.kill_publisher();
            ASSERT_TRUE(test::wait_for([&] { return cam.stats().stalls > stalls; }, 10))
                << "the stall watchdog did not fire; last error: " << cam.stats().last_error;
            std::printf("[ rtsp    ] cycle %d: publisher killed, stall detected after %.2f s\n", cycle,
                        test::seconds_since(t_kill));
        }
        relay.kill();
        ASSERT_TRUE(test::wait_for([&] { return cam.stats().errors > errors; }, 10))
            << "the loop did not notice the server going away";
        std::printf("[ rtsp    ] cycle %d: server killed, noticed after %.2f s: %s\n", cycle,
                    test::seconds_since(t_kill), cam.stats().last_error.c_str());
    }

    const CaptureStats s = cam.stats();
    const auto t_stop = Clock::now();
    cam.stop();
    const double stop_s = test::seconds_since(t_stop);
    other.stop();
    relay.kill();
    std::printf("[ rtsp    ] %lld frames, %lld reconnects, %lld errors, %lld stalls in %.1f s; stop() %.3f s\n",
                static_cast<long long>(s.frames), static_cast<long long>(s.reconnects),
                static_cast<long long>(s.errors), static_cast<long long>(s.stalls), test::seconds_since(t_start),
                stop_s);

    EXPECT_GE(s.reconnects, kRestarts);
    EXPECT_GE(s.errors, kRestarts);
    EXPECT_GE(s.stalls, 1);
    EXPECT_TRUE(s.stream.live);
    EXPECT_LT(stop_s, 1.0);
    {
        std::lock_guard lk(cam_rx.mu);
        EXPECT_EQ(cam_rx.width, 320);
        EXPECT_EQ(cam_rx.height, 180);
        for (size_t i = 1; i < cam_rx.pts.size(); ++i) {
            ASSERT_GT(cam_rx.pts[i], cam_rx.pts[i - 1]) << "frame " << i;
            ASSERT_EQ(cam_rx.index[i], cam_rx.index[i - 1] + 1);
            ASSERT_GE(cam_rx.generation[i], cam_rx.generation[i - 1]);
        }
        EXPECT_GE(cam_rx.generation.back() - cam_rx.generation.front(), static_cast<uint32_t>(kRestarts));
        int connected = 0;
        for (const auto& e : cam_rx.events) connected += e.kind == CaptureEvent::Kind::kConnected;
        EXPECT_GE(connected, kRestarts + 1);
    }
    const CaptureStats os = other.stats();
    std::printf("[ rtsp    ] neighbour: %lld frames, longest gap %.3f s\n", static_cast<long long>(os.frames),
                other_max_gap);
    EXPECT_EQ(os.errors, 0);
    EXPECT_EQ(os.stalls, 0);
    EXPECT_LT(other_max_gap, 0.5);
    EXPECT_GT(os.frames, 30);
}

}  // namespace
}  // namespace itscam::video
