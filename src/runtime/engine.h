// Engine: an imported model, optimized and compiled for one backend, batch size and input size.
//
// Thread-safety: run() is not reentrant; use one Engine per worker. Memory: the compiled backend owns its buffers;
// run() on optimized backends allocates nothing.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "graph/graph.h"
#include "passes/passes.h"

namespace itscam {

struct EngineOptions {
    std::string device = "cpu";  // "cpu" (oneDNN), "ref" (reference oracle)
    int batch = 1;
    int height = 0;  // 0: the model's imgsz
    int width = 0;
    int threads = 0;  // 0: all cores
    Precision precision = Precision::kF32;
    PassOptions passes;
    // int8 only: produces calibration inputs ([1, C, h, w] float32, preprocessed like real frames) for the given
    // input size. The engine runs them through an fp32 build of the same graph to record activation ranges.
    std::function<Result<std::vector<Tensor>>(int h, int w)> calibration;
    // Wraps the backend before it compiles (fault injection in tests and drills). Empty: the plain backend.
    std::function<std::unique_ptr<Backend>(std::unique_ptr<Backend>)> backend_decorator;
};

class Engine {
public:
    static Result<std::unique_ptr<Engine>> load(const std::string& model_path, const EngineOptions& opt);
    static Result<std::unique_ptr<Engine>> from_graph(Graph imported, const EngineOptions& opt);

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

private:
    Engine() = default;
    EngineOptions opt_;
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
