// Engine: an imported model, optimized and compiled for one backend, batch size and input size.
//
// The model is an ONNX file or an itscam plan (runtime/plan.h, written by `itscam optimize`); load() tells them
// apart by the plan magic, not the extension. A plan with a target only loads on a backend with the same
// target_key(), at one of its batch sizes, in its precision, and reuses its recorded tuning. Plans load without
// the ONNX importer (builds with ITSCAM_WITH_ONNX=OFF run plans only).
//
// Thread-safety: run() is not reentrant; use one Engine per worker. Memory: the compiled backend owns its buffers
// (its activations may live in an arena shared with the worker's other engines, EngineOptions::arena); run() on
// optimized backends allocates nothing.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "graph/graph.h"
#include "passes/passes.h"
#include "runtime/plan.h"

namespace itscam {

struct EngineOptions {
    std::string device = "cpu";  // "cpu" (oneDNN), "ref" (reference oracle), "cuda" / "cuda:N" (GPU N)
    int batch = 1;
    int height = 0;  // 0: the model's imgsz
    int width = 0;
    int threads = 0;  // 0: all cores
    Precision precision = Precision::kF32;
    // True when the caller asked for `precision`: a plan built for another precision is then an error. False: a
    // targeted plan's own precision is used.
    bool precision_explicit = false;
    // Let the backend time alternative implementations per layer (BackendOptions::autotune). A plan's recorded
    // tuning, when it has one, replaces the timing.
    bool autotune = true;
    // With autotune, also choose between whole alternative graphs by timing each (BackendOptions::
    // tune_alternatives): a plan build's cost (`itscam optimize`), too slow for an engine built at start.
    bool tune_alternatives = false;
    // ENABLE_TENSORRT (`--no-optimize` on the CLI). False: plain execution: the graph passes run without fusions
    // (PassOptions::optimize is forced off), the backend uses its default algorithms (no autotuning, whatever
    // `autotune` says) and a plan's recorded tuning is not read. A plan's graph is stored as imported, so a plan runs
    // plain too.
    bool optimize = true;
    PassOptions passes;
    // int8 only: produces calibration inputs ([1, C, h, w] float32, preprocessed like real frames) for the given
    // input size. The engine runs them through an fp32 build of the same graph to record activation ranges.
    std::function<Result<std::vector<Tensor>>(int h, int w)> calibration;
    // Wraps the backend before it compiles (fault injection in tests and drills). Empty: the plain backend.
    std::function<std::unique_ptr<Backend>(std::unique_ptr<Backend>)> backend_decorator;
    // Host backends: the activation arena to share with other engines that never run at the same time as this one
    // (one pipeline worker's batch sizes and fallback). Null: the engine has its own. See backend/activation_arena.h.
    std::shared_ptr<ActivationArena> arena;
    // load() of an ONNX model: the plan-cache folder (runtime/plan_cache.h). A build reads the plan a previous one
    // with the same model and settings left there instead of autotuning again, and leaves its own. Empty: no cache.
    std::string plan_cache_dir;
    // Where the plan cache says what it did (a hit, a build, a file it had to rebuild). Empty: stderr.
    std::function<void(const std::string&)> log;
};

class Engine {
public:
    // An ONNX model or a plan (detected by its magic). With opt.plan_cache_dir, an ONNX model goes through the plan
    // cache (runtime/plan_cache.h).
    static Result<std::unique_ptr<Engine>> load(const std::string& model_path, const EngineOptions& opt);
    static Result<std::unique_ptr<Engine>> from_graph(Graph imported, const EngineOptions& opt);
    // Checks the plan's target against opt.device (backend name and target_key), its batch sizes, precision and
    // input size, then builds with its tuning. `name` is the file, for messages.
    static Result<std::unique_ptr<Engine>> from_plan(const Plan& plan, const EngineOptions& opt,
                                                     const std::string& name = "plan");

    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // input: float32 [batch, C, H, W] (NCHW, RGB, 0..1). outputs: in graph order (YOLO: [batch, 4+nc, anchors]).
    Status run(const Tensor& input, std::vector<Tensor>& outputs);

    const ModelMetadata& metadata() const { return graph_.metadata; }
    const Graph& graph() const { return graph_; }
    const std::map<std::string, int>& pass_stats() const { return pass_stats_; }
    const EngineOptions& options() const { return opt_; }
    int batch() const { return static_cast<int>(input_shape_[0]); }
    int channels() const { return static_cast<int>(input_shape_[1]); }
    int input_height() const { return static_cast<int>(input_shape_[2]); }
    int input_width() const { return static_cast<int>(input_shape_[3]); }
    const CompiledGraph& compiled() const { return *compiled_; }
    // Mutable access for device-resident execution (GPU pre/post-processing around run_device()).
    CompiledGraph& compiled() { return *compiled_; }
    // The per-layer choices of this build (CompiledGraph::tuning()), for a plan (may be empty).
    std::string tuning() const { return compiled_->tuning(); }
    // Backend::target_key() of the backend this engine runs on (before any backend_decorator).
    const std::string& target_key() const { return target_key_; }
    // Set when the engine was built from a plan.
    const std::optional<PlanInfo>& plan_info() const { return plan_info_; }

private:
    Engine() = default;
    // from_graph with a backend already made (nullptr: make one from opt.device) and recorded tuning.
    static Result<std::unique_ptr<Engine>> build(Graph g, const EngineOptions& opt, std::unique_ptr<Backend> backend,
                                                 const std::string& tuning);
    EngineOptions opt_;
    std::string target_key_;
    std::optional<PlanInfo> plan_info_;
    Graph graph_;
    Shape input_shape_;
    std::map<std::string, int> pass_stats_;
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<CompiledGraph> compiled_;
};

// Parameter count and multiply-accumulate FLOPs (2 per MAC) of Conv and MatMul nodes of a shape-bound graph.
struct GraphCost {
    int64_t params = 0;
    double gflops = 0;
};
GraphCost graph_cost(const Graph& g);

}  // namespace itscam
