#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "onnx/onnx_importer.h"
#include "passes/passes.h"
#include "runtime/engine.h"

namespace itscam::cli {

namespace {

struct InspectArgs {
    std::string model;
    bool graph = false, json = false, raw = false;
    int batch = 1;
};

nlohmann::json describe(const Graph& g) {
    nlohmann::json io = {{"inputs", nlohmann::json::array()}, {"outputs", nlohmann::json::array()}};
    for (const auto& v : g.inputs) io["inputs"].push_back({{"name", v}, {"dtype", dtype_name(g.values.at(v).dtype)},
                                                            {"shape", g.values.at(v).shape}});
    for (const auto& v : g.outputs) {
        const ValueInfo* vi = g.info(v);
        io["outputs"].push_back({{"name", v}, {"dtype", vi ? dtype_name(vi->dtype) : "?"},
                                 {"shape", vi ? vi->shape : Shape{}}});
    }
    io["ops"] = g.op_histogram();
    io["nodes"] = g.nodes.size();
    GraphCost c = graph_cost(g);
    io["parameters"] = c.params;
    io["gflops"] = c.gflops;
    return io;
}

int run_inspect(const InspectArgs& a) {
    auto g = onnx_import_file(a.model);
    if (!g) return fail(g.status().to_string(), 2);
    const ModelMetadata& md = g->metadata;
    nlohmann::json j;
    j["model"] = a.model;
    j["opset"] = g->opset;
    j["metadata"] = {{"task", md.task}, {"stride", md.stride}, {"imgsz", {md.imgsz_h, md.imgsz_w}},
                     {"batch", md.batch}, {"classes", md.names.size()}, {"names", md.names},
                     {"description", md.description}, {"version", md.version}};
    j["imported"] = describe(*g);
    Graph opt = *g;
    std::map<std::string, int> stats;
    Status st = optimize_graph(opt, a.batch, 0, 0, PassOptions{}, &stats);
    if (!st.is_ok()) return fail(st.to_string(), 2);
    j["optimized"] = describe(opt);
    j["optimized"]["passes"] = stats;
    if (a.json) {
        std::printf("%s\n", j.dump(1).c_str());
    } else {
        std::printf("model     %s (opset %lld)\n", a.model.c_str(), static_cast<long long>(g->opset));
        std::printf("task      %s, stride %d, imgsz %dx%d, %zu classes, exported batch %d\n", md.task.c_str(), md.stride,
                    md.imgsz_h, md.imgsz_w, md.names.size(), md.batch);
        if (!md.description.empty()) std::printf("about     %s (Ultralytics %s)\n", md.description.c_str(), md.version.c_str());
        for (const auto& in : j["imported"]["inputs"])
            std::printf("input     %s %s %s\n", in["name"].get<std::string>().c_str(),
                        in["dtype"].get<std::string>().c_str(), in["shape"].dump().c_str());
        for (const auto& o : j["optimized"]["outputs"])
            std::printf("output    %s %s %s\n", o["name"].get<std::string>().c_str(),
                        o["dtype"].get<std::string>().c_str(), o["shape"].dump().c_str());
        std::printf("params    %.3f M\n", j["optimized"]["parameters"].get<double>() / 1e6);
        std::printf("GFLOPs    %.2f per batch of %d\n", j["optimized"]["gflops"].get<double>(), a.batch);
        std::printf("nodes     %zu imported -> %zu optimized\n", g->nodes.size(), opt.nodes.size());
        std::printf("ops       ");
        for (const auto& [op, n] : g->op_histogram()) std::printf("%s:%d ", op.c_str(), n);
        std::printf("\noptimized ");
        for (const auto& [op, n] : opt.op_histogram()) std::printf("%s:%d ", op.c_str(), n);
        std::printf("\npasses    ");
        for (const auto& [p, n] : stats) std::printf("%s:%d ", p.c_str(), n);
        std::printf("\n");
    }
    if (a.graph) std::printf("%s", graph_dump(a.raw ? *g : opt).c_str());
    return 0;
}

}  // namespace

RunFn add_inspect_command(CLI::App& app) {
    auto a = std::make_shared<InspectArgs>();
    app.add_option("model", a->model, "ONNX model")->required();
    app.add_option("--batch", a->batch, "Batch size to bind for the optimized view")->check(CLI::Range(1, 4096));
    app.add_flag("--graph", a->graph, "Dump the optimized graph, one node per line");
    app.add_flag("--raw", a->raw, "With --graph: dump the graph as imported");
    app.add_flag("--json", a->json, "Machine-readable output");
    return [a] { return run_inspect(*a); };
}

}  // namespace itscam::cli
