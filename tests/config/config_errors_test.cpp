// Config errors: every kind, with the exact file position and key path.
#include "config_test_util.h"

namespace itscam::config {
namespace {

using test::parse_error;

struct ErrorCase {
    const char* yaml;
    const char* message;
};

void expect_errors(const std::vector<ErrorCase>& cases) {
    for (const ErrorCase& c : cases) {
        const Result<Config> r = parse_config(c.yaml, "t.yaml");
        ASSERT_FALSE(r.is_ok()) << c.yaml;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.yaml;
        EXPECT_EQ(r.status().message(), c.message) << "input:\n" << c.yaml;
    }
}

// A camera that is otherwise valid, for camera-field cases.
constexpr const char* kCam = "model: m.onnx\ncameras:\n  - id: a\n    url: a.mp4\n";

TEST(ConfigErrors, Types) {
    ITSCAM_REQUIRE_YAML();
    expect_errors({
        {"MEMORY_POOL_SIZE: four\n", "t.yaml:1:19: MEMORY_POOL_SIZE: expected an integer, got 'four'"},
        {"MEMORY_POOL_SIZE: 4.5\n", "t.yaml:1:19: MEMORY_POOL_SIZE: expected an integer, got '4.5'"},
        {"MEMORY_POOL_SIZE:\n", "t.yaml:1:1: MEMORY_POOL_SIZE: expected an integer, got nothing"},
        {"MEMORY_POOL_SIZE: 99999999999999999999999\n",
         "t.yaml:1:19: MEMORY_POOL_SIZE: integer out of range, got '99999999999999999999999'"},
        {"# settings\nENABLE_TENSORRT: maybe\n",
         "t.yaml:2:18: ENABLE_TENSORRT: expected a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'"},
        {"TOTAL_GPU_MEMORY_GB: lots\n", "t.yaml:1:22: TOTAL_GPU_MEMORY_GB: expected a number, got 'lots'"},
        {"TOTAL_GPU_MEMORY_GB: nan\n", "t.yaml:1:22: TOTAL_GPU_MEMORY_GB: expected a finite number, got 'nan'"},
        {"TOTAL_GPU_MEMORY_GB: 1e999\n", "t.yaml:1:22: TOTAL_GPU_MEMORY_GB: number out of range, got '1e999'"},
        {"model: [a, b]\n", "t.yaml:1:8: model: expected a string, got a list"},
        {"model: {a: b}\n", "t.yaml:1:8: model: expected a string, got a map"},
        {"device_ids: 0\n", "t.yaml:1:13: device_ids: expected a list of integers, got '0'"},
        {"device_ids: [0, x]\n", "t.yaml:1:17: device_ids[1]: expected an integer, got 'x'"},
        {"device_ids:\n  - 0\n  - [1]\n", "t.yaml:3:5: device_ids[1]: expected an integer, got a list"},
        {"pipeline: 3\n", "t.yaml:1:11: pipeline: expected a map, got '3'"},
        {"pipeline:\n  max_batch_size: many\n",
         "t.yaml:2:19: pipeline.max_batch_size: expected an integer, got 'many'"},
        {"fallback: [cpu]\n", "t.yaml:1:11: fallback: expected a map, got a list"},
        {"circuit_breaker: 3\n", "t.yaml:1:18: circuit_breaker: expected a map, got '3'"},
        {"sinks: {type: jsonl}\n", "t.yaml:1:8: sinks: expected a list of sinks, got a map"},
        {"sinks:\n  - jsonl\n", "t.yaml:2:5: sinks[0]: expected a map, got 'jsonl'"},
        {"cameras: cam1\n", "t.yaml:1:10: cameras: expected a list of cameras, got 'cam1'"},
        {"cameras:\n  - cam1\n", "t.yaml:2:5: cameras[0]: expected a map, got 'cam1'"},
        {"model: m\ncameras:\n  - id: a\n    url: u\n    loop: sometimes\n",
         "t.yaml:5:11: cameras[0].loop: expected a boolean (true/false, yes/no, on/off, 1/0), got 'sometimes'"},
        {"model: m\ncameras:\n  - id: a\n    url: u\n    classes: [car]\n",
         "t.yaml:5:15: cameras[0].classes[0]: expected an integer, got 'car'"},
    });
}

TEST(ConfigErrors, Ranges) {
    ITSCAM_REQUIRE_YAML();
    expect_errors({
        {"ENABLE_TENSORRT: true\nMEMORY_POOL_SIZE: 2000\n",
         "t.yaml:2:19: MEMORY_POOL_SIZE: must be between 0 and 1024, got 2000"},
        {"MEMORY_POOL_SIZE: -1\n", "t.yaml:1:19: MEMORY_POOL_SIZE: must be between 0 and 1024, got -1"},
        {"TOTAL_GPU_MEMORY_GB: 0\n", "t.yaml:1:22: TOTAL_GPU_MEMORY_GB: must be greater than 0, got 0"},
        {"UNIFIED_MEMORY_RATIO: 1.5\n", "t.yaml:1:23: UNIFIED_MEMORY_RATIO: must be between 0 and 1, got 1.5"},
        {"TARGET_BANDWIDTH_REDUCTION: -0.1\n",
         "t.yaml:1:29: TARGET_BANDWIDTH_REDUCTION: must be between 0 and 1, got -0.1"},
        {"MAX_STREAMS_PER_DEVICE: 8\nSTREAMS_PER_DEVICE: 16\n",
         "t.yaml:2:21: STREAMS_PER_DEVICE: must be between 1 and MAX_STREAMS_PER_DEVICE (8), got 16"},
        {"STREAMS_PER_DEVICE: 0\n",
         "t.yaml:1:21: STREAMS_PER_DEVICE: must be between 1 and MAX_STREAMS_PER_DEVICE (32), got 0"},
        {"MAX_STREAMS_PER_DEVICE: 0\n", "t.yaml:1:25: MAX_STREAMS_PER_DEVICE: must be between 1 and 1024, got 0"},
        {"CIRCUIT_BREAKER_FAILURE_THRESHOLD: 0\n",
         "t.yaml:1:36: CIRCUIT_BREAKER_FAILURE_THRESHOLD: must be at least 1, got 0"},
        {"CIRCUIT_BREAKER_RECOVERY_TIMEOUT: 0\n",
         "t.yaml:1:35: CIRCUIT_BREAKER_RECOVERY_TIMEOUT: must be greater than 0, got 0"},
        {"CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: 0\n",
         "t.yaml:1:38: CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: must be at least 1, got 0"},
        {"circuit_breaker:\n  gpu_memory_failure_threshold: 0\n",
         "t.yaml:2:33: gpu_memory_failure_threshold: must be at least 1, got 0"},
        {"device_ids: []\n", "t.yaml:1:13: device_ids: must list at least one device"},
        {"device_ids: [0, -1]\n", "t.yaml:1:17: device_ids[1]: must be 0 or more, got -1"},
        {"device_ids: [0, 1, 0]\n", "t.yaml:1:20: device_ids[2]: device 0 is listed twice"},
        {"device: gpu\n", "t.yaml:1:9: device: expected one of cpu, ref, cuda, cuda:N, got 'gpu'"},
        {"device: cuda:x\n", "t.yaml:1:9: device: expected one of cpu, ref, cuda, cuda:N, got 'cuda:x'"},
        {"precision: fp8\n", "t.yaml:1:12: precision: expected one of auto, fp32, bf16, int8, fp16, got 'fp8'"},
        {"threads: -2\n", "t.yaml:1:10: threads: must be between 0 and 1024, got -2"},
        {"imgsz: 100\n", "t.yaml:1:8: imgsz: must be 0 (the model's) or a multiple of 32 between 32 and 4096, got 100"},
        {"imgsz: 8192\n",
         "t.yaml:1:8: imgsz: must be 0 (the model's) or a multiple of 32 between 32 and 4096, got 8192"},
        {"pipeline:\n  max_batch_size: -1\n", "t.yaml:2:19: pipeline.max_batch_size: must be between 0 and 1024, got -1"},
        {"pipeline:\n  decode_slots: -2\n", "t.yaml:2:17: pipeline.decode_slots: must be between -1 and 4096, got -2"},
        {"pipeline:\n  inference_workers: 3\n  max_inference_workers: 2\n",
         "t.yaml:3:26: pipeline.max_inference_workers: must be 0 (no growth) or at least inference_workers (3), got 2"},
        {"pipeline:\n  max_batch_size: 2000\n",
         "t.yaml:2:19: pipeline.max_batch_size: must be between 0 and 1024, got 2000"},
        {"pipeline:\n  preferred_batch_sizes: [1, 2]\n",  // cpu: max_batch_size 0 resolves to 1
         "t.yaml:2:30: pipeline.preferred_batch_sizes[1]: must be between 1 and max_batch_size (1), got 2"},
        {"pipeline:\n  max_batch_size: 4\n  preferred_batch_sizes: [1, 8]\n",
         "t.yaml:3:30: pipeline.preferred_batch_sizes[1]: must be between 1 and max_batch_size (4), got 8"},
        {"pipeline:\n  max_batch_size: 4\n  preferred_batch_sizes: [2, 2]\n",
         "t.yaml:3:30: pipeline.preferred_batch_sizes[1]: batch size 2 is listed twice"},
        {"pipeline: {queue_capacity: 0}\n", "t.yaml:1:28: pipeline.queue_capacity: must be at least 1, got 0"},
        {"pipeline: {deadline_fraction: 2}\n",
         "t.yaml:1:31: pipeline.deadline_fraction: must be between 0 and 1, got 2"},
        {"pipeline: {stall_timeout_s: 0}\n", "t.yaml:1:29: pipeline.stall_timeout_s: must be greater than 0, got 0"},
        {"pipeline: {max_queue_delay_ms: -1}\n", "t.yaml:1:32: pipeline.max_queue_delay_ms: must be 0 or more, got -1"},
        {"pipeline: {reconnect_initial_s: 5, reconnect_max_s: 1}\n",
         "t.yaml:1:53: pipeline.reconnect_max_s: must be at least reconnect_initial_s (5), got 1"},
        {"pipeline: {nms_iou: 1.01}\n", "t.yaml:1:21: pipeline.nms_iou: must be between 0 and 1, got 1.01"},
        {"fallback:\n  imgsz: 300\n",
         "t.yaml:2:10: fallback.imgsz: must be 0 (the model's) or a multiple of 32 between 32 and 4096, got 300"},
        {"fallback:\n  device: tpu\n",
         "t.yaml:2:11: fallback.device: expected one of cpu, ref, cuda, cuda:N, got 'tpu'"},
        {"sinks:\n  - type: csv\n", "t.yaml:2:11: sinks[0].type: expected jsonl, got 'csv'"},
        {"sinks:\n  - path: ''\n", "t.yaml:2:11: sinks[0].path: must not be empty (\"-\": stdout)"},
    });
}

TEST(ConfigErrors, Cameras) {
    ITSCAM_REQUIRE_YAML();
    const std::string cam = kCam;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {cam + "    confidence: 0\n",
         "t.yaml:5:17: cameras[0].confidence: must be greater than 0 and at most 1, got 0"},
        {cam + "    confidence: 1.5\n",
         "t.yaml:5:17: cameras[0].confidence: must be greater than 0 and at most 1, got 1.5"},
        {cam + "    classes: [0, 1000]\n", "t.yaml:5:18: cameras[0].classes[1]: must be between 0 and 999, got 1000"},
        {cam + "    rtsp_transport: http\n", "t.yaml:5:21: cameras[0].rtsp_transport: expected tcp or udp, got 'http'"},
        {cam + "    max_fps: -5\n", "t.yaml:5:14: cameras[0].max_fps: must be 0 or more, got -5"},
        {cam + "  - id: a\n    url: b.mp4\n", "t.yaml:5:9: cameras[1].id: camera id 'a' is already used by cameras[0]"},
        {cam + "  - id: b c\n    url: b.mp4\n",
         "t.yaml:5:9: cameras[1].id: must be 1 to 64 of A-Z a-z 0-9 _ . - (and not '.' or '..'), got 'b c'"},
        {cam + "  - id: " + std::string(65, 'x') + "\n    url: b.mp4\n",
         "t.yaml:5:9: cameras[1].id: must be 1 to 64 of A-Z a-z 0-9 _ . - (and not '.' or '..'), got '" + std::string(60, 'x') + "...'"},
        {cam + "  - id: b\n    url: ''\n", "t.yaml:6:10: cameras[1].url: must not be empty"},
        {cam + "  - id: b\n", "t.yaml:5:5: cameras[1]: missing required setting 'url'"},
        {cam + "  - url: b.mp4\n", "t.yaml:5:5: cameras[1]: missing required setting 'id'"},
        {"cameras:\n  - id: a\n    url: a.mp4\n",
         "t.yaml:2:5: cameras[0]: no model: set 'model' at the top level (or ITSCAM_MODEL) or for this camera"},
    };
    for (const auto& [yaml, message] : cases) EXPECT_EQ(parse_error(yaml), message) << yaml;
    // A camera with its own model needs no global one.
    EXPECT_EQ(parse_error("cameras:\n  - {id: a, url: a.mp4, model: m.onnx}\n"), "OK");
}

TEST(ConfigErrors, UnknownKeysSuggestTheClosestName) {
    ITSCAM_REQUIRE_YAML();
    const std::string cam = kCam;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"ENABLE_TENSORRT: true\n\nMEMORY_POOL_SIZ: 3\n",
         "t.yaml:3:1: unknown setting 'MEMORY_POOL_SIZ' (did you mean 'MEMORY_POOL_SIZE'?)"},
        {"memory_pool_size: 3\n", "t.yaml:1:1: unknown setting 'memory_pool_size' (did you mean 'MEMORY_POOL_SIZE'?)"},
        {"device_id: [0]\n", "t.yaml:1:1: unknown setting 'device_id' (did you mean 'device_ids'?)"},
        {"ENABLE_TENSOR_RT: true\n",
         "t.yaml:1:1: unknown setting 'ENABLE_TENSOR_RT' (did you mean 'ENABLE_TENSORRT'?)"},
        {"camera:\n  - {id: a, url: b}\n", "t.yaml:1:1: unknown setting 'camera' (did you mean 'cameras'?)"},
        {"colour: blue\n", "t.yaml:1:1: unknown setting 'colour'"},
        {"pipeline:\n  max_batch: 4\n",
         "t.yaml:2:3: pipeline: unknown setting 'max_batch' (did you mean 'max_batch_size'?)"},
        {"fallback: {enable: false}\n", "t.yaml:1:12: fallback: unknown setting 'enable' (did you mean 'enabled'?)"},
        {"circuit_breaker:\n  gpu_memory_failure_treshold: 2\n",
         "t.yaml:2:3: circuit_breaker: unknown setting 'gpu_memory_failure_treshold' (did you mean "
         "'gpu_memory_failure_threshold'?)"},
        {"sinks:\n  - type: jsonl\n    pth: x\n", "t.yaml:3:5: sinks[0]: unknown setting 'pth' (did you mean 'path'?)"},
        {cam + "    confidance: 0.5\n",
         "t.yaml:5:5: cameras[0]: unknown setting 'confidance' (did you mean 'confidence'?)"},
        {cam + "    fps: 3\n", "t.yaml:5:5: cameras[0]: unknown setting 'fps'"},
    };
    for (const auto& [yaml, message] : cases) EXPECT_EQ(parse_error(yaml), message) << yaml;
}

TEST(ConfigErrors, Structure) {
    ITSCAM_REQUIRE_YAML();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "t.yaml:1:1: the configuration is empty (expected a map of settings)"},
        {"# only a comment\n\n", "t.yaml:1:1: the configuration is empty (expected a map of settings)"},
        {"---\n...\n", "t.yaml:1:1: the configuration is empty (expected a map of settings)"},
        {"- a\n- b\n", "t.yaml:1:1: expected a map of settings at the top level, got a list"},
        {"\n  hello\n", "t.yaml:2:3: expected a map of settings at the top level, got 'hello'"},
        {"MEMORY_POOL_SIZE: 1\nMEMORY_POOL_SIZE: 2\n", "t.yaml:2:1: setting 'MEMORY_POOL_SIZE' is given twice"},
        {"pipeline:\n  max_det: 1\n  max_det: 2\n", "t.yaml:3:3: pipeline: setting 'max_det' is given twice"},
        {"gpu_memory_failure_threshold: 2\ncircuit_breaker: {gpu_memory_failure_threshold: 4}\n",
         "t.yaml:2:19: gpu_memory_failure_threshold is given twice (first at line 1; use either the top-level or the "
         "circuit_breaker form)"},
        {"[a]: 1\n", "t.yaml:1:1: expected a setting name, got a list"},
        {"MEMORY_POOL_SIZE: 1\n---\nMEMORY_POOL_SIZE: 2\n",
         "t.yaml:2:1: unexpected content after the configuration (only one YAML document is allowed)"},
    };
    for (const auto& [yaml, message] : cases) EXPECT_EQ(parse_error(yaml), message) << yaml;
}

TEST(ConfigErrors, YamlSyntax) {
    ITSCAM_REQUIRE_YAML();
    // yaml-cpp's own wording, at the position it reports.
    EXPECT_EQ(parse_error("MEMORY_POOL_SIZE: [1, 2\nENABLE_TENSORRT: true\n"),
              "t.yaml:2:16: invalid YAML: end of sequence flow not found");
    EXPECT_EQ(parse_error("{MEMORY_POOL_SIZE: 4\n"), "t.yaml:2:1: invalid YAML: end of map flow not found");
    // yaml-cpp 0.7 reads a stray ',' at the top level as an endless run of empty documents.
    EXPECT_EQ(parse_error("# comment\n, oops\nMEMORY_POOL_SIZE: 4\n"),
              "t.yaml:2:1: unexpected content after the configuration (only one YAML document is allowed)");
    EXPECT_EQ(parse_error("MEMORY_POOL_SIZE: 4\n  ENABLE_TENSORRT: true\n"),
              "t.yaml:2:18: invalid YAML: illegal map value");
    // yaml-cpp 0.8 (Ubuntu 24.04) appends the anchor's name to 0.7's message.
    EXPECT_EQ(parse_error("cameras: *undefined\n").rfind("t.yaml:1:10: invalid YAML: the referenced anchor is not defined", 0),
              0u);
    EXPECT_EQ(parse_error("a: \t- b\n\tc: d\n").rfind("t.yaml:", 0), 0u);
}

}  // namespace
}  // namespace itscam::config
