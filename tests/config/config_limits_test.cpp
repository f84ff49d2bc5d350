// Input limits (config_limits.cpp): camera URL schemes, string lengths, control characters, "." and ".." ids,
// numbers beyond a double, server.allow_file_cameras and its environment variable, and a camera that points at the
// service's own HTTP server. The API's parse_camera and the config file share every rule.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_util.h"

namespace itscam::config {
namespace {

using test::parse_error;

// parse_camera's message for a camera with this URL, or "OK".
std::string url_error(const std::string& url_json) {
    const Result<CameraConfig> r = parse_camera(R"({"id": "c", "url": )" + url_json + "}", "api");
    return r.is_ok() ? std::string("OK") : r.status().message();
}

// `s` in double quotes (appended: GCC 12 reports a false -Wrestrict on "\"" + std::string).
std::string quoted(const std::string& s) {
    std::string r;
    r += '"';
    r += s;
    r += '"';
    return r;
}

std::string camera_error(const std::string& json) {
    const Result<CameraConfig> r = parse_camera(json, "api");
    return r.is_ok() ? std::string("OK") : r.status().message();
}

TEST(CameraUrl, AllowedSchemes) {
    ITSCAM_REQUIRE_YAML();
    for (const char* url : {"rtsp://10.0.0.9/live", "RTSP://10.0.0.9/live", "rtsps://h:322/s", "http://h/x.m3u8",
                            "HTTPS://h/x", "rtsp://user:pw@h/s", "synthetic://64x64@5", "clip.mp4",
                            "../shared/data/videos/a.mp4", "/abs/a.mp4", "./my:clip.mp4", "file:///abs/a.mp4"}) {
        EXPECT_EQ(url_error(quoted(url)), "OK") << url;
    }
    EXPECT_EQ(camera_url_kind("rtsp://h/s"), UrlKind::kNetwork);
    EXPECT_EQ(camera_url_kind("Https://h/s"), UrlKind::kNetwork);
    EXPECT_EQ(camera_url_kind("a.mp4"), UrlKind::kFile);
    EXPECT_EQ(camera_url_kind("file:///a.mp4"), UrlKind::kFile);
    EXPECT_EQ(camera_url_kind("synthetic://1x1@1"), UrlKind::kSynthetic);
    EXPECT_EQ(camera_url_kind("gopher://h/"), UrlKind::kRefused);
}

TEST(CameraUrl, RefusedSchemes) {
    ITSCAM_REQUIRE_YAML();
    // Every FFmpeg protocol but the camera ones, in the forms FFmpeg itself recognizes (url_find_protocol).
    const std::pair<const char*, const char*> cases[] = {
        {"gopher://127.0.0.1:70/x", "gopher"},
        {"ftp://h/a.mp4", "ftp"},
        {"concat:/etc/passwd|/etc/hosts", "concat"},
        {"pipe:0", "pipe"},
        {"subfile,,start,0,end,100,,:/etc/passwd", "subfile"},
        {"data:video/mp4;base64,AAAA", "data"},
        {"tcp://h:1", "tcp"},
        {"udp://h:1", "udp"},
        {"rtmp://h/app", "rtmp"},
        {"crypto+file:///x", "crypto+file"},
        {"async:file:/x", "async"},
        {"cache:http://h/x", "cache"},
        {"unix:/tmp/s", "unix"},
        {"fd:3", "fd"},
        {"hls+http://h/x.m3u8", "hls+http"},
        {"my:clip.mp4", "my"},
    };
    for (const auto& [url, scheme] : cases) {
        const std::string e = url_error(quoted(url));
        EXPECT_EQ(e.rfind("api:1:", 0), 0u) << e;
        EXPECT_NE(
            e.find(std::string("url: scheme '") + scheme + ":' is not allowed (allowed: rtsp, rtsps, http, https"),
            std::string::npos)
            << url << " -> " << e;
    }
    // The camera schemes need a host part; file: needs file:///path.
    EXPECT_NE(url_error(R"("rtsp:h/s")").find("url: expected rtsp://host/..."), std::string::npos);
    EXPECT_NE(url_error(R"("http://")").find("url: expected http://host/..."), std::string::npos);
    EXPECT_NE(url_error(R"("file:/etc/passwd")").find("url: expected file:///path or a plain path"), std::string::npos);
    // The config file is held to the same list, with a file position.
    EXPECT_EQ(parse_error("model: m.onnx\ncameras:\n  - {id: a, url: 'gopher://h/'}\n"),
              "t.yaml:3:18: cameras[0].url: scheme 'gopher:' is not allowed (allowed: rtsp, rtsps, http, https; "
              "local files as a path or file:///path; a file name with ':' in it as ./name), got 'gopher://h/'");
}

TEST(CameraUrl, LengthAndControlCharacters) {
    ITSCAM_REQUIRE_YAML();
    const std::string base = "rtsp://h/";
    EXPECT_EQ(url_error(quoted(base + std::string(4096 - base.size(), 'a'))), "OK");
    EXPECT_EQ(url_error(quoted(base + std::string(4097 - base.size(), 'a'))),
              "api:1:20: url: is 4097 bytes long, at most 4096 are allowed");
    // A NUL would make the stored URL differ from the one FFmpeg opens (it stops at the NUL).
    EXPECT_EQ(url_error(R"("a.mp4\u0000.txt")"),
              "api:1:20: url: contains a control character ('\\x00' at byte 5), got 'a.mp4\\x00.txt'");
    EXPECT_NE(url_error(R"("rtsp://h/a\nb")").find("url: contains a control character ('\\x0a' at byte 10)"),
              std::string::npos);
    EXPECT_NE(url_error(R"("rtsp://h/a\u007fb")").find("contains a control character"), std::string::npos);
    EXPECT_EQ(url_error(R"("")"), "api:1:20: url: must not be empty");
}

TEST(CameraId, DotsLengthAndNul) {
    ITSCAM_REQUIRE_YAML();
    const std::string rule = "id: must be 1 to 64 of A-Z a-z 0-9 _ . - (and not '.' or '..'), got ";
    EXPECT_EQ(camera_error(R"({"id": ".", "url": "a.mp4"})"), "api:1:8: " + rule + "'.'");
    EXPECT_EQ(camera_error(R"({"id": "..", "url": "a.mp4"})"), "api:1:8: " + rule + "'..'");
    EXPECT_EQ(camera_error(R"({"id": "...", "url": "a.mp4"})"), "OK");
    EXPECT_EQ(camera_error(R"({"id": "a.b", "url": "a.mp4"})"), "OK");
    EXPECT_EQ(camera_error(R"({"id": "a\u0000b", "url": "a.mp4"})"), "api:1:8: " + rule + "'a\\x00b'");
    EXPECT_EQ(camera_error(R"({"id": ")" + std::string(64, 'x') + R"(", "url": "a.mp4"})"), "OK");
    EXPECT_EQ(camera_error(R"({"id": ")" + std::string(65, 'x') + R"(", "url": "a.mp4"})"),
              "api:1:8: " + rule + "'" + std::string(60, 'x') + "...'");
    EXPECT_EQ(parse_error("model: m.onnx\ncameras:\n  - {id: '..', url: a.mp4}\n"),
              "t.yaml:3:10: cameras[0]." + rule + "'..'");
}

TEST(CameraNumbers, OutOfRangeAndNotFinite) {
    ITSCAM_REQUIRE_YAML();
    // 1e999 is valid JSON but beyond a double: a 400 naming the field, never a 500.
    EXPECT_EQ(camera_error(R"({"id": "c", "url": "a.mp4", "confidence": 1e999})"),
              "api:1:43: confidence: number out of range, got '1e999'");
    EXPECT_EQ(camera_error(R"({"id": "c", "url": "a.mp4", "confidence": -1e999})"),
              "api:1:43: confidence: number out of range, got '-1e999'");
    EXPECT_EQ(camera_error(R"({"id": "c", "url": "a.mp4", "max_fps": 1e999})"),
              "api:1:40: max_fps: number out of range, got '1e999'");
    EXPECT_EQ(camera_error(R"({"id": "c", "url": "a.mp4", "max_fps": 1e300})"),
              "api:1:40: max_fps: must be at most 1000, got 1e+300");
    EXPECT_EQ(camera_error(R"({"id": "c", "url": "a.mp4", "classes": [1e999]})"),
              "api:1:41: classes[0]: expected an integer, got '1e999'");
    EXPECT_EQ(camera_error(R"({"id": "c", "url": "a.mp4", "classes": [99999999999]})"),
              "api:1:41: classes[0]: integer out of range, got '99999999999'");
    EXPECT_EQ(camera_error("{id: c, url: a.mp4, confidence: .nan}"),
              "api:1:33: confidence: expected a number, got '.nan'");
    EXPECT_EQ(camera_error("{id: c, url: a.mp4, confidence: nan}"),
              "api:1:33: confidence: expected a finite number, got 'nan'");
    EXPECT_EQ(camera_error("{id: c, url: a.mp4, max_fps: inf}"),
              "api:1:30: max_fps: expected a finite number, got 'inf'");
    std::string many = R"({"id": "c", "url": "a.mp4", "classes": [)";
    for (int i = 0; i < 1001; ++i) {
        if (i) many += ',';
        many += std::to_string(i % 1000);
    }
    EXPECT_NE(camera_error(many + "]}").find("classes: lists 1001 classes, at most 1000 are allowed"),
              std::string::npos);
    // The same in the config file and the environment.
    EXPECT_EQ(parse_error("model: m.onnx\npipeline: {nms_iou: 1e999}\n"),
              "t.yaml:2:21: pipeline.nms_iou: number out of range, got '1e999'");
    const Env env{{"TOTAL_GPU_MEMORY_GB", "1e999"}};
    EXPECT_EQ(parse_error("model: m.onnx\n", &env), "environment: TOTAL_GPU_MEMORY_GB='1e999': number out of range");
}

TEST(ConfigStrings, LengthAndControlCharacters) {
    ITSCAM_REQUIRE_YAML();
    EXPECT_EQ(parse_error("model: '" + std::string(4097, 'm') + "'\n"),
              "t.yaml:1:8: model: is 4097 bytes long, at most 4096 are allowed");
    EXPECT_EQ(parse_error("model: \"m\\0.onnx\"\n"),
              "t.yaml:1:8: model: contains a control character ('\\x00' at byte 1), got 'm\\x00.onnx'");
    EXPECT_EQ(parse_error("model: m.onnx\nhistory: {path: \"a\\nb.db\"}\n"),
              "t.yaml:2:17: history.path: contains a control character ('\\x0a' at byte 1), got 'a\\x0ab.db'");
    EXPECT_EQ(parse_error("model: m.onnx\nserver: {host: '" + std::string(254, 'h') + "'}\n"),
              "t.yaml:2:16: server.host: is 254 bytes long, at most 253 are allowed");
    EXPECT_EQ(parse_error("model: m.onnx\nsinks: [{path: \"o\\tut.jsonl\"}]\n")
                  .rfind("t.yaml:2:16: sinks[0].path: "
                         "contains a control character",
                         0),
              0u);
    EXPECT_NE(parse_error("model: m.onnx\ncameras: [{id: a, url: a.mp4, model: \"x\\0\"}]\n")
                  .find("cameras[0].model: contains a control character"),
              std::string::npos);
    const Env env{{"ITSCAM_API_TOKEN", std::string(4097, 't')}};
    EXPECT_EQ(parse_error("model: m.onnx\n", &env).rfind("environment: ITSCAM_API_TOKEN=", 0), 0u);
}

TEST(AllowFileCameras, DefaultEnvironmentAndRuntimeRule) {
    ITSCAM_REQUIRE_YAML();
    // Off by default; config-file cameras may be files regardless.
    auto c = parse_config("model: m.onnx\ncameras: [{id: a, url: a.mp4}]\n", "t.yaml");
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    EXPECT_FALSE(c->server.allow_file_cameras);
    CameraConfig file_cam;
    file_cam.id = "f";
    file_cam.url = "/etc/passwd";
    const Status refused = check_added_camera(*c, file_cam);
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(refused.message(),
              "url: local files may be added at run time only when server.allow_file_cameras is true "
              "(ITSCAM_ALLOW_FILE_CAMERAS); cameras in the config file may always be files, got '/etc/passwd'");
    file_cam.url = "file:///etc/passwd";
    EXPECT_FALSE(check_added_camera(*c, file_cam).is_ok());
    CameraConfig net = file_cam;
    net.url = "rtsp://h/s";
    EXPECT_TRUE(check_added_camera(*c, net).is_ok());
    net.url = "synthetic://64x64@5";
    EXPECT_TRUE(check_added_camera(*c, net).is_ok());

    c = parse_config("model: m.onnx\nserver: {allow_file_cameras: true}\n", "t.yaml");
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    EXPECT_TRUE(c->server.allow_file_cameras);
    file_cam.url = "/videos/a.mp4";
    EXPECT_TRUE(check_added_camera(*c, file_cam).is_ok());
    // to_yaml writes it, and it reads back.
    EXPECT_NE(to_yaml(*c).find("allow_file_cameras: true"), std::string::npos);

    const Env on{{"ITSCAM_ALLOW_FILE_CAMERAS", "yes"}};
    c = parse_config("model: m.onnx\n", "t.yaml", &on);
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    EXPECT_TRUE(c->server.allow_file_cameras);
    const Env bad{{"ITSCAM_ALLOW_FILE_CAMERAS", "sometimes"}};
    EXPECT_EQ(parse_error("model: m.onnx\n", &bad).rfind("environment: ITSCAM_ALLOW_FILE_CAMERAS='sometimes'", 0), 0u)
        << parse_error("model: m.onnx\n", &bad);
}

TEST(CameraUrl, NotTheServiceItself) {
    ITSCAM_REQUIRE_YAML();
    const std::string head = "model: m.onnx\nserver: {port: 8000}\ncameras:\n  - {id: a, url: '";
    for (const char* url : {"http://127.0.0.1:8000/streams/b/live.mp4", "http://localhost:8000/streams/b/live.mp4",
                            "HTTP://user:pw@LOCALHOST:8000/x", "http://[::1]:8000/x", "http://0.0.0.0:8000/"}) {
        EXPECT_EQ(parse_error(head + url + "'}\n"),
                  "t.yaml:4:18: cameras[0].url: points at this service's own HTTP server (server.host 127.0.0.1, "
                  "port 8000): a camera cannot read the service's own streams")
            << url;
    }
    // Another port or host, or the server off, is a camera like any other.
    EXPECT_EQ(parse_error(head + "http://127.0.0.1:8001/x'}\n"), "OK");
    EXPECT_EQ(parse_error(head + "http://10.0.0.2:8000/x'}\n"), "OK");
    EXPECT_EQ(parse_error(head + "rtsp://127.0.0.1:8000/x'}\n"), "OK");
    // No port written: the scheme's default.
    EXPECT_NE(parse_error("model: m.onnx\nserver: {port: 80}\ncameras: [{id: a, url: 'http://localhost/x'}]\n")
                  .find("points at this service's own HTTP server"),
              std::string::npos);
    EXPECT_EQ(parse_error("model: m.onnx\nserver: {enabled: false, port: 8000}\ncameras: [{id: a, url: "
                          "'http://127.0.0.1:8000/x'}]\n"),
              "OK");
}

}  // namespace
}  // namespace itscam::config
