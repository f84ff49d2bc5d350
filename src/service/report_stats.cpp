// The key numbers of a report window, gathered from the history (pipeline-wide samples and the events).
#include <algorithm>
#include <cmath>

#include "service/report.h"

namespace itscam::service {

namespace {

struct Mean {
    double sum = 0;
    int64_t n = 0;
    std::optional<double> max, min;
    void add(const std::optional<double>& v) {
        if (!v || !std::isfinite(*v)) return;
        sum += *v;
        ++n;
        max = max ? std::max(*max, *v) : *v;
        min = min ? std::min(*min, *v) : *v;
    }
    std::optional<double> mean() const {
        return n ? std::optional<double>(sum / static_cast<double>(n)) : std::nullopt;
    }
};

}  // namespace

Result<ReportStats> compute_report_stats(History& h, SystemTime from, SystemTime to) {
    ReportStats st;
    st.from = from;
    st.to = to;
    ITSCAM_ASSIGN_OR_RETURN(auto samples, h.samples(from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto alerts, h.alerts(from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto circuits, h.circuit_transitions(from, to));
    ITSCAM_ASSIGN_OR_RETURN(auto cams, h.camera_events(from, to));
    Mean p50, p95, p99, fps, pool, gpu, err;
    for (const auto& s : samples) {
        p50.add(s.latency_p50_ms);
        p95.add(s.latency_p95_ms);
        p99.add(s.latency_p99_ms);
        fps.add(s.fps);
        pool.add(s.pool_efficiency);
        gpu.add(s.gpu_utilization);
        err.add(s.error_rate);
        st.frames_processed += s.frames_processed;
        st.frames_dropped += s.frames_dropped;
    }
    st.samples = static_cast<int64_t>(samples.size());
    st.p50_mean_ms = p50.mean();
    st.p95_mean_ms = p95.mean();
    st.p99_mean_ms = p99.mean();
    st.p99_max_ms = p99.max;
    st.fps_mean = fps.mean();
    st.fps_min = fps.min;
    st.pool_efficiency_mean = pool.mean();
    st.gpu_utilization_mean = gpu.mean();
    st.error_rate_mean = err.mean();
    const int64_t total = st.frames_processed + st.frames_dropped;
    if (total > 0) st.drop_rate = static_cast<double>(st.frames_dropped) / static_cast<double>(total);
    for (const auto& a : alerts) {
        if (a.to_state != "firing") continue;
        ++st.alerts_fired;
        ++st.alerts_fired_by_rule[a.rule];
    }
    for (const auto& c : circuits)
        if (c.to_state == "open") ++st.circuit_opens;
    for (const auto& c : cams)
        if (c.kind == CameraEventKind::kDisconnected || c.kind == CameraEventKind::kFailed) ++st.camera_disconnects;
    return st;
}

}  // namespace itscam::service
