// HTTP ingest against a real HTTP server on loopback: FFmpeg itself serving a clip as MPEG-TS (`-listen 1`).
// The camera reads frames, survives the server going away and coming back, and keeps pts increasing.
#include <gtest/gtest.h>

#include <mutex>

#include "video/capture.h"
#include "video_test_util.h"

using namespace itscam;
using namespace itscam::video;
using Clock = std::chrono::steady_clock;

namespace {

class HttpServer {
public:
    HttpServer(std::string ffmpeg, std::string source, std::string log) : ffmpeg_(std::move(ffmpeg)),
        source_(std::move(source)), log_(std::move(log)), port_(test::free_port()) {}
    bool start() {
        // Serves one client, then exits; the test restarts it for each connection it expects. No readiness
        // probe: a probe connection would be that one client. The camera's reconnect loop covers the start-up.
        return proc_.start({ffmpeg_, "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", source_,
                            "-an", "-c", "copy", "-f", "mpegts", "-listen", "1", url()},
                           log_);
    }
    void stop() { proc_.kill(); }
    bool alive() { return proc_.alive(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/live.ts"; }
    int port() const { return port_; }

private:
    std::string ffmpeg_, source_, log_;
    int port_;
    test::ChildProcess proc_;
};

}  // namespace

TEST(Http, ReadsALiveStreamAndReconnectsAfterTheServerRestarts) {
    if (!ffmpeg_available()) GTEST_SKIP() << "built without FFmpeg (ITSCAM_WITH_FFMPEG=OFF)";
    const std::string ffmpeg = test::find_program("ffmpeg");
    if (ffmpeg.empty()) GTEST_SKIP() << "the ffmpeg CLI is missing: apt-get install -y ffmpeg";
    test::TempDir dir;
    HttpServer server(ffmpeg, test::clip_path(1), dir.file("server.log"));
    ASSERT_GT(server.port(), 0);
    ASSERT_TRUE(server.start()) << test::read_file(dir.file("server.log"));
    EXPECT_TRUE(is_live_url(server.url()));

    std::mutex mu;
    std::vector<double> pts;
    std::vector<uint32_t> gens;
    int width = 0;
    CaptureOptions o;
    o.reader.open_timeout_s = 3;
    o.reader.read_timeout_s = 2;
    o.stall_timeout_s = 2;
    o.backoff_initial_s = 0.2;
    o.backoff_max_s = 0.5;
    CaptureLoop cam(server.url(), o);
    cam.start([&](Frame&& f) {
        std::lock_guard lk(mu);
        pts.push_back(f.pts);
        gens.push_back(f.generation);
        width = f.width;
    });
    auto count = [&] {
        std::lock_guard lk(mu);
        return pts.size();
    };
    ASSERT_TRUE(test::wait_for([&] { return count() >= 20; }, 20)) << test::read_file(dir.file("server.log"));
    EXPECT_EQ(width, 640);

    for (int round = 0; round < 2; ++round) {
        server.stop();
        const size_t before = count();
        ASSERT_TRUE(server.start()) << test::read_file(dir.file("server.log"));
        ASSERT_TRUE(test::wait_for([&] { return count() >= before + 20; }, 30))
            << "no frames after server restart " << round << ": " << cam.stats().last_error;
    }
    cam.stop();
    const CaptureStats st = cam.stats();
    EXPECT_GE(st.reconnects, 2);
    std::lock_guard lk(mu);
    for (size_t i = 1; i < pts.size(); ++i) ASSERT_GT(pts[i], pts[i - 1]) << "at frame " << i;
    EXPECT_GT(gens.back(), gens.front());
}
