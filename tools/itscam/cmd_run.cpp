// itscam run: the multi-camera service loop. Runs until SIGINT/SIGTERM (or, with only non-looping files, until
// they end), then drains the queues and shuts down cleanly. With the service built in, a service::Server runs
// beside the pipeline (HTTP API, Prometheus metrics, live streams, alert rules, history: src/service/server.h).
// With a `cluster:` section the node joins the cluster (cluster_node.h, docs/cluster.md): the config's cameras only
// seed etcd, and the pipeline runs the cameras this node owns, each stamped with its epoch.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "build_info.h"
#include "commands.h"
#include "config/config.h"
#include "core/regular_file.h"
#include "pipeline/pipeline.h"
#include "pipeline_report.h"
#ifdef ITSCAM_HAVE_SERVICE
#include "service/server.h"
#endif
#ifdef ITSCAM_HAVE_CLUSTER
#include "cluster_node.h"
#endif

namespace itscam::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) {
    g_signal = sig;
}

struct RunArgs {
    std::string config;
    bool print_config = false;
    double duration_s = 0;
    double status_interval_s = 10;
    bool check = false;
};

std::chrono::steady_clock::time_point after(std::chrono::steady_clock::time_point t, double seconds) {
    return t + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

// Every model file the config names, checked before anything starts. A missing one is what an installed service
// meets first (the package ships no weights), so the message says what belongs there; the engine build would only
// say that it cannot open the file.
Status check_model_files(const config::Config& cfg) {
    std::vector<std::string> models{cfg.model};
    for (const auto& c : cfg.cameras) models.push_back(c.model);
    if (cfg.fallback.enabled) models.push_back(cfg.fallback.model);
    for (const auto& m : models) {
        if (m.empty()) continue;
        Status st = check_regular_file(m, "model file '" + m + "': ");
        if (st.code() == StatusCode::kNotFound)
            return not_found(st.message() +
                             "; put a YOLO11 ONNX export (or an `itscam optimize` plan) there, or "
                             "name another file in the config's model setting (docs/deploy.md, Model)");
        if (!st) return st;
    }
    return Status::ok();
}

int run_run(const RunArgs& a) {
    const config::Env env = config::process_env();
    auto cfg = config::load_config(a.config, &env);
    if (!cfg) return fail(cfg.status().message(), 2);
    // From here on the tokens and camera passwords are hidden wherever they would show (logs, API, errors).
    config::register_secrets(*cfg);
    if (a.print_config) {
        std::fputs(config::to_yaml(*cfg).c_str(), stdout);  // tokens and URL passwords masked
        return 0;
    }
    // Which build serves (the journal of a packaged service keeps it across upgrades).
    std::fprintf(stderr, "itscam: %s, config %s\n", version_line().c_str(), a.config.c_str());
    for (const auto& o : cfg->env_overrides) std::fprintf(stderr, "itscam: environment override %s\n", o.c_str());
    if (Status st = check_model_files(*cfg); !st) return fail(st.message(), exit_code_for(st));
    pipeline::PipelineOptions po;
    po.defer_load = true;
    // Cluster mode: the pipeline starts without cameras; the config's seed etcd and the node runs what it owns.
    const bool clustered = cfg->cluster.enabled;
    config::Config pipe_cfg = *cfg;
    std::vector<config::CameraConfig> seeds;
    if (clustered) seeds.swap(pipe_cfg.cameras);
#ifdef ITSCAM_HAVE_CLUSTER
    // Declared before the server and the pipeline, whose hooks call it (the lease check, the API's cluster side).
    std::shared_ptr<ClusterNode> node;
    if (clustered && !a.check) {
        auto n = ClusterNode::create(*cfg, [](const std::string& l) { std::fprintf(stderr, "itscam: %s\n", l.c_str()); });
        if (!n) return fail(n.status().message(), 2);
        node = std::move(n).value();
        po.may_publish = node->publish_gate();
        po.node = cluster::effective_cluster_node(cfg->cluster);
    }
    struct StopNodeFirst {  // on every return: the node's cameras stop and its lease goes before anything else
        ClusterNode* n;
        ~StopNodeFirst() {
            if (n) n->stop();
        }
    };
#else
    if (clustered) return fail("cluster: this build has no cluster mode (built without the service)", 2);
#endif
#ifdef ITSCAM_HAVE_SERVICE
    // The service around the pipeline (alerts, history, HTTP API, streams, timers): declared before the pipeline,
    // whose hooks point at it.
    std::unique_ptr<service::Server> server;
    if (Status st = service::Server::validate(*cfg); !st) return fail(st.message(), 2);
    if (!a.check) {
        service::ServerOptions so;
#ifdef ITSCAM_HAVE_CLUSTER
        if (node) {
            so.may_publish = po.may_publish;
            so.cluster = node;
        }
#endif
        auto s = service::Server::create(*cfg, so);
        if (!s) return fail(s.status().to_string(), exit_code_for(s.status()));
        server = std::move(s).value();
        server->attach(po);
    }
#endif
    auto p = pipeline::Pipeline::create(pipe_cfg, po);
    if (!p) return fail(p.status().to_string(), exit_code_for(p.status()));
    pipeline::Pipeline& pipe = **p;
#ifdef ITSCAM_HAVE_SERVICE
    // On every return: the Server (API, timers) stops before the pipeline it serves is destroyed.
    struct StopServerFirst {
        service::Server* s;
        ~StopServerFirst() {
            if (s) s->stop();
        }
    } stop_server_first{server.get()};
#endif
#ifdef ITSCAM_HAVE_CLUSTER
    StopNodeFirst stop_node_first{node.get()};  // declared last: runs first
#endif
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
#ifdef ITSCAM_HAVE_SERVICE
    // The API answers (503 "loading") while the engines build; the Server's timers wait for the pipeline.
    if (server)
        if (Status st = server->start(pipe); !st) return fail(st.to_string(), exit_code_for(st));
#endif
    if (pipe_cfg.cameras.empty() && !clustered)
        std::fprintf(stderr, "itscam: no cameras configured; add them through the API\n");
    std::fprintf(stderr, "itscam: building engines for %s (%s, %s)...\n", cfg->model.c_str(), cfg->device.c_str(),
                 cfg->precision.c_str());
    if (Status st = pipe.load(); !st) return fail(st.to_string(), exit_code_for(st));
    if (a.check) {
        std::fprintf(stderr, "itscam: config and engines OK\n");
        return 0;
    }
    if (g_signal) return 0;
    if (Status st = pipe.start(); !st) return fail(st.to_string());
#ifdef ITSCAM_HAVE_CLUSTER
    if (node) {
        // Other nodes redirect to this address (cluster.advertise overrides it).
        std::string api;
        if (server && server->http())
            api = std::string(cfg->server.tls_cert.empty() ? "http" : "https") + "://" + cfg->server.host + ":" +
                  std::to_string(server->http()->port());
        if (Status st = node->start(pipe, seeds, api); !st) return fail(st.to_string(), exit_code_for(st));
    }
#endif
    if (clustered)
        std::fprintf(stderr, "itscam: cluster mode: running the cameras this node owns; Ctrl-C to stop\n");
    else
        std::fprintf(stderr, "itscam: running %zu camera(s); Ctrl-C to stop\n", cfg->cameras.size());

    // Cameras that are all non-looping files end on their own; live ones run until a signal. A cluster node runs
    // until a signal whatever its cameras do (more may come).
    std::atomic<bool> ended{false};
    std::thread waiter([&] {
        pipe.wait_cameras_ended();
        ended = !clustered;
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto next_status = after(t0, a.status_interval_s);
    while (!g_signal && !ended) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto now = std::chrono::steady_clock::now();
        if (a.duration_s > 0 && std::chrono::duration<double>(now - t0).count() >= a.duration_s) break;
        if (a.status_interval_s > 0 && now >= next_status) {
            std::fprintf(stderr, "itscam: %s\n", pipeline_status_line(pipe.snapshot()).c_str());
            next_status = after(now, a.status_interval_s);
        }
    }
    if (g_signal) std::fprintf(stderr, "itscam: %s received, draining...\n", g_signal == SIGINT ? "SIGINT" : "SIGTERM");
#ifdef ITSCAM_HAVE_CLUSTER
    if (node) node->stop();  // its cameras stop and their owner keys go: the other nodes take them over at once
#endif
#ifdef ITSCAM_HAVE_SERVICE
    if (server) server->stop();  // the API before the pipeline: no request may see it half stopped
#endif
    pipe.stop(true);
    waiter.join();
    const pipeline::PipelineSnapshot final_snapshot = pipe.snapshot();
#ifdef ITSCAM_HAVE_SERVICE
    if (server) server->finish(final_snapshot);  // the last history sample, the webhook flushed
#endif
    std::fprintf(stderr, "%s", pipeline_summary(final_snapshot).c_str());
    return 0;
}

}  // namespace

RunFn add_run_command(CLI::App& app) {
    auto a = std::make_shared<RunArgs>();
    app.add_option("-c,--config", a->config, "YAML config file (settings + cameras; environment overrides)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_flag("--print-config", a->print_config,
                 "Print the effective configuration (after environment; tokens and URL passwords masked) and exit");
    app.add_flag("--check", a->check, "Validate the config and build the engines, then exit");
    app.add_option("--duration", a->duration_s, "Stop after this many seconds (0: run until SIGINT/SIGTERM)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--status-interval", a->status_interval_s, "Seconds between status lines on stderr (0: none)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    return [a] { return run_run(*a); };
}

}  // namespace itscam::cli
