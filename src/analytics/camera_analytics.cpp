// One camera's analytics: the tracker's tracks feed the speed estimator, then every line counter and zone monitor;
// their results become events (with unique ids) and the running interval aggregate. One mutex guards it all:
// process() runs per frame on the pipeline's thread, snapshot()/take_intervals() come from the service's.
#include "analytics/camera_analytics.h"

#include <cmath>
#include <mutex>
#include <unordered_set>

#include "analytics/congestion.h"
#include "analytics/homography.h"
#include "analytics/line_counter.h"
#include "analytics/speed_estimator.h"
#include "analytics/tracker.h"
#include "analytics/zone_monitor.h"

namespace itscam::analytics {

namespace {

// A calibration validate_analytics() would refuse leaves the camera uncalibrated (pixel speeds only) rather than
// failing here: the config readers validate before constructing.
std::optional<GroundPlane> plane_of(const AnalyticsConfig& cfg) {
    if (!cfg.speed) return std::nullopt;
    auto g = GroundPlane::create(*cfg.speed);
    if (!g.is_ok()) return std::nullopt;
    return std::move(g).value();
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

struct CameraAnalytics::Impl {
    Impl(std::string cam, AnalyticsConfig c, std::vector<std::string> names, int64_t ep)
        : camera(std::move(cam)),
          cfg(std::move(c)),
          class_names(std::move(names)),
          epoch(ep),
          tracker(cfg.tracker),
          speed(plane_of(cfg), cfg.speed ? cfg.speed->window_s : 1.0, cfg.speed ? cfg.speed->max_speed_kmh : 250),
          interval_us(std::max<int64_t>(1, std::llround(cfg.interval_s * 1e6))) {
        for (const auto& l : cfg.lines) lines.emplace_back(l);
        for (const auto& z : cfg.zones) zones.emplace_back(z);
    }

    std::string class_name(int id) const {
        if (id >= 0 && id < static_cast<int>(class_names.size())) return class_names[id];
        return "class" + std::to_string(id);
    }

    AnalyticsEvent event(EventKind kind, int64_t frame, double pts, int64_t wall_us) {
        AnalyticsEvent e;
        e.kind = kind;
        e.id = camera + "-" + std::to_string(epoch) + "-" + std::to_string(++seq);
        e.camera = camera;
        e.frame = frame;
        e.pts = pts;
        e.wall_time_us = wall_us;
        return e;
    }

    void set_track(AnalyticsEvent& e, const TrackedObject& t) {
        e.track_id = t.track_id;
        e.class_id = t.class_id;
        e.class_name = class_name(t.class_id);
    }

    // Closes the running interval into `closed`.
    void close_interval() {
        IntervalAggregate a = std::move(running);
        a.camera = camera;
        a.start_us = *index * interval_us;
        a.end_us = a.start_us + interval_us;
        for (auto& z : zones) {
            ZoneIntervalStats s = z.take_interval();
            IntervalAggregate::Zone& o = a.zones[z.config().name];
            o.occupancy_pct = s.occupancy_pct;
            o.mean_occupancy = s.mean_occupancy;
            o.max_queue = s.max_queue;
            o.entries = s.entries;
            o.exits = s.exits;
            o.mean_speed_kmh = s.mean_speed_kmh;
            o.congestion = congestion_level_name(z.congestion());
            for (const auto& [cls, n] : s.class_entries) o.class_entries[class_name(cls)] += n;
        }
        closed.push_back(std::move(a));
        running = {};
        index.reset();
    }

    void roll_interval(int64_t wall_us) {
        const int64_t i = floor_div(wall_us, interval_us);
        if (index && i > *index) close_interval();  // a clock stepping back stays in the running interval
        if (!index) index = i;
    }

    std::string camera;
    AnalyticsConfig cfg;
    std::vector<std::string> class_names;
    int64_t epoch;
    Tracker tracker;
    SpeedEstimator speed;
    std::vector<LineCounter> lines;
    std::vector<ZoneMonitor> zones;
    int64_t seq = 0;

    mutable std::mutex mu;
    std::map<std::tuple<std::string, std::string, std::string>, int64_t> totals;
    std::unordered_set<int64_t> confirmed_live;
    int64_t tracks_started = 0;

    int64_t interval_us;
    std::optional<int64_t> index;  // wall_us / interval_us of the running interval
    IntervalAggregate running;
    std::vector<IntervalAggregate> closed;
};

CameraAnalytics::CameraAnalytics(std::string camera, AnalyticsConfig cfg, std::vector<std::string> class_names,
                                 int64_t epoch)
    : impl_(std::make_unique<Impl>(std::move(camera), std::move(cfg), std::move(class_names), epoch)) {}

CameraAnalytics::~CameraAnalytics() = default;

const AnalyticsConfig& CameraAnalytics::config() const { return impl_->cfg; }

FrameAnalytics CameraAnalytics::process(const std::vector<vision::Detection>& detections, int64_t frame, double pts,
                                        int64_t wall_us) {
    Impl& m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    m.roll_interval(wall_us);
    FrameAnalytics out;
    out.tracks = m.tracker.update(detections, pts);
    m.speed.update(out.tracks, pts);
    std::unordered_set<int64_t> confirmed;
    for (const TrackedObject& t : out.tracks) {
        if (const auto v = m.speed.speed(t.track_id).current_kmh) out.speeds_kmh[t.track_id] = *v;
        if (!t.confirmed) continue;
        confirmed.insert(t.track_id);
        if (!m.confirmed_live.count(t.track_id)) ++m.tracks_started;
    }
    m.confirmed_live = std::move(confirmed);

    for (LineCounter& lc : m.lines) {
        for (const LineCrossing& c : lc.update(out.tracks)) {
            AnalyticsEvent e = m.event(EventKind::kLineCrossing, frame, pts, wall_us);
            m.set_track(e, c.track);
            e.line = lc.config().name;
            e.direction = lc.direction_name(c.forward);
            e.speed_kmh = m.speed.speed(c.track.track_id).current_kmh;
            const auto key = std::make_tuple(e.line, e.direction, e.class_name);
            ++m.totals[key];
            ++m.running.line_counts[key];
            if (e.speed_kmh) m.running.speeds_kmh.push_back(*e.speed_kmh);
            out.events.push_back(std::move(e));
        }
    }
    for (ZoneMonitor& zm : m.zones) {
        for (const ZoneTransition& tr : zm.update(out.tracks, m.speed, pts)) {
            AnalyticsEvent e = m.event(tr.enter ? EventKind::kZoneEnter : EventKind::kZoneExit, frame, pts, wall_us);
            m.set_track(e, tr.track);
            e.zone = zm.config().name;
            e.speed_kmh = tr.speed_kmh;
            e.dwell_s = tr.dwell_s;
            out.events.push_back(std::move(e));
        }
        if (const auto level = zm.congestion_change()) {
            AnalyticsEvent e = m.event(EventKind::kCongestionChange, frame, pts, wall_us);
            e.zone = zm.config().name;
            e.level = congestion_level_name(*level);
            e.previous_level = congestion_level_name(zm.previous_congestion());
            out.events.push_back(std::move(e));
        }
    }
    return out;
}

void CameraAnalytics::reset_tracks() {
    std::lock_guard<std::mutex> lk(impl_->mu);
    // The line counters and zones see the old ids vanish at the next frame (exits with dwell; ids are not reused).
    impl_->tracker.reset();
    impl_->speed.reset();
}

AnalyticsSnapshot CameraAnalytics::snapshot() const {
    const Impl& m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    AnalyticsSnapshot s;
    s.line_counts = m.totals;
    for (const ZoneMonitor& z : m.zones) {
        ZoneState st;
        st.name = z.config().name;
        st.occupancy = z.occupancy();
        st.queue = z.queue();
        st.overcrowded = z.overcrowded();
        st.mean_speed_kmh = z.mean_speed_kmh();
        st.congestion = congestion_level_name(z.congestion());
        st.entries = z.entries();
        st.exits = z.exits();
        s.zones.push_back(std::move(st));
    }
    s.active_tracks = static_cast<int>(m.confirmed_live.size());
    s.tracks_started = m.tracks_started;
    return s;
}

std::vector<IntervalAggregate> CameraAnalytics::take_intervals(bool flush) {
    Impl& m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    if (flush && m.index) m.close_interval();
    std::vector<IntervalAggregate> out = std::move(m.closed);
    m.closed.clear();
    return out;
}

}  // namespace itscam::analytics
