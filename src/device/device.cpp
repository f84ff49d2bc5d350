#include "device/device.h"

#include <algorithm>
#include <utility>

namespace itscam::device {

const char* memory_kind_name(MemoryKind k) {
    switch (k) {
        case MemoryKind::kHost:
            return "host";
        case MemoryKind::kPinned:
            return "pinned";
        case MemoryKind::kMapped:
            return "mapped";
        case MemoryKind::kDevice:
            return "device";
    }
    return "?";
}

// ---- StreamLease ----

StreamLease& StreamLease::operator=(StreamLease&& o) noexcept {
    if (this != &o) {
        reset();
        dev_ = std::exchange(o.dev_, nullptr);
        index_ = std::exchange(o.index_, -1);
        native_ = std::exchange(o.native_, nullptr);
    }
    return *this;
}

void StreamLease::reset() {
    if (dev_) dev_->release(index_);
    dev_ = nullptr;
    index_ = -1;
    native_ = nullptr;
}

Status StreamLease::synchronize() const {
    if (!dev_) return invalid_argument("synchronize on an empty stream lease");
    return dev_->native_stream_synchronize(native_);
}

Status StreamLease::memset(void* dst, int value, size_t bytes) const {
    if (!dev_) return invalid_argument("memset on an empty stream lease");
    if (bytes == 0) return Status::ok();
    return dev_->native_memset(native_, dst, value, bytes);
}

StreamWork StreamLease::work() const {
    if (!dev_) return {};
    const uint64_t id = dev_->work_begin(index_);
    return id ? StreamWork(dev_, index_, id) : StreamWork();
}

// ---- StreamWork ----

StreamWork& StreamWork::operator=(StreamWork&& o) noexcept {
    if (this != &o) {
        end();
        dev_ = std::exchange(o.dev_, nullptr);
        stream_ = std::exchange(o.stream_, -1);
        id_ = std::exchange(o.id_, 0);
    }
    return *this;
}

void StreamWork::end() {
    if (dev_) dev_->work_end(stream_, id_);
    dev_ = nullptr;
}

// ---- Event ----

Event::~Event() {
    if (dev_ && native_) dev_->event_destroy_(native_);
}

Event& Event::operator=(Event&& o) noexcept {
    if (this != &o) {
        if (dev_ && native_) dev_->event_destroy_(native_);
        dev_ = std::exchange(o.dev_, nullptr);
        native_ = std::exchange(o.native_, nullptr);
        recorded_ = std::exchange(o.recorded_, false);
    }
    return *this;
}

Status Event::record(const StreamLease& s) {
    if (!dev_ || s.device() != dev_) return invalid_argument("event record: the stream belongs to another device");
    ITSCAM_RETURN_IF_ERROR(dev_->native_event_record(native_, s.native()));
    recorded_ = true;
    return Status::ok();
}

Status Event::synchronize() const {
    return recorded_ ? dev_->native_event_synchronize(native_) : Status::ok();
}

Result<bool> Event::done() const {
    if (!recorded_) return true;
    return dev_->native_event_done(native_);
}

Status Event::wait_on(const StreamLease& s) const {
    if (!recorded_) return Status::ok();
    if (s.device() != dev_) return invalid_argument("event wait: the stream belongs to another device");
    return dev_->native_stream_wait(s.native(), native_);
}

Result<double> Event::elapsed_ms_since(const Event& start) const {
    if (!recorded_ || !start.recorded_ || start.dev_ != dev_)
        return invalid_argument("elapsed time needs two recorded events of one device");
    return dev_->native_event_elapsed_ms(start.native_, native_);
}

// ---- Device: settings and budget ----

void Device::configure(const DeviceSettings& s) {
    streams_initial_ = std::max(1, s.streams_initial);
    streams_max_ = std::max(streams_initial_.load(), s.streams_max);
    monitoring_ = s.stream_monitoring;
}

Status Device::memory_reserve(size_t bytes, const std::string& what) {
    std::lock_guard<std::mutex> lk(mu_);
    const size_t budget = budget_.load();
    if (budget && reserved_ + bytes > budget)
        return out_of_memory(what + " needs " + std::to_string(bytes >> 20) + " MiB of " + name_ + " but only " +
                             std::to_string((budget - std::min(budget, reserved_)) >> 20) + " MiB of the " +
                             std::to_string(budget >> 20) + " MiB budget are left (TOTAL_GPU_MEMORY_GB)");
    reserved_ += bytes;
    return Status::ok();
}

void Device::memory_unreserve(size_t bytes) {
    std::lock_guard<std::mutex> lk(mu_);
    reserved_ -= std::min(reserved_, bytes);
}

size_t Device::memory_reserved() const {
    std::lock_guard<std::mutex> lk(mu_);
    return reserved_;
}

// ---- Device: stream pool ----

Status Device::grow_locked(int count) {
    while (static_cast<int>(streams_.size()) < count) {
        ITSCAM_ASSIGN_OR_RETURN(void* s, native_stream_create());
        Entry e;
        e.native = s;
        e.st.index = static_cast<int>(streams_.size());
        streams_.push_back(std::move(e));
    }
    return Status::ok();
}

Result<StreamLease> Device::stream_acquire() {
    std::lock_guard<std::mutex> lk(mu_);
    if (streams_.empty()) ITSCAM_RETURN_IF_ERROR(grow_locked(streams_initial_.load()));
    auto least = std::min_element(streams_.begin(), streams_.end(),
                                  [](const Entry& a, const Entry& b) { return a.st.leases < b.st.leases; });
    if (least->st.leases > 0 && static_cast<int>(streams_.size()) < streams_max_.load()) {
        ITSCAM_RETURN_IF_ERROR(grow_locked(static_cast<int>(streams_.size()) + 1));
        least = streams_.end() - 1;
    }
    least->st.leases++;
    return StreamLease(this, least->st.index, least->native);
}

void Device::release(int index) {
    std::lock_guard<std::mutex> lk(mu_);
    if (index >= 0 && index < static_cast<int>(streams_.size())) streams_[index].st.leases--;
}

int Device::stream_count() const {
    std::lock_guard<std::mutex> lk(mu_);
    return static_cast<int>(streams_.size());
}

std::vector<StreamStats> Device::stream_stats() {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<StreamStats> out;
    out.reserve(streams_.size());
    for (auto& e : streams_) {
        retire_locked(e);
        out.push_back(e.st);
    }
    return out;
}

Result<Event> Device::event_create(bool timing) {
    ITSCAM_ASSIGN_OR_RETURN(void* e, native_event_create(timing));
    return Event(this, e);
}

// ---- Device: stream monitoring ----
// Monitoring must never fail the work it watches: an event that cannot be created or recorded drops that unit.

Result<Event> Device::spare_event_locked(Entry& e) {
    if (!e.spare.empty()) {
        Event ev = std::move(e.spare.back());
        e.spare.pop_back();
        return ev;
    }
    return event_create(true);
}

void Device::retire_locked(Entry& e) {
    for (auto it = e.pending.begin(); it != e.pending.end();) {
        auto done = it->ended ? it->end.done() : Result<bool>(false);
        if (!done.is_ok() || !*done) {
            ++it;
            continue;
        }
        auto ms = it->end.elapsed_ms_since(it->begin);
        e.st.runs++;
        if (ms.is_ok()) e.st.busy_ms += std::max(0.0, *ms);
        it->begin.recorded_ = it->end.recorded_ = false;  // reused by later units
        e.spare.push_back(std::move(it->begin));
        e.spare.push_back(std::move(it->end));
        it = e.pending.erase(it);
    }
    e.st.queue_depth = static_cast<int>(e.pending.size());
}

uint64_t Device::work_begin(int index) {
    if (!monitoring_.load(std::memory_order_relaxed)) return 0;
    std::lock_guard<std::mutex> lk(mu_);
    if (index < 0 || index >= static_cast<int>(streams_.size())) return 0;
    Entry& e = streams_[index];
    retire_locked(e);
    auto b = spare_event_locked(e);
    if (!b) return 0;
    auto en = spare_event_locked(e);
    if (!en) return 0;
    if (!native_event_record(b->native_, e.native).is_ok()) return 0;
    b->recorded_ = true;
    Work w;
    w.id = next_work_++;
    w.begin = std::move(*b);
    w.end = std::move(*en);
    e.pending.push_back(std::move(w));
    e.st.queue_depth = static_cast<int>(e.pending.size());
    return e.pending.back().id;
}

void Device::work_end(int index, uint64_t id) {
    std::lock_guard<std::mutex> lk(mu_);
    if (index < 0 || index >= static_cast<int>(streams_.size())) return;
    Entry& e = streams_[index];
    for (auto it = e.pending.begin(); it != e.pending.end(); ++it) {
        if (it->id != id) continue;
        if (native_event_record(it->end.native_, e.native).is_ok()) {
            it->end.recorded_ = true;
            it->ended = true;
        } else {
            e.pending.erase(it);  // cannot time it: drop the unit
        }
        break;
    }
    retire_locked(e);
}

}  // namespace itscam::device
