// Config: defaults, the shipped example configs, round trips through to_yaml, parse_camera, load_config's file checks.
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "config_test_util.h"

namespace itscam::config {
namespace {

using test::parse_error;
using test::settings_only;

TEST(ConfigDefaults, MatchSeedSettings) {
    const Config c;
    const Settings& s = c.settings;
    EXPECT_TRUE(s.ENABLE_MEMORY_PREALLOCATION);
    EXPECT_EQ(s.MEMORY_POOL_SIZE, 4);
    EXPECT_TRUE(s.MEMORY_WARMUP_ON_START);
    EXPECT_EQ(s.TOTAL_GPU_MEMORY_GB, 16.0);
    EXPECT_EQ(s.UNIFIED_MEMORY_RATIO, 0.6);
    EXPECT_EQ(s.STREAMS_PER_DEVICE, 16);
    EXPECT_EQ(s.MAX_STREAMS_PER_DEVICE, 32);
    EXPECT_TRUE(s.ENABLE_CUDA_STREAMS_MONITORING);
    EXPECT_EQ(s.CIRCUIT_BREAKER_FAILURE_THRESHOLD, 15);
    EXPECT_EQ(s.CIRCUIT_BREAKER_RECOVERY_TIMEOUT, 30.0);
    EXPECT_EQ(s.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS, 10);
    EXPECT_EQ(s.gpu_memory_failure_threshold, 3);
    EXPECT_TRUE(s.ENABLE_TENSORRT);
    EXPECT_FALSE(s.ENABLE_TORCH_JIT_OPTIMIZATION);
    EXPECT_TRUE(s.ENABLE_ADAPTIVE_QUALITY);
    EXPECT_EQ(s.TARGET_BANDWIDTH_REDUCTION, 0.25);
    EXPECT_TRUE(s.ENABLE_NETWORK_AWARE_STREAMING);
    EXPECT_EQ(s.device_ids, std::vector<int>{0});
    EXPECT_EQ(c.device, "cpu");
    EXPECT_EQ(c.precision, "auto");
    EXPECT_TRUE(validate(c).is_ok()) << validate(c).message();
}

TEST(ConfigDefaults, MinimalFileIsDefaultsWithResolvedBatchSizes) {
    ITSCAM_REQUIRE_YAML();
    const Result<Config> r = parse_config("MEMORY_POOL_SIZE: 4\n", "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    Config expected;
    expected.pipeline.max_batch_size = 1;  // by device: the CPU
    expected.pipeline.preferred_batch_sizes = {1};
    EXPECT_EQ(*r, expected);
    EXPECT_TRUE(r->env_overrides.empty());
}

TEST(ConfigDefaults, PreferredBatchSizesArePowersOfTwoThenTheMaximum) {
    Config c;
    c.pipeline.max_batch_size = 12;
    resolve(c);
    EXPECT_EQ(c.pipeline.preferred_batch_sizes, (std::vector<int>{1, 2, 4, 8, 12}));
    c.pipeline.preferred_batch_sizes = {3};
    resolve(c);  // given sizes are kept
    EXPECT_EQ(c.pipeline.preferred_batch_sizes, std::vector<int>{3});
    Config one;
    one.pipeline.max_batch_size = 1;
    resolve(one);
    EXPECT_EQ(one.pipeline.preferred_batch_sizes, std::vector<int>{1});
}

TEST(ConfigDefaults, MaxBatchSizeFollowsTheDevice) {
    ITSCAM_REQUIRE_YAML();
    struct Case {
        std::string yaml;
        int max_batch;
        std::vector<int> preferred;
    };
    for (const Case& k : std::vector<Case>{{"device: cpu\n", 1, {1}},
                                           {"device: ref\n", 1, {1}},
                                           {"device: cuda\n", 8, {1, 2, 4, 8}},
                                           {"device: cuda:1\n", 8, {1, 2, 4, 8}},
                                           {"pipeline: {max_batch_size: 0}\n", 1, {1}},
                                           {"pipeline: {max_batch_size: 4}\n", 4, {1, 2, 4}},
                                           {"device: cuda\npipeline: {max_batch_size: 2}\n", 2, {1, 2}}}) {
        const Result<Config> r = parse_config(k.yaml, "t.yaml");
        ASSERT_TRUE(r.is_ok()) << k.yaml << r.status().message();
        EXPECT_EQ(r->pipeline.max_batch_size, k.max_batch) << k.yaml;
        EXPECT_EQ(r->pipeline.preferred_batch_sizes, k.preferred) << k.yaml;
    }
    // A Config made in code: 0 resolves the same way, and validate() checks preferred sizes against that.
    Config c;
    resolve(c);
    EXPECT_EQ(c.pipeline.max_batch_size, 1);
    Config cuda;
    cuda.device = "cuda";
    resolve(cuda);
    EXPECT_EQ(cuda.pipeline.max_batch_size, 8);
    Config two;
    two.pipeline.preferred_batch_sizes = {1, 2};
    EXPECT_EQ(validate(two).message(), "pipeline.preferred_batch_sizes[1]: must be between 1 and max_batch_size (1), got 2");
    two.device = "cuda";
    EXPECT_TRUE(validate(two).is_ok());
}

TEST(ConfigDefaults, PlanCacheDir) {
    const Config defaults;
    EXPECT_EQ(defaults.plan_cache_dir, "runs/plan_cache");
    ITSCAM_REQUIRE_YAML();
    const Result<Config> set = parse_config("plan_cache_dir: /var/cache/itscam\n", "t.yaml");
    ASSERT_TRUE(set.is_ok()) << set.status().message();
    EXPECT_EQ(set->plan_cache_dir, "/var/cache/itscam");
    const Result<Config> off = parse_config("plan_cache_dir: \"\"\n", "t.yaml");
    ASSERT_TRUE(off.is_ok()) << off.status().message();
    EXPECT_EQ(off->plan_cache_dir, "");
    const Result<Config> again = parse_config(to_yaml(*set), "again.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message();
    EXPECT_EQ(again->plan_cache_dir, "/var/cache/itscam");
}

TEST(ConfigFiles, ExampleLoadsAndSpellsOutTheDefaults) {
    ITSCAM_REQUIRE_YAML();
    const std::string path = test::source_path("configs/example.yaml");
    const Result<Config> r = load_config(path);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const Config& c = *r;
    EXPECT_TRUE(validate(c).is_ok());
    EXPECT_EQ(c.source_path, path);
    // Every documented value is the default.
    EXPECT_EQ(c.settings, Settings{});
    PipelineConfig pipeline;
    pipeline.max_batch_size = 1;  // 0 in the file: by device, the CPU
    pipeline.preferred_batch_sizes = {1};
    EXPECT_EQ(c.pipeline, pipeline);
    EXPECT_EQ(c.plan_cache_dir, "runs/plan_cache");
    EXPECT_EQ(c.fallback, FallbackConfig{});
    EXPECT_EQ(c.device, "cpu");
    EXPECT_EQ(c.precision, "auto");
    EXPECT_EQ(c.threads, 0);
    EXPECT_EQ(c.imgsz, 0);
    EXPECT_EQ(c.model, "../shared/models/yolo11n.onnx");
    ASSERT_EQ(c.sinks.size(), 1u);
    EXPECT_EQ(c.sinks[0].type, "jsonl");
    EXPECT_EQ(c.sinks[0].path, "runs/detections.jsonl");
    ASSERT_EQ(c.cameras.size(), 3u);
    CameraConfig first;
    first.id = "urban_road";
    first.url = "../shared/data/videos/urban_road_cctv_360p.mp4";
    first.loop = true;
    EXPECT_EQ(c.cameras[0], first);
    EXPECT_EQ(c.cameras[1].id, "intersection");
    EXPECT_EQ(c.cameras[1].max_fps, 15.0);
    EXPECT_EQ(c.cameras[1].classes, (std::vector<int>{0, 1, 2, 3, 5, 7}));
    EXPECT_EQ(c.cameras[2].id, "highway_overpass");
    EXPECT_EQ(c.cameras[2].confidence, 0.35);
    EXPECT_TRUE(c.reserved.empty());
    // The paths are relative to the repository root; the clips and the model are in the shared folder.
    for (const CameraConfig& cam : c.cameras) {
        ASSERT_EQ(cam.url.rfind("../shared/", 0), 0u) << cam.url;
        const std::string file = std::string(ITSCAM_SHARED_DIR) + "/" + cam.url.substr(10);
        if (std::filesystem::is_directory(ITSCAM_SHARED_DIR)) {
            EXPECT_TRUE(std::filesystem::is_regular_file(file)) << file;
        }
    }
    if (std::filesystem::is_directory(ITSCAM_SHARED_DIR)) {  // the GPU machine has no shared folder
        EXPECT_TRUE(std::filesystem::is_regular_file(std::string(ITSCAM_SHARED_DIR) + "/" + c.model.substr(10)));
    }
}

TEST(ConfigFiles, CiSmokeLoads) {
    ITSCAM_REQUIRE_YAML();
    const Result<Config> r = load_config(test::source_path("configs/ci-smoke.yaml"));
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const Config& c = *r;
    EXPECT_EQ(c.device, "cpu");
    EXPECT_EQ(c.imgsz, 0);  // the model's own (yolo11n.onnx is a fixed 640 export)
    EXPECT_EQ(c.model, "../shared/models/yolo11n.onnx");
    EXPECT_EQ(c.pipeline.max_batch_size, 2);
    EXPECT_EQ(c.pipeline.preferred_batch_sizes, (std::vector<int>{1, 2}));
    ASSERT_EQ(c.sinks.size(), 1u);
    EXPECT_EQ(c.sinks[0].path, "runs/ci-smoke.jsonl");
    ASSERT_EQ(c.cameras.size(), 2u);
    for (const CameraConfig& cam : c.cameras) {
        EXPECT_FALSE(cam.loop) << cam.id;
        EXPECT_FALSE(cam.realtime) << cam.id;
        if (std::filesystem::is_directory(ITSCAM_SHARED_DIR)) {
            EXPECT_TRUE(std::filesystem::is_regular_file(std::string(ITSCAM_SHARED_DIR) + "/" + cam.url.substr(10)))
                << cam.url;
        }
    }
    EXPECT_EQ(c.cameras[0].url, "../shared/data/videos/urban_road_cctv_360p.mp4");
    EXPECT_EQ(c.cameras[1].url, "../shared/data/videos/intersection_cctv_480p.mp4");
}

TEST(ConfigParse, BooleansAcceptTheUsualSpellings) {
    ITSCAM_REQUIRE_YAML();
    const std::pair<const char*, bool> cases[] = {{"true", true}, {"True", true},   {"yes", true},    {"ON", true},
                                                  {"1", true},    {"false", false}, {"No", false},    {"off", false},
                                                  {"0", false},   {"FALSE", false}, {"\"yes\"", true}};
    for (const auto& [text, value] : cases) {
        const Result<Config> r = parse_config(std::string("ENABLE_TENSORRT: ") + text + "\n", "t.yaml");
        ASSERT_TRUE(r.is_ok()) << text << ": " << r.status().message();
        EXPECT_EQ(r->settings.ENABLE_TENSORRT, value) << text;
    }
}

TEST(ConfigParse, EverySettingIsRead) {
    ITSCAM_REQUIRE_YAML();
    const std::string yaml = R"(ENABLE_MEMORY_PREALLOCATION: false
MEMORY_POOL_SIZE: 7
MEMORY_WARMUP_ON_START: no
TOTAL_GPU_MEMORY_GB: 80
UNIFIED_MEMORY_RATIO: 0.125
STREAMS_PER_DEVICE: 4
MAX_STREAMS_PER_DEVICE: 6
ENABLE_CUDA_STREAMS_MONITORING: off
CIRCUIT_BREAKER_FAILURE_THRESHOLD: 2
CIRCUIT_BREAKER_RECOVERY_TIMEOUT: 1.5
CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: 1
circuit_breaker: {gpu_memory_failure_threshold: 9}
ENABLE_TENSORRT: false
ENABLE_TORCH_JIT_OPTIMIZATION: true
ENABLE_ADAPTIVE_QUALITY: false
TARGET_BANDWIDTH_REDUCTION: 0.5
ENABLE_NETWORK_AWARE_STREAMING: false
device_ids: [1, 0]
device: cuda:1
precision: fp32
threads: 3
model: m.onnx
imgsz: 640
pipeline: {max_batch_size: 16, preferred_batch_sizes: [4, 16], max_queue_delay_ms: 2.5, deadline_fraction: 0.25,
           queue_capacity: 3, decode_threads: 2, decode_slots: 5, inference_workers: 2, max_inference_workers: 3,
           stall_timeout_s: 4, reconnect_initial_s: 1,
           reconnect_max_s: 8, nms_iou: 0.5, max_det: 100, skip_nonref_under_overload: false}
fallback: {enabled: false, device: ref, imgsz: 320, max_fps: 5, threads: 2, model: small.onnx}
sinks: [{type: jsonl, path: out.jsonl}, {type: jsonl}]
cameras:
  - {id: cam-1, url: "rtsp://h/s", enabled: false, max_fps: 12.5, model: other.onnx, confidence: 1,
     classes: [2, 999], loop: true, realtime: false, rtsp_transport: udp}
server: {port: 8080, api_token: s3cret}
alerts: [a, b]
streaming:
)";
    const Result<Config> r = parse_config(yaml, "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const Config& c = *r;
    const Settings& s = c.settings;
    EXPECT_FALSE(s.ENABLE_MEMORY_PREALLOCATION);
    EXPECT_EQ(s.MEMORY_POOL_SIZE, 7);
    EXPECT_FALSE(s.MEMORY_WARMUP_ON_START);
    EXPECT_EQ(s.TOTAL_GPU_MEMORY_GB, 80.0);
    EXPECT_EQ(s.UNIFIED_MEMORY_RATIO, 0.125);
    EXPECT_EQ(s.STREAMS_PER_DEVICE, 4);
    EXPECT_EQ(s.MAX_STREAMS_PER_DEVICE, 6);
    EXPECT_FALSE(s.ENABLE_CUDA_STREAMS_MONITORING);
    EXPECT_EQ(s.CIRCUIT_BREAKER_FAILURE_THRESHOLD, 2);
    EXPECT_EQ(s.CIRCUIT_BREAKER_RECOVERY_TIMEOUT, 1.5);
    EXPECT_EQ(s.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS, 1);
    EXPECT_EQ(s.gpu_memory_failure_threshold, 9);
    EXPECT_FALSE(s.ENABLE_TENSORRT);
    EXPECT_TRUE(s.ENABLE_TORCH_JIT_OPTIMIZATION);
    EXPECT_FALSE(s.ENABLE_ADAPTIVE_QUALITY);
    EXPECT_EQ(s.TARGET_BANDWIDTH_REDUCTION, 0.5);
    EXPECT_FALSE(s.ENABLE_NETWORK_AWARE_STREAMING);
    EXPECT_EQ(s.device_ids, (std::vector<int>{1, 0}));
    EXPECT_EQ(c.device, "cuda:1");
    EXPECT_EQ(c.precision, "fp32");  // not a reduced one: ENABLE_TORCH_JIT_OPTIMIZATION keeps fp32
    EXPECT_EQ(c.threads, 3);
    EXPECT_EQ(c.model, "m.onnx");
    EXPECT_EQ(c.imgsz, 640);
    const PipelineConfig& p = c.pipeline;
    EXPECT_EQ(p.max_batch_size, 16);
    EXPECT_EQ(p.preferred_batch_sizes, (std::vector<int>{4, 16}));
    EXPECT_EQ(p.max_queue_delay_ms, 2.5);
    EXPECT_EQ(p.deadline_fraction, 0.25);
    EXPECT_EQ(p.queue_capacity, 3);
    EXPECT_EQ(p.decode_threads, 2);
    EXPECT_EQ(p.decode_slots, 5);
    EXPECT_EQ(p.inference_workers, 2);
    EXPECT_EQ(p.max_inference_workers, 3);
    EXPECT_EQ(PipelineConfig{}.max_inference_workers, 0);
    EXPECT_FALSE(p.skip_nonref_under_overload);
    EXPECT_TRUE(PipelineConfig{}.skip_nonref_under_overload);
    EXPECT_EQ(p.stall_timeout_s, 4.0);
    EXPECT_EQ(p.reconnect_initial_s, 1.0);
    EXPECT_EQ(p.reconnect_max_s, 8.0);
    EXPECT_EQ(p.nms_iou, 0.5);
    EXPECT_EQ(p.max_det, 100);
    EXPECT_EQ(c.fallback, (FallbackConfig{false, "ref", 320, 5.0, 2, "small.onnx"}));
    ASSERT_EQ(c.sinks.size(), 2u);
    EXPECT_EQ(c.sinks[0].path, "out.jsonl");
    EXPECT_EQ(c.sinks[1].path, "-");
    ASSERT_EQ(c.cameras.size(), 1u);
    const CameraConfig& cam = c.cameras[0];
    EXPECT_EQ(cam.id, "cam-1");
    EXPECT_EQ(cam.url, "rtsp://h/s");
    EXPECT_FALSE(cam.enabled);
    EXPECT_EQ(cam.max_fps, 12.5);
    EXPECT_EQ(cam.model, "other.onnx");
    EXPECT_EQ(cam.confidence, 1.0);
    EXPECT_EQ(cam.classes, (std::vector<int>{2, 999}));
    EXPECT_TRUE(cam.loop);
    EXPECT_FALSE(cam.realtime);
    EXPECT_EQ(cam.rtsp_transport, "udp");
    EXPECT_EQ(c.reserved.size(), 1u);  // alerts
    EXPECT_EQ(c.streaming, StreamingConfig{});  // `streaming:` with nothing: the defaults
    EXPECT_EQ(c.server.port, 8080);
    EXPECT_EQ(c.server.api_token, "s3cret");
    EXPECT_EQ(c.server.host, "127.0.0.1");

    // And it survives a round trip (with the token written out).
    const Result<Config> again = parse_config(to_yaml(c, Secrets::kReveal), "roundtrip.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message() << "\n" << to_yaml(c, Secrets::kReveal);
    EXPECT_EQ(*again, c);
}

TEST(ConfigParse, TopLevelGpuMemoryFailureThreshold) {
    ITSCAM_REQUIRE_YAML();
    const Result<Config> r = parse_config("gpu_memory_failure_threshold: 5\n", "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->settings.gpu_memory_failure_threshold, 5);
}

TEST(ConfigParse, AnchorsAndAliasesWork) {
    ITSCAM_REQUIRE_YAML();
    const std::string yaml = R"(model: m.onnx
classes_of_interest: &vehicles [2, 3, 5, 7]
)";
    // Unknown keys stay errors even when they only hold an anchor...
    EXPECT_NE(parse_error(yaml).find("unknown setting 'classes_of_interest'"), std::string::npos);
    // ...but anchors inside known settings are fine.
    const Result<Config> r = parse_config(R"(model: m.onnx
cameras:
  - {id: a, url: a.mp4, classes: &vehicles [2, 3, 5, 7]}
  - {id: b, url: b.mp4, classes: *vehicles}
)",
                                          "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->cameras[1].classes, (std::vector<int>{2, 3, 5, 7}));
}

TEST(ConfigRoundTrip, ExampleRoundTrips) {
    ITSCAM_REQUIRE_YAML();
    const Result<Config> r = load_config(test::source_path("configs/example.yaml"));
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const std::string text = to_yaml(*r);
    const Result<Config> again = parse_config(text, "printed.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message() << "\n" << text;
    EXPECT_EQ(settings_only(*again), settings_only(*r));
    EXPECT_EQ(to_yaml(settings_only(*again)), to_yaml(settings_only(*r)));
}

TEST(ConfigRoundTrip, AwkwardStringsAndNumbers) {
    ITSCAM_REQUIRE_YAML();
    Config c;
    c.model = "dir with spaces/#not a comment: \"quoted\" \\ 'single' \xc3\xa9t\xc3\xa9.onnx";
    c.settings.TOTAL_GPU_MEMORY_GB = 0.1 + 0.2;
    c.settings.UNIFIED_MEMORY_RATIO = 1e-7;
    c.settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT = 1e300;
    c.settings.device_ids = {3, 1};
    c.pipeline.max_batch_size = 8;  // the default, 0, is 1 on the CPU
    c.pipeline.preferred_batch_sizes = {1, 8};
    c.pipeline.max_queue_delay_ms = 1.0 / 3.0;
    c.sinks.push_back({"jsonl", "- not stdout"});
    CameraConfig cam;
    cam.id = "yes";    // looks like a boolean
    cam.url = "null";  // looks like null
    cam.model = "";
    cam.classes = {0, 999};
    c.cameras.push_back(cam);
    cam.id = "0123";
    // Control characters (tab, newline) are refused in every string setting (config_limits_test.cpp).
    cam.url = "  leading and trailing spaces  # not a comment: 'quotes' \"and\" \\backslash";
    c.cameras.push_back(cam);
    c.reserved["alerts"] = "port: 8080\nroutes:\n  - /health\n  - /metrics";
    c.server.port = 0;
    c.server.api_token = "tok en:with#odd chars";
    c.plan_cache_dir = "literal ${NOT_A_VARIABLE} and $${ and $$${x} and trailing $";
    ASSERT_TRUE(validate(c).is_ok()) << validate(c).message();
    const std::string text = to_yaml(c, Secrets::kReveal);
    const Result<Config> again = parse_config(text, "printed.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message() << "\n" << text;
    EXPECT_EQ(*again, c) << text;
}

TEST(ConfigRoundTrip, EnvOverridesArePrintedAsComments) {
    ITSCAM_REQUIRE_YAML();
    const Env env = {{"MEMORY_POOL_SIZE", "9"}};
    const Result<Config> r = parse_config("MEMORY_POOL_SIZE: 4\n", "t.yaml", &env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const std::string text = to_yaml(*r);
    EXPECT_NE(text.find("# from the environment: MEMORY_POOL_SIZE=9\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nMEMORY_POOL_SIZE: 9\n"), std::string::npos) << text;
    const Result<Config> again = parse_config(text, "printed.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message();
    EXPECT_EQ(settings_only(*again), settings_only(*r));
}

TEST(ConfigRoundTrip, ToYamlWorksWithoutYamlSupportToo) {
    Config c;
    c.model = "m.onnx";
    const std::string text = to_yaml(c);
    EXPECT_NE(text.find("MEMORY_POOL_SIZE: 4\n"), std::string::npos);
    EXPECT_NE(text.find("gpu_memory_failure_threshold: 3\n"), std::string::npos);
    EXPECT_NE(text.find("device_ids: [0]\n"), std::string::npos);
    EXPECT_NE(text.find("model: \"m.onnx\"\n"), std::string::npos);
    EXPECT_NE(text.find("pipeline:\n  max_batch_size: 0\n"), std::string::npos);  // as set: 0, by device
    EXPECT_NE(text.find("cameras: []\n"), std::string::npos);
}

TEST(ParseCamera, Json) {
    ITSCAM_REQUIRE_YAML();
    const Result<CameraConfig> r = parse_camera(
        R"({"id": "cam9", "url": "rtsp://10.0.0.9/live", "max_fps": 12.5, "classes": [2, 7], "loop": false,
            "enabled": true, "confidence": 0.4, "rtsp_transport": "udp"})",
        "POST /cameras");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->id, "cam9");
    EXPECT_EQ(r->url, "rtsp://10.0.0.9/live");
    EXPECT_EQ(r->max_fps, 12.5);
    EXPECT_EQ(r->classes, (std::vector<int>{2, 7}));
    EXPECT_FALSE(r->loop);
    EXPECT_EQ(r->confidence, 0.4);
    EXPECT_EQ(r->rtsp_transport, "udp");
    EXPECT_TRUE(r->realtime);
}

TEST(ParseCamera, YamlAndErrors) {
    ITSCAM_REQUIRE_YAML();
    const Result<CameraConfig> y = parse_camera("id: c1\nurl: synthetic://640x480@25\n", "api");
    ASSERT_TRUE(y.is_ok()) << y.status().message();
    EXPECT_EQ(y->url, "synthetic://640x480@25");

    auto err = [](const std::string& text) {
        const Result<CameraConfig> r = parse_camera(text, "api");
        return r.is_ok() ? std::string("OK") : r.status().message();
    };
    EXPECT_EQ(err(R"({"id": "cam9"})"), "api:1:1: missing required setting 'url'");
    EXPECT_EQ(err(R"({"url": "x.mp4"})"), "api:1:1: missing required setting 'id'");
    EXPECT_EQ(err(R"({"id": "c", "url": "u", "confidence": 2})"),
              "api:1:39: confidence: must be greater than 0 and at most 1, got 2");
    EXPECT_EQ(err(R"({"id": "a/b", "url": "u"})"), "api:1:8: id: must be 1 to 64 of A-Z a-z 0-9 _ . - (and not '.' or '..'), got 'a/b'");
    EXPECT_EQ(err(R"({"id": "c", "url": "u", "fps": 2})"), "api:1:25: unknown setting 'fps'");
    EXPECT_EQ(err(R"({"id": "c", "url": "u", "max_fp": 2})"),
              "api:1:25: unknown setting 'max_fp' (did you mean 'max_fps'?)");
    EXPECT_EQ(err(R"({"id": "c", "url": "u", "classes": [1, -1]})"),
              "api:1:40: classes[1]: must be between 0 and "
              "999, got -1");
    EXPECT_EQ(err(R"(["id", "url"])"), "api:1:1: expected a map with at least id and url, got a list");
    EXPECT_EQ(err(R"({"id": "c", "url": )"), err(R"({"id": "c", "url": )"));  // deterministic
    EXPECT_EQ(err(R"({"id": "c", "url": )").rfind("api:1:", 0), 0u) << err(R"({"id": "c", "url": )");
    EXPECT_EQ(err(""), "api:1:1: the configuration is empty (expected a map of settings)");
}

TEST(LoadConfig, FileProblems) {
    ITSCAM_REQUIRE_YAML();
    const std::string missing = test::temp_path("missing.yaml");
    std::filesystem::remove(missing);
    Result<Config> r = load_config(missing);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(r.status().message(), missing + ": no such file");

    const std::string dir = test::temp_path("dir");
    std::filesystem::create_directories(dir);
    r = load_config(dir);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().message(), dir + ": is a directory");

    const std::string big = test::temp_path("big.yaml");
    {
        std::ofstream f(big, std::ios::binary);
        const std::string line = "# padding padding padding padding padding padding padding padding padding\n";
        for (size_t n = 0; n <= (1u << 20); n += line.size()) f << line;
        f << "MEMORY_POOL_SIZE: 4\n";
    }
    r = load_config(big);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("too large for a config file (at most 1 MiB)"), std::string::npos)
        << r.status().message();
    std::filesystem::remove(big);

    const std::string bad = test::temp_path("bad.yaml");
    {
        std::ofstream f(bad, std::ios::binary);
        f << "MEMORY_POOL_SIZE: 4\nMEMORY_POOL_SIZE: 5\n";
    }
    r = load_config(bad);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().message(), bad + ":2:1: setting 'MEMORY_POOL_SIZE' is given twice");

    if (geteuid() != 0) {  // root reads anything
        std::filesystem::permissions(bad, std::filesystem::perms::none);
        r = load_config(bad);
        ASSERT_FALSE(r.is_ok());
        EXPECT_EQ(r.status().code(), StatusCode::kIo);
        EXPECT_NE(r.status().message().find(bad + ": cannot open"), std::string::npos) << r.status().message();
        std::filesystem::permissions(bad, std::filesystem::perms::owner_all);
    }
    std::filesystem::remove(bad);
}

TEST(Validate, ProgrammaticConfigs) {
    Config c;
    EXPECT_TRUE(validate(c).is_ok());  // empty preferred_batch_sizes is fine
    CameraConfig cam;
    cam.id = "a";
    cam.url = "x.mp4";
    c.cameras.push_back(cam);
    EXPECT_EQ(validate(c).message(),
              "cameras[0]: no model: set 'model' at the top level (or ITSCAM_MODEL) or for this camera");
    c.model = "m.onnx";
    EXPECT_TRUE(validate(c).is_ok()) << validate(c).message();
    c.cameras[0].confidence = std::nan("");
    EXPECT_EQ(validate(c).message(), "cameras[0].confidence: must be greater than 0 and at most 1, got nan");
    c.cameras[0].confidence = 0.5;
    c.cameras.push_back(cam);
    EXPECT_EQ(validate(c).message(), "cameras[1].id: camera id 'a' is already used by cameras[0]");
    c.cameras.pop_back();
    c.fallback.imgsz = 100;
    EXPECT_EQ(validate(c).message(),
              "fallback.imgsz: must be 0 (the model's) or a multiple of 32 between 32 and 4096, got 100");
    c.fallback.imgsz = 320;
    c.settings.TOTAL_GPU_MEMORY_GB = INFINITY;
    EXPECT_EQ(validate(c).message(), "TOTAL_GPU_MEMORY_GB: must be greater than 0, got inf");
    c.settings.TOTAL_GPU_MEMORY_GB = 8;
    c.pipeline.reconnect_max_s = 0.25;
    EXPECT_EQ(validate(c).message(), "pipeline.reconnect_max_s: must be at least reconnect_initial_s (0.5), got 0.25");
    c.pipeline.reconnect_max_s = 30;
    c.device = "cuda:12";
    EXPECT_TRUE(validate(c).is_ok());
    c.device = "cuda:";
    EXPECT_EQ(validate(c).message(), "device: expected one of cpu, ref, cuda, cuda:N, got 'cuda:'");
}

#ifndef ITSCAM_HAVE_YAML
TEST(NoYaml, ParsersSayUnsupported) {
    EXPECT_EQ(parse_config("a: 1", "t.yaml").status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(load_config("x.yaml").status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(parse_camera("{}", "api").status().code(), StatusCode::kUnsupported);
    EXPECT_NE(parse_config("a: 1", "t.yaml").status().message().find("built without YAML support"), std::string::npos);
}
#endif

}  // namespace
}  // namespace itscam::config

namespace itscam::config {
TEST(ConfigReserved, AlertsSectionIsAlsoGivenAsTypedJson) {
    const Result<Config> r = parse_config(
        "alerts:\n  webhook: {url: 'http://127.0.0.1:9/hook'}\n  rules:\n"
        "    inference_latency_p99_high: {threshold: 90, for: 10s, enabled: true, note: \"a \\\"q\\\"\"}\n"
        "  hysteresis: 0.1\n  list: [1, -2.5, null, yes]\n",
        "a.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->reserved_json.sections.at("alerts"),
              "{\"webhook\":{\"url\":\"http://127.0.0.1:9/hook\"},\"rules\":{\"inference_latency_p99_high\":"
              "{\"threshold\":90,\"for\":\"10s\",\"enabled\":true,\"note\":\"a \\\"q\\\"\"}},\"hysteresis\":0.1,"
              "\"list\":[1,-2.5,null,\"yes\"]}");
}
}  // namespace itscam::config
