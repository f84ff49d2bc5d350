#include <cstdio>
#include <exception>

#include "build_info.h"
#include "commands.h"
#include "runtime/process_setup.h"

int main(int argc, char** argv) {
    itscam::prefer_short_openmp_spins(argv);
    CLI::App app{"itscam: real-time YOLO11 traffic-camera analytics engine"};
    app.require_subcommand(1);
    app.set_version_flag("--version", itscam::cli::version_line());
    std::vector<std::pair<CLI::App*, itscam::cli::RunFn>> cmds;
    auto add = [&](const char* name, const char* desc, itscam::cli::RunFn (*fn)(CLI::App&)) {
        CLI::App* sub = app.add_subcommand(name, desc);
        cmds.emplace_back(sub, fn(*sub));
    };
    add("detect", "Detect objects in images (JSON and annotated images; without OpenCV: PPM/PGM images)",
        itscam::cli::add_detect_command);
    add("inspect", "Show a model's or plan's metadata, inputs/outputs, op counts, parameters and GFLOPs",
        itscam::cli::add_inspect_command);
    add("val", "Measure mAP50-95 / mAP50 on a YOLO-format dataset folder", itscam::cli::add_val_command);
    add("optimize", "Build optimized plans (one per model, per-batch tuning) for a device, or portable ones",
        itscam::cli::add_optimize_command);
    add("run", "Run the multi-camera pipeline from a YAML config until SIGINT/SIGTERM", itscam::cli::add_run_command);
    add("bench", "Benchmark the engine (p50/p99 latency, FPS, peak memory)", itscam::cli::add_bench_command);
#ifdef ITSCAM_HAVE_SERVICE
    add("report", "Performance report (HTML + Markdown) or period analysis from the recorded history",
        itscam::cli::add_report_command);
#endif
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    try {
        for (auto& [sub, run] : cmds)
            if (sub->parsed()) return run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "itscam: error: %s\n", e.what());
        return 1;
    }
    return 2;
}
