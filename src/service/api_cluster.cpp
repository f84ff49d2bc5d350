#include "service/api_cluster.h"

#include "core/redact.h"
#include "service/api_json.h"

namespace itscam::service {

using json = nlohmann::json;

json cluster_cameras_json(const std::vector<ClusterCamera>& cams, const pipeline::PipelineSnapshot& local) {
    json arr = json::array();
    for (const auto& c : cams) {
        json j = json::parse(c.spec_json, nullptr, false);
        if (!j.is_object()) j = json{{"spec_error", "the stored spec is not a JSON object"}};
        j["id"] = c.id;
        // The API shows cameras to anyone who can read it: never a URL's password.
        if (j.contains("url") && j["url"].is_string()) j["url"] = mask_url_userinfo(j["url"].get<std::string>());
        j["owner"] = c.owner.empty() ? json(nullptr) : json(c.owner);
        j["owner_api"] = c.owner_api.empty() ? json(nullptr) : json(c.owner_api);
        j["epoch"] = c.epoch;
        for (const auto& s : local.cameras)
            if (s.id == c.id) {
                j["state"] = s.state;
                j["stats"] = camera_stats_json(s);
            }
        arr.push_back(std::move(j));
    }
    return json{{"cameras", std::move(arr)}};
}

std::vector<prometheus::MetricFamily> ClusterCollector::Collect() const {
    const pipeline::PipelineSnapshot s = pipe_.snapshot();
    FamilyBuilder b;
    auto& f = b.family("itscam_cluster_fenced_records_total",
                       "Records not published because this node's lease deadline had passed (cluster mode).",
                       prometheus::MetricType::Counter);
    FamilyBuilder::counter(f, {{"kind", "frames"}}, static_cast<double>(s.frames_fenced));
    FamilyBuilder::counter(f, {{"kind", "intervals"}}, static_cast<double>(fenced_intervals_->load()));
    b.single_gauge("itscam_cluster_cameras_running", "Cameras running on this node (cluster mode).",
                   static_cast<double>(s.cameras.size()));
    return b.take();
}

}  // namespace itscam::service
