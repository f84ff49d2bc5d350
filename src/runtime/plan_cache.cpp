#include "runtime/plan_cache.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/time_format.h"

#ifdef ITSCAM_HAVE_ONNX
#include "onnx/onnx_importer.h"
#endif

namespace itscam {

namespace fs = std::filesystem;

namespace {

void cache_log(const EngineOptions& opt, const std::string& msg) {
    if (opt.log)
        opt.log("plan cache: " + msg);
    else
        std::fprintf(stderr, "itscam: plan cache: %s\n", msg.c_str());
}

// Everything a build depends on besides the model's bytes, one "name=value" per line.
std::string build_settings(const EngineOptions& opt, const std::string& target_key) {
    std::ostringstream os;
    os << "version=" << itscam_version_string() << "\n"
       << "device=" << opt.device << "\ntarget=" << target_key << "\nprecision=" << precision_name(opt.precision)
       << "\nbatch=" << opt.batch << "\nsize=" << opt.height << "x" << opt.width << "\nthreads=" << opt.threads
       << "\nautotune=" << opt.autotune << "\npasses.optimize=" << opt.passes.optimize
       << "\npasses.fuse_residual=" << opt.passes.fuse_residual << "\npasses.disabled=";
    for (const auto& p : opt.passes.disabled) os << p << ",";
    os << "\n";
    return os.str();
}

// The cache file of a model whose bytes hash to model_sha.
Result<std::string> cache_file(const std::string& model_path, const std::string& model_sha, const EngineOptions& opt) {
    ITSCAM_ASSIGN_OR_RETURN(auto backend, backend_create(opt.device));
    const std::string key = "model=" + model_sha + "\n" + build_settings(opt, backend->target_key());
    ITSCAM_ASSIGN_OR_RETURN(const std::string digest, sha256_hex(key.data(), key.size()));
    return (fs::path(opt.plan_cache_dir) / (fs::path(model_path).stem().string() + "-" + digest.substr(0, 16) + ".plan"))
        .string();
}

}  // namespace

bool plan_cache_applies(const std::string& model_path, const EngineOptions& opt) {
    // Plain execution (opt.optimize false) records no tuning: nothing to cache.
    return !opt.plan_cache_dir.empty() && opt.optimize && !needs_calibration(opt.precision) &&
           !is_plan_file(model_path);
}

Result<std::string> plan_cache_file(const std::string& model_path, const EngineOptions& opt) {
    ITSCAM_ASSIGN_OR_RETURN(const std::string model_sha, sha256_file(model_path));
    return cache_file(model_path, model_sha, opt);
}

Result<std::unique_ptr<Engine>> plan_cache_load(const std::string& model_path, const EngineOptions& opt) {
    EngineOptions direct = opt;
    direct.plan_cache_dir.clear();
    auto sha = sha256_file(model_path);
    auto file = sha ? cache_file(model_path, *sha, opt) : Result<std::string>(sha.status());
    if (!file) {
        // The model is unreadable or the device unknown: the plain load says so in its own words.
        return Engine::load(model_path, direct);
    }
    std::error_code ec;
    if (fs::exists(*file, ec)) {
        auto plan = plan_read(*file);
        if (plan) {
            auto e = Engine::from_plan(*plan, direct, *file);
            if (e) {
                cache_log(opt, "using " + *file);
                return e;
            }
            cache_log(opt, *file + " does not load (" + e.status().to_string() + "); rebuilding it");
        } else {
            cache_log(opt, *file + " is unreadable (" + plan.status().to_string() + "); rebuilding it");
        }
    }
#ifdef ITSCAM_HAVE_ONNX
    Plan plan;
    {
        auto g = onnx_import_file(model_path);
        if (!g) return g.status().with_context(model_path);
        plan.graph = std::move(*g);
    }
    auto e = Engine::from_graph(plan.graph, direct);
    if (!e) return e.status().with_context(model_path);
    const Engine& eng = **e;
    PlanInfo& pi = plan.info;
    auto dev = parse_device(opt.device);
    pi.backend = dev ? dev->first : opt.device;
    pi.target_key = eng.target_key();
    pi.precision = opt.precision;
    pi.height = eng.input_height();
    pi.width = eng.input_width();
    pi.batch_sizes = {opt.batch};
    pi.tuning[opt.batch] = eng.tuning();
    pi.autotune = opt.autotune;
    pi.creator = itscam_version_string();
    pi.created = iso8601_utc(std::chrono::system_clock::now());
    pi.source_path = fs::absolute(model_path, ec).lexically_normal().string();
    pi.source_sha256 = *sha;
    pi.source_bytes = static_cast<int64_t>(fs::file_size(model_path, ec));
    fs::create_directories(opt.plan_cache_dir, ec);
    Status ws = ec ? io_error("cannot create '" + opt.plan_cache_dir + "': " + ec.message()) : plan_write(plan, *file);
    if (ws)
        cache_log(opt, "wrote " + *file + " (batch " + std::to_string(opt.batch) + ")");
    else
        cache_log(opt, "cannot write the plan of " + model_path + " (" + ws.to_string() + "); serving without it");
    return e;
#else
    return Engine::load(model_path, direct);
#endif
}

}  // namespace itscam
