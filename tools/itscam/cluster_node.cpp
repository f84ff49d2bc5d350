#include "cluster_node.h"

#include <map>

#include "cluster/lease_clock.h"
#include "core/version.h"
#include "service/api_json.h"

namespace itscam::cli {

using json = nlohmann::json;

Result<std::shared_ptr<ClusterNode>> ClusterNode::create(const config::Config& cfg, Log log) {
    cluster::EtcdClientOptions eo;
    eo.endpoints = cfg.cluster.endpoints;
    eo.request_timeout_s = cluster::effective_request_timeout_s(cfg.cluster);
    eo.connect_timeout_s = std::min(1.0, eo.request_timeout_s);
    auto client = cluster::EtcdClient::create(eo);
    if (!client) return client.status().with_context("cluster");
    return std::shared_ptr<ClusterNode>(new ClusterNode(cfg, std::move(client).value(), std::move(log)));
}

ClusterNode::ClusterNode(const config::Config& cfg, std::unique_ptr<cluster::EtcdClient> client, Log log)
    : cfg_(cfg.cluster),
      device_(cfg.device),
      log_(std::move(log)),
      keys_(cfg.cluster.key_prefix),
      client_(std::move(client)) {}

ClusterNode::~ClusterNode() {
    stop();
}

std::function<bool(int64_t)> ClusterNode::publish_gate() const {
    return [this](int64_t epoch) {
        const cluster::Membership* m = gate_.load(std::memory_order_acquire);
        if (m == nullptr) return false;
        if (epoch == 0) return m->may_publish();
        int64_t lease = 0;
        {
            std::lock_guard<std::mutex> lk(tenures_mu_);
            auto it = tenures_.find(epoch);
            if (it == tenures_.end()) return false;  // stopped here (a frame still in flight)
            lease = it->second.lease;
        }
        return m->may_publish(lease);
    };
}

Status ClusterNode::seed(const std::vector<config::CameraConfig>& seeds) {
    int written = 0;
    for (const auto& c : seeds) {
        const std::string key = keys_.camera(c.id);
        auto r = client_->txn({cluster::Compare::create_revision(key, 0)},
                              {cluster::TxnOp::put(key, service::camera_spec_json(c).dump())});
        if (!r) return r.status().with_context("cluster: seeding camera '" + c.id + "'");
        if (r->succeeded) ++written;
    }
    if (!seeds.empty())
        log_("cluster: seeded " + std::to_string(written) + " of " + std::to_string(seeds.size()) +
             " camera(s) from the config (the others exist in etcd and were left as they are)");
    return Status::ok();
}

Status ClusterNode::start_camera(const std::string& id, const std::string& spec_json, int64_t epoch, int64_t lease) {
    auto cam = config::parse_camera(spec_json, "etcd " + keys_.camera(id));
    if (!cam) return cam.status();
    if (cam->id != id) return invalid_argument("etcd " + keys_.camera(id) + ": the spec names camera '" + cam->id + "'");
    {
        std::lock_guard<std::mutex> lk(tenures_mu_);
        tenures_[epoch] = {id, lease};
    }
    Status st = pipe_->add_camera(*cam, epoch);
    if (!st) forget_tenures(id);
    return st;
}

void ClusterNode::forget_tenures(const std::string& id) {
    std::lock_guard<std::mutex> lk(tenures_mu_);
    std::erase_if(tenures_, [&](const auto& t) { return t.second.camera == id; });
}

Status ClusterNode::start(pipeline::Pipeline& pipe, const std::vector<config::CameraConfig>& seeds,
                          const std::string& api) {
    if (controller_) return internal_error("cluster: the node was already started");
    pipe_ = &pipe;
    if (Status st = seed(seeds); !st) log_(st.message() + " (the config's cameras were not seeded)");
    cluster::MembershipOptions mo;
    mo.key_prefix = cfg_.key_prefix;
    mo.node.name = cluster::effective_cluster_node(cfg_);
    mo.node.capacity = cfg_.capacity;
    mo.node.device = device_;
    mo.node.version = version();
    mo.node.api = cfg_.advertise.empty() ? api : cfg_.advertise;
    if (cfg_.advertise.empty() && (api.find("://0.0.0.0:") != std::string::npos || api.find("://[::]:") != std::string::npos))
        log_("cluster: warning: the API listens on every address and cluster.advertise is not set: the other nodes "
             "will redirect to " + api + ", which they cannot reach; set cluster.advertise");
    mo.lease_ttl_s = cfg_.lease_ttl_s;
    mo.log = [this](const std::string& l) { log_("cluster: " + l); };
    membership_ = std::make_unique<cluster::Membership>(*client_, mo);
    cluster::OwnershipOptions oo;
    oo.reconcile_interval_s = cluster::effective_reconcile_interval_s(cfg_);
    oo.log = mo.log;
    cluster::OwnershipCallbacks cb;
    cb.start = [this](const std::string& id, const std::string& spec, int64_t epoch, int64_t lease) {
        return start_camera(id, spec, epoch, lease);
    };
    cb.stop = [this](const std::string& id, const std::string&) {
        // The controller logs the stop and its reason; a camera whose start failed is not in the pipeline.
        forget_tenures(id);  // first: nothing of the old tenure is published from here on
        const Status st = pipe_->remove_camera(id);
        if (!st && st.code() != StatusCode::kNotFound) log_("cluster: stopping camera " + id + ": " + st.message());
    };
    controller_ = std::make_unique<cluster::OwnershipController>(*client_, *membership_, oo, std::move(cb));
    gate_.store(membership_.get(), std::memory_order_release);
    ITSCAM_RETURN_IF_ERROR(membership_->start().with_context("cluster"));
    ITSCAM_RETURN_IF_ERROR(controller_->start().with_context("cluster"));
    log_("cluster: node '" + mo.node.name + "' (capacity " + std::to_string(cfg_.capacity) + ", API " + mo.node.api +
         ") joining over " + std::to_string(cfg_.endpoints.size()) + " etcd endpoint(s)");
    return Status::ok();
}

void ClusterNode::stop() {
    if (controller_) controller_->stop();
    if (membership_) membership_->stop(cluster::Membership::Leave::kRevoke);
}

Result<cluster::ClusterView> ClusterNode::read_view() {
    auto r = client_->range_prefix(keys_.all());
    if (!r) return r.status();
    return cluster::make_cluster_view(*r, keys_, nullptr);
}

Result<std::vector<service::ClusterCamera>> ClusterNode::cameras() {
    ITSCAM_ASSIGN_OR_RETURN(cluster::ClusterView v, read_view());
    std::vector<service::ClusterCamera> out;
    for (const auto& [id, spec] : v.cameras) {
        service::ClusterCamera c;
        c.id = id;
        c.spec_json = spec.json;
        if (auto o = v.owners.find(id); o != v.owners.end()) {
            c.owner = o->second.node;
            c.epoch = o->second.epoch;
            if (auto m = v.members.find(c.owner); m != v.members.end()) c.owner_api = m->second.info.api;
        }
        out.push_back(std::move(c));
    }
    return out;
}

Result<service::CameraOwner> ClusterNode::owner(const std::string& id) {
    ITSCAM_ASSIGN_OR_RETURN(cluster::ClusterView v, read_view());
    service::CameraOwner o;
    o.exists = v.cameras.count(id) > 0;
    auto it = v.owners.find(id);
    if (!o.exists || it == v.owners.end()) return o;
    o.node = it->second.node;
    o.epoch = it->second.epoch;
    o.here = o.node == cluster::effective_cluster_node(cfg_);
    if (auto m = v.members.find(o.node); m != v.members.end()) o.api = m->second.info.api;
    return o;
}

Result<std::vector<std::string>> ClusterNode::member_apis() {
    ITSCAM_ASSIGN_OR_RETURN(cluster::ClusterView v, read_view());
    std::vector<std::string> out;
    for (const auto& [name, m] : v.members)
        if (!m.info.api.empty()) out.push_back(m.info.api);
    return out;
}

Result<bool> ClusterNode::create_camera(const std::string& id, const std::string& spec_json) {
    const std::string key = keys_.camera(id);
    auto r = client_->txn({cluster::Compare::create_revision(key, 0)}, {cluster::TxnOp::put(key, spec_json)});
    if (!r) return r.status();
    if (r->succeeded && controller_) controller_->poke();
    return r->succeeded;
}

Status ClusterNode::delete_camera(const std::string& id) {
    auto r = client_->del(keys_.camera(id));
    if (!r) return r.status();
    if (r->deleted == 0) return not_found("camera '" + id + "' does not exist in the cluster");
    if (controller_) controller_->poke();
    return Status::ok();
}

json ClusterNode::status_json() {
    json j{{"node", cluster::effective_cluster_node(cfg_)}, {"lease_ttl_s", cfg_.lease_ttl_s}};
    if (membership_) {
        const double left = std::chrono::duration<double>(membership_->deadline() - cluster::LeaseClock::now()).count();
        j["may_publish"] = membership_->may_publish();
        j["lease_remaining_s"] = left > 0 ? left : 0.0;
        j["api"] = membership_->node().api;
    }
    json owned = json::array();
    if (controller_)
        for (const auto& h : controller_->held())
            owned.push_back({{"id", h.id}, {"epoch", h.epoch}, {"running", h.running}});
    j["owned_here"] = std::move(owned);
    auto v = read_view();
    if (!v) {
        j["error"] = v.status().message();
        return j;
    }
    std::map<std::string, int> counts;
    for (const auto& [id, o] : v->owners) counts[o.node]++;
    json members = json::array();
    for (const auto& [name, m] : v->members)
        members.push_back({{"name", name},
                           {"api", m.info.api},
                           {"capacity", m.info.capacity},
                           {"device", m.info.device},
                           {"cameras", counts[name]}});
    j["members"] = std::move(members);
    j["cameras"] = v->cameras.size();
    j["revision"] = v->revision;
    return j;
}

}  // namespace itscam::cli
