// `itscam run` in cluster mode (docs/cluster.md): this node's etcd client, membership and ownership controller,
// wired to the running pipeline, and the cluster's side of the HTTP API (service::ClusterApi).
//
//   auto node = ClusterNode::create(cfg, log);     // the client (nothing contacts etcd yet)
//   ServerOptions so; so.may_publish = node->publish_gate(); so.cluster = node;   // before the pipeline exists
//   ... pipe->start(); ...                         // with no cameras of its own: they come from etcd
//   node->start(*pipe, cfg.cameras, api_address);  // seed the config's cameras, register, run the controller
//   ...
//   node->stop();                                  // stop and release every camera, revoke the lease
//
// The controller's start(id, spec, epoch) parses the spec (config::parse_camera) and adds the camera through the
// pipeline's dynamic add path (Pipeline::add_camera, the path POST /api/v1/cameras takes) with its epoch; stop
// removes it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/membership.h"
#include "cluster/ownership.h"
#include "config/config.h"
#include "pipeline/pipeline.h"
#include "service/api_cluster.h"

namespace itscam::cli {

class ClusterNode : public service::ClusterApi {
  public:
    using Log = std::function<void(const std::string&)>;
    // kInvalidArgument for a bad cluster section (the client's checks).
    static Result<std::shared_ptr<ClusterNode>> create(const config::Config& cfg, Log log);
    ~ClusterNode() override;

    // The lease check for the pipeline and the service, asked with a camera's epoch: true while the lease that
    // camera was taken under is this node's current lease and its deadline has not passed (an epoch of 0: any
    // lease). Cheap (one short lock), valid for the node's lifetime, false until the node has registered.
    std::function<bool(int64_t epoch)> publish_gate() const;

    // Writes each of `seeds` to <prefix>/cameras/<id> unless that key exists (a restart never overwrites an
    // operator's change), then registers the node with `api` as its advertise address (cluster.advertise wins) and
    // starts the controller. A failed seed (etcd down) is logged and retried at the next start only.
    Status start(pipeline::Pipeline& pipe, const std::vector<config::CameraConfig>& seeds, const std::string& api);
    // Stops every camera held here, releases their owner keys and revokes the lease. Idempotent.
    void stop();

    // service::ClusterApi
    Result<std::vector<service::ClusterCamera>> cameras() override;
    Result<service::CameraOwner> owner(const std::string& id) override;
    Result<bool> create_camera(const std::string& id, const std::string& spec_json) override;
    Status delete_camera(const std::string& id) override;
    Result<std::vector<std::string>> member_apis() override;
    nlohmann::json status_json() override;

  private:
    ClusterNode(const config::Config& cfg, std::unique_ptr<cluster::EtcdClient> client, Log log);
    Status seed(const std::vector<config::CameraConfig>& seeds);
    Status start_camera(const std::string& id, const std::string& spec_json, int64_t epoch, int64_t lease);
    void forget_tenures(const std::string& id);
    // One consistent read of the cluster.
    Result<cluster::ClusterView> read_view();

    const cluster::ClusterConfig cfg_;
    const std::string device_;
    Log log_;
    cluster::ClusterKeys keys_;
    std::unique_ptr<cluster::EtcdClient> client_;
    std::unique_ptr<cluster::Membership> membership_;
    std::unique_ptr<cluster::OwnershipController> controller_;
    pipeline::Pipeline* pipe_ = nullptr;
    std::atomic<const cluster::Membership*> gate_{nullptr};  // set once membership_ exists (publish_gate)
    struct Tenure {
        std::string camera;
        int64_t lease = 0;
    };
    mutable std::mutex tenures_mu_;
    std::map<int64_t, Tenure> tenures_;  // by epoch: the cameras started here and the lease each was taken under
};

}  // namespace itscam::cli
