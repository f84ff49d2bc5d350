// Helpers shared by the service tests.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace itscam::service::test {

// Runs `promtool check metrics` on an exposition text. "" when it passes, "skip: ..." when promtool is missing,
// else the exit code and promtool's complaints.
inline std::string promtool_check(const std::string& text) {
    namespace fs = std::filesystem;
    if (!fs::exists("/usr/bin/promtool") && std::system("command -v promtool >/dev/null 2>&1") != 0)
        return "skip: promtool not installed";
    const fs::path dir = fs::temp_directory_path();
    const std::string stem = "itscam_metrics_" + std::to_string(::getpid()) + "_" + std::to_string(std::rand());
    const fs::path in = dir / (stem + ".prom"), out = dir / (stem + ".out");
    std::ofstream(in) << text;
    const std::string cmd = "promtool check metrics < '" + in.string() + "' > '" + out.string() + "' 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream f(out);
    std::string output((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    fs::remove(in);
    fs::remove(out);
    if (rc == 0 && output.empty()) return "";
    return "rc=" + std::to_string(rc) + ": " + (output.empty() ? "(no output)" : output);
}

}  // namespace itscam::service::test
