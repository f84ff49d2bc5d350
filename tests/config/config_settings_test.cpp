// Settings with more than one form or with effects decided here: the circuit breaker's dict
// (CIRCUIT_BREAKER_CONFIG / circuit_breaker, in YAML and in the environment) and the engine settings
// (ENABLE_TENSORRT, ENABLE_TORCH_JIT_OPTIMIZATION -> optimized_engine, engine_precision).
#include "config_test_util.h"

namespace itscam::config {
namespace {

using test::parse_error;
using test::settings_only;

TEST(CircuitBreakerDict, SeedFormSetsEveryKey) {
    ITSCAM_REQUIRE_YAML();
    const std::string yaml =
        "CIRCUIT_BREAKER_CONFIG:\n"
        "  failure_threshold: 5\n"
        "  recovery_timeout: 2.5\n"
        "  half_open_max_calls: 4\n"
        "  gpu_memory_failure_threshold: 2\n";
    const Result<Config> r = parse_config(yaml, "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const Settings& s = r->settings;
    EXPECT_EQ(s.CIRCUIT_BREAKER_FAILURE_THRESHOLD, 5);
    EXPECT_EQ(s.CIRCUIT_BREAKER_RECOVERY_TIMEOUT, 2.5);
    EXPECT_EQ(s.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS, 4);
    EXPECT_EQ(s.gpu_memory_failure_threshold, 2);
    // The same as the flat keys, and printed as them (the printed form reads back equal).
    const Result<Config> flat = parse_config(
        "CIRCUIT_BREAKER_FAILURE_THRESHOLD: 5\nCIRCUIT_BREAKER_RECOVERY_TIMEOUT: 2.5\n"
        "CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: 4\ngpu_memory_failure_threshold: 2\n",
        "t.yaml");
    ASSERT_TRUE(flat.is_ok()) << flat.status().message();
    EXPECT_EQ(*r, *flat);
    const Result<Config> again = parse_config(to_yaml(*r), "printed.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message();
    EXPECT_EQ(settings_only(*again), settings_only(*r));
    // A partial dict leaves the other settings at their defaults; the lower-case section takes the same keys.
    const Result<Config> partial = parse_config("circuit_breaker: {recovery_timeout: 9, failure_threshold: 7}\n", "t");
    ASSERT_TRUE(partial.is_ok()) << partial.status().message();
    EXPECT_EQ(partial->settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD, 7);
    EXPECT_EQ(partial->settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT, 9.0);
    EXPECT_EQ(partial->settings.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS, 10);
    EXPECT_EQ(partial->settings.gpu_memory_failure_threshold, 3);
    // An empty dict changes nothing.
    EXPECT_EQ(parse_error("CIRCUIT_BREAKER_CONFIG:\n"), "OK");
}

TEST(CircuitBreakerDict, ErrorsAsForTheFlatKeys) {
    ITSCAM_REQUIRE_YAML();
    const std::vector<std::pair<std::string, std::string>> cases = {
        // Types and ranges: the setting's own message, at the dict entry's position.
        {"CIRCUIT_BREAKER_CONFIG:\n  failure_threshold: 0\n",
         "t.yaml:2:22: CIRCUIT_BREAKER_FAILURE_THRESHOLD: must be at least 1, got 0"},
        {"CIRCUIT_BREAKER_CONFIG:\n  recovery_timeout: soon\n",
         "t.yaml:2:21: CIRCUIT_BREAKER_RECOVERY_TIMEOUT: expected a number, got 'soon'"},
        {"CIRCUIT_BREAKER_CONFIG: {half_open_max_calls: -1}\n",
         "t.yaml:1:47: CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: must be at least 1, got -1"},
        {"CIRCUIT_BREAKER_CONFIG: {gpu_memory_failure_threshold: 1.5}\n",
         "t.yaml:1:56: gpu_memory_failure_threshold: expected an integer, got '1.5'"},
        {"CIRCUIT_BREAKER_CONFIG: 15\n", "t.yaml:1:25: CIRCUIT_BREAKER_CONFIG: expected a map, got '15'"},
        {"CIRCUIT_BREAKER_CONFIG: [15]\n", "t.yaml:1:25: CIRCUIT_BREAKER_CONFIG: expected a map, got a list"},
        // Unknown keys, with the closest one.
        {"CIRCUIT_BREAKER_CONFIG:\n  failure_treshold: 3\n",
         "t.yaml:2:3: CIRCUIT_BREAKER_CONFIG: unknown setting 'failure_treshold' (did you mean 'failure_threshold'?)"},
        {"CIRCUIT_BREAKER_CONFIG:\n  CIRCUIT_BREAKER_FAILURE_THRESHOLD: 3\n",
         "t.yaml:2:3: CIRCUIT_BREAKER_CONFIG: unknown setting 'CIRCUIT_BREAKER_FAILURE_THRESHOLD' (here it is "
         "'failure_threshold')"},
        {"CIRCUIT_BREAKER_CONFG: {}\n",
         "t.yaml:1:1: unknown setting 'CIRCUIT_BREAKER_CONFG' (did you mean 'CIRCUIT_BREAKER_CONFIG'?)"},
        {"CIRCUIT_BREAKER_CONFIG:\n  failure_threshold: 3\n  failure_threshold: 4\n",
         "t.yaml:3:3: CIRCUIT_BREAKER_CONFIG: setting 'failure_threshold' is given twice"},
    };
    for (const auto& [yaml, message] : cases) EXPECT_EQ(parse_error(yaml), message) << yaml;
}

TEST(CircuitBreakerDict, ASettingGivenTwoWaysNamesBoth) {
    ITSCAM_REQUIRE_YAML();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"CIRCUIT_BREAKER_FAILURE_THRESHOLD: 15\nCIRCUIT_BREAKER_CONFIG:\n  failure_threshold: 5\n",
         "t.yaml:3:3: CIRCUIT_BREAKER_CONFIG.failure_threshold and CIRCUIT_BREAKER_FAILURE_THRESHOLD (line 1) are the "
         "same setting: give it once"},
        {"CIRCUIT_BREAKER_CONFIG: {recovery_timeout: 5}\nCIRCUIT_BREAKER_RECOVERY_TIMEOUT: 5\n",
         "t.yaml:2:1: CIRCUIT_BREAKER_RECOVERY_TIMEOUT and CIRCUIT_BREAKER_CONFIG.recovery_timeout (line 1) are the "
         "same setting: give it once"},
        {"circuit_breaker: {half_open_max_calls: 2}\nCIRCUIT_BREAKER_CONFIG: {half_open_max_calls: 2}\n",
         "t.yaml:2:26: CIRCUIT_BREAKER_CONFIG.half_open_max_calls and circuit_breaker.half_open_max_calls (line 1) "
         "are the same setting: give it once"},
        {"gpu_memory_failure_threshold: 2\nCIRCUIT_BREAKER_CONFIG: {gpu_memory_failure_threshold: 4}\n",
         "t.yaml:2:26: gpu_memory_failure_threshold is given twice (first at line 1; use either the top-level or the "
         "CIRCUIT_BREAKER_CONFIG form)"},
        {"CIRCUIT_BREAKER_CONFIG: {gpu_memory_failure_threshold: 4}\ngpu_memory_failure_threshold: 2\n",
         "t.yaml:2:1: gpu_memory_failure_threshold is given twice (first at line 1; use either the top-level or the "
         "CIRCUIT_BREAKER_CONFIG form)"},
    };
    for (const auto& [yaml, message] : cases) EXPECT_EQ(parse_error(yaml), message) << yaml;
    // Different settings in the two forms are fine.
    EXPECT_EQ(parse_error("CIRCUIT_BREAKER_FAILURE_THRESHOLD: 4\nCIRCUIT_BREAKER_CONFIG: {recovery_timeout: 5}\n"),
              "OK");
}

TEST(CircuitBreakerDict, EnvironmentTakesJsonPythonOrYamlFlow) {
    for (const char* text : {R"({"failure_threshold": 5, "recovery_timeout": 2.5, "half_open_max_calls": 4,
                                "gpu_memory_failure_threshold": 2})",
                             "{'failure_threshold': 5, 'recovery_timeout': 2.5, 'half_open_max_calls': 4, "
                             "'gpu_memory_failure_threshold': 2,}",
                             "{failure_threshold: 5, recovery_timeout: 2.5, half_open_max_calls: \"4\", "
                             "gpu_memory_failure_threshold: 2}"}) {
        const Result<Config> r = config_from_env({{"CIRCUIT_BREAKER_CONFIG", text}});
        ASSERT_TRUE(r.is_ok()) << text << ": " << r.status().message();
        EXPECT_EQ(r->settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD, 5) << text;
        EXPECT_EQ(r->settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT, 2.5) << text;
        EXPECT_EQ(r->settings.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS, 4) << text;
        EXPECT_EQ(r->settings.gpu_memory_failure_threshold, 2) << text;
        EXPECT_EQ(r->env_overrides, std::vector<std::string>{std::string("CIRCUIT_BREAKER_CONFIG=") + text});
    }
    // Over the file, like every variable (the file's dict and the variable's are not both "given").
    ITSCAM_REQUIRE_YAML();
    const Env env = {{"CIRCUIT_BREAKER_CONFIG", "{\"failure_threshold\": 6}"}};
    const Result<Config> r =
        parse_config("CIRCUIT_BREAKER_CONFIG: {failure_threshold: 3, recovery_timeout: 7}\n", "t.yaml", &env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->settings.CIRCUIT_BREAKER_FAILURE_THRESHOLD, 6);
    EXPECT_EQ(r->settings.CIRCUIT_BREAKER_RECOVERY_TIMEOUT, 7.0);
}

TEST(CircuitBreakerDict, EnvironmentErrorsNameTheVariable) {
    const std::string v = "environment: CIRCUIT_BREAKER_CONFIG=";
    const std::pair<Env, std::string> cases[] = {
        {{{"CIRCUIT_BREAKER_CONFIG", "15"}},
         v + "'15': expected a map such as {\"failure_threshold\": 15, \"recovery_timeout\": 30.0}"},
        {{{"CIRCUIT_BREAKER_CONFIG", "{\"failure_threshold\" 15}"}},
         v + "'{\"failure_threshold\" 15}': expected a map such as {\"failure_threshold\": 15, "
             "\"recovery_timeout\": 30.0}"},
        {{{"CIRCUIT_BREAKER_CONFIG", "{\"failure_threshold\": 15"}},
         v + "'{\"failure_threshold\": 15': expected a map such as {\"failure_threshold\": 15, "
             "\"recovery_timeout\": 30.0}"},
        {{{"CIRCUIT_BREAKER_CONFIG", "{\"failure_treshold\": 15}"}},
         v + "'{\"failure_treshold\": 15}': unknown key 'failure_treshold' (did you mean 'failure_threshold'?) "
             "(expected failure_threshold, recovery_timeout, half_open_max_calls, gpu_memory_failure_threshold)"},
        {{{"CIRCUIT_BREAKER_CONFIG", "{\"recovery_timeout\": \"soon\"}"}},
         v + "'{\"recovery_timeout\": \"soon\"}': recovery_timeout: expected a number, got 'soon'"},
        {{{"CIRCUIT_BREAKER_CONFIG", "{\"failure_threshold\": 1, \"failure_threshold\": 2}"}},
         v + "'{\"failure_threshold\": 1, \"failure_threshold\": 2}': key 'failure_threshold' is given twice"},
        // Ranges: checked like the flat variable's, named by the dict's variable and key.
        {{{"CIRCUIT_BREAKER_CONFIG", "{\"failure_threshold\": 0}"}},
         v + "'{\"failure_threshold\": 0}': failure_threshold: must be at least 1, got 0"},
        // The same setting from its own variable too: both named.
        {{{"CIRCUIT_BREAKER_CONFIG", "{\"failure_threshold\": 5}"}, {"CIRCUIT_BREAKER_FAILURE_THRESHOLD", "6"}},
         v + "'{\"failure_threshold\": 5}' (failure_threshold) and CIRCUIT_BREAKER_FAILURE_THRESHOLD='6' are the "
             "same setting: give it once"},
    };
    for (const auto& [env, message] : cases) {
        const Result<Config> r = config_from_env(env);
        ASSERT_FALSE(r.is_ok()) << message;
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
        EXPECT_EQ(r.status().message(), message);
    }
    // Empty is unset.
    EXPECT_TRUE(config_from_env({{"CIRCUIT_BREAKER_CONFIG", "  "}}).is_ok());
}

TEST(EngineSettings, TensorRtAndJitSelectTheEngine) {
    Settings s;
    EXPECT_TRUE(optimized_engine(s));  // the defaults: ENABLE_TENSORRT true
    s.ENABLE_TENSORRT = false;
    EXPECT_FALSE(optimized_engine(s));  // plain execution
    s.ENABLE_TORCH_JIT_OPTIMIZATION = true;
    EXPECT_TRUE(optimized_engine(s));  // "optimized graph without precision change"
    s.ENABLE_TENSORRT = true;
    EXPECT_TRUE(optimized_engine(s));
}

TEST(EngineSettings, JitKeepsThePrecision) {
    Config c;
    EXPECT_EQ(engine_precision(c, /*gpu=*/true), "fp16");
    EXPECT_EQ(engine_precision(c, /*gpu=*/false), "fp32");
    c.precision = "bf16";
    EXPECT_EQ(engine_precision(c, false), "bf16");
    c.precision = "auto";
    c.settings.ENABLE_TORCH_JIT_OPTIMIZATION = true;
    EXPECT_EQ(engine_precision(c, true), "fp32");
    EXPECT_EQ(engine_precision(c, false), "fp32");
    c.precision = "fp32";
    EXPECT_EQ(engine_precision(c, true), "fp32");
    EXPECT_TRUE(validate(c).is_ok());
    // A reduced precision contradicts it: refused, naming both settings.
    for (const char* p : {"fp16", "bf16", "int8"}) {
        c.precision = p;
        const Status st = validate(c);
        ASSERT_FALSE(st.is_ok()) << p;
        EXPECT_EQ(st.message(), std::string("ENABLE_TORCH_JIT_OPTIMIZATION: true runs the optimized graph without a "
                                            "precision change (fp32), but precision is '") +
                                    p + "': set precision to auto or fp32, or ENABLE_TORCH_JIT_OPTIMIZATION to false");
    }
    ITSCAM_REQUIRE_YAML();
    EXPECT_EQ(parse_error("precision: fp16\nENABLE_TORCH_JIT_OPTIMIZATION: true\n"),
              "t.yaml:2:32: ENABLE_TORCH_JIT_OPTIMIZATION: true runs the optimized graph without a precision change "
              "(fp32), but precision is 'fp16': set precision to auto or fp32, or ENABLE_TORCH_JIT_OPTIMIZATION to "
              "false");
    const Env env = {{"ENABLE_TORCH_JIT_OPTIMIZATION", "1"}};
    EXPECT_EQ(parse_error("precision: int8\n", &env),
              "environment: ENABLE_TORCH_JIT_OPTIMIZATION='1': true runs the optimized graph without a precision "
              "change (fp32), but precision is 'int8': set precision to auto or fp32, or "
              "ENABLE_TORCH_JIT_OPTIMIZATION to false");
}

}  // namespace
}  // namespace itscam::config
