// Environment overrides: SEED names and ITSCAM_* over the file, bad values named by variable, config_from_env.
#include <cstdlib>

#include "config_test_util.h"

namespace itscam::config {
namespace {

TEST(ConfigEnv, EverySeedNameOverrides) {
    const Env env = {
        {"ENABLE_MEMORY_PREALLOCATION", "off"},
        {"MEMORY_POOL_SIZE", "12"},
        {"MEMORY_WARMUP_ON_START", "No"},
        {"TOTAL_GPU_MEMORY_GB", "40.5"},
        {"UNIFIED_MEMORY_RATIO", "0"},
        {"STREAMS_PER_DEVICE", "64"},
        {"MAX_STREAMS_PER_DEVICE", "128"},
        {"ENABLE_CUDA_STREAMS_MONITORING", "0"},
        {"CIRCUIT_BREAKER_FAILURE_THRESHOLD", "5"},
        {"CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "2.5"},
        {"CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS", "3"},
        {"gpu_memory_failure_threshold", "7"},
        {"ENABLE_TENSORRT", "FALSE"},
        {"ENABLE_TORCH_JIT_OPTIMIZATION", "yes"},
        {"ENABLE_ADAPTIVE_QUALITY", "false"},
        {"TARGET_BANDWIDTH_REDUCTION", "0.4"},
        {"ENABLE_NETWORK_AWARE_STREAMING", "off"},
        {"device_ids", "0,1"},
        {"ITSCAM_DEVICE", "cuda"},
        {"ITSCAM_PRECISION", "fp32"},  // ENABLE_TORCH_JIT_OPTIMIZATION (above) refuses a reduced precision
        {"ITSCAM_THREADS", "6"},
        {"ITSCAM_MODEL", "/models/x.onnx"},
        {"ITSCAM_IMGSZ", "480"},
        {"UNRELATED", "whatever"},
    };
    const Result<Config> r = config_from_env(env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const Settings& s = r->settings;
    EXPECT_FALSE(s.ENABLE_MEMORY_PREALLOCATION);
    EXPECT_EQ(s.MEMORY_POOL_SIZE, 12);
    EXPECT_FALSE(s.MEMORY_WARMUP_ON_START);
    EXPECT_EQ(s.TOTAL_GPU_MEMORY_GB, 40.5);
    EXPECT_EQ(s.UNIFIED_MEMORY_RATIO, 0.0);
    EXPECT_EQ(s.STREAMS_PER_DEVICE, 64);
    EXPECT_EQ(s.MAX_STREAMS_PER_DEVICE, 128);
    EXPECT_FALSE(s.ENABLE_CUDA_STREAMS_MONITORING);
    EXPECT_EQ(s.CIRCUIT_BREAKER_FAILURE_THRESHOLD, 5);
    EXPECT_EQ(s.CIRCUIT_BREAKER_RECOVERY_TIMEOUT, 2.5);
    EXPECT_EQ(s.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS, 3);
    EXPECT_EQ(s.gpu_memory_failure_threshold, 7);
    EXPECT_FALSE(s.ENABLE_TENSORRT);
    EXPECT_TRUE(s.ENABLE_TORCH_JIT_OPTIMIZATION);
    EXPECT_FALSE(s.ENABLE_ADAPTIVE_QUALITY);
    EXPECT_EQ(s.TARGET_BANDWIDTH_REDUCTION, 0.4);
    EXPECT_FALSE(s.ENABLE_NETWORK_AWARE_STREAMING);
    EXPECT_EQ(s.device_ids, (std::vector<int>{0, 1}));
    EXPECT_EQ(r->device, "cuda");
    EXPECT_EQ(r->precision, "fp32");
    EXPECT_EQ(r->threads, 6);
    EXPECT_EQ(r->model, "/models/x.onnx");
    EXPECT_EQ(r->imgsz, 480);
    EXPECT_EQ(r->env_overrides.size(), 23u);
    EXPECT_EQ(r->env_overrides.front(), "ENABLE_MEMORY_PREALLOCATION=off");
    EXPECT_EQ(r->env_overrides.back(), "ITSCAM_IMGSZ=480");
    EXPECT_EQ(r->pipeline.preferred_batch_sizes, (std::vector<int>{1, 2, 4, 8}));
    EXPECT_TRUE(r->source_path.empty());
}

TEST(ConfigEnv, FromEnvWithNothingIsTheDefaults) {
    const Result<Config> r = config_from_env({});
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    Config expected;
    resolve(expected);
    EXPECT_EQ(*r, expected);
}

TEST(ConfigEnv, DeviceIdsForms) {
    const std::pair<const char*, std::vector<int>> cases[] = {
        {"0,1", {0, 1}}, {"[0,1]", {0, 1}}, {" [ 2 , 3 ] ", {2, 3}}, {"5", {5}}, {"[7]", {7}}};
    for (const auto& [text, ids] : cases) {
        const Result<Config> r = config_from_env({{"device_ids", text}});
        ASSERT_TRUE(r.is_ok()) << text << ": " << r.status().message();
        EXPECT_EQ(r->settings.device_ids, ids) << text;
    }
    const std::pair<const char*, const char*> bad[] = {
        {"0,,1", "environment: device_ids='0,,1': expected a list of integers such as 0,1 or [0,1]"},
        {"0,", "environment: device_ids='0,': expected a list of integers such as 0,1 or [0,1]"},
        {"gpu0", "environment: device_ids='gpu0': expected a list of integers such as 0,1 or [0,1]"},
        {"[]", "environment: device_ids='[]': must list at least one device"},
        {"1,1", "environment: device_ids='1,1': device 1 is listed twice"},
        {"-1", "environment: device_ids='-1': must be 0 or more, got -1"},
    };
    for (const auto& [text, message] : bad) {
        const Result<Config> r = config_from_env({{"device_ids", text}});
        ASSERT_FALSE(r.is_ok()) << text;
        EXPECT_EQ(r.status().message(), message);
    }
}

TEST(ConfigEnv, BadValuesNameTheVariable) {
    const std::pair<Env, const char*> cases[] = {
        {{{"MEMORY_POOL_SIZE", "x"}}, "environment: MEMORY_POOL_SIZE='x': expected an integer"},
        {{{"MEMORY_POOL_SIZE", "2000"}}, "environment: MEMORY_POOL_SIZE='2000': must be between 0 and 1024, got 2000"},
        {{{"ENABLE_TENSORRT", "nope"}},
         "environment: ENABLE_TENSORRT='nope': expected a boolean (true/false, yes/no, on/off, 1/0)"},
        {{{"UNIFIED_MEMORY_RATIO", "0.5x"}}, "environment: UNIFIED_MEMORY_RATIO='0.5x': expected a number"},
        {{{"UNIFIED_MEMORY_RATIO", "inf"}}, "environment: UNIFIED_MEMORY_RATIO='inf': expected a finite number"},
        {{{"ITSCAM_IMGSZ", "100"}},
         "environment: ITSCAM_IMGSZ='100': must be 0 (the model's) or a multiple of 32 between 32 and 4096, got 100"},
        {{{"ITSCAM_DEVICE", "tpu"}},
         "environment: ITSCAM_DEVICE='tpu': expected one of cpu, ref, cuda, cuda:N, got 'tpu'"},
        {{{"ITSCAM_THREADS", "many"}}, "environment: ITSCAM_THREADS='many': expected an integer"},
    };
    for (const auto& [env, message] : cases) {
        const Result<Config> r = config_from_env(env);
        ASSERT_FALSE(r.is_ok()) << message;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
        EXPECT_EQ(r.status().message(), message);
    }
    // A cross-field rule broken by a variable, reported at the other value (a default here).
    const Result<Config> r = config_from_env({{"MAX_STREAMS_PER_DEVICE", "8"}});
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().message(),
              "defaults: STREAMS_PER_DEVICE: must be between 1 and MAX_STREAMS_PER_DEVICE (8), "
              "got 16");
}

TEST(ConfigEnv, EnvironmentBeatsTheFile) {
    ITSCAM_REQUIRE_YAML();
    const std::string yaml = "MEMORY_POOL_SIZE: 4\ndevice_ids: [0, 1]\nmodel: file.onnx\ndevice: cpu\n";
    const Env env = {{"MEMORY_POOL_SIZE", "8"},
                     {"device_ids", "[3]"},
                     {"ITSCAM_MODEL", "env.onnx"},
                     {"ITSCAM_PRECISION", ""}};  // empty: unset
    const Result<Config> r = parse_config(yaml, "t.yaml", &env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->settings.MEMORY_POOL_SIZE, 8);
    EXPECT_EQ(r->settings.device_ids, std::vector<int>{3});
    EXPECT_EQ(r->model, "env.onnx");
    EXPECT_EQ(r->precision, "auto");
    EXPECT_EQ(r->env_overrides,
              (std::vector<std::string>{"MEMORY_POOL_SIZE=8", "device_ids=[3]", "ITSCAM_MODEL=env.onnx"}));
    // Without env, the file wins.
    const Result<Config> file_only = parse_config(yaml, "t.yaml");
    ASSERT_TRUE(file_only.is_ok());
    EXPECT_EQ(file_only->settings.MEMORY_POOL_SIZE, 4);
    EXPECT_TRUE(file_only->env_overrides.empty());
}

TEST(ConfigEnv, ErrorsSayWhereEachValueCameFrom) {
    ITSCAM_REQUIRE_YAML();
    // The file's device_ids are fine; the environment's are not: the error names the variable.
    const Env dup = {{"device_ids", "2,2"}};
    EXPECT_EQ(test::parse_error("device_ids: [0, 1]\n", &dup),
              "environment: device_ids='2,2': device 2 is listed twice");
    // The environment's value is fine, the file's is what breaks the cross-field rule.
    const Env max = {{"MAX_STREAMS_PER_DEVICE", "8"}};
    EXPECT_EQ(test::parse_error("\nSTREAMS_PER_DEVICE: 12\n", &max),
              "t.yaml:2:21: STREAMS_PER_DEVICE: must be between 1 and MAX_STREAMS_PER_DEVICE (8), got 12");
    const Env streams = {{"STREAMS_PER_DEVICE", "40"}};
    EXPECT_EQ(test::parse_error("MAX_STREAMS_PER_DEVICE: 32\n", &streams),
              "environment: STREAMS_PER_DEVICE='40': must be between 1 and MAX_STREAMS_PER_DEVICE (32), got 40");
    // The file is read before the environment is applied, so the file's own errors come first.
    const Env bad = {{"MEMORY_POOL_SIZE", "x"}};
    EXPECT_EQ(test::parse_error("threads: many\n", &bad), "t.yaml:1:10: threads: expected an integer, got 'many'");
    EXPECT_EQ(test::parse_error("threads: 2\n", &bad), "environment: MEMORY_POOL_SIZE='x': expected an integer");
}

TEST(ConfigEnv, ProcessEnvironment) {
    ASSERT_EQ(setenv("ITSCAM_CONFIG_TEST_VAR", "a=b", 1), 0);
    const Env env = process_env();
    ASSERT_TRUE(env.count("ITSCAM_CONFIG_TEST_VAR"));
    EXPECT_EQ(env.at("ITSCAM_CONFIG_TEST_VAR"), "a=b");
    unsetenv("ITSCAM_CONFIG_TEST_VAR");
}

TEST(ConfigEnv, ServerSettingsFromTheEnvironment) {
    const Env env = {{"ITSCAM_API_TOKEN", "from-env"}, {"ITSCAM_HTTP_PORT", "9100"}};
    const Result<Config> r = parse_config("server: {port: 8080, api_token: file-token}\n", "s.yaml", &env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->server.port, 9100);
    EXPECT_EQ(r->server.api_token, "from-env");
    const Env bad = {{"ITSCAM_HTTP_PORT", "70000"}};
    const Result<Config> b = parse_config("server: {}\n", "s.yaml", &bad);
    ASSERT_FALSE(b.is_ok());
    EXPECT_NE(b.status().message().find("ITSCAM_HTTP_PORT"), std::string::npos) << b.status().message();
}

}  // namespace
}  // namespace itscam::config
