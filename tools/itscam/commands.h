// itscam CLI: one file per subcommand. Each registers its options on a CLI11 subcommand and returns the process
// exit code from its run function (0 ok, 1 runtime failure, 2 bad usage/input).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace itscam::cli {

using RunFn = std::function<int()>;

RunFn add_detect_command(CLI::App& app);  // without OpenCV: PPM/PGM in, PPM with unlabelled boxes out
RunFn add_val_command(CLI::App& app);  // without OpenCV: PPM images only
RunFn add_inspect_command(CLI::App& app);
RunFn add_optimize_command(CLI::App& app);
RunFn add_bench_command(CLI::App& app);
RunFn add_bench_pipeline_command(CLI::App& app);
#ifdef ITSCAM_HAVE_BENCH_STREAMING
RunFn add_bench_streaming_command(CLI::App& app);  // needs FFmpeg (x264) and OpenCV (drawing)
#endif
RunFn add_run_command(CLI::App& app);
#ifdef ITSCAM_HAVE_SERVICE
RunFn add_report_command(CLI::App& app);  // needs the service library (History, reports)
#endif

// Shared helpers.
int fail(const std::string& msg, int code = 1);
// The exit code for a failed Status: 2 for bad input (invalid, missing, unreadable, corrupt, unsupported), else 1.
int exit_code_for(const Status& st);
// Expands files and directories into a sorted list of image files; errors on missing paths or no images.
bool collect_images(const std::vector<std::string>& paths, std::vector<std::string>& out, std::string& err);
// Splits "a,b,c" at the commas; false when an item is empty ("", "a,,b", "a,").
bool split_csv(const std::string& s, std::vector<std::string>& out);
// Parses "2,5,7" into ints; false with a message on bad input.
bool parse_int_csv(const std::string& s, std::vector<int>& out, std::string& err);
// A one-line progress bar on stderr ("[=====>    ] 42/128 label"), only when stderr is a terminal or forced.
void progress(size_t done, size_t total, const std::string& label);

}  // namespace itscam::cli
