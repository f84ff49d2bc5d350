#include "pipeline_report.h"

#include <cstdio>

namespace itscam::cli {

namespace {
std::string fmt(const char* f, double a) {
    char b[64];
    std::snprintf(b, sizeof b, f, a);
    return b;
}
}  // namespace

std::string pipeline_status_line(const pipeline::PipelineSnapshot& s) {
    const auto it = s.stages.find("e2e");
    const pipeline::LatencySummary e2e = it == s.stages.end() ? pipeline::LatencySummary{} : it->second;
    std::string line = "fps " + fmt("%.1f", s.fps) + " | e2e p50 " + fmt("%.1f", e2e.p50_ms) + " ms p99 " +
                       fmt("%.1f", e2e.p99_ms) + " ms | frames " + std::to_string(s.frames_processed) + " | dropped " +
                       std::to_string(s.frames_dropped) + " | pool " + fmt("%.1f", 100.0 * s.pool_total.hit_rate()) + "%";
    for (const auto& d : s.devices) line += std::string(" | ") + d.name + ": " + pipeline::circuit_state_name(d.circuit);
    int live = 0;
    for (const auto& c : s.cameras) live += c.state == "streaming";
    line += " | cameras " + std::to_string(live) + "/" + std::to_string(s.cameras.size()) + " streaming";
    return line;
}

std::string pipeline_summary(const pipeline::PipelineSnapshot& s) {
    std::string o;
    char b[512];
    std::snprintf(b, sizeof b, "frames processed %lld in %lld batches (mean batch %.2f), dropped %lld, skipped %lld, failed %lld\n",
                  static_cast<long long>(s.frames_processed), static_cast<long long>(s.batches),
                  s.batches ? static_cast<double>(s.frames_processed) / s.batches : 0.0,
                  static_cast<long long>(s.frames_dropped), static_cast<long long>(s.frames_skipped),
                  static_cast<long long>(s.frames_failed));
    o += b;
    o += "stage latency (ms, recent window)     p50      p95      p99      max\n";
    for (const char* name : {"decode", "queue", "batch_wait", "preprocess", "inference", "nms", "e2e"}) {
        auto it = s.stages.find(name);
        if (it == s.stages.end()) continue;
        const auto& l = it->second;
        std::snprintf(b, sizeof b, "  %-32s %8.2f %8.2f %8.2f %8.2f\n", name, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms);
        o += b;
    }
    // thinned: times the camera's decoder started skipping non-reference frames under overload
    // (pipeline/decode_thinning.h).
    o += "camera               state         captured  processed  dropped  skipped  reconn  thinned    fps  p99 ms\n";
    for (const auto& c : s.cameras) {
        std::snprintf(b, sizeof b, "  %-18s %-12s %9lld %10lld %8lld %8lld %7lld %8lld %6.1f %7.1f\n", c.id.c_str(),
                      c.state.c_str(), static_cast<long long>(c.frames_captured),
                      static_cast<long long>(c.frames_processed), static_cast<long long>(c.frames_dropped),
                      static_cast<long long>(c.frames_skipped), static_cast<long long>(c.reconnects),
                      static_cast<long long>(c.nonref_skip_starts), c.fps, c.latency.p99_ms);
        o += b;
        if (!c.last_error.empty()) o += "    last error: " + c.last_error + "\n";
    }
    std::snprintf(b, sizeof b, "pools: hit rate %.4f, misses %lld, acquire p50 %.2f us p99 %.2f us, %.1f MB held\n",
                  s.pool_total.hit_rate(), static_cast<long long>(s.pool_total.misses), s.pool_total.acquire_p50_us,
                  s.pool_total.acquire_p99_us, s.pool_total.bytes_total / 1048576.0);
    o += b;
    for (const auto& d : s.devices) {
        std::snprintf(b, sizeof b,
                      "device %s: circuit %s, %lld batches, %lld failures, %lld served by fallback, %lld handed to "
                      "another device, busy %.0f%%\n",
                      d.name.c_str(), pipeline::circuit_state_name(d.circuit), static_cast<long long>(d.batches),
                      static_cast<long long>(d.failures), static_cast<long long>(d.fallback_batches),
                      static_cast<long long>(d.handoffs), 100.0 * d.busy_fraction);
        o += b;
    }
    return o;
}

}  // namespace itscam::cli
