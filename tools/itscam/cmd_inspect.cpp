#include <cstdio>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "passes/passes.h"
#include "runtime/engine.h"
#include "runtime/plan.h"

#ifdef ITSCAM_HAVE_ONNX
#include "onnx/onnx_importer.h"
#endif

namespace itscam::cli {

namespace {

struct InspectArgs {
    std::string model;
    bool graph = false, json = false, raw = false, no_optimize = false;
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

size_t count_lines(const std::string& s) {
    size_t n = 0;
    bool any = false;
    for (char c : s) {
        if (c == '\n') {
            n += any;
            any = false;
        } else {
            any = true;
        }
    }
    return n + any;
}

nlohmann::json describe_plan(const PlanInfo& p, const PlanFileStats& st) {
    nlohmann::json tuning = nlohmann::json::object();
    for (const auto& [b, t] : p.tuning)
        tuning[std::to_string(b)] = {{"bytes", t.size()}, {"entries", count_lines(t)}, {"text", t}};
    return {{"backend", p.backend},
            {"target_key", p.target_key},
            {"precision", precision_name(p.precision)},
            {"imgsz", {p.height, p.width}},
            {"batch_sizes", p.batch_sizes},
            {"autotune", p.autotune},
            {"performance", p.performance},
            {"tuning", tuning},
            {"creator", p.creator},
            {"created", p.created},
            {"source", {{"path", p.source_path}, {"sha256", p.source_sha256}, {"bytes", p.source_bytes}}},
            {"file_bytes", st.file_bytes},
            {"header_bytes", st.header_bytes},
            {"blob_bytes", st.blob_bytes},
            {"tensors", st.constants},
            {"fp16_stored", st.fp16_stored}};
}

void print_plan(const PlanInfo& p, const PlanFileStats& st) {
    std::printf("plan      %s, %.1f MB (%zu tensors%s)\n", p.creator.c_str(), st.file_bytes / 1048576.0, st.constants,
                st.fp16_stored ? (", " + std::to_string(st.fp16_stored) + " stored as fp16").c_str() : "");
    std::printf("created   %s\n", p.created.c_str());
    std::printf("source    %s (%lld bytes, sha256 %s)\n", p.source_path.c_str(), static_cast<long long>(p.source_bytes),
                p.source_sha256.empty() ? "?" : p.source_sha256.c_str());
    if (p.portable()) {
        std::printf("target    portable (graph only: any device, batch size and precision; weights %s)\n",
                    precision_name(p.precision));
    } else {
        std::printf("target    %s, %s, input %dx%d, %s%s\n", p.backend.c_str(), precision_name(p.precision), p.height,
                    p.width, p.performance.empty() ? "" : (p.performance + ", ").c_str(),
                    p.autotune ? "autotuned" : "not autotuned");
        std::printf("key       %s\n", p.target_key.c_str());
        std::string bs;
        for (int b : p.batch_sizes) bs += (bs.empty() ? "" : ", ") + std::to_string(b);
        std::printf("batches   %s\n", bs.c_str());
        for (const auto& [b, t] : p.tuning)
            std::printf("tuning    batch %-4d %s\n", b,
                        t.empty() ? "none (backend records no choices)"
                                  : (std::to_string(count_lines(t)) + " entries, " + std::to_string(t.size()) + " bytes")
                                        .c_str());
    }
}

int run_inspect(const InspectArgs& a) {
    Result<Graph> g = internal_error("unset");
    std::optional<std::pair<PlanInfo, PlanFileStats>> plan;
    if (is_plan_file(a.model)) {
        PlanFileStats st;
        auto p = plan_read(a.model, &st);
        if (!p) return fail(p.status().to_string(), 2);
        plan.emplace(p->info, st);
        g = std::move(p->graph);
    } else {
#ifdef ITSCAM_HAVE_ONNX
        g = onnx_import_file(a.model);
#else
        g = unsupported(a.model + ": not an itscam plan, and this build has no ONNX import");
#endif
    }
    if (!g) return fail(g.status().to_string(), 2);
    const ModelMetadata& md = g->metadata;
    nlohmann::json j;
    j["model"] = a.model;
    if (plan) j["plan"] = describe_plan(plan->first, plan->second);
    j["opset"] = g->opset;
    j["metadata"] = {{"task", md.task}, {"stride", md.stride}, {"imgsz", {md.imgsz_h, md.imgsz_w}},
                     {"batch", md.batch}, {"classes", md.names.size()}, {"names", md.names},
                     {"description", md.description}, {"version", md.version}};
    j["imported"] = describe(*g);
    Graph opt = *g;
    std::map<std::string, int> stats;
    const int ih = plan ? plan->first.height : 0, iw = plan ? plan->first.width : 0;
    PassOptions po;
    po.optimize = !a.no_optimize;
    Status st = optimize_graph(opt, a.batch, ih, iw, po, &stats);
    if (!st.is_ok()) return fail(st.to_string(), 2);
    j["optimized"] = describe(opt);
    j["optimized"]["passes"] = stats;
    j["optimized"]["pass_order"] = pass_sequence(po);
    j["optimized"]["fusions"] = po.optimize;
    if (a.json) {
        std::printf("%s\n", j.dump(1).c_str());
    } else {
        std::printf("model     %s (opset %lld)\n", a.model.c_str(), static_cast<long long>(g->opset));
        if (plan) print_plan(plan->first, plan->second);
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
        std::printf("\norder     ");
        for (const auto& p : pass_sequence(po)) std::printf("%s ", p.c_str());
        std::printf("%s\n", po.optimize ? "" : "(--no-optimize: no fusions)");
    }
    if (a.graph) std::printf("%s", graph_dump(a.raw ? *g : opt).c_str());
    return 0;
}

}  // namespace

RunFn add_inspect_command(CLI::App& app) {
    auto a = std::make_shared<InspectArgs>();
    app.add_option("model", a->model, "ONNX model or itscam plan (target, key, precision, batch sizes, tuning)")
        ->required();
    app.add_option("--batch", a->batch, "Batch size to bind for the optimized view")->check(CLI::Range(1, 4096));
    app.add_flag("--no-optimize", a->no_optimize,
                 "The graph plain execution runs (ENABLE_TENSORRT: false): the passes without fusions");
    app.add_flag("--graph", a->graph, "Dump the optimized graph, one node per line");
    app.add_flag("--raw", a->raw, "With --graph: dump the graph as imported");
    app.add_flag("--json", a->json, "Machine-readable output");
    return [a] { return run_inspect(*a); };
}

}  // namespace itscam::cli
