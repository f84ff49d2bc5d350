// Secrets from outside the config file: ${NAME} interpolation, server.*_token_file, the environment's tokens, and
// the masking of to_yaml (--print-config) and of error messages.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config_test_util.h"

namespace itscam::config {

using test::parse_error;
using test::temp_path;

namespace {

std::string write_file(const std::string& name, const std::string& content) {
    const std::string path = temp_path(name);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return path;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

}  // namespace

TEST(ConfigInterpolation, ReplacesVariablesInStringsAndNumbers) {
    ITSCAM_REQUIRE_YAML();
    const Env env = {{"CAM_PASS", "S3cret:p@ss"}, {"PORT", "9100"}, {"HOST", "cam.example"}, {"FPS", "12.5"},
                     {"NESTED", "${PORT}"}, {"ON", "false"}, {"CLASS", "7"}};
    const Result<Config> r = parse_config(R"(server: {port: "${PORT}"}
model: "${HOST}/${HOST}.onnx"
plan_cache_dir: "$${NOT_A_VAR} ${NESTED} $ $$ a$b {}"
cameras:
  - {id: a, url: "rtsp://admin:${CAM_PASS}@${HOST}:554/x", max_fps: "${FPS}", enabled: "${ON}", classes: ["${CLASS}", 2]}
)",
                                          "t.yaml", &env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->server.port, 9100);
    EXPECT_EQ(r->model, "cam.example/cam.example.onnx");
    // $${ is a literal ${; a value is not interpolated again; a lone $ stays.
    EXPECT_EQ(r->plan_cache_dir, "${NOT_A_VAR} ${PORT} $ $$ a$b {}");
    ASSERT_EQ(r->cameras.size(), 1u);
    EXPECT_EQ(r->cameras[0].url, "rtsp://admin:S3cret:p@ss@cam.example:554/x");
    EXPECT_EQ(r->cameras[0].max_fps, 12.5);
    EXPECT_FALSE(r->cameras[0].enabled);
    EXPECT_EQ(r->cameras[0].classes, (std::vector<int>{7, 2}));
}

TEST(ConfigInterpolation, ErrorsNameTheFilePosition) {
    ITSCAM_REQUIRE_YAML();
    const Env env = {{"EMPTY", ""}, {"WORD", "abc"}};
    const std::string cams = "model: m.onnx\ncameras:\n  - {id: a, url: \"rtsp://admin:${CAM_PASS}@h/x\"}\n";
    EXPECT_EQ(parse_error(cams, &env),
              "t.yaml:3:18: cameras[0].url: environment variable CAM_PASS is not set (or empty)");
    EXPECT_EQ(parse_error("model: \"${EMPTY}\"\n", &env),
              "t.yaml:1:8: model: environment variable EMPTY is not set (or empty)");
    // Without an environment no variable is set.
    EXPECT_EQ(parse_error("model: ${WORD}\n"), "t.yaml:1:8: model: environment variable WORD is not set (or empty)");
    EXPECT_NE(parse_error("model: \"${WORD\"\n", &env).find("t.yaml:1:8: model: unterminated '${'"), std::string::npos);
    for (const char* bad : {"${}", "${1X}", "${A-B}", "${ WORD}"}) {
        const std::string err = parse_error(std::string("model: \"") + bad + "\"\n", &env);
        EXPECT_TRUE(starts_with(err, "t.yaml:1:8: model: invalid environment variable name")) << bad << ": " << err;
    }
    EXPECT_EQ(parse_error("server: {port: \"${WORD}\"}\n", &env),
              "t.yaml:1:16: server.port: expected an integer, got 'abc' (from '${WORD}')");
    // Keys are names, never interpolated.
    EXPECT_NE(parse_error("\"${WORD}\": 1\n", &env).find("unknown setting '${WORD}'"), std::string::npos);
}

TEST(ConfigInterpolation, AlertsValuesInJsonButNotInTheKeptText) {
    ITSCAM_REQUIRE_YAML();
    const Env env = {{"HOOK", "http://user:HookPass1@hooks.example/x"}};
    const std::string yaml = "alerts:\n  webhook: {url: \"${HOOK}\", timeout_s: 2}\n";
    const Result<Config> r = parse_config(yaml, "t.yaml", &env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const std::string& j = r->reserved_json.sections.at("alerts");
    EXPECT_NE(j.find("\"url\":\"http://user:HookPass1@hooks.example/x\""), std::string::npos) << j;
    EXPECT_NE(j.find("\"timeout_s\":2"), std::string::npos) << j;
    EXPECT_EQ(r->reserved.at("alerts").find("HookPass1"), std::string::npos);
    EXPECT_NE(r->reserved.at("alerts").find("${HOOK}"), std::string::npos);
    EXPECT_EQ(to_yaml(*r, Secrets::kReveal).find("HookPass1"), std::string::npos);
    EXPECT_EQ(parse_error("alerts:\n  webhook: {url: \"${NOPE}\"}\n", &env),
              "t.yaml:2:18: alerts: environment variable NOPE is not set (or empty)");
}

TEST(ConfigInterpolation, ApiCamerasAreNeverInterpolated) {
    ITSCAM_REQUIRE_YAML();
    const Result<CameraConfig> cam = parse_camera(R"({"id": "a", "url": "rtsp://h/${ITSCAM_API_TOKEN}/$${x}"})", "body");
    ASSERT_TRUE(cam.is_ok()) << cam.status().message();
    EXPECT_EQ(cam->url, "rtsp://h/${ITSCAM_API_TOKEN}/$${x}");
}

TEST(ConfigTokenFiles, ReadsOneLine) {
    ITSCAM_REQUIRE_YAML();
    const std::string api = write_file("api", "Api-Tok3n-From-File\n");
    const std::string read = write_file("read", "Read-Tok3n\r\n");
    const Result<Config> r = parse_config(
        "server: {api_token_file: " + api + ", read_token_file: " + read + "}\n", "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->server.api_token, "Api-Tok3n-From-File");
    EXPECT_EQ(r->server.read_token, "Read-Tok3n");
    EXPECT_EQ(r->server.api_token_file, api);
    // Printed: the files, never the tokens (masked or revealed); the revealed text reads back the same.
    for (Secrets s : {Secrets::kMask, Secrets::kReveal}) {
        const std::string text = to_yaml(*r, s);
        EXPECT_EQ(text.find("Tok3n"), std::string::npos) << text;
        EXPECT_NE(text.find("api_token_file: \"" + api + "\""), std::string::npos) << text;
    }
    const Result<Config> again = parse_config(to_yaml(*r, Secrets::kReveal), "again.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message();
    EXPECT_EQ(test::settings_only(*again), test::settings_only(*r));
    // Without a trailing newline too; only one newline is dropped.
    const std::string bare = write_file("bare", "bare-token");
    const Result<Config> b = parse_config("server: {api_token_file: " + bare + "}\n", "t.yaml");
    ASSERT_TRUE(b.is_ok()) << b.status().message();
    EXPECT_EQ(b->server.api_token, "bare-token");
}

TEST(ConfigTokenFiles, BadFilesAreErrorsAtTheirLine) {
    ITSCAM_REQUIRE_YAML();
    const auto err_for = [](const std::string& path) {
        return parse_error("model: m.onnx\nserver:\n  api_token_file: " + path + "\n");
    };
    const std::string prefix = "t.yaml:3:19: server.api_token_file: ";
    const std::string empty = write_file("empty", "");
    EXPECT_EQ(err_for(empty), prefix + "'" + empty + "': is empty (expected one line holding the token)");
    const std::string newline = write_file("newline", "\n");
    EXPECT_EQ(err_for(newline), prefix + "'" + newline + "': is empty (expected one line holding the token)");
    const std::string two = write_file("two", "a\nb\n");
    EXPECT_EQ(err_for(two), prefix + "'" + two + "': holds more than one line (expected one line holding the token)");
    const std::string blank = write_file("blank", "\n\n");
    EXPECT_EQ(err_for(blank), prefix + "'" + blank + "': holds more than one line (expected one line holding the token)");
    const std::string nul = write_file("nul", std::string("ab\0cd", 5));
    EXPECT_EQ(err_for(nul), prefix + "'" + nul + "': holds a control character");
    const std::string spaced = write_file("spaced", " tok\n");
    EXPECT_EQ(err_for(spaced), prefix + "'" + spaced + "': the token starts or ends with white space");
    const std::string big = write_file("big", std::string(20000, 'x'));
    EXPECT_EQ(err_for(big), prefix + "'" + big + "': is larger than 16 KiB (expected one line holding the token)");
    const std::string missing = temp_path("missing");
    std::filesystem::remove(missing);
    EXPECT_EQ(err_for(missing), prefix + "'" + missing + "': no such file");
    const std::string dir = temp_path("dir");
    std::filesystem::create_directories(dir);
    EXPECT_EQ(err_for(dir), prefix + "'" + dir + "': is a directory, not a file");
    // A named pipe would block start-up: refused without opening it.
    const std::string fifo = temp_path("fifo");
    std::filesystem::remove(fifo);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(err_for(fifo), prefix + "'" + fifo + "': is not a regular file");
    std::filesystem::remove(fifo);
    if (::geteuid() != 0) {  // root reads any file
        const std::string locked = write_file("locked", "tok\n");
        ::chmod(locked.c_str(), 0);
        EXPECT_EQ(err_for(locked), prefix + "'" + locked + "': cannot open: Permission denied");
    }
}

TEST(ConfigTokenFiles, TokenAndItsFileTogetherAreAnError) {
    ITSCAM_REQUIRE_YAML();
    const std::string api = write_file("api", "tok\n");
    EXPECT_EQ(parse_error("server:\n  api_token: x\n  api_token_file: " + api + "\n"),
              "t.yaml:3:19: server.api_token_file: server.api_token (line 2) is given too: give the token or its "
              "file, not both");
    EXPECT_EQ(parse_error("server: {read_token_file: " + api + ", read_token: y}\n"),
              "t.yaml:1:27: server.read_token_file: server.read_token (line 1) is given too: give the token or its "
              "file, not both");
    // Empty means not given.
    EXPECT_EQ(parse_error("server: {api_token: \"\", api_token_file: " + api + "}\n"), "OK");
}

TEST(ConfigTokenFiles, TheEnvironmentOverridesEitherForm) {
    ITSCAM_REQUIRE_YAML();
    const std::string api = write_file("api", "from-file\n");
    const std::string other = write_file("other", "from-env-file\n");
    // The file says api_token_file; ITSCAM_API_TOKEN replaces it (the file is not read).
    const std::string missing = temp_path("never-read");
    std::filesystem::remove(missing);
    const Env token_env = {{"ITSCAM_API_TOKEN", "Env-Tok3n"}, {"ITSCAM_READ_TOKEN", "Env-Read-Tok3n"}};
    const Result<Config> a = parse_config("server: {api_token_file: " + missing + ", read_token: x}\n", "t.yaml",
                                          &token_env);
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    EXPECT_EQ(a->server.api_token, "Env-Tok3n");
    EXPECT_EQ(a->server.api_token_file, "");
    EXPECT_EQ(a->server.read_token, "Env-Read-Tok3n");
    // The startup log's lines never show a token.
    EXPECT_EQ(a->env_overrides, (std::vector<std::string>{"ITSCAM_API_TOKEN=***", "ITSCAM_READ_TOKEN=***"}));
    // The file says api_token; ITSCAM_API_TOKEN_FILE replaces it.
    const Env file_env = {{"ITSCAM_API_TOKEN_FILE", other}};
    const Result<Config> b = parse_config("server: {api_token: in-the-file}\n", "t.yaml", &file_env);
    ASSERT_TRUE(b.is_ok()) << b.status().message();
    EXPECT_EQ(b->server.api_token, "from-env-file");
    EXPECT_EQ(b->env_overrides, (std::vector<std::string>{"ITSCAM_API_TOKEN_FILE=" + other}));
    // A bad file from the environment names the variable.
    const Env bad_env = {{"ITSCAM_READ_TOKEN_FILE", missing}};
    const std::string bad = parse_error("model: m.onnx\n", &bad_env);
    EXPECT_TRUE(starts_with(bad, "environment: ITSCAM_READ_TOKEN_FILE='")) << bad;
    EXPECT_NE(bad.find("': '" + missing + "': no such file"), std::string::npos) << bad;
    const Env both = {{"ITSCAM_API_TOKEN", "t"}, {"ITSCAM_API_TOKEN_FILE", api}};
    EXPECT_EQ(parse_error("model: m.onnx\n", &both),
              "environment: ITSCAM_API_TOKEN and ITSCAM_API_TOKEN_FILE are both set: give one");
    // config_from_env reads the files too.
    const Result<Config> e = config_from_env(file_env);
    ASSERT_TRUE(e.is_ok()) << e.status().message();
    EXPECT_EQ(e->server.api_token, "from-env-file");
}

TEST(ConfigPrint, TheMaskedTokenIsRefused) {
    ITSCAM_REQUIRE_YAML();
    EXPECT_EQ(parse_error("server:\n  api_token: \"***\"\n"),
              "t.yaml:2:14: server.api_token: '***' is what --print-config writes in place of a token, not a token: "
              "give the real one (or ${NAME}, or api_token_file)");
    const Env env = {{"ITSCAM_READ_TOKEN", "***"}};
    EXPECT_EQ(parse_error("model: m.onnx\n", &env),
              "environment: ITSCAM_READ_TOKEN=***: '***' is what --print-config writes in place of a token, not a "
              "token: give the real one (or ${NAME}, or read_token_file)");
}

TEST(ConfigPrint, MasksTokensAndCameraPasswordsByDefault) {
    ITSCAM_REQUIRE_YAML();
    const Env env = {{"ITSCAM_API_TOKEN", "Planted-Api-Tok3n"}, {"CAM_PASS", "Planted-Cam-Pass"}};
    const Result<Config> r = parse_config(R"(model: m.onnx
server: {read_token: Planted-Read-Tok3n}
alerts: {webhook: {url: "http://hook:Planted-Hook-Pass@h/x"}}
cameras:
  - {id: a, url: "rtsp://admin:${CAM_PASS}@[::1]:554/x"}
  - {id: b, url: "https://Planted-User-Tok3n@h/x"}
)",
                                          "t.yaml", &env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const std::string masked = to_yaml(*r);
    for (const char* planted : {"Planted-Api-Tok3n", "Planted-Read-Tok3n", "Planted-Cam-Pass", "Planted-Hook-Pass",
                                "Planted-User-Tok3n"})
        EXPECT_EQ(masked.find(planted), std::string::npos) << planted << "\n" << masked;
    EXPECT_NE(masked.find("api_token: \"***\""), std::string::npos) << masked;
    EXPECT_NE(masked.find("read_token: \"***\""), std::string::npos) << masked;
    EXPECT_NE(masked.find("url: \"rtsp://admin:***@[::1]:554/x\""), std::string::npos) << masked;
    EXPECT_NE(masked.find("url: \"https://***@h/x\""), std::string::npos) << masked;
    EXPECT_NE(masked.find("# from the environment: ITSCAM_API_TOKEN=***"), std::string::npos) << masked;
    // kReveal: the real values, and a text that reads back the same.
    const std::string revealed = to_yaml(*r, Secrets::kReveal);
    EXPECT_NE(revealed.find("Planted-Cam-Pass"), std::string::npos) << revealed;
    EXPECT_NE(revealed.find("api_token: \"Planted-Api-Tok3n\""), std::string::npos) << revealed;
    const Result<Config> again = parse_config(revealed, "again.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message();
    EXPECT_EQ(test::settings_only(*again), test::settings_only(*r));
}

TEST(ConfigErrors, QuotedValuesHaveUrlPasswordsMasked) {
    ITSCAM_REQUIRE_YAML();
    // A URL in the wrong setting: the message quotes it, password masked, before shortening (a long URL cut
    // before its '@' would otherwise show the password).
    const std::string err = parse_error("model: m.onnx\ncameras:\n  - {id: a, url: x, max_fps: "
                                        "\"rtsp://admin:Planted-Pass-Long-Enough-To-Be-Cut-Off-Somewhere@h/x\"}\n");
    EXPECT_EQ(err.find("Planted"), std::string::npos) << err;
    EXPECT_NE(err.find("'rtsp://admin:***@h/x'"), std::string::npos) << err;
}

}  // namespace itscam::config
