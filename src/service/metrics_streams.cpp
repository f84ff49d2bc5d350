#include "service/metrics_streams.h"

#include <string>

namespace itscam::service {

using prometheus::MetricFamily;
using prometheus::MetricType;

std::vector<MetricFamily> stream_metric_families(const streaming::StreamHubMetrics& m) {
    FamilyBuilder b;
    const auto gauge = MetricType::Gauge;
    const auto counter = MetricType::Counter;
    auto& viewers = b.family("itscam_stream_viewers", "Video viewers by camera and rendition.", gauge);
    auto& bitrate = b.family("itscam_stream_bitrate_bytes_per_second",
                             "Encoded rate (EWMA over ~2 s) by camera and rendition.", gauge);
    auto& crf = b.family("itscam_stream_crf",
                         "CRF in force (the adaptive controller's choice) by camera and rendition.", gauge);
    auto& qp = b.family("itscam_stream_qp", "Average QP of the last encoded frame by camera and rendition.", gauge);
    auto& frag = b.family("itscam_stream_fragment_duration_seconds",
                          "Fragment duration of the rendition (0: one frame).", gauge);
    auto& bytes = b.family("itscam_stream_bytes_total", "Encoded fragment bytes by camera and rendition.", counter);
    auto& encoded =
        b.family("itscam_stream_frames_encoded_total", "Frames encoded (any rendition) by camera.", counter);
    auto& dropped = b.family("itscam_stream_frames_dropped_total",
                             "Frames replaced in the latest-frame slot before encoding.", counter);
    auto& p50 =
        b.family("itscam_stream_latency_p50_seconds", "Capture to fragment available, p50 over the last 60 s.", gauge);
    auto& p99 =
        b.family("itscam_stream_latency_p99_seconds", "Capture to fragment available, p99 over the last 60 s.", gauge);
    auto& activity = b.family("itscam_stream_activity_ratio",
                              "Scene activity 0..1 (motion, detection density) seen by the controller.", gauge);
    auto& rois = b.family("itscam_stream_roi_regions", "ROI regions in the last frame's quantizer map.", gauge);
    auto& v_rung = b.family("itscam_stream_viewer_rendition", "Rung index (0 = best) a viewer is on.", gauge);
    auto& v_tput = b.family("itscam_stream_viewer_throughput_bytes_per_second",
                            "Measured delivery throughput of a viewer (-1: keeps up).", gauge);
    auto& v_frag =
        b.family("itscam_stream_viewer_fragment_duration_seconds", "Fragment duration a viewer receives.", gauge);
    auto& v_skips = b.family("itscam_stream_viewer_skips_total",
                             "Times a viewer fell a queue behind and skipped to a keyframe.", counter);
    auto& v_queued = b.family("itscam_stream_viewer_queued_bytes", "Bytes queued for a viewer.", gauge);
    for (const auto& c : m.cameras) {
        const MetricLabels cl = {{"camera", c.id}};
        for (const auto& r : c.renditions) {
            const MetricLabels l = {{"camera", c.id}, {"rendition", r.name}};
            FamilyBuilder::gauge(viewers, l, r.viewers);
            FamilyBuilder::gauge(bitrate, l, r.bitrate_bytes_per_second);
            FamilyBuilder::gauge(crf, l, r.crf);
            FamilyBuilder::gauge(qp, l, r.qp);
            FamilyBuilder::gauge(frag, l, r.fragment_seconds);
            FamilyBuilder::counter(bytes, l, static_cast<double>(r.bytes));
        }
        FamilyBuilder::counter(encoded, cl, static_cast<double>(c.frames_encoded));
        FamilyBuilder::counter(dropped, cl, static_cast<double>(c.frames_dropped));
        FamilyBuilder::gauge(p50, cl, c.latency_p50_seconds);
        FamilyBuilder::gauge(p99, cl, c.latency_p99_seconds);
        FamilyBuilder::gauge(activity, cl, c.activity);
        FamilyBuilder::gauge(rois, cl, static_cast<double>(c.roi_regions));
        for (const auto& v : c.viewers) {
            const MetricLabels l = {{"camera", c.id}, {"viewer", std::to_string(v.id)}};
            FamilyBuilder::gauge(v_rung, l, v.rendition);
            FamilyBuilder::gauge(v_tput, l, v.throughput_bytes_per_second);
            FamilyBuilder::gauge(v_frag, l, v.fragment_seconds);
            FamilyBuilder::counter(v_skips, l, static_cast<double>(v.skips));
            FamilyBuilder::gauge(v_queued, l, static_cast<double>(v.queued_bytes));
        }
    }
    b.single_gauge("itscam_stream_connections", "Open streaming connections (video and events).", m.connections);
    b.single_counter("itscam_stream_rejected_total", "Streaming connections refused at streaming.max_viewers.",
                     static_cast<double>(m.rejected));
    b.single_counter("itscam_stream_egress_bytes_total",
                     "Bytes written to video viewers (init segments and fragments; the streaming_bandwidth alert's "
                     "input).",
                     static_cast<double>(m.egress.bytes));
    return b.take();
}

std::vector<MetricFamily> StreamHubCollector::Collect() const {
    return stream_metric_families(hub_->metrics());
}

}  // namespace itscam::service
