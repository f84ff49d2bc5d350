// What the stream hub reports: GET /streams/{id} and /api/v1/streams (JSON), and the metrics snapshot behind the
// itscam_stream_* series of /metrics.
#include <algorithm>
#include <cmath>
#include <tuple>

#include "streaming/camera_stream.h"
#include "streaming/stream_hub.h"

namespace itscam::streaming {

using json = nlohmann::json;

namespace {

std::string mime_for(const std::string& codec) {
    return "video/mp4; codecs=\"" + codec + "\"";
}

}  // namespace

Result<json> StreamHub::stream_json(const std::string& camera) {
    std::shared_ptr<CameraStream> c = find(camera);
    if (!c) return not_found("camera '" + camera + "' has no stream (unknown camera, or no frame processed yet)");
    int fw = 0, fh = 0;
    {
        std::lock_guard<std::mutex> lk(c->mu);
        fw = c->last_frame_w;
        fh = c->last_frame_h;
    }
    // A rung that has not run yet: open a throwaway encoder for its codec string (the SPS's profile and level).
    std::vector<std::string> codecs(c->rend.size());
    std::vector<std::pair<int, int>> sizes(c->rend.size());
    for (size_t i = 0; i < c->rend.size(); ++i) {
        {
            std::lock_guard<std::mutex> lk(c->mu);
            codecs[i] = c->rend[i].codec;
            sizes[i] = {c->rend[i].width, c->rend[i].height};
        }
        if (!codecs[i].empty() || fw <= 0) continue;
        EncoderOptions eo;
        std::tie(eo.width, eo.height) = rendition_size(ladder_[i], fw, fh);
        eo.preset = opt_.cfg.preset;
        eo.fps = c->fps > 0 ? c->fps : opt_.fps_hint;
        if (auto e = create_fmp4_encoder(eo)) {
            codecs[i] = (*e)->codec_string();
            sizes[i] = {eo.width, eo.height};
            std::lock_guard<std::mutex> lk(c->mu);
            if (c->rend[i].codec.empty()) c->rend[i].codec = codecs[i];
        }
    }
    std::lock_guard<std::mutex> lk(c->mu);
    json rs = json::array();
    for (size_t i = 0; i < c->rend.size(); ++i) {
        const RenditionState& r = c->rend[i];
        int viewers = 0;
        for (auto& w : r.viewers)
            if (auto v = w.lock(); v && !v->closed()) viewers++;
        json j{{"name", r.cfg.name},
               {"width", sizes[i].first},
               {"height", sizes[i].second},
               {"codec", codecs[i]},
               {"mime", codecs[i].empty() ? "" : mime_for(codecs[i])},
               {"configured_bitrate_kbps", r.cfg.bitrate_kbps},
               {"bitrate_kbps", std::round(r.bitrate_kbps * 10) / 10},
               {"fragment_ms", r.cfg.fragment_ms},
               {"active", r.enc != nullptr},
               {"viewers", viewers},
               {"frames", r.frames},
               {"bytes", r.bytes},
               {"crf", r.crf},
               {"qp", r.qp},
               {"url", "/streams/" + camera + "/live.mp4?rendition=" + r.cfg.name}};
        if (!r.error.empty()) j["error"] = r.error;
        rs.push_back(std::move(j));
    }
    const auto lat = c->latency.summary();
    int events = 0;
    for (auto& w : c->events)
        if (auto e = w.lock(); e && !e->closed()) events++;
    const QualityDecision& d = c->decision;
    return json{{"camera", camera},
                {"live_url", "/streams/" + camera + "/live.mp4"},
                {"events_url", "/streams/" + camera + "/detections"},
                {"mime", codecs.empty() || codecs[0].empty() ? "" : mime_for(codecs[0])},
                {"width", fw},
                {"height", fh},
                {"fps", std::round(c->fps * 100) / 100},
                {"renditions", std::move(rs)},
                {"event_viewers", events},
                {"frames_in", c->frames_in},
                {"frames_encoded", c->frames_encoded},
                {"frames_dropped", c->frames_dropped},
                {"latency_ms", {{"p50", lat.p50_ms}, {"p99", lat.p99_ms}, {"max", lat.max_ms}, {"count", lat.count}}},
                {"controller",
                 {{"adaptive", opt_.adaptive},
                  {"network_aware", opt_.network_aware},
                  {"crf", d.crf},
                  {"cap_kbps", d.cap_kbps},
                  {"activity", d.activity},
                  {"motion", d.motion},
                  {"density", d.density},
                  {"roi_regions", d.rois.size()},
                  {"keyframe_roi_regions", d.key_rois.empty() ? d.rois.size() : d.key_rois.size()},
                  {"static_share", d.static_share},
                  {"x264_params", opt_.adaptive ? content_options(opt_).x264_params : std::string()},
                  {"budget_correction", d.budget_correction}}}};
}

json StreamHub::streams_json() {
    std::vector<std::string> ids;
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (auto& [id, c] : cams_) ids.push_back(id);
    }
    json arr = json::array();
    for (const auto& id : ids)
        if (auto j = stream_json(id)) arr.push_back(*j);
    json ladder = json::array();
    for (const auto& r : ladder_)
        ladder.push_back(
            {{"name", r.name}, {"height", r.height}, {"bitrate_kbps", r.bitrate_kbps}, {"fragment_ms", r.fragment_ms}});
    return json{{"streams", std::move(arr)},
                {"connections", connections_.load()},
                {"max_viewers", opt_.cfg.max_viewers},
                {"rejected", rejected_.load()},
                {"ladder", std::move(ladder)}};
}

StreamHubMetrics StreamHub::metrics() {
    StreamHubMetrics m;
    std::vector<std::shared_ptr<CameraStream>> cams;
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (auto& [id, c] : cams_) cams.push_back(c);
    }
    for (auto& c : cams) {
        StreamHubMetrics::Camera cm;
        cm.id = c->id;
        std::vector<std::shared_ptr<VideoViewer>> vs;
        {
            std::lock_guard<std::mutex> lk(c->mu);
            for (const auto& r : c->rend) {
                StreamHubMetrics::Rendition rm;
                rm.name = r.cfg.name;
                for (auto& w : r.viewers)
                    if (auto v = w.lock(); v && !v->closed()) {
                        rm.viewers++;
                        vs.push_back(v);
                    }
                rm.bitrate_bytes_per_second = r.enc ? r.bitrate_kbps * 125 : 0;
                rm.crf = r.crf;
                rm.qp = r.qp;
                rm.fragment_seconds = r.cfg.fragment_ms / 1000.0;
                rm.bytes = r.bytes;
                cm.renditions.push_back(std::move(rm));
            }
            cm.frames_encoded = c->frames_encoded;
            cm.frames_dropped = c->frames_dropped;
            const auto lat = c->latency.summary();
            cm.latency_p50_seconds = lat.p50_ms / 1000.0;
            cm.latency_p99_seconds = lat.p99_ms / 1000.0;
            cm.activity = c->decision.activity;
            cm.roi_regions = c->decision.rois.size();
        }
        for (auto& v : vs) {
            const auto s = v->stats();
            StreamHubMetrics::Viewer vm;
            vm.id = v->id();
            vm.rendition = s.rendition;
            vm.throughput_bytes_per_second = s.throughput_kbps < 0 ? -1 : s.throughput_kbps * 125;
            vm.fragment_seconds = ladder_[static_cast<size_t>(s.rendition)].fragment_ms / 1000.0;
            vm.skips = s.skips;
            vm.queued_bytes = s.queued_bytes;
            cm.viewers.push_back(vm);
        }
        m.cameras.push_back(std::move(cm));
    }
    m.connections = connections_.load();
    m.rejected = rejected_.load();
    m.egress = egress();
    return m;
}

}  // namespace itscam::streaming
