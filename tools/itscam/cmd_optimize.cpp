// itscam optimize: builds an engine per batch size for every model in a folder and writes one plan per model
// (runtime/plan.h). Models are ONNX files or plans (re-targeting a portable plan is how a machine without the ONNX
// importer gets its plans).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include "commands.h"
#include "device/registry.h"
#include "runtime/engine.h"
#include "runtime/plan.h"
#include "core/time_format.h"

#ifdef ITSCAM_HAVE_ONNX
#include "onnx/onnx_importer.h"
#endif

namespace itscam::cli {

namespace fs = std::filesystem;

namespace {

struct OptimizeArgs {
    std::string input_dir, output_dir;
    std::string performance = "balanced";
    bool fp16 = false;
    int max_batch = 32;
    std::string batch_sizes;
    std::string device;  // empty: default_device()
    int imgsz = 0;
    int threads = 0;
};

struct Settings {
    std::string device;   // --device, or the default chosen for it
    std::string note;     // how the default device was chosen (a progress line), or empty
    std::string backend;  // "cpu", "cuda", ..., or "portable"
    Precision precision = Precision::kF32;
    bool autotune = true;
    std::vector<int> batches;
};

struct Row {
    std::string model, precision, batches, size, time, status;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

std::string human_bytes(uint64_t n) {
    if (n >= (uint64_t{1} << 20)) return fmt("%.1f MB", static_cast<double>(n) / (1 << 20));
    if (n >= 1024) return fmt("%.1f KB", static_cast<double>(n) / 1024);
    return std::to_string(n) + " B";
}

std::string join(const std::vector<int>& v) {
    std::string s;
    for (int x : v) {
        if (!s.empty()) s.push_back(',');
        s.append(std::to_string(x));
    }
    return s;
}

// The engine builds, on stderr: one line per engine; on a terminal a bar that the next line replaces.
class Progress {
public:
    explicit Progress(size_t total) : total_(total), tty_(isatty(fileno(stderr))) {}
    void start(const std::string& what) {
        if (!tty_) return;
        const int width = 24;
        const int filled = total_ ? static_cast<int>(width * done_ / total_) : width;
        std::string bar(filled, '=');
        if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
        std::fprintf(stderr, "\r\033[K[%s] %zu/%zu %s ...", bar.c_str(), done_, total_, what.c_str());
        std::fflush(stderr);
    }
    void line(const std::string& text, bool counts = true) {
        if (counts) ++done_;
        std::fprintf(stderr, "%s[%zu/%zu] %s\n", tty_ ? "\r\033[K" : "", done_, total_, text.c_str());
        std::fflush(stderr);
    }

private:
    size_t done_ = 0, total_;
    bool tty_;
};

// Without --device: the first CUDA device when this build has the cuda backend and the machine a GPU; otherwise the
// cpu (fp32), and an error for --enable-fp16, which only a GPU backend runs.
Status default_device(const OptimizeArgs& a, Settings& s) {
    const std::vector<std::string> names = backend_names();
    const auto built = [&](const char* name) { return std::find(names.begin(), names.end(), name) != names.end(); };
    auto gpu = device::device_first_gpu();
    if (gpu.is_ok()) {
        s.device = (*gpu)->name();
        s.note = "--device not given: using " + s.device + ", the first GPU";
        return Status::ok();
    }
    const std::string why_no_gpu = gpu.status().message();
    const std::string cpu = built("cpu") ? "cpu" : "ref";
    if (a.fp16)
        return unsupported("--enable-fp16: fp16 engines need a GPU, and none is available: " + why_no_gpu + ". The " +
                           cpu + " backend runs fp32 only: drop --enable-fp16 to build fp32 plans for this machine, " +
                           "pass --device portable --enable-fp16 to store fp16 weights in a portable plan to " +
                           "re-target on a GPU machine, or run this on a machine with a GPU (--device cuda[:N])");
    s.device = cpu;
    s.note = "--device not given and no GPU: " + why_no_gpu + "; building fp32 plans for the " + cpu +
             " backend (pass --device to choose)";
    return Status::ok();
}

Status resolve(const OptimizeArgs& a, Settings& s) {
    if (a.performance != "fast" && a.performance != "balanced" && a.performance != "accurate")
        return invalid_argument("--target-performance must be fast, balanced or accurate, not '" + a.performance + "'");
    if (a.device.empty()) {
        ITSCAM_RETURN_IF_ERROR(default_device(a, s));
    } else {
        s.device = a.device;
    }
    ITSCAM_ASSIGN_OR_RETURN(auto dev, parse_device(s.device));
    s.backend = dev.first;
    if (s.backend == kPortableBackend) {
        // Graph only: weights in fp32, or fp16 with --enable-fp16 (half the file; fp16-rounded weights for good).
        s.precision = a.fp16 ? Precision::kF16 : Precision::kF32;
        s.autotune = false;
        return Status::ok();
    }
    ITSCAM_ASSIGN_OR_RETURN(auto backend, backend_create(s.device));  // unknown device: say so before any model
    ITSCAM_ASSIGN_OR_RETURN(device::Device * hw, device::device_get(s.device));
    const bool gpu = hw->prefers_fp16();  // a GPU: fp16 engines, recorded per-layer tuning
    if (a.fp16 && !gpu)
        return invalid_argument("--enable-fp16: the " + s.backend + " backend has no fp16 (it runs fp32); drop "
                                "--enable-fp16, or use --device cuda[:N]");
    const bool half = a.fp16 || (gpu && a.performance != "accurate");
    s.precision = half ? Precision::kF16 : Precision::kF32;
    // The cpu backend records no tuning, so it re-times its choices at every load: always let it.
    s.autotune = !gpu || a.performance != "balanced";
    if (!a.batch_sizes.empty()) {
        std::string err;
        if (!parse_int_csv(a.batch_sizes, s.batches, err)) return invalid_argument("--batch-sizes: " + err);
    } else {
        for (int b = 1; b <= a.max_batch; b *= 2) s.batches.push_back(b);
        if (s.batches.back() != a.max_batch) s.batches.push_back(a.max_batch);
    }
    for (int b : s.batches)
        if (b < 1 || b > 4096) return invalid_argument("batch sizes must be in 1..4096, not " + std::to_string(b));
    std::sort(s.batches.begin(), s.batches.end());
    s.batches.erase(std::unique(s.batches.begin(), s.batches.end()), s.batches.end());
    return Status::ok();
}

// The imported graph and its source info, from an ONNX file or a plan.
Status load_source(const fs::path& path, Plan& out) {
    const std::string p = path.string();
    if (is_plan_file(p)) {
        ITSCAM_ASSIGN_OR_RETURN(Plan src, plan_read(p));
        out.graph = std::move(src.graph);
        out.info.source_path = src.info.source_path.empty() ? p : src.info.source_path;
        out.info.source_sha256 = src.info.source_sha256;
        out.info.source_bytes = src.info.source_bytes;
        if (src.info.height > 0 && src.info.width > 0) {
            out.info.height = src.info.height;
            out.info.width = src.info.width;
        }
        return Status::ok();
    }
#ifdef ITSCAM_HAVE_ONNX
    ITSCAM_ASSIGN_OR_RETURN(out.graph, onnx_import_file(p));
    out.info.source_path = fs::absolute(path).lexically_normal().string();
    ITSCAM_ASSIGN_OR_RETURN(out.info.source_sha256, sha256_file(p));
    std::error_code ec;
    out.info.source_bytes = static_cast<int64_t>(fs::file_size(path, ec));
    return Status::ok();
#else
    return unsupported(p + ": this build has no ONNX import; convert it to a portable plan on a machine that has "
                       "it (`itscam optimize --device portable`), and optimize that plan here");
#endif
}

int run_optimize(const OptimizeArgs& a) {
    Settings s;
    Status st = resolve(a, s);
    if (!st.is_ok()) return fail(st.message(), exit_code_for(st));
    std::error_code ec;
    if (!fs::exists(a.input_dir, ec)) return fail("--input-dir '" + a.input_dir + "' does not exist", 2);
    if (!fs::is_directory(a.input_dir, ec)) return fail("--input-dir '" + a.input_dir + "' is not a directory", 2);
    std::vector<fs::path> models;
    for (const auto& e : fs::directory_iterator(a.input_dir, ec)) {
        const std::string ext = e.path().extension().string();
        if ((ext == ".onnx" || ext == ".plan") && e.is_regular_file(ec)) models.push_back(e.path());
    }
    if (ec) return fail("cannot list --input-dir '" + a.input_dir + "': " + ec.message(), 2);
    if (models.empty()) return fail("--input-dir '" + a.input_dir + "' has no models (*.onnx, *.plan)", 2);
    std::sort(models.begin(), models.end());
    fs::create_directories(a.output_dir, ec);
    if (ec || !fs::is_directory(a.output_dir))
        return fail("cannot create --output-dir '" + a.output_dir + "': " + (ec ? ec.message() : "not a directory"));

    // One output per stem: x.onnx wins over x.plan (the plan is likely an earlier output of the same model).
    std::set<std::string> stems;
    std::vector<fs::path> todo;
    std::vector<Row> rows;
    for (const auto& m : models) {
        if (stems.insert(m.stem().string()).second) {
            todo.push_back(m);
        } else {
            std::fprintf(stderr, "itscam: warning: skipping %s: %s.onnx also writes %s.plan\n", m.string().c_str(),
                         m.stem().string().c_str(), m.stem().string().c_str());
        }
    }
    const bool portable = s.backend == kPortableBackend;
    Progress bar(portable ? todo.size() : todo.size() * s.batches.size());
    if (!s.note.empty()) std::fprintf(stderr, "itscam optimize: %s\n", s.note.c_str());
    std::fprintf(stderr, "itscam optimize: %zu model%s -> %s (%s, %s%s%s)\n", todo.size(), todo.size() == 1 ? "" : "s",
                 a.output_dir.c_str(), s.device.c_str(), precision_name(s.precision),
                 portable ? "" : s.autotune ? ", autotune" : ", no autotune",
                 portable ? "" : (", batch " + join(s.batches)).c_str());
    int rc = 0;
    for (const auto& path : todo) {
        const std::string model = path.filename().string();
        const auto t_model = std::chrono::steady_clock::now();
        Row row{model, precision_name(s.precision), portable ? "any" : join(s.batches), "-", "-", "ok"};
        auto model_fail = [&](const Status& why) {
            std::fprintf(stderr, "%sitscam: error: %s\n", isatty(fileno(stderr)) ? "\r\033[K" : "",
                         why.to_string().c_str());
            row.status = "FAILED";
            rc = std::max(rc, exit_code_for(why));
            rows.push_back(row);
        };
        Plan plan;
        if (Status ls = load_source(path, plan); !ls.is_ok()) {
            model_fail(ls);
            continue;
        }
        PlanInfo& info = plan.info;
        const int h = a.imgsz > 0 ? a.imgsz : info.height > 0 ? info.height : plan.graph.metadata.imgsz_h;
        const int w = a.imgsz > 0 ? a.imgsz : info.width > 0 ? info.width : plan.graph.metadata.imgsz_w;
        info.backend = s.backend;
        info.precision = s.precision;
        info.height = h;
        info.width = w;
        info.autotune = s.autotune;
        info.performance = a.performance;
        info.creator = itscam_version_string();
        info.created = iso8601_utc(std::chrono::system_clock::now());
        bool ok = true;
        if (portable) {
            // Check that the graph prepares (binds, folds, fuses) at this input size before carrying it anywhere.
            bar.start(model + " (portable)");
            Graph g = plan.graph;
            Status ps = optimize_graph(g, 1, h, w, PassOptions{});
            if (!ps.is_ok()) {
                model_fail(ps.with_context(model));
                continue;
            }
            bar.line(model + " portable (graph only): " + fmt("%.2f s", seconds_since(t_model)));
        } else {
            for (int b : s.batches) {
                bar.start(model + " batch " + std::to_string(b));
                EngineOptions eo;
                eo.device = s.device;
                eo.batch = b;
                eo.height = h;
                eo.width = w;
                eo.threads = a.threads;
                eo.precision = s.precision;
                eo.precision_explicit = true;
                eo.autotune = s.autotune;
                eo.tune_alternatives = s.autotune;  // a plan is built once: time the whole-graph alternatives too
                const auto t0 = std::chrono::steady_clock::now();
                auto e = Engine::from_graph(plan.graph, eo);
                if (!e) {
                    model_fail(e.status().with_context(model + " batch " + std::to_string(b)));
                    ok = false;
                    break;
                }
                info.target_key = (*e)->target_key();
                info.batch_sizes.push_back(b);
                info.tuning[b] = (*e)->tuning();
                bar.line(model + " batch " + std::to_string(b) + " " + precision_name(s.precision) + ": " +
                         fmt("%.2f s", seconds_since(t0)) +
                         (info.tuning[b].empty() ? "" : ", tuning " + human_bytes(info.tuning[b].size())));
            }
        }
        if (!ok) continue;
        const fs::path out = fs::path(a.output_dir) / (path.stem().string() + ".plan");
        Status ws = plan_write(plan, out.string());
        if (!ws.is_ok()) {
            model_fail(ws.with_context(model));
            continue;
        }
        row.size = human_bytes(fs::file_size(out, ec));
        row.time = fmt("%.1f s", seconds_since(t_model));
        rows.push_back(row);
        std::fprintf(stderr, "  wrote %s\n", out.string().c_str());
    }
    // Summary table on stdout.
    std::printf("%-28s %-9s %-10s %-22s %10s %9s  %s\n", "model", "device", "precision", "batches", "size", "build",
                "status");
    for (const auto& r : rows)
        std::printf("%-28s %-9s %-10s %-22s %10s %9s  %s\n", r.model.c_str(), s.device.c_str(), r.precision.c_str(),
                    r.batches.c_str(), r.size.c_str(), r.time.c_str(), r.status.c_str());
    return rc;
}

}  // namespace

RunFn add_optimize_command(CLI::App& app) {
    auto a = std::make_shared<OptimizeArgs>();
    app.footer(
        "\nTarget performance:\n"
        "  fast      GPU: fp16 and autotune (every layer's algorithms timed, the fastest kept; slower build)\n"
        "  balanced  GPU: fp16 with the backend's default algorithm per layer (quick, deterministic build)\n"
        "  accurate  fp32 everywhere, autotuned\n"
        "  The cpu backend builds fp32 for all three (fp16 is GPU-only) and always autotunes: it records no\n"
        "  tuning in the plan, so it re-times its choices each time the plan loads (~0.2 s).\n"
        "Device: without --device, the first CUDA device (cuda:0) when there is one; otherwise the cpu, in fp32\n"
        "  (the progress output says which and why), and --enable-fp16 is an error.\n"
        "Plans: <output-dir>/<model>.plan for every *.onnx and *.plan in --input-dir. A plan built for a device\n"
        "only loads where Backend::target_key() matches (same GPU model, compute capability, cuDNN/CUDA versions)\n"
        "and at its batch sizes. --device portable writes the graph alone (no ONNX needed to load it anywhere):\n"
        "carry it to a GPU machine and run `itscam optimize --input-dir plans --device cuda:0` there.");
    app.add_option("--input-dir", a->input_dir, "Folder of models (*.onnx, and *.plan to re-target)")->required();
    app.add_option("--output-dir", a->output_dir, "Where to write <model>.plan (created if missing)")->required();
    app.add_option("--target-performance", a->performance, "fast | balanced | accurate (see below)")
        ->capture_default_str();
    app.add_flag("--enable-fp16", a->fp16,
                 "Force fp16 (GPU only: an error without one; with portable: store the weights as fp16)");
    auto* maxb = app.add_option("--max-batch-size", a->max_batch,
                                "Build batch sizes 1, 2, 4, ... up to this (and this itself)")
                     ->check(CLI::Range(1, 4096))
                     ->capture_default_str();
    app.add_option("--batch-sizes", a->batch_sizes, "Exactly these batch sizes, e.g. 1,8,32")->excludes(maxb);
    app.add_option("--device", a->device,
                   "cuda[:N], cpu, ref or portable (graph only, for any machine). Default: cuda:0 when this build "
                   "has CUDA and the machine a GPU, else cpu");
    app.add_option("--imgsz", a->imgsz, "Input size (0 = the model's imgsz)")->check(CLI::Range(0, 8192));
    app.add_option("--threads", a->threads, "Worker threads while building (0 = all cores)")->check(CLI::Range(0, 1024));
    return [a] { return run_optimize(*a); };
}

}  // namespace itscam::cli
