// Helpers shared by the service tests.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>

#include "config/config.h"

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

// The real YOLO11n model (../shared).
inline const std::string kYoloModel = std::string(ITSCAM_SHARED_DIR) + "/models/yolo11n.onnx";

// A small CPU pipeline on YOLO11n for the service tests: batch 1 only (one engine to build), two threads, no
// fallback, small pools. Cameras and the service sections are the caller's.
inline config::Config small_cpu_config() {
    config::Config c;
    c.device = "cpu";
    c.model = kYoloModel;
    c.threads = 2;
    c.pipeline.max_batch_size = 1;
    c.pipeline.preferred_batch_sizes = {1};
    c.fallback.enabled = false;
    c.settings.MEMORY_POOL_SIZE = 2;
    return c;
}

// Polls `pred` every 20 ms until it holds or `timeout_s` passes; its last answer.
inline bool wait_for(const std::function<bool()>& pred, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

}  // namespace itscam::service::test
