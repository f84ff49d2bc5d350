// Options shared by the commands that load a model (detect, val, bench).
#pragma once

#include <string>

#include "commands.h"
#include "runtime/detector.h"

namespace itscam::cli {

struct ModelArgs {
    std::string model;
    std::string device = "cpu";
    std::string precision = "fp32";
    int threads = 0;
    int imgsz = 0;
    std::string calib;  // int8: folder of calibration images
    bool no_optimize = false;  // --no-optimize: plain execution (EngineOptions::optimize false)
    // Set by add_model_options: whether --device / --precision were given (a plan supplies its own otherwise).
    CLI::Option* device_opt = nullptr;
    CLI::Option* precision_opt = nullptr;
};

void add_model_options(CLI::App& app, ModelArgs& a);
// Fills engine options from the arguments; false with a message when a value is invalid. For a plan with a
// target, the device defaults to the plan's backend when --device is not given, and the plan's precision is used
// unless --precision is given.
bool to_engine_options(const ModelArgs& a, EngineOptions& e, std::string& err);

}  // namespace itscam::cli
