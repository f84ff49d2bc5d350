#include "backend/cuda/stream_manager.h"

#include <algorithm>
#include <atomic>
#include <map>

#include "backend/cuda/csl/csl.h"

namespace itscam {

namespace {
std::atomic<int> g_initial{16};
std::atomic<int> g_max{32};
std::atomic<size_t> g_budget{0};
}  // namespace

StreamLease& StreamLease::operator=(StreamLease&& o) noexcept {
    if (this != &o) {
        reset();
        mgr_ = std::exchange(o.mgr_, nullptr);
        index_ = std::exchange(o.index_, -1);
        stream_ = std::exchange(o.stream_, nullptr);
    }
    return *this;
}

void StreamLease::record(double ms) const {
    if (mgr_) mgr_->record(index_, ms);
}

void StreamLease::reset() {
    if (mgr_) mgr_->release(index_);
    mgr_ = nullptr;
    index_ = -1;
    stream_ = nullptr;
}

void StreamManager::configure(int initial, int max) {
    g_initial = std::max(1, initial);
    g_max = std::max(g_initial.load(), max);
}

StreamManager& StreamManager::for_device(int device) {
    static std::mutex mu;
    static std::map<int, std::unique_ptr<StreamManager>> managers;
    std::lock_guard<std::mutex> lk(mu);
    auto& m = managers[device];
    if (!m) m.reset(new StreamManager(device));
    return *m;
}

Status StreamManager::grow_locked(int count) {
    ITSCAM_RETURN_IF_ERROR(csl::set_device(device_));
    while (static_cast<int>(streams_.size()) < count) {
        cudaStream_t s = nullptr;
        ITSCAM_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
        Entry e;
        e.stream = s;
        e.st.index = static_cast<int>(streams_.size());
        streams_.push_back(e);
    }
    return Status::ok();
}

Result<StreamLease> StreamManager::acquire() {
    std::lock_guard<std::mutex> lk(mu_);
    if (streams_.empty()) ITSCAM_RETURN_IF_ERROR(grow_locked(g_initial.load()));
    auto least = std::min_element(streams_.begin(), streams_.end(),
                                  [](const Entry& a, const Entry& b) { return a.st.leases < b.st.leases; });
    if (least->st.leases > 0 && static_cast<int>(streams_.size()) < g_max.load()) {
        ITSCAM_RETURN_IF_ERROR(grow_locked(static_cast<int>(streams_.size()) + 1));
        least = streams_.end() - 1;
    }
    least->st.leases++;
    return StreamLease(this, least->st.index, least->stream);
}

void StreamManager::release(int index) {
    std::lock_guard<std::mutex> lk(mu_);
    if (index >= 0 && index < static_cast<int>(streams_.size())) streams_[index].st.leases--;
}

void StreamManager::record(int index, double ms) {
    std::lock_guard<std::mutex> lk(mu_);
    if (index < 0 || index >= static_cast<int>(streams_.size())) return;
    streams_[index].st.runs++;
    streams_[index].st.busy_ms += ms;
}

void StreamManager::set_memory_budget(size_t bytes) { g_budget = bytes; }

Status StreamManager::reserve(size_t bytes, const std::string& what) {
    std::lock_guard<std::mutex> lk(mu_);
    const size_t budget = g_budget.load();
    if (budget && reserved_ + bytes > budget)
        return out_of_memory(what + " needs " + std::to_string(bytes >> 20) + " MiB of cuda:" +
                             std::to_string(device_) + " but only " + std::to_string((budget - reserved_) >> 20) +
                             " MiB of the " + std::to_string(budget >> 20) +
                             " MiB budget are left (TOTAL_GPU_MEMORY_GB)");
    reserved_ += bytes;
    return Status::ok();
}

void StreamManager::unreserve(size_t bytes) {
    std::lock_guard<std::mutex> lk(mu_);
    reserved_ -= std::min(reserved_, bytes);
}

size_t StreamManager::reserved() const {
    std::lock_guard<std::mutex> lk(mu_);
    return reserved_;
}

std::vector<StreamStats> StreamManager::stats() const {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<StreamStats> out;
    for (const auto& e : streams_) out.push_back(e.st);
    return out;
}

int StreamManager::size() const {
    std::lock_guard<std::mutex> lk(mu_);
    return static_cast<int>(streams_.size());
}

}  // namespace itscam
