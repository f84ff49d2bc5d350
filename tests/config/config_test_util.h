// Helpers shared by the config tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "config/config.h"

namespace itscam::config::test {

#ifdef ITSCAM_HAVE_YAML
#define ITSCAM_REQUIRE_YAML() (void)0
#else
#define ITSCAM_REQUIRE_YAML() GTEST_SKIP() << "built without YAML support"
#endif

inline std::string source_path(const std::string& rel) {
    return std::string(ITSCAM_SOURCE_DIR) + "/" + rel;
}

inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << "cannot open " << path;
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// A scratch file name unique to the running test.
inline std::string temp_path(const std::string& name) {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string test = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "none";
    return std::string(ITSCAM_BINARY_DIR) + "/config_test_" + test + "_" + name;
}

// The error message of parsing `yaml` as "t.yaml", or "OK".
inline std::string parse_error(const std::string& yaml, const Env* env = nullptr) {
    const Result<Config> r = parse_config(yaml, "t.yaml", env);
    return r.is_ok() ? std::string("OK") : r.status().message();
}

// A Config without the fields that say where values came from.
inline Config settings_only(Config c) {
    c.env_overrides.clear();
    c.source_path.clear();
    return c;
}

}  // namespace itscam::config::test
