// The `streaming:` section: every key read and validated with file positions, the default ladder, environment
// overrides (ITSCAM_STREAMING_*), and the round trip through to_yaml.
#include <gtest/gtest.h>

#include "config/config.h"

using namespace itscam;
using namespace itscam::config;

namespace {

std::string error_of(const std::string& yaml) {
    const Result<Config> r = parse_config(yaml, "t.yaml");
    return r.is_ok() ? "" : r.status().message();
}

}  // namespace

TEST(StreamingConfig, ReadsEveryKey) {
#ifndef ITSCAM_HAVE_YAML
    GTEST_SKIP() << "built without yaml-cpp";
#endif
    const Result<Config> r = parse_config(R"(ENABLE_ADAPTIVE_QUALITY: false
streaming:
  enabled: false
  preset: faster
  gop: 50
  rate_control: cbr
  crf: 26.5
  bitrate_kbps: 3000
  max_bitrate_kbps: 5000
  encoder_threads: 2
  annotate: false
  max_viewers: 4
  viewer_queue_fragments: 60
  viewer_queue_kib: 2048
  idle_stop_s: 3
  renditions:
    - {name: hd, height: 720, bitrate_kbps: 0, fragment_ms: 0}
    - {name: sd, height: 360, bitrate_kbps: 600, fragment_ms: 800}
)",
                                          "t.yaml");
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    const StreamingConfig& s = r->streaming;
    EXPECT_FALSE(r->settings.ENABLE_ADAPTIVE_QUALITY);
    EXPECT_FALSE(s.enabled);
    EXPECT_EQ(s.preset, "faster");
    EXPECT_EQ(s.gop, 50);
    EXPECT_EQ(s.rate_control, "cbr");
    EXPECT_EQ(s.crf, 26.5);
    EXPECT_EQ(s.bitrate_kbps, 3000);
    EXPECT_EQ(s.max_bitrate_kbps, 5000);
    EXPECT_EQ(s.encoder_threads, 2);
    EXPECT_FALSE(s.annotate);
    EXPECT_EQ(s.max_viewers, 4);
    EXPECT_EQ(s.viewer_queue_fragments, 60);
    EXPECT_EQ(s.viewer_queue_kib, 2048);
    EXPECT_EQ(s.idle_stop_s, 3);
    ASSERT_EQ(s.renditions.size(), 2u);
    EXPECT_EQ(s.renditions[1], (RenditionConfig{"sd", 360, 600, 800}));
    const Result<Config> again = parse_config(to_yaml(*r), "printed.yaml");
    ASSERT_TRUE(again.is_ok()) << again.status().message() << "\n" << to_yaml(*r);
    EXPECT_EQ(again->streaming, s);
}

TEST(StreamingConfig, DefaultsAndDefaultLadder) {
    const Config c;
    EXPECT_TRUE(c.streaming.enabled);
    EXPECT_TRUE(c.streaming.renditions.empty());
    const auto l = default_renditions();
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[0].height, 0);
    EXPECT_LT(l[2].bitrate_kbps, l[1].bitrate_kbps);
    EXPECT_GT(l[2].fragment_ms, l[1].fragment_ms);
    EXPECT_TRUE(validate(c).is_ok());
}

TEST(StreamingConfig, ErrorsNameTheKeyAndPosition) {
#ifndef ITSCAM_HAVE_YAML
    GTEST_SKIP() << "built without yaml-cpp";
#endif
    EXPECT_EQ(error_of("streaming:\n  preset: turbo\n"),
              "t.yaml:2:11: streaming.preset: expected an x264 preset (ultrafast, superfast, veryfast, faster, fast, "
              "medium, slow, slower, veryslow), got 'turbo'");
    EXPECT_EQ(error_of("streaming:\n  gop: 0\n"), "t.yaml:2:8: streaming.gop: must be between 1 and 1000, got 0");
    EXPECT_EQ(error_of("streaming:\n  rate_control: vbr\n"),
              "t.yaml:2:17: streaming.rate_control: expected crf or cbr, got 'vbr'");
    EXPECT_EQ(error_of("streaming:\n  crf: 60\n"), "t.yaml:2:8: streaming.crf: must be in 0..51, got 60");
    EXPECT_EQ(error_of("streaming:\n  max_viewers: many\n"),
              "t.yaml:2:16: streaming.max_viewers: expected an integer, got 'many'");
    EXPECT_EQ(error_of("streaming:\n  max_viewer: 3\n"),
              "t.yaml:2:3: streaming: unknown setting 'max_viewer' (did you mean 'max_viewers'?)");
    EXPECT_EQ(error_of("streaming:\n  renditions:\n    - {height: 360}\n"),
              "t.yaml:3:7: streaming.renditions[0]: missing required setting 'name'");
    EXPECT_EQ(error_of("streaming:\n  renditions:\n    - {name: a, height: 361}\n"),
              "t.yaml:3:25: streaming.renditions[0].height: must be 0 (the camera's) or an even number >= 64, got 361");
    EXPECT_EQ(error_of("streaming:\n  renditions:\n    - {name: a}\n    - {name: a}\n"),
              "t.yaml:4:14: streaming.renditions[1].name: rendition 'a' is already used by streaming.renditions[0]");
    EXPECT_EQ(error_of("streaming:\n  renditions:\n    - {name: 'A B'}\n"),
              "t.yaml:3:14: streaming.renditions[0].name: must be 1 to 32 of a-z 0-9 _ -, got 'A B'");
    EXPECT_EQ(error_of("streaming: [1]\n"), "t.yaml:1:12: streaming: expected a map, got a list");
}

TEST(StreamingConfig, EnvironmentOverrides) {
    const Env env = {{"ITSCAM_STREAMING_PRESET", "fast"},
                     {"ITSCAM_STREAMING_MAX_VIEWERS", "3"},
                     {"ITSCAM_STREAMING_ENABLED", "off"},
                     {"ENABLE_NETWORK_AWARE_STREAMING", "false"},
                     {"TARGET_BANDWIDTH_REDUCTION", "0.6"}};
    const Result<Config> r = config_from_env(env);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->streaming.preset, "fast");
    EXPECT_EQ(r->streaming.max_viewers, 3);
    EXPECT_FALSE(r->streaming.enabled);
    EXPECT_FALSE(r->settings.ENABLE_NETWORK_AWARE_STREAMING);
    EXPECT_EQ(r->settings.TARGET_BANDWIDTH_REDUCTION, 0.6);
    const Result<Config> bad = config_from_env({{"ITSCAM_STREAMING_GOP", "-3"}});
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("ITSCAM_STREAMING_GOP"), std::string::npos) << bad.status().message();
}
