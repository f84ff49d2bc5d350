// The stream hub behind the HTTP service over real loopback HTTP: /streams/{id}/live.mp4 is a chunked fMP4 that
// ffprobe reads (init segment, then moof/mdat from a keyframe, monotonic timestamps); several viewers share one
// encode while a deliberately slow one skips (the others unaffected, its queue bounded); a viewer that disconnects
// mid-fragment frees its slot; max_viewers answers 503; the detections SSE stream carries the video's pts; unknown
// cameras and renditions are 404/400; the metrics pass promtool. Frames come from a synthetic feeder that calls
// StreamHub::push the way the pipeline's frame hook does.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "../service/service_test_util.h"
#include "pipeline/pipeline.h"
#include "service/http_service.h"
#include "streaming/stream_hub.h"
#include "streaming_test_util.h"
#include "streaming/encoder.h"

using namespace itscam;
using namespace itscam::service;
using namespace itscam::streaming;
using namespace itscam::streaming_test;
using json = nlohmann::json;

namespace {

// A service with an empty pipeline (no model needed) and a hub fed by a synthetic 30 fps camera "cam1".
class StreamFixture : public ::testing::Test {
protected:
    void start(config::StreamingConfig sc, NetworkControllerOptions net = {}) {
        config::Config c;
        pipeline::PipelineOptions po;
        po.defer_load = true;
        auto p = pipeline::Pipeline::create(c, po);
        ASSERT_TRUE(p.is_ok()) << p.status().message();
        pipe_ = std::move(p).value();
        StreamHubOptions ho;
        ho.cfg = sc;
        ho.network = net;
        hub_ = std::make_shared<StreamHub>(ho);
        ServiceOptions so;
        so.port = 0;
        so.write_timeout_s = 3;
        so.send_buffer_bytes = 32 * 1024;  // a slow reader blocks the writer within a second, not after megabytes
        http_ = std::make_unique<HttpService>(*pipe_, so);
        http_->set_streams(hub_);
        ASSERT_TRUE(http_->start().is_ok());
        port_ = http_->port();
        feeder_ = std::thread([this] {
            const auto t0 = std::chrono::steady_clock::now();
            static const std::vector<std::string> names = {"person", "bicycle", "car"};
            for (int64_t i = 0; !stop_; ++i) {
                video::Frame f = make_frame(w_, h_, i);
                f.pts = 10.0 + double(i) / 30.0;
                pipeline::DetectionRecord r;
                r.camera = "cam1";
                r.frame = i;
                r.pts = f.pts;
                r.width = w_;
                r.height = h_;
                r.detections = frame_boxes(w_, h_, i);
                r.class_names = &names;
                // A tracking camera: ids parallel to the boxes (0: not confirmed yet), one calibrated speed, and a
                // line crossing every 10th frame.
                r.track_ids.assign(r.detections.size(), 0);
                r.speeds_kmh.assign(r.detections.size(), std::numeric_limits<float>::quiet_NaN());
                if (!r.detections.empty()) {
                    r.track_ids[0] = 12;
                    r.speeds_kmh[0] = 47.25f;
                }
                if (i % 10 == 0) {
                    analytics::AnalyticsEvent e;
                    e.kind = analytics::EventKind::kLineCrossing;
                    e.id = "cam1-1-" + std::to_string(i);
                    e.camera = "cam1";
                    e.track_id = 12;
                    e.line = "north";
                    e.direction = "inbound";
                    r.events.push_back(e);
                }
                hub_->push(f, r);
                std::this_thread::sleep_until(t0 + std::chrono::microseconds((i + 1) * 33333));
            }
        });
        // The camera exists once its first frame is in.
        for (int i = 0; i < 100 && !hub_->has_camera("cam1"); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    void TearDown() override {
        stop_ = true;
        if (feeder_.joinable()) feeder_.join();
        if (http_) http_->stop();
        hub_.reset();
    }

    httplib::Client client() {
        httplib::Client cl("127.0.0.1", port_);
        cl.set_read_timeout(5, 0);
        return cl;
    }

    // Reads a stream for `seconds` through httplib (dechunked). Returns the body bytes.
    std::string read_stream(const std::string& path, double seconds, int* status = nullptr,
                            std::string* content_type = nullptr) {
        httplib::Client cl = client();
        std::string body;
        const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        auto res = cl.Get(
            path,
            [&](const httplib::Response& r) {
                if (status) *status = r.status;
                if (content_type) *content_type = r.get_header_value("Content-Type");
                return true;
            },
            [&](const char* d, size_t n) {
                body.append(d, n);
                return std::chrono::steady_clock::now() < end;
            });
        return body;
    }

    int raw_connect() {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd);
            return -1;
        }
        return fd;
    }

    std::unique_ptr<pipeline::Pipeline> pipe_;
    std::shared_ptr<StreamHub> hub_;
    std::unique_ptr<HttpService> http_;
    std::thread feeder_;
    std::atomic<bool> stop_{false};
    int port_ = 0;
    int w_ = 640, h_ = 360;
};

config::StreamingConfig fast_config() {
    config::StreamingConfig sc;
    sc.preset = "ultrafast";
    sc.gop = 15;
    return sc;
}

// Boxes of a captured stream, with a possibly cut last box dropped.
std::vector<streaming::Mp4Box> complete_boxes(const std::string& s) {
    auto b = streaming::mp4_top_level_boxes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    while (!b.empty() && b.back().truncated) b.pop_back();
    return b;
}

}  // namespace

TEST_F(StreamFixture, LiveMp4IsAValidFragmentedMp4ThatFfprobeReads) {
    start(fast_config());
    int status = 0;
    std::string ctype;
    const std::string body = read_stream("/streams/cam1/live.mp4?rendition=source", 2.5, &status, &ctype);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(ctype, "video/mp4");
    auto boxes = complete_boxes(body);
    while (!boxes.empty() && boxes.back().type != "mdat") boxes.pop_back();  // a moof whose mdat was cut
    ASSERT_GE(boxes.size(), 10u) << body.size();
    EXPECT_EQ(boxes[0].type, "ftyp");
    EXPECT_EQ(boxes[1].type, "moov");
    int64_t last_tfdt = -1;
    size_t fragments = 0;
    for (size_t i = 2; i + 1 < boxes.size(); i += 2) {
        ASSERT_EQ(boxes[i].type, "moof") << i;
        ASSERT_EQ(boxes[i + 1].type, "mdat") << i;
        const int64_t tfdt = streaming::mp4_fragment_tfdt(
            reinterpret_cast<const uint8_t*>(body.data()) + boxes[i].offset, boxes[i].size);
        EXPECT_GT(tfdt, last_tfdt);
        last_tfdt = tfdt;
        fragments++;
    }
    EXPECT_GE(fragments, 30u);  // ~30 fps, one frame per fragment
    // The first fragment is on the camera's timeline (pts 10 s + ...), not rebased to 0.
    const int64_t first = streaming::mp4_fragment_tfdt(reinterpret_cast<const uint8_t*>(body.data()) + boxes[2].offset,
                                                   boxes[2].size);
    EXPECT_GE(first, 10 * 90000);

    if (!have_ffprobe()) GTEST_SKIP() << "ffprobe not installed";
    const std::string path = temp_file("itscam_live");
    {
        std::ofstream out(path, std::ios::binary);
        out.write(body.data(), static_cast<std::streamsize>(boxes.back().offset + boxes.back().size));
    }
    int rc = 0;
    const std::string out = run_capture(
        "ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,flags -of csv=p=0 '" + path + "' 2>&1", &rc);
    const std::string info = run_capture(
        "ffprobe -v error -show_entries stream=codec_name,width,height -of default=nw=1 '" + path + "' 2>&1");
    std::filesystem::remove(path);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(info.find("codec_name=h264"), std::string::npos) << info;
    EXPECT_NE(info.find("width=640"), std::string::npos) << info;
    std::istringstream in(out);
    std::string line;
    double last = -1;
    int n = 0;
    bool first_key = false;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        ASSERT_EQ(line.find("rror"), std::string::npos) << line;
        double t = 0;
        ASSERT_NO_THROW(t = std::stod(line.substr(0, line.find(',')))) << line;
        if (n == 0) first_key = line.find(",K") != std::string::npos;
        EXPECT_GT(t, last) << line;
        last = t;
        n++;
    }
    EXPECT_TRUE(first_key) << "the first frame a viewer gets is a keyframe";
    EXPECT_EQ(size_t(n), fragments);
}

TEST_F(StreamFixture, InfoListingAndBadRequests) {
    start(fast_config());
    httplib::Client cl = client();
    auto r = cl.Get("/streams/cam1");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["camera"], "cam1");
    const std::string mime = j["mime"];
    EXPECT_EQ(mime.rfind("video/mp4; codecs=\"avc1.", 0), 0u) << mime;
    ASSERT_EQ(j["renditions"].size(), 3u);
    EXPECT_EQ(j["renditions"][0]["width"], 640);
    EXPECT_EQ(j["renditions"][1]["height"], 360);  // 480 rung capped at the source height
    EXPECT_EQ(j["renditions"][2]["height"], 240);
    EXPECT_EQ(j["renditions"][2]["width"], 426);

    r = cl.Get("/api/v1/streams");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    const json l = json::parse(r->body);
    ASSERT_EQ(l["streams"].size(), 1u);
    EXPECT_EQ(l["streams"][0]["camera"], "cam1");

    for (const char* p : {"/streams/nope/live.mp4", "/streams/nope/detections", "/streams/nope"}) {
        r = cl.Get(p);
        ASSERT_TRUE(r) << p;
        EXPECT_EQ(r->status, 404) << p;
        EXPECT_EQ(json::parse(r->body).value("status", 0), 404) << r->body;
    }
    r = cl.Get("/streams/cam1/live.mp4?rendition=ultra");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    r = cl.Post("/streams/cam1/live.mp4", "", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
}

TEST_F(StreamFixture, SlowViewerSkipsWhileOthersAreUnaffected) {
    config::StreamingConfig sc = fast_config();
    sc.viewer_queue_fragments = 20;  // < 1 s at 30 fps
    sc.viewer_queue_kib = 512;
    start(sc);
    const double secs = 5.0;
    // The slow one: a raw socket with a tiny receive buffer that reads 1 KiB every 100 ms (~80 kbit/s).
    const int slow = raw_connect();
    ASSERT_GE(slow, 0);
    int rcv = 4096;
    setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    const std::string req = "GET /streams/cam1/live.mp4?rendition=source HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(slow, req.data(), req.size(), 0), ssize_t(req.size()));
    std::atomic<bool> done{false};
    std::thread slow_reader([&] {
        char buf[1024];
        while (!done) {
            (void)::recv(slow, buf, sizeof buf, MSG_DONTWAIT);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    std::vector<std::string> bodies(3);
    std::vector<std::thread> fast;
    for (int i = 0; i < 3; ++i)
        fast.emplace_back([&, i] { bodies[i] = read_stream("/streams/cam1/live.mp4?rendition=source", secs); });
    std::this_thread::sleep_for(std::chrono::duration<double>(secs - 0.5));
    // While all four are connected: one encode, four viewers, the slow one skipping with a bounded queue.
    auto info = hub_->stream_json("cam1");
    ASSERT_TRUE(info.is_ok());
    EXPECT_EQ((*info)["renditions"][0]["viewers"], 4) << info->dump();
    const std::string metrics = http_->metrics_text();
    for (auto& t : fast) t.join();
    done = true;
    slow_reader.join();
    ::close(slow);

    for (int i = 0; i < 3; ++i) {
        const auto boxes = complete_boxes(bodies[i]);
        // ~30 fragments a second, minus start-up: far more than the slow viewer could take.
        EXPECT_GE(boxes.size(), size_t(2 + 2 * 100)) << "fast viewer " << i;
        EXPECT_EQ(boxes[0].type, "ftyp");
    }
    // The slow viewer's metrics line: skipped, queue never above its bound.
    EXPECT_NE(metrics.find("itscam_stream_viewer_skips_total"), std::string::npos);
    int skipping = 0, viewers = 0;
    std::istringstream in(metrics);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("itscam_stream_viewer_skips_total{", 0) != 0) continue;
        viewers++;
        if (std::stoll(line.substr(line.rfind(' ') + 1)) > 0) skipping++;
    }
    EXPECT_EQ(viewers, 4) << metrics;
    EXPECT_EQ(skipping, 1) << "only the slow viewer skips:\n" << metrics;
    std::istringstream in2(metrics);
    while (std::getline(in2, line)) {
        if (line.rfind("itscam_stream_viewer_queued_bytes{", 0) != 0) continue;
        EXPECT_LE(std::stod(line.substr(line.rfind(' ') + 1)), 512.0 * 1024) << line;
    }
}

TEST_F(StreamFixture, ViewerDisconnectingMidFragmentIsHarmless) {
    start(fast_config());
    for (int round = 0; round < 3; ++round) {
        const int fd = raw_connect();
        ASSERT_GE(fd, 0);
        const std::string req = "GET /streams/cam1/live.mp4 HTTP/1.1\r\nHost: x\r\n\r\n";
        ASSERT_EQ(::send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
        // Read the headers and part of the first fragment, then vanish (RST).
        std::string got;
        char buf[700];
        while (got.size() < 3000) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            got.append(buf, size_t(n));
        }
        EXPECT_NE(got.find("200 OK"), std::string::npos);
        linger lg{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        ::close(fd);
    }
    // Each slot comes back once the writer notices.
    for (int i = 0; i < 100 && hub_->open_connections() > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(hub_->open_connections(), 0);
    // The stream goes on for the next viewer, and the API answers.
    const std::string body = read_stream("/streams/cam1/live.mp4", 1.0);
    EXPECT_GE(complete_boxes(body).size(), 10u);
    auto r = client().Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST_F(StreamFixture, MaxViewersAnswers503) {
    config::StreamingConfig sc = fast_config();
    sc.max_viewers = 2;
    start(sc);
    std::vector<int> fds;
    for (int i = 0; i < 2; ++i) {
        const int fd = raw_connect();
        const std::string req = "GET /streams/cam1/live.mp4 HTTP/1.1\r\nHost: x\r\n\r\n";
        ASSERT_EQ(::send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
        fds.push_back(fd);
    }
    for (int i = 0; i < 100 && hub_->open_connections() < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_EQ(hub_->open_connections(), 2);
    auto r = client().Get("/streams/cam1/detections");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(r->get_header_value("Retry-After"), "5");
    EXPECT_EQ(r->get_header_value("Connection"), "close");  // a refused viewer holds no connection
    // The rest of the API is unaffected.
    r = client().Get("/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    for (int fd : fds) ::close(fd);
}

TEST_F(StreamFixture, DetectionEventsCarryTheVideoTimeline) {
    start(fast_config());
    int status = 0;
    std::string ctype;
    const std::string body = read_stream("/streams/cam1/detections", 1.0, &status, &ctype);
    EXPECT_EQ(ctype, "text/event-stream");
    std::istringstream in(body);
    std::string line;
    int events = 0, crossings = 0;
    double last_pts = 0;
    while (std::getline(in, line)) {
        if (line.rfind("data: ", 0) != 0) continue;
        const json j = json::parse(line.substr(6));
        EXPECT_EQ(j["camera"], "cam1");
        const double pts = j["pts"];
        EXPECT_GT(pts, last_pts);
        EXPECT_GE(pts, 10.0);
        last_pts = pts;
        ASSERT_EQ(j["detections"].size(), 3u);
        EXPECT_EQ(j["detections"][0]["name"], "car");
        EXPECT_EQ(j["detections"][0]["box"].size(), 4u);
        EXPECT_EQ(j["detections"][0]["track_id"], 12);
        EXPECT_EQ(j["detections"][0]["speed_kmh"], 47.3);
        EXPECT_FALSE(j["detections"][1].contains("track_id"));  // not confirmed yet
        EXPECT_FALSE(j["detections"][1].contains("speed_kmh"));
        if (j.contains("events")) {
            EXPECT_EQ(j["events"][0]["type"], "line_crossing");
            EXPECT_EQ(j["events"][0]["track_id"], 12);
            crossings++;
        }
        events++;
    }
    EXPECT_GE(events, 15);
    EXPECT_GE(crossings, 1);
}

TEST_F(StreamFixture, MetricsPassPromtool) {
    start(fast_config());
    (void)read_stream("/streams/cam1/live.mp4", 1.0);
    const std::string m = http_->metrics_text();
    EXPECT_NE(m.find("itscam_stream_bitrate_bytes_per_second{camera=\"cam1\",rendition=\"source\"}"), std::string::npos);
    EXPECT_NE(m.find("itscam_stream_crf{camera=\"cam1\",rendition=\"source\"}"), std::string::npos);
    EXPECT_NE(m.find("itscam_stream_latency_p99_seconds{camera=\"cam1\"}"), std::string::npos);
    const std::string check = service::test::promtool_check(m);
    if (check.rfind("skip", 0) == 0) GTEST_SKIP() << check;
    EXPECT_EQ(check, "") << m;
}

TEST_F(StreamFixture, PoorLinkMovesAnAutoViewerToALowerRungWithLongerFragments) {
    NetworkControllerOptions net;
    net.down_hold_s = 0.5;
    net.window_s = 1.5;
    config::StreamingConfig sc = fast_config();
    sc.viewer_queue_fragments = 30;
    start(sc, net);
    // ~200 kbit/s reader: below the source rung (a few Mbit/s), above the 240p/300k rung after a while.
    const int fd = raw_connect();
    ASSERT_GE(fd, 0);
    int rcv = 8192;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    const std::string req = "GET /streams/cam1/live.mp4 HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
    std::atomic<bool> done{false};
    std::thread reader([&] {
        char buf[2500];
        while (!done) {
            (void)::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    int rung = 0;
    for (int i = 0; i < 80 && rung < 2; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const std::string m = http_->metrics_text();
        const size_t at = m.find("itscam_stream_viewer_rendition{");
        if (at == std::string::npos) continue;
        const size_t eol = m.find('\n', at);
        rung = std::stoi(m.substr(m.rfind(' ', eol) + 1, eol - m.rfind(' ', eol) - 1));
    }
    done = true;
    reader.join();
    ::close(fd);
    EXPECT_GE(rung, 1) << "the viewer left the source rung";
    const auto ladder = hub_->renditions();
    EXPECT_GT(ladder[size_t(rung)].fragment_ms, ladder[0].fragment_ms) << "lower rungs have longer fragments";
}
