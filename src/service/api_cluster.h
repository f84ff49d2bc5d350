// Cluster mode's part of the HTTP API (docs/cluster.md, "HTTP API"). The HTTP service talks to the cluster through
// this interface only (`itscam run` implements it over etcd: tools/itscam/cluster_node.h), so the service library
// does not depend on the cluster library:
//   GET    /api/v1/cameras          every camera of the cluster (the specs in etcd) with its owner node and epoch;
//                                   the cameras running here also carry their state and statistics
//   POST   /api/v1/cameras          checks the camera, then writes its spec to etcd if absent (201; 409 when the id
//                                   exists): its owner starts it
//   DELETE /api/v1/cameras/{id}     deletes the spec (204; 404): its owner stops it
//   per-camera requests for a camera that runs elsewhere: 307 to the owner's API address (same path and query), or
//                                   503 {"error": "... has no owner ..."} while none holds it
//   GET    /health/performance      gains "cluster" (ClusterApi::status_json)
//   per-camera reads from a dashboard of another member: CORS for the members' API addresses (http_cors.h)
// Implementations must be thread-safe: every method runs on HTTP handler threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/pipeline.h"
#include "service/metrics_registry.h"

namespace itscam::service {

struct ClusterCamera {
    std::string id;
    std::string spec_json;  // as stored (the camera's config, POST /api/v1/cameras form)
    std::string owner;      // node name; "" while none holds it
    std::string owner_api;  // the owner's advertise address ("http://host:port"); "" when unknown
    int64_t epoch = 0;      // the owner key's create revision; 0 without owner
};

// Where a camera runs, for the per-camera requests.
struct CameraOwner {
    bool exists = false;  // the cluster has a spec for it
    bool here = false;    // this node holds it
    std::string node, api;
    int64_t epoch = 0;
};

class ClusterApi {
  public:
    virtual ~ClusterApi() = default;
    // kUnavailable when etcd cannot be reached.
    virtual Result<std::vector<ClusterCamera>> cameras() = 0;
    virtual Result<CameraOwner> owner(const std::string& id) = 0;
    // Writes the spec only if the id is absent: true when written, false when it exists.
    virtual Result<bool> create_camera(const std::string& id, const std::string& spec_json) = 0;
    // kNotFound when absent.
    virtual Status delete_camera(const std::string& id) = 0;
    // The API addresses ("http://host:port") of the live members, this node's included: the origins whose dashboards
    // may read this node's cameras cross-origin (http_cors.h). kUnavailable when etcd cannot be reached.
    virtual Result<std::vector<std::string>> member_apis() = 0;
    // /health/performance's "cluster": node, lease_remaining_s, members (name, api, capacity, cameras), owned_here.
    virtual nlohmann::json status_json() = 0;
};

// GET /api/v1/cameras in cluster mode: each camera's spec (URL userinfo masked) with "owner", "owner_api" and
// "epoch"; a camera running here also gets "state" and "stats" from `local`.
nlohmann::json cluster_cameras_json(const std::vector<ClusterCamera>& cams, const pipeline::PipelineSnapshot& local);

// /metrics in cluster mode:
//   itscam_cluster_fenced_records_total{kind="frames"|"intervals"}   counter: not published past the lease deadline
//   itscam_cluster_cameras_running                                    gauge: cameras running here
// frames: the pipeline's frames_fenced; intervals: the analytics intervals the service held back (`intervals`).
class ClusterCollector : public prometheus::Collectable {
  public:
    ClusterCollector(pipeline::Pipeline& pipe, std::shared_ptr<const std::atomic<int64_t>> fenced_intervals)
        : pipe_(pipe), fenced_intervals_(std::move(fenced_intervals)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    pipeline::Pipeline& pipe_;
    std::shared_ptr<const std::atomic<int64_t>> fenced_intervals_;
};

}  // namespace itscam::service
